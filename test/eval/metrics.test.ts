import { describe, expect, it } from 'vitest';
import { evaluateModel, metricsToJson } from '../../src/eval/metrics.js';
import type { TestSet } from '../../src/eval/split.js';
import { matrixFromCoo, type RatingMatrix } from '../../src/ratings/matrix.js';
import { DEFAULT_PARAMS } from '../../src/training/params.js';
import type { FactorModel, Feedback } from '../../src/training/params.js';

const ITEMS = ['i0', 'i1', 'i2', 'i3', 'i4'];

function trainMatrix(users: string[], pairs: [number, number, number][]): RatingMatrix {
  return matrixFromCoo(
    Int32Array.from(pairs.map((p) => p[0])),
    Int32Array.from(pairs.map((p) => p[1])),
    Float32Array.from(pairs.map((p) => p[2])),
    users,
    ITEMS,
  );
}

function model(feedback: Feedback, users: string[], P: number[], Q: number[], extra: Partial<FactorModel> = {}): FactorModel {
  return {
    params: { ...DEFAULT_PARAMS[feedback], factors: 1 },
    factors: 1,
    nUsers: users.length,
    nItems: ITEMS.length,
    userIds: users,
    itemIds: ITEMS,
    userFactors: Float32Array.from(P),
    itemFactors: Float32Array.from(Q),
    userBias: null,
    itemBias: null,
    globalMean: 0,
    ...extra,
  };
}

function testSet(pairs: [number, number, number][]): TestSet {
  return {
    users: Int32Array.from(pairs.map((p) => p[0])),
    items: Int32Array.from(pairs.map((p) => p[1])),
    values: Float32Array.from(pairs.map((p) => p[2])),
    userIds: pairs.map((p) => (p[0] < 0 ? 'new-user' : `u${p[0]}`)),
    itemIds: pairs.map((p) => (p[1] < 0 ? 'new-item' : `i${p[1]}`)),
  };
}

const L3 = Math.log2(3);

describe('evaluateModel: ranking metrics, implicit, worked by hand', () => {
  // k = 1 factor. Item factors q = [5, 4, 3, 2, 1] (items i0..i4).
  //   u0: x = +1 → scores [5, 4, 3, 2, 1]; trained on i0.
  //   u1: x = −1 → scores [−5, −4, −3, −2, −1]; trained on i4.
  //   u2: x =  0 → all scores 0; trained on i1.
  // Test pairs: u0 → i2, i4; u1 → i3, i4 (i4 is a training item of u1: not relevant), new-item;
  //   u2 → new-item only (no relevant item: u2 is left out); new-user → i0 (unknown user: left out).
  // K = 3.
  //   u0: candidates exclude i0 → top3 = [i1, i2, i3]; relevant {i2, i4}; hit at rank 2.
  //       precision 1/3, recall 1/2, dcg = 1/log2(3), idcg = 1 + 1/log2(3) (min(3,2) = 2 ranks),
  //       ndcg = (1/log2 3)/(1 + 1/log2 3) ≈ 0.386853, AP = (1/2) / min(3,2) = 0.25.
  //   u1: candidates exclude i4 → top3 = [i3, i2, i1]; relevant {i3}; hit at rank 1.
  //       precision 1/3, recall 1, ndcg 1, AP = (1/1) / min(3,1) = 1.
  //   Averages over 2 users: precision 1/3, recall 0.75, ndcg ≈ 0.693426, map 0.625.
  //   coverage: distinct recommended {i1, i2, i3} = 3 of 5 items = 0.6.
  const users = ['u0', 'u1', 'u2'];
  const train = trainMatrix(users, [
    [0, 0, 1],
    [1, 4, 1],
    [2, 1, 1],
  ]);
  const m = model('implicit', users, [1, -1, 0], [5, 4, 3, 2, 1]);
  const test = testSet([
    [0, 2, 1],
    [0, 4, 1],
    [1, 3, 1],
    [1, 4, 1],
    [1, -1, 1],
    [2, -1, 1],
    [-1, 0, 1],
  ]);

  it('computes precision/recall/ndcg/map/coverage@3', () => {
    const r = evaluateModel(m, train, test, { at: 3 });
    expect(r.at).toBe(3);
    expect(r.rmse).toBeUndefined();
    expect(r.mae).toBeUndefined();
    expect(r.testUsers).toBe(2);
    expect(r.precision).toBeCloseTo(1 / 3, 10);
    expect(r.recall).toBeCloseTo(0.75, 10);
    expect(r.ndcg).toBeCloseTo((1 / L3 / (1 + 1 / L3) + 1) / 2, 10);
    expect(r.ndcg).toBeCloseTo(0.693426, 6);
    expect(r.map).toBeCloseTo(0.625, 10);
    expect(r.coverage).toBeCloseTo(0.6, 10);
  });

  it('metricsToJson has no rmse/mae for implicit and suffixes the keys with k', () => {
    const json = metricsToJson(evaluateModel(m, train, test, { at: 3 }));
    expect(Object.keys(json)).toEqual(['precision@3', 'recall@3', 'ndcg@3', 'map@3', 'coverage@3']);
  });

  it('K larger than the candidates still divides precision by K', () => {
    // K = 10: u0 gets all 4 candidates [i1, i2, i3, i4]: hits i2 (rank 2), i4 (rank 4).
    //   precision 2/10, recall 1, dcg = 1/log2 3 + 1/log2 5, idcg = 1 + 1/log2 3,
    //   AP = (1/2 + 2/4) / min(10, 2) = 0.5.
    // u1 gets [i3, i2, i1, i0]: hit i3 at rank 1: precision 1/10, recall 1, ndcg 1, AP 1.
    const r = evaluateModel(m, train, test, { at: 10 });
    expect(r.precision).toBeCloseTo(0.15, 10);
    expect(r.recall).toBeCloseTo(1, 10);
    expect(r.ndcg).toBeCloseTo(((1 / L3 + 1 / Math.log2(5)) / (1 + 1 / L3) + 1) / 2, 10);
    expect(r.map).toBeCloseTo(0.75, 10);
    expect(r.coverage).toBeCloseTo(1, 10);
  });

  it('ranking metrics are NaN (JSON null) when no test user can be evaluated', () => {
    const r = evaluateModel(
      m,
      train,
      testSet([
        [2, -1, 1],
        [-1, 0, 1],
      ]),
      { at: 3 },
    );
    expect(r.testUsers).toBe(0);
    expect(r.precision).toBeNaN();
    expect(JSON.parse(JSON.stringify(metricsToJson(r)))['ndcg@3']).toBeNull();
  });
});

describe('evaluateModel: explicit RMSE/MAE and ranking, worked by hand', () => {
  // μ = 3, b_u = [0.5, −1], b_i = [0, 0.5, −0.5, 1, 0], p = [1, −1], q = [0.5, 0, 1, 0.2, 2].
  // Training values are 1 (u0, i0) and 5 (u1, i4): predictions are clipped to [1, 5].
  //   (u0, i2, 4): 3 + 0.5 − 0.5 + 1·1        = 4            err 0
  //   (u0, i4, 3): 3 + 0.5 + 0 + 1·2          = 5.5 → 5      err 2
  //   (u1, i3, 2): 3 − 1 + 1 + (−1)(0.2)      = 2.8          err 0.8
  //   (new, i1, 5): 3 + 0.5 (item bias only)  = 3.5          err −1.5
  //   (u1, new, 1): 3 − 1 (user bias only)    = 2            err 1
  //   (new, new, 3): μ                         = 3            err 0
  //   (u1, i2, 1): 3 − 1 − 0.5 + (−1)(1)      = 0.5 → 1      err 0
  // Σ err² = 4 + 0.64 + 2.25 + 1 = 7.89 over 7 pairs → RMSE = sqrt(7.89/7) ≈ 1.061670
  // Σ |err| = 2 + 0.8 + 1.5 + 1 = 5.3 → MAE = 5.3/7 ≈ 0.757143
  // Ranking scores b_i + p_u·q_i, K = 2:
  //   u0: [0.5, 0.5, 0.5, 1.2, 2], i0 excluded → top2 [i4, i3]; relevant {i2, i4}: hit at rank 1.
  //   u1: [−0.5, 0.5, −1.5, 0.8, −2], i4 excluded → top2 [i3, i1]; relevant {i3, i2}: hit at rank 1.
  //   each: precision 1/2, recall 1/2, ndcg 1/(1 + 1/log2 3) ≈ 0.613147, AP = 1/min(2,2) = 0.5.
  //   coverage {i4, i3, i1} = 3/5.
  const users = ['u0', 'u1'];
  const train = trainMatrix(users, [
    [0, 0, 1],
    [1, 4, 5],
  ]);
  const m = model('explicit', users, [1, -1], [0.5, 0, 1, 0.2, 2], {
    globalMean: 3,
    userBias: Float32Array.from([0.5, -1]),
    itemBias: Float32Array.from([0, 0.5, -0.5, 1, 0]),
  });
  const test = testSet([
    [0, 2, 4],
    [0, 4, 3],
    [1, 3, 2],
    [-1, 1, 5],
    [1, -1, 1],
    [-1, -1, 3],
    [1, 2, 1],
  ]);

  it('computes clipped RMSE/MAE with means and biases for unseen ids, and ranking with item biases', () => {
    const r = evaluateModel(m, train, test, { at: 2 });
    expect(r.rmse).toBeCloseTo(Math.sqrt(7.89 / 7), 5);
    expect(r.mae).toBeCloseTo(5.3 / 7, 5);
    expect(r.testUsers).toBe(2);
    expect(r.precision).toBeCloseTo(0.5, 10);
    expect(r.recall).toBeCloseTo(0.5, 10);
    expect(r.ndcg).toBeCloseTo(1 / (1 + 1 / L3), 10);
    expect(r.map).toBeCloseTo(0.5, 10);
    expect(r.coverage).toBeCloseTo(0.6, 10);
    expect(metricsToJson(r)).toEqual({
      rmse: r.rmse,
      mae: r.mae,
      'precision@2': r.precision,
      'recall@2': r.recall,
      'ndcg@2': r.ndcg,
      'map@2': r.map,
      'coverage@2': r.coverage,
    });
  });

  it('defaults to K = 10', () => {
    expect(evaluateModel(m, train, test).at).toBe(10);
  });

  it('rejects an empty test set, a bad k, and a model fitted on another matrix', () => {
    expect(() => evaluateModel(m, train, testSet([]))).toThrow(/test set is empty/);
    expect(() => evaluateModel(m, train, test, { at: 0 })).toThrow(/at must be an integer >= 1/);
    const other = trainMatrix(['u0'], [[0, 0, 1]]);
    expect(() => evaluateModel(m, other, test)).toThrow(/not fitted on this train matrix/);
  });
});
