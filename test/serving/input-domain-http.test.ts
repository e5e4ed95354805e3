/**
 * The input domain over HTTP, against the real recommender and store. Before: {"value":1e308}
 * answered 201 and was stored (every later training diverged); a user id with a lone surrogate in
 * a JSON body was stored (201) and could never be read back; NFD and NFC spellings of one id were
 * two users.
 */
import { pino } from 'pino';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { userRatings } from '../../src/ratings/store.js';
import { createRecommender, type ServingRecommender } from '../../src/serving/recommender.js';
import { storeFromDb } from '../../src/store/store.js';
import { tempDb, type TempDb } from '../helpers/temp.js';
import { install, randomFixture } from './helpers.js';

let t: TempDb;
let rec: ServingRecommender;
let app: ReturnType<typeof createApp>;

beforeEach(() => {
  t = tempDb();
  install(t.db, randomFixture(51, 'explicit'));
  rec = createRecommender({ store: storeFromDb(t.db), precompute: false });
  app = createApp({ recommender: rec, logger: pino({ level: 'silent' }) });
});
afterEach(async () => {
  await rec.close();
  t.cleanup();
});

const ratingCount = () => t.db.prepare('SELECT count(*) FROM ratings').pluck().get() as number;

describe('input domain over HTTP', () => {
  it('{"value":1e308} is a 400 naming the field and the allowed range, and nothing is stored', async () => {
    const before = ratingCount();
    const one = await request(app).post('/v1/ratings').send({ user: 'big', item: 'i1', value: 1e308 });
    expect(one.status).toBe(400);
    expect(one.body.error.code).toBe('invalid_input');
    expect(one.body.error.message).toBe('value: must be a number in -1000000..1000000, got 1e+308');
    const batch = await request(app)
      .post('/v1/ratings')
      .send({
        ratings: [
          { user: 'big', item: 'i1', value: 3 },
          { user: 'big', item: 'i2', value: -1e7 },
        ],
      });
    expect(batch.status).toBe(400);
    expect(batch.body.error.message).toMatch(/^ratings\[1\]\.value: must be a number in -1000000\.\.1000000/);
    expect(ratingCount()).toBe(before);
    expect(userRatings(t.db, 'big')).toEqual([]);
    // An anonymous basket is held to the same range.
    const anon = await request(app)
      .post('/v1/recommendations')
      .send({ ratings: [{ item: 'i1', value: 1e300 }] });
    expect(anon.status).toBe(400);
    expect(anon.body.error.message).toMatch(/^ratings\[0\]\.value: must be a number in/);
  });

  it('a user id with a lone surrogate in a POST body is a 400 and nothing is stored', async () => {
    const before = ratingCount();
    // JSON.stringify escapes the lone surrogate as \ud800, which JSON.parse turns back into one.
    const res = await request(app)
      .post('/v1/ratings')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ user: 'bad\ud800', item: 'i1', value: 3 }));
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('user: must be valid UTF-16 (it holds a lone surrogate)');
    const item = await request(app)
      .post('/v1/ratings')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ ratings: [{ user: 'ok', item: '\udc00', value: 3 }] }));
    expect(item.status).toBe(400);
    expect(item.body.error.message).toBe('ratings[0].item: must be valid UTF-16 (it holds a lone surrogate)');
    expect(ratingCount()).toBe(before);
  });

  it('the NFD and NFC spellings of a user id are the same user, in bodies and in paths', async () => {
    const nfc = 'Jos\u00e9';
    const nfd = 'Jose\u0301';
    expect((await request(app).post('/v1/ratings').send({ user: nfd, item: 'i3', value: 5 })).status).toBe(201);
    expect((await request(app).post('/v1/ratings').send({ user: nfc, item: 'i4', value: 4 })).status).toBe(201);
    expect(
      userRatings(t.db, nfc)
        .map((r) => r.item)
        .sort(),
    ).toEqual(['i3', 'i4']);
    expect(t.db.prepare("SELECT count(*) FROM users WHERE external_id LIKE 'Jos%'").pluck().get()).toBe(1);
    const viaNfd = await request(app).get(`/v1/users/${encodeURIComponent(nfd)}/recommendations?limit=5`);
    const viaNfc = await request(app).get(`/v1/users/${encodeURIComponent(nfc)}/recommendations?limit=5`);
    expect(viaNfd.status).toBe(200);
    expect(viaNfd.body.source).toBe('fold-in');
    expect(viaNfd.body.user).toBe(nfc);
    expect(viaNfd.body.items).toEqual(viaNfc.body.items);
    expect(viaNfd.body.items.map((x: { item: string }) => x.item)).not.toContain('i3');
    expect((await request(app).delete(`/v1/users/${encodeURIComponent(nfd)}`)).status).toBe(204);
    expect(userRatings(t.db, nfc)).toEqual([]);
  });
});
