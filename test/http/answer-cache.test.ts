/**
 * The serialised-answer cache of GET /v1/users/:user/recommendations (the default request is
 * answered from bytes kept per user and limit): byte-identical to a fresh answer, and never stale:
 * a rating write, a user delete, an item change (title, active flag), a model swap and a catalogue
 * change made by another process each show up on the very next request.
 */
import { pino } from 'pino';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { writeItems } from '../../src/ratings/catalogue.js';
import { createRecommender, type ServingRecommender } from '../../src/serving/recommender.js';
import { storeFromDb } from '../../src/store/store.js';
import { fixtureDb, trainModel, type Fixture } from './fixture.js';

const silent = pino({ level: 'silent' });

describe('the cached default recommendation answer', () => {
  let fx: Fixture;
  let rec: ServingRecommender;
  let app: ReturnType<typeof createApp>;

  beforeEach(async () => {
    fx = fixtureDb();
    await trainModel(fx.db, { seed: 1 });
    rec = createRecommender({ store: storeFromDb(fx.db), precompute: false });
    app = createApp({ recommender: rec, logger: silent });
  });
  afterEach(async () => {
    await rec.close();
    fx.cleanup();
  });

  const get = (path: string) => request(app).get(path);

  it('answers a repeat from the cache with the same bytes and headers, without asking the recommender again', async () => {
    const first = await get('/v1/users/a1/recommendations?limit=3');
    const live = rec.stats().liveAnswers + rec.stats().precomputedAnswers;
    const second = await get('/v1/users/a1/recommendations?limit=3');
    expect(second.status).toBe(200);
    expect(second.text).toBe(first.text);
    expect(second.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(second.headers['content-length']).toBe(String(Buffer.byteLength(first.text)));
    expect(rec.stats().liveAnswers + rec.stats().precomputedAnswers).toBe(live);
    // Another limit, another user, or any rule: computed, not served from another entry.
    expect((await get('/v1/users/a1/recommendations?limit=2')).body.items).toHaveLength(2);
    expect((await get('/v1/users/b1/recommendations?limit=3')).body.items[0].item).toBe('y4');
    expect((await get('/v1/users/a1/recommendations?limit=3&exclude=x4')).body.items.map((i: { item: string }) => i.item)).not.toContain(
      'x4',
    );
  });

  it('a rating write shows on the next request (the user moves to fold-in and the rated item leaves)', async () => {
    expect((await get('/v1/users/a1/recommendations?limit=3')).body.items[0].item).toBe('x4');
    expect((await request(app).post('/v1/ratings').send({ user: 'a1', item: 'x4', value: 5 })).status).toBe(201);
    const after = await get('/v1/users/a1/recommendations?limit=3');
    expect(after.body.source).toBe('fold-in');
    expect(after.body.items.map((i: { item: string }) => i.item)).not.toContain('x4');
  });

  it('a user delete shows on the next request', async () => {
    expect((await get('/v1/users/a1/recommendations?limit=3')).body.source).toBe('model');
    expect((await request(app).delete('/v1/users/a1')).status).toBe(204);
    expect((await get('/v1/users/a1/recommendations?limit=3')).body.source).toBe('popular');
  });

  it('an item change through the API shows on the next request (title, then deactivation)', async () => {
    expect((await get('/v1/users/a1/recommendations?limit=3')).body.items[0]).toMatchObject({ item: 'x4', title: 'Title x4' });
    await request(app).patch('/v1/items/x4').send({ title: 'Renamed' });
    expect((await get('/v1/users/a1/recommendations?limit=3')).body.items[0]).toMatchObject({ item: 'x4', title: 'Renamed' });
    await request(app).patch('/v1/items/x4').send({ active: false });
    expect((await get('/v1/users/a1/recommendations?limit=3')).body.items.map((i: { item: string }) => i.item)).not.toContain('x4');
  });

  it('a model swap and a catalogue change by another process show after the poll that finds them', async () => {
    const before = await get('/v1/users/a1/recommendations?limit=3');
    const second = await trainModel(fx.db, { seed: 2 });
    rec.poll();
    const swapped = await get('/v1/users/a1/recommendations?limit=3');
    expect(before.body.model).not.toBe(second);
    expect(swapped.body.model).toBe(second);
    writeItems(fx.open(), [{ id: 'x4', patch: { title: 'Elsewhere' } }], false);
    rec.poll();
    expect((await get('/v1/users/a1/recommendations?limit=3')).body.items[0]).toMatchObject({ item: 'x4', title: 'Elsewhere' });
  });
});
