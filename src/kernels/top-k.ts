/**
 * Top-K selection with a bounded min-heap: O(n log k) time, O(k) memory, never a full sort.
 * Serving (top-N recommendations, similar items) and ranking metrics both call it.
 */

export interface TopK {
  /** indices of the selected scores, best first. */
  readonly indices: Int32Array;
  /** their scores, in the same order. */
  readonly scores: Float64Array;
}

/**
 * Indices of the `k` largest scores (descending; ties by lower index), skipping indices for which
 * skip(i) is true. NaN scores are never selected. O(n log k).
 *
 * The heap keeps the k best seen so far with the WORST of them at the root, where "worse" means a
 * lower score or, for an equal score, a higher index. Scanning indices in ascending order, a new
 * candidate with a score equal to the root's has a higher index, so it is worse and is dropped:
 * only a strictly greater score replaces the root.
 */
export function topK(
  scores: Float32Array | Float64Array,
  k: number,
  skip?: (i: number) => boolean,
): { indices: Int32Array; scores: Float64Array } {
  const n = scores.length;
  const cap = Math.max(0, Math.min(Math.trunc(k), n));
  if (!(cap > 0)) return { indices: new Int32Array(0), scores: new Float64Array(0) };
  const hi = new Int32Array(cap); // heap of indices
  const hs = new Float64Array(cap); // heap of scores
  let size = 0;

  for (let i = 0; i < n; i++) {
    const s = scores[i]!;
    if (s !== s) continue; // NaN
    if (size === cap && !(s > hs[0]!)) continue; // cheap reject before calling skip
    if (skip !== undefined && skip(i)) continue;
    if (size < cap) {
      // sift up: a parent must be worse than (or equal to) its children.
      let c = size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!worse(s, i, hs[p]!, hi[p]!)) break;
        hs[c] = hs[p]!;
        hi[c] = hi[p]!;
        c = p;
      }
      hs[c] = s;
      hi[c] = i;
    } else {
      siftDown(hs, hi, size, s, i);
    }
  }

  // Pop the worst repeatedly, filling the output from the back: best first.
  const outI = new Int32Array(size);
  const outS = new Float64Array(size);
  for (let m = size; m > 0; m--) {
    outI[m - 1] = hi[0]!;
    outS[m - 1] = hs[0]!;
    const lastS = hs[m - 1]!;
    const lastI = hi[m - 1]!;
    if (m - 1 > 0) siftDown(hs, hi, m - 1, lastS, lastI);
  }
  return { indices: outI, scores: outS };
}

/** (s1, i1) ranks below (s2, i2): lower score, or equal score and higher index. */
function worse(s1: number, i1: number, s2: number, i2: number): boolean {
  return s1 < s2 || (s1 === s2 && i1 > i2);
}

/** Places (s, i) at the root of a heap of `size` entries and sifts it down. */
function siftDown(hs: Float64Array, hi: Int32Array, size: number, s: number, i: number): void {
  let c = 0;
  for (;;) {
    const l = 2 * c + 1;
    if (l >= size) break;
    const r = l + 1;
    let w = l;
    if (r < size && worse(hs[r]!, hi[r]!, hs[l]!, hi[l]!)) w = r;
    if (!worse(hs[w]!, hi[w]!, s, i)) break;
    hs[c] = hs[w]!;
    hi[c] = hi[w]!;
    c = w;
  }
  hs[c] = s;
  hi[c] = i;
}
