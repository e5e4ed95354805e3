/**
 * The per-user top-N computation the precompute workers run (kept apart from the worker entry so
 * tests can call it in-process).
 */
import { scoreAll, scoreAll4 } from '../kernels/scoring.js';
import type { PrecomputeWorkerData } from './precompute.js';
import { topK } from '../kernels/top-k.js';
import { createBlockTopN } from '../kernels/block-top-n.js';

/**
 * For every user u in [userStart, userEnd): the best n of s_ui = p_u·q_i + b_i over the catalog,
 * the user's training items excluded, written to row u of the output table (-1 / NaN padding when
 * fewer than n items remain). With WebAssembly: the blocked top-N kernel (block-top-n.ts); else
 * the plain loops, the training items set to NaN (topK never selects NaN).
 */
export function computeTopNRange(d: PrecomputeWorkerData): void {
  const { k, n, nItems, userFactors, itemFactors, itemBias, indptr, indices, outIndices, outScores } = d;
  const finish = (u: number, scores: Float32Array, select: (n: number) => { indices: Int32Array; scores: Float64Array }): void => {
    for (let e = indptr[u]!, end = indptr[u + 1]!; e < end; e++) scores[indices[e]!] = NaN;
    const top = select(n);
    const base = u * n;
    const m = top.indices.length;
    outIndices.set(top.indices, base);
    for (let j = 0; j < m; j++) outScores[base + j] = top.scores[j]!;
    for (let j = m; j < n; j++) {
      outIndices[base + j] = -1;
      outScores[base + j] = NaN;
    }
  };
  let u = d.userStart;
  const blocked = d.simd && d.userEnd > u ? createBlockTopN(itemFactors, itemBias, k, nItems, n) : null;
  if (blocked !== null) {
    // The blocked kernel: users in groups of eight against tiles of the catalog, the top-n selection
    // fused, rated items skipped. Writes straight into this range's rows of the output table.
    const users = new Int32Array(d.userEnd - u);
    for (let j = 0; j < users.length; j++) users[j] = u + j;
    blocked.topN(
      userFactors,
      users,
      { indptr, indices },
      outIndices.subarray(u * n, d.userEnd * n),
      outScores.subarray(u * n, d.userEnd * n),
    );
    return;
  }
  const block = new Float32Array(4 * nItems);
  for (; u + 4 <= d.userEnd; u += 4) {
    scoreAll4(userFactors, [u, u + 1, u + 2, u + 3], itemFactors, itemBias, k, nItems, block);
    for (let j = 0; j < 4; j++) {
      const row = block.subarray(j * nItems, (j + 1) * nItems);
      finish(u + j, row, (k) => topK(row, k));
    }
  }
  const one = block.subarray(0, nItems);
  for (; u < d.userEnd; u++) {
    scoreAll(userFactors.subarray(u * k, (u + 1) * k), itemFactors, itemBias, k, one, nItems);
    finish(u, one, (k) => topK(one, k));
  }
}
