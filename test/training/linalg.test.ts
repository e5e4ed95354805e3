import { Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import {
  axpyRow,
  choleskySolve,
  dot,
  dotRow,
  gatherAxpy,
  gatherDot,
  gatherSyrk,
  GRAM_CHUNK,
  gram,
  SYRK_BLOCK,
  rank1Lower,
  symMatVec,
  symmetrizeFromLower,
} from '../../src/training/linalg.js';
import { maxAbsDiff, mulberry32, randomStore, referenceSolve, toMatrix } from './helpers.js';

describe('linalg kernels against obvious loops', () => {
  const rand = mulberry32(7);
  // Lengths around the 4-way unroll (remainders 0..3) and a typical k.
  for (const d of [1, 3, 4, 5, 7, 64, 65]) {
    it(`dot/dotRow/axpyRow agree with a plain loop (d=${d})`, () => {
      const f = randomStore(rand, 3, d);
      const x = Float64Array.from(randomStore(rand, 1, d));
      const y = Float64Array.from(randomStore(rand, 1, d));
      let plain = 0;
      for (let t = 0; t < d; t++) plain += f[d + t]! * x[t]!;
      expect(dotRow(f, d, x, d)).toBeCloseTo(plain, 10);
      let plain2 = 0;
      for (let t = 0; t < d; t++) plain2 += x[t]! * y[t]!;
      expect(dot(x, y, d)).toBeCloseTo(plain2, 10);
      const want = Array.from(y, (v, t) => v + 0.5 * f[2 * d + t]!);
      axpyRow(0.5, f, 2 * d, y, d);
      expect(maxAbsDiff(y, want)).toBeLessThan(1e-12);
    });

    it(`gram, rank1Lower and symMatVec match ml-matrix (d=${d})`, () => {
      const n = 9;
      const f = randomStore(rand, n, d);
      const G = new Float64Array(d * d);
      gram(f, n, d, G);
      const F = toMatrix(f, n, d);
      const ref = F.transpose().mmul(F);
      expect(maxAbsDiff(G, ref.to1DArray())).toBeLessThan(1e-9);
      const x = Float64Array.from(randomStore(rand, 1, d));
      const y = new Float64Array(d);
      symMatVec(G, d, x, y);
      expect(maxAbsDiff(y, ref.mmul(Matrix.columnVector(Array.from(x))).getColumn(0))).toBeLessThan(1e-9);
      const A = new Float64Array(d * d);
      rank1Lower(A, d, 2.5, f, 3 * d);
      symmetrizeFromLower(A, d);
      const row = F.getRowVector(3);
      expect(maxAbsDiff(A, row.transpose().mmul(row).mul(2.5).to1DArray())).toBeLessThan(1e-9);
    });
  }

  // Row counts around the 4-row blocking and the SYRK_BLOCK gathering; d around the 2-way unroll.
  for (const [n, d] of [
    [1, 1],
    [3, 4],
    [4, 5],
    [7, 64],
    [9, 65],
    [SYRK_BLOCK + 5, 7],
  ] as const) {
    it(`gatherDot, gatherAxpy and gatherSyrk match ml-matrix on gathered rows (n=${n}, d=${d})`, () => {
      const nRows = 20;
      const f = randomStore(rand, nRows, d);
      const idx = Int32Array.from({ length: n + 3 }, () => Math.floor(rand() * nRows));
      const e0 = 2; // a row in the middle of an index array
      const e1 = e0 + n;
      const F = toMatrix(f, nRows, d);
      const rows = new Matrix(Array.from(idx.subarray(e0, e1), (i) => F.getRow(i)));
      const x = Float64Array.from(randomStore(rand, 1, d));
      const out = new Float64Array(n);
      gatherDot(f, idx, e0, e1, x, d, out);
      expect(maxAbsDiff(out, rows.mmul(Matrix.columnVector(Array.from(x))).getColumn(0))).toBeLessThan(1e-9);
      const w = Float64Array.from(randomStore(rand, 1, n));
      const y = Float64Array.from(randomStore(rand, 1, d));
      const wantY = rows
        .transpose()
        .mmul(Matrix.columnVector(Array.from(w)))
        .getColumn(0)
        .map((v, t) => v + y[t]!);
      gatherAxpy(f, idx, e0, e1, w, y, d);
      expect(maxAbsDiff(y, wantY)).toBeLessThan(1e-9);
      const A = new Float64Array(d * d).fill(0.5); // accumulates onto what is there
      gatherSyrk(f, idx, e0, e1, w, A, d, new Float64Array(2 * d * SYRK_BLOCK));
      symmetrizeFromLower(A, d);
      const wantA = rows
        .transpose()
        .mmul(Matrix.diag(Array.from(w)))
        .mmul(rows)
        .add(0.5);
      expect(maxAbsDiff(A, wantA.to1DArray())).toBeLessThan(1e-9);
    });
  }

  it('gram sums more than one chunk of rows', () => {
    const n = GRAM_CHUNK + 300;
    const d = 3;
    const f = randomStore(rand, n, d);
    const G = new Float64Array(d * d);
    gram(f, n, d, G);
    const F = toMatrix(f, n, d);
    expect(maxAbsDiff(G, F.transpose().mmul(F).to1DArray())).toBeLessThan(1e-8);
  });

  it('choleskySolve matches ml-matrix on random SPD systems', () => {
    for (const d of [1, 2, 5, 16, 65]) {
      const f = randomStore(rand, d + 3, d);
      const A = new Float64Array(d * d);
      gram(f, d + 3, d, A);
      for (let a = 0; a < d; a++) A[a * d + a] = A[a * d + a]! + 0.1;
      const Aref = new Matrix(Array.from({ length: d }, (_, r) => Array.from(A.subarray(r * d, (r + 1) * d))));
      const b = Float64Array.from(randomStore(rand, 1, d));
      const want = referenceSolve(Aref, Array.from(b));
      expect(choleskySolve(A, d, b)).toBe(true);
      expect(maxAbsDiff(b, want)).toBeLessThan(1e-8);
    }
  });

  it('choleskySolve reports a matrix that is not positive definite', () => {
    const A = Float64Array.of(1, 2, 2, 1); // eigenvalues 3 and −1
    expect(choleskySolve(A, 2, Float64Array.of(1, 1))).toBe(false);
    const Z = new Float64Array(4); // singular: a zero pivot
    expect(choleskySolve(Z, 2, Float64Array.of(1, 1))).toBe(false);
    const N = Float64Array.of(Number.NaN, 0, 0, 1);
    expect(choleskySolve(N, 2, Float64Array.of(1, 1))).toBe(false);
  });
});
