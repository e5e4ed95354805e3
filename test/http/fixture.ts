/**
 * A tiny shop with a known answer, in a real SQLite file, with a real trained model:
 * two taste groups. Group A (a1…a4) gives x-items 5 stars and y-items 1; group B (b1…b4) the
 * reverse. a1 has not rated x4 and b1 has not rated y4, so x4 must top a1's list and y4 b1's.
 */
import type { Db } from '../../src/db/connection.js';
import { saveModel } from '../../src/model/registry.js';
import { loadMatrix, upsertItems, upsertRatings, type RatingInput } from '../../src/ratings/store.js';
import { fit } from '../../src/model/fit.js';
import { tempDb, type TempDb } from '../helpers/temp.js';

export const X = ['x1', 'x2', 'x3', 'x4'];
export const Y = ['y1', 'y2', 'y3', 'y4'];

export function fixtureRatings(): RatingInput[] {
  const out: RatingInput[] = [];
  for (const g of ['a', 'b'] as const) {
    for (let n = 1; n <= 4; n++) {
      const user = `${g}${n}`;
      const liked = g === 'a' ? X : Y;
      const disliked = g === 'a' ? Y : X;
      for (const item of liked) if (!(n === 1 && item.endsWith('4'))) out.push({ user, item, value: 5 });
      for (const item of disliked) if (!(n === 1 && item.endsWith('4'))) out.push({ user, item, value: 1 });
    }
  }
  return out;
}

export type Fixture = TempDb;

/** A temp database file with the fixture's ratings and item titles (no model yet). */
export function fixtureDb(): Fixture {
  const fx = tempDb('ridgerec-http-');
  upsertItems(
    fx.db,
    [...X, ...Y].map((id) => ({ id, title: `Title ${id}` })),
  );
  upsertRatings(fx.db, fixtureRatings());
  return fx;
}

/** Trains a small explicit model on what the database holds now and saves it (active by default). */
export async function trainModel(db: Db, options: { seed?: number; activate?: boolean } = {}): Promise<number> {
  const params = { feedback: 'explicit', factors: 2, lambda: 0.05, iterations: 12, threads: 1, seed: options.seed ?? 1 } as const;
  const model = await fit(loadMatrix(db), params);
  return saveModel(db, model, { activate: options.activate ?? true, metrics: { rmse: 0.1 } });
}
