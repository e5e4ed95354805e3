/**
 * What the benchmark cases share: the cache directory for generated data sets, the figures every
 * case reports beside its timings (peak RSS, load average), the seeded samplers of the synthetic
 * data sets (Zipf-like item popularity, log-normal user activity), the cached synthetic rating
 * databases the train and retrain cases read, and the synthetic serving model of the serve and
 * topn cases (seeded factors and rated-items CSR, saved once into a db under $TMPDIR and reused).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../src/db/connection.js';
import { Model } from '../../src/model/model.js';
import { listModels, saveModel } from '../../src/model/registry.js';
import { getItem, writeItems } from '../../src/ratings/catalogue.js';
import { DEFAULT_PARAMS, type FactorModel } from '../../src/training/params.js';
import { mulberry32 } from '../../src/training/random.js';

/** Generated data sets are cached here across runs ($TMPDIR/ridgerec-bench). */
export const BENCH_CACHE = join(tmpdir(), 'ridgerec-bench');

/** This process's peak resident set in MB: VmHWM from /proc/self/status, else the current RSS (not Linux). */
export function peakRssMB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Math.round(Number(m[1]) / 1024);
  } catch {
    // not Linux: fall through
  }
  return Math.round(process.memoryUsage().rss / (1024 * 1024));
}

/** The 1-minute load average, 2 decimals: other jobs on a shared machine skew every figure. */
export function loadAverage(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}

/**
 * A sampler of item ids 0..n-1 with Zipf-like popularity: rank r has weight 1/(r+1)^exponent and
 * the ranks are shuffled over the ids (Fisher–Yates, here, with `rand`: call this where those
 * draws belong in the seeded stream). Each draw takes one rand() and a binary search of the CDF.
 */
export function zipfSampler(n: number, exponent: number, rand: () => number): () => number {
  const rankToItem = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [rankToItem[i], rankToItem[j]] = [rankToItem[j]!, rankToItem[i]!];
  }
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let r = 0; r < n; r++) cdf[r] = acc += 1 / (r + 1) ** exponent;
  for (let r = 0; r < n; r++) cdf[r] = cdf[r]! / acc;
  return () => {
    const x = rand();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return rankToItem[lo]!;
  };
}

/** n log-normal weights exp(g), g ~ N(0, 1) by Box–Muller (two rand() each), and their sum. */
export function logNormalWeights(n: number, rand: () => number): { weights: Float64Array; sum: number } {
  const weights = new Float64Array(n);
  let sum = 0;
  for (let u = 0; u < n; u++) {
    const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    sum += weights[u] = Math.exp(g);
  }
  return { weights, sum };
}

/** The shape of a synthetic serving model (serve and topn benchmarks). */
export interface Shape {
  readonly users: number;
  readonly items: number;
  readonly factors: number;
  readonly nnz: number;
}
/** The synthetic serving models: 20m is shaped like the 20M-rating set, small is for quick runs. */
export const SHAPES: Record<string, Shape> = {
  '20m': { users: 140_000, items: 27_000, factors: 64, nnz: 20_000_000 },
  small: { users: 5_000, items: 2_000, factors: 32, nnz: 200_000 },
};
/** Seed of the synthetic serving models. */
export const SEED = 20;

/** Where a synthetic serving model is saved unless --db says otherwise. */
export function servingModelDbPath(size: string): string {
  return join(tmpdir(), `ridgerec-bench-serve-${size}.db`);
}

/**
 * Seeded model of the given shape. Item popularity is Zipf-like (p_i ∝ 1/(i+1)^0.9 over a shuffled
 * catalog), user activity log-normal (mean nnz/users, at least 1, at most items/4).
 */
export function syntheticModel(shape: Shape): { model: FactorModel; userItems: { indptr: Int32Array; indices: Int32Array } } {
  const rand = mulberry32(SEED);
  const { users, items, factors: k } = shape;
  const userFactors = new Float32Array(users * k);
  const itemFactors = new Float32Array(items * k);
  for (let j = 0; j < userFactors.length; j++) userFactors[j] = (rand() - 0.5) * 0.2;
  for (let j = 0; j < itemFactors.length; j++) itemFactors[j] = (rand() - 0.5) * 0.2;

  // Zipf-like item popularity over a shuffled catalog.
  const drawItem = zipfSampler(items, 0.9, rand);

  // Log-normal activity, scaled so the counts sum to about nnz.
  const { weights: raw, sum } = logNormalWeights(users, rand);
  const maxPerUser = Math.max(1, Math.floor(items / 4));
  const indptr = new Int32Array(users + 1);
  for (let u = 0; u < users; u++) {
    const c = Math.min(maxPerUser, Math.max(1, Math.round((raw[u]! / sum) * shape.nnz)));
    indptr[u + 1] = indptr[u]! + c;
  }
  const indices = new Int32Array(indptr[users]!);
  const mark = new Uint8Array(items);
  for (let u = 0; u < users; u++) {
    const start = indptr[u]!;
    const end = indptr[u + 1]!;
    for (let e = start; e < end;) {
      const i = drawItem();
      if (mark[i] === 1) continue;
      mark[i] = 1;
      indices[e++] = i;
    }
    const row = indices.subarray(start, end).sort();
    for (let e = 0; e < row.length; e++) mark[row[e]!] = 0;
  }
  const model: FactorModel = {
    params: { ...DEFAULT_PARAMS.implicit, factors: k, seed: SEED },
    factors: k,
    nUsers: users,
    nItems: items,
    userIds: Array.from({ length: users }, (_, u) => `u${u}`),
    itemIds: Array.from({ length: items }, (_, i) => `i${i}`),
    userFactors,
    itemFactors,
    userBias: null,
    itemBias: null,
    globalMean: 0,
  };
  return { model, userItems: { indptr, indices } };
}

/** Opens the bench db, (re)building the synthetic model unless an identical one is active. */
export function prepareDb(path: string, shape: Shape, regenerate: boolean): Db {
  if (regenerate) for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  const db = openDatabase(path);
  const tag = `${shape.users}x${shape.items}x${shape.factors}x${shape.nnz}/seed${SEED}`;
  const existing = listModels(db).find((m) => m.status === 'active' && m.metrics.synthetic === tag);
  if (existing) {
    ensureCategories(db, shape);
    return db;
  }
  process.stderr.write(`bench: generating the ${tag} model (once; reused from ${path} next time)…\n`);
  const t0 = performance.now();
  const { model, userItems } = syntheticModel(shape);
  const t1 = performance.now();
  saveModel(db, new Model({ ...model, userItems, metrics: { synthetic: tag }, history: [], createdAt: new Date().toISOString() }), {
    activate: true,
  });
  process.stderr.write(
    `bench: generated in ${((t1 - t0) / 1000).toFixed(1)} s, saved in ${((performance.now() - t1) / 1000).toFixed(1)} s (${userItems.indices.length} userItems entries)\n`,
  );
  ensureCategories(db, shape);
  return db;
}

/** Categories of the synthetic catalogue: item i is in category c(i mod CATEGORIES). */
export const CATEGORIES = 20;

/** Gives the synthetic items their categories once (the filtered case asks for one category). */
function ensureCategories(db: Db, shape: Shape): void {
  if (getItem(db, 'i0')?.categories.length) return;
  const changes = Array.from({ length: shape.items }, (_, i) => ({ id: `i${i}`, patch: { categories: [`c${i % CATEGORIES}`] } }));
  writeItems(db, changes, false);
}

/** The synthetic data sets (see ensureDatabase). */
export const SIZES = {
  '5m': { users: 100_000, items: 20_000, nnz: 5_000_000 },
  '20m': { users: 140_000, items: 27_000, nnz: 20_000_000 },
} as const;
export type Size = keyof typeof SIZES;

/** Bump when the generator changes, so a stale cached database is not reused. */
const GENERATOR_VERSION = 1;

/** Where the synthetic set of `size` is cached. */
export function dbPath(size: Size): string {
  return join(BENCH_CACHE, `train-${size}-v${GENERATOR_VERSION}.db`);
}

/**
 * Generates the synthetic set into a fresh database (rows written in primary-key order, 250-row
 * INSERTs, one transaction), unless the cached file already exists.
 */
export function ensureDatabase(size: Size): string {
  const path = dbPath(size);
  if (existsSync(path)) return path;
  mkdirSync(BENCH_CACHE, { recursive: true });
  const tmp = `${path}.partial-${process.pid}`;
  rmSync(tmp, { force: true });
  const { users, items, nnz } = SIZES[size];
  const started = performance.now();
  const rand = mulberry32(20_240_601);

  // Item popularity: Zipf over ranks, ranks shuffled over the item ids.
  const drawItem = zipfSampler(items, 0.9, rand);

  // User activity: log-normal weights scaled to nnz, at least 1, at most items/4.
  const { weights, sum: wsum } = logNormalWeights(users, rand);
  const cap = Math.floor(items / 4);
  const counts = new Int32Array(users);
  let assigned = 0;
  for (let u = 0; u < users; u++) assigned += counts[u] = Math.min(cap, Math.max(1, Math.round((weights[u]! / wsum) * nnz)));
  for (let u = 0; assigned !== nnz; u = (u + 1) % users) {
    if (assigned < nnz && counts[u]! < cap) {
      counts[u]!++;
      assigned++;
    } else if (assigned > nnz && counts[u]! > 1) {
      counts[u]!--;
      assigned--;
    }
  }

  const db = openDatabase(tmp);
  try {
    db.pragma('foreign_keys = OFF');
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    const write = db.transaction(() => {
      const B = 250;
      const insertIds = (table: string, n: number, prefix: string) => {
        const stmt = db.prepare(`INSERT INTO ${table} (id, external_id) VALUES ${'(?, ?),'.repeat(B).slice(0, -1)}`);
        const one = db.prepare(`INSERT INTO ${table} (id, external_id) VALUES (?, ?)`);
        const p: (number | string)[] = [];
        for (let id = 1; id <= n; id++) {
          p.push(id, `${prefix}${id}`);
          if (p.length === 2 * B) {
            stmt.run(p);
            p.length = 0;
          }
        }
        for (let k = 0; k < p.length; k += 2) one.run(p[k], p[k + 1]);
      };
      insertIds('users', users, 'u');
      insertIds('items', items, 'i');
      const stmt = db.prepare(`INSERT INTO ratings (user_id, item_id, value, updated_at) VALUES ${'(?, ?, ?, 0),'.repeat(B).slice(0, -1)}`);
      const one = db.prepare('INSERT INTO ratings (user_id, item_id, value, updated_at) VALUES (?, ?, ?, 0)');
      const p: number[] = [];
      const stamp = new Int32Array(items).fill(-1);
      const row: number[] = [];
      for (let u = 0; u < users; u++) {
        row.length = 0;
        while (row.length < counts[u]!) {
          const item = drawItem(); // a repeat within the user is redrawn
          if (stamp[item] === u) continue;
          stamp[item] = u;
          row.push(item);
        }
        row.sort((a, b) => a - b);
        for (const item of row) {
          const r = rand();
          p.push(u + 1, item + 1, r < 0.45 ? 1 : r < 0.7 ? 2 : r < 0.85 ? 3 : r < 0.95 ? 4 : 5);
          if (p.length === 3 * B) {
            stmt.run(p);
            p.length = 0;
          }
        }
      }
      for (let k = 0; k < p.length; k += 3) one.run(p[k], p[k + 1], p[k + 2]);
    });
    write();
  } finally {
    db.close();
  }
  renameSync(tmp, path);
  process.stderr.write(`generated ${path} (${nnz} ratings) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return path;
}
