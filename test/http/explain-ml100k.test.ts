/**
 * Explanations on MovieLens 100K over HTTP: an explicit model trained on u.data with the u.item
 * titles, user 196 (39 ratings) and an anonymous basket of 200 ratings. Reads ../shared/data/ml-100k
 * and skips, saying so, when it is absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Express } from 'express';
import { createApp } from '../../src/http/app.js';
import { fit } from '../../src/model/fit.js';
import { saveModel } from '../../src/model/registry.js';
import { loadMatrix, upsertItems, upsertRatings } from '../../src/ratings/store.js';
import { createRecommender, type Recommender } from '../../src/serving/recommender.js';
import { storeFromDb } from '../../src/store/store.js';
import { tempDb, type TempDb } from '../helpers/temp.js';

const DIR = join(import.meta.dirname, '../../../shared/data/ml-100k');
const present = existsSync(join(DIR, 'u.data')) && existsSync(join(DIR, 'u.item'));
if (!present) console.log(`skipping the MovieLens 100K explanation tests: ${DIR} is absent`);

interface Part {
  item: string;
  title?: string;
  contribution: number;
}

const relClose = (a: number, b: number, what: string) =>
  expect(Math.abs(a - b), `${what}: ${a} vs ${b}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(b)));

describe.skipIf(!present)('explanations on MovieLens 100K', () => {
  let t: TempDb;
  let rec: Recommender;
  let app: Express;
  const titles = new Map<string, string>();
  const ratings: { user: string; item: string; value: number }[] = [];

  beforeAll(async () => {
    t = tempDb();
    for (const line of readFileSync(join(DIR, 'u.data'), 'utf8').trim().split('\n')) {
      const [user, item, value] = line.split('\t');
      ratings.push({ user: user!, item: item!, value: Number(value) });
    }
    for (const line of readFileSync(join(DIR, 'u.item'), 'latin1').trim().split('\n')) {
      const [id, title] = line.split('|');
      titles.set(id!, title!);
    }
    upsertRatings(t.db, ratings);
    upsertItems(
      t.db,
      [...titles].map(([id, title]) => ({ id, title })),
    );
    const model = await fit(loadMatrix(t.db), { feedback: 'explicit', factors: 32, iterations: 8, threads: 1, seed: 5 });
    saveModel(t.db, model, { activate: true });
    rec = createRecommender({ store: storeFromDb(t.db), precompute: false });
    app = createApp({ recommender: rec, logger: pino({ level: 'silent' }) });
  }, 120_000);
  afterAll(async () => {
    await rec?.close();
    t?.cleanup();
  });

  it("user 196: every recommended item has 3 because entries among 196's films, titled, largest first; the parts sum to the score", async () => {
    const mine = new Set(ratings.filter((r) => r.user === '196').map((r) => r.item));
    expect(mine.size).toBe(39);
    const res = await request(app).get('/v1/users/196/recommendations?limit=10&explain=3');
    expect(res.status).toBe(200);
    expect(res.body.source).toBe('model');
    const items = res.body.items as { item: string; score: number; because: Part[] }[];
    expect(items).toHaveLength(10);
    for (const it of items) {
      expect(it.because).toHaveLength(3);
      for (const p of it.because) {
        expect(mine.has(p.item)).toBe(true);
        expect(p.title).toBe(titles.get(p.item));
      }
      for (let j = 1; j < 3; j++) expect(it.because[j]!.contribution).toBeLessThanOrEqual(it.because[j - 1]!.contribution);
      const e = (await request(app).get(`/v1/users/196/recommendations/${it.item}/explanation?top=3`)).body as {
        score: number;
        contributions: Part[];
        rest: number;
        bias: { global: number; user: number; item: number };
      };
      expect(e.contributions).toEqual(it.because);
      const sum = e.contributions.reduce((s, c) => s + c.contribution, 0) + e.rest + e.bias.global + e.bias.user + e.bias.item;
      relClose(sum, e.score, `196/${it.item}`);
      expect(Math.abs(e.score - it.score)).toBeLessThan(0.5); // the re-solved vector is near the trained one
    }
  });

  it('an anonymous basket of 200 ratings: explain=50 lists 50 of the posted films for every item', async () => {
    const basket = ratings.filter((r) => r.user === '13').slice(0, 200); // user 13 rated 636 films
    expect(basket).toHaveLength(200);
    const res = await request(app)
      .post('/v1/recommendations')
      .send({ ratings: basket.map(({ item, value }) => ({ item, value })), limit: 10, explain: 50 });
    expect(res.status).toBe(200);
    expect(res.body.source).toBe('fold-in');
    const posted = new Set(basket.map((r) => r.item));
    for (const it of res.body.items as { item: string; because: Part[] }[]) {
      expect(it.because).toHaveLength(50);
      for (const p of it.because) expect(posted.has(p.item)).toBe(true);
    }
  });
});
