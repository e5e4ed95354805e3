/**
 * Worker of the threaded evaluation (evaluateModelThreaded in metrics.ts): holds the shared
 * ranking inputs and one SIMD scorer over them, and ranks one user range per task.
 */
import { workerData } from 'node:worker_threads';
import { createSimdScorer } from '../kernels/wasm-scorer.js';
import { serveTasks } from '../workers.js';
import { rankUserRange, type RankingRange, type RankingShared } from './metrics.js';

const shared = workerData as RankingShared;
// Built once per worker: re-laying the item factors for the scorer is the costly part of a start.
const simd = shared.simd ? createSimdScorer(shared.itemFactors, shared.itemBias, shared.k, shared.nItems) : null;

serveTasks<RankingRange, void>((range) => rankUserRange(shared, range, simd));
