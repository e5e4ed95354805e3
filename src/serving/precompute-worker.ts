/** Worker entry of the top-N precomputation: computes its user range, then says so. */
import { parentPort, workerData } from 'node:worker_threads';
import type { PrecomputeWorkerData } from './precompute.js';
import { computeTopNRange } from './top-n.js';

computeTopNRange(workerData as PrecomputeWorkerData);
parentPort?.postMessage('done');
