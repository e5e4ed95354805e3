import { describe, expect, it } from 'vitest';
import { fitAndEvaluate } from '../../src/eval/run.js';
import { alignTestSet } from '../../src/eval/split.js';
import { matrixFromTriples } from '../../src/ratings/matrix.js';
import { resolveParams } from '../../src/training/params.js';
import { mulberry32 } from '../../src/training/random.js';

describe('fitAndEvaluate on fixtures with known answers', () => {
  it('implicit checkerboard with the diagonal withheld: every user gets item u first (all ranking metrics 1)', async () => {
    // 12 users × 12 items; user u interacted with every item of the same parity except item u.
    // The only unseen same-parity item of user u is u itself, so a model that learned the two
    // blocks must put it first: precision@1 = recall@1 = ndcg@1 = map@1 = 1, coverage 12/12.
    const n = 12;
    const train: [string, string, number][] = [];
    const test: [string, string, number][] = [];
    for (let u = 0; u < n; u++) {
      for (let i = 0; i < n; i++) {
        if (i % 2 !== u % 2) continue;
        (i === u ? test : train).push([`u${u}`, `i${i}`, 1]);
      }
    }
    const m = matrixFromTriples(train);
    const t = alignTestSet(m, test);
    const params = resolveParams({ feedback: 'implicit', factors: 4, iterations: 10, threads: 1, lambda: 0.1 });
    const iterations: number[] = [];
    const { metrics, fit, seconds } = await fitAndEvaluate(m, t, params, { at: 1, onIteration: (s) => iterations.push(s.iteration) });
    expect(metrics).toEqual({ at: 1, precision: 1, recall: 1, ndcg: 1, map: 1, coverage: 1, testUsers: n });
    expect(iterations).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(fit.history).toHaveLength(10);
    expect(seconds).toBeGreaterThan(0);
  });

  it('explicit rank-2 matrix: held-out entries are rebuilt far better than the mean predictor', async () => {
    // r_ui = 3 + p_u·q_i with 2-dimensional p, q in [-1, 1]²; 10% of entries held out.
    const rand = mulberry32(5);
    const nU = 40;
    const nI = 30;
    const P = Array.from({ length: nU }, () => [rand() * 2 - 1, rand() * 2 - 1]);
    const Q = Array.from({ length: nI }, () => [rand() * 2 - 1, rand() * 2 - 1]);
    const train: [string, string, number][] = [];
    const test: [string, string, number][] = [];
    for (let u = 0; u < nU; u++) {
      for (let i = 0; i < nI; i++) {
        const r = 3 + P[u]![0]! * Q[i]![0]! + P[u]![1]! * Q[i]![1]!;
        (rand() < 0.1 ? test : train).push([`u${u}`, `i${i}`, r]);
      }
    }
    const m = matrixFromTriples(train);
    const t = alignTestSet(m, test);
    const params = resolveParams({ feedback: 'explicit', factors: 2, iterations: 30, threads: 1, lambda: 0.001 });
    const { metrics } = await fitAndEvaluate(m, t, params);
    const mean = train.reduce((s, x) => s + x[2], 0) / train.length;
    const baseline = Math.sqrt(test.reduce((s, x) => s + (x[2] - mean) ** 2, 0) / test.length);
    expect(metrics.rmse!).toBeLessThan(0.1 * baseline);
  });
});
