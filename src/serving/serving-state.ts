/**
 * Everything one model needs to answer requests, built once per activated model and then only
 * read: the StoredModel (factors, biases, id maps, each training user's rated items as CSR), the
 * external-id → dense-index maps, item norms for cosine similarity, the popularity order, the
 * per-user fold-in cache and (once the workers finish) the precomputed top-N table.
 *
 * The recommender keeps exactly one reference to the current ServingState and each request reads
 * that reference once, so a swap is atomic: a request that started on the old model finishes on
 * it. The two mutable parts (the fold-in cache and the top-N slot) belong to this model only and
 * die with it.
 */
import type { StoredModel } from '../model/factor-model.js';
import { createFoldIn } from '../training/fold-in.js';
import { createIdLookup, type IdLookup } from '../model/id-lookup.js';
import { rowNorms, scoreAll } from '../kernels/scoring.js';
import type { PrecomputeStatus, TopNTable } from './precompute.js';
import { topK } from '../kernels/top-k.js';
import { createSimdScorer, type SimdScorer } from '../kernels/wasm-scorer.js';

export interface ModelInfo {
  readonly id: number;
  readonly createdAt: string;
  readonly activatedAt: string | null;
  readonly feedback: 'explicit' | 'implicit';
  readonly params: Record<string, unknown>;
  readonly metrics: Record<string, unknown>;
  readonly users: number;
  readonly items: number;
}

/** A user's vector solved against this model's fixed item factors, and the items it was solved from. */
export interface Fold {
  readonly factors: Float32Array;
  /** b_u for explicit models, 0 for implicit. */
  readonly bias: number;
  /** dense item indices the user has rated (and this model knows), ascending. */
  readonly rated: Int32Array;
}

export type FoldInFn = (items: Int32Array, values: Float32Array) => { factors: Float32Array; bias: number };

export interface ServingState {
  readonly model: StoredModel;
  readonly info: ModelInfo;
  readonly k: number;
  readonly explicit: boolean;
  readonly userIndex: IdLookup;
  readonly itemIndex: IdLookup;
  /** ‖q_i‖ per item, for cosine similarity. */
  readonly itemNorms: Float32Array;
  /** The exact ridge solve of one row against the fixed item factors (engineer B's createFoldIn, built on first use). */
  foldIn(items: Int32Array, values: Float32Array): { factors: Float32Array; bias: number };
  /** Folded-in users of this model (unknown users with db ratings, users who rated since). */
  readonly folds: Map<string, Fold>;
  /** Filled by the precompute workers when they finish; null until then (live scoring serves). */
  topN: TopNTable | null;
  /** Where this model's precomputation stands, and a promise settled when it ends. */
  precompute: PrecomputeStatus;
  precomputeDone: Promise<PrecomputeStatus>;
  /**
   * s_i = b_i + v·q_i for every item (b_i = 0 when `withBias` is false or the model is implicit),
   * into a scratch row valid until the next call (requests are synchronous): the WebAssembly SIMD
   * kernel when available, else the JavaScript one. Callers may overwrite entries (NaN drops an
   * item) before topOfCatalog.
   */
  scoreCatalog(v: Float32Array, withBias: boolean): Float32Array;
  /** The best `limit` of the row scoreCatalog last returned (exactly topK: NaN never, ties by lower index). */
  topOfCatalog(limit: number): { readonly indices: Int32Array; readonly scores: Float64Array };
  /** Items by descending rating count in the training data (ties: lower index); built on first use. */
  popularOrder(): { readonly order: Int32Array; readonly counts: Int32Array };
}

/** Cap on cached folded-in users per model; the oldest entry is dropped past it. */
export const MAX_CACHED_FOLDS = 100_000;

export interface StateOptions {
  /** Use the WebAssembly SIMD kernel when the runtime has it (default true). */
  readonly simd?: boolean;
}

export function buildServingState(model: StoredModel, info: ModelInfo, options: StateOptions = {}): ServingState {
  const k = model.factors;
  const nItems = model.nItems;
  let popular: { order: Int32Array; counts: Int32Array } | null = null;
  const useSimd = options.simd ?? true;
  const scorer: SimdScorer | null = useSimd ? createSimdScorer(model.itemFactors, model.itemBias, k, nItems) : null;
  // Similar items score q_i·q_j without biases: a second scorer, built on first use (implicit
  // models have no biases, so the first one serves).
  let plain: SimdScorer | null | undefined = model.itemBias === null ? scorer : undefined;
  const plainScorer = (): SimdScorer | null => {
    if (plain === undefined) plain = useSimd ? createSimdScorer(model.itemFactors, null, k, nItems) : null;
    return plain;
  };
  const jsScores = new Float32Array(nItems);
  let foldIn: FoldInFn | null = null;
  let last: SimdScorer | null = null;
  return {
    model,
    info,
    k,
    explicit: model.params.feedback === 'explicit',
    userIndex: createIdLookup(model.userIds),
    itemIndex: createIdLookup(model.itemIds),
    itemNorms: rowNorms(model.itemFactors, k, nItems),
    // Built on the first fold-in: createFoldIn precomputes per model (YᵀY for implicit models,
    // ~0.1–0.3 s at 27k × 64), which a swap should not wait for.
    foldIn(items, values) {
      foldIn ??= createFoldIn(model);
      return foldIn(items, values);
    },
    folds: new Map(),
    topN: null,
    precompute: 'off',
    precomputeDone: Promise.resolve('off'),
    scoreCatalog(v, withBias) {
      const bias = withBias ? model.itemBias : null;
      last = bias === model.itemBias ? scorer : plainScorer();
      if (last !== null) return last.scoreOne(v);
      scoreAll(v, model.itemFactors, bias, k, jsScores, nItems);
      return jsScores;
    },
    topOfCatalog(limit) {
      return last !== null ? last.top(0, limit) : topK(jsScores, limit);
    },
    popularOrder() {
      if (popular === null) {
        // count_i = |{u : i ∈ I_u}| over the training users' rated items.
        const counts = new Int32Array(nItems);
        const idx = model.userItems.indices;
        for (let e = 0; e < idx.length; e++) counts[idx[e]!]!++;
        popular = { order: topK(Float64Array.from(counts), nItems).indices, counts };
      }
      return popular;
    },
  };
}

export function infoFromModel(model: StoredModel, activatedAt: string | null): ModelInfo {
  return {
    id: model.id,
    createdAt: model.createdAt,
    activatedAt,
    feedback: model.params.feedback,
    params: { ...model.params },
    metrics: { ...model.metrics },
    users: model.nUsers,
    items: model.nItems,
  };
}
