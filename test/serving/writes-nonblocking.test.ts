/**
 * A write that waits for the database's write lock must not freeze the server: before, the 5 s
 * busy timeout ran inside better-sqlite3 on the event loop, so during an import a POST /v1/ratings
 * answered 500 "database is locked" after ~5,000 ms and GET /health waited as long. Now the write
 * retries on timers and answers 503 busy with Retry-After, and reads answer meanwhile.
 */
import { writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { writeLockHeld } from '../../src/db/connection.js';
import { createApp } from '../../src/http/app.js';
import { userRatings } from '../../src/ratings/store.js';
import { createRecommender, type ServingRecommender } from '../../src/serving/recommender.js';
import { storeFromDb } from '../../src/store/store.js';
import { mulberry32 } from '../../src/training/random.js';
import { runCli } from '../cli/spawn-cli.js';
import { tempDb, type TempDb } from '../helpers/temp.js';
import { install, randomFixture } from './helpers.js';

let t: TempDb | null = null;
let server: Server | null = null;
let rec: ServingRecommender | null = null;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await rec?.close();
  t?.cleanup();
  server = null;
  rec = null;
  t = null;
});

/** A real listening server over a temp database holding a small model. */
async function serve(writeDeadlineMs: number): Promise<{ url: string; t: TempDb }> {
  t = tempDb();
  install(t.db, randomFixture(21, 'explicit'));
  rec = createRecommender({ store: storeFromDb(t.db), precompute: false, writeDeadlineMs });
  const app = createApp({ recommender: rec, logger: pino({ level: 'silent' }) });
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server!.once('listening', () => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, t };
}

const postRating = (url: string, body: unknown) =>
  fetch(`${url}/v1/ratings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** GET /health one after the other until `until` settles; each request's latency in ms. */
async function healthLatencies(url: string, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true));
  const out: number[] = [];
  while (!done) {
    const t0 = performance.now();
    const res = await fetch(`${url}/health`);
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    out.push(performance.now() - t0);
  }
  return out;
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

describe('writes never block the event loop', () => {
  it('a rating posted while another connection holds the write lock answers 503 busy with Retry-After, stores nothing, and /health answers meanwhile', async () => {
    const deadline = 1000;
    const { url, t } = await serve(deadline);
    const other = t.open();
    other.exec('BEGIN IMMEDIATE'); // another process's import, in effect
    const started = performance.now();
    const post = postRating(url, { user: 'w1', item: 'i1', value: 3 });
    const latencies = await healthLatencies(url, post);
    const res = await post;
    const waited = performance.now() - started;
    other.exec('ROLLBACK');

    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('busy');
    expect(body.error.message).toMatch(/write lock/);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(waited).toBeGreaterThanOrEqual(deadline * 0.9);
    expect(userRatings(t.db, 'w1')).toEqual([]);
    // Blocking for the deadline would leave one or two /health answered before the POST returned,
    // the first ~1,000 ms late. Answered on timers: many, none near the deadline.
    expect(latencies.length).toBeGreaterThanOrEqual(10);
    expect(Math.max(...latencies)).toBeLessThan(deadline * 0.9);
  });

  it('a write whose lock is released before its deadline is stored (201)', async () => {
    const { url, t } = await serve(5000);
    const other = t.open();
    other.exec('BEGIN IMMEDIATE');
    const post = postRating(url, { ratings: [{ user: 'w2', item: 'i2', value: 4 }] });
    await new Promise((resolve) => setTimeout(resolve, 200));
    other.exec('COMMIT');
    const res = await post;
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ accepted: 1 });
    expect(userRatings(t.db, 'w2')).toEqual([{ item: 'i2', value: 4 }]);
  });

  it('DELETE /v1/users and PUT /v1/items also answer 503 busy (not 500) while the lock is held', async () => {
    const { url, t } = await serve(100);
    const other = t.open();
    other.exec('BEGIN IMMEDIATE');
    const del = await fetch(`${url}/v1/users/u3`, { method: 'DELETE' });
    const put = await fetch(`${url}/v1/items/i5`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Five' }),
    });
    other.exec('ROLLBACK');
    for (const r of [del, put]) {
      expect(r.status).toBe(503);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('busy');
      expect(r.headers.get('retry-after')).toBe('1');
    }
    expect(userRatings(t.db, 'u3').length).toBeGreaterThan(0);
  });

  it('during an import in another process /health keeps answering (p99 bound) and a posted rating waits without freezing', async () => {
    const { url, t } = await serve(30_000);
    // 600k rows: the child holds the write lock for a second or more on this machine kind.
    const rand = mulberry32(7);
    const rows: string[] = [];
    for (let r = 0; r < 600_000; r++)
      rows.push(`${Math.floor(rand() * 20_000)}\t${Math.floor(rand() * 3000)}\t${1 + Math.floor(rand() * 5)}`);
    const file = join(t.dir, 'big.tsv');
    writeFileSync(file, rows.join('\n') + '\n');
    // The machine's own /health latency first (1 s, lock free): the bound below scales with it.
    const baseline = await healthLatencies(url, new Promise((resolve) => setTimeout(resolve, 1000)));
    const probe = t.open();
    probe.pragma('busy_timeout = 0');
    let exited = false;
    const imported = runCli(['import', file, '--db', t.path]).finally(() => (exited = true));
    // Wait until the child holds the lock, then post a rating and sample /health until the import ends.
    let held = false;
    while (!exited && !(held = writeLockHeld(probe))) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(held).toBe(true);
    const post = postRating(url, { user: 'w3', item: 'i3', value: 5 });
    const latencies = await healthLatencies(url, imported);
    const result = await imported;
    const res = await post;

    expect(result.code).toBe(0);
    expect(res.status).toBe(201); // waited for the import on timers, then stored
    expect(userRatings(t.db, 'w3')).toEqual([{ item: 'i3', value: 5 }]);
    expect(latencies.length).toBeGreaterThanOrEqual(20);
    // Blocking shows as /health answers held for the 5 s busy timeout (or the rest of the
    // import). The bounds: p99 under 250 ms — 5× the 50 ms target, as headroom for the
    // child, tsx and other test files sharing 2 cores (measured: p99 62 ms at load 7) — or 4× the
    // lock-free p99 when the machine is busier than that; and no answer past half the busy timeout.
    expect(quantile(latencies, 0.99)).toBeLessThan(Math.max(250, 4 * quantile(baseline, 0.99)));
    expect(Math.max(...latencies)).toBeLessThan(2500);
  }, 120_000);
});
