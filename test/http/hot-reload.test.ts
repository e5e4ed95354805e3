/**
 * Hot reload under load: a stream of requests runs against a listening server while another
 * database connection activates a new model and the recommender's 2-second poll (shortened here)
 * swaps it in. No request may fail, and the answers must move from the old model id to the new
 * one and never back.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/db/connection.js';
import { createApp } from '../../src/http/app.js';
import { activateModel } from '../../src/model/registry.js';
import { storeFromDb } from '../../src/store/store.js';
import { createRecommender, type Recommender } from '../../src/serving/recommender.js';
import { fixtureDb, trainModel, type Fixture } from './fixture.js';

let fx: Fixture;
let other: Db;
let rec: Recommender;
let server: Server;
let base: string;
let oldId: number;
let newId: number;

beforeAll(async () => {
  fx = fixtureDb();
  oldId = await trainModel(fx.db, { seed: 1 });
  other = openDatabase(fx.path); // the "trainer": a second connection to the same file
  newId = await trainModel(other, { seed: 2, activate: false });
  rec = createRecommender({ store: storeFromDb(fx.db), precompute: false });
  rec.startPolling(25);
  server = createApp({ recommender: rec, logger: pino({ level: 'silent' }) }).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rec.close();
  other.close();
  fx.cleanup();
});

interface Outcome {
  readonly status: number;
  readonly model: number | null;
}

async function one(n: number): Promise<Outcome> {
  const kind = n % 4;
  let res: Response;
  if (kind === 0) res = await fetch(`${base}/v1/users/a${1 + (n % 4)}/recommendations?limit=3`);
  else if (kind === 1) res = await fetch(`${base}/v1/items/x${1 + (n % 4)}/similar?limit=3`);
  else if (kind === 2) {
    res = await fetch(`${base}/v1/recommendations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ratings: [{ item: 'y1', value: 5 }], limit: 3 }),
    });
  } else res = await fetch(`${base}/health`);
  const body = (await res.json()) as { model?: number | null };
  return { status: res.status, model: body.model ?? null };
}

it('swaps models under a stream of requests with zero failures', async () => {
  const TOTAL = 800;
  const WORKERS = 4;
  let issued = 0;
  let activatedAt = -1;
  let failures = 0;
  const perWorker: Outcome[][] = Array.from({ length: WORKERS }, () => []);
  const all: Outcome[] = [];

  const worker = async (w: number) => {
    while (issued < TOTAL) {
      const n = issued++;
      if (n === 100) {
        activateModel(other, newId);
        activatedAt = all.length;
      }
      try {
        const o = await one(n);
        perWorker[w]!.push(o);
        all.push(o);
        if (o.status !== 200) failures++;
      } catch {
        failures++;
      }
      // Stop early once the new model has answered for a good while.
      if (activatedAt >= 0 && all.length - activatedAt > 200 && all.slice(-50).every((o) => o.model === newId)) break;
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));

  expect(failures).toBe(0);
  expect(activatedAt).toBeGreaterThan(0);
  expect(all.every((o) => o.status === 200)).toBe(true);
  expect(all.slice(0, 50).every((o) => o.model === oldId)).toBe(true);
  expect(all.slice(-50).every((o) => o.model === newId)).toBe(true);
  // Per connection the model id only moves forward: old … old new … new.
  for (const seq of perWorker) {
    const ids = seq.map((o) => o.model);
    const firstNew = ids.indexOf(newId);
    expect(firstNew).toBeGreaterThan(0);
    expect(ids.slice(0, firstNew).every((id) => id === oldId)).toBe(true);
    expect(ids.slice(firstNew).every((id) => id === newId)).toBe(true);
  }
  expect(rec.modelId()).toBe(newId);
});
