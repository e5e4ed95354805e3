/**
 * Safe defaults of the HTTP layer: read-only mode (403 writes_disabled on every write route, reads
 * untouched), the per-client write rate limit (429 rate_limited with Retry-After), helmet's
 * security headers with a CSP a same-origin dashboard can live with, and the policy the server
 * derives from its bind address, API key and --allow-open-writes.
 */
import { pino } from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { writePolicy } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/http/app.js';
import { isLoopbackHost } from '../../src/http/auth.js';
import { fakeRecommender } from './fake-recommender.js';

const silent = pino({ level: 'silent' });

/** Every route that changes state, with a valid body, so only the guard can refuse it. */
const WRITES: [method: 'post' | 'put' | 'patch' | 'delete', path: string, body?: object][] = [
  ['post', '/v1/ratings', { user: 'u1', item: 'a', value: 4 }],
  ['delete', '/v1/users/u1'],
  ['put', '/v1/items/a', { title: 'A' }],
  ['patch', '/v1/items/a', { active: false }],
  ['post', '/v1/admin/reload'],
];

function send(app: ReturnType<typeof createApp>, [method, path, body]: (typeof WRITES)[number], auth?: string) {
  let r = request(app)[method](path);
  if (auth !== undefined) r = r.set('Authorization', auth);
  return body === undefined ? r : r.send(body);
}

describe('a keyless server on a public address is read-only', () => {
  it('answers 403 writes_disabled on every write route, saying how to set a key, and changes nothing', async () => {
    const rec = fakeRecommender();
    const app = createApp({ recommender: rec, logger: silent, readOnly: true });
    for (const w of WRITES) {
      const res = await send(app, w);
      expect(res.status, `${w[0]} ${w[1]}`).toBe(403);
      expect(res.body.error.code).toBe('writes_disabled');
      expect(res.body.error.message).toContain('RIDGEREC_API_KEY');
      expect(res.body.error.message).toContain('--allow-open-writes');
    }
    expect(rec.calls.addRatings).toEqual([]);
    expect(rec.calls.deleteUser).toEqual([]);
    expect(rec.calls.writeItem).toEqual([]);
    expect(rec.calls.reload).toBe(0);
  });

  it('keeps serving reads, including the read-only anonymous POST /v1/recommendations', async () => {
    const rec = fakeRecommender();
    const app = createApp({ recommender: rec, logger: silent, readOnly: true });
    expect((await request(app).get('/v1/users/u1/recommendations')).status).toBe(200);
    expect((await request(app).get('/health')).status).toBe(200);
    expect((await request(app).get('/v1/model')).status).toBe(200);
    expect(
      (
        await request(app)
          .post('/v1/recommendations')
          .send({ ratings: [{ item: 'a', value: 1 }] })
      ).status,
    ).toBe(200);
  });

  it('the same app without read-only mode accepts the writes (what the issue saw, now opt-in)', async () => {
    const rec = fakeRecommender();
    const app = createApp({ recommender: rec, logger: silent });
    expect((await send(app, WRITES[0]!)).status).toBe(201);
    expect(rec.calls.addRatings).toHaveLength(1);
  });
});

describe('the write policy from bind address, API key and --allow-open-writes', () => {
  it('knows loopback addresses from public ones', () => {
    for (const h of ['127.0.0.1', '127.8.0.1', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.1.2.3', '192.168.0.1', 'example.com', '::ffff:10.0.0.1'])
      expect(isLoopbackHost(h), h).toBe(false);
  });

  it('is read-only with a warning on 0.0.0.0 without a key, open with a key or --allow-open-writes, and open on loopback', () => {
    const open = writePolicy({ host: '0.0.0.0', apiKey: null });
    expect(open.readOnly).toBe(true);
    expect(open.warning).toMatch(/read-only.*RIDGEREC_API_KEY.*--allow-open-writes/);
    expect(writePolicy({ host: '0.0.0.0', apiKey: 'k' })).toMatchObject({ readOnly: false, warning: null });
    const allowed = writePolicy({ host: '0.0.0.0', apiKey: null, allowOpenWrites: true });
    expect(allowed.readOnly).toBe(false);
    expect(allowed.warning).toMatch(/anyone who can reach it can write/);
    expect(writePolicy({ host: '127.0.0.1', apiKey: null })).toMatchObject({ readOnly: false, warning: null, rateLimit: null });
  });

  it('limits writes by default off loopback only, and takes the configured limit either way', () => {
    expect(writePolicy({ host: '127.0.0.1' }).rateLimit).toBeNull();
    expect(writePolicy({ host: '0.0.0.0', apiKey: 'k' }).rateLimit).toEqual({ limit: 600, windowMs: 60_000 });
    expect(writePolicy({ host: '127.0.0.1', rateLimit: 5, rateLimitWindowMs: 2000 }).rateLimit).toEqual({ limit: 5, windowMs: 2000 });
    expect(writePolicy({ host: '0.0.0.0', apiKey: 'k', rateLimit: 0 }).rateLimit).toBeNull();
  });

  it('reads --allow-open-writes, RIDGEREC_ALLOW_OPEN_WRITES and the rate limit from the configuration', () => {
    expect(loadConfig({}, {}).allowOpenWrites).toBe(false);
    expect(loadConfig({ allowOpenWrites: true }, {}).allowOpenWrites).toBe(true);
    expect(loadConfig({}, { RIDGEREC_ALLOW_OPEN_WRITES: 'yes' }).allowOpenWrites).toBe(true);
    expect(loadConfig({}, { RIDGEREC_ALLOW_OPEN_WRITES: '0' }).allowOpenWrites).toBe(false);
    expect(() => loadConfig({}, { RIDGEREC_ALLOW_OPEN_WRITES: 'maybe' })).toThrow(
      /RIDGEREC_ALLOW_OPEN_WRITES environment variable must be one of 1, true, yes, 0, false, no/,
    );
    const c = loadConfig({}, { RIDGEREC_RATE_LIMIT: '30', RIDGEREC_RATE_LIMIT_WINDOW_MS: '5000' });
    expect([c.rateLimit, c.rateLimitWindowMs]).toEqual([30, 5000]);
    expect(loadConfig({}, {}).rateLimit).toBeNull();
    expect(() => loadConfig({}, { RIDGEREC_RATE_LIMIT: '-1' })).toThrow(/RIDGEREC_RATE_LIMIT environment variable must be an integer/);
  });
});

describe('the per-client write rate limit', () => {
  it('answers 429 rate_limited with Retry-After in the API error shape past the limit, and counts writes only', async () => {
    const rec = fakeRecommender();
    const app = createApp({ recommender: rec, logger: silent, rateLimit: { limit: 3, windowMs: 60_000 } });
    for (let j = 0; j < 3; j++) expect((await send(app, WRITES[0]!)).status).toBe(201);
    const res = await send(app, WRITES[0]!);
    expect(res.status).toBe(429);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.error.code).toBe('rate_limited');
    expect(res.body.error.message).toMatch(/at most 3 per 60 s/);
    const retry = Number(res.headers['retry-after']);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(rec.calls.addRatings).toHaveLength(3);
    // Other write routes share the client's budget; reads are never limited.
    expect((await send(app, WRITES[1]!)).status).toBe(429);
    for (let j = 0; j < 10; j++) expect((await request(app).get('/v1/users/u1/recommendations')).status).toBe(200);
  });

  it('counts wrong-key attempts too, so guessing the key is rate limited', async () => {
    const app = createApp({ recommender: fakeRecommender(), logger: silent, apiKey: 'k', rateLimit: { limit: 2, windowMs: 60_000 } });
    expect((await send(app, WRITES[0]!, 'Bearer nope')).status).toBe(401);
    expect((await send(app, WRITES[0]!, 'Bearer nope')).status).toBe(401);
    expect((await send(app, WRITES[0]!, 'Bearer k')).status).toBe(429);
  });

  it('is off when no limit is given (the loopback default)', async () => {
    const app = createApp({ recommender: fakeRecommender(), logger: silent });
    for (let j = 0; j < 30; j++) expect((await send(app, WRITES[0]!)).status).toBe(201);
  });
});

describe('security headers (helmet)', () => {
  it('sends a same-origin-only CSP without inline code, and the usual hardening headers', async () => {
    const app = createApp({ recommender: fakeRecommender(), logger: silent });
    const res = await request(app).get('/health');
    const csp = String(res.headers['content-security-policy']);
    const directives = new Map(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/) as [string, ...string[]])
        .map(([k, ...v]) => [k, v]),
    );
    for (const d of ['default-src', 'script-src', 'style-src', 'img-src']) expect(directives.get(d), d).toEqual(["'self'"]);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('sends them on errors too', async () => {
    const app = createApp({ recommender: fakeRecommender(), logger: silent, readOnly: true });
    const res = await send(app, WRITES[0]!);
    expect(res.status).toBe(403);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
  });
});
