/**
 * createRouter mounted under a prefix in a user's own Express app: the API answers under /recs
 * with its usual contract (recommendations, similar items, fold-in, the JSON error shape, the API
 * key on writes), and everything outside it — the host's routes, its 404 and its error handler —
 * behaves as if ridgerec were not there. Real SQLite file, real (tiny) trained model.
 */
import express, { type ErrorRequestHandler, type Express } from 'express';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecommender, createRouter, type Recommender } from '../../src/index.js';
import { storeFromDb } from '../../src/store/store.js';
import { fixtureDb, trainModel, type Fixture } from './fixture.js';

const KEY = 'host-secret';
const silent = pino({ level: 'silent' });

/** A host app with its own routes, 404 and error handler, and ridgerec mounted at /recs. */
function hostApp(recommender: Recommender, options: { globalJson?: boolean } = {}): Express {
  const app = express();
  if (options.globalJson) app.use(express.json());
  app.get('/', (_req, res) => {
    res.type('text/plain').send('host home');
  });
  app.get('/boom', () => {
    throw new Error('host route failed');
  });
  app.post('/echo', express.json(), (req, res) => {
    res.json({ echoed: req.body });
  });
  app.use('/recs', createRouter({ recommender, apiKey: KEY, logger: silent }));
  app.use((req, res) => {
    res.status(404).type('text/plain').send(`host: nothing at ${req.originalUrl}`);
  });
  const onError: ErrorRequestHandler = (err: Error, _req, res, _next) => {
    res.status(500).type('text/plain').send(`host error: ${err.message}`);
  };
  app.use(onError);
  return app;
}

const ids = (body: { items: { item: string }[] }) => body.items.map((x) => x.item);

describe('createRouter mounted at /recs in a host Express app', () => {
  let fx: Fixture;
  let rec: Recommender;
  let app: Express;
  let modelId: number;

  beforeAll(async () => {
    fx = fixtureDb();
    modelId = await trainModel(fx.db);
    rec = createRecommender({ store: storeFromDb(fx.db), precompute: false });
    app = hostApp(rec);
  });
  afterAll(async () => {
    await rec.close();
    fx.cleanup();
  });

  it('GET /recs/v1/users/:user/recommendations answers as the standalone API does', async () => {
    const res = await request(app).get('/recs/v1/users/a1/recommendations?limit=3');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({ user: 'a1', model: modelId, source: 'model' });
    expect(ids(res.body)).toEqual(['x4', 'y4']);
    expect(res.body.items[0].title).toBe('Title x4');
    const excluded = await request(app).get('/recs/v1/users/a1/recommendations?exclude=x4');
    expect(ids(excluded.body)).toEqual(['y4']);
  });

  it('GET /recs/v1/items/:item/similar returns neighbours; an unknown item is a 404 unknown_item in the API shape', async () => {
    const res = await request(app).get('/recs/v1/items/x1/similar?limit=3');
    expect(res.status).toBe(200);
    expect(res.body.item).toBe('x1');
    expect(new Set(ids(res.body))).toEqual(new Set(['x2', 'x3', 'x4']));
    const missing = await request(app).get('/recs/v1/items/zzz/similar');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toMatch(/^application\/json/);
    expect(missing.body).toEqual({
      error: { code: 'unknown_item', message: `item "zzz" is not in model ${modelId}`, details: { item: 'zzz' } },
    });
  });

  it('POST /recs/v1/recommendations folds in an anonymous list (open even with an API key)', async () => {
    const res = await request(app)
      .post('/recs/v1/recommendations')
      .send({
        ratings: [
          { item: 'y1', value: 5 },
          { item: 'y2', value: 5 },
          { item: 'x1', value: 1 },
        ],
        limit: 2,
      });
    expect(res.status).toBe(200);
    expect(res.body.source).toBe('fold-in');
    expect(res.body.model).toBe(modelId);
    expect(new Set(ids(res.body))).toEqual(new Set(['y3', 'y4']));
    const bad = await request(app)
      .post('/recs/v1/recommendations')
      .send({ ratings: [{ item: 'y1', value: 'five' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_input');
  });

  it('writes under the prefix need the key: 401 unauthorized without it, accepted with it', async () => {
    const rating = { user: 'mounted-newbie', item: 'x1', value: 5 };
    const denied = await request(app).post('/recs/v1/ratings').send(rating);
    expect(denied.status).toBe(401);
    expect(denied.body.error.code).toBe('unauthorized');
    expect(denied.headers['www-authenticate']).toBe('Bearer realm="ridgerec"');
    expect((await request(app).delete('/recs/v1/users/a2')).status).toBe(401);
    expect((await request(app).get('/recs/v1/users/mounted-newbie/recommendations')).body.source).toBe('popular');

    const ok = await request(app).post('/recs/v1/ratings').set('Authorization', `Bearer ${KEY}`).send(rating);
    expect(ok.status).toBe(201);
    expect(ok.body).toEqual({ accepted: 1 });
    const next = await request(app).get('/recs/v1/users/mounted-newbie/recommendations?limit=3');
    expect(next.body.source).toBe('fold-in');
    expect(ids(next.body)).not.toContain('x1');
  });

  it("the router's own body parsing and error shape apply under the prefix: broken JSON is a 400 invalid_json", async () => {
    const res = await request(app)
      .post('/recs/v1/ratings')
      .set('Authorization', `Bearer ${KEY}`)
      .set('Content-Type', 'application/json')
      .send('{"user": ');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_json');
  });

  it("leaves the host's routes, 404s and error handler alone", async () => {
    const home = await request(app).get('/');
    expect(home.status).toBe(200);
    expect(home.text).toBe('host home');
    const echo = await request(app).post('/echo').send({ a: 1 });
    expect(echo.body).toEqual({ echoed: { a: 1 } });

    // The API's paths without the prefix are the host's 404, not the API's.
    const unprefixed = await request(app).get('/v1/users/a1/recommendations');
    expect(unprefixed.status).toBe(404);
    expect(unprefixed.text).toBe('host: nothing at /v1/users/a1/recommendations');
    // A path under the prefix that the API does not know falls through to the host's 404 too.
    const unknown = await request(app).get('/recs/v2/nothing');
    expect(unknown.status).toBe(404);
    expect(unknown.text).toBe('host: nothing at /recs/v2/nothing');
    // Routes of the standalone server (createApp) are not part of the router.
    expect((await request(app).get('/recs/health')).text).toBe('host: nothing at /recs/health');

    // A host route's error reaches the host's error handler, not ridgerec's.
    const boom = await request(app).get('/boom');
    expect(boom.status).toBe(500);
    expect(boom.text).toBe('host error: host route failed');
    // Broken JSON outside the prefix is the host's business as well.
    const broken = await request(app).post('/echo').set('Content-Type', 'application/json').send('{oops');
    expect(broken.status).toBe(500);
    expect(broken.text).toMatch(/^host error: /);
  });

  it('works behind a host that parses JSON bodies itself (app.use(express.json()) before the router)', async () => {
    const withJson = hostApp(rec, { globalJson: true });
    const res = await request(withJson)
      .post('/recs/v1/recommendations')
      .send({ ratings: [{ item: 'x2', value: 5 }], limit: 1, exclude: ['x4'] });
    expect(res.status).toBe(200);
    expect(res.body.source).toBe('fold-in');
    expect(ids(res.body)).toHaveLength(1);
    expect(['x1', 'x3']).toContain(ids(res.body)[0]);
    const bad = await request(withJson)
      .post('/recs/v1/ratings')
      .set('Authorization', `Bearer ${KEY}`)
      .send({ user: 'u', item: 'x1', value: 'high' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_input');
  });
});
