import { describe, expect, it } from 'vitest';
import { InvalidInput } from '../src/errors.js';
import { PoolClosedError, WorkerPool } from '../src/workers.js';

type Task = { n?: number; fail?: 'input' | 'bug'; sleepMs?: number; exit?: boolean };
const entry = new URL('./helpers/echo-worker.js', import.meta.url);
const start = (size: number) => WorkerPool.start<Task, number>('echo', entry, size, (i) => ({ offset: 1000 * i }));

describe('WorkerPool', () => {
  it('all: worker i answers task(i), replies in worker order', async () => {
    const pool = start(2);
    try {
      expect(await pool.all((i) => ({ n: i + 1 }))).toEqual([2, 1004]);
      expect(await pool.ask(1, { n: 5 })).toBe(1010);
    } finally {
      await pool.close();
    }
  });

  it('queue: every task runs once; bad input arrives as InvalidInput, other failures as Error naming the pool', async () => {
    const pool = start(2);
    const seen = new Map<number, number | string>();
    try {
      const tasks: Task[] = Array.from({ length: 9 }, (_, n) => (n === 4 ? { n, fail: 'input' } : { n, sleepMs: n % 3 }));
      await pool.queue(tasks, (j, reply, error) => {
        seen.set(j, error === undefined ? reply! % 1000 : error instanceof InvalidInput ? `input: ${error.message}` : 'other');
      });
      expect([...seen.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      for (const [j, v] of seen) expect(v).toBe(j === 4 ? 'input: bad n 4' : 2 * j);
      await expect(pool.ask(0, { fail: 'bug' })).rejects.toThrow(/echo worker failed: TypeError: a bug/);
    } finally {
      await pool.close();
    }
  });

  it('queue stops starting tasks once settle throws, and rejects with that error', async () => {
    const pool = start(1);
    let settled = 0;
    try {
      const run = pool.queue([{ n: 1 }, { n: 2 }, { n: 3 }], () => {
        settled++;
        throw new Error('stop');
      });
      await expect(run).rejects.toThrow('stop');
      expect(settled).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('close rejects the tasks under way with PoolClosedError; a worker that exits rejects its task', async () => {
    const pool = start(2);
    const slow = pool.ask(0, { sleepMs: 5000 });
    const exiting = pool.ask(1, { exit: true });
    await expect(exiting).rejects.toThrow(/echo worker exited with code 3/);
    const slowOutcome = expect(slow).rejects.toBeInstanceOf(PoolClosedError);
    await pool.close();
    await slowOutcome;
    expect(pool.closed).toBe(true);
    await expect(pool.ask(0, { n: 1 })).rejects.toBeInstanceOf(PoolClosedError);
  });
});
