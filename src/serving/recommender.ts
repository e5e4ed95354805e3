/**
 * The serving core: the active model in memory, recommendations for known users, fold-in for
 * users the model has not seen (or who rated since), the popularity fallback, similar items,
 * real-time rating updates and atomic hot swaps of the model. The HTTP layer (src/http) and the
 * CLI (src/cli/recommend.ts, similar.ts) call only the Recommender interface below.
 */
import type { Db } from '../db/connection.js';
import { invalidInput, noModel, notFound } from '../errors.js';
import { activeModelId, loadActiveModel } from '../model/model-store.js';
import type { StoredModel } from '../model/factor-model.js';
import { deleteUser as storeDeleteUser, upsertRatings, userRatings, type RatingInput } from '../ratings/store.js';
import { foldRatings } from './fold-in.js';
import { startPrecompute, type PrecomputeJob, type PrecomputeStatus } from './precompute.js';

export type { PrecomputeStatus } from './precompute.js';
import { buildServingState, infoFromModel, MAX_CACHED_FOLDS, type Fold, type ModelInfo, type ServingState } from './serving-state.js';

export type { ModelInfo } from './serving-state.js';

export interface ScoredItem {
  readonly item: string;
  readonly score: number;
}
export type Source = 'model' | 'fold-in' | 'popular';
export interface RecommendOptions {
  readonly limit: number;
  readonly exclude?: readonly string[];
  readonly includeRated?: boolean;
}

export interface Recommender {
  /** Id of the model in use, null when none is active. */
  modelId(): number | null;
  /** The model in use (for GET /v1/model), null when none. */
  modelInfo(): ModelInfo | null;
  /** Throws noModel() (503) when no model is active. Known user → source 'model'; user unknown to the
   *  model (or with ratings posted since) but with ratings in the db → 'fold-in'; no ratings → 'popular'. */
  recommend(user: string, options: RecommendOptions): { user: string; model: number; source: Source; items: ScoredItem[] };
  /** Cosine similarity of item factors, the item itself excluded. Unknown item → notFound(msg, 'unknown_item') (404). */
  similarItems(item: string, options: { limit: number }): { item: string; model: number; items: ScoredItem[] };
  /** Fold-in from an ad-hoc list; unknown item ids are ignored (if none is known: popular items, source 'popular'). */
  recommendAnonymous(
    ratings: readonly { item: string; value: number }[],
    options: { limit: number; exclude?: readonly string[] },
  ): { source: Source; model: number; items: ScoredItem[] };
  /** Stores the ratings (one transaction, all or nothing) and re-folds every affected user so the
   *  very next recommend reflects them and excludes the newly rated items. */
  addRatings(ratings: readonly RatingInput[]): { accepted: number };
  /** Deletes the user's ratings and forgets any folded-in vector; false if the user had none. */
  deleteUser(user: string): boolean;
  /** Reloads the active model now (swap is atomic); returns its id or null. */
  reload(): number | null;
  /** Checks the model store for a newly activated model and swaps it in; true if it swapped. */
  poll(): boolean;
  /** Polls every intervalMs (default 2000) until close(). */
  startPolling(intervalMs?: number): void;
  /** Stops polling and any background work (workers). */
  close(): Promise<void>;
}

export interface RecommenderOptions {
  readonly db: Db;
  /** Called after every swap by reload() or poll() (not for the load at creation). */
  readonly onSwap?: (from: number | null, to: number | null) => void;
}

/** Optional tuning on top of the contract (tests and the benchmark use it; defaults suit a server). */
export interface ServingTuning {
  /**
   * Precompute each known user's top-N in worker threads after every swap: 'auto' (default) when
   * one live scoring pass costs ≥ PRECOMPUTE_MIN_WORK multiply-adds (nItems·k), true/false to force.
   */
  readonly precompute?: boolean | 'auto';
  /** Candidates kept per user by the precomputation (default 50). */
  readonly precomputeN?: number;
  /** Worker threads for the precomputation (default: available cores). */
  readonly precomputeThreads?: number;
  /** Called when a precomputation finishes (or fails), with the model id and seconds taken. */
  readonly onPrecomputed?: (modelId: number, seconds: number, error?: Error) => void;
  /** Score with the WebAssembly SIMD kernel when the runtime has it (default true). */
  readonly simd?: boolean;
  /** Users re-folded eagerly by addRatings (more are re-folded lazily on their next request). Default 256. */
  readonly eagerRefoldLimit?: number;
}

/** Counters for logs, metrics and the benchmark (not part of the HTTP contract). */
export interface ServingStats {
  readonly model: number | null;
  /** State of the current model's top-N precomputation. */
  readonly precompute: PrecomputeStatus;
  /** Known-user answers served from the precomputed table since creation. */
  readonly precomputedAnswers: number;
  /** Answers that scored the whole catalog (known users without a usable table, fold-in users). */
  readonly liveAnswers: number;
  /** Answers from the popularity fallback. */
  readonly popularAnswers: number;
}

/** The Recommender plus observability the HTTP contract does not need. */
export interface ServingRecommender extends Recommender {
  stats(): ServingStats;
  /** Resolves when the current model's precomputation has finished (or at once if there is none). */
  whenPrecomputed(): Promise<PrecomputeStatus>;
}

/** nItems·k at or above which 'auto' precomputes (≈ 0.25 ms of live scoring per request). */
export const PRECOMPUTE_MIN_WORK = 1 << 18;

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

function checkLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    throw invalidInput(`limit must be an integer >= 1, got ${String(limit)}`, { field: 'limit' });
  }
  return limit;
}

/** Dense indices of the excluded ids the model knows (unknown ids are ignored). */
function excludedIndices(state: ServingState, exclude: readonly string[] | undefined): number[] {
  const out: number[] = [];
  if (exclude === undefined) return out;
  for (const id of exclude) {
    const i = state.itemIndex.get(id);
    if (i !== undefined) out.push(i);
  }
  return out;
}

/**
 * The live path: score the whole catalog for one vector, drop rated and excluded items, keep
 * the best `limit` with the bounded heap. offset = μ + b_u (explicit) turns the ranking score
 * p_u·q_i + b_i into the predicted rating.
 */
function scoreLive(
  state: ServingState,
  vector: Float32Array,
  offset: number,
  limit: number,
  rated: ArrayLike<number> | null,
  exclude: readonly number[],
): ScoredItem[] {
  // Scores live in a scratch row: NaN drops an item (topK never selects NaN).
  const scores = state.scoreCatalog(vector, true);
  if (rated !== null) for (let j = 0; j < rated.length; j++) scores[rated[j]!] = NaN;
  for (const i of exclude) scores[i] = NaN;
  return topItems(state, limit, offset);
}

/** The best `limit` of the row scoreCatalog last returned, as (id, score + offset rounded to 4 places). */
function topItems(state: ServingState, limit: number, offset: number): ScoredItem[] {
  const ids = state.model.itemIds;
  const top = state.topOfCatalog(limit);
  const items: ScoredItem[] = new Array(top.indices.length);
  for (let j = 0; j < top.indices.length; j++) {
    items[j] = { item: ids[top.indices[j]!]!, score: round4(top.scores[j]! + offset) };
  }
  return items;
}

/** Known user, nothing rated since training: precomputed candidates when they suffice, else live. */
function recommendKnown(
  state: ServingState,
  u: number,
  limit: number,
  exclude: readonly number[],
  includeRated: boolean,
  counters: Counters,
): ScoredItem[] {
  const m = state.model;
  const k = state.k;
  const offset = state.explicit ? m.globalMean + (m.userBias?.[u] ?? 0) : 0;
  const table = state.topN;
  if (table !== null && !includeRated && limit <= table.n) {
    const base = u * table.n;
    const items: ScoredItem[] = [];
    let j = 0;
    for (; j < table.n; j++) {
      const i = table.indices[base + j]!;
      if (i < 0) break; // padding: the list already holds every unrated item
      if (exclude.length > 0 && exclude.includes(i)) continue;
      items.push({ item: m.itemIds[i]!, score: round4(table.scores[base + j]! + offset) });
      if (items.length === limit) break;
    }
    if (items.length === limit || j < table.n) {
      counters.precomputed++;
      return items;
    }
    // The exclusions ate into a truncated list: fall through to live scoring.
  }
  counters.live++;
  const row = m.userItems;
  const rated = includeRated ? null : row.indices.subarray(row.indptr[u]!, row.indptr[u + 1]!);
  return scoreLive(state, m.userFactors.subarray(u * k, (u + 1) * k), offset, limit, rated, exclude);
}

function recommendPopular(state: ServingState, limit: number, exclude: readonly number[]): ScoredItem[] {
  const { order, counts } = state.popularOrder();
  const ids = state.model.itemIds;
  const items: ScoredItem[] = [];
  for (let j = 0; j < order.length && items.length < limit; j++) {
    const i = order[j]!;
    if (exclude.length > 0 && exclude.includes(i)) continue;
    items.push({ item: ids[i]!, score: counts[i]! });
  }
  return items;
}

function recommendFold(state: ServingState, fold: Fold, limit: number, exclude: readonly number[], includeRated: boolean): ScoredItem[] {
  const offset = state.explicit ? state.model.globalMean + fold.bias : 0;
  return scoreLive(state, fold.factors, offset, limit, includeRated ? null : fold.rated, exclude);
}

interface Counters {
  precomputed: number;
  live: number;
  popular: number;
}

/** True when model row u holds exactly the items of `items` (the user's current db ratings). */
function sameItemSet(state: ServingState, u: number, items: readonly { item: string }[]): boolean {
  const row = state.model.userItems;
  const start = row.indptr[u]!;
  const end = row.indptr[u + 1]!;
  if (end - start !== items.length) return false;
  const have = new Set<number>();
  for (let e = start; e < end; e++) have.add(row.indices[e]!);
  for (const r of items) {
    const i = state.itemIndex.get(r.item);
    if (i === undefined || !have.has(i)) return false;
  }
  return true;
}

export function createRecommender(options: RecommenderOptions & ServingTuning): ServingRecommender {
  const { db, onSwap } = options;
  const eagerRefoldLimit = options.eagerRefoldLimit ?? 256;
  /** The one reference to the serving state; every request reads it once. */
  let current: ServingState | null = null;
  let job: PrecomputeJob | null = null;
  /** Users whose ratings changed through this recommender, and when (ms): served by fold-in. */
  const touched = new Map<string, number>();
  let timer: NodeJS.Timeout | null = null;
  /** A model id whose load failed while polling: not retried until the active id changes. */
  let failedId: number | null = null;
  let closed = false;
  const counters: Counters = { precomputed: 0, live: 0, popular: 0 };

  function wantsPrecompute(model: StoredModel): boolean {
    const p = options.precompute ?? 'auto';
    if (p === 'auto') return model.nUsers > 0 && model.nItems * model.factors >= PRECOMPUTE_MIN_WORK;
    return p && model.nUsers > 0;
  }

  function getFold(state: ServingState, user: string): Fold | null {
    const cached = state.folds.get(user);
    if (cached !== undefined) return cached;
    const ratings = userRatings(db, user);
    if (ratings.length === 0) return null;
    const fold = foldRatings(state, ratings);
    if (fold === null) return null;
    state.folds.set(user, fold);
    if (state.folds.size > MAX_CACHED_FOLDS) {
      const oldest = state.folds.keys().next().value;
      if (oldest !== undefined) state.folds.delete(oldest);
    }
    return fold;
  }

  /**
   * A touched user stays on fold-in after a swap unless the new model was created after the
   * change AND was trained on exactly the items the database now holds for that user.
   */
  function pruneTouched(state: ServingState): void {
    const created = Date.parse(state.info.createdAt);
    if (!Number.isFinite(created)) return;
    for (const [user, at] of touched) {
      if (at >= created) continue;
      const u = state.userIndex.get(user);
      const ratings = userRatings(db, user);
      if (u === undefined ? ratings.length === 0 : sameItemSet(state, u, ratings)) touched.delete(user);
    }
  }

  /** Starts the workers that fill state.topN; until they finish (or if they fail) the live path serves. */
  function startTopN(state: ServingState): void {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    let j: PrecomputeJob;
    try {
      j = startPrecompute(state.model, {
        n: options.precomputeN ?? 50,
        simd: options.simd ?? true,
        ...(options.precomputeThreads === undefined ? {} : { threads: options.precomputeThreads }),
      });
    } catch (e) {
      state.precompute = 'failed';
      state.precomputeDone = Promise.resolve('failed');
      options.onPrecomputed?.(state.info.id, seconds(), e as Error);
      return;
    }
    job = j;
    state.precompute = 'running';
    state.precomputeDone = j.done.then(
      (table): PrecomputeStatus => {
        if (job === j) job = null;
        if (table === null) {
          state.precompute = 'off'; // cancelled: this model is no longer served
          return 'off';
        }
        state.topN = table;
        state.precompute = 'ready';
        options.onPrecomputed?.(state.info.id, seconds());
        return 'ready';
      },
      (e: unknown): PrecomputeStatus => {
        if (job === j) job = null;
        state.precompute = 'failed';
        options.onPrecomputed?.(state.info.id, seconds(), e as Error);
        return 'failed';
      },
    );
  }

  function swapTo(model: StoredModel | null, notify = true): number | null {
    const from = current?.info.id ?? null;
    let next: ServingState | null = null;
    if (model !== null) {
      next = buildServingState(model, infoFromModel(model, model.activatedAt), { simd: options.simd ?? true });
      pruneTouched(next);
    }
    const previousJob = job;
    job = null;
    current = next; // the swap: one assignment
    if (previousJob !== null) void previousJob.cancel();
    if (next !== null && !closed && wantsPrecompute(next.model)) startTopN(next);
    const to = next?.info.id ?? null;
    if (notify) onSwap?.(from, to);
    return to;
  }

  function reload(): number | null {
    const model = loadActiveModel(db);
    failedId = null;
    return swapTo(model);
  }

  function poll(): boolean {
    const id = activeModelId(db);
    if (id === (current?.info.id ?? null)) return false;
    if (id !== null && id === failedId) return false;
    try {
      reload();
    } catch (e) {
      failedId = id;
      throw e;
    }
    return true;
  }

  function requireState(): ServingState {
    const s = current;
    if (s === null) throw noModel();
    return s;
  }

  // Load whatever is active right now, so the first request is served without waiting for a poll
  // (the initial load is not a swap: onSwap is not called for it).
  swapTo(loadActiveModel(db), false);

  return {
    stats: () => ({
      model: current?.info.id ?? null,
      precompute: current?.precompute ?? 'off',
      precomputedAnswers: counters.precomputed,
      liveAnswers: counters.live,
      popularAnswers: counters.popular,
    }),
    whenPrecomputed: () => current?.precomputeDone ?? Promise.resolve('off'),
    modelId: () => current?.info.id ?? null,
    modelInfo: () => current?.info ?? null,

    recommend(user, opts) {
      const state = requireState();
      const limit = checkLimit(opts.limit);
      const exclude = excludedIndices(state, opts.exclude);
      const includeRated = opts.includeRated ?? false;
      const model = state.info.id;
      const u = state.userIndex.get(user);
      if (u !== undefined && !touched.has(user)) {
        return { user, model, source: 'model', items: recommendKnown(state, u, limit, exclude, includeRated, counters) };
      }
      const fold = getFold(state, user);
      if (fold !== null) {
        counters.live++;
        return { user, model, source: 'fold-in', items: recommendFold(state, fold, limit, exclude, includeRated) };
      }
      counters.popular++;
      return { user, model, source: 'popular', items: recommendPopular(state, limit, exclude) };
    },

    similarItems(item, opts) {
      const state = requireState();
      const limit = checkLimit(opts.limit);
      const i = state.itemIndex.get(item);
      if (i === undefined) {
        throw notFound(`item "${item}" is not in model ${state.info.id}`, 'unknown_item', { item });
      }
      const m = state.model;
      const k = state.k;
      const norms = state.itemNorms;
      // cos(i, j) = q_i·q_j / (‖q_i‖ ‖q_j‖); 0 when either vector is zero.
      const scores = state.scoreCatalog(m.itemFactors.subarray(i * k, (i + 1) * k), false);
      const ni = norms[i]!;
      for (let j = 0; j < scores.length; j++) {
        const d = ni * norms[j]!;
        scores[j] = d > 0 ? Math.max(-1, Math.min(1, scores[j]! / d)) : 0;
      }
      scores[i] = NaN; // never the item itself
      return { item, model: state.info.id, items: topItems(state, limit, 0) };
    },

    recommendAnonymous(ratings, opts) {
      const state = requireState();
      const limit = checkLimit(opts.limit);
      ratings.forEach((r, j) => {
        if (typeof r.value !== 'number' || !Number.isFinite(r.value)) {
          throw invalidInput(`ratings[${j}].value must be a finite number`, { field: `ratings[${j}].value` });
        }
      });
      const exclude = excludedIndices(state, opts.exclude);
      const model = state.info.id;
      const fold = foldRatings(state, ratings);
      if (fold === null) return { source: 'popular', model, items: recommendPopular(state, limit, exclude) };
      return { source: 'fold-in', model, items: recommendFold(state, fold, limit, exclude, false) };
    },

    addRatings(ratings) {
      upsertRatings(db, ratings); // one transaction: all or nothing (throws on bad input)
      const now = Date.now();
      const users = new Set<string>();
      for (const r of ratings) users.add(r.user);
      const state = current;
      for (const user of users) {
        touched.set(user, now);
        state?.folds.delete(user);
      }
      // Re-fold now so the next request is cheap; a failure here only postpones it to that request.
      if (state !== null && users.size <= eagerRefoldLimit) {
        for (const user of users) {
          try {
            getFold(state, user);
          } catch {
            state.folds.delete(user);
          }
        }
      }
      return { accepted: ratings.length };
    },

    deleteUser(user) {
      const had = storeDeleteUser(db, user);
      touched.set(user, Date.now());
      current?.folds.delete(user);
      return had;
    },

    reload,
    poll,

    startPolling(intervalMs = 2000) {
      if (closed) return;
      if (timer !== null) clearInterval(timer);
      timer = setInterval(() => {
        try {
          poll();
        } catch (e) {
          process.emitWarning(
            `ridgerec: loading the newly activated model failed; keeping model ${current?.info.id ?? 'none'}: ${(e as Error).message}`,
          );
        }
      }, intervalMs);
      timer.unref();
    },

    async close() {
      closed = true;
      if (timer !== null) clearInterval(timer);
      timer = null;
      const j = job;
      job = null;
      if (j !== null) await j.cancel();
    },
  };
}
