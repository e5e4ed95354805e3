/**
 * What one activated model needs to answer requests beyond the Model itself, built once per swap:
 * the registry record, its generation, which of its users have changed since it was trained, and
 * (once the workers finish) the precomputed top-N table. The Model holds everything that is a
 * function of the model alone (id lookups, scoring kernel, popularity order, the fold-in solver).
 *
 * The recommender keeps exactly one reference to the current ServingState and each request reads
 * that reference once, so a swap is atomic: a request that started on the old model finishes on
 * it. The mutable parts (the stale marks and the top-N slot) belong to this model only and die
 * with it.
 */
import type { Model } from '../model/model.js';
import type { ModelRecord } from '../model/registry.js';
import type { PrecomputeStatus, TopNTable } from './precompute.js';

/** stale[u]: the trained vector of model user u still matches their stored ratings. */
export const FRESH = 0;
/** stale[u]: their ratings changed through the API while this model served: fold-in from the store. */
export const CHANGED_HERE = 1;
/**
 * stale[u]: they changed while an earlier model served. This model may have been trained after
 * the change; their next request checks (one query for that user) and marks them FRESH or CHANGED_HERE.
 */
export const CHANGED_BEFORE = 2;

export interface ServingState {
  readonly model: Model;
  readonly record: ModelRecord;
  /** Increases by one at every swap: a fold-in cached under another generation is not this model's. */
  readonly gen: number;
  /** One mark per model user (FRESH, CHANGED_HERE, CHANGED_BEFORE): nUsers bytes, bounded by the model. */
  readonly stale: Uint8Array;
  /** Filled by the precompute workers when they finish; null until then (live scoring serves). */
  topN: TopNTable | null;
  /** Where this model's precomputation stands, and a promise settled when it ends. */
  precompute: PrecomputeStatus;
  precomputeDone: Promise<PrecomputeStatus>;
}

/**
 * The state for a newly loaded model. Users marked in `previous` (changed through the API while
 * it served) become CHANGED_BEFORE here when this model knows them: O(previous users) array reads
 * and one id lookup per marked user, no store query, so a swap costs the model load whatever the
 * API did.
 */
export function buildServingState(model: Model, record: ModelRecord, gen: number, previous: ServingState | null = null): ServingState {
  const stale = new Uint8Array(model.nUsers);
  if (previous !== null) {
    const old = previous.stale;
    const ids = previous.model.userIds;
    for (let u = 0; u < old.length; u++) {
      if (old[u] === FRESH) continue;
      const v = model.userIndex(ids[u]!);
      if (v !== undefined) stale[v] = CHANGED_BEFORE;
    }
  }
  return { model, record, gen, stale, topN: null, precompute: 'off', precomputeDone: Promise.resolve('off') };
}
