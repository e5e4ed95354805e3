/**
 * Each user's best n items, their rated items excluded, for many users at once on the WebAssembly
 * SIMD kernel `topnTile` (assembly/kernels.ts): eight users per pass over a tile of the catalog,
 * the selection fused into the scoring, nothing but the n winners per user ever leaving the module.
 * It is what the top-N precompute, Model.recommendBatch and the evaluation's ranking pass run; the
 * plain-TypeScript reference is scoreAll (scoring.ts) + topK (top-k.ts), and the results are
 * exactly those of topK over the float32 scores s_ui = b_i + p_u·q_i (see the kernel's comment for
 * the two stages: a 16-bit integer filter with a proven error bound, then exact scores for the
 * few items that pass it).
 *
 * Memory of one instance (bytes, 16-aligned regions):
 *   qi      quantized items, 4 to a block, an even number of blocks (zero blocks pad the catalog):
 *           Qi[(b·kp + g)·8 + 2·lane + h] = q̃_{4b+lane}[2g + h] (i16)
 *   qf      the f32 item rows as given (stride k), for the exact scores
 *   bias    b_i (zeros for implicit models), padded to whole blocks
 *   groups  GROUPS × (p8, uf, st, hk): eight users each, laid out as topnTile documents
 *   rated   the rated lists of the users in flight, ascending
 *   out     one drained heap (n scores, n items)
 */
import { Arena, instantiateKernels, sharedMemory, useWasmKernels, type KernelExports } from './wasm.js';

/** Users per call of the tile loop: GROUPS groups of eight share each item tile while it is in cache. */
const GROUPS = 8;
/** Bytes of quantized item factors per tile: the tile stays in L2 while the GROUPS groups read it. */
const TILE_BYTES = 128 * 1024;
/** 2⁻²³: the unit roundoff of float32 times two. */
const EPS32 = 2 ** -23;

export interface BlockTopN {
  readonly k: number;
  readonly nItems: number;
  /** The most items a user's list holds (the n of createBlockTopN). */
  readonly n: number;
  /**
   * For every j, user users[j] (row users[j] of the row-major userFactors, stride k): the best
   * `listLength` (default and at most n) items
   * by s_ui = b_i + p_u·q_i, descending, ties by lower index, NaN never selected, the user's
   * rated items (row u of the CSR indptr/indices) excluded unless `rated` is null. Writes
   * outIndices[j·listLength + r] and outScores[j·listLength + r]; a user with fewer eligible items is
   * padded with -1 and NaN.
   */
  topN(
    userFactors: Float32Array,
    users: ArrayLike<number>,
    rated: { readonly indptr: ArrayLike<number>; readonly indices: ArrayLike<number> } | null,
    outIndices: Int32Array,
    outScores: Float32Array,
    listLength?: number,
  ): void;
}

/**
 * Builds the kernel's copy of the catalog for lists of n items (1 ≤ n; k ≥ 1); null when WebAssembly
 * SIMD is unavailable, RIDGEREC_KERNELS=js, or an item factor or bias is not finite (callers then
 * keep the plain-TypeScript path).
 */
export function createBlockTopN(
  itemFactors: Float32Array,
  itemBias: Float32Array | null,
  k: number,
  nItems: number,
  n: number,
): BlockTopN | null {
  if (!(k >= 1) || !(n >= 1) || !useWasmKernels()) return null;
  n = Math.trunc(n);
  const kp = (k + 1) >> 1;
  // 4-item blocks, an even count (topnTile takes them two at a time; zero blocks pad the catalog).
  const nBlk = 2 * Math.max(1, Math.ceil(nItems / 8));
  // |q̃|, |p̃| ≤ M with M²·2kp < 2³⁰: a 32-bit lane sums 2kp products without overflow.
  const M = Math.min(32767, Math.floor(Math.sqrt(2 ** 30 / (2 * kp))));

  // Catalog-wide figures of the error bound: max |q_if|, max ‖q_i‖₁, max ‖q_i‖₂, max |b_i|.
  let maxAbsQ = 0;
  let maxQ1 = 0;
  let maxQ2 = 0;
  let maxB = 0;
  for (let i = 0; i < nItems; i++) {
    let l1 = 0;
    let l2 = 0;
    for (let f = 0, o = i * k; f < k; f++) {
      const x = Math.abs(itemFactors[o + f]!);
      l1 += x;
      l2 += x * x;
      if (x > maxAbsQ) maxAbsQ = x;
    }
    if (!Number.isFinite(l1) || !Number.isFinite(l2)) return null;
    if (l1 > maxQ1) maxQ1 = l1;
    if (l2 > maxQ2) maxQ2 = l2;
    const b = itemBias === null ? 0 : Math.abs(itemBias[i]!);
    if (!Number.isFinite(b)) return null;
    if (b > maxB) maxB = b;
  }
  maxQ2 = Math.sqrt(maxQ2);
  const S = maxAbsQ > 0 ? M / maxAbsQ : 1;

  const tileBlocks = 2 * Math.max(1, Math.floor(TILE_BYTES / (kp * 32))); // even, as topnTile needs
  const ratedCap = Math.max(1 << 18, 2 * nItems);
  const arena = new Arena();
  const qiAt = arena.alloc(nBlk * kp * 16);
  const qfAt = arena.alloc(nItems * k * 4 + 16);
  const biasAt = arena.alloc(nBlk * 16);
  const groupAt = Array.from({ length: GROUPS }, () => ({
    p8: arena.alloc(kp * 32),
    uf: arena.alloc(8 * k * 4 + 16),
    st: arena.alloc(192),
    hk: arena.alloc(8 * n * 8),
  }));
  const ratedAt = arena.alloc(ratedCap * 4);
  const outSAt = arena.alloc(n * 4);
  const outIAt = arena.alloc(n * 4);
  const memory = sharedMemory(arena.size);
  const kernels: KernelExports | null = instantiateKernels(memory);
  if (kernels === null) return null;
  const buf = memory.buffer;

  // q̃_i = round(S·q_i), in 4-item blocks of factor pairs; maxErrQ = max |q_if − q̃_if/S|.
  const qi = new Int16Array(buf, qiAt, nBlk * kp * 8);
  let maxErrQ = 0;
  for (let i = 0; i < nItems; i++) {
    const base = (i >> 2) * kp * 8 + 2 * (i & 3);
    for (let f = 0, o = i * k; f < k; f++) {
      const x = itemFactors[o + f]!;
      const r = Math.round(x * S);
      const err = Math.abs(x - r / S);
      if (err > maxErrQ) maxErrQ = err;
      qi[base + (f >> 1) * 8 + (f & 1)] = r;
    }
  }
  new Float32Array(buf, qfAt, nItems * k).set(itemFactors.subarray(0, nItems * k));
  if (itemBias !== null) new Float32Array(buf, biasAt, nBlk * 4).set(itemBias.subarray(0, nItems));

  const groups = groupAt.map((g) => ({
    ...g,
    p8: new Int16Array(buf, g.p8, kp * 16),
    uf: new Float32Array(buf, g.uf, 8 * k),
    stF: new Float32Array(buf, g.st, 48),
    stI: new Int32Array(buf, g.st, 48),
  }));
  const rated = new Int32Array(buf, ratedAt, ratedCap);
  const outS = new Float32Array(buf, outSAt, n);
  const outI = new Int32Array(buf, outIAt, n);

  /**
   * Loads user u into lane j of a group: the quantized pairs, the f32 row, c = 1/(s·S), E and
   * thr = −∞ (the heap is empty). s = M / max_f |p_uf|, p̃ = round(s·p); E bounds |s_ui − ŝ_ui|:
   *   E = max_f|p_f − p̃_f/s|·max‖q‖₁ + ‖p̃/s‖₁·max|q − q̃/S| + (k + 8)·2⁻²¹·(‖p‖₂·max‖q‖₂ + max|b|)
   * the last term covering the float32 rounding of both the filtered and the exact score (each
   * within (k + 2)·2⁻²⁴ of Σ|p_f q_f| + |b|), four times over. A non-finite E (a NaN or infinite
   * factor) makes every item pass the filter: the exact pass then decides, as topK would.
   */
  const loadUser = (g: (typeof groups)[number], j: number, P: Float32Array, u: number): void => {
    let maxAbs = 0;
    let l2 = 0;
    for (let f = 0, o = u * k; f < k; f++) {
      const x = P[o + f]!;
      g.uf[j * k + f] = x;
      const a = Math.abs(x);
      if (a > maxAbs) maxAbs = a;
      l2 += x * x;
    }
    const s = maxAbs > 0 ? M / maxAbs : 0;
    let errP = 0;
    let l1 = 0;
    for (let f = 0, o = u * k; f < kp * 2; f++) {
      const x = f < k ? P[o + f]! : 0;
      const r = s > 0 ? Math.round(x * s) : 0;
      const back = s > 0 ? r / s : 0;
      const err = Math.abs(x - back);
      if (!(err <= errP)) errP = err; // NaN propagates
      l1 += Math.abs(back);
      g.p8[(f >> 1) * 16 + 2 * j + (f & 1)] = Number.isFinite(r) ? r : 0;
    }
    let E = errP * maxQ1 + l1 * maxErrQ + (k + 8) * 4 * EPS32 * (Math.sqrt(l2) * maxQ2 + maxB);
    E = Number.isFinite(E) ? E * (1 + 2 ** -20) : Infinity;
    g.stF[j] = s > 0 ? 1 / (s * S) : 0;
    g.stF[8 + j] = -Infinity;
    g.stF[16 + j] = E;
    g.stI[24 + j] = 0;
  };
  /** Lane j of a group unused: p̃ = 0 and thr = +∞, so nothing passes its filter. */
  const clearLane = (g: (typeof groups)[number], j: number): void => {
    for (let t = 0; t < kp; t++) {
      g.p8[t * 16 + 2 * j] = 0;
      g.p8[t * 16 + 2 * j + 1] = 0;
    }
    g.stF[j] = 0;
    g.stF[8 + j] = Infinity;
    g.stF[16 + j] = 0;
    g.stI[24 + j] = 0;
    g.stI[32 + j] = 0;
    g.stI[40 + j] = 0;
  };

  return {
    k,
    nItems,
    n,
    topN(P, users, ratedCsr, outIndices, outScores, listLength = n) {
      const m = Math.trunc(listLength);
      if (!(m >= 1 && m <= n)) throw new RangeError(`listLength must be in 1..${n}, got ${listLength}`);
      const count = users.length;
      if (outIndices.length < count * m || outScores.length < count * m) throw new RangeError(`the outputs need ${count * m} entries`);
      let start = 0;
      while (start < count) {
        // A chunk: up to GROUPS·8 users whose rated lists fit the rated buffer together.
        let end = start;
        let used = 0;
        while (end < count && end - start < GROUPS * 8) {
          const u = users[end]!;
          const len = ratedCsr === null ? 0 : ratedCsr.indptr[u + 1]! - ratedCsr.indptr[u]!;
          if (len > ratedCap) throw new RangeError(`user row ${u} lists ${len} rated items, more than the ${ratedCap} the kernel holds`);
          if (used + len > ratedCap) break;
          used += len;
          end++;
        }
        let at = 0;
        const nGroups = Math.ceil((end - start) / 8);
        for (let gi = 0; gi < nGroups; gi++) {
          const g = groups[gi]!;
          for (let j = 0; j < 8; j++) {
            const t = start + gi * 8 + j;
            if (t >= end) {
              clearLane(g, j);
              continue;
            }
            const u = users[t]!;
            loadUser(g, j, P, u);
            const from = at;
            if (ratedCsr !== null) {
              let sorted = true;
              for (let e = ratedCsr.indptr[u]!, stop = ratedCsr.indptr[u + 1]!; e < stop; e++) {
                const i = ratedCsr.indices[e]!;
                if (at > from && i < rated[at - 1]!) sorted = false;
                rated[at++] = i;
              }
              if (!sorted) rated.subarray(from, at).sort();
            }
            g.stI[32 + j] = ratedAt + from * 4;
            g.stI[40 + j] = ratedAt + at * 4;
          }
        }
        for (let b0 = 0; b0 < nBlk; b0 += tileBlocks) {
          const b1 = Math.min(nBlk, b0 + tileBlocks);
          for (let gi = 0; gi < nGroups; gi++) {
            const g = groups[gi]!;
            kernels.topnTile(qiAt, qfAt, biasAt, nItems, k, kp, b0, b1, g.p8.byteOffset, g.uf.byteOffset, g.stF.byteOffset, g.hk, m);
          }
        }
        for (let t = start; t < end; t++) {
          const gi = Math.floor((t - start) / 8);
          const j = (t - start) % 8;
          const g = groups[gi]!;
          const size = g.stI[24 + j]!;
          kernels.heapDrain(g.hk + j * m * 8, size, outSAt, outIAt);
          const base = t * m;
          for (let r = 0; r < size; r++) {
            outIndices[base + r] = outI[r]!;
            outScores[base + r] = outS[r]!;
          }
          for (let r = size; r < m; r++) {
            outIndices[base + r] = -1;
            outScores[base + r] = NaN;
          }
        }
        start = end;
      }
    },
  };
}
