/**
 * `npm run bench -- serve [--size ml100k|20m|small] [--seconds 8] [--connections 32] [--rounds 2] [--tool wrk|autocannon]
 *                         [--db PATH] [--regenerate] [--live] [--load-only] [--explain-only] [--cpu-prof DIR]`
 *
 * --size ml100k (the default when ../shared/data/ml-100k/u.data exists): the MovieLens 100k
 * ratings imported into a cached db with a model trained on them (default parameters), served by
 * createApp with request logging (pino at info, to a file) and metrics on, against a plain
 * Express 5 app whose one route returns a constant body of the same shape and size (a real answer,
 * captured from the app before the run). Both are driven by the same tool with the same request
 * mix: wrk (`-t1 -c32 -d8s --latency` and a Lua script asking for a random user's top 10), or
 * autocannon with a message when wrk is not installed; the two servers alternate for --rounds
 * rounds after a warm-up each, and the figures are the medians over rounds. Prints
 *   {"case":"serve","size":"ml100k","requestsPerSecond","p50Ms","p99Ms","plainExpressRequestsPerSecond",
 *    "plainExpressP99Ms","ratio","p99Ratio","cpuUsPerRequest","plainExpressCpuUsPerRequest","cpuRatio",
 *    "targetRatio":0.8,"targetP99Ratio":1.5,"rounds":[…],"loadAverage…"}
 * cpuRatio is plain Express's server CPU time per request over ridgerec's (from /proc/<pid>/stat):
 * the throughput ratio the two would reach with a core each to themselves, which other jobs on a
 * shared machine disturb much less than they disturb requests per second.
 * RIDGEREC_BENCH_ML100K names another copy of u.data. --cpu-prof DIR runs the ridgerec server under `node --cpu-prof` (profile written to DIR).
 *
 * The synthetic sizes:
 * Serving speed on a model shaped like the 20m synthetic set: 140,000 users × 27,000 items × 64
 * factors, built directly (seeded random factors and a Zipf-like userItems CSR of ~20M entries,
 * no training; common.ts's syntheticModel) and saved with the model store into a temp db (reused
 * across runs, and by the topn case). Prints JSON lines:
 *   {"case":"load",…}   loadActiveModel and the serving-state build, timed separately (median of 3)
 *   {"case":"explain",…} the extra cost of explain: 3 on a top-10 answer for a user with ~200
 *                        ratings, in-process ({"plainMs","explainMs","extraMs"} per call); with
 *                        --explain-only the HTTP cases are skipped
 *   {"case":"filtered",…} the same load restricted to one category of 20 (p99 against the unfiltered p99)
 *   {"case":"serve",…}  the summary: {"requestsPerSecond","p50Ms","p99Ms","errors",
 *                        "plainExpressRequestsPerSecond","ratio",…}
 * The server runs in a child process (this file with --child): createRecommender over the db, the
 * precomputation awaited, then G's createApp (request logging silenced) on a random port;
 * autocannon (32 connections, 10 s, after a 2 s warm-up) asks for random known users' top 10.
 * Then a plain Express app with one route returning a constant JSON body of the same shape is
 * measured the same way in the same run. --live turns the top-N precomputation off (every answer
 * scores the whole catalog), to see what the precomputation buys.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { pino } from 'pino';
import { openDatabase, type Db } from '../../src/db/connection.js';
import { storeFromDb } from '../../src/store/store.js';
import { createApp } from '../../src/http/app.js';
import { activeModelId, loadActiveModel, saveModel } from '../../src/model/registry.js';
import { fit } from '../../src/model/fit.js';
import { loadMatrix, ratingStats } from '../../src/ratings/store.js';
import { importRatingsFile } from '../../src/ratings/import.js';
import { createRecommender } from '../../src/serving/recommender.js';
import { mulberry32 } from '../../src/training/random.js';
import { BENCH_CACHE, CATEGORIES, SHAPES, loadAverage, prepareDb, servingModelDbPath } from './common.js';

/** The part of autocannon's API used here (the package ships no types). */
interface AutocannonRequest {
  method?: string;
  path?: string;
  setupRequest?: (req: AutocannonRequest) => AutocannonRequest;
}
interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  requests: AutocannonRequest[];
}
interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (o: AutocannonOptions) => Promise<AutocannonResult>;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Load time, measured apart from everything else: loadActiveModel, then buildServingState. Wall
 * time and this thread's CPU time (less sensitive to other jobs on a shared machine), median of 3.
 */
function measureLoad(db: Db) {
  const load: number[] = [];
  const build: number[] = [];
  const loadCpu: number[] = [];
  const buildCpu: number[] = [];
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  for (let r = 0; r < 3; r++) {
    const c0 = cpuMs();
    const t0 = performance.now();
    const { model } = loadActiveModel(db)!;
    const t1 = performance.now();
    const c1 = cpuMs();
    model.prepare();
    const t2 = performance.now();
    const c2 = cpuMs();
    load.push(t1 - t0);
    build.push(t2 - t1);
    loadCpu.push(c1 - c0);
    buildCpu.push(c2 - c1);
  }
  const l = median(load);
  const b = median(build);
  return {
    loadModelMs: round(l),
    buildStateMs: round(b),
    totalMs: round(l + b),
    loadModelCpuMs: round(median(loadCpu)),
    buildStateCpuMs: round(median(buildCpu)),
    runs: 3,
    loadAverage: loadAverage(),
  };
}

/** Interleaved rounds of in-process calls per case in measureExplain, and calls per round. */
const EXPLAIN_ROUNDS = 7;
const EXPLAIN_CALLS = 100;

/**
 * The extra cost of `explain: 3` (src/serving/explanations.ts) on a top-10 answer, in-process on
 * the bench's model: recommendAnonymous with the ratings of the user whose row is closest to 200
 * items (value 1 each), with and without explain. Both fold the basket in and score the catalog;
 * explain adds one k×k factorization of the user's system and a pair of triangular solves per
 * returned item. The two cases alternate in rounds of EXPLAIN_CALLS calls after a warm-up (which
 * also pays YᵀY, computed once per model); per call: the median over rounds of wall and CPU time.
 */
function measureExplain(db: Db) {
  const { model } = loadActiveModel(db)!;
  const { indptr, indices } = model.userItems;
  let user = 0;
  for (let u = 0; u < model.nUsers; u++) {
    if (Math.abs(indptr[u + 1]! - indptr[u]! - 200) < Math.abs(indptr[user + 1]! - indptr[user]! - 200)) user = u;
  }
  const basket = Array.from(indices.subarray(indptr[user]!, indptr[user + 1]!), (i) => ({ item: model.itemIds[i]!, value: 1 }));
  const rec = createRecommender({ store: storeFromDb(db), precompute: false });
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const cases = { plain: { limit: 10 }, explain: { limit: 10, explain: 3 } } as const;
  const wall: Record<keyof typeof cases, number[]> = { plain: [], explain: [] };
  const cpu: Record<keyof typeof cases, number[]> = { plain: [], explain: [] };
  let because = 0;
  try {
    for (let j = 0; j < 30; j++) for (const c of Object.values(cases)) rec.recommendAnonymous(basket, c); // warm-up
    for (let r = 0; r < EXPLAIN_ROUNDS; r++) {
      for (const name of ['plain', 'explain'] as const) {
        const c0 = cpuMs();
        const t0 = performance.now();
        for (let j = 0; j < EXPLAIN_CALLS; j++) {
          const answer = rec.recommendAnonymous(basket, cases[name]);
          if (name === 'explain') because = answer.items.reduce((s, x) => s + (x.because?.length ?? 0), 0);
        }
        wall[name].push((performance.now() - t0) / EXPLAIN_CALLS);
        cpu[name].push((cpuMs() - c0) / EXPLAIN_CALLS);
      }
    }
  } finally {
    void rec.close();
  }
  const plainMs = median(wall.plain);
  const explainMs = median(wall.explain);
  return {
    factors: model.factors,
    ratings: basket.length,
    items: 10,
    explain: 3,
    becauseEntries: because,
    plainMs: round(plainMs, 3),
    explainMs: round(explainMs, 3),
    extraMs: round(explainMs - plainMs, 3),
    plainCpuMs: round(median(cpu.plain), 3),
    explainCpuMs: round(median(cpu.explain), 3),
    extraCpuMs: round(median(cpu.explain) - median(cpu.plain), 3),
    targetExtraMs: 2,
    calls: EXPLAIN_ROUNDS * EXPLAIN_CALLS,
    loadAverage: loadAverage(),
  };
}

interface ChildInfo {
  readonly port: number;
  readonly startupMs?: number;
  readonly precomputeSeconds?: number;
  readonly precompute?: string;
}

/** Starts this file as the server child; resolves when it prints its port. */
function startChild(args: string[], nodeArgs: string[] = []): Promise<{ child: ChildProcess; info: ChildInfo }> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', fileURLToPath(import.meta.url), '--child', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve({ child, info: JSON.parse(line) as ChildInfo }));
    child.once('exit', (code) => reject(new Error(`bench server child exited early with code ${code}`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function drive(port: number, path: (r: () => number) => string, seconds: number, connections: number): Promise<AutocannonResult> {
  const rand = mulberry32(7);
  const opts = (duration: number): AutocannonOptions => ({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: path(rand) }) }],
  });
  await autocannon(opts(2)); // warm-up: JIT, connection setup
  return autocannon(opts(seconds));
}

function summary(r: AutocannonResult) {
  return {
    requestsPerSecond: round(r.requests.average, 0),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
  };
}

/** The constant body of the plain route: shaped like a real top-10 answer. */
const CONSTANT_BODY = {
  user: 'u1',
  model: 1,
  source: 'model',
  items: Array.from({ length: 10 }, (_, j) => ({ item: `i${1000 + j}`, score: round(0.9 - j * 0.01, 4) })),
};

async function child(args: string[]): Promise<void> {
  const mode = flag(args, '--mode');
  if (mode === 'plain') {
    const bodyFile = flag(args, '--body');
    const body = bodyFile === undefined ? CONSTANT_BODY : (JSON.parse(readFileSync(bodyFile, 'utf8')) as unknown);
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.get('/v1/users/:user/recommendations', (_req, res) => {
      res.json(body);
    });
    const server = app.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      process.stdout.write(`${JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 })}\n`);
    });
    process.once('SIGTERM', () => server.close(() => process.exit(0)));
    return;
  }
  const db = openDatabase(flag(args, '--db')!);
  const t0 = performance.now();
  const recommender = createRecommender({ store: storeFromDb(db), ...(args.includes('--live') ? { precompute: false } : {}) });
  const startupMs = performance.now() - t0;
  const t1 = performance.now();
  const status = await recommender.whenPrecomputed();
  const precomputeSeconds = (performance.now() - t1) / 1000;
  const logFile = flag(args, '--log');
  const logger =
    logFile === undefined ? pino({ level: 'silent' }) : pino({ level: 'info' }, pino.destination({ dest: logFile, sync: false }));
  const app = createApp({ recommender, logger });
  const server = app.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    process.stdout.write(
      `${JSON.stringify({ port, startupMs: round(startupMs), precompute: status, precomputeSeconds: round(precomputeSeconds, 2) })}\n`,
    );
  });
  process.once('SIGTERM', () => {
    const s = recommender.stats();
    process.stderr.write(`bench serve: server stats ${JSON.stringify(s)}\n`);
    server.close(() => void recommender.close().then(() => process.exit(0)));
    server.closeAllConnections();
  });
}

export async function run(args: string[]): Promise<void> {
  if (args.includes('--child')) return child(args);
  const size = flag(args, '--size') ?? (existsSync(ML100K) ? 'ml100k' : '20m');
  if (flag(args, '--size') === undefined && size !== 'ml100k') {
    process.stderr.write(`bench serve: ${ML100K} not found; measuring the synthetic 20m model instead\n`);
  }
  if (size === 'ml100k') return runMl100k(args);
  const shape = SHAPES[size];
  if (!shape) throw new Error(`--size must be one of ${Object.keys(SHAPES).join(', ')}, got "${size}"`);
  const seconds = Number(flag(args, '--seconds') ?? 10);
  const connections = Number(flag(args, '--connections') ?? 32);
  const path = flag(args, '--db') ?? servingModelDbPath(size);
  const fresh = !existsSync(path);

  const startLoad = loadAverage();
  const db = prepareDb(path, shape, args.includes('--regenerate'));
  const load = measureLoad(db);
  process.stdout.write(`${JSON.stringify({ case: 'load', size, ...shape, ...load, freshDb: fresh })}\n`);
  if (args.includes('--load-only')) {
    db.close();
    return;
  }
  const explain = measureExplain(db);
  db.close();
  process.stdout.write(`${JSON.stringify({ case: 'explain', size, ...explain })}\n`);
  if (args.includes('--explain-only')) return;

  const users = shape.users;
  const server = await startChild(['--db', path, ...(args.includes('--live') ? ['--live'] : [])]);
  let app: AutocannonResult;
  let filtered: AutocannonResult;
  try {
    app = await drive(server.info.port, (r) => `/v1/users/u${Math.floor(r() * users)}/recommendations?limit=10`, seconds, connections);
    // The same requests restricted to one of the 20 categories (1,350 of the 27,000 items): most
    // users' precomputed top 50 hold fewer than 10 of them, so the catalog is scored live.
    filtered = await drive(
      server.info.port,
      (r) => `/v1/users/u${Math.floor(r() * users)}/recommendations?limit=10&category=c${Math.floor(r() * CATEGORIES)}`,
      seconds,
      connections,
    );
  } finally {
    await stopChild(server.child);
  }
  const plain = await startChild(['--mode', 'plain']);
  let base: AutocannonResult;
  try {
    base = await drive(plain.info.port, (r) => `/v1/users/u${Math.floor(r() * users)}/recommendations?limit=10`, seconds, connections);
  } finally {
    await stopChild(plain.child);
  }
  const a = summary(app);
  const b = summary(base);
  process.stdout.write(
    `${JSON.stringify({
      case: 'serve',
      size,
      ...a,
      plainExpressRequestsPerSecond: b.requestsPerSecond,
      ratio: round(a.requestsPerSecond / b.requestsPerSecond, 3),
      plainExpressP99Ms: b.p99Ms,
      connections,
      seconds,
      serverStartupMs: server.info.startupMs,
      precompute: server.info.precompute,
      precomputeSeconds: server.info.precomputeSeconds,
      loadAverageAtStart: startLoad,
    })}\n`,
  );
  const f = summary(filtered);
  process.stdout.write(
    `${JSON.stringify({
      case: 'filtered',
      size,
      filter: `category (1 of ${CATEGORIES})`,
      ...f,
      unfilteredP99Ms: a.p99Ms,
      p99Ratio: round(f.p99Ms / a.p99Ms, 2),
      targetP99Ratio: 2,
      connections,
      seconds,
      loadAverage: loadAverage(),
    })}\n`,
  );
}

// Run directly (the server child): `node --import tsx scripts/bench/serve.ts --child …`.
if (process.argv[1] === fileURLToPath(import.meta.url)) await run(process.argv.slice(2));

// ---- the ML-100k throughput case: ridgerec against plain Express, same tool, same requests ----------

/** The MovieLens 100k ratings, beside the repository (../shared/data). */
const ML100K = process.env.RIDGEREC_BENCH_ML100K ?? fileURLToPath(new URL('../../../shared/data/ml-100k/u.data', import.meta.url));
const ML100K_USERS = 943;

/** The cached ML-100k db: the ratings imported once and a model trained with the default parameters. */
async function prepareMl100k(regenerate: boolean): Promise<string> {
  const path = join(BENCH_CACHE, 'serve-ml100k.db');
  if (regenerate) for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  const db = openDatabase(path);
  try {
    if (ratingStats(db).ratings === 0) await importRatingsFile(db, ML100K);
    if (activeModelId(db) === null) saveModel(db, await fit(loadMatrix(db), {}), { activate: true });
  } finally {
    db.close();
  }
  return path;
}

interface LoadResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** The server process's CPU time per request (user + system), in µs: steadier than req/s on a busy machine. */
  cpuUsPerRequest?: number;
}

/** Clock ticks per second of /proc/<pid>/stat's times. */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** A process's user + system CPU time so far, in ms (Linux /proc; NaN elsewhere). */
function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    // wrk --version exits 1 after printing its version: only a missing binary is ENOENT.
    return (e as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** wrk's "--latency" distribution line for a percentile, in ms ("99%   12.34ms"). */
function wrkPercentile(out: string, p: string): number {
  const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
  if (!m) throw new Error(`wrk printed no ${p}% line:\n${out}`);
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

function runWrk(port: number, script: string, seconds: number, connections: number): LoadResult {
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, `http://127.0.0.1:${port}`], {
    encoding: 'utf8',
  });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requestsPerSecond: Math.round(Number(rps?.[1] ?? 0)),
    p50Ms: round(wrkPercentile(out, '50'), 2),
    p99Ms: round(wrkPercentile(out, '99'), 2),
    errors: Number(non2xx?.[1] ?? 0) + (socket ? socket.slice(1).reduce((s, x) => s + Number(x), 0) : 0),
  };
}

async function runAutocannon(port: number, seconds: number, connections: number): Promise<LoadResult> {
  const rand = mulberry32(7);
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: `/v1/users/${1 + Math.floor(rand() * ML100K_USERS)}/recommendations?limit=10` }),
      },
    ],
  });
  return summary(r);
}

async function runMl100k(args: string[]): Promise<void> {
  if (!existsSync(ML100K)) throw new Error(`--size ml100k needs ${ML100K} (the MovieLens 100k ratings)`);
  const seconds = Number(flag(args, '--seconds') ?? 8);
  const connections = Number(flag(args, '--connections') ?? 32);
  const rounds = Number(flag(args, '--rounds') ?? 2);
  const wanted = flag(args, '--tool');
  const wrk = wanted === 'autocannon' ? false : hasWrk();
  if (!wrk && wanted !== 'autocannon') {
    process.stderr.write('bench serve: wrk is not installed (apt-get install -y wrk); using autocannon for both servers instead\n');
  }
  const tool = wrk ? `wrk -t1 -c${connections} -d${seconds}s --latency` : `autocannon -c${connections} -d${seconds}`;
  const startLoad = loadAverage();
  const db = await prepareMl100k(args.includes('--regenerate'));
  const dir = mkdtempSync(join(tmpdir(), 'ridgerec-bench-serve-'));
  const script = join(dir, 'users.lua');
  // Random users 1..943 of ML-100k, seeded: the same sequence against both servers.
  writeFileSync(
    script,
    `math.randomseed(7)\nrequest = function()\n  return wrk.format("GET", "/v1/users/" .. math.random(1, ${ML100K_USERS}) .. "/recommendations?limit=10")\nend\n`,
  );
  const profDir = flag(args, '--cpu-prof');
  const drive = async (server: { child: ChildProcess; info: ChildInfo }): Promise<LoadResult> => {
    const c0 = cpuMsOf(server.child.pid!);
    const r = wrk ? runWrk(server.info.port, script, seconds, connections) : await runAutocannon(server.info.port, seconds, connections);
    const cpu = cpuMsOf(server.child.pid!) - c0;
    return { ...r, cpuUsPerRequest: round((cpu * 1000) / Math.max(1, r.requestsPerSecond * seconds), 1) };
  };
  const warm = (port: number) => (wrk ? Promise.resolve(runWrk(port, script, 2, connections)) : runAutocannon(port, 2, connections));
  const app = await startChild(
    ['--db', db, '--log', join(dir, 'requests.log')],
    profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
  );
  const results: { ridgerec: LoadResult[]; plain: LoadResult[] } = { ridgerec: [], plain: [] };
  let plain: { child: ChildProcess; info: ChildInfo } | null = null;
  let logLines: number;
  let responseBytes: number | undefined;
  try {
    // The plain route answers a real answer's bytes: same shape, same size.
    const sample = await (await fetch(`http://127.0.0.1:${app.info.port}/v1/users/1/recommendations?limit=10`)).text();
    writeFileSync(join(dir, 'body.json'), sample);
    responseBytes = Buffer.byteLength(sample);
    plain = await startChild(['--mode', 'plain', '--body', join(dir, 'body.json')]);
    await warm(app.info.port);
    await warm(plain.info.port);
    for (let r = 0; r < rounds; r++) {
      results.ridgerec.push(await drive(app));
      results.plain.push(await drive(plain));
    }
  } finally {
    await stopChild(app.child);
    if (plain) await stopChild(plain.child);
    try {
      logLines = readFileSync(join(dir, 'requests.log'), 'utf8').split('\n').length - 1;
    } catch {
      logLines = 0;
    }
    rmSync(dir, { recursive: true, force: true });
  }
  const med = (xs: LoadResult[], k: keyof LoadResult) => median(xs.map((x) => x[k] ?? Number.NaN));
  const rps = med(results.ridgerec, 'requestsPerSecond');
  const p99 = med(results.ridgerec, 'p99Ms');
  const plainRps = med(results.plain, 'requestsPerSecond');
  const plainP99 = med(results.plain, 'p99Ms');
  process.stdout.write(
    `${JSON.stringify({
      case: 'serve',
      size: 'ml100k',
      tool,
      request: 'GET /v1/users/<random 1..943>/recommendations?limit=10',
      requestsPerSecond: rps,
      p50Ms: med(results.ridgerec, 'p50Ms'),
      p99Ms: p99,
      errors: results.ridgerec.reduce((s, x) => s + x.errors, 0),
      plainExpressRequestsPerSecond: plainRps,
      plainExpressP50Ms: med(results.plain, 'p50Ms'),
      plainExpressP99Ms: plainP99,
      ratio: round(rps / plainRps, 3),
      p99Ratio: round(p99 / plainP99, 2),
      cpuUsPerRequest: med(results.ridgerec, 'cpuUsPerRequest'),
      plainExpressCpuUsPerRequest: med(results.plain, 'cpuUsPerRequest'),
      cpuRatio: round(med(results.plain, 'cpuUsPerRequest') / med(results.ridgerec, 'cpuUsPerRequest'), 3),
      targetRatio: 0.8,
      targetP99Ratio: 1.5,
      responseBytes,
      requestLogLines: logLines,
      rounds: results.ridgerec.map((x, j) => ({ ridgerec: x, plain: results.plain[j] })),
      loadAverageAtStart: startLoad,
      loadAverage: loadAverage(),
    })}\n`,
  );
}
