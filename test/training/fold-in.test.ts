import { Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { ModelFitError } from '../../src/errors.js';
import { fitFactors } from '../../src/training/fit.js';
import { createFoldIn } from '../../src/training/fold-in.js';
import { resolveParams, type TrainParams } from '../../src/training/params.js';
import { predict } from '../../src/training/predict.js';
import { denseIdMatrix, maxAbsDiff, mulberry32, referenceSolve, toMatrix } from './helpers.js';

function trainSet(seed: number, nUsers: number, nItems: number, implicit: boolean) {
  const rand = mulberry32(seed);
  const t: [number, number, number][] = [];
  for (let u = 0; u < nUsers; u++) {
    for (let i = 0; i < nItems; i++) {
      if (rand() < 0.3) t.push([u, i, implicit ? 1 + Math.floor(rand() * 10) : 1 + Math.floor(rand() * 5)]);
    }
  }
  return t;
}

/** The user row a training half-sweep computes against fixed item factors, the slow obvious way. */
function referenceRow(
  p: TrainParams,
  Q: Float32Array,
  bi: Float32Array | null,
  mu: number,
  nItems: number,
  items: number[],
  values: number[],
) {
  const k = p.factors;
  const explicit = p.feedback === 'explicit';
  const d = explicit ? k + 1 : k;
  const F = Matrix.zeros(nItems, d);
  const Y = toMatrix(Q, nItems, k);
  for (let i = 0; i < nItems; i++) {
    for (let t = 0; t < k; t++) F.set(i, t, Y.get(i, t));
    if (explicit) F.set(i, k, 1);
  }
  const lam = p.lambdaScaling === 'count' ? p.lambda * items.length : p.lambda;
  let A = explicit ? Matrix.zeros(d, d) : F.transpose().mmul(F);
  A = A.add(Matrix.eye(d, d).mul(lam));
  const b = Matrix.zeros(d, 1);
  items.forEach((i, e) => {
    const f = F.getRowVector(i);
    const v = values[e]!;
    A = A.add(
      f
        .transpose()
        .mmul(f)
        .mul(explicit ? 1 : p.alpha * v),
    );
    b.add(f.transpose().mul(explicit ? v - mu - bi![i]! : 1 + p.alpha * v));
  });
  return referenceSolve(A, b.getColumn(0));
}

describe('createFoldIn', () => {
  for (const feedback of ['explicit', 'implicit'] as const) {
    it(`solves a new user's row exactly as a training half-sweep would (${feedback})`, async () => {
      const nUsers = 25;
      const nItems = 15;
      const t = trainSet(feedback === 'explicit' ? 1 : 2, nUsers, nItems, feedback === 'implicit');
      const m = denseIdMatrix(nUsers, nItems, t);
      const p = resolveParams({ feedback, factors: 4, lambda: 0.2, alpha: 0.5, iterations: 100, solver: 'cholesky', threads: 1 });
      const model = await fitFactors(m, p);
      const foldIn = createFoldIn(model);
      // 1. Against the ml-matrix reference for an ad-hoc new user.
      const items = [0, 3, 7, 11];
      const values = feedback === 'explicit' ? [5, 1, 4, 2] : [3, 1, 8, 2];
      const got = foldIn(Int32Array.from(items), Float32Array.from(values));
      const want = referenceRow(p, model.itemFactors, model.itemBias, model.globalMean, nItems, items, values);
      expect(got.factors).toHaveLength(4);
      expect(maxAbsDiff(got.factors, want.slice(0, 4))).toBeLessThan(1e-5);
      expect(got.bias).toBeCloseTo(feedback === 'explicit' ? want[4]! : 0, 5);
      // 2. For a training user of a converged model it rebuilds the trained row.
      const u = 4;
      const e0 = m.byUser.indptr[u]!;
      const e1 = m.byUser.indptr[u + 1]!;
      const again = foldIn(m.byUser.indices.slice(e0, e1), m.byUser.values.slice(e0, e1));
      expect(maxAbsDiff(again.factors, model.userFactors.subarray(u * 4, u * 4 + 4))).toBeLessThan(2e-3);
      if (feedback === 'explicit') expect(again.bias).toBeCloseTo(model.userBias![u]!, 2);
    });
  }

  it('returns zeros for no ratings and rejects out-of-range items', async () => {
    const m = denseIdMatrix(3, 3, [
      [0, 0, 5],
      [1, 1, 3],
      [2, 2, 4],
      [0, 1, 2],
    ]);
    const model = await fitFactors(m, resolveParams({ feedback: 'explicit', factors: 2, iterations: 2, threads: 1 }));
    const foldIn = createFoldIn(model);
    expect(foldIn(new Int32Array(0), new Float32Array(0))).toEqual({ factors: new Float32Array(2), bias: 0 });
    expect(() => foldIn(Int32Array.of(3), Float32Array.of(1))).toThrow(/item index 3 is outside 0\.\.2/);
    expect(() => foldIn(Int32Array.of(1), Float32Array.of(Number.NaN))).toThrow(/not a finite number/);
  });

  it('fails loudly, naming λ, when the model has λ = 0 and the system is singular', async () => {
    const m = denseIdMatrix(3, 3, [
      [0, 0, 5],
      [1, 1, 3],
      [2, 2, 4],
      [0, 1, 2],
      [1, 0, 1],
      [2, 1, 3],
      [0, 2, 1],
    ]);
    const model = await fitFactors(m, resolveParams({ feedback: 'explicit', factors: 2, lambda: 0.1, iterations: 2, threads: 1 }));
    const zeroLambda = { ...model, params: { ...model.params, lambda: 0 } };
    expect(() => createFoldIn(zeroLambda)(Int32Array.of(1), Float32Array.of(4))).toThrow(ModelFitError);
    expect(() => createFoldIn(zeroLambda)(Int32Array.of(1), Float32Array.of(4))).toThrow(/λ = 0/);
    expect(predict(model, 0, 0)).toBeTypeOf('number');
  });
});
