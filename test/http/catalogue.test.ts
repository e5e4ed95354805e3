/**
 * The item routes: PUT/PATCH need the API key, GET /v1/items/:item is a 404 unknown_item for an id
 * never seen, GET /v1/items pages with a cursor, bad bodies are 400s naming the field; then over the
 * real recommender, a write changes the very next recommendation, and a change made by another
 * connection is picked up at the next poll() (and only then).
 */
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Express } from 'express';
import { createApp } from '../../src/http/app.js';
import { writeItems } from '../../src/ratings/catalogue.js';
import { storeFromDb } from '../../src/store/store.js';
import { createRecommender, type Recommender } from '../../src/serving/recommender.js';
import { fakeRecommender } from './fake-recommender.js';
import { fixtureDb, trainModel, type Fixture } from './fixture.js';

const silent = pino({ level: 'silent' });
const key = 'catalogue-test-key';
const ids = (body: { items: { item: string }[] }) => body.items.map((x) => x.item);

describe('item routes (HTTP contract)', () => {
  it('PUT and PATCH need the API key; GET does not', async () => {
    const rec = fakeRecommender();
    const app = createApp({ recommender: rec, logger: silent, apiKey: key });
    for (const send of [() => request(app).put('/v1/items/a'), () => request(app).patch('/v1/items/a')]) {
      expect((await send().send({ active: false })).status).toBe(401);
      expect((await send().set('Authorization', 'Bearer wrong').send({ active: false })).status).toBe(401);
    }
    expect(rec.calls.writeItem).toEqual([]);
    const put = await request(app)
      .put('/v1/items/a')
      .set('Authorization', `Bearer ${key}`)
      .send({ title: 'A', categories: ['x'] });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ item: 'a', title: 'A', categories: ['x'], metadata: {}, active: true });
    const patch = await request(app).patch('/v1/items/a').set('Authorization', `Bearer ${key}`).send({ active: false });
    expect(patch.status).toBe(200);
    expect(patch.body).toEqual({ item: 'a', title: 'A', categories: ['x'], metadata: {}, active: false });
    expect(rec.calls.writeItem).toEqual([
      { item: 'a', fields: { title: 'A', categories: ['x'] }, replace: true },
      { item: 'a', fields: { active: false }, replace: false },
    ]);
    expect((await request(app).get('/v1/items/a')).body).toEqual(patch.body);
  });

  it('GET /v1/items/:item: 404 unknown_item for an id never seen; /similar is still its own route', async () => {
    const app = createApp({ recommender: fakeRecommender(), logger: silent });
    const res = await request(app).get('/v1/items/zzz');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('unknown_item');
    const similar = await request(app).get('/v1/items/a/similar?limit=2');
    expect(similar.status).toBe(200);
    expect(ids(similar.body)).toEqual(['b', 'c']);
  });

  it('GET /v1/items pages in id order with a cursor, filtered by category and active', async () => {
    const rec = fakeRecommender();
    await rec.patchItem('b', { categories: ['x'], active: false });
    await rec.putItem('d', { categories: ['x'] });
    const app = createApp({ recommender: rec, logger: silent });
    const p1 = await request(app).get('/v1/items?limit=2');
    expect(p1.status).toBe(200);
    expect(p1.body.next).toBe('b');
    expect(ids(p1.body)).toEqual(['a', 'b']);
    const p2 = await request(app).get(`/v1/items?limit=2&after=${p1.body.next}`);
    expect(ids(p2.body)).toEqual(['c', 'd']);
    expect(p2.body.next).toBeNull();
    expect(ids((await request(app).get('/v1/items?category=x')).body)).toEqual(['b', 'd']);
    expect(ids((await request(app).get('/v1/items?category=x&active=true')).body)).toEqual(['d']);
    expect(ids((await request(app).get('/v1/items?active=false')).body)).toEqual(['b']);
  });

  it('rejects a bad body or query with a 400 naming the field, and writes nothing', async () => {
    const rec = fakeRecommender();
    const app = createApp({ recommender: rec, logger: silent });
    const bodies: [unknown, RegExp][] = [
      [{ categories: 'x' }, /^categories: must be an array/],
      [{ categories: ['a,b'] }, /^categories\[0\]: must not contain a comma/],
      [{ categories: [''] }, /^categories\[0\]: must be a non-empty string/],
      [{ metadata: { x: { y: 1 } } }, /^metadata\.x: must be a string, a finite number or a boolean/],
      [{ metadata: [1] }, /^metadata: must be a flat JSON object/],
      [{ active: 'no' }, /^active: must be true or false/],
      [{ title: 5 }, /^title: must be a string or null/],
      [{ colour: 'red' }, /^colour: is not an item field \(title, categories, metadata, active\)/],
      [[1], /must be a JSON object/],
    ];
    for (const [body, message] of bodies) {
      for (const method of ['put', 'patch'] as const) {
        const agent = request(app);
        const res = await (method === 'put' ? agent.put('/v1/items/a') : agent.patch('/v1/items/a')).send(body as object);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.code).toBe('invalid_input');
        expect(res.body.error.message).toMatch(message);
      }
    }
    expect(rec.calls.writeItem).toEqual([]);
    for (const [q, field] of [
      ['limit=0', 'limit'],
      ['active=maybe', 'active'],
      ['after=', 'after'],
      ['category=', 'category'],
    ] as const) {
      const res = await request(app).get(`/v1/items?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.error.message).toMatch(new RegExp(`^${field}: `));
    }
  });
});

describe('item writes over the real recommender', () => {
  let fx: Fixture;
  let rec: Recommender;
  let app: Express;
  let loads = 0;

  beforeAll(async () => {
    fx = fixtureDb();
    await trainModel(fx.db);
    const store = storeFromDb(fx.db);
    // Count full catalogue loads: one at creation, then one per poll that finds another version.
    const counted = {
      ...store,
      loadCatalogue: () => {
        loads++;
        return store.loadCatalogue();
      },
    };
    rec = createRecommender({ store: counted, precompute: false });
    app = createApp({ recommender: rec, logger: silent });
  });
  afterAll(async () => {
    await rec.close();
    fx.cleanup();
  });

  it('PATCH active:false removes the item from the very next answer; active:true brings it back', async () => {
    const before = await request(app).get('/v1/users/a1/recommendations');
    expect(ids(before.body)).toEqual(['x4', 'y4']);
    expect((await request(app).patch('/v1/items/x4').send({ active: false })).body).toMatchObject({ item: 'x4', active: false });
    expect(ids((await request(app).get('/v1/users/a1/recommendations')).body)).toEqual(['y4']);
    expect(ids((await request(app).get('/v1/items/x1/similar?limit=7')).body)).not.toContain('x4');
    await request(app).patch('/v1/items/x4').send({ active: true });
    expect(ids((await request(app).get('/v1/users/a1/recommendations')).body)).toEqual(['x4', 'y4']);
  });

  it('PUT replaces the item: titles in answers change at once, absent fields return to their defaults', async () => {
    await request(app)
      .put('/v1/items/x4')
      .send({ title: 'Brand new', categories: ['c'], metadata: { price: 3 } });
    const res = await request(app).get('/v1/users/a1/recommendations');
    expect(res.body.items[0]).toMatchObject({ item: 'x4', title: 'Brand new' });
    expect(ids((await request(app).get('/v1/users/a1/recommendations?category=c')).body)).toEqual(['x4']);
    const put = await request(app).put('/v1/items/x4').send({ title: 'Title x4' });
    expect(put.body).toEqual({ item: 'x4', title: 'Title x4', categories: [], metadata: {}, active: true });
    expect(ids((await request(app).get('/v1/users/a1/recommendations?category=c')).body)).toEqual([]);
  });

  it("another connection's change shows after the next poll(), and only a foreign change reloads the catalogue", async () => {
    const other = fx.open();
    const loadsBefore = loads;
    rec.poll(); // our own writes above moved the version, but we know they are all that happened
    expect(loads).toBe(loadsBefore);
    writeItems(other, [{ id: 'y4', patch: { active: false, title: 'Renamed y4' } }], false);
    expect(ids((await request(app).get('/v1/users/a1/recommendations')).body)).toEqual(['x4', 'y4']);
    rec.poll();
    expect(loads).toBe(loadsBefore + 1);
    expect(ids((await request(app).get('/v1/users/a1/recommendations')).body)).toEqual(['x4']);
    expect((await request(app).get('/v1/items/y4')).body).toMatchObject({ title: 'Renamed y4', active: false });
    // A foreign write, then our own: the version we reflect is not the one our write started from,
    // so the next poll still reloads (and sees both).
    writeItems(other, [{ id: 'y4', patch: { active: true } }], false);
    await request(app).patch('/v1/items/y3').send({ title: 'Ours' });
    rec.poll();
    expect(loads).toBe(loadsBefore + 2);
    expect(rec.itemTitles(['y3', 'y4'])).toEqual(
      new Map([
        ['y3', 'Ours'],
        ['y4', 'Renamed y4'],
      ]),
    );
    expect(ids((await request(app).get('/v1/users/a1/recommendations')).body)).toEqual(['x4', 'y4']);
    rec.poll();
    expect(loads).toBe(loadsBefore + 2);
  });
});
