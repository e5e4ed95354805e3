import { httpStatus } from '../../src/http/errors.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storeFromDb } from '../../src/store/store.js';
import { isRidgerecError } from '../../src/errors.js';
import { activateModel, saveModel } from '../../src/model/registry.js';
import { upsertRatings, userRatings } from '../../src/ratings/store.js';
import { createRecommender, type ScoredItem, type ServingRecommender } from '../../src/serving/recommender.js';
import { createFoldIn } from '../../src/training/fold-in.js';
import type { Feedback } from '../../src/training/params.js';
import { tempDb, type TempDb } from '../helpers/temp.js';
import { bruteForce, install, randomFixture, modelOf, userOffset, userVector, type Fixture } from './helpers.js';

/** Same items in the same order, scores equal to 4 decimals (float32 kernels vs the float64 reference). */
function expectRanking(actual: readonly ScoredItem[], expected: readonly ScoredItem[]): void {
  expect(actual.map((x) => x.item)).toEqual(expected.map((x) => x.item));
  actual.forEach((x, j) => expect(x.score).toBeCloseTo(expected[j]!.score, 3));
}

async function rejected(p: Promise<unknown>): Promise<{ status: number; code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isRidgerecError(e)) return { status: httpStatus(e), code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected an error');
}

function thrown(f: () => unknown): { status: number; code: string; message: string } {
  try {
    f();
  } catch (e) {
    if (isRidgerecError(e)) return { status: httpStatus(e), code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected an error');
}

/** The user's vector and offset as createFoldIn computes them from (item index, value) pairs. */
function expectedFoldIn(fx: Fixture, pairs: [number, number][]) {
  pairs.sort((a, b) => a[0] - b[0]);
  const foldedIn = createFoldIn(fx.model)(Int32Array.from(pairs.map((p) => p[0])), Float32Array.from(pairs.map((p) => p[1])));
  const offset = fx.model.params.feedback === 'explicit' ? fx.model.globalMean + foldedIn.bias : 0;
  return { vector: foldedIn.factors, offset, items: new Set(pairs.map((p) => p[0])) };
}

const itemIndex = (id: string) => Number(id.slice(1));

// Contract tests, run for each feedback kind.
describe.each(['explicit', 'implicit'] as Feedback[])('Recommender (%s model)', (feedback) => {
  let t: TempDb;
  let fx: Fixture;
  let rec: ServingRecommender;
  let modelId: number;

  beforeEach(() => {
    t = tempDb();
    fx = randomFixture(feedback === 'explicit' ? 11 : 12, feedback);
    modelId = install(t.db, fx);
    rec = createRecommender({ store: storeFromDb(t.db), precompute: false });
  });
  afterEach(async () => {
    await rec.close();
    t.cleanup();
  });

  it('loads the active model and describes it', () => {
    expect(rec.modelId()).toBe(modelId);
    const info = rec.modelInfo()!;
    expect(info).toMatchObject({ id: modelId, feedback, nUsers: 30, nItems: 40 });
    expect(typeof info.createdAt).toBe('string');
    expect(info.activatedAt).not.toBeNull();
    expect(info.params).toMatchObject({ feedback, factors: 8 });
  });

  it('ranks a known user exactly by the formula, rated items excluded (source model)', () => {
    for (const u of [0, 7, 29]) {
      const r = rec.recommend(`u${u}`, { limit: 10 });
      expect(r).toMatchObject({ user: `u${u}`, model: modelId, source: 'model' });
      const expected = bruteForce(fx.model, userVector(fx.model, u), userOffset(fx.model, u), 10, new Set(fx.rated[u]));
      expectRanking(r.items, expected);
      for (const it of r.items) expect(fx.rated[u]).not.toContain(itemIndex(it.item));
    }
  });

  it('includeRated keeps rated items; exclude drops the named ones and ignores unknown ids', () => {
    const u = 3;
    const v = userVector(fx.model, u);
    const off = userOffset(fx.model, u);
    const all = rec.recommend(`u${u}`, { limit: 40, includeRated: true }).items;
    expectRanking(all, bruteForce(fx.model, v, off, 40, new Set()));
    expect(all).toHaveLength(40);

    const plain = rec.recommend(`u${u}`, { limit: 5 }).items;
    const exclude = [plain[0]!.item, plain[2]!.item, 'no-such-item'];
    const r = rec.recommend(`u${u}`, { limit: 5, exclude });
    const skip = new Set([...fx.rated[u]!, itemIndex(plain[0]!.item), itemIndex(plain[2]!.item)]);
    expectRanking(r.items, bruteForce(fx.model, v, off, 5, skip));
    expect(r.items.map((x) => x.item)).not.toContain(plain[0]!.item);
  });

  it('is safe for any positive limit and rejects a non-positive one', () => {
    expect(rec.recommend('u1', { limit: 1_000_000 }).items).toHaveLength(40 - fx.rated[1]!.length);
    expect(thrown(() => rec.recommend('u1', { limit: 0 }))).toMatchObject({ status: 400 });
    expect(thrown(() => rec.recommend('u1', { limit: 2.5 }))).toMatchObject({ status: 400 });
  });

  it('folds in a user the model does not know but the database has ratings for', () => {
    upsertRatings(t.db, [
      { user: 'newbie', item: 'i3', value: 5 },
      { user: 'newbie', item: 'i17', value: 2 },
      { user: 'newbie', item: 'not-in-model', value: 4 },
    ]);
    const r = rec.recommend('newbie', { limit: 8 });
    expect(r.source).toBe('fold-in');
    const e = expectedFoldIn(fx, [
      [3, 5],
      [17, 2],
    ]);
    expectRanking(r.items, bruteForce(fx.model, e.vector, e.offset, 8, e.items));
  });

  it('falls back to the most-rated items for a user with no ratings at all', () => {
    const counts = new Array<number>(40).fill(0);
    for (const items of fx.rated) for (const i of items) counts[i]!++;
    const order = counts.map((c, i) => ({ c, i })).sort((a, b) => b.c - a.c || a.i - b.i);
    const r = rec.recommend('stranger', { limit: 6 });
    expect(r.source).toBe('popular');
    expect(r.items).toEqual(order.slice(0, 6).map(({ c, i }) => ({ item: `i${i}`, score: c })));
    const ex = rec.recommend('stranger', { limit: 6, exclude: [`i${order[0]!.i}`] });
    expect(ex.items.map((x) => x.item)).toEqual(order.slice(1, 7).map(({ i }) => `i${i}`));
  });

  it('addRatings: the very next request re-folds over all the user’s ratings and excludes the new item', async () => {
    const u = 5;
    const before = rec.recommend(`u${u}`, { limit: 10 });
    const top = before.items[0]!.item;
    expect(await rec.addRatings([{ user: `u${u}`, item: top, value: 1 }])).toEqual({ accepted: 1 });
    const after = rec.recommend(`u${u}`, { limit: 10 });
    expect(after.source).toBe('fold-in');
    expect(after.items.map((x) => x.item)).not.toContain(top);
    expect(after.items).not.toEqual(before.items);
    // The vector is the trainer's fold-in over every rating the database holds for the user.
    const pairs = userRatings(t.db, `u${u}`).map((r) => [itemIndex(r.item), r.value] as [number, number]);
    expect(pairs).toHaveLength(fx.rated[u]!.length + 1);
    const e = expectedFoldIn(fx, pairs);
    expectRanking(after.items, bruteForce(fx.model, e.vector, e.offset, 10, e.items));

    // A second rating changes it again (the cached vector was invalidated).
    const second = after.items[0]!.item;
    await rec.addRatings([{ user: `u${u}`, item: second, value: 5 }]);
    expect(rec.recommend(`u${u}`, { limit: 10 }).items.map((x) => x.item)).not.toContain(second);
  });

  it('addRatings is all or nothing: one bad rating stores none and changes nothing', async () => {
    const before = rec.recommend('u2', { limit: 5 });
    const bad = rec.addRatings([
      { user: 'u2', item: 'i0', value: 3 },
      { user: 'u2', item: 'i1', value: Number.NaN },
    ]);
    expect(await rejected(bad)).toMatchObject({ status: 400 });
    expect(userRatings(t.db, 'u2')).toHaveLength(fx.rated[2]!.length);
    expect(rec.recommend('u2', { limit: 5 })).toEqual(before);
  });

  it('addRatings for a brand-new user makes them a fold-in user immediately', async () => {
    expect(rec.recommend('fresh', { limit: 3 }).source).toBe('popular');
    await rec.addRatings([{ user: 'fresh', item: 'i9', value: 4 }]);
    const r = rec.recommend('fresh', { limit: 3 });
    expect(r.source).toBe('fold-in');
    expect(r.items.map((x) => x.item)).not.toContain('i9');
  });

  it('deleteUser forgets the user: ratings gone, next request is popular, second delete is false', async () => {
    await rec.addRatings([{ user: 'u4', item: 'i0', value: 5 }]);
    expect(rec.recommend('u4', { limit: 3 }).source).toBe('fold-in');
    expect(await rec.deleteUser('u4')).toBe(true);
    expect(userRatings(t.db, 'u4')).toEqual([]);
    expect(rec.recommend('u4', { limit: 3 }).source).toBe('popular');
    expect(await rec.deleteUser('u4')).toBe(false);
    expect(await rec.deleteUser('never-existed')).toBe(false);
  });

  it('deleting ids never seen stores nothing: the remembered users do not grow', async () => {
    const before = rec.stats().touchedUsers;
    const liveBefore = rec.stats().liveUsers;
    for (let j = 0; j < 1000; j++) expect(await rec.deleteUser(`ghost-${j}`)).toBe(false);
    expect(rec.stats().touchedUsers).toBe(before);
    expect(rec.stats().liveUsers).toBe(liveBefore);
    expect(t.db.prepare("SELECT count(*) FROM users WHERE external_id LIKE 'ghost-%'").pluck().get()).toBe(0);
    // A user the model knows is remembered even without stored ratings: their trained vector must not serve.
    t.db.prepare('DELETE FROM ratings WHERE user_id = (SELECT id FROM users WHERE external_id = ?)').run('u6');
    await rec.deleteUser('u6');
    expect(rec.stats().touchedUsers).toBe(before + 1);
    expect(rec.recommend('u6', { limit: 3 }).source).toBe('popular');
  });

  it('similarItems ranks by cosine of item factors, without the item itself; unknown item is a 404', () => {
    const k = fx.model.factors;
    const q = fx.model.itemFactors;
    const cos = (a: number, b: number) => {
      let d = 0;
      let na = 0;
      let nb = 0;
      for (let f = 0; f < k; f++) {
        d += q[a * k + f]! * q[b * k + f]!;
        na += q[a * k + f]! ** 2;
        nb += q[b * k + f]! ** 2;
      }
      return d / Math.sqrt(na * nb);
    };
    for (const i of [0, 13, 39]) {
      const r = rec.similarItems(`i${i}`, { limit: 7 });
      expect(r).toMatchObject({ item: `i${i}`, model: modelId });
      const expected = Array.from({ length: 40 }, (_, j) => ({ j, s: cos(i, j) }))
        .filter((x) => x.j !== i)
        .sort((a, b) => b.s - a.s || a.j - b.j)
        .slice(0, 7)
        .map(({ j, s }) => ({ item: `i${j}`, score: s }));
      expectRanking(r.items, expected);
      for (const x of r.items) expect(Math.abs(x.score)).toBeLessThanOrEqual(1);
    }
    expect(rec.similarItems('i1', { limit: 1000 }).items).toHaveLength(39);
    expect(thrown(() => rec.similarItems('nope', { limit: 5 }))).toMatchObject({ status: 404, code: 'unknown_item' });
  });

  it('recommendAnonymous folds in an ad-hoc list, ignoring unknown items; none known → popular', () => {
    const r = rec.recommendAnonymous(
      [
        { item: 'i1', value: 4 },
        { item: 'ghost', value: 5 },
        { item: 'i30', value: 2 },
      ],
      { limit: 6, exclude: ['i2'] },
    );
    expect(r).toMatchObject({ source: 'fold-in', model: modelId });
    const e = expectedFoldIn(fx, [
      [1, 4],
      [30, 2],
    ]);
    expectRanking(r.items, bruteForce(fx.model, e.vector, e.offset, 6, new Set([...e.items, 2])));

    const p = rec.recommendAnonymous([{ item: 'ghost', value: 5 }], { limit: 4 });
    expect(p.source).toBe('popular');
    expect(p.items).toEqual(rec.recommend('nobody', { limit: 4 }).items);
    expect(rec.recommendAnonymous([], { limit: 4 }).source).toBe('popular');
  });

  it('poll() swaps in a model activated by another connection; the old state finishes its work', async () => {
    expect(rec.poll()).toBe(false);
    const fx2 = randomFixture(99, feedback, { nItems: 40 });
    const other = t.open();
    const id2 = saveModel(other, modelOf(fx2));
    expect(rec.poll()).toBe(false); // saved but not active
    const swaps: [number | null, number | null][] = [];
    await rec.close();
    rec = createRecommender({ store: storeFromDb(t.db), precompute: false, onSwap: (a, b) => swaps.push([a, b]) });

    // A stream of requests interleaved with the activation and the polls: none fails, each answer
    // is entirely from the model it names, and the model id only moves forward.
    const seen: number[] = [];
    let activated = false;
    for (let n = 0; n < 60; n++) {
      if (n === 20) {
        activateModel(other, id2);
        activated = true;
      }
      if (n % 5 === 0 && activated) rec.poll();
      const r = rec.recommend('u6', { limit: 5 });
      const m = r.model === modelId ? fx : fx2;
      expectRanking(r.items, bruteForce(m.model, userVector(m.model, 6), userOffset(m.model, 6), 5, new Set(m.rated[6])));
      seen.push(r.model);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(seen[0]).toBe(modelId);
    expect(seen.at(-1)).toBe(id2);
    expect(seen.join(',')).toMatch(new RegExp(`^(${modelId},)+(${id2},?)+$`));
    expect(swaps).toEqual([[modelId, id2]]);
    expect(rec.modelId()).toBe(id2);
  });
});

describe('Recommender without a model', () => {
  it('answers 503 no_model until a model is activated, and still stores ratings', async () => {
    const t = tempDb();
    try {
      const rec = createRecommender({ store: storeFromDb(t.db) });
      expect(rec.modelId()).toBeNull();
      expect(rec.modelInfo()).toBeNull();
      expect(thrown(() => rec.recommend('x', { limit: 3 }))).toMatchObject({ status: 503, code: 'no_model' });
      expect(thrown(() => rec.similarItems('x', { limit: 3 }))).toMatchObject({ status: 503 });
      expect(thrown(() => rec.recommendAnonymous([], { limit: 3 }))).toMatchObject({ status: 503 });
      expect(await rec.addRatings([{ user: 'x', item: 'i1', value: 2 }])).toEqual({ accepted: 1 });
      expect(rec.poll()).toBe(false);
      const fx = randomFixture(5, 'explicit');
      const id = install(t.db, fx);
      expect(rec.reload()).toBe(id);
      // 'x' rated i1 through the recommender before the model existed: fold-in.
      expect(rec.recommend('x', { limit: 3 }).source).toBe('fold-in');
      await rec.close();
    } finally {
      t.cleanup();
    }
  });
});

describe('Recommender on the JavaScript kernel (no WebAssembly SIMD)', () => {
  it('gives the same answers as the SIMD path', async () => {
    const t = tempDb();
    try {
      const fx = randomFixture(8, 'explicit', { k: 7, nItems: 37 });
      install(t.db, fx);
      const js = createRecommender({ store: storeFromDb(t.db), simd: false, precompute: false });
      const simd = createRecommender({ store: storeFromDb(t.db), precompute: false });
      for (const u of ['u0', 'u13', 'nobody']) expect(js.recommend(u, { limit: 9 })).toEqual(simd.recommend(u, { limit: 9 }));
      expect(js.similarItems('i4', { limit: 9 })).toEqual(simd.similarItems('i4', { limit: 9 }));
      const expected = bruteForce(fx.model, userVector(fx.model, 13), userOffset(fx.model, 13), 9, new Set(fx.rated[13]));
      expectRanking(js.recommend('u13', { limit: 9 }).items, expected);
      await js.close();
      await simd.close();
    } finally {
      t.cleanup();
    }
  });
});

describe('Recommender on a catalog big enough for the sampled SIMD selection (9,000 items)', () => {
  it('still matches the brute-force ranking for known, fold-in and similar-items answers', async () => {
    const t = tempDb();
    try {
      const fx = randomFixture(77, 'explicit', { nUsers: 6, nItems: 9000, k: 6, perUser: 40 });
      install(t.db, fx);
      const rec = createRecommender({ store: storeFromDb(t.db), precompute: false });
      for (const u of [0, 5]) {
        const expected = bruteForce(fx.model, userVector(fx.model, u), userOffset(fx.model, u), 60, new Set(fx.rated[u]));
        expectRanking(rec.recommend(`u${u}`, { limit: 60 }).items, expected);
      }
      const r = rec.recommendAnonymous([{ item: 'i8000', value: 5 }], { limit: 25 });
      const e = expectedFoldIn(fx, [[8000, 5]]);
      expectRanking(r.items, bruteForce(fx.model, e.vector, e.offset, 25, e.items));
      expect(rec.similarItems('i4321', { limit: 30 }).items.map((x) => x.item)).not.toContain('i4321');
      await rec.close();
    } finally {
      t.cleanup();
    }
  });
});
