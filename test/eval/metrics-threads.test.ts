import { describe, expect, it } from 'vitest';
import { evaluateModel, evaluateModelThreaded, rankedUsers, type EvalMetrics } from '../../src/eval/metrics.js';
import type { TestSet } from '../../src/eval/split.js';
import { matrixFromCoo, type RatingMatrix } from '../../src/ratings/matrix.js';
import { DEFAULT_PARAMS, type FactorModel, type Feedback } from '../../src/training/params.js';
import { mulberry32 } from '../../src/training/random.js';

/**
 * A seeded random problem: nUsers × nItems, ~30 training items per user, a few test pairs per user
 * (some on an unseen item, some repeating a training item, some for an unseen user), random
 * factors rounded to quarters so that many scores tie exactly.
 */
function problem(feedback: Feedback, nUsers: number, nItems: number, k: number, seed: number) {
  const rand = mulberry32(seed);
  const us: number[] = [];
  const is: number[] = [];
  const tu: number[] = [];
  const ti: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    const n = 1 + Math.floor(rand() * 60);
    for (let j = 0; j < n; j++) {
      us.push(u);
      is.push(Math.floor(rand() * nItems));
    }
    // Users 0 and 1 have no test pair; the rest 1..8.
    const m = u < 2 ? 0 : 1 + Math.floor(rand() * 8);
    for (let j = 0; j < m; j++) {
      tu.push(u);
      const r = rand();
      ti.push(r < 0.1 ? -1 : r < 0.2 ? is[is.length - 1]! : Math.floor(rand() * nItems));
    }
  }
  tu.push(-1);
  ti.push(0);
  const ids = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${i}`);
  const train: RatingMatrix = matrixFromCoo(
    Int32Array.from(us),
    Int32Array.from(is),
    Float32Array.from(us, () => 1 + Math.floor(rand() * 5)),
    ids('u', nUsers),
    ids('i', nItems),
  );
  const test: TestSet = {
    users: Int32Array.from(tu),
    items: Int32Array.from(ti),
    values: Float32Array.from(tu, () => 1 + Math.floor(rand() * 5)),
    userIds: tu.map((u) => (u < 0 ? 'new' : `u${u}`)),
    itemIds: ti.map((i) => (i < 0 ? 'new' : `i${i}`)),
  };
  const quarter = (n: number) => Float32Array.from({ length: n }, () => Math.round((rand() * 2 - 1) * 4) / 4);
  const model: FactorModel = {
    params: { ...DEFAULT_PARAMS[feedback], factors: k },
    factors: k,
    nUsers,
    nItems,
    userIds: train.userIds,
    itemIds: train.itemIds,
    userFactors: quarter(nUsers * k),
    itemFactors: quarter(nItems * k),
    userBias: feedback === 'explicit' ? quarter(nUsers) : null,
    itemBias: feedback === 'explicit' ? quarter(nItems) : null,
    globalMean: feedback === 'explicit' ? 3 : 0,
  };
  return { model, train, test };
}

/** Every field equal as Object.is (NaN = NaN, bit-identical floats). */
function expectIdentical(a: EvalMetrics, b: EvalMetrics): void {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const key of Object.keys(a) as (keyof EvalMetrics)[]) expect([key, a[key]]).toStrictEqual([key, b[key]]);
}

describe('evaluateModelThreaded: the ranking pass split over workers', () => {
  // 9,000 items: several tiles of the blocked top-N kernel.
  for (const feedback of ['implicit', 'explicit'] as const) {
    for (const at of [10, 300]) {
      it(`${feedback}, at ${at}: 1, 2 and 3 workers give the single-thread metrics bit for bit`, async () => {
        const { model, train, test } = problem(feedback, 61, 9000, 7, feedback === 'explicit' ? 11 : 12);
        const one = evaluateModel(model, train, test, { at });
        expect(one.testUsers).toBeGreaterThan(50);
        expect(one.coverage).toBeGreaterThan(0);
        if (at === 300) expect(one.precision).toBeGreaterThan(0); // some hits, so the sums are not all zero
        if (feedback === 'explicit') expect(one.rmse).toBeGreaterThan(0);
        for (const threads of [1, 2, 3]) {
          const many = await evaluateModelThreaded(model, train, test, { at, threads, minWork: 0 });
          expectIdentical(many, one);
        }
      });
    }
  }

  it('rankingUsers: a seeded sample of the users with a test pair, the same for 1 and 2 workers; RMSE over every pair', async () => {
    const { model, train, test } = problem('explicit', 61, 900, 7, 21);
    const all = evaluateModel(model, train, test);
    const mask = rankedUsers(model.nUsers, test, { rankingUsers: 20, rankingSeed: 4 })!;
    expect(mask.reduce((a, b) => a + b, 0)).toBe(20);
    expect(mask[0]).toBe(0); // users 0 and 1 have no test pair: never drawn
    expect(mask[1]).toBe(0);
    expect(rankedUsers(model.nUsers, test, { rankingUsers: 20, rankingSeed: 4 })).toEqual(mask); // seeded
    expect(rankedUsers(model.nUsers, test, { rankingUsers: 20, rankingSeed: 5 })).not.toEqual(mask);
    expect(rankedUsers(model.nUsers, test, { rankingUsers: 59 })).toBeNull(); // 59 users have a test pair: all of them
    const one = evaluateModel(model, train, test, { rankingUsers: 20, rankingSeed: 4 });
    expect(one.testUsers).toBeLessThanOrEqual(20);
    expect(one.testUsers).toBeGreaterThan(15);
    expect(one.ndcg).not.toBe(all.ndcg);
    expect(one.rmse).toBe(all.rmse);
    expect(one.mae).toBe(all.mae);
    // The sample's metrics are the all-user evaluation restricted to those users.
    const sampledTest = { ...test, users: test.users.map((u) => (u >= 0 && mask[u] === 0 ? -1 : u)) };
    expect(evaluateModel(model, train, sampledTest).ndcg).toBe(one.ndcg);
    for (const threads of [1, 2]) {
      expectIdentical(await evaluateModelThreaded(model, train, test, { threads, minWork: 0, rankingUsers: 20, rankingSeed: 4 }), one);
    }
    expectIdentical(evaluateModel(model, train, test, { rankingUsers: 1000 }), all);
    expect(() => evaluateModel(model, train, test, { rankingUsers: 0 })).toThrow(/rankingUsers must be an integer >= 1, got 0/);
  });

  it('rejects the same bad inputs as evaluateModel', async () => {
    const { model, train, test } = problem('implicit', 5, 20, 2, 3);
    await expect(evaluateModelThreaded(model, train, test, { at: 0, threads: 2, minWork: 0 })).rejects.toThrow(/at must be an integer/);
    await expect(evaluateModelThreaded(model, train, { ...test, users: new Int32Array(0) }, { threads: 2, minWork: 0 })).rejects.toThrow(
      /test set is empty/,
    );
  });
});
