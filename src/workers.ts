/**
 * The one worker pool: a fixed set of worker_threads running one of ridgerec's worker entries,
 * each answering every message with exactly one reply. Training asks every worker the same task
 * per half-sweep (`all`), tuning feeds a queue of tasks to whichever worker is idle (`queue`), the
 * serving precompute gives each worker its own range and cancels by closing the pool. A worker
 * entry answers through `serveTasks`, which carries a failure back as data (and whether it was a
 * RidgerecError, i.e. bad input rather than a bug) so the pool rejects with it.
 *
 * Workers start from dist/ (plain JavaScript) or, under vitest/tsx, from the TypeScript sources.
 */
import { parentPort, Worker, type WorkerOptions } from 'node:worker_threads';
import { invalidInput, isRidgerecError } from './errors.js';

/** True when this module (and so every module of ridgerec) runs from src/*.ts rather than dist/. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');

/**
 * Starts a worker on `entry`, the compiled file's URL beside the caller
 * (`new URL('./worker.js', import.meta.url)`). From dist/ that file is run as is. From the sources
 * the sibling .ts file is run instead: Node 20 does not apply `--import` hooks to a worker's entry,
 * so the entry becomes a tiny ESM bootstrap that registers tsx's ESM API (a devDependency) and then
 * imports the .ts file. That bootstrap registers tsx itself, so the worker gets an empty execArgv
 * (not the parent's tsx loader flags, which would load tsx a second time) unless `options` says
 * otherwise.
 */
export function spawnWorker(entry: URL, options: WorkerOptions = {}): Worker {
  if (!FROM_SOURCE) return new Worker(entry, options);
  const source = new URL(entry.href.replace(/\.js$/, '.ts'));
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `(await import(${JSON.stringify(tsxApi)})).register(); await import(${JSON.stringify(source.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { execArgv: [], ...options });
}

/** What a worker sends back for one task. */
type Envelope<Reply> =
  { readonly ok: true; readonly value: Reply } | { readonly ok: false; readonly message: string; readonly expected: boolean };

/**
 * In a worker entry: answers each task message with handler(task), or with the failure it threw.
 * A RidgerecError thrown by the handler reaches the pool as InvalidInput with the same message.
 */
export function serveTasks<Task, Reply>(handler: (task: Task) => Reply | Promise<Reply>): void {
  const port = parentPort;
  if (!port) throw new Error('a ridgerec worker entry was started outside a worker thread');
  port.on('message', (task: Task) => {
    Promise.resolve()
      .then(() => handler(task))
      .then(
        (value) => port.postMessage({ ok: true, value } satisfies Envelope<Reply>),
        (e: unknown) =>
          port.postMessage({
            ok: false,
            message: isRidgerecError(e) ? e.message : ((e as Error)?.stack ?? String(e)),
            expected: isRidgerecError(e),
          } satisfies Envelope<Reply>),
      );
  });
}

/** Raised for the tasks still pending when the pool is closed. */
export class PoolClosedError extends Error {
  constructor(what: string) {
    super(`${what} pool was closed`);
  }
}

export class WorkerPool<Task, Reply> {
  #closed = false;
  #pending = new Set<(e: Error) => void>();

  private constructor(
    private readonly workers: readonly Worker[],
    /** Names the pool in error messages ("training worker failed: …"). */
    private readonly what: string,
  ) {}

  /** Starts `size` workers on `entry`; worker i gets workerData(i). */
  static start<Task, Reply>(what: string, entry: URL, size: number, workerData: (index: number) => unknown): WorkerPool<Task, Reply> {
    const workers: Worker[] = [];
    try {
      for (let i = 0; i < size; i++) workers.push(spawnWorker(entry, { workerData: workerData(i) }));
    } catch (e) {
      for (const w of workers) void w.terminate();
      throw e;
    }
    return new WorkerPool<Task, Reply>(workers, what);
  }

  get size(): number {
    return this.workers.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends `task` to worker `index` and resolves with its reply. Rejects with InvalidInput when the
   * task threw a RidgerecError, with an Error naming the pool for any other failure or an exit,
   * and with PoolClosedError when the pool is closed first.
   */
  ask(index: number, task: Task): Promise<Reply> {
    if (this.#closed) return Promise.reject(new PoolClosedError(this.what));
    const w = this.workers[index]!;
    return new Promise<Reply>((resolve, reject) => {
      const cleanup = () => {
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
        this.#pending.delete(onClose);
      };
      const onMessage = (m: Envelope<Reply>) => {
        cleanup();
        if (m.ok) resolve(m.value);
        else reject(m.expected ? invalidInput(m.message) : new Error(`${this.what} worker failed: ${m.message}`));
      };
      const onError = (e: Error) => {
        cleanup();
        reject(e);
      };
      const onExit = (code: number) => {
        cleanup();
        reject(this.#closed ? new PoolClosedError(this.what) : new Error(`${this.what} worker exited with code ${code}`));
      };
      const onClose = (e: Error) => {
        cleanup();
        reject(e);
      };
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      this.#pending.add(onClose);
      w.postMessage(task);
    });
  }

  /** Worker i gets task(i); resolves with every reply, in worker order, once all have answered. */
  all(task: (index: number) => Task): Promise<Reply[]> {
    return Promise.all(this.workers.map((_, i) => this.ask(i, task(i))));
  }

  /**
   * Runs `tasks`, each idle worker taking the next one, and calls settle(j, reply, error) as each
   * task j ends. If settle throws, no further task starts and the queue rejects with that error
   * (after the tasks under way end).
   */
  queue(tasks: readonly Task[], settle: (index: number, reply: Reply | undefined, error?: unknown) => void): Promise<void> {
    let next = 0;
    let failure: { error: unknown } | null = null;
    const lane = async (w: number): Promise<void> => {
      while (failure === null && next < tasks.length) {
        const j = next++;
        let reply: Reply | undefined;
        let error: unknown;
        try {
          reply = await this.ask(w, tasks[j]!);
        } catch (e) {
          if (e instanceof PoolClosedError) throw e;
          error = e;
        }
        try {
          settle(j, reply, error);
        } catch (e) {
          failure ??= { error: e };
        }
      }
    };
    return Promise.all(this.workers.map((_, w) => lane(w))).then(() => {
      if (failure !== null) throw failure.error;
    });
  }

  /** Terminates every worker; tasks under way reject with PoolClosedError. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const err = new PoolClosedError(this.what);
    for (const reject of [...this.#pending]) reject(err);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
