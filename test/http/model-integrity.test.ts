/**
 * A model whose stored file was damaged (one flipped byte, the right length) is never served: the
 * hot-reload paths (the poll and POST /v1/admin/reload) refuse it with "stored model N is corrupt
 * (checksum mismatch)" and the server keeps answering from the model it had. Before checksums, the
 * flipped file loaded and answered "score": null.
 */
import { pino } from 'pino';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { activateModel } from '../../src/model/registry.js';
import { createRecommender, type ServingRecommender } from '../../src/serving/recommender.js';
import { storeFromDb } from '../../src/store/store.js';
import { flipStoredByte } from '../helpers/corrupt.js';
import { fixtureDb, trainModel, type Fixture } from './fixture.js';

const silent = pino({ level: 'silent' });

describe('a corrupt stored model on the hot-reload path', () => {
  let fx: Fixture;
  let rec: ServingRecommender;
  let good: number;
  let bad: number;

  beforeEach(async () => {
    fx = fixtureDb();
    good = await trainModel(fx.db, { seed: 1 });
    bad = await trainModel(fx.db, { seed: 2, activate: false });
    flipStoredByte(fx.db, bad);
    rec = createRecommender({ store: storeFromDb(fx.db), precompute: false });
  });
  afterEach(async () => {
    await rec.close();
    fx.cleanup();
  });

  it('POST /v1/admin/reload refuses it with the checksum message and keeps serving the previous model', async () => {
    const app = createApp({ recommender: rec, logger: silent });
    activateModel(fx.db, bad);
    const res = await request(app).post('/v1/admin/reload');
    expect(res.status).toBe(500);
    expect(res.body.error).toEqual({
      code: 'model_corrupt',
      message: `stored model ${bad} is corrupt (checksum mismatch)`,
      details: { id: bad },
    });
    expect((await request(app).get('/health')).body).toEqual({ status: 'ok', model: good });
    const recs = await request(app).get('/v1/users/a1/recommendations?limit=3');
    expect(recs.status).toBe(200);
    expect(recs.body.model).toBe(good);
    expect(recs.body.items[0].item).toBe('x4');
    for (const it of recs.body.items) expect(Number.isFinite(it.score)).toBe(true);
  });

  it('the poll refuses it too, keeps the previous model, and does not retry it until the active id changes', () => {
    activateModel(fx.db, bad);
    expect(() => rec.poll()).toThrow(`stored model ${bad} is corrupt (checksum mismatch)`);
    expect(rec.modelId()).toBe(good);
    expect(rec.poll()).toBe(false); // the same broken id: not loaded again
    activateModel(fx.db, good);
    expect(rec.poll()).toBe(false); // back to the model being served: nothing to swap
    expect(rec.modelId()).toBe(good);
  });
});
