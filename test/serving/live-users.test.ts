/**
 * The users the serving core remembers (changed through the API, or folded in from the store)
 * are bounded by maxLiveUsers. Before, every user changed through the API stayed in a Map for
 * the life of the process (RSS 81 → 250 MB after 50k new users). Evicted users lose nothing the
 * store cannot give back: they are re-folded from their stored ratings when they come back.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model/registry.js';
import { userRatings } from '../../src/ratings/store.js';
import { createRecommender, type ServingRecommender } from '../../src/serving/recommender.js';
import { storeFromDb } from '../../src/store/store.js';
import { mulberry32 } from '../../src/training/random.js';
import { tempDb, type TempDb } from '../helpers/temp.js';
import { install, randomFixture } from './helpers.js';

// A full collection before each heap reading (the flag makes gc() available to new contexts).
setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

const CAP = 20_000;
const USERS = 300_000;
const BATCH = 1000;
const N_ITEMS = 40;

let t: TempDb;
let rec: ServingRecommender;
let modelId: number;

beforeAll(() => {
  t = tempDb();
  modelId = install(t.db, randomFixture(41, 'explicit', { nItems: N_ITEMS }));
  rec = createRecommender({ store: storeFromDb(t.db), precompute: false, maxLiveUsers: CAP });
});
afterAll(async () => {
  await rec.close();
  t.cleanup();
});

describe('bounded memory for live users', () => {
  it('300k distinct API users: the live users stay at the cap, the heap within the cap, RSS bounded', async () => {
    // u5 is known to the model; their change must outlive their eviction from the LRU.
    await rec.addRatings([{ user: 'u5', item: 'i39', value: 5 }]);
    const rand = mulberry32(9);
    gc();
    const before = process.memoryUsage();
    let maxLive = 0;
    for (let b = 0; b < USERS / BATCH; b++) {
      const batch = Array.from({ length: BATCH }, (_, j) => ({
        user: `n${b * BATCH + j}`,
        item: `i${Math.floor(rand() * N_ITEMS)}`,
        value: 1 + Math.floor(rand() * 5),
      }));
      await rec.addRatings(batch);
      // Each new user asks once: a fold-in computed and cached.
      for (const r of batch) expect(rec.recommend(r.user, { limit: 3 }).source).toBe('fold-in');
      maxLive = Math.max(maxLive, rec.stats().liveUsers);
    }
    gc();
    const after = process.memoryUsage();
    const MB = 2 ** 20;
    expect(maxLive).toBe(CAP); // before: one entry per API user, 300,001
    expect(rec.stats().touchedUsers).toBeLessThanOrEqual(CAP);
    // What stays reachable: the LRU at its cap. An entry here (k = 8, a fold-in cached) measures
    // ~0.7 KB, so 1 KB each bounds it; before, 300k touched entries plus 100k cached fold-ins
    // held ~100 MB.
    expect((after.heapUsed - before.heapUsed) / MB).toBeLessThan((CAP * 1024) / MB + 5);
    // RSS, a generous bound (the heap check above is the precise one): the cap, the issue's
    // 100 MB, and 50 MB more for what the store's side adds natively while it grows to 300k users
    // and is not the live users' (SQLite's 16 MB page cache, the allocator's high-water marks,
    // V8 pages not yet returned). Measured 100–137 MB on a loaded 2-core machine.
    expect((after.rss - before.rss) / MB).toBeLessThan(150 + (CAP * 1024) / MB);
  }, 300_000);

  it('an evicted user is re-folded from their stored ratings when they come back', () => {
    const model = loadModel(t.db, modelId).model;
    const r = rec.recommend('n0', { limit: 5 });
    expect(r.source).toBe('fold-in');
    expect(r.items).toEqual(model.recommendFor(userRatings(t.db, 'n0'), { limit: 5 }).items);
    // u5 (known to the model, changed through the API, evicted since) is not served their stale trained vector.
    const u5 = rec.recommend('u5', { limit: 5 });
    expect(u5.source).toBe('fold-in');
    expect(u5.items).toEqual(model.recommendFor(userRatings(t.db, 'u5'), { limit: 5 }).items);
    expect(u5.items.map((x) => x.item)).not.toContain('i39');
  });
});
