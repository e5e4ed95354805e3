/**
 * `npm run bench -- live [--users N] [--capped-users N] [--swap-size small|20m|none] [--touched N]`:
 * the serving core's memory of live users and the cost of a swap.
 *
 * 1. Bytes per live-user entry: N (default 50,000) new users rate 10 random items each through
 *    addRatings (batches of 200, so each is folded in at once and cached) on a k = 64, 27,000-item
 *    model; the heap after a full GC, before and after, divided by N. The default cap
 *    (RIDGEREC_MAX_LIVE_USERS) is ~50 MB of such entries.
 * 2. --capped-users (default 300,000) distinct users through the default cap: heap and RSS growth.
 * 3. The swap pause: on the 20m-shaped model (140k users × 27k items × 64 factors) the time of one
 *    poll() that loads and swaps in a newly activated model, first with no user changed through
 *    the API, then after --touched (default 360,000) users changed, with the store queries the
 *    swap made (0: users are re-checked lazily, one query each on their next request).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DEFAULTS } from '../../src/config.js';
import { loadModel, saveModel } from '../../src/model/registry.js';
import { createRecommender, type ServingRecommender, type ServingStore } from '../../src/serving/recommender.js';
import { storeFromDb } from '../../src/store/store.js';
import { mulberry32 } from '../../src/training/random.js';
import { loadAverage, peakRssMB, prepareDb, SHAPES, type Shape } from './common.js';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

function option(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i < 0 ? fallback : (args[i + 1] ?? fallback);
}

const MB = 2 ** 20;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** The small k = 64, 27,000-item model the per-user measurements run on. */
const LIVE_SHAPE: Shape = { users: 1000, items: 27_000, factors: 64, nnz: 20_000 };

/**
 * Runs `measure` against a serving core over a fresh database of LIVE_SHAPE (no precompute),
 * removing the database afterwards.
 */
async function withLiveRecommender(maxLiveUsers: number | undefined, measure: (rec: ServingRecommender) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ridgerec-bench-live-'));
  try {
    const db = prepareDb(join(dir, 'live.db'), LIVE_SHAPE, true);
    const rec = createRecommender({ store: storeFromDb(db), precompute: false, ...(maxLiveUsers === undefined ? {} : { maxLiveUsers }) });
    await measure(rec);
    await rec.close();
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `users` new users `${prefix}0`… rate 10 seeded random items each, through addRatings in batches of 200. */
async function rateAsNewUsers(rec: ServingRecommender, prefix: string, users: number, seed: number): Promise<void> {
  const rand = mulberry32(seed);
  for (let b = 0; b < users; b += 200) {
    const batch = [];
    for (let u = b; u < Math.min(users, b + 200); u++) {
      for (let j = 0; j < 10; j++) batch.push({ user: `${prefix}${u}`, item: `i${Math.floor(rand() * LIVE_SHAPE.items)}`, value: 1 });
    }
    await rec.addRatings(batch);
  }
}

/**
 * `users` distinct users rate 10 items each through addRatings with the default cap: the heap
 * (after a full GC) and RSS they leave, against the cap's estimate.
 */
async function capped(users: number): Promise<void> {
  await withLiveRecommender(undefined, async (rec) => {
    gc();
    const before = process.memoryUsage();
    await rateAsNewUsers(rec, 'api-user-', users, 4);
    gc();
    const after = process.memoryUsage();
    process.stdout.write(
      `${JSON.stringify({
        case: 'live',
        figure: 'distinct API users under the default cap',
        users,
        cap: DEFAULTS.maxLiveUsers,
        liveUsers: rec.stats().liveUsers,
        heapGrowthMB: round((after.heapUsed - before.heapUsed) / MB),
        arrayBuffersGrowthMB: round((after.arrayBuffers - before.arrayBuffers) / MB),
        rssGrowthMB: round((after.rss - before.rss) / MB),
        peakRssMB: peakRssMB(),
        loadAverage: loadAverage(),
      })}\n`,
    );
  });
}

async function bytesPerEntry(users: number): Promise<void> {
  await withLiveRecommender(users + 1, async (rec) => {
    gc();
    // Heap plus ArrayBuffer backing stores: a fold-in's Float32Array of k = 64 floats lives outside the V8 heap.
    const used = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const rss0 = process.memoryUsage().rss;
    const before = used();
    await rateAsNewUsers(rec, 'live-user-', users, 3);
    gc();
    const per = (used() - before) / users;
    const rssPer = (process.memoryUsage().rss - rss0) / users;
    const s = rec.stats();
    process.stdout.write(
      `${JSON.stringify({
        case: 'live',
        figure: 'bytes per live user (k=64, 10 ratings, fold-in cached)',
        users,
        liveUsers: s.liveUsers,
        bytesPerEntry: Math.round(per),
        rssBytesPerEntry: Math.round(rssPer),
        defaultCap: DEFAULTS.maxLiveUsers,
        defaultCapMB: round((DEFAULTS.maxLiveUsers * per) / MB),
        usersIn50MB: Math.round((50 * MB) / per),
        loadAverage: loadAverage(),
      })}\n`,
    );
  });
}

async function swapPause(size: string, touched: number): Promise<void> {
  const shape = SHAPES[size];
  if (shape === undefined) throw new Error(`--swap-size must be one of ${Object.keys(SHAPES).join(', ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'ridgerec-bench-swap-'));
  try {
    const db = prepareDb(join(dir, 'swap.db'), shape, true);
    const base = storeFromDb(db);
    let queries = 0;
    const store: ServingStore = {
      ...base,
      userRatings: (user) => {
        queries++;
        return base.userRatings(user);
      },
    };
    const rec = createRecommender({ store, precompute: false });
    const model = loadModel(db, rec.modelId()!).model;
    const timedSwap = (): { ms: number; queries: number } => {
      saveModel(db, model, { activate: true });
      queries = 0;
      const t0 = performance.now();
      if (!rec.poll()) throw new Error('poll did not swap');
      return { ms: round(performance.now() - t0), queries };
    };
    // Two swaps each way, on a shared machine the better of two is the least disturbed.
    gc();
    const clean = [timedSwap(), timedSwap()];
    // `touched` users change through the API: every model user first, then new ones.
    for (let b = 0; b < touched; b += 10_000) {
      const batch = [];
      for (let u = b; u < Math.min(touched, b + 10_000); u++) batch.push({ user: `u${u}`, item: `i${u % shape.items}`, value: 1 });
      await rec.addRatings(batch);
    }
    gc();
    const afterTouches = [timedSwap()];
    gc();
    afterTouches.push(timedSwap());
    // The first request of a changed user after the swap: one query and one fold-in.
    queries = 0;
    const t0 = performance.now();
    const r = rec.recommend('u7', { limit: 10 });
    const firstRequestMs = round(performance.now() - t0, 2);
    process.stdout.write(
      `${JSON.stringify({
        case: 'live',
        figure: 'swap pause',
        shape,
        touchedUsers: touched,
        liveUsers: rec.stats().liveUsers,
        swapNoTouchesMs: clean.map((x) => x.ms),
        swapAfterTouchesMs: afterTouches.map((x) => x.ms),
        queriesAtSwap: Math.max(...afterTouches.map((x) => x.queries)),
        firstRequestOfChangedUser: { ms: firstRequestMs, queries, source: r.source },
        peakRssMB: peakRssMB(),
        loadAverage: loadAverage(),
      })}\n`,
    );
    await rec.close();
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<void> {
  const users = Number(option(args, '--users', '50000'));
  if (users > 0) await bytesPerEntry(users);
  const many = Number(option(args, '--capped-users', '300000'));
  if (many > 0) await capped(many);
  const touched = Number(option(args, '--touched', '360000'));
  const size = option(args, '--swap-size', '20m');
  if (size !== 'none') await swapPause(size, touched);
}
