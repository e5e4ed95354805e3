/**
 * Fixtures for the serving tests: a small seeded model with known factors, saved through the model
 * store into a temp SQLite file (test/helpers/temp.ts tempDb) whose ratings table holds exactly the
 * model's training ratings, and a slow, obvious float64 reference (score everything, full sort).
 */
import type { Db } from '../../src/db/connection.js';
import { Model } from '../../src/model/model.js';
import type { FactorModel } from '../../src/training/params.js';
import { saveModel } from '../../src/model/registry.js';
import { upsertRatings, type RatingInput } from '../../src/ratings/store.js';
import { DEFAULT_PARAMS, type Feedback } from '../../src/training/params.js';
import { mulberry32 } from '../../src/training/random.js';

export interface Fixture {
  readonly model: FactorModel;
  /** user index → rated item indices (ascending), the model's userItems. */
  readonly rated: number[][];
  readonly ratings: RatingInput[];
}

/**
 * nUsers × nItems × k random factors (and biases, explicit); user u rated `perUser` distinct random
 * items with values 1..5 (explicit) or 1..10 counts (implicit). λ is large enough that fold-in is
 * well conditioned.
 */
export function randomFixture(
  seed: number,
  feedback: Feedback,
  { nUsers = 30, nItems = 40, k = 8, perUser = 6 }: { nUsers?: number; nItems?: number; k?: number; perUser?: number } = {},
): Fixture {
  const rand = mulberry32(seed);
  const f32 = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
  const model: FactorModel = {
    params: { ...DEFAULT_PARAMS[feedback], factors: k, lambda: 0.1, seed, threads: 1 },
    factors: k,
    nUsers,
    nItems,
    userIds: Array.from({ length: nUsers }, (_, u) => `u${u}`),
    itemIds: Array.from({ length: nItems }, (_, i) => `i${i}`),
    userFactors: f32(nUsers * k),
    itemFactors: f32(nItems * k),
    userBias: feedback === 'explicit' ? f32(nUsers, 0.5) : null,
    itemBias: feedback === 'explicit' ? f32(nItems, 0.5) : null,
    globalMean: feedback === 'explicit' ? 3.5 : 0,
  };
  const rated: number[][] = [];
  const ratings: RatingInput[] = [];
  for (let u = 0; u < nUsers; u++) {
    const set = new Set<number>();
    while (set.size < Math.min(perUser, nItems)) set.add(Math.floor(rand() * nItems));
    const items = [...set].sort((a, b) => a - b);
    rated.push(items);
    for (const i of items) {
      const value = feedback === 'explicit' ? 1 + Math.floor(rand() * 5) : 1 + Math.floor(rand() * 10);
      ratings.push({ user: `u${u}`, item: `i${i}`, value });
    }
  }
  return { model, rated, ratings };
}

export function userItemsOf(rated: readonly number[][]): { indptr: Int32Array; indices: Int32Array } {
  const indptr = new Int32Array(rated.length + 1);
  const indices: number[] = [];
  rated.forEach((items, u) => {
    indices.push(...items);
    indptr[u + 1] = indices.length;
  });
  return { indptr, indices: Int32Array.from(indices) };
}

/** Writes the fixture's ratings and saves (and activates) its model; returns the model id. */
export function install(db: Db, fx: Fixture, activate = true): number {
  upsertRatings(db, fx.ratings);
  return saveModel(db, modelOf(fx), { activate });
}

/** The fixture as a Model (its factors plus the rated items as userItems). */
export function modelOf(fx: Fixture): Model {
  return new Model({ ...fx.model, userItems: userItemsOf(fx.rated), metrics: {}, history: [], createdAt: new Date().toISOString() });
}

/** Float64 ranking score of item i for vector v: b_i + v·q_i (explicit) or v·q_i. */
export function rankScore(model: FactorModel, v: ArrayLike<number>, i: number): number {
  const k = model.factors;
  let s = model.itemBias?.[i] ?? 0;
  for (let f = 0; f < k; f++) s += v[f]! * model.itemFactors[i * k + f]!;
  return s;
}

/**
 * The reference ranking: every item not skipped, scored in float64, fully sorted (descending,
 * ties by lower index), the first `limit`; score = offset + ranking score.
 */
export function bruteForce(
  model: FactorModel,
  v: ArrayLike<number>,
  offset: number,
  limit: number,
  skip: ReadonlySet<number>,
): { item: string; score: number }[] {
  const all: { i: number; s: number }[] = [];
  for (let i = 0; i < model.nItems; i++) if (!skip.has(i)) all.push({ i, s: rankScore(model, v, i) });
  all.sort((a, b) => b.s - a.s || a.i - b.i);
  return all.slice(0, limit).map(({ i, s }) => ({ item: model.itemIds[i]!, score: offset + s }));
}

/** The user's row of the model's user factors. */
export function userVector(model: FactorModel, u: number): Float32Array {
  return model.userFactors.subarray(u * model.factors, (u + 1) * model.factors);
}

/** μ + b_u for explicit models, 0 for implicit. */
export function userOffset(model: FactorModel, u: number): number {
  return model.params.feedback === 'explicit' ? model.globalMean + model.userBias![u]! : 0;
}
