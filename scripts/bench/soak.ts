/**
 * `npm run bench -- soak [--seconds 60] [--connections 16] [--import-rows 300000]`
 *
 * The server under mixed traffic for a minute: the real `ridgerec serve` (a child process, logs at
 * info to a file) over a fresh copy of the ML-100k database with a trained model, driven by
 * autocannon with a seeded mix of requests:
 *   90%  GET /v1/users/<random known user>/recommendations?limit=10
 *    8%  POST /v1/ratings, half for known users (1..943), half for new users (soak-<n>)
 *    2%  DELETE /v1/users/<a new user written earlier, or a random known one>
 * and, in the middle (at 40% of the run), one `ridgerec import` of --import-rows synthetic
 * ratings and one `ridgerec train` (which activates its model, so the server swaps at its next
 * poll), both as separate processes on the same database, as an operator would run them.
 * Every 10 s it prints one JSON line: {"case":"soak","t","requestsPerSecond","p99Ms","byStatus",
 * "rssMB","events"}; then a summary: total 5xx (target 0) and whether RSS stayed flat (the last
 * 20 s within 10% of each other).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/db/connection.js';
import { activeModelId, saveModel } from '../../src/model/registry.js';
import { fit } from '../../src/model/fit.js';
import { importRatingsFile } from '../../src/ratings/import.js';
import { loadMatrix, ratingStats } from '../../src/ratings/store.js';
import { mulberry32 } from '../../src/training/random.js';
import { BENCH_CACHE, loadAverage } from './common.js';

interface CannonRequest {
  method?: string;
  path?: string;
  body?: string;
  headers?: Record<string, string>;
}
interface CannonInstance {
  on(event: 'response', f: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  on(event: 'done', f: () => void): void;
  stop(): void;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (
  o: { url: string; connections: number; duration: number; requests: { setupRequest: (r: CannonRequest) => CannonRequest }[] },
  cb?: (err: unknown, result: { errors: number; timeouts: number }) => void,
) => CannonInstance;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ML100K = process.env.RIDGEREC_BENCH_ML100K ?? fileURLToPath(new URL('../../../shared/data/ml-100k/u.data', import.meta.url));
const USERS = 943;
const ITEMS = 1682;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** The ML-100k database with a trained model, built once in the bench cache; each soak copies it. */
async function baseDb(): Promise<string> {
  const path = join(BENCH_CACHE, 'soak-ml100k.db');
  const db = openDatabase(path);
  try {
    if (ratingStats(db).ratings === 0) await importRatingsFile(db, ML100K);
    if (activeModelId(db) === null) saveModel(db, await fit(loadMatrix(db), {}), { activate: true });
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  return path;
}

function cli(args: string[], log: string): ChildProcess {
  const out = createWriteStream(log, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', HOST: '', PORT: '', RIDGEREC_API_KEY: '', RIDGEREC_POLL_MS: '1000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  return child;
}

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : -1;
}

const exited = (c: ChildProcess) =>
  new Promise<number | null>((resolve) => (c.exitCode !== null ? resolve(c.exitCode) : c.once('exit', resolve)));

export async function run(args: string[]): Promise<void> {
  const seconds = Number(flag(args, '--seconds') ?? 60);
  const connections = Number(flag(args, '--connections') ?? 16);
  const importRows = Number(flag(args, '--import-rows') ?? 300_000);
  const dir = mkdtempSync(join(tmpdir(), 'ridgerec-soak-'));
  const db = join(dir, 'soak.db');
  copyFileSync(await baseDb(), db);
  // The import in the middle: new ratings from 5,000 users that exist nowhere else.
  const rand = mulberry32(11);
  const lines: string[] = [];
  for (let j = 0; j < importRows; j++)
    lines.push(`imp${Math.floor(rand() * 5000)},${1 + Math.floor(rand() * ITEMS)},${1 + Math.floor(rand() * 5)}`);
  writeFileSync(join(dir, 'extra.csv'), `user,item,value\n${lines.join('\n')}\n`);

  const log = join(dir, 'server.log');
  const server = cli(['serve', '--port', '0', '--db', db], log);
  const url = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: server.stdout! });
    rl.on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    server.once('exit', (code) => reject(new Error(`ridgerec serve exited with ${code}; see ${log}`)));
  });

  const startLoad = loadAverage();
  const written: string[] = [];
  let newUsers = 0;
  const mix = mulberry32(7);
  const setupRequest = (req: CannonRequest): CannonRequest => {
    const x = mix();
    if (x < 0.9) return { ...req, method: 'GET', path: `/v1/users/${1 + Math.floor(mix() * USERS)}/recommendations?limit=10`, body: '' };
    if (x < 0.98) {
      const user = mix() < 0.5 ? String(1 + Math.floor(mix() * USERS)) : `soak-${newUsers++}`;
      if (user.startsWith('soak-')) written.push(user);
      const body = JSON.stringify({ user, item: String(1 + Math.floor(mix() * ITEMS)), value: 1 + Math.floor(mix() * 5) });
      return { ...req, method: 'POST', path: '/v1/ratings', body, headers: { 'content-type': 'application/json' } };
    }
    const user = written.length > 0 && mix() < 0.5 ? written[Math.floor(mix() * written.length)]! : String(1 + Math.floor(mix() * USERS));
    return { ...req, method: 'DELETE', path: `/v1/users/${encodeURIComponent(user)}`, body: '' };
  };

  interface Window {
    n: number;
    latencies: number[];
    byStatus: Record<string, number>;
  }
  const fresh = (): Window => ({ n: 0, latencies: [], byStatus: {} });
  let win = fresh();
  const total: Record<string, number> = {};
  const rss: number[] = [];
  const events: string[] = [];
  const t0 = performance.now();
  let failures = { errors: 0, timeouts: 0 };
  const instance = autocannon({ url, connections, duration: seconds, requests: [{ setupRequest }] }, (_err, result) => {
    failures = { errors: result.errors, timeouts: result.timeouts };
  });
  instance.on('response', (_c, status, _bytes, ms) => {
    win.n++;
    win.latencies.push(ms);
    win.byStatus[status] = (win.byStatus[status] ?? 0) + 1;
    total[status] = (total[status] ?? 0) + 1;
  });
  const done = new Promise<void>((resolve) => instance.on('done', resolve));

  const report = (partial = false) => {
    const w = win;
    win = fresh();
    const sorted = w.latencies.sort((a, b) => a - b);
    const p99 = sorted.length > 0 ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]! : 0;
    const mb = rssMB(server.pid!);
    if (!partial) rss.push(mb);
    const t = Math.round((performance.now() - t0) / 1000);
    process.stdout.write(
      `${JSON.stringify({ case: 'soak', t, ...(partial ? { partial: true } : {}), requestsPerSecond: Math.round(w.n / (partial ? Math.max(1, t % 10) : 10)), p99Ms: p99, byStatus: w.byStatus, rssMB: mb, events: events.splice(0), loadAverage: loadAverage() })}\n`,
    );
  };
  const ticker = setInterval(() => report(), 10_000);

  // In the middle: an import and a training run (which activates its model) by other processes.
  const middle = setTimeout(() => {
    const at = () => `${Math.round((performance.now() - t0) / 1000)} s`;
    events.push(`import of ${importRows} rows started at ${at()}`);
    const imp = cli(['import', join(dir, 'extra.csv'), '--db', db], join(dir, 'import.log'));
    void exited(imp).then((code) => {
      events.push(`import exited ${code} at ${at()}`);
      const train = cli(['train', '--db', db, '--iterations', '5'], join(dir, 'train.log'));
      events.push(`train started at ${at()}`);
      void exited(train).then((c) => events.push(`train exited ${c} (its model activated; the server swaps at its next poll) at ${at()}`));
    });
  }, seconds * 400);

  await done;
  clearInterval(ticker);
  clearTimeout(middle);
  if (win.n > 0) report(true); // the requests after the last 10-s mark
  const swapped = readFileSync(log, 'utf8').includes('model swapped');
  server.kill('SIGTERM');
  await exited(server);
  const fiveXX = Object.entries(total)
    .filter(([s]) => Number(s) >= 500)
    .reduce((s, [, n]) => s + n, 0);
  const last = rss.slice(-3); // the samples at the last 20 s: t-20, t-10, t
  const flat = last.length === 3 && Math.max(...last) <= 1.1 * Math.min(...last);
  process.stdout.write(
    `${JSON.stringify({
      case: 'soak-summary',
      seconds,
      connections,
      requests: Object.values(total).reduce((s, n) => s + n, 0),
      byStatus: total,
      fiveXX,
      targetFiveXX: 0,
      connectionErrors: failures.errors,
      timeouts: failures.timeouts,
      modelSwapped: swapped,
      rssMB: rss,
      rssFlatLast20s: flat,
      loadAverageAtStart: startLoad,
      loadAverage: loadAverage(),
    })}\n`,
  );
  if (args.includes('--keep')) process.stderr.write(`bench soak: kept ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}
