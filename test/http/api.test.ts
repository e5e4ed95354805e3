/**
 * The HTTP API end to end: supertest drives createApp in-process over the real recommender, a real
 * SQLite file and a real (tiny) trained model. Every route, fold-in, the real-time update after
 * POST /v1/ratings, DELETE, the model routes and 503 before any model exists.
 */
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Express } from 'express';
import { createApp } from '../../src/http/app.js';
import { ratingStats, userRatings } from '../../src/ratings/store.js';
import { storeFromDb } from '../../src/store/store.js';
import { createRecommender, type Recommender } from '../../src/serving/recommender.js';
import { X, fixtureDb, trainModel, type Fixture } from './fixture.js';

const silent = pino({ level: 'silent' });

describe('HTTP API over a real recommender', () => {
  let fx: Fixture;
  let rec: Recommender;
  let app: Express;
  let modelId: number;

  beforeAll(async () => {
    fx = fixtureDb();
    modelId = await trainModel(fx.db);
    rec = createRecommender({ store: storeFromDb(fx.db), precompute: false });
    app = createApp({ recommender: rec, logger: silent });
  });
  afterAll(async () => {
    await rec.close();
    fx.cleanup();
  });

  it('GET /health names the active model', async () => {
    const res = await request(app).get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', model: modelId });
  });

  it("GET /v1/users/:user/recommendations ranks the held-out item of the user's taste first", async () => {
    const res = await request(app).get('/v1/users/a1/recommendations?limit=3');
    expect(res.status).toBe(200);
    expect(res.body.user).toBe('a1');
    expect(res.body.model).toBe(modelId);
    expect(res.body.source).toBe('model');
    expect(res.body.items).toHaveLength(2); // a1 rated 6 of 8 items: only x4 and y4 are left
    expect(res.body.items[0]).toMatchObject({ item: 'x4', title: 'Title x4' });
    expect(res.body.items.map((x: { item: string }) => x.item)).toEqual(['x4', 'y4']);
    // Explicit model: the score is a predicted star rating, x4 near 5, y4 near 1.
    expect(res.body.items[0].score).toBeGreaterThan(3.5);
    expect(res.body.items[1].score).toBeLessThan(2.5);
    const b1 = await request(app).get('/v1/users/b1/recommendations');
    expect(b1.body.items[0].item).toBe('y4');
  });

  it('honours exclude and includeRated', async () => {
    const ex = await request(app).get('/v1/users/a1/recommendations?exclude=x4,not-an-item');
    expect(ex.status).toBe(200);
    expect(ex.body.items.map((x: { item: string }) => x.item)).toEqual(['y4']);
    const all = await request(app).get('/v1/users/a1/recommendations?includeRated=true&limit=8');
    const ids = all.body.items.map((x: { item: string }) => x.item);
    expect(ids).toHaveLength(8);
    expect(new Set(ids.slice(0, 4))).toEqual(new Set(X));
  });

  it('answers an unknown user without ratings with popular items', async () => {
    const res = await request(app).get('/v1/users/stranger/recommendations?limit=5');
    expect(res.status).toBe(200);
    expect(res.body.source).toBe('popular');
    expect(res.body.items).toHaveLength(5);
  });

  it('rejects bad query parameters with 400 naming the parameter', async () => {
    for (const q of ['limit=0', 'limit=1001', 'limit=ten', 'includeRated=maybe']) {
      const res = await request(app).get(`/v1/users/a1/recommendations?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.error.code).toBe('invalid_input');
      expect(res.body.error.message).toMatch(new RegExp(`^${q.split('=')[0]}: `));
    }
  });

  it('GET /v1/items/:item/similar returns cosine neighbours, 404 unknown_item for an unknown item', async () => {
    const res = await request(app).get('/v1/items/x1/similar?limit=7');
    expect(res.status).toBe(200);
    expect(res.body.item).toBe('x1');
    expect(res.body.model).toBe(modelId);
    const ids = res.body.items.map((x: { item: string }) => x.item);
    expect(ids).toHaveLength(7);
    expect(ids).not.toContain('x1');
    expect(new Set(ids.slice(0, 3))).toEqual(new Set(['x2', 'x3', 'x4']));
    for (const x of res.body.items) expect(Math.abs(x.score)).toBeLessThanOrEqual(1);
    expect(res.body.items[0].title).toBe(`Title ${ids[0]}`);
    const missing = await request(app).get('/v1/items/nope/similar');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('unknown_item');
  });

  it('POST /v1/recommendations folds in an anonymous list', async () => {
    const res = await request(app)
      .post('/v1/recommendations')
      .send({
        ratings: [
          { item: 'y1', value: 5 },
          { item: 'y2', value: 5 },
          { item: 'x1', value: 1 },
        ],
        limit: 3,
        exclude: ['y4'],
      });
    expect(res.status).toBe(200);
    expect(res.body.source).toBe('fold-in');
    expect(res.body.model).toBe(modelId);
    const ids = res.body.items.map((x: { item: string }) => x.item);
    expect(ids).not.toContain('y4');
    expect(ids).not.toContain('y1');
    expect(ids[0]).toBe('y3');
    const unknown = await request(app)
      .post('/v1/recommendations')
      .send({ ratings: [{ item: 'zzz', value: 5 }] });
    expect(unknown.status).toBe(200);
    expect(unknown.body.source).toBe('popular');
    const bad = await request(app)
      .post('/v1/recommendations')
      .send({ ratings: [{ item: 'y1', value: '5' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('ratings[0].value: must be a finite number');
  });

  it('POST /v1/ratings stores and the very next recommendation reflects it (new user → fold-in)', async () => {
    const before = ratingStats(fx.db).ratings;
    const res = await request(app)
      .post('/v1/ratings')
      .send({
        ratings: [
          { user: 'newbie', item: 'x1', value: 5, timestamp: 1_600_000_000 },
          { user: 'newbie', item: 'x2', value: 5 },
          { user: 'newbie', item: 'y1', value: 1 },
        ],
      });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ accepted: 3 });
    expect(ratingStats(fx.db).ratings).toBe(before + 3);
    const stamp = fx.db
      .prepare(
        `SELECT r.updated_at FROM ratings r JOIN users u ON u.id = r.user_id JOIN items i ON i.id = r.item_id
          WHERE u.external_id = 'newbie' AND i.external_id = ?`,
      )
      .pluck();
    expect(stamp.get('x1')).toBe(1_600_000_000);
    expect(Math.abs((stamp.get('x2') as number) - Date.now() / 1000)).toBeLessThan(60);
    const recs = await request(app).get('/v1/users/newbie/recommendations?limit=5');
    expect(recs.body.source).toBe('fold-in');
    const ids = recs.body.items.map((x: { item: string }) => x.item);
    expect(ids).not.toContain('x1');
    expect(ids).not.toContain('x2');
    expect(ids).not.toContain('y1');
    expect(new Set(ids.slice(0, 2))).toEqual(new Set(['x3', 'x4']));
  });

  it('a known user who rates an item stops being shown it at once', async () => {
    const first = await request(app).get('/v1/users/a1/recommendations');
    expect(first.body.items[0].item).toBe('x4');
    const post = await request(app).post('/v1/ratings').send({ user: 'a1', item: 'x4', value: 5 });
    expect(post.status).toBe(201);
    expect(post.body).toEqual({ accepted: 1 });
    const next = await request(app).get('/v1/users/a1/recommendations');
    expect(next.status).toBe(200);
    expect(next.body.items.map((x: { item: string }) => x.item)).toEqual(['y4']);
  });

  it('rejects a batch with one invalid element and stores none of it', async () => {
    const before = ratingStats(fx.db);
    const res = await request(app)
      .post('/v1/ratings')
      .send({
        ratings: [
          { user: 'c1', item: 'x1', value: 5 },
          { user: 'c1', item: 'x2', value: 4 },
          { user: 'c1', item: 'x3', value: Number('1e400') },
        ],
      });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('ratings[2].value: must be a finite number');
    expect(ratingStats(fx.db)).toEqual(before);
    expect(userRatings(fx.db, 'c1')).toEqual([]);
  });

  it('DELETE /v1/users/:user deletes the ratings and forgets the fold-in', async () => {
    await request(app)
      .post('/v1/ratings')
      .send({
        ratings: [
          { user: 'gone', item: 'y1', value: 5 },
          { user: 'gone', item: 'y2', value: 5 },
        ],
      });
    expect((await request(app).get('/v1/users/gone/recommendations')).body.source).toBe('fold-in');
    const del = await request(app).delete('/v1/users/gone');
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect(userRatings(fx.db, 'gone')).toEqual([]);
    const after = await request(app).get('/v1/users/gone/recommendations');
    expect(after.body.source).toBe('popular');
    expect((await request(app).delete('/v1/users/gone')).status).toBe(204); // idempotent
  });

  it('GET /v1/model describes the model; POST /v1/admin/reload reloads it', async () => {
    const res = await request(app).get('/v1/model');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: modelId, feedback: 'explicit', users: 8, items: 8, metrics: { rmse: 0.1 } });
    expect(res.body.params).toMatchObject({ factors: 2, lambda: 0.05 });
    expect(Number.isFinite(Date.parse(res.body.createdAt))).toBe(true);
    const reload = await request(app).post('/v1/admin/reload');
    expect(reload.status).toBe(200);
    expect(reload.body).toEqual({ model: modelId });
  });

  it('GET /metrics reports the model id', async () => {
    const res = await request(app).get('/metrics');
    expect(res.text).toContain(`ridgerec_model_id ${modelId}`);
  });
});

describe('before any model is trained', () => {
  it('answers 503 no_model for model-backed routes and reports model null', async () => {
    const fx = fixtureDb();
    const rec = createRecommender({ store: storeFromDb(fx.db), precompute: false });
    try {
      const app = createApp({ recommender: rec, logger: silent });
      expect((await request(app).get('/health')).body).toEqual({ status: 'ok', model: null });
      for (const res of [
        await request(app).get('/v1/users/a1/recommendations'),
        await request(app).get('/v1/items/x1/similar'),
        await request(app).post('/v1/recommendations').send({ ratings: [] }),
        await request(app).get('/v1/model'),
      ]) {
        expect(res.status).toBe(503);
        expect(res.body.error.code).toBe('no_model');
      }
      // Writes do not need a model.
      expect((await request(app).post('/v1/ratings').send({ user: 'u', item: 'x1', value: 3 })).status).toBe(201);
      // Once a model is activated, reload picks it up without a restart.
      const id = await trainModel(fx.db);
      const reload = await request(app).post('/v1/admin/reload');
      expect(reload.body).toEqual({ model: id });
      expect((await request(app).get('/v1/users/a1/recommendations')).body.model).toBe(id);
    } finally {
      await rec.close();
      fx.cleanup();
    }
  });
});
