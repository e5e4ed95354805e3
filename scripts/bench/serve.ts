/**
 * `npm run bench -- serve [--size 20m|small] [--seconds 10] [--connections 32] [--db PATH] [--regenerate] [--live] [--load-only] [--explain-only]`
 *
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
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { pino } from 'pino';
import { openDatabase, type Db } from '../../src/db/connection.js';
import { storeFromDb } from '../../src/store/store.js';
import { createApp } from '../../src/http/app.js';
import { loadActiveModel } from '../../src/model/registry.js';
import { createRecommender } from '../../src/serving/recommender.js';
import { mulberry32 } from '../../src/training/random.js';
import { CATEGORIES, SHAPES, loadAverage, prepareDb, servingModelDbPath } from './common.js';

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
function startChild(args: string[]): Promise<{ child: ChildProcess; info: ChildInfo }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', ...args], {
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
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.get('/v1/users/:user/recommendations', (_req, res) => {
      res.json(CONSTANT_BODY);
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
  const app = createApp({ recommender, logger: pino({ level: 'silent' }) });
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
  const size = flag(args, '--size') ?? '20m';
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
