/**
 * Explanations end to end over HTTP: the explanation route and ?explain=N / "explain" on the
 * recommendation routes, over the real recommender, a real SQLite file and real trained models
 * (the tiny two-taste shop of fixture.ts, explicit and implicit). The parts of an explanation sum
 * to its score for a trained user, a folded-in user and an anonymous basket, and the ratings
 * explained are the ones the recommendation was scored from.
 */
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Express } from 'express';
import { createApp } from '../../src/http/app.js';
import { fit } from '../../src/model/fit.js';
import { saveModel } from '../../src/model/registry.js';
import { loadMatrix } from '../../src/ratings/store.js';
import { storeFromDb } from '../../src/store/store.js';
import { createRecommender, type Recommender } from '../../src/serving/recommender.js';
import { X, Y, fixtureDb, trainModel, type Fixture } from './fixture.js';

const silent = pino({ level: 'silent' });

interface Part {
  item: string;
  title?: string;
  contribution: number;
}
interface ExplanationBody {
  user: string;
  item: string;
  title?: string;
  score: number;
  contributions: Part[];
  rest: number;
  bias?: { global: number; user: number; item: number };
  model: number;
}
interface Item {
  item: string;
  score: number;
  title?: string;
  because?: Part[];
}

/** |a − b| ≤ 1e-4 relative (absolute below 1, as the scores of an implicit model are small). */
const relClose = (a: number, b: number, what = '') =>
  expect(Math.abs(a - b), `${what}: ${a} vs ${b}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(b)));

/** The listed contributions + rest + the bias terms. */
function partsSum(e: ExplanationBody): number {
  const listed = e.contributions.reduce((s, c) => s + c.contribution, 0);
  return listed + e.rest + (e.bias ? e.bias.global + e.bias.user + e.bias.item : 0);
}

function expectSortedAndTitled(parts: Part[], max: number): void {
  expect(parts.length).toBeLessThanOrEqual(max);
  for (let j = 1; j < parts.length; j++) expect(parts[j]!.contribution).toBeLessThanOrEqual(parts[j - 1]!.contribution);
  for (const p of parts) {
    expect(Number.isFinite(p.contribution)).toBe(true);
    expect(p.title).toBe(`Title ${p.item}`); // every fixture item has a title
  }
}

/** An app over a fresh fixture db whose active model is made by `train`. */
async function setup(train: (fx: Fixture) => Promise<number>) {
  const fx = fixtureDb();
  const modelId = await train(fx);
  const rec = createRecommender({ store: storeFromDb(fx.db), precompute: false });
  const app = createApp({ recommender: rec, logger: silent });
  return { fx, modelId, rec, app };
}

const implicitModel = async (fx: Fixture): Promise<number> => {
  const model = await fit(loadMatrix(fx.db), {
    feedback: 'implicit',
    factors: 2,
    lambda: 0.5,
    alpha: 1,
    iterations: 12,
    threads: 1,
    seed: 3,
  });
  return saveModel(fx.db, model, { activate: true });
};

describe('explanations over HTTP: explicit model', () => {
  let fx: Fixture;
  let rec: Recommender;
  let app: Express;
  let modelId: number;

  beforeAll(async () => {
    ({ fx, rec, app, modelId } = await setup((f) => trainModel(f.db)));
  });
  afterAll(async () => {
    await rec.close();
    fx.cleanup();
  });

  it('a trained user: the top contributions with titles, largest first; parts + bias sum to the score', async () => {
    const res = await request(app).get('/v1/users/a1/recommendations/x4/explanation?top=3');
    expect(res.status).toBe(200);
    const e = res.body as ExplanationBody;
    expect(e).toMatchObject({ user: 'a1', item: 'x4', title: 'Title x4', model: modelId });
    expect(Object.keys(e)).toEqual(['user', 'item', 'title', 'score', 'contributions', 'rest', 'bias', 'model']);
    expect(e.contributions).toHaveLength(3);
    expectSortedAndTitled(e.contributions, 3);
    relClose(partsSum(e), e.score, 'a1/x4');
    // The re-solved score is close to the recommendation score of the trained vector.
    const recs = await request(app).get('/v1/users/a1/recommendations');
    const listed = (recs.body.items as Item[]).find((x) => x.item === 'x4')!;
    expect(Math.abs(e.score - listed.score)).toBeLessThan(0.25);
    // top=50 lists every rated item of a1 (6 of 8), leaving nothing in rest.
    const all = (await request(app).get('/v1/users/a1/recommendations/x4/explanation?top=50')).body as ExplanationBody;
    expect(all.contributions.map((c) => c.item).sort()).toEqual(['x1', 'x2', 'x3', 'y1', 'y2', 'y3']);
    expect(all.rest).toBe(0);
    relClose(partsSum(all), e.score, 'a1/x4 all');
  });

  it('lists 5 contributions by default and explains items the user rated too', async () => {
    const e = (await request(app).get('/v1/users/b2/recommendations/x1/explanation')).body as ExplanationBody;
    expect(e.contributions).toHaveLength(5); // b2 rated all 8 items
    relClose(partsSum(e), e.score, 'b2/x1');
    expect(e.score).toBeLessThan(2.5); // b2 gave x-items 1 star
  });

  it('a folded-in user (ratings posted for a new user): explained with those ratings; the score is the recommendation score', async () => {
    const post = await request(app)
      .post('/v1/ratings')
      .send({
        ratings: [
          { user: 'newbie', item: 'x1', value: 5 },
          { user: 'newbie', item: 'x2', value: 4 },
          { user: 'newbie', item: 'y1', value: 1 },
        ],
      });
    expect(post.status).toBe(201);
    const recs = await request(app).get('/v1/users/newbie/recommendations?explain=3&limit=5');
    expect(recs.body.source).toBe('fold-in');
    const items = recs.body.items as Item[];
    expect(items.length).toBeGreaterThan(0);
    for (const it of items) {
      expectSortedAndTitled(it.because!, 3);
      expect(it.because!.length).toBe(3);
      const e = (await request(app).get(`/v1/users/newbie/recommendations/${it.item}/explanation?top=50`)).body as ExplanationBody;
      expect(e.contributions.map((c) => c.item).sort()).toEqual(['x1', 'x2', 'y1']);
      relClose(partsSum(e), e.score, `newbie/${it.item}`);
      relClose(e.score, it.score, `newbie/${it.item} vs recommendation`);
      // The because list is the head of the same decomposition.
      expect(it.because).toEqual(e.contributions.slice(0, 3));
    }
  });

  it('a known user who rates through the API is explained from the stored ratings, as they are now served by fold-in', async () => {
    const before = (await request(app).get('/v1/users/b1/recommendations/x4/explanation?top=50')).body as ExplanationBody;
    expect(before.contributions.map((c) => c.item)).not.toContain('y4');
    expect(before.contributions).toHaveLength(6);
    expect((await request(app).post('/v1/ratings').send({ user: 'b1', item: 'y4', value: 5 })).status).toBe(201);
    const recs = await request(app).get('/v1/users/b1/recommendations?explain=50&includeRated=true&limit=8');
    expect(recs.body.source).toBe('fold-in');
    const x4 = (recs.body.items as Item[]).find((x) => x.item === 'x4')!;
    const after = (await request(app).get('/v1/users/b1/recommendations/x4/explanation?top=50')).body as ExplanationBody;
    expect(after.contributions).toHaveLength(7);
    expect(after.contributions.map((c) => c.item)).toContain('y4');
    relClose(partsSum(after), after.score, 'b1/x4 after');
    relClose(after.score, x4.score, 'b1/x4 vs recommendation');
    expect(x4.because).toEqual(after.contributions);
  });

  it('?explain=3 on GET recommendations: at most 3 because entries per item, largest first, titled; none without explain', async () => {
    const res = await request(app).get('/v1/users/a2/recommendations?explain=3&includeRated=true&limit=8');
    expect(res.status).toBe(200);
    expect(res.body.source).toBe('model');
    const items = res.body.items as Item[];
    expect(items).toHaveLength(8);
    for (const it of items) {
      expect(it.because).toHaveLength(3);
      expectSortedAndTitled(it.because!, 3);
      const e = (await request(app).get(`/v1/users/a2/recommendations/${it.item}/explanation?top=3`)).body as ExplanationBody;
      expect(it.because).toEqual(e.contributions);
    }
    const plain = await request(app).get('/v1/users/a2/recommendations?limit=8&includeRated=true');
    expect((plain.body.items as Item[]).every((x) => x.because === undefined)).toBe(true);
    expect((plain.body.items as Item[]).map((x) => x.item)).toEqual(items.map((x) => x.item));
  });

  it('POST /v1/recommendations with "explain": each item says which posted items are behind it', async () => {
    const res = await request(app)
      .post('/v1/recommendations')
      .send({
        ratings: [
          { item: 'y1', value: 5 },
          { item: 'y2', value: 5 },
          { item: 'x1', value: 1 },
          { item: 'not-an-item', value: 3 },
        ],
        explain: 2,
        limit: 5,
      });
    expect(res.status).toBe(200);
    expect(res.body.source).toBe('fold-in');
    const items = res.body.items as Item[];
    expect(items.map((x) => x.item)[0]).toMatch(/^y/);
    for (const it of items) {
      expect(it.because).toHaveLength(2);
      expectSortedAndTitled(it.because!, 2);
      for (const p of it.because!) expect(['y1', 'y2', 'x1']).toContain(p.item);
    }
  });

  it('popular answers carry empty because lists (nothing of the user to explain with)', async () => {
    const res = await request(app).get('/v1/users/stranger/recommendations?explain=3&limit=4');
    expect(res.body.source).toBe('popular');
    expect(res.body.items).toHaveLength(4);
    for (const it of res.body.items as Item[]) expect(it.because).toEqual([]);
    const anon = await request(app)
      .post('/v1/recommendations')
      .send({ ratings: [{ item: 'nope', value: 1 }], explain: 3, limit: 2 });
    expect(anon.body.source).toBe('popular');
    for (const it of anon.body.items as Item[]) expect(it.because).toEqual([]);
  });

  it('404 unknown_item for an item the model does not know, 404 unknown_user for a user with no ratings', async () => {
    const item = await request(app).get('/v1/users/a1/recommendations/zzz/explanation');
    expect(item.status).toBe(404);
    expect(item.body.error.code).toBe('unknown_item');
    expect(item.body.error.message).toContain('zzz');
    const user = await request(app).get('/v1/users/nobody/recommendations/x1/explanation');
    expect(user.status).toBe(404);
    expect(user.body.error.code).toBe('unknown_user');
    expect(user.body.error.message).toContain('nobody');
  });

  it('400 naming the field for a bad top or explain', async () => {
    for (const q of ['top=0', 'top=51', 'top=abc', 'top=2.5', 'top=1&top=2']) {
      const res = await request(app).get(`/v1/users/a1/recommendations/x4/explanation?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.error.code).toBe('invalid_input');
      expect(res.body.error.message, q).toMatch(/^top: /);
    }
    for (const q of ['explain=0', 'explain=51', 'explain=three', 'explain=-1']) {
      const res = await request(app).get(`/v1/users/a1/recommendations?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.error.message, q).toMatch(/^explain: must be an integer in 1\.\.50/);
    }
    for (const explain of [0, 51, 2.5, '3', null]) {
      const res = await request(app)
        .post('/v1/recommendations')
        .send({ ratings: [{ item: 'x1', value: 5 }], explain });
      expect(res.status, String(explain)).toBe(400);
      expect(res.body.error.message, String(explain)).toMatch(/^explain: must be an integer in 1\.\.50/);
    }
  });
});

describe('explanations over HTTP: implicit model (Hu, Koren & Volinsky §5)', () => {
  let fx: Fixture;
  let rec: Recommender;
  let app: Express;

  beforeAll(async () => {
    ({ fx, rec, app } = await setup(implicitModel));
  });
  afterAll(async () => {
    await rec.close();
    fx.cleanup();
  });

  it("a trained user: no bias terms; the contributions sum to the score and the user's liked items lead", async () => {
    const e = (await request(app).get('/v1/users/a1/recommendations/x4/explanation?top=3')).body as ExplanationBody;
    expect(e.bias).toBeUndefined();
    expect(Object.keys(e)).toEqual(['user', 'item', 'title', 'score', 'contributions', 'rest', 'model']);
    relClose(partsSum(e), e.score, 'a1/x4');
    expectSortedAndTitled(e.contributions, 3);
    // a1 gave the x-items 5 (confidence 1 + α·5) and the y-items 1: x4 is explained by x-items.
    expect(X).toContain(e.contributions[0]!.item);
    const y = (await request(app).get('/v1/users/b2/recommendations/y1/explanation?top=2')).body as ExplanationBody;
    expect(Y).toContain(y.contributions[0]!.item);
    relClose(partsSum(y), y.score, 'b2/y1');
  });

  it('an anonymous basket: the because lists of every item (all posted items listed) sum to its score', async () => {
    const basket = [
      { item: 'x1', value: 3 },
      { item: 'x2', value: 1 },
      { item: 'y3', value: 2 },
    ];
    const res = await request(app).post('/v1/recommendations').send({ ratings: basket, explain: 50, limit: 8 });
    expect(res.status).toBe(200);
    expect(res.body.source).toBe('fold-in');
    const items = res.body.items as Item[];
    expect(items).toHaveLength(5); // the 8 items but the 3 posted
    for (const it of items) {
      expect(it.because!.map((c) => c.item).sort()).toEqual(['x1', 'x2', 'y3']);
      expectSortedAndTitled(it.because!, 3);
      relClose(
        it.because!.reduce((s, c) => s + c.contribution, 0),
        it.score,
        `anonymous/${it.item}`,
      );
    }
  });

  it('a folded-in user: the explanation score is the recommendation score', async () => {
    await request(app)
      .post('/v1/ratings')
      .send({
        ratings: [
          { user: 'fresh', item: 'y1', value: 4 },
          { user: 'fresh', item: 'y2', value: 2 },
        ],
      });
    const recs = await request(app).get('/v1/users/fresh/recommendations?explain=1&limit=3');
    expect(recs.body.source).toBe('fold-in');
    for (const it of recs.body.items as Item[]) {
      expect(it.because).toHaveLength(1);
      const e = (await request(app).get(`/v1/users/fresh/recommendations/${it.item}/explanation`)).body as ExplanationBody;
      expect(e.contributions).toHaveLength(2);
      expect(e.rest).toBe(0);
      relClose(partsSum(e), e.score, `fresh/${it.item}`);
      relClose(e.score, it.score, `fresh/${it.item} vs recommendation`);
      expect(it.because![0]).toEqual(e.contributions[0]);
    }
  });
});
