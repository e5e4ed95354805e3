/** A worker for the pool tests: doubles numbers, fails on request, sleeps, or exits. */
import { workerData } from 'node:worker_threads';
import { invalidInput } from '../../src/errors.js';
import { serveTasks } from '../../src/workers.js';

const { offset } = workerData as { offset: number };

serveTasks<{ n?: number; fail?: 'input' | 'bug'; sleepMs?: number; exit?: boolean }, number>(async (task) => {
  if (task.exit) process.exit(3);
  if (task.sleepMs) await new Promise((r) => setTimeout(r, task.sleepMs));
  if (task.fail === 'input') throw invalidInput(`bad n ${task.n}`);
  if (task.fail === 'bug') throw new TypeError('a bug');
  return 2 * (task.n ?? 0) + offset;
});
