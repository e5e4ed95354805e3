/**
 * The dashboard's HTTP side without a browser: the static files (CSP, caching, hashed assets,
 * uPlot from node_modules) and the JSON routes over a real SQLite store with a real model.
 */
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { bucketQuantile, bestIndex, CONTENT_SECURITY_POLICY, tuningCurves } from '../../src/http/routes/dashboard.js';
import { listModels } from '../../src/model/registry.js';
import { saveTuningResult } from '../../src/model/tuning-store.js';
import { writeItems } from '../../src/ratings/catalogue.js';
import { createRecommender, type ServingRecommender } from '../../src/serving/recommender.js';
import { dashboardStore } from '../../src/store/dashboard.js';
import { storeFromDb } from '../../src/store/store.js';
import { resolveParams } from '../../src/training/params.js';
import { fixtureDb, trainModel, X, Y, type Fixture } from '../http/fixture.js';

const silent = pino({ level: 'silent' });

describe('dashboard routes over a real store', () => {
  let fx: Fixture;
  let rec: ServingRecommender;
  let app: ReturnType<typeof createApp>;
  let keyed: ReturnType<typeof createApp>;
  let first: number;
  let second: number;

  beforeAll(async () => {
    fx = fixtureDb();
    writeItems(
      fx.db,
      [...X, ...Y].map((id) => ({ id, patch: { categories: [id.startsWith('x') ? 'xs' : 'ys'] } })),
      false,
    );
    first = await trainModel(fx.db, { seed: 1 });
    second = await trainModel(fx.db, { seed: 2, activate: false });
    rec = createRecommender({ store: storeFromDb(fx.db), precompute: false });
    const dashboard = dashboardStore(fx.db);
    app = createApp({ recommender: rec, logger: silent, dashboard });
    keyed = createApp({ recommender: rec, logger: silent, dashboard, apiKey: 's3cret' });
  });
  afterAll(async () => {
    await rec.close();
    fx.cleanup();
  });

  it('serves index.html at / with a strict CSP, no-cache, and hashed asset links', async () => {
    const res = await request(app).get('/');
    expect(res.status).toBe(200);
    expect(res.type).toBe('text/html');
    expect(res.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(res.headers['cache-control']).toBe('no-cache');
    const assets = [...res.text.matchAll(/(?:src|href)="(assets\/[0-9a-f]{12}\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(
      expect.arrayContaining([expect.stringMatching(/js\/app\.js$/), expect.stringMatching(/vendor\/uPlot\.min\.css$/)]),
    );
    // No inline script or style, nothing from another origin.
    expect(res.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(res.text).not.toMatch(/<style|style="|https?:\/\//);
    for (const a of assets) {
      const r = await request(app).get(`/${a}`);
      expect(r.status, a).toBe(200);
      expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(r.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    }
    const hash = /assets\/([0-9a-f]{12})\//.exec(res.text)![1];
    const uplot = await request(app).get(`/assets/${hash}/vendor/uPlot.esm.js`);
    expect(uplot.status).toBe(200);
    expect(uplot.type).toMatch(/javascript/);
    expect(uplot.text).toContain('export { uPlot as default }');
    // A stale hash is not served (the page always links the current one).
    expect((await request(app).get('/assets/000000000000/js/app.js')).status).toBe(404);
  });

  it('overview: the active model, the data, serving stats counting API requests by source, and auth', async () => {
    // A fresh app: its metrics start at zero.
    const app = createApp({ recommender: rec, logger: silent, dashboard: dashboardStore(fx.db) });
    await request(app).get('/'); // static files are not API requests
    for (let i = 0; i < 3; i++) expect((await request(app).get('/v1/users/a1/recommendations?limit=2')).status).toBe(200);
    expect((await request(app).get('/v1/users/nobody-here/recommendations')).status).toBe(200); // popular
    expect(
      (
        await request(app)
          .post('/v1/recommendations')
          .send({ ratings: [{ item: 'x1', value: 5 }] })
      ).status,
    ).toBe(200);
    expect((await request(app).get('/v1/users/a1/recommendations?limit=0')).status).toBe(400);
    await request(app).get('/v1/dashboard/categories'); // the dashboard's own reads are not counted
    const res = await request(app).get('/v1/dashboard/overview');
    expect(res.status).toBe(200);
    const ov = res.body;
    expect(ov.model).toMatchObject({ id: first, feedback: 'explicit', factors: 2, users: 8, items: 8 });
    expect(ov.model.trainSeconds).toBeGreaterThan(0);
    expect(ov.data).toMatchObject({ users: 8, items: 8, ratings: 60, minValue: 1, maxValue: 5 });
    expect(ov.data.distribution).toEqual([
      { from: 1, to: 1, count: 30 },
      { from: 5, to: 5, count: 30 },
    ]);
    expect(ov.serving.requests).toBe(6);
    expect(ov.serving.clientErrorRate).toBeCloseTo(1 / 6, 10);
    expect(ov.serving.errorRate).toBe(0);
    expect(ov.serving.sources).toEqual({ model: 3, 'fold-in': 1, popular: 1 });
    expect(ov.serving.p50Ms).toBeGreaterThan(0);
    expect(ov.serving.p99Ms).toBeGreaterThanOrEqual(ov.serving.p50Ms);
    expect(ov.precompute).toMatchObject({ status: 'off' });
    expect(ov.auth).toEqual({ keyRequired: false });
    expect((await request(keyed).get('/v1/dashboard/overview')).body.auth).toEqual({ keyRequired: true });
  });

  it('searches items by id, title or category with rating counts; rejects bad parameters', async () => {
    const all = await request(app).get('/v1/dashboard/items?limit=3');
    expect(all.body.total).toBe(8);
    expect(all.body.items.map((i: { item: string }) => i.item)).toEqual(['x1', 'x2', 'x3']);
    expect(all.body.items[0]).toMatchObject({ item: 'x1', title: 'Title x1', categories: ['xs'], active: true, ratings: 8 });
    expect(all.body.items[2].ratings).toBe(8);
    const byTitle = await request(app).get('/v1/dashboard/items?q=TITLE%20Y4');
    expect(byTitle.body.items.map((i: { item: string }) => i.item)).toEqual(['y4']);
    expect(byTitle.body.items[0].ratings).toBe(6); // b1 has not rated y4, a1 has not either
    const byCategory = await request(app).get('/v1/dashboard/items?category=ys&offset=2');
    expect(byCategory.body).toMatchObject({ total: 4 });
    expect(byCategory.body.items.map((i: { item: string }) => i.item)).toEqual(['y3', 'y4']);
    // LIKE wildcards in q are literal.
    expect((await request(app).get('/v1/dashboard/items?q=%25')).body.total).toBe(0);
    expect((await request(app).get('/v1/dashboard/items?q=_')).body.total).toBe(0);
    for (const [q, field] of [
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['offset=-1', 'offset'],
      ['active=maybe', 'active'],
      [`q=${'a'.repeat(257)}`, 'q'],
    ]) {
      const r = await request(app).get(`/v1/dashboard/items?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('invalid_input');
      expect(r.body.error.message).toContain(field);
    }
    const users = await request(app).get('/v1/dashboard/users?q=a&limit=2');
    expect(users.body.users).toEqual([
      { user: 'a1', ratings: 6 },
      { user: 'a2', ratings: 8 },
    ]);
    const cats = await request(app).get('/v1/dashboard/categories');
    expect(cats.body.categories).toEqual([
      { category: 'xs', items: 4, active: 4 },
      { category: 'ys', items: 4, active: 4 },
    ]);
  });

  it('per-iteration loss of the active model: one entry per iteration, J = data loss + λ·penalty', async () => {
    const res = await request(app).get('/v1/model/iterations');
    expect(res.status).toBe(200);
    expect(res.body.model).toBe(first);
    expect(res.body.iterations).toHaveLength(12);
    res.body.iterations.forEach((s: { iteration: number; loss: number; dataLoss: number; penalty: number }, i: number) => {
      expect(s.iteration).toBe(i + 1);
      expect(s.penalty).toBeGreaterThan(0);
      expect(s.dataLoss).toBeGreaterThan(0);
      expect(s.loss).toBeCloseTo(s.dataLoss + s.penalty, 6);
    });
    // The same numbers the registry's model carries.
    const loaded = storeFromDb(fx.db).loadModel(first).model.history;
    expect(res.body.iterations).toEqual(JSON.parse(JSON.stringify(loaded)));
  });

  it('tuning: null with a how-to before any tune, then the curves with the chosen point', async () => {
    const none = await request(app).get('/v1/tuning');
    expect(none.status).toBe(200);
    expect(none.body).toMatchObject({ tuning: null, running: null });
    expect(none.body.howTo).toMatch(/^npx ridgerec tune .*--grid "lambda=/);
    const point = (factors: number, lambda: number, metric: number, extra: Record<string, unknown> = {}) => ({
      params: {
        feedback: 'explicit',
        factors,
        lambda,
        'lambda-scaling': 'count',
        alpha: 0,
        iterations: 15,
        solver: 'cg',
        'cg-steps': 3,
        seed: 0,
        ...extra,
      },
      metric,
      std: 0.01,
      trainLoss: lambda,
      trainRmse: Math.sqrt(lambda),
      folds: [metric - 0.01, metric + 0.01],
      metrics: { rmse: metric },
      seconds: 1,
    });
    const results = [
      point(8, 0.1, 0.95),
      point(8, 0.3, 0.93),
      point(16, 0.1, 0.94),
      point(16, 0.3, 0.91),
      point(16, 0.3, 0.99, { alpha: 1 }), // a worse setting of another dimension: not plotted
      { ...point(16, 1, NaN), metric: null, std: null, error: 'failed' },
    ];
    saveTuningResult(fx.db, {
      feedback: 'explicit',
      metric: 'rmse',
      higherIsBetter: false,
      bestValue: 0.91,
      bestParams: resolveParams({ feedback: 'explicit', factors: 16, lambda: 0.3, lambdaScaling: 'count', alpha: 0, seed: 0 }),
      grid: { lambda: [0.1, 0.3, 1], factors: [8, 16], alpha: [0, 1] },
      source: 'test',
      results,
    });
    const res = await request(app).get('/v1/tuning');
    const t = res.body.tuning;
    expect(t).toMatchObject({ metric: 'rmse', higherIsBetter: false, bestValue: 0.91, bestIndex: 3, folds: 2, source: 'test' });
    expect(t.curves).toEqual([
      {
        factors: 8,
        points: [
          { lambda: 0.1, metric: 0.95, std: 0.01, trainLoss: 0.1, trainRmse: Math.sqrt(0.1), index: 0 },
          { lambda: 0.3, metric: 0.93, std: 0.01, trainLoss: 0.3, trainRmse: Math.sqrt(0.3), index: 1 },
        ],
      },
      {
        factors: 16,
        points: [
          { lambda: 0.1, metric: 0.94, std: 0.01, trainLoss: 0.1, trainRmse: Math.sqrt(0.1), index: 2 },
          { lambda: 0.3, metric: 0.91, std: 0.01, trainLoss: 0.3, trainRmse: Math.sqrt(0.3), index: 3 },
        ],
      },
    ]);
    expect(bestIndex({ bestParams: resolveParams({ feedback: 'explicit', factors: 99 }), results })).toBe(-1);
    expect(tuningCurves({ results: [], higherIsBetter: true })).toEqual([]);
    expect((await request(app).get('/v1/tuning?feedback=implicit')).body.tuning).toBeNull();
    expect((await request(app).get('/v1/tuning?feedback=stars')).status).toBe(400);
  });

  it('lists, activates and rolls back models, swapping the served model at once; guarded by the key', async () => {
    const list = await request(app).get('/v1/models');
    expect(list.body.activeModel).toBe(first);
    expect(list.body.models.map((m: { id: number; status: string }) => [m.id, m.status])).toEqual([
      [first, 'active'],
      [second, 'ready'],
    ]);
    expect(list.body.models[0].metrics).toMatchObject({ rmse: 0.1 });

    expect((await request(keyed).post(`/v1/models/${second}/activate`)).status).toBe(401);
    expect((await request(keyed).post('/v1/models/rollback').set('Authorization', 'Bearer nope')).status).toBe(401);
    expect(rec.modelId()).toBe(first);

    const act = await request(keyed).post(`/v1/models/${second}/activate`).set('Authorization', 'Bearer s3cret');
    expect(act.status).toBe(200);
    expect(act.body).toEqual({ activated: second, previous: first });
    expect(rec.modelId()).toBe(second);
    expect((await request(app).get('/v1/dashboard/overview')).body.model.id).toBe(second);

    const back = await request(app).post('/v1/models/rollback');
    expect(back.body).toEqual({ activated: first, previous: second });
    expect(rec.modelId()).toBe(first);

    const missing = await request(app).post('/v1/models/999/activate');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('model_not_found');
    expect((await request(app).post('/v1/models/zero/activate')).status).toBe(400);
    expect(listModels(fx.db).find((m) => m.status === 'active')!.id).toBe(first);
  });

  it('answers 409 when there is nothing to roll back to, and 503 for storage routes without a store', async () => {
    const fx2 = fixtureDb();
    try {
      await trainModel(fx2.db);
      const rec2 = createRecommender({ store: storeFromDb(fx2.db), precompute: false });
      const app2 = createApp({ recommender: rec2, logger: silent, dashboard: dashboardStore(fx2.db) });
      const r = await request(app2).post('/v1/models/rollback');
      expect(r.status).toBe(409);
      const bare = createApp({ recommender: rec2, logger: silent });
      expect((await request(bare).get('/v1/models')).status).toBe(503);
      const ov = await request(bare).get('/v1/dashboard/overview');
      expect(ov.status).toBe(200);
      expect(ov.body.data).toBeNull();
      await rec2.close();
    } finally {
      fx2.cleanup();
    }
  });
});

describe('bucketQuantile', () => {
  it('interpolates inside the bucket that reaches the rank (Prometheus histogram_quantile)', () => {
    // 10 requests ≤ 1 ms, 10 more ≤ 5 ms, none slower.
    const b: [number, number][] = [
      [0.001, 10],
      [0.005, 20],
      [Infinity, 20],
    ];
    expect(bucketQuantile(0.5, b)).toBeCloseTo(0.001, 12);
    expect(bucketQuantile(0.75, b)).toBeCloseTo(0.003, 12);
    expect(bucketQuantile(0.25, b)).toBeCloseTo(0.0005, 12);
    expect(
      bucketQuantile(0.99, [
        [0.001, 0],
        [Infinity, 4],
      ]),
    ).toBe(0.001);
    expect(bucketQuantile(0.5, [[Infinity, 0]])).toBeNull();
  });
});
