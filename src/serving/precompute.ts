/**
 * Each known user's top-N (their training items excluded), computed in worker_threads after a model
 * swap while the live path keeps serving. Requests then only filter a short candidate list, which
 * is what lets a 27,000-item catalog be served at close to plain-Express rates; the live path is
 * the fallback when exclusions eat the list, includeRated is asked or limit > N.
 *
 * The factors and the rated-items CSR are copied once onto SharedArrayBuffers that every worker
 * reads; each worker writes its own user range of the output table (also shared), so nothing is
 * copied back.
 */
import { availableParallelism } from 'node:os';
import type { Model } from '../model/model.js';
import { sharedFloat32, sharedInt32 } from '../ratings/matrix.js';
import { PoolClosedError, WorkerPool } from '../workers.js';

export type PrecomputeStatus = 'off' | 'running' | 'ready' | 'failed';

export interface TopNTable {
  /** Candidates per user. */
  readonly n: number;
  /** nUsers × n item indices, best first; -1 pads a user with fewer than n unrated items. */
  readonly indices: Int32Array;
  /** The ranking score of each candidate (p_u·q_i + b_i explicit, x_u·y_i implicit). */
  readonly scores: Float32Array;
}

export interface PrecomputeJob {
  /** The finished table, or null when cancelled. Rejects if a worker fails. */
  readonly done: Promise<TopNTable | null>;
  /** Stops the workers; `done` then resolves to null. */
  cancel(): Promise<void>;
}

/** One task: the shared arrays and the user range it covers. */
export type PrecomputeWorkerData = PrecomputeShared & UserRange;

/** The users one precompute task covers: [userStart, userEnd). */
export interface UserRange {
  readonly userStart: number;
  readonly userEnd: number;
}

/** What a worker receives once (all arrays on SharedArrayBuffer); each task adds a UserRange. */
export interface PrecomputeShared {
  readonly k: number;
  readonly n: number;
  readonly nItems: number;
  /** Use the WebAssembly SIMD kernel when available. */
  readonly simd: boolean;
  readonly userFactors: Float32Array;
  readonly itemFactors: Float32Array;
  readonly itemBias: Float32Array | null;
  readonly indptr: Int32Array;
  /** Uint16 when the catalog has at most 65,536 items (half the bytes to copy), else Int32. */
  readonly indices: Int32Array | Uint16Array;
  readonly outIndices: Int32Array;
  readonly outScores: Float32Array;
}

function sharedCopy<T extends Float32Array | Int32Array>(a: T): T {
  const out = (a instanceof Float32Array ? sharedFloat32(a.length) : sharedInt32(a.length)) as T;
  out.set(a as never);
  return out;
}

function sharedUint16(a: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(new SharedArrayBuffer(Math.max(2, a.length * 2)), 0, a.length);
  out.set(a);
  return out;
}

function shared<T extends Float32Array | Int32Array>(a: T): T {
  return a.buffer instanceof SharedArrayBuffer ? a : sharedCopy(a);
}

export function startPrecompute(model: Model, options: { n: number; threads?: number; simd?: boolean }): PrecomputeJob {
  const idx = model.userItems.indices;
  const nUsers = model.nUsers;
  const n = Math.max(1, Math.min(options.n, model.nItems));
  const threads = Math.max(1, Math.min(options.threads ?? availableParallelism(), nUsers));
  const outIndices = sharedInt32(nUsers * n);
  const outScores = sharedFloat32(nUsers * n);
  const common: PrecomputeShared = {
    k: model.factors,
    n,
    nItems: model.nItems,
    simd: options.simd ?? true,
    userFactors: shared(model.userFactors),
    itemFactors: shared(model.itemFactors),
    itemBias: model.itemBias === null ? null : shared(model.itemBias),
    indptr: shared(model.userItems.indptr),
    indices: idx instanceof Int32Array && model.nItems > 0x10000 ? shared(idx) : sharedUint16(idx),
    outIndices,
    outScores,
  };
  const pool = WorkerPool.start<UserRange, void>(
    'top-N precompute',
    new URL('./precompute-worker.js', import.meta.url),
    threads,
    () => common,
  );
  // Every user costs the same (one pass over the catalog), so equal user ranges balance the work.
  const range = (t: number): UserRange => ({
    userStart: Math.floor((t * nUsers) / threads),
    userEnd: Math.floor(((t + 1) * nUsers) / threads),
  });
  const done = pool.all(range).then(
    async (): Promise<TopNTable | null> => {
      await pool.close();
      return { n, indices: outIndices, scores: outScores };
    },
    async (e: unknown): Promise<TopNTable | null> => {
      await pool.close();
      if (e instanceof PoolClosedError) return null; // cancelled
      throw e;
    },
  );
  return {
    done,
    async cancel() {
      await pool.close();
      await done.catch(() => null);
    },
  };
}
