/**
 * What the benchmark cases share: the cache directory for generated data sets, the figures every
 * case reports beside its timings (peak RSS, load average), and the seeded samplers of the
 * synthetic data sets (Zipf-like item popularity, log-normal user activity) and the cached
 * synthetic rating databases the train and retrain cases read.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { openDatabase } from '../../src/db/connection.js';
import { mulberry32 } from '../../src/training/random.js';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

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
