import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storeFromDb } from '../../src/store/store.js';
import { createRecommender, type ServingRecommender } from '../../src/serving/recommender.js';
import type { PrecomputeWorkerData } from '../../src/serving/precompute.js';
import { computeTopNRange } from '../../src/serving/top-n.js';
import { tempDb, type TempDb } from '../helpers/temp.js';
import { bruteForce, install, randomFixture, userItemsOf, userVector, type Fixture } from './helpers.js';

function tableFor(fx: Fixture, n: number, simd: boolean, rated = fx.rated) {
  const { model } = fx;
  const ui = userItemsOf(rated);
  const d: PrecomputeWorkerData = {
    k: model.factors,
    n,
    nItems: model.nItems,
    simd,
    userStart: 0,
    userEnd: model.nUsers,
    userFactors: model.userFactors,
    itemFactors: model.itemFactors,
    itemBias: model.itemBias,
    indptr: ui.indptr,
    indices: ui.indices,
    outIndices: new Int32Array(model.nUsers * n),
    outScores: new Float32Array(model.nUsers * n),
  };
  computeTopNRange(d);
  return d;
}

describe('computeTopNRange', () => {
  for (const simd of [true, false]) {
    it(`writes each user's best n unrated items, padding with -1 (${simd ? 'SIMD' : 'JavaScript'} kernel)`, () => {
      // k = 5 and 21 items: remainders in every kernel; 11 users: a partial block of 8 and of 4.
      const fx = randomFixture(21, 'explicit', { nUsers: 11, nItems: 21, k: 5, perUser: 4 });
      const rated = fx.rated.map((r) => [...r]);
      rated[10] = Array.from({ length: 19 }, (_, i) => i); // only items 19 and 20 left for user 10
      const n = 6;
      const d = tableFor(fx, n, simd, rated);
      for (let u = 0; u < 11; u++) {
        const expected = bruteForce(fx.model, userVector(fx.model, u), 0, n, new Set(rated[u]));
        const got = Array.from(d.outIndices.subarray(u * n, (u + 1) * n));
        expect(got.slice(0, expected.length).map((i) => `i${i}`)).toEqual(expected.map((e) => e.item));
        expected.forEach((e, j) => expect(d.outScores[u * n + j]!).toBeCloseTo(e.score, 4));
        expect(got.slice(expected.length)).toEqual(new Array(n - expected.length).fill(-1));
      }
      expect(Array.from(d.outIndices.subarray(10 * n, 10 * n + 2)).sort()).toEqual([19, 20]);
    });
  }
});

describe('Recommender with the precomputed top-N', () => {
  let t: TempDb;
  let fx: Fixture;
  let pre: ServingRecommender;
  let live: ServingRecommender;

  beforeEach(async () => {
    t = tempDb();
    fx = randomFixture(31, 'explicit', { nUsers: 40, nItems: 60, k: 8, perUser: 5 });
    install(t.db, fx);
    pre = createRecommender({ store: storeFromDb(t.db), precompute: true, precomputeN: 5, precomputeThreads: 2 });
    live = createRecommender({ store: storeFromDb(t.db), precompute: false });
    expect(pre.stats().precompute).toBe('running');
    expect(await pre.whenPrecomputed()).toBe('ready');
  });
  afterEach(async () => {
    await pre.close();
    await live.close();
    t.cleanup();
  });

  it('answers exactly what live scoring answers, from the table when it suffices', () => {
    expect(pre.stats().precompute).toBe('ready');
    const before = pre.stats();
    for (let u = 0; u < 40; u++) {
      expect(pre.recommend(`u${u}`, { limit: 5 })).toEqual(live.recommend(`u${u}`, { limit: 5 }));
    }
    const after = pre.stats();
    expect(after.precomputedAnswers - before.precomputedAnswers).toBe(40);
    expect(after.liveAnswers - before.liveAnswers).toBe(0);
  });

  it('falls back to live scoring when exclusions eat the list, includeRated is set or limit > n', () => {
    const top = live.recommend('u3', { limit: 5 }).items.map((x) => x.item);
    const cases = [
      { limit: 3, exclude: top.slice(0, 3) }, // 5 candidates − 3 excluded < 3 wanted
      { limit: 5, includeRated: true },
      { limit: 9 },
    ];
    for (const opts of cases) {
      const liveBefore = pre.stats().liveAnswers;
      expect(pre.recommend('u3', opts)).toEqual(live.recommend('u3', opts));
      expect(pre.stats().liveAnswers).toBe(liveBefore + 1);
    }
    // A small exclusion the list can absorb stays on the table.
    const tableBefore = pre.stats().precomputedAnswers;
    const opts = { limit: 3, exclude: [top[0]!] };
    expect(pre.recommend('u3', opts)).toEqual(live.recommend('u3', opts));
    expect(pre.stats().precomputedAnswers).toBe(tableBefore + 1);
  });

  it('a user who rates something leaves the table for fold-in', async () => {
    const first = pre.recommend('u8', { limit: 5 }).items[0]!.item;
    await pre.addRatings([{ user: 'u8', item: first, value: 5 }]);
    const r = pre.recommend('u8', { limit: 5 });
    expect(r.source).toBe('fold-in');
    expect(r.items.map((x) => x.item)).not.toContain(first);
  });
});

describe('precompute across swaps', () => {
  it('a swap cancels the running precomputation of the old model; close() stops the workers', async () => {
    const t = tempDb();
    try {
      const fx = randomFixture(41, 'implicit', { nUsers: 20, nItems: 30 });
      install(t.db, fx);
      const done: number[] = [];
      const rec = createRecommender({ store: storeFromDb(t.db), precompute: true, precomputeN: 4, onPrecomputed: (id) => done.push(id) });
      const first = rec.whenPrecomputed();
      const fx2 = randomFixture(42, 'implicit', { nUsers: 20, nItems: 30 });
      const id2 = install(t.db, fx2);
      expect(rec.reload()).toBe(id2);
      expect(await first).toBe('off'); // the old model's job was cancelled
      expect(await rec.whenPrecomputed()).toBe('ready');
      expect(done).toEqual([id2]);
      await rec.close();
      expect(rec.stats().precompute).toBe('ready');
    } finally {
      t.cleanup();
    }
  });
});
