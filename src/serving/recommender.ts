/**
 * The serving core: the active model in memory, recommendations for known users, fold-in for
 * users the model has not seen (or who rated since), the popularity fallback, similar items,
 * real-time rating updates, atomic hot swaps of the model, and the item catalogue in memory (the
 * rules and the titles read it; item writes update it in place, and a change made by another
 * process is reloaded at the next poll). The HTTP layer (src/http) and the
 * CLI (src/cli/recommend.ts, similar.ts) call only the Recommender interface below.
 */
import { DEFAULTS } from '../config.js';
import { invalidInput, noModel, notFound } from '../errors.js';
import { Catalog } from '../model/catalog.js';
import type { Explainer, Explanation } from '../model/explain.js';
import type { FoldedInUser, ItemRating, Model, ScoredItem, Source } from '../model/model.js';
import { CategoryCap, type CompiledRules, type ItemFilters } from '../model/rules.js';
import type { LoadedModel, ModelRecord } from '../model/registry.js';
import type { CatalogItem, ItemPage, ItemPatch, ItemQuery, ItemWrite } from '../ratings/catalogue.js';
import type { RatingInput } from '../ratings/store.js';
import { startPrecompute, type PrecomputeJob, type PrecomputeStatus } from './precompute.js';
import { buildServingState, MAX_CACHED_FOLDED_IN_USERS, type ServingState } from './serving-state.js';
import { checkExplainCount, DEFAULT_EXPLAIN_TOP, userExplainer, withBecause, type ExplainedItem } from './explanations.js';

export type { PrecomputeStatus } from './precompute.js';
export type { ScoredItem, Source } from '../model/model.js';
export type { CatalogItem, ItemPage, ItemPatch, ItemQuery, ItemWrite } from '../ratings/catalogue.js';
export type { ExplainedItem } from './explanations.js';

/** How many items and the rules they must pass (src/model/rules.ts). */
export interface RecommendOptions extends ItemFilters {
  readonly limit: number;
  readonly includeRated?: boolean;
  /** Adds `because` (the top N rated items behind each score, 1..50) to every item. */
  readonly explain?: number;
}

/**
 * What the serving core needs from storage, and nothing more: the active model, one user's
 * ratings, the writes the API makes, and the item catalogue. The SQLite store (openStore) is one
 * implementation; tests and embedders may give their own.
 */
export interface ServingStore {
  /** Id of the active model, or null. Polled every couple of seconds: must be cheap. */
  activeModelId(): number | null;
  /** A saved model with its record. */
  loadModel(id: number): LoadedModel;
  /** The user's current ratings (empty for an unknown user). */
  userRatings(user: string): readonly ItemRating[];
  /** Stores ratings (all or nothing); throws InvalidInput on a bad one. */
  addRatings(ratings: readonly RatingInput[]): unknown;
  /** Deletes the user's ratings; false if there were none. */
  deleteUser(user: string): boolean;
  /** The catalogue's change counter, bumped by every item change from any process. Polled: must be cheap. */
  catalogueVersion(): number;
  /** Every item the catalogue says something of, with the version read in the same transaction. */
  loadCatalogue(): { version: number; items: readonly CatalogItem[] };
  /** The stored item, or undefined for an id the store has never seen. */
  getItem(id: string): CatalogItem | undefined;
  /** Upserts items (all or nothing) and returns them as stored, with the catalogue version just
   *  before and just after the write (read in the write's transaction). */
  writeItems(changes: readonly { id: string; patch: ItemPatch }[], replace: boolean): ItemWrite;
  /** A page of items in id order. */
  listItems(query: ItemQuery): ItemPage;
}

export interface Recommender {
  /** Id of the model in use, null when none is active. */
  modelId(): number | null;
  /** The registry record of the model in use (for GET /v1/model), null when none. */
  modelInfo(): ModelRecord | null;
  /** Throws noModel() (503) when no model is active. Known user → source 'model'; user unknown to the
   *  model (or with ratings posted since) but with ratings in the db → 'fold-in'; no ratings → 'popular'. */
  recommend(user: string, options: RecommendOptions): { user: string; model: number; source: Source; items: ExplainedItem[] };
  /** Cosine similarity of item factors, the item itself excluded. Unknown item → notFound(msg, 'unknown_item') (404). */
  similarItems(item: string, options: ItemFilters & { limit: number }): { item: string; model: number; items: ScoredItem[] };
  /** Fold-in from an ad-hoc list; unknown item ids are ignored (if none is known: popular items, source 'popular'). */
  recommendAnonymous(
    ratings: readonly { item: string; value: number }[],
    options: ItemFilters & { limit: number; explain?: number },
  ): { source: Source; model: number; items: ExplainedItem[] };
  /**
   * The user's score for `item` decomposed over their rated items (src/serving/explanations.ts:
   * the same ratings as their recommendations), the `top` (1..50, default 5) largest listed.
   * Unknown item → notFound 'unknown_item'; a user with no ratings → notFound 'unknown_user'.
   */
  explain(user: string, item: string, options?: { top?: number }): Explanation & { model: number };
  /** Stores the ratings (one transaction, all or nothing) and re-folds every affected user so the
   *  very next recommend reflects them and excludes the newly rated items. */
  addRatings(ratings: readonly RatingInput[]): { accepted: number };
  /** Deletes the user's ratings and forgets any folded-in vector; false if the user had none. */
  deleteUser(user: string): boolean;
  /** Reloads the active model now (swap is atomic); returns its id or null. */
  reload(): number | null;
  /**
   * A counter that changes whenever any answer may have changed (a swap, a finished top-N
   * precomputation, a catalogue change, a rating write or user delete through this recommender):
   * an answer computed at version v may be reused while answersVersion() is still v. Optional:
   * without it nothing is reused.
   */
  answersVersion?(): number;
  /** Display titles of the given items, from the catalogue in memory (ids without a title are absent). */
  itemTitles(ids: readonly string[]): ReadonlyMap<string, string>;
  /** The stored item; an id the store has never seen → notFound(msg, 'unknown_item') (404). */
  getItem(item: string): CatalogItem;
  /** Creates or replaces an item: absent fields take their defaults (no title, no categories, no
   *  metadata, active). The next recommendation request sees the change. Returns the stored item. */
  putItem(item: string, fields: ItemPatch): CatalogItem;
  /** Changes the given fields of an item (creating it if new), keeping the others. The next
   *  recommendation request sees the change. Returns the stored item. */
  patchItem(item: string, patch: ItemPatch): CatalogItem;
  /** A page of the catalogue in id order; `next` is the cursor for `after`, null at the end. */
  listItems(query: ItemQuery): ItemPage;
  /** Reloads the catalogue when another process changed it, then checks the model store for a
   *  newly activated model and swaps it in; true if it swapped a model. */
  poll(): boolean;
  /** Polls every intervalMs (default 2000, the configuration's pollMs) until close(). */
  startPolling(intervalMs?: number): void;
  /** Stops polling and any background work (workers). */
  close(): Promise<void>;
}

export interface RecommenderOptions {
  readonly store: ServingStore;
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
  /** Users re-folded eagerly by addRatings (more are re-folded lazily on their next request). Default DEFAULT_EAGER_REFOLD_LIMIT. */
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
  /** Users whose ratings changed through this recommender since the model they were trained into. */
  readonly touchedUsers: number;
}

/** The Recommender plus observability the HTTP contract does not need. */
export interface ServingRecommender extends Recommender {
  stats(): ServingStats;
  /** Resolves when the current model's precomputation has finished (or at once if there is none). */
  whenPrecomputed(): Promise<PrecomputeStatus>;
}

/** nItems·k at or above which 'auto' precomputes (≈ 0.25 ms of live scoring per request). */
export const PRECOMPUTE_MIN_WORK = 1 << 18;

/** Users addRatings folds in again at once; past this many, each waits for its next request. */
export const DEFAULT_EAGER_REFOLD_LIMIT = 256;

function checkLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    throw invalidInput(`limit must be an integer >= 1, got ${String(limit)}`, { field: 'limit' });
  }
  return limit;
}

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

/** Known user, nothing rated since training: precomputed candidates when they suffice, else live. */
function recommendKnown(
  state: ServingState,
  u: number,
  limit: number,
  rules: CompiledRules,
  includeRated: boolean,
  counters: Counters,
): ScoredItem[] {
  const m = state.model;
  const table = state.topN;
  if (table !== null && !includeRated && limit <= table.n) {
    const offset = m.scoreOffset(u);
    const base = u * table.n;
    const items: ScoredItem[] = [];
    const cap = new CategoryCap(rules, limit);
    let j = 0;
    for (; j < table.n; j++) {
      const i = table.indices[base + j]!;
      if (i < 0) break; // padding: the list already holds every unrated item
      if (!cap.take(i)) continue;
      items.push({ item: m.itemIds[i]!, score: round4(table.scores[base + j]! + offset) });
      if (items.length === limit) break;
    }
    if (items.length === limit || j < table.n) {
      counters.precomputed++;
      return items;
    }
    // The rules ate into a truncated list: fall through to live scoring.
  }
  counters.live++;
  return m.recommendKnown(u, limit, rules, includeRated);
}

interface Counters {
  precomputed: number;
  live: number;
  popular: number;
}

/** True when model row u holds exactly the items of `items` (the user's current stored ratings). */
function sameItemSet(model: Model, u: number, items: readonly { item: string }[]): boolean {
  const row = model.userItems;
  const start = row.indptr[u]!;
  const end = row.indptr[u + 1]!;
  if (end - start !== items.length) return false;
  const have = new Set<number>();
  for (let e = start; e < end; e++) have.add(row.indices[e]!);
  for (const r of items) {
    const i = model.itemIndex(r.item);
    if (i === undefined || !have.has(i)) return false;
  }
  return true;
}

export function createRecommender(options: RecommenderOptions & ServingTuning): ServingRecommender {
  const { store, onSwap } = options;
  const eagerRefoldLimit = options.eagerRefoldLimit ?? DEFAULT_EAGER_REFOLD_LIMIT;
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
  /** answersVersion(): bumped by everything that can change an answer. */
  let version = 0;
  /**
   * The one catalogue every served model reads (attached at each swap). Item writes through this
   * recommender update it in place; `catalogueAt` is the store's catalogue version it reflects, so
   * a poll that finds another version reloads it.
   */
  const first = store.loadCatalogue();
  const catalog = new Catalog(first.items);
  let catalogueAt = first.version;

  function wantsPrecompute(model: Model): boolean {
    const p = options.precompute ?? 'auto';
    if (p === 'auto') return model.nUsers > 0 && model.nItems * model.factors >= PRECOMPUTE_MIN_WORK;
    return p && model.nUsers > 0;
  }

  function getFoldedIn(state: ServingState, user: string): FoldedInUser | null {
    const cached = state.foldedIn.get(user);
    if (cached !== undefined) return cached;
    const ratings = store.userRatings(user);
    if (ratings.length === 0) return null;
    const folded = state.model.foldIn(ratings);
    if (folded === null) return null;
    state.foldedIn.set(user, folded);
    if (state.foldedIn.size > MAX_CACHED_FOLDED_IN_USERS) {
      const oldest = state.foldedIn.keys().next().value;
      if (oldest !== undefined) state.foldedIn.delete(oldest);
    }
    return folded;
  }

  /**
   * A touched user stays on fold-in after a swap unless the new model was created after the
   * change AND was trained on exactly the items the database now holds for that user.
   */
  function pruneTouched(state: ServingState): void {
    const created = Date.parse(state.record.createdAt);
    if (!Number.isFinite(created)) return;
    for (const [user, at] of touched) {
      if (at >= created) continue;
      const u = state.model.userIndex(user);
      const ratings = store.userRatings(user);
      if (u === undefined ? ratings.length === 0 : sameItemSet(state.model, u, ratings)) touched.delete(user);
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
      options.onPrecomputed?.(state.record.id, seconds(), e as Error);
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
        version++;
        state.precompute = 'ready';
        options.onPrecomputed?.(state.record.id, seconds());
        return 'ready';
      },
      (e: unknown): PrecomputeStatus => {
        if (job === j) job = null;
        state.precompute = 'failed';
        options.onPrecomputed?.(state.record.id, seconds(), e as Error);
        return 'failed';
      },
    );
  }

  function swapTo(loaded: LoadedModel | null, notify = true): number | null {
    const from = current?.record.id ?? null;
    let next: ServingState | null = null;
    if (loaded !== null) {
      next = buildServingState(
        loaded.model
          .useSimd(options.simd ?? true)
          .prepare()
          .useCatalog(catalog),
        loaded.record,
      );
      pruneTouched(next);
    }
    const previousJob = job;
    job = null;
    current = next; // the swap: one assignment
    version++;
    if (previousJob !== null) void previousJob.cancel();
    if (next !== null && !closed && wantsPrecompute(next.model)) startTopN(next);
    const to = next?.record.id ?? null;
    if (notify) onSwap?.(from, to);
    return to;
  }

  function reload(): number | null {
    const id = store.activeModelId();
    const model = id === null ? null : store.loadModel(id);
    failedId = null;
    return swapTo(model);
  }

  /** Reloads the catalogue when the store's version is not the one it reflects. */
  function refreshCatalogue(): void {
    if (store.catalogueVersion() === catalogueAt) return;
    const loaded = store.loadCatalogue();
    catalog.replace(loaded.items);
    version++;
    catalogueAt = loaded.version;
  }

  /** Stores item changes and applies them to the catalogue in memory. */
  function writeItem(item: string, patch: ItemPatch, replace: boolean): CatalogItem {
    const w = store.writeItems([{ id: item, patch }], replace);
    catalog.set(...w.items);
    version++;
    // Our write is all that happened since the version we reflect: we are at `to`. Otherwise
    // another process wrote too, and the next poll reloads everything.
    if (w.from === catalogueAt) catalogueAt = w.to;
    return w.items[0]!;
  }

  function poll(): boolean {
    refreshCatalogue();
    const id = store.activeModelId();
    if (id === (current?.record.id ?? null)) return false;
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
  const initial = store.activeModelId();
  swapTo(initial === null ? null : store.loadModel(initial), false);

  return {
    stats: () => ({
      model: current?.record.id ?? null,
      precompute: current?.precompute ?? 'off',
      precomputedAnswers: counters.precomputed,
      liveAnswers: counters.live,
      popularAnswers: counters.popular,
      touchedUsers: touched.size,
    }),
    whenPrecomputed: () => current?.precomputeDone ?? Promise.resolve('off'),
    modelId: () => current?.record.id ?? null,
    modelInfo: () => current?.record ?? null,
    itemTitles(ids) {
      const out = new Map<string, string>();
      for (const id of ids) {
        const title = catalog.title(id);
        if (title !== undefined) out.set(id, title);
      }
      return out;
    },

    getItem(item) {
      const found = store.getItem(item);
      if (found === undefined) throw notFound(`item "${item}" is unknown`, 'unknown_item', { item });
      return found;
    },
    putItem: (item, fields) => writeItem(item, fields, true),
    patchItem: (item, patch) => writeItem(item, patch, false),
    listItems(query) {
      checkLimit(query.limit);
      return store.listItems(query);
    },

    recommend(user, opts) {
      const state = requireState();
      const limit = checkLimit(opts.limit);
      const rules = state.model.rules(opts);
      const includeRated = opts.includeRated ?? false;
      const model = state.record.id;
      // ?explain=N: one explainer (one factorization) for the whole list, from the same ratings as the scores.
      const n = opts.explain === undefined ? undefined : checkExplainCount('explain', opts.explain);
      const explained = (items: ScoredItem[], explainer: () => Explainer | null): ExplainedItem[] =>
        n === undefined || items.length === 0 ? items : withBecause(state.model, explainer(), user, items, n);
      const ratingsOf = (who: string) => store.userRatings(who);
      const u = state.model.userIndex(user);
      if (u !== undefined && !touched.has(user)) {
        const items = recommendKnown(state, u, limit, rules, includeRated, counters);
        return { user, model, source: 'model', items: explained(items, () => userExplainer(state.model, ratingsOf, user, true, model)) };
      }
      const folded = getFoldedIn(state, user);
      if (folded !== null) {
        counters.live++;
        const items = state.model.recommendFolded(folded, limit, rules, includeRated);
        return { user, model, source: 'fold-in', items: explained(items, () => userExplainer(state.model, ratingsOf, user, false, model)) };
      }
      counters.popular++;
      return { user, model, source: 'popular', items: explained(state.model.popularItems(limit, rules), () => null) };
    },

    similarItems(item, opts) {
      const state = requireState();
      if (state.model.itemIndex(item) === undefined) {
        throw notFound(`item "${item}" is not in model ${state.record.id}`, 'unknown_item', { item });
      }
      const r = state.model.similarItems(item, { ...opts, limit: checkLimit(opts.limit) });
      return { item, model: state.record.id, items: r.items };
    },

    recommendAnonymous(ratings, opts) {
      const state = requireState();
      const n = opts.explain === undefined ? undefined : checkExplainCount('explain', opts.explain);
      const r = state.model.recommendFor(ratings, { ...opts, limit: checkLimit(opts.limit) });
      if (n === undefined) return { source: r.source, model: state.record.id, items: r.items };
      // The posted basket explains its own fold-in; popular items (no known item posted) get [].
      const explainer = r.source === 'fold-in' && r.items.length > 0 ? state.model.explainer('anonymous', ratings) : null;
      return { source: r.source, model: state.record.id, items: withBecause(state.model, explainer, 'anonymous', r.items, n) };
    },

    explain(user, item, opts = {}) {
      const state = requireState();
      const top = checkExplainCount('top', opts.top ?? DEFAULT_EXPLAIN_TOP);
      const model = state.record.id;
      const i = state.model.itemIndex(item);
      if (i === undefined) throw notFound(`item "${item}" is not in model ${model}`, 'unknown_item', { item });
      const fromModel = state.model.userIndex(user) !== undefined && !touched.has(user);
      const explainer = userExplainer(state.model, (who) => store.userRatings(who), user, fromModel, model);
      return { ...explainer.explain(user, i, top), model };
    },

    addRatings(ratings) {
      store.addRatings(ratings); // one transaction: all or nothing (throws on bad input)
      const now = Date.now();
      const users = new Set<string>();
      for (const r of ratings) users.add(r.user);
      const state = current;
      for (const user of users) {
        touched.set(user, now);
        state?.foldedIn.delete(user);
      }
      // Re-fold now so the next request is cheap; a failure here only postpones it to that request.
      if (state !== null && users.size <= eagerRefoldLimit) {
        for (const user of users) {
          try {
            getFoldedIn(state, user);
          } catch {
            state.foldedIn.delete(user);
          }
        }
      }
      version++;
      return { accepted: ratings.length };
    },

    deleteUser(user) {
      const had = store.deleteUser(user);
      // Remembered only when it changes an answer: the user had ratings, or the model knows them
      // (their trained vector must no longer serve). Deleting an id never seen stores nothing.
      if (had || current?.model.userIndex(user) !== undefined) touched.set(user, Date.now());
      current?.foldedIn.delete(user);
      version++;
      return had;
    },

    reload,
    poll,
    answersVersion: () => version,

    startPolling(intervalMs = DEFAULTS.pollMs) {
      if (closed) return;
      if (timer !== null) clearInterval(timer);
      timer = setInterval(() => {
        try {
          poll();
        } catch (e) {
          process.emitWarning(
            `ridgerec: polling the store failed (a newly activated model or a changed catalogue); ` +
              `keeping model ${current?.record.id ?? 'none'}: ${(e as Error).message}`,
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
