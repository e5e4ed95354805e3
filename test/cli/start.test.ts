/**
 * `start` (npm start): on an empty database it loads the demo shop and trains a model whose
 * recommendations visibly follow the planted tastes; a second run neither reloads nor retrains;
 * the real CLI then serves that database.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDatabase, type PrepareReport } from '../../src/cli/start.js';
import { openDatabase, type Db } from '../../src/db/connection.js';
import { demoCategoryOf, generateDemoShop } from '../../src/demo/shop.js';
import { createApp } from '../../src/http/app.js';
import { listModels } from '../../src/model/registry.js';
import { getItem } from '../../src/ratings/catalogue.js';
import { ratingStats, upsertRatings } from '../../src/ratings/store.js';
import { storeFromDb } from '../../src/store/store.js';
import { createRecommender } from '../../src/serving/recommender.js';
import { tempDir, type TempDir } from '../helpers/temp.js';
import { fixtureRatings } from '../http/fixture.js';
import { startCli } from './spawn-cli.js';

describe('start on an empty database', () => {
  let tmp: TempDir;
  let path: string;
  let db: Db;
  let first: PrepareReport;
  const said: string[] = [];

  beforeAll(async () => {
    tmp = tempDir('ridgerec-start-');
    path = join(tmp.dir, 'shop.db');
    db = openDatabase(path);
    first = await prepareDatabase(db, { say: (l) => said.push(l) });
  });
  afterAll(() => {
    if (db.open) db.close();
    tmp.cleanup();
  });

  it('loads the demo shop and trains an implicit model', () => {
    expect(first.demo).toMatchObject({ items: 500, users: 2000 });
    expect(first.demo!.ratings).toBe(generateDemoShop().purchases.length);
    expect(ratingStats(db)).toMatchObject({ users: 2000, items: 500, ratings: first.demo!.ratings });
    expect(first.trained).toMatchObject({ id: first.model, feedback: 'implicit', users: 2000, items: 500 });
    expect(said[0]).toMatch(/^loaded the demo shop: 500 products/);
    expect(said.at(-1)).toMatch(new RegExp(`^trained and activated model ${first.model} in [\\d.]+ s$`));
    console.log(`start: demo load ${first.demo!.seconds.toFixed(2)} s, load+train ${first.trained!.seconds.toFixed(2)} s`);
  });

  it("recommends mostly from each user's favourite categories (≥ 80% of top-10, first 50 users)", async () => {
    const shop = generateDemoShop();
    const rec = createRecommender({ store: storeFromDb(db), precompute: false });
    try {
      const app = createApp({ recommender: rec, logger: pino({ level: 'silent' }) });
      let share = 0;
      for (const u of shop.users.slice(0, 50)) {
        const res = await request(app).get(`/v1/users/${u.id}/recommendations?limit=10`);
        expect(res.status).toBe(200);
        expect(res.body.source).toBe('model');
        expect(res.body.items).toHaveLength(10);
        share += res.body.items.filter((x: { item: string }) => u.favourites.includes(demoCategoryOf(x.item)!)).length / 10;
      }
      share /= 50;
      console.log(`start: ${(share * 100).toFixed(1)}% of top-10 in the user's favourite categories (first 50 users)`);
      expect(share).toBeGreaterThanOrEqual(0.8);
      // What the README shows: demo-1's list, with titles.
      const demo1 = await request(app).get('/v1/users/demo-1/recommendations?limit=5');
      expect(demo1.body.items[0]).toEqual({
        item: expect.stringMatching(/^[a-z]+-\d{3}$/),
        score: expect.any(Number),
        title: expect.any(String),
      });
      // Similar items stay in the category: hiking gear → hiking gear.
      const similar = await request(app).get('/v1/items/hiking-001/similar?limit=5');
      const inCategory = similar.body.items.filter((x: { item: string }) => demoCategoryOf(x.item) === 'hiking').length;
      expect(inCategory).toBeGreaterThanOrEqual(4);
    } finally {
      await rec.close();
    }
  });

  it("writes each product's category to the catalogue, so the category rules work on the demo shop", async () => {
    const rec = createRecommender({ store: storeFromDb(db), precompute: false });
    try {
      const app = createApp({ recommender: rec, logger: pino({ level: 'silent' }) });
      const item = await request(app).get('/v1/items/hiking-001');
      expect(item.body).toMatchObject({ item: 'hiking-001', title: 'Trail Backpack', categories: ['hiking'], active: true });
      expect(item.body.metadata).toMatchObject({ category: 'hiking', categoryName: 'Hiking' });
      // demo-1's list inside one category, and with at most 2 products of any category.
      const kitchen = await request(app).get('/v1/users/demo-1/recommendations?limit=8&category=kitchen');
      expect(kitchen.status).toBe(200);
      expect(kitchen.body.items.map((x: { item: string }) => demoCategoryOf(x.item))).toEqual(Array(8).fill('kitchen'));
      const capped = await request(app).get('/v1/users/demo-1/recommendations?limit=10&maxPerCategory=2');
      const counts = new Map<string, number>();
      for (const x of capped.body.items as { item: string }[])
        counts.set(demoCategoryOf(x.item)!, (counts.get(demoCategoryOf(x.item)!) ?? 0) + 1);
      expect(capped.body.items).toHaveLength(10);
      expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);
      const cheap = await request(app).get('/v1/users/demo-1/recommendations?limit=5&where=price<50');
      expect(cheap.body.items).toHaveLength(5);
      for (const x of cheap.body.items as { item: string }[]) {
        expect((await request(app).get(`/v1/items/${x.item}`)).body.metadata.price).toBeLessThan(50);
      }
    } finally {
      await rec.close();
    }
  });

  it('gives the products of a demo loaded before items had categories their categories, and nothing else', async () => {
    db.prepare(`UPDATE items SET categories = '[]'`).run();
    const before = ratingStats(db);
    const lines: string[] = [];
    const again = await prepareDatabase(db, { say: (l) => lines.push(l) });
    expect(again).toEqual({ demo: null, trained: null, model: first.model });
    expect(lines).toEqual(['gave 500 demo products their category in the item catalogue (the category rules read it)']);
    expect(getItem(db, 'tea-003')).toMatchObject({ categories: ['tea'], title: 'Loose-Leaf Tea Infuser' });
    expect(ratingStats(db)).toEqual(before);
    // Once any product has a category, the catalogue is left alone.
    db.prepare(`UPDATE items SET categories = '[]' WHERE external_id = 'tea-003'`).run();
    await prepareDatabase(db);
    expect(getItem(db, 'tea-003')!.categories).toEqual([]);
    db.prepare(`UPDATE items SET categories = '["tea"]' WHERE external_id = 'tea-003'`).run();
  });

  it('is idempotent: a second run neither reloads the data nor retrains', async () => {
    const before = ratingStats(db);
    const second = await prepareDatabase(db);
    expect(second).toEqual({ demo: null, trained: null, model: first.model });
    expect(ratingStats(db)).toEqual(before);
    expect(listModels(db)).toHaveLength(1);
  });

  it('the real `start` command serves that database without reloading or retraining, and stops on SIGTERM', async () => {
    db.close();
    const cli = await startCli(['start', '--port', '0'], { RIDGEREC_DB: path });
    try {
      expect(cli.stdout()).toContain(`database ready (model ${first.model} active)`);
      expect(cli.stdout()).not.toMatch(/loaded the demo shop|training/);
      expect(cli.stdout()).toMatch(/try: curl '.*\/v1\/users\/demo-1\/recommendations/);
      const res = await fetch(`${cli.url}/v1/users/demo-1/recommendations?limit=3`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { model: number; items: { title?: string }[] };
      expect(body.model).toBe(first.model);
      expect(body.items[0]!.title).toEqual(expect.any(String));
    } finally {
      expect(await cli.stop('SIGTERM')).toBe(0);
    }
    db = openDatabase(path);
    expect(listModels(db)).toHaveLength(1);
  });

  it('reads $HOST like serve, and on a public address without a key is read-only (403 writes_disabled) with a warning', async () => {
    db.close();
    const cli = await startCli(['start', '--port', '0'], { RIDGEREC_DB: path, HOST: '0.0.0.0' });
    try {
      expect(cli.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
      expect(cli.stderr()).toMatch(/without RIDGEREC_API_KEY: the server is read-only/);
      const res = await fetch(`${cli.url.replace('0.0.0.0', '127.0.0.1')}/v1/users/demo-1`, { method: 'DELETE' });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('writes_disabled');
    } finally {
      expect(await cli.stop('SIGTERM')).toBe(0);
    }
    db = openDatabase(path);
    expect(ratingStats(db).ratings).toBeGreaterThan(0);
  });
});

describe('start on a database that already has (non-demo) ratings', () => {
  it('trains on them with the detected feedback and loads no demo data', async () => {
    const tmp = tempDir('ridgerec-start-');
    const db = openDatabase(join(tmp.dir, 'own.db'));
    try {
      upsertRatings(db, fixtureRatings());
      const report = await prepareDatabase(db, { params: { factors: 2, iterations: 5, threads: 1 } });
      expect(report.demo).toBeNull();
      expect(report.trained).toMatchObject({ feedback: 'explicit', factors: 2, users: 8, items: 8 });
      expect(ratingStats(db).ratings).toBe(fixtureRatings().length);
    } finally {
      db.close();
      tmp.cleanup();
    }
  });
});
