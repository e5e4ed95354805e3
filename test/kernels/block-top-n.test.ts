import { afterEach, describe, expect, it } from 'vitest';
import { createBlockTopN } from '../../src/kernels/block-top-n.js';
import { scoreAll } from '../../src/kernels/scoring.js';
import { topK } from '../../src/kernels/top-k.js';
import { wasmSimdSupported } from '../../src/kernels/wasm-scorer.js';
import { mulberry32 } from '../../src/training/random.js';

const haveKernels = wasmSimdSupported();

interface Problem {
  readonly k: number;
  readonly nItems: number;
  readonly nUsers: number;
  readonly q: Float32Array;
  readonly p: Float32Array;
  readonly bias: Float32Array | null;
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
}

/**
 * A seeded problem whose users have 0, 1, a few, ~30% and all but two of the items rated (rows in
 * random order, so the kernel's own sorting is exercised). `grid` draws factors from multiples of
 * 1/8 in [−1, 1] (every product and sum is exact in float32 and float64, so both sides see equal
 * scores and ties); otherwise Gaussian.
 */
function problem(
  seed: number,
  k: number,
  nItems: number,
  nUsers: number,
  opts: { bias?: boolean; grid?: boolean; duplicates?: boolean } = {},
): Problem {
  const rand = mulberry32(seed);
  const draw = (): number =>
    opts.grid ? Math.round(rand() * 16 - 8) / 8 : Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const q = Float32Array.from({ length: nItems * k }, draw);
  if (opts.duplicates) {
    // Every fourth item repeats its predecessor: equal scores, to be ranked by lower index.
    for (let i = 1; i < nItems; i += 4) q.copyWithin(i * k, (i - 1) * k, i * k);
  }
  const p = Float32Array.from({ length: nUsers * k }, draw);
  const bias = opts.bias ? Float32Array.from({ length: nItems }, () => (opts.grid ? Math.round(rand() * 8) / 8 : rand() * 2)) : null;
  const indptr = new Int32Array(nUsers + 1);
  const rows: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    const shape = u % 5;
    const want = shape === 0 ? 0 : shape === 1 ? 1 : shape === 2 ? 5 : shape === 3 ? Math.floor(0.3 * nItems) : nItems - 2;
    const set = new Set<number>();
    while (set.size < Math.min(want, nItems)) set.add(Math.floor(rand() * nItems));
    rows.push(...set); // insertion order: not sorted
    indptr[u + 1] = rows.length;
  }
  return { k, nItems, nUsers, q, p, bias, indptr, indices: Int32Array.from(rows) };
}

/** The plain reference: float64 scores, rated items NaN, topK. */
function reference(pr: Problem, u: number, n: number, excludeRated: boolean): { indices: Int32Array; scores: Float64Array } {
  const scores = new Float64Array(pr.nItems);
  scoreAll(pr.p.subarray(u * pr.k, (u + 1) * pr.k), pr.q, pr.bias, pr.k, scores, pr.nItems);
  if (excludeRated) for (let e = pr.indptr[u]!; e < pr.indptr[u + 1]!; e++) scores[pr.indices[e]!] = NaN;
  return topK(scores, n);
}

function run(pr: Problem, n: number, users: Int32Array, excludeRated: boolean, listLength = n) {
  const kernel = createBlockTopN(pr.q, pr.bias, pr.k, pr.nItems, n)!;
  expect(kernel).not.toBeNull();
  const idx = new Int32Array(users.length * listLength).fill(-7);
  const sc = new Float32Array(users.length * listLength);
  kernel.topN(pr.p, users, excludeRated ? { indptr: pr.indptr, indices: pr.indices } : null, idx, sc, listLength);
  return { idx, sc };
}

const allUsers = (pr: Problem): Int32Array => Int32Array.from({ length: pr.nUsers }, (_, u) => u);

afterEach(() => {
  delete process.env.RIDGEREC_KERNELS;
});

describe.skipIf(!haveKernels)('blocked top-N kernel against scoreAll + topK', () => {
  // 70 users: a chunk of 64 and one of 6, groups with unused lanes. 1,001 items: several tiles at
  // k = 128 (512 items a tile), a last block of one item.
  for (const k of [1, 3, 8, 64, 65, 128]) {
    for (const bias of [false, true]) {
      it(`k=${k}${bias ? ', with item biases' : ''}: the same lists, item for item, on exactly representable factors (ties included)`, () => {
        const pr = problem(11 * k + (bias ? 1 : 0), k, 1001, 70, { bias, grid: true, duplicates: true });
        for (const n of [1, 10, 50]) {
          const { idx, sc } = run(pr, n, allUsers(pr), true);
          for (let u = 0; u < pr.nUsers; u++) {
            const ref = reference(pr, u, n, true);
            const got = Array.from(idx.subarray(u * n, (u + 1) * n));
            const want = [...ref.indices, ...new Array<number>(n - ref.indices.length).fill(-1)];
            expect(got, `user ${u}, n ${n}`).toEqual(want);
            for (let r = 0; r < ref.scores.length; r++) expect(sc[u * n + r]).toBe(ref.scores[r]);
            for (let r = ref.scores.length; r < n; r++) expect(sc[u * n + r]).toBeNaN();
          }
        }
      });
    }
    it(`k=${k}: Gaussian factors, scores within 1e-5 of the best rank by rank and no rated item`, () => {
      const pr = problem(7 * k, k, 1001, 70, { bias: true });
      const n = 64;
      const { idx, sc } = run(pr, n, allUsers(pr), true);
      let identical = 0;
      for (let u = 0; u < pr.nUsers; u++) {
        const ref = reference(pr, u, n, true);
        const rated = new Set(pr.indices.subarray(pr.indptr[u]!, pr.indptr[u + 1]!));
        const tol = 1e-5 * Math.max(1, Math.abs(ref.scores[0] ?? 0));
        const got = idx.subarray(u * n, u * n + ref.indices.length);
        for (let r = 0; r < ref.indices.length; r++) {
          expect(rated.has(got[r]!)).toBe(false);
          expect(Math.abs(sc[u * n + r]! - ref.scores[r]!)).toBeLessThanOrEqual(tol);
        }
        if (ref.indices.length < n) expect(idx[u * n + ref.indices.length]).toBe(-1);
        if (got.every((i, r) => i === ref.indices[r])) identical++;
      }
      // Reordering needs two scores within float32 rounding of each other: rare.
      expect(identical).toBeGreaterThanOrEqual(pr.nUsers - 2);
    });
  }

  it('k ∈ {3, 65}, n ∈ {65, 128}: lists longer than most users have unrated items (padding with -1 and NaN)', () => {
    for (const k of [3, 65]) {
      const pr = problem(5 + k, k, 130, 20, { grid: true, duplicates: true });
      for (const n of [65, 128]) {
        const { idx, sc } = run(pr, n, allUsers(pr), true);
        for (let u = 0; u < pr.nUsers; u++) {
          const ref = reference(pr, u, n, true);
          const got = Array.from(idx.subarray(u * n, (u + 1) * n));
          expect(got).toEqual([...ref.indices, ...new Array<number>(n - ref.indices.length).fill(-1)]);
          expect(Number.isNaN(sc[(u + 1) * n - 1]!)).toBe(ref.indices.length < n);
        }
      }
    }
  });

  it('without the rated lists every item competes; a shorter listLength and any user order give the same lists', () => {
    const pr = problem(3, 16, 257, 30, { grid: true, bias: true });
    const users = Int32Array.from([29, 0, 5, 5, 17, 3, 28, 1, 2, 9, 11]);
    const { idx } = run(pr, 40, users, false, 12);
    users.forEach((u, t) =>
      expect(Array.from(idx.subarray(t * 12, (t + 1) * 12))).toEqual(Array.from(reference(pr, u, 12, false).indices)),
    );
  });

  it('a zero user vector ranks by bias alone; a NaN user vector selects nothing', () => {
    const pr = problem(4, 8, 100, 3, { grid: true, bias: true });
    pr.p.fill(0, 0, 8);
    pr.p[8 + 3] = NaN;
    const { idx } = run(pr, 5, Int32Array.from([0, 1]), true);
    expect(Array.from(idx.subarray(0, 5))).toEqual(Array.from(reference(pr, 0, 5, true).indices));
    expect(Array.from(idx.subarray(5, 10))).toEqual([-1, -1, -1, -1, -1]);
  });

  it('refuses a list longer than it was built for, and outputs too short', () => {
    const pr = problem(5, 4, 20, 2);
    const kernel = createBlockTopN(pr.q, null, 4, 20, 5)!;
    expect(() => kernel.topN(pr.p, [0], null, new Int32Array(6), new Float32Array(6), 6)).toThrow(/listLength must be in 1..5/);
    expect(() => kernel.topN(pr.p, [0, 1], null, new Int32Array(6), new Float32Array(6))).toThrow(/need 10 entries/);
  });

  it('an item factor that is not finite leaves the kernel unbuilt (callers keep the plain path)', () => {
    const pr = problem(6, 4, 20, 2);
    pr.q[5] = Infinity;
    expect(createBlockTopN(pr.q, null, 4, 20, 5)).toBeNull();
  });
});

describe('RIDGEREC_KERNELS=js', () => {
  it('leaves the blocked kernel unbuilt', () => {
    const pr = problem(8, 4, 20, 2);
    process.env.RIDGEREC_KERNELS = 'js';
    expect(createBlockTopN(pr.q, null, 4, 20, 5)).toBeNull();
  });
});
