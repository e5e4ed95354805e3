/**
 * Worker entry of the training pool (see pool.ts). It receives the shared arrays once, then for
 * each half-sweep claims chunks of rows through an atomic counter and solves them in place.
 * No I/O besides the messages to its parent.
 */
import { workerData } from 'node:worker_threads';
import { serveTasks } from '../workers.js';
import type { PoolTask, WorkerInit } from './pool.js';
import { gramChunkCount, jsSolver, type SideSolver } from './solve-side.js';
import { wasmSolver } from './wasm-side.js';

const init = workerData as WorkerInit;
const solver: SideSolver = init.wasm ? wasmOrThrow(init.wasm) : jsSolver(init.state, init.cfg);

/** Each task is a half-sweep's share of work; the reply is the first row whose solve failed, or −1. */
serveTasks<PoolTask, number>(runTask);

function runTask(task: PoolTask): number {
  if (task.kind === 'gram') {
    const n = gramChunkCount(init.state, task.side);
    for (;;) {
      const c = Atomics.add(init.counter, 0, 1);
      if (c >= n) return -1;
      solver.partialGram(task.side, c);
    }
  }
  const bounds = task.side === 'users' ? init.userChunks : init.itemChunks;
  const nChunks = bounds.length - 1;
  let failed = -1;
  for (;;) {
    const c = Atomics.add(init.counter, 0, 1);
    if (c >= nChunks) break;
    const f = solver.solve(task.side, bounds[c]!, bounds[c + 1]!, task.computeLoss);
    if (f >= 0 && (failed < 0 || f < failed)) failed = f;
  }
  return failed;
}

function wasmOrThrow(w: NonNullable<WorkerInit['wasm']>): SideSolver {
  const s = wasmSolver(w.module, w.layout, init.state, init.cfg, init.slot);
  if (!s) throw new Error('training worker could not instantiate the WebAssembly kernels');
  return s;
}
