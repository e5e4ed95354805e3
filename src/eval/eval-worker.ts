/**
 * Worker of the threaded evaluation (evaluateModelThreaded in metrics.ts): holds the shared
 * ranking inputs and one SIMD scorer over them, and ranks one user range per task.
 */
import { workerData } from 'node:worker_threads';
import { serveTasks } from '../workers.js';
import { rankingKernel, rankUserRange, type RankingRange, type RankingShared } from './metrics.js';

const shared = workerData as RankingShared;
// Built once per worker: quantizing and copying the item factors is the costly part of a start.
const blocked = rankingKernel(shared);

serveTasks<RankingRange, void>((range) => rankUserRange(shared, range, blocked));
