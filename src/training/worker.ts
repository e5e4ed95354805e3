/**
 * Worker entry of the training pool (see pool.ts). It receives the shared arrays once, then for
 * each half-sweep claims chunks of rows through an atomic counter and solves them in place.
 * No I/O besides the messages to its parent.
 */
import { workerData } from 'node:worker_threads';
import { serveTasks } from '../workers.js';
import type { PoolInit, PoolTask } from './pool.js';
import { createScratch, gramChunkCount, partialGram, sideArrays, solveRows } from './solve-side.js';

const init = workerData as PoolInit;
const scratch = createScratch(init.cfg.d);

/** Each task is a half-sweep's share of work; the reply is the first row whose solve failed, or −1. */
serveTasks<PoolTask, number>(runTask);

function runTask(task: PoolTask): number {
  if (task.kind === 'gram') {
    const n = gramChunkCount(init.state, task.side);
    for (;;) {
      const c = Atomics.add(init.counter, 0, 1);
      if (c >= n) return -1;
      partialGram(init.state, task.side, c, init.cfg.d, scratch);
    }
  }
  const side = sideArrays(init.state, task.side, init.cfg.explicit);
  const bounds = task.side === 'users' ? init.userChunks : init.itemChunks;
  const nChunks = bounds.length - 1;
  let failed = -1;
  for (;;) {
    const c = Atomics.add(init.counter, 0, 1);
    if (c >= nChunks) break;
    const f = solveRows(side, init.cfg, bounds[c]!, bounds[c + 1]!, task.computeLoss, scratch);
    if (f >= 0 && (failed < 0 || f < failed)) failed = f;
  }
  return failed;
}
