/** Small seeded data sets for the retrain tests. */
import type { Db } from '../../src/db/connection.js';
import { saveModel } from '../../src/model/registry.js';
import { loadMatrix, upsertRatings, type RatingInput } from '../../src/ratings/store.js';
import { fit } from '../../src/model/fit.js';
import { resolveParams, type TrainParams } from '../../src/training/params.js';
import { mulberry32 } from '../../src/training/random.js';

/**
 * Star ratings with a known structure: r = round(3 + 1.5·(rank-2 dot product) + noise), clipped to
 * 1..5, each (user, item) present with probability `density`. A model with a sensible λ recovers
 * the pattern (holdout RMSE well below the bias-only RMSE); λ = 1000 with count scaling cannot.
 */
export function lowRankRatings(seed: number, nUsers = 80, nItems = 50, density = 0.5): RatingInput[] {
  const rand = mulberry32(seed);
  const U = Array.from({ length: nUsers }, () => [rand() * 2 - 1, rand() * 2 - 1]);
  const V = Array.from({ length: nItems }, () => [rand() * 2 - 1, rand() * 2 - 1]);
  const out: RatingInput[] = [];
  for (let u = 0; u < nUsers; u++) {
    for (let i = 0; i < nItems; i++) {
      if (rand() >= density) continue;
      const v = 3 + 1.5 * (U[u]![0]! * V[i]![0]! + U[u]![1]! * V[i]![1]!) * 2 + (rand() - 0.5) * 0.5;
      out.push({ user: `u${u}`, item: `i${i}`, value: Math.min(5, Math.max(1, Math.round(v))), timestamp: 1_700_000_000 });
    }
  }
  return out;
}

/** Binary "seen" data with two blocks: users 0..n/2 see items 0..m/2 mostly, the rest the rest. */
export function blockImplicit(seed: number, nUsers = 60, nItems = 40): RatingInput[] {
  const rand = mulberry32(seed);
  const out: RatingInput[] = [];
  for (let u = 0; u < nUsers; u++) {
    for (let i = 0; i < nItems; i++) {
      const same = u < nUsers / 2 === i < nItems / 2;
      if (rand() < (same ? 0.6 : 0.03)) out.push({ user: `u${u}`, item: `i${i}`, value: 1 });
    }
  }
  return out;
}

export const GOOD: Partial<TrainParams> = { factors: 4, lambda: 0.05, iterations: 8, threads: 1 };
export const BAD: Partial<TrainParams> = { factors: 4, lambda: 1000, iterations: 8, threads: 1 };

/** Fits `params` on everything in the db and saves it as the active model; returns its id. */
export async function activeModel(db: Db, params: Partial<TrainParams> & { feedback: TrainParams['feedback'] }): Promise<number> {
  const m = loadMatrix(db);
  const f = await fit(m, resolveParams(params));
  return saveModel(db, f, { activate: true, metrics: { note: 'seeded by the test' } });
}

export function seed(db: Db, ratings: readonly RatingInput[]): void {
  upsertRatings(db, ratings);
}
