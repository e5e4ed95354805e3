/**
 * The catalog scorer on the WebAssembly SIMD kernels (score1 and collect in assembly/kernels.ts),
 * over a copy of one model's item factors in the scorer's own memory. It scores one vector at a
 * time; blocks of users go through the blocked top-N kernel (block-top-n.ts).
 *
 * Layout in that memory (bytes), nPad = nItems rounded up to a multiple of 8 (score1 takes eight
 * items per step), every region starting on a 32-byte boundary:
 *   [0, qBytes)        item factors re-laid as blocks of 4 items: Qt[(b·k + f)·4 + lane] = Q[(4b+lane)·k + f]
 *   [biasAt, …)        item biases (zeros for implicit models), padded to nPad
 *   [pAt, …)           the user vector, k floats padded to a multiple of 8
 *   [outAt, …)         the score row, nPad floats
 *   [dstAt, …)         collect's candidate indices
 * With items four to a vector, s_{4b..4b+3} = bias_{4b..} + Σ_f splat(p_f) · Qt_{b,f}: no horizontal
 * sums, one multiply-add per four items. Accumulation is in float32 (the JS kernel accumulates in
 * float64); scores agree to ~1e-6 relative.
 */

import { topK } from './top-k.js';
import { instantiateKernels, sharedMemory, useWasmKernels } from './wasm.js';

export interface SimdScorer {
  readonly k: number;
  readonly nItems: number;
  /** out[i] = bias[i] + u·q_i for every item; returns a view of nItems scores valid until the next call. */
  scoreOne(u: ArrayLike<number>): Float32Array;
  /**
   * The best n of the row the last scoreOne returned, exactly topK(row, n): NaN never selected,
   * descending, ties by lower index. Callers may write NaN into the row first to drop items. See
   * topOfRow for how it avoids a heap pass over the whole catalog.
   */
  top(n: number): { indices: Int32Array; scores: Float64Array };
}

/** Prefix of the catalog whose top n sets the threshold of the filtering pass. */
const SAMPLE = 4096;

/**
 * Exact top-n without a heap pass over every score. The top n of a prefix of the catalog gives
 * a threshold t (its n-th best score): at least n items score ≥ t, so the overall top n are all
 * among {i : s_i ≥ t}. The SIMD `collect` finds those candidates (typically a few hundred of
 * 27,000), in ascending index order, and topK ranks them: ties still go to the lower index.
 */
function topOfRow(
  scores: Float32Array,
  n: number,
  collectAbove: (thr: number) => number,
  dst: Int32Array,
): { indices: Int32Array; scores: Float64Array } {
  const nItems = scores.length;
  if (nItems <= 2 * SAMPLE || n > SAMPLE / 8) return topK(scores, n);
  const pre = topK(scores.subarray(0, SAMPLE), n);
  if (pre.indices.length < n) return topK(scores, n); // the prefix is mostly NaN (dropped items)
  const m = collectAbove(pre.scores[n - 1]!);
  let c = m;
  while (c > 0 && dst[c - 1]! >= nItems) c--; // padding lanes past the catalog
  const cand = new Float32Array(c);
  for (let j = 0; j < c; j++) cand[j] = scores[dst[j]!]!;
  const top = topK(cand, n);
  const indices = new Int32Array(top.indices.length);
  for (let j = 0; j < indices.length; j++) indices[j] = dst[top.indices[j]!]!;
  return { indices, scores: top.scores };
}

/**
 * True when the scorer runs on WebAssembly here: the runtime validates the kernels (SIMD and
 * shared memory; Node 20 does), they are built, and RIDGEREC_KERNELS does not say js.
 */
export function wasmSimdSupported(): boolean {
  return useWasmKernels();
}

/**
 * Builds a scorer over a copy of the item factors (k must be ≥ 1); null when WebAssembly SIMD is
 * unavailable or RIDGEREC_KERNELS=js, in which case callers keep the JavaScript kernel.
 */
export function createSimdScorer(itemFactors: Float32Array, itemBias: Float32Array | null, k: number, nItems: number): SimdScorer | null {
  if (!(k >= 1) || !wasmSimdSupported()) return null;
  const nPad = Math.max(8, Math.ceil(nItems / 8) * 8);
  const qBytes = nPad * k * 4;
  const biasAt = qBytes;
  const pAt = biasAt + nPad * 4;
  const outAt = pAt + Math.ceil(k / 8) * 8 * 4;
  const dstAt = outAt + nPad * 4;
  const total = dstAt + nPad * 4;
  const memory = sharedMemory(total);
  const kernels = instantiateKernels(memory);
  if (kernels === null) return null;
  const buf = memory.buffer;
  const qt = new Float32Array(buf, 0, nPad * k);
  // Qt[(b·k + f)·4 + lane] = Q[(4b + lane)·k + f]
  for (let i = 0; i < nItems; i++) {
    const base = (i >> 2) * k * 4 + (i & 3);
    const src = i * k;
    for (let f = 0; f < k; f++) qt[base + f * 4] = itemFactors[src + f]!;
  }
  if (itemBias !== null) new Float32Array(buf, biasAt, nPad).set(itemBias.subarray(0, nItems));
  const pView = new Float32Array(buf, pAt, k);
  const out = new Float32Array(buf, outAt, nItems);
  const dst = new Int32Array(buf, dstAt, nPad);
  return {
    k,
    nItems,
    scoreOne(u) {
      for (let f = 0; f < k; f++) pView[f] = u[f]!;
      kernels.score1(0, biasAt, pAt, outAt, nPad / 8, k);
      return out;
    },
    top(n) {
      return topOfRow(out, n, (thr) => kernels.collect(outAt, nPad / 4, thr, dstAt), dst);
    },
  };
}
