/**
 * A pool of worker_threads created once per fit. Each half-sweep is split into chunks of rows of
 * about equal cost (ratings + a per-row constant); workers claim chunks through a shared atomic
 * counter, so a busy core never holds up the sweep. Every row's solution depends only on the
 * fixed side and its own previous factors, so the result does not depend on which thread solved
 * it: 1 and N threads give the same factors.
 */
import type { Csr } from '../ratings/matrix.js';
import { WorkerPool } from '../workers.js';
import type { WasmModule } from '../kernels/wasm.js';
import type { SharedState, Side, SolveConfig } from './solve-side.js';
import type { WasmLayout } from './wasm-side.js';

export interface PoolInit {
  readonly state: SharedState;
  readonly cfg: SolveConfig;
  /** chunk c of a side covers rows [chunks[c], chunks[c+1]). */
  readonly userChunks: Int32Array;
  readonly itemChunks: Int32Array;
  /** shared Int32Array(1): the next chunk to claim; reset to 0 before each task. */
  readonly counter: Int32Array;
  /** the WebAssembly kernels' module and memory layout (null: the plain-TypeScript solver). */
  readonly wasm: { readonly module: WasmModule; readonly layout: WasmLayout } | null;
}

/** A worker's init: the pool's, plus the scratch slot of the shared memory it owns. */
export interface WorkerInit extends PoolInit {
  readonly slot: number;
}

export interface PoolTask {
  /** solve: the rows of `side`; gram: the partial Grams of the side fixed while `side` is solved. */
  readonly kind: 'solve' | 'gram';
  readonly side: Side;
  readonly computeLoss: boolean;
}

/**
 * Splits rows into about `nChunks` contiguous ranges of equal cost, cost(row) = nnz + rowCost
 * (rowCost: the per-row work, d×d products, in units of one rating's work).
 */
export function balancedChunks(csr: Csr, nChunks: number, rowCost: number): Int32Array {
  const nRows = csr.indptr.length - 1;
  const total = csr.indptr[nRows]! + rowCost * nRows;
  const bounds: number[] = [0];
  let next = total / nChunks;
  for (let r = 0; r < nRows; r++) {
    const done = csr.indptr[r + 1]! + rowCost * (r + 1);
    if (done >= next && r + 1 < nRows) {
      bounds.push(r + 1);
      while (next <= done) next += total / nChunks;
    }
  }
  bounds.push(nRows);
  return Int32Array.from(bounds);
}

export class SolvePool {
  private constructor(
    private readonly pool: WorkerPool<PoolTask, number>,
    private readonly counter: Int32Array,
  ) {}

  static create(threads: number, init: PoolInit): SolvePool {
    return new SolvePool(
      WorkerPool.start('training', new URL('./worker.js', import.meta.url), threads, (t) => ({ ...init, slot: t }) satisfies WorkerInit),
      init.counter,
    );
  }

  /** Runs one half-sweep on every worker; resolves to the first failed row (or −1). */
  async run(task: PoolTask): Promise<number> {
    if (this.pool.closed) throw new Error('training pool is closed');
    Atomics.store(this.counter, 0, 0);
    const replies = await this.pool.all(() => task);
    let failed = -1;
    for (const r of replies) if (r >= 0 && (failed < 0 || r < failed)) failed = r;
    return failed;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
