/**
 * `npm run bench -- busy [--rows N] [--deadline MS]`: the server while another process imports.
 * A server (createRecommender + createApp, listening on loopback) runs over a fresh database
 * holding the small synthetic model; `ridgerec import` of an N-row TSV (default 8,000,000, the
 * import case's generated file) runs in a child process and holds the write lock for its whole
 * transaction. Meanwhile this process requests GET /health back to back, a recommendation every
 * 20 ms, and POST /v1/ratings every 250 ms, first for --baseline-seconds (default 5) with the
 * lock free, then while the import holds it, and prints one JSON line: for each phase /health
 * p50/p99/max (the target: p99 < 50 ms during the import), the recommendations' p99, the POSTs by
 * status (503 busy while the lock is held past the write deadline, 201 once it is free), the
 * longest POST and the event loop's own delay, with the load average.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { openDatabase, writeLockHeld } from '../../src/db/connection.js';
import { createApp } from '../../src/http/app.js';
import { createRecommender } from '../../src/serving/recommender.js';
import { storeFromDb } from '../../src/store/store.js';
import { mulberry32 } from '../../src/training/random.js';
import { loadAverage, peakRssMB, prepareDb, SHAPES } from './common.js';
import { generateTsv } from './import.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer, got ${args[i + 1]}`);
  return v;
}

function quantiles(xs: number[]): { n: number; p50: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => (s.length === 0 ? NaN : Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 10) / 10);
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: at(1) };
}

/**
 * Drives the server until `until` settles: GET /health back to back, a recommendation for a random
 * user every 20 ms, a POST /v1/ratings every 250 ms; the event loop's own delay is sampled too
 * (a blocked loop shows there whatever the client sees).
 */
async function drive(url: string, users: number, deadline: number, until: Promise<unknown>) {
  let done = false;
  void until.finally(() => (done = true));
  const health: number[] = [];
  const recs: number[] = [];
  const posts: { status: number; ms: number }[] = [];
  const rand = mulberry32(5);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const healthLoop = (async () => {
    while (!done) {
      const t0 = performance.now();
      const res = await fetch(`${url}/health`);
      await res.arrayBuffer();
      health.push(performance.now() - t0);
    }
  })();
  const inFlight: Promise<void>[] = [];
  const recTimer = setInterval(() => {
    const t0 = performance.now();
    inFlight.push(
      fetch(`${url}/v1/users/u${Math.floor(rand() * users)}/recommendations?limit=10`)
        .then((r) => r.arrayBuffer())
        .then(() => void recs.push(performance.now() - t0)),
    );
  }, 20);
  const postTimer = setInterval(() => {
    const t0 = performance.now();
    inFlight.push(
      fetch(`${url}/v1/ratings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: `bench-${posted++}`, item: 'i1', value: 4 }),
      }).then(async (r) => {
        await r.arrayBuffer();
        posts.push({ status: r.status, ms: performance.now() - t0 });
      }),
    );
  }, 250);
  await until;
  clearInterval(recTimer);
  clearInterval(postTimer);
  await healthLoop;
  loop.disable();
  await Promise.race([Promise.all(inFlight), new Promise((resolve) => setTimeout(resolve, deadline + 1000))]);
  const byStatus: Record<string, number> = {};
  for (const p of posts) byStatus[p.status] = (byStatus[p.status] ?? 0) + 1;
  return {
    healthMs: quantiles(health),
    recommendationsMs: quantiles(recs),
    postsByStatus: byStatus,
    longestPostMs: Math.round(Math.max(0, ...posts.map((p) => p.ms))),
    eventLoopDelayMs: { p99: Math.round(loop.percentile(99) / 1e5) / 10, max: Math.round(loop.max / 1e5) / 10 },
  };
}

let posted = 0;

export async function run(args: string[]): Promise<void> {
  const rows = option(args, '--rows', 8_000_000);
  const deadline = option(args, '--deadline', 2000);
  const file = await generateTsv(rows);
  const dir = mkdtempSync(join(tmpdir(), 'ridgerec-bench-busy-'));
  const path = join(dir, 'busy.db');
  const shape = SHAPES.small!;
  const db = prepareDb(path, shape, true);
  const rec = createRecommender({ store: storeFromDb(db), precompute: false, writeDeadlineMs: deadline });
  const app = createApp({ recommender: rec, logger: pino({ level: 'silent' }) });
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const probe = openDatabase(path);

  // Phase 1, the baseline: the same traffic for a few seconds with nobody holding the lock, so the
  // figures below compare with this machine's load at the time, not with an ideal.
  const baselineMs = option(args, '--baseline-seconds', 5) * 1000;
  const baseline = await drive(url, shape.users, deadline, new Promise((resolve) => setTimeout(resolve, baselineMs)));

  // Phase 2: the same traffic while `ridgerec import` holds the write lock in a child process.
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'import', file, '--db', path, '--json'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let childOut = '';
  child.stdout.on('data', (d: Buffer) => (childOut += d.toString()));
  let exited = false;
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => ((exited = true), resolve(code))));
  while (!exited && !writeLockHeld(probe)) await new Promise((resolve) => setTimeout(resolve, 10));
  const lockedAt = performance.now();
  const during = await drive(url, shape.users, deadline, exit);
  const code = await exit;
  const importSeconds = (performance.now() - started) / 1000;
  const lockSeconds = (performance.now() - lockedAt) / 1000;
  process.stdout.write(
    `${JSON.stringify({
      case: 'busy',
      rows,
      importExit: code,
      imported: childOut.trim() === '' ? null : (JSON.parse(childOut) as { rows: number }).rows,
      importSeconds: Math.round(importSeconds * 10) / 10,
      lockHeldSeconds: Math.round(lockSeconds * 10) / 10,
      writeDeadlineMs: deadline,
      duringImport: during,
      baseline,
      peakRssMB: peakRssMB(),
      loadAverage: loadAverage(),
    })}\n`,
  );
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rec.close();
  probe.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
}
