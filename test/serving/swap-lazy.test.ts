/**
 * A model swap must cost the same whatever the API did. Before, the swap ran one synchronous
 * store.userRatings query per user changed through the API (7.2 s with 360k such users); now the
 * users changed under the old model are only marked, and each is checked on their next request
 * with one query for that user.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadModel, saveModel } from '../../src/model/registry.js';
import { userRatings } from '../../src/ratings/store.js';
import { createRecommender, type ServingRecommender, type ServingStore } from '../../src/serving/recommender.js';
import { storeFromDb } from '../../src/store/store.js';
import { tempDb, type TempDb } from '../helpers/temp.js';
import { install, modelOf, randomFixture } from './helpers.js';

const N_USERS = 2000;
const SIZE = { nUsers: N_USERS, nItems: 60, k: 8, perUser: 5 };

let t: TempDb;
let rec: ServingRecommender;
/** userRatings calls the recommender made. */
let queries = 0;

beforeEach(() => {
  t = tempDb();
  install(t.db, randomFixture(31, 'explicit', SIZE));
  const base = storeFromDb(t.db);
  const store: ServingStore = {
    ...base,
    userRatings: (user) => {
      queries++;
      return base.userRatings(user);
    },
  };
  // eagerRefoldLimit 0: addRatings itself queries nothing, so every query counted is the swap's or a request's.
  rec = createRecommender({ store, precompute: false, eagerRefoldLimit: 0 });
});
afterEach(async () => {
  await rec.close();
  t.cleanup();
});

const itemIndex = (id: string) => Number(id.slice(1));

describe('swaps cost the same whatever the API did', () => {
  it('a swap after 1,600 users changed through the API makes no store query; each is re-checked on their next request with one', async () => {
    // 1,500 users known to the model rate a new item; 100 more are deleted.
    await rec.addRatings(Array.from({ length: 1500 }, (_, u) => ({ user: `u${u}`, item: 'i59', value: 5 })));
    for (let u = 1500; u < 1600; u++) await rec.deleteUser(`u${u}`);
    expect(rec.stats().touchedUsers).toBe(1600);
    expect(rec.recommend('u7', { limit: 5 }).source).toBe('fold-in');

    // Model B, saved after those changes: trained on u10's current items exactly, not on u7's.
    const fxB = randomFixture(32, 'explicit', SIZE);
    fxB.rated[10] = userRatings(t.db, 'u10')
      .map((r) => itemIndex(r.item))
      .sort((a, b) => a - b);
    await new Promise((resolve) => setTimeout(resolve, 5)); // B's createdAt strictly after the changes
    const idB = saveModel(t.db, modelOf(fxB), { activate: true });

    queries = 0;
    expect(rec.poll()).toBe(true);
    expect(rec.modelId()).toBe(idB);
    expect(queries).toBe(0); // before: 1,600 queries here, one per changed user

    // u7 changed and B does not hold their items: one query, then B's fold-in of their stored ratings.
    const b = loadModel(t.db, idB).model;
    const r7 = rec.recommend('u7', { limit: 5 });
    expect(queries).toBe(1);
    expect(r7.source).toBe('fold-in');
    expect(r7.model).toBe(idB);
    const expected = b.recommendFor(userRatings(t.db, 'u7'), { limit: 5 });
    expect(r7.items).toEqual(expected.items);
    expect(r7.items.map((x) => x.item)).not.toContain('i59');
    // The next request for u7 uses the fold-in cached by the first: no query.
    rec.recommend('u7', { limit: 5 });
    expect(queries).toBe(1);

    // u10: B was created after their change and holds exactly their items: served by B again.
    expect(rec.recommend('u10', { limit: 5 }).source).toBe('model');
    expect(queries).toBe(2);
    rec.recommend('u10', { limit: 5 });
    expect(queries).toBe(2);

    // A deleted user: no ratings left, so B's trained vector must not serve them.
    expect(rec.recommend('u1550', { limit: 5 }).source).toBe('popular');
    // Untouched users are served from B with no query at all.
    expect(rec.recommend('u1900', { limit: 5 }).source).toBe('model');
    expect(queries).toBe(3);
  });

  it('a user changed under model A, not requested under B, is still checked under C', async () => {
    await rec.addRatings([{ user: 'u3', item: 'i59', value: 5 }]);
    const idB = saveModel(t.db, modelOf(randomFixture(33, 'explicit', SIZE)), { activate: true });
    expect(rec.poll()).toBe(true);
    const idC = saveModel(t.db, modelOf(randomFixture(34, 'explicit', SIZE)), { activate: true });
    queries = 0;
    expect(rec.poll()).toBe(true);
    expect(queries).toBe(0);
    expect(idC).toBeGreaterThan(idB);
    const r = rec.recommend('u3', { limit: 5 });
    expect(r.source).toBe('fold-in');
    expect(r.items).toEqual(loadModel(t.db, idC).model.recommendFor(userRatings(t.db, 'u3'), { limit: 5 }).items);
  });
});
