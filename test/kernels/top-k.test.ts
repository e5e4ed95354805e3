import { describe, expect, it } from 'vitest';
import { topK } from '../../src/kernels/top-k.js';
import { mulberry32 } from '../../src/training/random.js';

/** The slow, obvious reference: sort every candidate, descending score, ties by lower index. */
function fullSort(scores: ArrayLike<number>, k: number, skip?: (i: number) => boolean): number[] {
  const idx: number[] = [];
  for (let i = 0; i < scores.length; i++) if (!Number.isNaN(scores[i]!) && !(skip?.(i) ?? false)) idx.push(i);
  idx.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return idx.slice(0, Math.max(0, k));
}

describe('topK', () => {
  it('matches a full sort on random data, with ties, skips, and many k', () => {
    const rand = mulberry32(42);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(rand() * 300);
      // Few distinct values (0..9) so ties are frequent; every other trial continuous values.
      const scores =
        trial % 2 === 0
          ? Float32Array.from({ length: n }, () => Math.floor(rand() * 10))
          : Float64Array.from({ length: n }, () => rand() * 2 - 1);
      const k = Math.floor(rand() * (n + 5));
      const skipSet = new Set<number>();
      for (let i = 0; i < n; i++) if (rand() < 0.3) skipSet.add(i);
      const skip = trial % 3 === 0 ? undefined : (i: number) => skipSet.has(i);
      const got = topK(scores, k, skip);
      const want = fullSort(scores, k, skip);
      expect(Array.from(got.indices)).toEqual(want);
      expect(Array.from(got.scores)).toEqual(want.map((i) => scores[i]!));
    }
  });

  it('orders ties by lower index', () => {
    const got = topK(Float32Array.from([1, 3, 3, 2, 3]), 3);
    expect(Array.from(got.indices)).toEqual([1, 2, 4]);
    expect(Array.from(got.scores)).toEqual([3, 3, 3]);
  });

  it('handles k = 0, k > n, all skipped, and NaN scores', () => {
    const s = Float64Array.from([0.5, NaN, -1, 2]);
    expect(topK(s, 0).indices.length).toBe(0);
    expect(topK(s, -3).indices.length).toBe(0);
    expect(Array.from(topK(s, 10).indices)).toEqual([3, 0, 2]);
    expect(topK(s, 2, () => true).indices.length).toBe(0);
    expect(Array.from(topK(s, 2, (i) => i === 3).indices)).toEqual([0, 2]);
    expect(topK(new Float32Array(0), 5).indices.length).toBe(0);
  });

  it('handles -Infinity and Infinity like ordinary scores', () => {
    const s = Float64Array.from([-Infinity, 1, Infinity, -Infinity]);
    expect(Array.from(topK(s, 4).indices)).toEqual([2, 1, 0, 3]);
  });

  it('never calls skip for candidates that cannot enter the heap once it is full', () => {
    const n = 10_000;
    const s = Float64Array.from({ length: n }, (_, i) => n - i); // descending already
    let calls = 0;
    topK(s, 5, () => {
      calls++;
      return false;
    });
    expect(calls).toBe(5);
  });
});
