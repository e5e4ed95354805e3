/**
 * The serving core's explanations: which ratings explain a user (the model's training ratings for
 * a user served from the model, the store's for one served by fold-in) and the validation of top /
 * explain. The HTTP shape and the end-to-end sums are in test/http/explain.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInput, NotFound } from '../../src/errors.js';
import { Model } from '../../src/model/model.js';
import { saveModel } from '../../src/model/registry.js';
import { upsertRatings } from '../../src/ratings/store.js';
import { createRecommender, type ServingRecommender } from '../../src/serving/recommender.js';
import { storeFromDb } from '../../src/store/store.js';
import { tempDb, type TempDb } from '../helpers/temp.js';
import { install, randomFixture, userItemsOf } from './helpers.js';

const relClose = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(b)));

describe('Recommender.explain', () => {
  let fx: TempDb;
  let rec: ServingRecommender | null = null;
  afterEach(async () => {
    await rec?.close();
    rec = null;
    fx.cleanup();
  });

  it("a model file without rating values: a known user is explained with the store's ratings", () => {
    fx = tempDb();
    const f = randomFixture(5, 'implicit');
    install(fx.db, f); // helpers' models keep no userItems.values
    rec = createRecommender({ store: storeFromDb(fx.db), precompute: false });
    const e = rec.explain('u3', 'i0', { top: 50 });
    const mine = f.ratings.filter((r) => r.user === 'u3').map((r) => r.item);
    expect(e.contributions.map((c) => c.item).sort()).toEqual([...mine].sort());
    relClose(
      e.contributions.reduce((s, c) => s + c.contribution, 0),
      e.score,
    );
    expect(rec.recommend('u3', { limit: 3, explain: 2 }).items.every((x) => x.because!.length === 2)).toBe(true);
  });

  it("a model file with rating values: a user served from the model is explained with the model's ratings, not later store writes", async () => {
    fx = tempDb();
    const f = randomFixture(6, 'explicit');
    upsertRatings(fx.db, f.ratings);
    const userItems = { ...userItemsOf(f.rated), values: new Float32Array(f.rated.flat().length).fill(4) };
    const id = saveModel(fx.db, new Model({ ...f.model, userItems, metrics: {}, history: [], createdAt: new Date().toISOString() }), {
      activate: true,
    });
    // A rating written behind the recommender's back (an import): u1 is still served from the model.
    const extra = f.rated[1]!.includes(39) ? 38 : 39;
    upsertRatings(fx.db, [{ user: 'u1', item: `i${extra}`, value: 5 }]);
    rec = createRecommender({ store: storeFromDb(fx.db), precompute: false });
    expect(rec.recommend('u1', { limit: 1 }).source).toBe('model');
    const e = rec.explain('u1', 'i2', { top: 50 });
    expect(e.model).toBe(id);
    expect(e.contributions.map((c) => c.item)).not.toContain(`i${extra}`);
    expect(e.contributions).toHaveLength(f.rated[1]!.length);
    relClose(e.contributions.reduce((s, c) => s + c.contribution, 0) + e.bias!.global + e.bias!.user + e.bias!.item, e.score);
    // Through the API the user is touched: now the store's ratings, the extra one included.
    await rec.addRatings([{ user: 'u1', item: `i${extra}`, value: 5 }]);
    expect(rec.recommend('u1', { limit: 1 }).source).toBe('fold-in');
    expect(rec.explain('u1', 'i2', { top: 50 }).contributions.map((c) => c.item)).toContain(`i${extra}`);
  });

  it('rejects a bad top / explain naming the field, an unknown item or a user without ratings as NotFound', () => {
    fx = tempDb();
    install(fx.db, randomFixture(7, 'implicit'));
    rec = createRecommender({ store: storeFromDb(fx.db), precompute: false });
    for (const top of [0, 51, 1.5, Number.NaN]) {
      expect(() => rec!.explain('u1', 'i1', { top })).toThrow(InvalidInput);
      expect(() => rec!.recommend('u1', { limit: 2, explain: top })).toThrow(/^explain must be an integer in 1\.\.50/);
      expect(() => rec!.recommendAnonymous([{ item: 'i1', value: 1 }], { limit: 2, explain: top })).toThrow(/^explain /);
    }
    expect(() => rec!.explain('u1', 'nope')).toThrow(expect.objectContaining({ code: 'unknown_item' }));
    expect(() => rec!.explain('ghost', 'i1')).toThrow(NotFound);
    expect(() => rec!.explain('ghost', 'i1')).toThrow(expect.objectContaining({ code: 'unknown_user' }));
    expect(rec.explain('u1', 'i1').contributions.length).toBe(5); // default top
  });
});
