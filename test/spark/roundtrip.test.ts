/**
 * The whole way through Spark, without Spark: export MovieLens 100K (with the gate's holdout left
 * out), train with the JavaScript stand-in of scripts/spark/train_als.py (ridgerec's own fit with
 * count-scaled λ, written in ALSModel.save's layout), then `retrain --candidate spark:DIR` gates
 * it against the active model on the same holdout, activates it, and the HTTP API serves it.
 * Reads ../shared/data/ml-100k; skipped, saying so, when it is absent.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createApp } from '../../src/http/app.js';
import { createRecommender } from '../../src/serving/recommender.js';
import { readSparkModel } from '../../src/spark/import.js';
import { readIdMap, readRatingsFile } from '../../src/spark/parquet.js';
import { openStore, type SqliteStore } from '../../src/store/store.js';
import { runInProcess } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { standInTrain } from './spark-layout.js';

const DATA = fileURLToPath(new URL('../../../shared/data/ml-100k/u.data', import.meta.url));
const hasData = existsSync(DATA);
if (!hasData) console.warn(`skipping the Spark round trip: ${DATA} is absent (MovieLens 100K)`);

let dir: string;
let cleanup: () => void;
let db: string;
let store: SqliteStore;
let activeId: number;

const PARAMS = { feedback: 'explicit' as const, factors: 16, lambda: 0.12, iterations: 8 };

beforeAll(async () => {
  if (!hasData) return;
  ({ dir, cleanup } = tempDir('ridgerec-spark-roundtrip-'));
  db = join(dir, 'r.db');
  store = openStore(db);
  await store.importRatings(DATA);
  const local = await store.fit({ ...PARAMS, lambdaScaling: 'count', seed: 0, threads: 1 });
  activeId = store.saveModel(local, { activate: true });
}, 120_000);
afterAll(() => {
  store?.close();
  cleanup?.();
});

describe.skipIf(!hasData)('MovieLens 100K through the Spark layout and back', () => {
  it('exports the ratings with dense ids and the id maps, leaving out the holdout', async () => {
    const r = await runInProcess(['export', 'ratings', join(dir, 'export'), '--holdout', '0.1', '--db', db, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      ratings: number;
      users: number;
      items: number;
      holdout: { heldOut: number; totalRatings: number };
    };
    expect(out.holdout.totalRatings).toBe(100_000);
    expect(out.ratings + out.holdout.heldOut).toBe(100_000);
    expect(out.holdout.heldOut).toBeGreaterThan(9_000);
    const ratings = await readRatingsFile(join(dir, 'export', 'ratings.parquet'));
    expect(ratings.users.length).toBe(out.ratings);
    const users = await readIdMap(join(dir, 'export', 'users.parquet'));
    expect(users.ids.length).toBe(out.users);
    expect(Math.max(...ratings.users)).toBe(out.users - 1);
    expect(Math.max(...ratings.items)).toBe(out.items - 1);
    // Dense id 0 is the first user in the database's order, MovieLens user 196 (the first line of u.data).
    expect(users.external[0]).toBe('196');
    // Each row keeps its rating's value and timestamp: check the first rows against u.data.
    const items = await readIdMap(join(dir, 'export', 'items.parquet'));
    const lines = new Map<string, readonly [number, bigint]>(
      readFileSync(DATA, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split('\t'))
        .map(([u, i, v, t]) => [`${u}|${i}`, [Number(v), BigInt(t!)]]),
    );
    for (let e = 0; e < 50; e++) {
      const key = `${users.external[ratings.users[e]!]}|${items.external[ratings.items[e]!]}`;
      expect([ratings.values[e], ratings.ts[e]]).toEqual(lines.get(key));
    }
  });

  it('a Spark model that is much worse fails the gate: retired, the active model stays', async () => {
    await standInTrain(join(dir, 'export'), join(dir, 'bad-model'), { ...PARAMS, lambda: 30 });
    const r = await runInProcess(['retrain', '--candidate', `spark:${join(dir, 'bad-model')}`, '--threads', '1', '--db', db, '--json']);
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout) as {
      candidate: number;
      activated: boolean;
      metrics: { candidate: { rmse: number }; active: { rmse: number } };
    };
    expect(out.activated).toBe(false);
    expect(out.metrics.candidate.rmse).toBeGreaterThan(out.metrics.active.rmse + 0.05);
    expect(store.activeModelId()).toBe(activeId);
    expect(store.getModel(out.candidate).status).toBe('retired');
  }, 120_000);

  it('the Spark-trained model passes the gate on the same holdout, is activated and served over HTTP', async () => {
    const modelDir = join(dir, 'spark-model');
    const trained = await standInTrain(join(dir, 'export'), modelDir, PARAMS);
    expect(trained.params.lambdaScaling).toBe('count');
    const r = await runInProcess([
      'retrain',
      '--candidate',
      `spark:${modelDir}`,
      '--threads',
      '1',
      '--max-regression',
      '0.02',
      '--db',
      db,
      '--json',
    ]);
    expect(r.stderr).toContain('per-user holdout 0.1 seed 0'); // the export's split, read from its manifest
    expect(r.stderr).not.toContain('warning');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      candidate: number;
      active: number;
      activated: boolean;
      metrics: { candidate: { rmse: number }; active: { rmse: number } };
    };
    expect(out.activated).toBe(true);
    expect(out.active).toBe(activeId);
    expect(out.metrics.candidate.rmse).toBeLessThan(1.0);
    expect(Math.abs(out.metrics.candidate.rmse - out.metrics.active.rmse)).toBeLessThan(0.02);
    expect(store.activeModelId()).toBe(out.candidate);

    // Served: the HTTP answers are the imported model's own.
    const rec = createRecommender({ store, precompute: false });
    try {
      const app = createApp({ recommender: rec, logger: pino({ level: 'silent' }) });
      const res = await request(app).get('/v1/users/196/recommendations?limit=5');
      expect(res.status).toBe(200);
      expect(res.body.model).toBe(out.candidate);
      expect(res.body.source).toBe('model');
      const direct = (await readSparkModel(modelDir, { ratings: store.ratings() })).recommend('196', { limit: 5 });
      expect(res.body.items.map((x: { item: string }) => x.item)).toEqual(direct.items.map((x) => x.item));
      const rated = new Set(store.userRatings('196').map((x) => x.item));
      expect(res.body.items.some((x: { item: string }) => rated.has(x.item))).toBe(false);
    } finally {
      await rec.close();
    }
  }, 120_000);

  it('warns when the model does not say which ratings it left out, and refuses a conflicting holdout', async () => {
    const modelDir = join(dir, 'spark-model');
    const manifest = readFileSync(join(modelDir, 'export.json'), 'utf8');
    expect(manifest).toContain('"fraction": 0.1');
    const conflict = await runInProcess(['retrain', '--candidate', `spark:${modelDir}`, '--holdout', '0.2', '--db', db, '--json']);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toContain('drop --holdout/--seed');
    rmSync(join(modelDir, 'export.json'));
    const r = await runInProcess([
      'retrain',
      '--candidate',
      `spark:${modelDir}`,
      '--threads',
      '1',
      '--max-regression',
      '1',
      '--db',
      db,
      '--json',
    ]);
    expect(r.stderr).toContain('warning: Spark model');
    expect(r.stderr).toContain('optimistic');
    expect(r.code).toBe(0);
  }, 120_000);

  it('refuses training flags and a --candidate that is not spark:DIR (usage errors, exit 2)', async () => {
    const flags = await runInProcess(['retrain', '--candidate', `spark:${join(dir, 'spark-model')}`, '--lambda', '0.3', '--db', db]);
    expect(flags.code).toBe(2);
    expect(flags.stderr).toContain('--lambda cannot apply to it');
    const kind = await runInProcess(['retrain', '--candidate', 'mlflow:x', '--db', db]);
    expect(kind.code).toBe(2);
    expect(kind.stderr).toContain('--candidate must be spark:DIR');
    const none = await runInProcess(['retrain', '--candidate', `spark:${join(dir, 'nowhere')}`, '--db', db]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no such directory');
  });
});
