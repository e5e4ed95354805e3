/**
 * The half-sweep on the WebAssembly kernels (assembly/kernels.ts): the factors, the Grams and the
 * per-row loss terms live in one shared WebAssembly.Memory, so every thread's kernel instance reads
 * and writes them in place. The CSR arrays stay where loadMatrix put them: each thread copies the
 * entries of a block of rows (at most BLOCK_ENTRIES, or one long row) into its own slot of the
 * memory before the kernel solves the block — a memcpy of 8 bytes per rating against the kernel's
 * 2·d·(cgSteps + 1) multiply-adds per rating, and no second copy of the rating matrix.
 */
import { Arena, instantiateKernels, sharedMemory, type KernelExports, type WasmMemory, type WasmModule } from '../kernels/wasm.js';
import type { RatingMatrix } from '../ratings/matrix.js';
import { GRAM_CHUNK } from './linalg.js';
import type { SharedState, Side, SideSolver, SolveConfig } from './solve-side.js';

/** Entries copied per block (a longer row is copied on its own). */
export const BLOCK_ENTRIES = 1 << 15;
/** Rows per block (bounds the copied indptr when rows have few ratings). */
export const BLOCK_ROWS = 4096;
/** Rows per block of the kernel's syrk (its T and U scratch hold this many rows). */
const SYRK_ROWS = 32;

/** One thread's scratch in the shared memory (byte offsets). */
export interface SlotLayout {
  readonly indptr: number;
  readonly idx: number;
  readonly vals: number;
  readonly scratch: number;
  readonly gramIdx: number;
  readonly T: number;
  readonly U: number;
}

/** Where everything lives in the shared memory (byte offsets), handed to every worker. */
export interface WasmLayout {
  readonly memory: WasmMemory;
  readonly d: number;
  /** d rounded up to a multiple of 4: the stride of gram32. */
  readonly dp: number;
  /** entries a slot's block holds: max(BLOCK_ENTRIES, the longest row of either side). */
  readonly cap: number;
  readonly users: number;
  readonly items: number;
  readonly feat: number;
  readonly featBias: number;
  readonly gram: number;
  /** the Gram as f32, dp×dp, zero-padded (CG's matvec). */
  readonly gram32: number;
  readonly gramParts: number;
  readonly stats: number;
  readonly slots: readonly SlotLayout[];
}

/** Bytes of the kernels' per-row scratch: 5 vectors of dp f32, 4 per-entry f32 arrays, and the Cholesky system. */
function kernelScratchBytes(d: number, dp: number, cap: number): number {
  return 6 * dp * 4 + 4 * cap * 4 + 32 + d * d * 8 + d * 8 + 32 + 2 * SYRK_ROWS * d * 4 + 64;
}

function longestRow(indptr: Int32Array): number {
  let m = 0;
  for (let r = 0; r + 1 < indptr.length; r++) m = Math.max(m, indptr[r + 1]! - indptr[r]!);
  return m;
}

/**
 * Allocates the shared memory for a fit and the SharedState whose arrays are views of it (so the
 * plain-TypeScript solver could run on the same state). `slots` = the threads that solve.
 */
export function createWasmState(
  matrix: RatingMatrix,
  d: number,
  explicit: boolean,
  slots: number,
): { readonly state: SharedState; readonly layout: WasmLayout } {
  const { nUsers, nItems } = matrix;
  const maxRows = Math.max(nUsers, nItems);
  const dp = Math.ceil(d / 4) * 4;
  const cap = Math.max(BLOCK_ENTRIES, longestRow(matrix.byUser.indptr), longestRow(matrix.byItem.indptr));
  const nParts = explicit ? 0 : Math.ceil(maxRows / GRAM_CHUNK);
  const a = new Arena(64);
  const at = {
    users: a.alloc(nUsers * d * 4),
    items: a.alloc(nItems * d * 4),
    feat: a.alloc(explicit ? maxRows * d * 4 : 0),
    featBias: a.alloc(explicit ? maxRows * 4 : 0),
    gram: a.alloc(d * d * 8),
    gram32: a.alloc(dp * dp * 4),
    gramParts: a.alloc(nParts * d * d * 8),
    stats: a.alloc(2 * maxRows * 8),
  };
  const slotLayouts: SlotLayout[] = [];
  for (let s = 0; s < slots; s++) {
    slotLayouts.push({
      indptr: a.alloc((BLOCK_ROWS + 1) * 4),
      idx: a.alloc(cap * 4),
      vals: a.alloc(cap * 4),
      scratch: a.alloc(kernelScratchBytes(d, dp, cap)),
      gramIdx: a.alloc(SYRK_ROWS * 4),
      T: a.alloc(SYRK_ROWS * d * 4),
      U: a.alloc(SYRK_ROWS * d * 4),
    });
  }
  a.alloc(64); // slack past the last array
  const memory = sharedMemory(a.size);
  const buf = memory.buffer;
  const state: SharedState = {
    byUser: matrix.byUser,
    byItem: matrix.byItem,
    users: new Float32Array(buf, at.users, nUsers * d),
    items: new Float32Array(buf, at.items, nItems * d),
    feat: new Float32Array(buf, at.feat, explicit ? maxRows * d : 0),
    featBias: new Float32Array(buf, at.featBias, explicit ? maxRows : 0),
    gram: new Float64Array(buf, at.gram, d * d),
    gramParts: new Float64Array(buf, at.gramParts, nParts * d * d),
    stats: new Float64Array(buf, at.stats, 2 * maxRows),
  };
  return { state, layout: { memory, d, dp, cap, ...at, slots: slotLayouts } };
}

/** gram32 = the full f64 Gram rounded to f32, stride dp, padding zero (after reduceGram). */
export function writeGram32(layout: WasmLayout, gram: Float64Array): void {
  const { d, dp } = layout;
  const g32 = new Float32Array(layout.memory.buffer, layout.gram32, dp * dp);
  for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) g32[a * dp + b] = gram[a * d + b]!;
}

/** A thread's solver on the kernels, using slot `slot` of the layout; null when the module cannot be instantiated. */
export function wasmSolver(
  module: WasmModule | null,
  layout: WasmLayout,
  st: SharedState,
  cfg: SolveConfig,
  slot: number,
): SideSolver | null {
  const k: KernelExports | null = instantiateKernels(layout.memory, module);
  if (k === null) return null;
  const sl = layout.slots[slot]!;
  const buf = layout.memory.buffer;
  const indptrBlock = new Int32Array(buf, sl.indptr, BLOCK_ROWS + 1);
  const idxBlock = new Int32Array(buf, sl.idx, layout.cap);
  const valsBlock = new Float32Array(buf, sl.vals, layout.cap);
  const { d, cap } = layout;
  const explicit = cfg.explicit ? 1 : 0;
  const countScaling = cfg.countScaling ? 1 : 0;

  return {
    solve(side: Side, start: number, end: number, computeLoss: boolean): number {
      const csr = side === 'users' ? st.byUser : st.byItem;
      const { indptr, indices, values } = csr;
      const out = side === 'users' ? layout.users : layout.items;
      const fixed = cfg.explicit ? layout.feat : side === 'users' ? layout.items : layout.users;
      let b0 = start;
      while (b0 < end) {
        // The block: as many rows as fit in cap entries and BLOCK_ROWS rows (at least one row).
        const e0 = indptr[b0]!;
        let b1 = b0 + 1;
        while (b1 < end && b1 - b0 < BLOCK_ROWS && indptr[b1 + 1]! - e0 <= cap) b1++;
        const e1 = indptr[b1]!;
        indptrBlock.set(indptr.subarray(b0, b1 + 1));
        idxBlock.set(indices.subarray(e0, e1));
        valsBlock.set(values.subarray(e0, e1));
        const outAt = out + b0 * d * 4;
        const statsAt = layout.stats + b0 * 16;
        const loss = computeLoss ? 1 : 0;
        if (cfg.cholesky) {
          // prettier-ignore
          const failed = k.choleskyRows(b1 - b0, sl.indptr, e0, sl.idx, sl.vals, fixed, layout.featBias, outAt, statsAt,
            layout.gram32, layout.gram, d, explicit, cfg.lambda, countScaling, cfg.alpha, cfg.globalMean, loss, sl.scratch, cap);
          if (failed >= 0) return b0 + failed;
        } else {
          // prettier-ignore
          k.cgRows(b1 - b0, sl.indptr, e0, sl.idx, sl.vals, fixed, layout.featBias, outAt, statsAt,
            layout.gram32, d, explicit, cfg.lambda, countScaling, cfg.alpha, cfg.globalMean, cfg.cgSteps, loss, sl.scratch, cap);
        }
        b0 = b1;
      }
      return -1;
    },
    partialGram(side: Side, chunk: number): void {
      const n = (side === 'users' ? st.byItem : st.byUser).indptr.length - 1;
      const f = side === 'users' ? layout.items : layout.users;
      const dd = d * d;
      st.gramParts.fill(0, chunk * dd, (chunk + 1) * dd);
      const r0 = chunk * GRAM_CHUNK;
      k.gramRows(f, r0, Math.min(n, r0 + GRAM_CHUNK), d, layout.gramParts + chunk * dd * 8, sl.gramIdx, sl.T, sl.U);
    },
  };
}
