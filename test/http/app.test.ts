/**
 * The HTTP layer on its own (with an in-memory fake recommender): the error shape and every error
 * code, auth, request ids, metrics labels and the OpenAPI document. The end-to-end behaviour over a
 * real database and model is in api.test.ts.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { bearerMatches } from '../../src/http/auth.js';
import { openApiDocument } from '../../src/http/openapi.js';
import { fakeRecommender } from './fake-recommender.js';

const silent = pino({ level: 'silent' });

function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

function expectError(res: request.Response, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body.error.code).toBe(code);
  expect(typeof res.body.error.message).toBe('string');
  expect(res.body.error.message.length).toBeGreaterThan(10);
}

describe('error mapping', () => {
  it('answers 404 not_found for unknown routes and methods', async () => {
    const app = createApp({ recommender: fakeRecommender(), logger: silent });
    expectError(await request(app).get('/v2/nothing'), 404, 'not_found');
    expectError(await request(app).put('/v1/ratings'), 404, 'not_found');
  });

  it('answers 400 invalid_json for a malformed body and touches nothing', async () => {
    const rec = fakeRecommender();
    const app = createApp({ recommender: rec, logger: silent });
    const res = await request(app).post('/v1/ratings').set('Content-Type', 'application/json').send('{"user": "u",');
    expectError(res, 400, 'invalid_json');
    expect(rec.calls.addRatings).toHaveLength(0);
  });

  it('answers 413 payload_too_large over 1 MB', async () => {
    const rec = fakeRecommender();
    const app = createApp({ recommender: rec, logger: silent });
    const big = {
      ratings: Array.from({ length: 9000 }, (_, i) => ({ user: `user-${i}`.padEnd(60, 'x'), item: 'i'.repeat(60), value: 1 })),
    };
    expect(JSON.stringify(big).length).toBeGreaterThan(1024 * 1024);
    expectError(await request(app).post('/v1/ratings').send(big), 413, 'payload_too_large');
    expect(rec.calls.addRatings).toHaveLength(0);
  });

  it('answers 400 for a body that is not JSON at all', async () => {
    const app = createApp({ recommender: fakeRecommender(), logger: silent });
    const res = await request(app).post('/v1/ratings').type('form').send('user=u&item=i&value=1');
    expectError(res, 400, 'invalid_input');
    expect(res.body.error.message).toMatch(/Content-Type: application\/json/);
  });

  it('rejects a whole batch for one bad element, naming its index and field, and stores nothing', async () => {
    const rec = fakeRecommender();
    const app = createApp({ recommender: rec, logger: silent });
    const ratings = [
      { user: 'u', item: 'a', value: 1 },
      { user: 'u', item: 'b', value: 2 },
      { user: 'u', item: 'c', value: 3 },
      { user: 'u', item: 'd', value: null },
    ];
    const res = await request(app).post('/v1/ratings').send({ ratings });
    expectError(res, 400, 'invalid_input');
    expect(res.body.error.message).toBe('ratings[3].value: must be a finite number');
    expect(res.body.error.details.issues).toEqual([{ path: 'ratings[3].value', message: 'must be a finite number' }]);
    expect(rec.calls.addRatings).toHaveLength(0);
  });

  it('maps RidgerecErrors from the recommender: 404 unknown_item, 503 no_model', async () => {
    const app = createApp({ recommender: fakeRecommender(), logger: silent });
    expectError(await request(app).get('/v1/items/zzz/similar'), 404, 'unknown_item');
    const none = createApp({ recommender: fakeRecommender({ model: null }), logger: silent });
    expectError(await request(none).get('/v1/users/u/recommendations'), 503, 'no_model');
    expectError(await request(none).get('/v1/model'), 503, 'no_model');
    expectError(await request(none).post('/v1/admin/reload'), 503, 'no_model');
    expectError(await request(none).post('/v1/recommendations').send({ ratings: [] }), 503, 'no_model');
    expect((await request(none).get('/health')).body).toEqual({ status: 'ok', model: null });
  });

  it('turns an unexpected error into a bare 500 with the request id, logged with the stack, not leaked', async () => {
    const { logger, lines } = memoryLogger();
    const boom = new Error('secret internal detail /etc/passwd');
    const app = createApp({ recommender: fakeRecommender({ throwOnRecommend: boom }), logger });
    const res = await request(app).get('/v1/users/u/recommendations').set('X-Request-Id', 'req-abc-123');
    expectError(res, 500, 'internal_error');
    expect(res.body.error.details).toEqual({ requestId: 'req-abc-123' });
    expect(res.headers['x-request-id']).toBe('req-abc-123');
    expect(JSON.stringify(res.body)).not.toMatch(/secret|passwd|at .*\.ts/);
    const logged = lines.find((l) => l.msg === 'unhandled error');
    expect(logged?.reqId).toBe('req-abc-123');
    expect(JSON.stringify(logged?.err)).toMatch(/secret internal detail/);
  });

  it('mints a request id when none (or a weird one) is given', async () => {
    const app = createApp({ recommender: fakeRecommender(), logger: silent });
    const a = await request(app).get('/health');
    const b = await request(app).get('/health').set('X-Request-Id', 'bad id with spaces');
    expect(a.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  it('logs each request in one line: id, method, url, status, time; warn for 4xx', async () => {
    const { logger, lines } = memoryLogger();
    const app = createApp({ recommender: fakeRecommender(), logger });
    await request(app).get('/v1/users/u/recommendations?limit=2').set('X-Request-Id', 'r1');
    await request(app).get('/v1/users/u/recommendations?limit=0').set('X-Request-Id', 'r2');
    const line = lines.find((l) => l.msg === 'request completed' && (l.req as { id: string }).id === 'r1');
    expect(line?.req).toEqual({ id: 'r1', method: 'GET', url: '/v1/users/u/recommendations?limit=2', remoteAddress: expect.any(String) });
    expect(line?.res).toEqual({ statusCode: 200 });
    expect(line?.level).toBe(30);
    expect(line?.responseTime).toEqual(expect.any(Number));
    const bad = lines.find((l) => l.msg === 'request completed' && (l.req as { id: string }).id === 'r2');
    expect(bad?.res).toEqual({ statusCode: 400 });
    expect(bad?.level).toBe(40);
  });

  it('passes validated query options to the recommender', async () => {
    const rec = fakeRecommender();
    const app = createApp({ recommender: rec, logger: silent });
    const res = await request(app).get('/v1/users/196/recommendations?limit=2&exclude=x,y&includeRated=true');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      user: '196',
      model: 7,
      source: 'model',
      items: [
        { item: 'a', score: 3 },
        { item: 'b', score: 2 },
      ],
      filters: { exclude: ['x', 'y'], activeOnly: true },
    });
    expect(rec.calls.recommend).toEqual([{ user: '196', options: { limit: 2, exclude: ['x', 'y'], includeRated: true } }]);
    // Rules: parsed, passed on, and stated in the answer.
    const ruled = await request(app).get(
      '/v1/users/196/recommendations?category=a,b&excludeCategory=c&include=i,j&where=brand:acme,price<50&maxPerCategory=2',
    );
    expect(ruled.status).toBe(200);
    expect(ruled.body.filters).toEqual({
      category: ['a', 'b'],
      excludeCategory: ['c'],
      include: ['i', 'j'],
      where: ['brand:acme', 'price<50'],
      maxPerCategory: 2,
      activeOnly: true,
    });
    expect(rec.calls.recommend.at(-1)!.options).toMatchObject({ category: ['a', 'b'], maxPerCategory: 2, include: ['i', 'j'] });
    const badWhere = await request(app).get('/v1/users/196/recommendations?where=price<cheap');
    expectError(badWhere, 400, 'invalid_input');
    expect(badWhere.body.error.message).toMatch(/where: condition 1 "price<cheap"/);
    expectError(await request(app).get('/v1/users/196/recommendations?maxPerCategory=0'), 400, 'invalid_input');
    expectError(await request(app).get('/v1/users/196/recommendations?limit=1001'), 400, 'invalid_input');
    expectError(await request(app).get('/v1/users/196/recommendations?includeRated=1'), 400, 'invalid_input');
    expectError(await request(app).get('/v1/items/a/similar?limit=x'), 400, 'invalid_input');
    expect(rec.calls.recommend).toHaveLength(2);
  });

  it('adds titles when an itemTitles lookup is given', async () => {
    const app = createApp({
      recommender: fakeRecommender(),
      logger: silent,
      itemTitles: (ids) => new Map(ids.filter((id) => id !== 'b').map((id) => [id, `Title ${id}`])),
    });
    const res = await request(app).get('/v1/users/u/recommendations?limit=2');
    expect(res.body.items).toEqual([
      { item: 'a', score: 3, title: 'Title a' },
      { item: 'b', score: 2 },
    ]);
  });
});

describe('auth', () => {
  const key = 's3cret-key';

  it('compares bearer tokens exactly', () => {
    expect(bearerMatches(`Bearer ${key}`, key)).toBe(true);
    expect(bearerMatches(`bearer ${key}`, key)).toBe(true);
    expect(bearerMatches(`Bearer ${key}x`, key)).toBe(false);
    expect(bearerMatches(`Bearer ${key.slice(0, -1)}`, key)).toBe(false);
    expect(bearerMatches(key, key)).toBe(false);
    expect(bearerMatches(undefined, key)).toBe(false);
    expect(bearerMatches('Bearer ', key)).toBe(false);
  });

  it('guards every POST and DELETE except POST /v1/recommendations when a key is set', async () => {
    const rec = fakeRecommender();
    const app = createApp({ recommender: rec, logger: silent, apiKey: key });
    const guarded = [
      () => request(app).post('/v1/ratings').send({ user: 'u', item: 'i', value: 1 }),
      () => request(app).delete('/v1/users/u'),
      () => request(app).post('/v1/admin/reload'),
    ];
    for (const send of guarded) {
      const missing = await send();
      expectError(missing, 401, 'unauthorized');
      expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
      expectError(await send().set('Authorization', 'Bearer wrong'), 401, 'unauthorized');
      expectError(await send().set('Authorization', `Basic ${key}`), 401, 'unauthorized');
      expect((await send().set('Authorization', `Bearer ${key}`)).status).toBeLessThan(300);
    }
    expect(rec.calls.addRatings).toHaveLength(1);
    expect(rec.calls.deleteUser).toEqual(['u']);
    expect(rec.calls.reload).toBe(1);
    // Reads and the anonymous fold-in stay open.
    expect(
      (
        await request(app)
          .post('/v1/recommendations')
          .send({ ratings: [{ item: 'a', value: 1 }] })
      ).status,
    ).toBe(200);
    expect((await request(app).get('/v1/users/u/recommendations')).status).toBe(200);
    expect((await request(app).get('/v1/model')).status).toBe(200);
    expect((await request(app).get('/metrics')).status).toBe(200);
  });

  it('never logs the key', async () => {
    const { logger, lines } = memoryLogger();
    const app = createApp({ recommender: fakeRecommender(), logger, apiKey: key });
    await request(app).delete('/v1/users/u').set('Authorization', `Bearer ${key}`);
    await request(app).delete('/v1/users/u').set('Authorization', `Bearer ${key}-wrong`);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(lines)).not.toContain(key);
    expect(JSON.stringify(lines).toLowerCase()).not.toContain('authorization');
  });

  it('checks the key before reading the body (no 400/413 leaks to strangers)', async () => {
    const app = createApp({ recommender: fakeRecommender(), logger: silent, apiKey: key });
    const res = await request(app).post('/v1/ratings').set('Content-Type', 'application/json').send('{broken');
    expectError(res, 401, 'unauthorized');
  });

  it('leaves everything open when no key is configured', async () => {
    const app = createApp({ recommender: fakeRecommender(), logger: silent, apiKey: null });
    expect((await request(app).post('/v1/ratings').send({ user: 'u', item: 'i', value: 1 })).status).toBe(201);
    expect((await request(app).delete('/v1/users/u')).status).toBe(204);
  });
});

describe('metrics', () => {
  it('counts requests by route pattern and status, with latency histograms and the model gauges', async () => {
    const registry = new Registry();
    const app = createApp({ recommender: fakeRecommender({ model: 7 }), logger: silent, registry });
    await request(app).get('/v1/users/alice/recommendations');
    await request(app).get('/v1/users/bob/recommendations');
    await request(app).get('/v1/users/bob/recommendations?limit=0');
    await request(app).get('/v1/items/zzz/similar');
    await request(app).get('/nowhere/at/all');
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.text;
    expect(text).toContain('ridgerec_http_requests_total{method="GET",route="/v1/users/:user/recommendations",status="200"} 2');
    expect(text).toContain('ridgerec_http_requests_total{method="GET",route="/v1/users/:user/recommendations",status="400"} 1');
    expect(text).toContain('ridgerec_http_requests_total{method="GET",route="/v1/items/:item/similar",status="404"} 1');
    expect(text).toContain('ridgerec_http_requests_total{method="GET",route="unmatched",status="404"} 1');
    expect(text).not.toMatch(/alice|bob|nowhere/);
    expect(text).toMatch(
      /ridgerec_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/v1\/users\/:user\/recommendations"\} \d/,
    );
    expect(text).toContain('ridgerec_model_id 7');
    const age = /^ridgerec_model_age_seconds (\S+)$/m.exec(text)?.[1];
    expect(Number(age)).toBeGreaterThan(0);
  });

  it('keeps apps apart (a registry per app)', async () => {
    const a = createApp({ recommender: fakeRecommender(), logger: silent });
    const b = createApp({ recommender: fakeRecommender({ model: null }), logger: silent });
    await request(a).get('/health');
    const text = (await request(b).get('/metrics')).text;
    expect(text).not.toContain('route="/health"');
    expect(text).toContain('ridgerec_model_id -1');
  });
});

describe('openapi', () => {
  it('describes exactly the routes the app serves', async () => {
    const app = createApp({ recommender: fakeRecommender(), logger: silent });
    const res = await request(app).get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    const documented = Object.entries(res.body.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
      .sort();
    // The routes registered on the Express app, from its router stack and the API router's
    // (mounted at the root).
    type Layer = { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } };
    const routes = (stack: Layer[]): string[] =>
      stack.flatMap((l) =>
        l.route
          ? Object.keys(l.route.methods)
              .filter((m) => m !== '_all')
              .map((m) => `${m.toUpperCase()} ${l.route!.path}`)
          : l.handle?.stack
            ? routes(l.handle.stack)
            : [],
      );
    const served = routes((app as unknown as { router: { stack: Layer[] } }).router.stack).sort();
    expect(served.length).toBeGreaterThanOrEqual(10);
    expect(documented).toEqual(served);
    expect(openApiDocument()).toEqual(res.body);
  });
});

describe('paths that do not decode', () => {
  it('answer 400 invalid_path on every route, before the API-key check, and reach nothing', async () => {
    const rec = fakeRecommender();
    const app = createApp({ recommender: rec, logger: silent, apiKey: 'k' });
    for (const path of [
      '/v1/users/%ff/recommendations',
      '/v1/users/%zz/recommendations',
      '/v1/users/%/recommendations',
      '/v1/users/%ED%A0%80/recommendations',
      '/v1/items/%C3/similar',
    ]) {
      expectError(await request(app).get(path), 400, 'invalid_path');
    }
    expectError(await request(app).delete('/v1/users/%ff'), 400, 'invalid_path'); // no key sent: still 400, not 401
    expectError(await request(app).put('/v1/items/%zz').send({}), 400, 'invalid_path');
    expect(rec.calls.recommend).toHaveLength(0);
    expect(rec.calls.deleteUser).toHaveLength(0);
    // A valid encoding of a non-ASCII id still works.
    expect((await request(app).get('/v1/users/%C3%A9/recommendations')).status).toBe(200);
  });
});
