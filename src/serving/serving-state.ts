/**
 * What one activated model needs to answer requests beyond the Model itself, built once per swap:
 * the registry record, the cache of folded-in users and (once the workers finish) the precomputed
 * top-N table. The Model holds everything that is a function of the model alone (id lookups,
 * scoring kernel, popularity order, the fold-in solver).
 *
 * The recommender keeps exactly one reference to the current ServingState and each request reads
 * that reference once, so a swap is atomic: a request that started on the old model finishes on
 * it. The two mutable parts (the fold-in cache and the top-N slot) belong to this model only and
 * die with it.
 */
import type { FoldedInUser, Model } from '../model/model.js';
import type { ModelRecord } from '../model/registry.js';
import type { PrecomputeStatus, TopNTable } from './precompute.js';

export interface ServingState {
  readonly model: Model;
  readonly record: ModelRecord;
  /** Folded-in users of this model (unknown users with stored ratings, users who rated since). */
  readonly foldedIn: Map<string, FoldedInUser>;
  /** Filled by the precompute workers when they finish; null until then (live scoring serves). */
  topN: TopNTable | null;
  /** Where this model's precomputation stands, and a promise settled when it ends. */
  precompute: PrecomputeStatus;
  precomputeDone: Promise<PrecomputeStatus>;
}

/** Cap on cached folded-in users per model; the oldest entry is dropped past it. */
export const MAX_CACHED_FOLDED_IN_USERS = 100_000;

export function buildServingState(model: Model, record: ModelRecord): ServingState {
  return {
    model,
    record,
    foldedIn: new Map(),
    topN: null,
    precompute: 'off',
    precomputeDone: Promise.resolve('off'),
  };
}
