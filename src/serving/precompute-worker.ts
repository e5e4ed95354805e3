/** Worker of the top-N precomputation: holds the shared arrays, computes one user range per task. */
import { workerData } from 'node:worker_threads';
import { serveTasks } from '../workers.js';
import type { PrecomputeShared, UserRange } from './precompute.js';
import { computeTopNRange } from './top-n.js';

const shared = workerData as PrecomputeShared;

serveTasks<UserRange, void>((range) => computeTopNRange({ ...shared, ...range }));
