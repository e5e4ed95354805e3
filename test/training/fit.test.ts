import { InvalidInput } from '../../src/errors.js';
import { describe, expect, it } from 'vitest';
import { isRidgerecError, ModelFitError } from '../../src/errors.js';
import type { RatingMatrix } from '../../src/ratings/matrix.js';
import { fitFactors } from '../../src/training/fit.js';
import { type IterationStats, resolveParams, type TrainParams } from '../../src/training/params.js';
import { predict } from '../../src/training/predict.js';
import { denseIdMatrix, mulberry32 } from './helpers.js';

function params(p: Partial<TrainParams> & { feedback: TrainParams['feedback'] }): TrainParams {
  return resolveParams({ threads: 1, ...p });
}

/** A random sparse matrix: each (u, i) kept with probability `density`, values 1..5. */
function randomMatrix(seed: number, nUsers: number, nItems: number, density: number): RatingMatrix {
  const rand = mulberry32(seed);
  const t: [number, number, number][] = [];
  for (let u = 0; u < nUsers; u++) {
    for (let i = 0; i < nItems; i++) if (rand() < density) t.push([u, i, 1 + Math.floor(rand() * 5)]);
  }
  return denseIdMatrix(nUsers, nItems, t);
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

describe('fit: known answers', () => {
  it('rebuilds a rank-2 matrix (plus biases) from its factors: explicit, small λ, training RMSE tiny', async () => {
    const rand = mulberry32(1);
    const nU = 30;
    const nI = 25;
    const U = Array.from({ length: nU }, () => [rand() * 2 - 1, rand() * 2 - 1]);
    const V = Array.from({ length: nI }, () => [rand() * 2 - 1, rand() * 2 - 1]);
    const t: [number, number, number][] = [];
    for (let u = 0; u < nU; u++) {
      for (let i = 0; i < nI; i++) t.push([u, i, 3 + U[u]![0]! * V[i]![0]! + U[u]![1]! * V[i]![1]! + 0.1 * (u % 3) - 0.1 * (i % 4)]);
    }
    const m = denseIdMatrix(nU, nI, t);
    const model = await fitFactors(m, params({ feedback: 'explicit', factors: 2, lambda: 1e-6, iterations: 60, solver: 'cholesky' }));
    let se = 0;
    for (const [u, i, r] of t) se += (predict(model, u, i) - r) ** 2;
    const rmse = Math.sqrt(se / t.length);
    expect(rmse).toBeLessThan(1e-3);
    expect(model.globalMean).toBeCloseTo(t.reduce((s, x) => s + x[2], 0) / t.length, 5);
  });

  for (const solver of ['cholesky', 'cg'] as const) {
    it(`ranks each user's withheld in-block item first on a block-structured implicit matrix (${solver})`, async () => {
      // Two blocks: users 0..9 use items 0..9, users 10..19 use items 10..19; user u withholds item u.
      const t: [number, number, number][] = [];
      for (let u = 0; u < 20; u++) {
        const block = u < 10 ? 0 : 10;
        for (let i = block; i < block + 10; i++) if (i !== u) t.push([u, i, 1]);
      }
      const m = denseIdMatrix(20, 20, t);
      // CG takes 3 warm-started steps per half-sweep from a tiny initialisation: on this small,
      // very symmetric problem it needs more sweeps than cholesky to separate the blocks.
      const iterations = solver === 'cg' ? 40 : 15;
      const model = await fitFactors(m, params({ feedback: 'implicit', factors: 4, lambda: 0.1, alpha: 2, iterations, solver }));
      for (let u = 0; u < 20; u++) {
        let best = -1;
        let bestScore = -Infinity;
        for (let i = 0; i < 20; i++) {
          const seen = t.some(([uu, ii]) => uu === u && ii === i);
          const s = predict(model, u, i);
          if (!seen && s > bestScore) [best, bestScore] = [i, s];
        }
        expect(best).toBe(u);
      }
    });
  }
});

describe('fit: the objective', () => {
  for (const feedback of ['explicit', 'implicit'] as const) {
    it(`decreases every iteration with cholesky (${feedback}), and loss = dataLoss + penalty`, async () => {
      const m = randomMatrix(5, 40, 30, 0.2);
      const seen: IterationStats[] = [];
      const model = await fitFactors(m, params({ feedback, factors: 5, lambda: 0.1, alpha: 1, iterations: 12, solver: 'cholesky' }), {
        onIteration: (s) => seen.push(s),
      });
      expect(seen).toEqual(model.history);
      expect(model.history.map((h) => h.iteration)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      for (const h of model.history) {
        expect(h.loss).toBeCloseTo(h.dataLoss + h.penalty, 9);
        expect(h.penalty).toBeGreaterThan(0);
        expect(h.seconds).toBeGreaterThanOrEqual(0);
      }
      for (let it = 1; it < model.history.length; it++) {
        expect(model.history[it]!.loss).toBeLessThanOrEqual(model.history[it - 1]!.loss * (1 + 1e-7));
      }
      expect(model.history.at(-1)!.loss).toBeLessThan(model.history[0]!.loss);
    });
  }

  it('reports the explicit data loss as the training squared error of the returned model', async () => {
    const m = randomMatrix(6, 20, 15, 0.3);
    const model = await fitFactors(m, params({ feedback: 'explicit', factors: 3, lambda: 0.1, iterations: 4 }));
    let se = 0;
    for (let u = 0; u < m.nUsers; u++) {
      for (let e = m.byUser.indptr[u]!; e < m.byUser.indptr[u + 1]!; e++) {
        se += (m.byUser.values[e]! - predict(model, u, m.byUser.indices[e]!)) ** 2;
      }
    }
    expect(model.history.at(-1)!.dataLoss).toBeCloseTo(se, 3);
  });

  it('cg reaches about the cholesky objective', async () => {
    const m = randomMatrix(8, 40, 30, 0.2);
    for (const feedback of ['explicit', 'implicit'] as const) {
      const base = { feedback, factors: 5, lambda: 0.1, alpha: 1, iterations: 15 } as const;
      const chol = await fitFactors(m, params({ ...base, solver: 'cholesky' }));
      const cg = await fitFactors(m, params({ ...base, solver: 'cg', cgSteps: 3 }));
      expect(cg.history.at(-1)!.loss).toBeLessThan(chol.history.at(-1)!.loss * 1.02);
    }
  });
});

describe('fit: λ → large', () => {
  it('explicit, weighted λ: factors collapse to 0 first (predictions = μ + b_u + b_i), then the biases shrink toward 0 too', async () => {
    const m = randomMatrix(9, 30, 20, 0.4);
    const small = await fitFactors(m, params({ feedback: 'explicit', factors: 4, lambda: 0.05, iterations: 8 }));
    const mid = await fitFactors(m, params({ feedback: 'explicit', factors: 4, lambda: 5, iterations: 8 }));
    const huge = await fitFactors(m, params({ feedback: 'explicit', factors: 4, lambda: 1e6, iterations: 8 }));
    // λ = 5: p·q is second order in the factors, so the zero factors win while the biases,
    // being linear, are only shrunk (by about 1/(1+λ)) but not removed.
    expect(maxAbs(mid.userFactors)).toBeLessThan(1e-6);
    expect(maxAbs(mid.itemFactors)).toBeLessThan(1e-6);
    expect(maxAbs(mid.userBias!)).toBeGreaterThan(0.01);
    expect(maxAbs(mid.userBias!)).toBeLessThan(maxAbs(small.userBias!));
    expect(predict(mid, 3, 4)).toBeCloseTo(mid.globalMean + mid.userBias![3]! + mid.itemBias![4]!, 6);
    // λ = 1e6: every penalised term ~0, predictions → μ (which is not penalised).
    expect(maxAbs(huge.userFactors)).toBeLessThan(1e-6);
    expect(maxAbs(huge.userBias!)).toBeLessThan(1e-4);
    expect(maxAbs(huge.itemBias!)).toBeLessThan(1e-4);
    expect(Math.abs(predict(huge, 1, 2) - huge.globalMean)).toBeLessThan(1e-3);
    expect(huge.history.at(-1)!.penalty).toBeLessThan(1e-2);
  });

  it('implicit: factors and scores → 0', async () => {
    const m = randomMatrix(10, 30, 20, 0.3);
    const model = await fitFactors(m, params({ feedback: 'implicit', factors: 4, lambda: 1e6, alpha: 1, iterations: 5 }));
    expect(maxAbs(model.userFactors)).toBeLessThan(1e-5);
    expect(maxAbs(model.itemFactors)).toBeLessThan(1e-5);
    expect(model.userBias).toBeNull();
  });
});

describe('fit: threads and seeds', () => {
  it('1 and 2 threads agree (to 1e-5 relative loss; in fact the same factors); the same seed gives identical factors', async () => {
    const m = randomMatrix(11, 300, 120, 0.08);
    for (const feedback of ['explicit', 'implicit'] as const) {
      for (const solver of ['cholesky', 'cg'] as const) {
        const base = { feedback, factors: 8, lambda: 0.1, alpha: 1, iterations: 4, solver, seed: 42 } as const;
        const one = await fitFactors(m, params({ ...base, threads: 1 }));
        const two = await fitFactors(m, params({ ...base, threads: 2 }));
        const again = await fitFactors(m, params({ ...base, threads: 1 }));
        for (let it = 0; it < 4; it++) {
          const a = one.history[it]!.loss;
          expect(Math.abs(two.history[it]!.loss - a) / a).toBeLessThan(1e-5);
        }
        expect(two.userFactors).toEqual(one.userFactors);
        expect(two.itemFactors).toEqual(one.itemFactors);
        expect(again.userFactors).toEqual(one.userFactors);
        expect(again.itemBias).toEqual(one.itemBias);
        const other = await fitFactors(m, params({ ...base, seed: 43 }));
        expect(other.itemFactors).not.toEqual(one.itemFactors);
      }
    }
  });
});

describe('fit: offThread', () => {
  it('solves on one worker with threads 1: the same factors as on the calling thread, which stays free meanwhile', async () => {
    const m = randomMatrix(12, 400, 150, 0.1);
    for (const feedback of ['explicit', 'implicit'] as const) {
      const p = params({ feedback, factors: 8, lambda: 0.1, alpha: 1, iterations: 6, seed: 5 });
      const inline = await fitFactors(m, p);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const off = await fitFactors(m, p, { offThread: true }).finally(() => clearInterval(timer));
      expect(off.userFactors).toEqual(inline.userFactors);
      expect(off.itemFactors).toEqual(inline.itemFactors);
      // Between the sweeps this thread ran timers: it was not held for the whole fit.
      expect(ticks).toBeGreaterThan(0);
    }
  });
});

describe('fit: rows without ratings and bad input', () => {
  it('gives users/items with no ratings zero factors and zero bias, even with count scaling', async () => {
    // u3 and i4 exist (e.g. after a holdout split) but have no training ratings.
    const m = denseIdMatrix(4, 5, [
      [0, 0, 5],
      [0, 1, 3],
      [1, 1, 4],
      [1, 2, 2],
      [2, 0, 1],
      [2, 3, 4],
      [1, 3, 5],
    ]);
    for (const feedback of ['explicit', 'implicit'] as const) {
      for (const solver of ['cholesky', 'cg'] as const) {
        const model = await fitFactors(m, params({ feedback, factors: 3, lambda: 0.1, lambdaScaling: 'count', iterations: 3, solver }));
        expect(Array.from(model.userFactors.subarray(9, 12))).toEqual([0, 0, 0]);
        expect(Array.from(model.itemFactors.subarray(12, 15))).toEqual([0, 0, 0]);
        if (feedback === 'explicit') {
          expect(model.userBias![3]).toBe(0);
          expect(model.itemBias![4]).toBe(0);
        }
        expect(model.userFactors.every(Number.isFinite)).toBe(true);
        expect(Number.isFinite(model.history.at(-1)!.loss)).toBe(true);
      }
    }
  });

  it('rejects an empty matrix and invalid params with invalidInput', async () => {
    const empty = denseIdMatrix(0, 0, []);
    await expect(fitFactors(empty, params({ feedback: 'explicit' }))).rejects.toBeInstanceOf(InvalidInput);
    const m = randomMatrix(12, 5, 5, 0.5);
    const bad = { ...params({ feedback: 'explicit' }), factors: 0 };
    await expect(fitFactors(m, bad)).rejects.toThrow(/factors must be an integer in 1\.\.1024, got 0/);
  });

  for (const feedback of ['explicit', 'implicit'] as const) {
    it(`NaN input → ModelFitError that says to raise λ (${feedback})`, async () => {
      const m = denseIdMatrix(3, 3, [
        [0, 0, 4],
        [1, 1, Number.NaN],
        [2, 2, 3],
        [0, 2, 1],
      ]);
      const err = await fitFactors(m, params({ feedback, factors: 2, iterations: 2 })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelFitError);
      expect(isRidgerecError(err) && err.code).toBe('model_fit_failed');
      expect((err as Error).message).toMatch(/raise λ \(--lambda\)/);
      expect((err as Error).message).toMatch(/NaN/);
    });
  }

  it('λ = 0 with fewer ratings than factors (a singular system) → ModelFitError naming the row and λ', async () => {
    const m = randomMatrix(13, 10, 10, 0.3);
    const err = await fitFactors(m, params({ feedback: 'explicit', factors: 8, lambda: 0, solver: 'cholesky', iterations: 2 })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelFitError);
    expect((err as Error).message).toMatch(/not positive definite with λ = 0.*raise λ \(--lambda\)/);
  });

  it('absurd α (overflow to Infinity) → ModelFitError mentioning λ and α', async () => {
    const m = randomMatrix(14, 10, 10, 0.3);
    const err = await fitFactors(m, params({ feedback: 'implicit', factors: 3, alpha: 1e308, iterations: 2, solver: 'cg' })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelFitError);
    expect((err as Error).message).toMatch(/raise λ.*lower α/);
  });
});
