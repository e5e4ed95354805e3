/**
 * What the benchmark cases share: the cache directory for generated data sets, the figures every
 * case reports beside its timings (peak RSS, load average), and the seeded samplers of the
 * synthetic data sets (Zipf-like item popularity, log-normal user activity).
 */
import { readFileSync } from 'node:fs';
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
