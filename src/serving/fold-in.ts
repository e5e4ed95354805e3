/**
 * Fold-in at the serving boundary: external item ids → this model's dense indices, then ONE call
 * of the trainer's exact ridge solve (src/training/fold-in.ts, held by the ServingState) against
 * the fixed item factors. No second solver lives here.
 */
import type { Fold, ServingState } from './serving-state.js';

export interface RatingLike {
  readonly item: string;
  readonly value: number;
}

/**
 * Maps (item, value) pairs onto the model (unknown items are ignored; a repeated item keeps its
 * last value) and solves the user's vector. Returns null when no item is known to the model.
 * The solve itself rejects a non-finite result (ModelFitError: retrain with a larger λ).
 */
export function foldRatings(state: ServingState, ratings: readonly RatingLike[]): Fold | null {
  const byIndex = new Map<number, number>();
  for (const r of ratings) {
    const i = state.itemIndex.get(r.item);
    if (i !== undefined) byIndex.set(i, r.value);
  }
  if (byIndex.size === 0) return null;
  const items = Int32Array.from(byIndex.keys()).sort();
  const values = new Float32Array(items.length);
  for (let j = 0; j < items.length; j++) values[j] = byIndex.get(items[j]!)!;
  const { factors, bias } = state.foldIn(items, values);
  return { factors, bias: state.explicit ? bias : 0, rated: items };
}
