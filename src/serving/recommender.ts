/**
 * The serving core: the active model in memory, recommendations for known users, fold-in for
 * users the model has not seen (or who rated since), the popularity fallback, similar items,
 * real-time rating updates, atomic hot swaps of the model, and the item catalogue in memory (the
 * rules and the titles read it; item writes update it in place, and a change made by another
 * process is reloaded at the next poll). The HTTP layer (src/http) and the
 * CLI (src/cli/recommend.ts, similar.ts) call only the Recommender interface below.
 */
import { LRUCache } from 'lru-cache';
import { DEFAULTS } from '../config.js';
import type { WriteOptions } from '../db/connection.js';
import { Busy, invalidInput, noModel, notFound } from '../errors.js';
import { Catalog } from '../model/catalog.js';
import type { Explainer, Explanation } from '../model/explain.js';
import type { FoldedInUser, ItemRating, Model, ScoredItem, Source } from '../model/model.js';
import { CategoryCap, type CompiledRules, type ItemFilters } from '../model/rules.js';
import type { LoadedModel, ModelRecord } from '../model/registry.js';
import type { CatalogItem, ItemPage, ItemPatch, ItemQuery, ItemWrite } from '../ratings/catalogue.js';
import { canonicalId } from '../ratings/ids.js';
import { checkRatings, type RatingInput } from '../ratings/store.js';
import { startPrecompute, type PrecomputeJob, type PrecomputeStatus } from './precompute.js';
import { buildServingState, CHANGED_HERE, FRESH, type ServingState } from './serving-state.js';
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
  /**
   * Stores ratings (all or nothing); throws InvalidInput on a bad one. The serving core passes
   * `{lockTimeoutMs: 0}` and expects a Busy error at once when another connection holds the write
   * lock (it retries with timers, never blocking its event loop).
   */
  addRatings(ratings: readonly RatingInput[], options?: WriteOptions): unknown;
  /** Deletes the user's ratings; false if there were none. Busy as for addRatings. */
  deleteUser(user: string, options?: WriteOptions): boolean;
  /** The catalogue's change counter, bumped by every item change from any process. Polled: must be cheap. */
  catalogueVersion(): number;
  /** Every item the catalogue says something of, with the version read in the same transaction. */
  loadCatalogue(): { version: number; items: readonly CatalogItem[] };
  /** The stored item, or undefined for an id the store has never seen. */
  getItem(id: string): CatalogItem | undefined;
  /** Upserts items (all or nothing) and returns them as stored, with the catalogue version just
   *  before and just after the write (read in the write's transaction). */
  writeItems(changes: readonly { id: string; patch: ItemPatch }[], replace: boolean, options?: WriteOptions): ItemWrite;
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
   *  very next recommend reflects them and excludes the newly rated items. While another process
   *  holds the database's write lock it retries with timers (the event loop keeps serving) up to
   *  the write deadline, then rejects with Busy (503 `busy`, nothing stored). */
  addRatings(ratings: readonly RatingInput[]): Promise<{ accepted: number }>;
  /** Deletes the user's ratings and forgets any folded-in vector; false if the user had none. Busy as for addRatings. */
  deleteUser(user: string): Promise<boolean>;
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
  putItem(item: string, fields: ItemPatch): Promise<CatalogItem>;
  /** Changes the given fields of an item (creating it if new), keeping the others. The next
   *  recommendation request sees the change. Returns the stored item. */
  patchItem(item: string, patch: ItemPatch): Promise<CatalogItem>;
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
  /**
   * How long a write keeps retrying while another connection holds the write lock, in ms
   * (default DEFAULTS.writeDeadlineMs, RIDGEREC_WRITE_DEADLINE_MS); past it the write fails with Busy.
   */
  readonly writeDeadlineMs?: number;
  /** Users remembered at most (live-user LRU; default DEFAULTS.maxLiveUsers, RIDGEREC_MAX_LIVE_USERS). */
  readonly maxLiveUsers?: number;
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
  /** Remembered users whose ratings changed through this recommender (a subset of liveUsers). */
  readonly touchedUsers: number;
  /** Users in the live-user LRU (changed through the API, or folded in), at most maxLiveUsers. */
  readonly liveUsers: number;
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

/** Seconds a 503 busy answer asks the client to wait (Retry-After). */
export const BUSY_RETRY_AFTER_SECONDS = 1;

/** The first pause between two attempts at a write while the lock is held, doubled up to MAX_WRITE_PAUSE_MS. */
const FIRST_WRITE_PAUSE_MS = 5;
const MAX_WRITE_PAUSE_MS = 100;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * What the recommender remembers of one user (an entry of the live-user LRU). Dropping an entry
 * loses nothing that the store cannot give back: the fold-in is recomputed from the user's stored
 * ratings, and a user the model knows stays marked in the serving state's `stale` array.
 */
interface LiveUser {
  /** When their ratings last changed through this recommender (ms since the epoch); 0: never (a cached fold-in only). */
  readonly at: number;
  /** The generation `folded` was computed under; -1 for none. */
  gen: number;
  folded: FoldedInUser | null;
  /** The generation under which the model was checked to hold their current items; -1 for none. */
  checked: number;
}

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
  const writeDeadlineMs = options.writeDeadlineMs ?? DEFAULTS.writeDeadlineMs;
  /** The one reference to the serving state; every request reads it once. */
  let current: ServingState | null = null;
  /** Generation of the next state built (see LiveUser.gen). */
  let nextGen = 0;
  let job: PrecomputeJob | null = null;
  /** Entries with at > 0 in `live`, kept by set() and dispose. */
  let touchedCount = 0;
  /**
   * The live users: changed through this recommender, or folded in from the store, least recently
   * used dropped first past maxLiveUsers (so anonymous traffic cannot grow the memory without bound).
   */
  const live = new LRUCache<string, LiveUser>({
    max: options.maxLiveUsers ?? DEFAULTS.maxLiveUsers,
    dispose: (entry) => {
      if (entry.at > 0) touchedCount--;
    },
  });
  /** Remembers that the user's ratings changed now (a new entry: the old fold-in is stale). */
  function touch(user: string, folded: FoldedInUser | null = null, gen = -1): void {
    live.set(user, { at: Date.now(), gen, folded, checked: -1 });
    touchedCount++;
  }
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

  /**
   * The user's fold-in under `state`: from the live-user cache when computed under this
   * generation, else from their stored ratings (one query, or `ratings` when already read).
   * Null when none of their ratings is of an item the model knows.
   */
  function foldedFor(state: ServingState, user: string, ratings?: readonly ItemRating[]): FoldedInUser | null {
    const entry = live.get(user);
    if (entry !== undefined && entry.gen === state.gen) return entry.folded;
    const rs = ratings ?? store.userRatings(user);
    const folded = rs.length === 0 ? null : state.model.foldIn(rs);
    if (entry !== undefined) {
      entry.gen = state.gen;
      entry.folded = folded;
    } else if (folded !== null) {
      // Not cached when null: ratings another process imports for this user show at once.
      live.set(user, { at: 0, gen: state.gen, folded, checked: -1 });
    }
    return folded;
  }

  /**
   * The model row that serves `user`, or undefined when they are served by fold-in (unknown to
   * the model, or their ratings changed since it was trained). A user who changed under an
   * earlier model is checked here, on their first request after the swap, with one query: the
   * model serves them again only if it was created after their last change through this
   * recommender AND was trained on exactly the items the store now holds for them.
   */
  function modelRow(state: ServingState, user: string): number | undefined {
    const u = state.model.userIndex(user);
    if (u === undefined) return undefined;
    const mark = state.stale[u]!;
    if (mark === CHANGED_HERE) return undefined;
    const entry = live.get(user);
    const unchecked = entry !== undefined && entry.at > 0 && entry.checked !== state.gen;
    if (mark === FRESH && !unchecked) return u;
    const ratings = store.userRatings(user);
    const created = Date.parse(state.record.createdAt);
    const trainedAfter = entry === undefined || entry.at === 0 || (Number.isFinite(created) && entry.at < created);
    if (trainedAfter && sameItemSet(state.model, u, ratings)) {
      state.stale[u] = FRESH;
      if (entry !== undefined) entry.checked = state.gen;
      return u;
    }
    state.stale[u] = CHANGED_HERE;
    foldedFor(state, user, ratings);
    return undefined;
  }

  /**
   * Runs a write that must not wait on the database lock: each attempt takes the lock or fails at
   * once (lockTimeoutMs 0), and attempts are spaced by timers (5, 10, 20 … 100 ms), so the event
   * loop serves reads meanwhile. Past the write deadline: Busy, 503 `busy` with Retry-After.
   * Each attempt is one transaction, so a failed one stored nothing.
   */
  async function nonBlockingWrite<T>(attempt: (options: WriteOptions) => T): Promise<T> {
    const deadline = performance.now() + writeDeadlineMs;
    let pause = FIRST_WRITE_PAUSE_MS;
    for (;;) {
      try {
        return attempt({ lockTimeoutMs: 0 });
      } catch (e) {
        if (!(e instanceof Busy)) throw e;
        const left = deadline - performance.now();
        if (left <= 0) {
          throw new Busy(
            `the database is busy: another process (an import, a training run) held its write lock for the ${writeDeadlineMs} ms ` +
              `this write may wait (RIDGEREC_WRITE_DEADLINE_MS); nothing was stored, retry in ${BUSY_RETRY_AFTER_SECONDS} s`,
            BUSY_RETRY_AFTER_SECONDS,
            { cause: e },
          );
        }
        await sleep(Math.min(pause, left));
        pause = Math.min(pause * 2, MAX_WRITE_PAUSE_MS);
      }
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
        nextGen++,
        current,
      );
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

  /** Stores item changes (without blocking on the lock) and applies them to the catalogue in memory. */
  async function writeItem(given: string, patch: ItemPatch, replace: boolean): Promise<CatalogItem> {
    const item = canonicalId(given, 'item');
    const w = await nonBlockingWrite((o) => store.writeItems([{ id: item, patch }], replace, o));
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
      touchedUsers: touchedCount,
      liveUsers: live.size,
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

    getItem(given) {
      const item = canonicalId(given, 'item');
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

    recommend(given, opts) {
      const user = canonicalId(given, 'user');
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
      const u = modelRow(state, user);
      if (u !== undefined) {
        const items = recommendKnown(state, u, limit, rules, includeRated, counters);
        return { user, model, source: 'model', items: explained(items, () => userExplainer(state.model, ratingsOf, user, true, model)) };
      }
      const folded = foldedFor(state, user);
      if (folded !== null) {
        counters.live++;
        const items = state.model.recommendFolded(folded, limit, rules, includeRated);
        return { user, model, source: 'fold-in', items: explained(items, () => userExplainer(state.model, ratingsOf, user, false, model)) };
      }
      counters.popular++;
      return { user, model, source: 'popular', items: explained(state.model.popularItems(limit, rules), () => null) };
    },

    similarItems(given, opts) {
      const item = canonicalId(given, 'item');
      const state = requireState();
      if (state.model.itemIndex(item) === undefined) {
        throw notFound(`item "${item}" is not in model ${state.record.id}`, 'unknown_item', { item });
      }
      const r = state.model.similarItems(item, { ...opts, limit: checkLimit(opts.limit) });
      return { item, model: state.record.id, items: r.items };
    },

    recommendAnonymous(given, opts) {
      const ratings = given.map((r, i) => ({ ...r, item: canonicalId(r.item, `ratings[${i}].item`) }));
      const state = requireState();
      const n = opts.explain === undefined ? undefined : checkExplainCount('explain', opts.explain);
      const r = state.model.recommendFor(ratings, { ...opts, limit: checkLimit(opts.limit) });
      if (n === undefined) return { source: r.source, model: state.record.id, items: r.items };
      // The posted basket explains its own fold-in; popular items (no known item posted) get [].
      const explainer = r.source === 'fold-in' && r.items.length > 0 ? state.model.explainer('anonymous', ratings) : null;
      return { source: r.source, model: state.record.id, items: withBecause(state.model, explainer, 'anonymous', r.items, n) };
    },

    explain(givenUser, givenItem, opts = {}) {
      const user = canonicalId(givenUser, 'user');
      const item = canonicalId(givenItem, 'item');
      const state = requireState();
      const top = checkExplainCount('top', opts.top ?? DEFAULT_EXPLAIN_TOP);
      const model = state.record.id;
      const i = state.model.itemIndex(item);
      if (i === undefined) throw notFound(`item "${item}" is not in model ${model}`, 'unknown_item', { item });
      const fromModel = modelRow(state, user) !== undefined;
      const explainer = userExplainer(state.model, (who) => store.userRatings(who), user, fromModel, model);
      return { ...explainer.explain(user, i, top), model };
    },

    async addRatings(given) {
      const ratings = checkRatings(given); // ids in NFC, values in range: the bookkeeping below uses the stored ids
      await nonBlockingWrite((o) => store.addRatings(ratings, o)); // one transaction: all or nothing
      const users = new Set<string>();
      for (const r of ratings) users.add(r.user);
      const state = current;
      for (const user of users) {
        touch(user);
        const u = state?.model.userIndex(user);
        if (u !== undefined) state!.stale[u] = CHANGED_HERE;
      }
      // Re-fold now so the next request is cheap; a failure here only postpones it to that request.
      if (state !== null && users.size <= eagerRefoldLimit) {
        for (const user of users) {
          try {
            foldedFor(state, user);
          } catch {
            const entry = live.peek(user);
            if (entry !== undefined) entry.gen = -1;
          }
        }
      }
      version++;
      return { accepted: ratings.length };
    },

    async deleteUser(given) {
      const user = canonicalId(given, 'user');
      const had = await nonBlockingWrite((o) => store.deleteUser(user, o));
      // Remembered only when it changes an answer: the user had ratings, or the model knows them
      // (their trained vector must no longer serve). Deleting an id never seen stores nothing.
      const state = current;
      const u = state?.model.userIndex(user);
      if (had || u !== undefined) {
        // No ratings left: under this generation they fold to nothing (the popular fallback).
        touch(user, null, state?.gen ?? -1);
        if (u !== undefined) state!.stale[u] = CHANGED_HERE;
      } else live.delete(user);
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
