/**
 * The Model object: a fitted factorization with its id maps, and every verb a user of it needs —
 * recommend, recommendBatch, similarItems, recommendFor (fold-in of an ad-hoc list), userVector,
 * itemVector, info, save and load. It needs no database: it is built by `fit`, by `Model.load`
 * from a model file (src/model/model-file.ts), or by the model registry from that same file.
 *
 * Scores:
 *   explicit: r̂_ui = μ + b_u + b_i + p_u·q_i   (the predicted rating)
 *   implicit: s_ui = x_u·y_i                   (the predicted preference)
 * Similar items: cos(i, j) = q_i·q_j / (‖q_i‖ ‖q_j‖), 0 when either vector is zero.
 * Fold-in: the user's vector is one exact ridge solve against the fixed item factors with the
 * model's λ, λ scaling and α (src/training/fold-in.ts, the per-row problem of training).
 *
 * Everything a request needs beyond the arrays (the id lookups, the item norms, the scoring kernel
 * with its copy of the item factors, the popularity order, the fold-in solver) is built on first
 * use, so loading a model costs little more than reading its file.
 */
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LIMITS } from '../config.js';
import { invalidInput, notFound } from '../errors.js';
import { rowNorms, scoreAll } from '../kernels/scoring.js';
import { topK } from '../kernels/top-k.js';
import { createSimdScorer, type SimdScorer } from '../kernels/wasm-scorer.js';
import { createBlockTopN, type BlockTopN } from '../kernels/block-top-n.js';
import { createFoldIn, type FoldIn } from '../training/fold-in.js';
import type { FactorModel, Feedback, IterationStats, TrainParams } from '../training/params.js';
import type { Catalog } from './catalog.js';
import { createIdLookup, type IdLookup } from './id-lookup.js';
import { CategoryCap, compileRules, selectTop, type CompiledRules, type ItemFilters } from './rules.js';
import { createExplainer, type Explainer, type Explanation } from './explain.js';
import { decodeModelFile, encodeModelFile, type ModelFileContents, type UserItems } from './model-file.js';
import { gram } from '../training/linalg.js';

export interface ScoredItem {
  readonly item: string;
  /** explicit: the predicted rating; implicit: the predicted preference; popular: the rating count. */
  readonly score: number;
}

/** Where a list came from: the user's trained vector, a fold-in solve, or the popularity fallback. */
export type Source = 'model' | 'fold-in' | 'popular';

/**
 * How many items, and the rules they must pass (src/model/rules.ts): category, excludeCategory,
 * include, exclude, where, maxPerCategory. Rules on categories and metadata need a catalogue
 * (`catalog` here, or one attached with useCatalog); with a catalogue, inactive items never appear.
 */
export interface RecommendOptions extends ItemFilters {
  /** How many items (default 10). */
  readonly limit?: number;
  /** Also return items the user rated (default false: they are excluded). */
  readonly includeRated?: boolean;
  /** The item catalogue for this call (default: the one attached with useCatalog, if any). */
  readonly catalog?: Catalog;
}

export interface Recommendation {
  readonly user: string;
  readonly source: Source;
  readonly items: ScoredItem[];
}

export interface SimilarItems {
  readonly item: string;
  readonly items: ScoredItem[];
}

export interface AnonymousRecommendation {
  /** 'fold-in' when at least one rated item is known to the model, else 'popular'. */
  readonly source: 'fold-in' | 'popular';
  readonly items: ScoredItem[];
}

/** One rating of an ad-hoc list (recommendFor, fold-in). */
export interface ItemRating {
  readonly item: string;
  readonly value: number;
}

/** A user's vector solved against this model's fixed item factors, and the items it was solved from. */
export interface FoldedInUser {
  readonly factors: Float32Array;
  /** b_u for explicit models, 0 for implicit. */
  readonly bias: number;
  /** Dense indices of the rated items this model knows, ascending. */
  readonly rated: Int32Array;
}

/** What `model.info` reports. */
export interface ModelInfo {
  readonly feedback: Feedback;
  readonly params: TrainParams;
  /** k, the number of latent factors. */
  readonly factors: number;
  readonly nUsers: number;
  readonly nItems: number;
  /** Training ratings (the rated-items entries the model keeps for exclusion). */
  readonly ratings: number;
  readonly metrics: Readonly<Record<string, unknown>>;
  readonly history: readonly IterationStats[];
  readonly createdAt: string;
}

/** A model's arrays and metadata: what the model file holds. */
export type ModelData = ModelFileContents;

/** Default number of items a recommendation returns. */
export const DEFAULT_LIMIT = LIMITS.defaultLimit;

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

/** Compiled rules kept per model and catalogue (least recently used dropped first). */
const RULES_CACHE = 64;

/** No rule and no catalogue: every item allowed. */
const NO_RULES: CompiledRules = Object.freeze({
  allowed: () => true,
  mask: null,
  candidates: null,
  maxPerCategory: 0,
  view: null,
  unfiltered: true,
});

/** Rules that leave fewer than nItems / SPARSE_CANDIDATES items score just those (scoreCandidates). */
const SPARSE_CANDIDATES = 8;
/** The blocked top-N kernel is built for lists of at least this many items, so a new limit rarely rebuilds it. */
const BLOCK_TOP_N_MIN = 100;

function checkLimit(limit: unknown): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    throw invalidInput(`limit must be an integer >= 1, got ${String(limit)}`, { field: 'limit' });
  }
  return limit;
}

function checkData(d: ModelData): void {
  const { nUsers, nItems, factors: k } = d;
  const bad = (msg: string) => invalidInput(`invalid model: ${msg}`);
  if (!Number.isSafeInteger(k) || k < 1) throw bad(`factors must be an integer >= 1, got ${k}`);
  if (d.userIds.length !== nUsers) throw bad(`userIds has ${d.userIds.length} ids for ${nUsers} users`);
  if (d.itemIds.length !== nItems) throw bad(`itemIds has ${d.itemIds.length} ids for ${nItems} items`);
  if (d.userFactors.length !== nUsers * k) throw bad(`userFactors has ${d.userFactors.length} entries, expected ${nUsers}×${k}`);
  if (d.itemFactors.length !== nItems * k) throw bad(`itemFactors has ${d.itemFactors.length} entries, expected ${nItems}×${k}`);
  if (d.params.feedback === 'explicit' && (!d.userBias || !d.itemBias)) throw bad('an explicit model needs userBias and itemBias');
  if (d.userBias && d.userBias.length !== nUsers) throw bad(`userBias has ${d.userBias.length} entries for ${nUsers} users`);
  if (d.itemBias && d.itemBias.length !== nItems) throw bad(`itemBias has ${d.itemBias.length} entries for ${nItems} items`);
  const { indptr, indices } = d.userItems;
  if (indptr.length !== nUsers + 1) throw bad(`userItems.indptr has ${indptr.length} entries, expected ${nUsers + 1}`);
  if (indptr[0] !== 0 || indptr[nUsers] !== indices.length) throw bad('userItems.indptr does not span userItems.indices');
  const values = d.userItems.values;
  if (values && values.length !== indices.length) throw bad(`userItems.values has ${values.length} entries for ${indices.length} indices`);
  if (!Number.isFinite(d.globalMean)) throw bad(`globalMean must be finite, got ${d.globalMean}`);
}

export class Model implements FactorModel {
  readonly params: TrainParams;
  readonly factors: number;
  readonly nUsers: number;
  readonly nItems: number;
  readonly userIds: readonly string[];
  readonly itemIds: readonly string[];
  readonly userFactors: Float32Array;
  readonly itemFactors: Float32Array;
  readonly userBias: Float32Array | null;
  readonly itemBias: Float32Array | null;
  readonly globalMean: number;
  /** Each training user's rated items (CSR; values optional): excluded from their recommendations. */
  readonly userItems: UserItems;
  readonly metrics: Readonly<Record<string, unknown>>;
  readonly history: readonly IterationStats[];
  readonly createdAt: string;

  #bytes: Buffer | null = null;
  #userIndex: IdLookup | null = null;
  #itemIndex: IdLookup | null = null;
  #itemNorms: Float32Array | null = null;
  #simd = true;
  #scorer: SimdScorer | null | undefined = undefined;
  #plainScorer: SimdScorer | null | undefined = undefined;
  #jsScores: Float32Array | null = null;
  #lastScorer: SimdScorer | null = null;
  #blockTopN: BlockTopN | null | undefined = undefined;
  #popular: { order: Int32Array; counts: Int32Array } | null = null;
  #foldIn: FoldIn | null = null;
  #gram: Float64Array | null = null;
  #catalog: Catalog | null = null;
  #rulesCache = new Map<string, CompiledRules>();
  #rulesCaches = new WeakMap<Catalog, Map<string, CompiledRules>>();

  /** Builds a model from its arrays (see ModelData); checks that the sizes agree. */
  constructor(data: ModelData) {
    checkData(data);
    this.params = Object.freeze({ ...data.params });
    this.factors = data.factors;
    this.nUsers = data.nUsers;
    this.nItems = data.nItems;
    this.userIds = data.userIds;
    this.itemIds = data.itemIds;
    this.userFactors = data.userFactors;
    this.itemFactors = data.itemFactors;
    this.userBias = data.userBias;
    this.itemBias = data.itemBias;
    this.globalMean = data.globalMean;
    this.userItems = data.userItems;
    this.metrics = Object.freeze({ ...data.metrics });
    this.history = Object.freeze([...data.history]);
    this.createdAt = data.createdAt;
  }

  // ---- construction from and to the model file ------------------------------------------------

  /**
   * Loads a model file (a path, or its bytes). The arrays are views over the one read buffer.
   * Refuses a foreign, truncated or newer-version file with a message that says which.
   */
  static load(source: string | Uint8Array): Model {
    const bytes = typeof source === 'string' ? readFileSync(source) : source;
    const f = decodeModelFile(bytes);
    const h = f.header;
    const model = new Model({
      params: h.params,
      factors: h.factors,
      nUsers: h.nUsers,
      nItems: h.nItems,
      globalMean: h.globalMean,
      metrics: h.metrics ?? {},
      history: h.history ?? [],
      createdAt: h.createdAt,
      userIds: f.userIds,
      itemIds: f.itemIds,
      userFactors: f.userFactors,
      itemFactors: f.itemFactors,
      userBias: f.userBias,
      itemBias: f.itemBias,
      userItems: f.userItems,
    });
    model.#bytes = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return model;
  }

  /** The model file's bytes (the same bytes every time; a loaded model returns the bytes it was loaded from). */
  toBuffer(): Buffer {
    this.#bytes ??= encodeModelFile(this);
    return this.#bytes;
  }

  /**
   * Writes the model file to a path (atomically: a temporary file beside it, then a rename) or to
   * a writable stream (resolved once the stream has taken the bytes; the stream is not ended).
   */
  async save(target: string | NodeJS.WritableStream): Promise<void> {
    const bytes = this.toBuffer();
    if (typeof target === 'string') {
      const tmp = join(dirname(target), `.${process.pid}.${Date.now()}.ridgerec-model.tmp`);
      await writeFile(tmp, bytes);
      await rename(tmp, target);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      target.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** A copy of this model with other metrics (e.g. holdout results added after fitting). */
  withMetrics(metrics: Readonly<Record<string, unknown>>): Model {
    return new Model({ ...this, metrics });
  }

  // ---- what it is -----------------------------------------------------------------------------

  get feedback(): Feedback {
    return this.params.feedback;
  }

  get info(): ModelInfo {
    return {
      feedback: this.params.feedback,
      params: this.params,
      factors: this.factors,
      nUsers: this.nUsers,
      nItems: this.nItems,
      ratings: this.userItems.indices.length,
      metrics: this.metrics,
      history: this.history,
      createdAt: this.createdAt,
    };
  }

  /** Dense index of a user id, or undefined when the model has not seen the user. */
  userIndex(user: string): number | undefined {
    this.#userIndex ??= createIdLookup(this.userIds);
    return this.#userIndex.get(user);
  }

  /** Dense index of an item id, or undefined when the model does not know the item. */
  itemIndex(item: string): number | undefined {
    this.#itemIndex ??= createIdLookup(this.itemIds);
    return this.#itemIndex.get(item);
  }

  /** A copy of the user's factor vector p_u (k entries), or null for a user the model has not seen. */
  userVector(user: string): Float32Array | null {
    const u = this.userIndex(user);
    return u === undefined ? null : this.userFactors.slice(u * this.factors, (u + 1) * this.factors);
  }

  /** A copy of the item's factor vector q_i (k entries), or null for an item the model does not know. */
  itemVector(item: string): Float32Array | null {
    const i = this.itemIndex(item);
    return i === undefined ? null : this.itemFactors.slice(i * this.factors, (i + 1) * this.factors);
  }

  /**
   * Builds now what the first request would otherwise build (the id lookups, the item norms and
   * the scoring kernel), so that request is as fast as the rest. The serving core calls it on a
   * model swap, before the swap.
   */
  prepare(): this {
    this.userIndex('');
    this.itemIndex('');
    this.#itemNorms ??= rowNorms(this.itemFactors, this.factors, this.nItems);
    if (this.nItems > 0) this.scoreCatalog(new Float32Array(this.factors), true);
    return this;
  }

  // ---- recommendations ------------------------------------------------------------------------

  /**
   * The user's top `limit` items, their rated items excluded unless includeRated. A user the model
   * has not seen gets the most-rated items (source 'popular'): recommendFor folds in a new user.
   */
  recommend(user: string, options: RecommendOptions = {}): Recommendation {
    const limit = checkLimit(options.limit);
    const rules = this.rules(options);
    const u = this.userIndex(user);
    if (u === undefined) return { user, source: 'popular', items: this.popularItems(limit, rules) };
    return { user, source: 'model', items: this.recommendKnown(u, limit, rules, options.includeRated ?? false) };
  }

  /**
   * recommend for each user, in order (the same answers). Known users are scored eight at a time
   * with the SIMD kernel, which reads each item row once for eight users.
   */
  recommendBatch(users: Iterable<string>, options: RecommendOptions = {}): Recommendation[] {
    const limit = checkLimit(options.limit);
    const rules = this.rules(options);
    const includeRated = options.includeRated ?? false;
    const list = [...users];
    const out: Recommendation[] = new Array(list.length);
    const pending: number[] = []; // positions in `list` of known users, scored in groups of 8
    for (let j = 0; j < list.length; j++) {
      const u = this.userIndex(list[j]!);
      if (u === undefined) out[j] = { user: list[j]!, source: 'popular', items: this.popularItems(limit, rules) };
      else pending.push(j);
    }
    // The plain case goes through the blocked top-N kernel (users in groups of eight, selection
    // fused); rules, or no WebAssembly, go through the one-user path.
    const blocked = rules.unfiltered && rules.mask === null && pending.length > 0 ? this.blockTopN(limit) : null;
    if (blocked !== null) {
      const rows = Int32Array.from(pending, (j) => this.userIndex(list[j]!)!);
      const idx = new Int32Array(rows.length * limit);
      const sc = new Float32Array(rows.length * limit);
      blocked.topN(this.userFactors, rows, includeRated ? null : this.userItems, idx, sc, limit);
      for (let t = 0; t < rows.length; t++) {
        const offset = this.scoreOffset(rows[t]!);
        const items: ScoredItem[] = [];
        for (let q = t * limit; q < (t + 1) * limit && idx[q]! >= 0; q++)
          items.push({ item: this.itemIds[idx[q]!]!, score: round4(sc[q]! + offset) });
        out[pending[t]!] = { user: list[pending[t]!]!, source: 'model', items };
      }
      return out;
    }
    for (const j of pending) {
      out[j] = { user: list[j]!, source: 'model', items: this.recommendKnown(this.userIndex(list[j]!)!, limit, rules, includeRated) };
    }
    return out;
  }

  /**
   * Recommendations for an ad-hoc list of ratings (a visitor without an account, a basket): one
   * fold-in solve, never stored in the model. Unknown item ids are ignored; when none is known the
   * answer is the popular items. The rated items are excluded unless includeRated.
   */
  recommendFor(ratings: Iterable<ItemRating>, options: RecommendOptions = {}): AnonymousRecommendation {
    const limit = checkLimit(options.limit);
    const rules = this.rules(options);
    const folded = this.foldIn(ratings);
    if (folded === null) return { source: 'popular', items: this.popularItems(limit, rules) };
    return { source: 'fold-in', items: this.recommendFolded(folded, limit, rules, options.includeRated ?? false) };
  }

  /**
   * The `limit` items most similar to `item` by cosine of their factors, the item itself excluded,
   * under the same rules as recommend.
   */
  similarItems(item: string, options: Omit<RecommendOptions, 'includeRated'> = {}): SimilarItems {
    const limit = checkLimit(options.limit);
    const rules = this.rules(options);
    const i = this.itemIndex(item);
    if (i === undefined) throw notFound(`item "${item}" is not in the model`, 'unknown_item', { item });
    const k = this.factors;
    this.#itemNorms ??= rowNorms(this.itemFactors, k, this.nItems);
    const norms = this.#itemNorms;
    const scores = this.scoreCatalog(this.itemFactors.subarray(i * k, (i + 1) * k), false);
    const ni = norms[i]!;
    for (let j = 0; j < scores.length; j++) {
      const d = ni * norms[j]!;
      scores[j] = d > 0 ? Math.max(-1, Math.min(1, scores[j]! / d)) : 0;
    }
    scores[i] = NaN; // never the item itself
    return { item, items: this.selectItems(scores, limit, 0, rules) };
  }

  // ---- explanations -------------------------------------------------------------------------

  /**
   * Why `item` scores as it does for `user`: the score decomposed over the user's rated items
   * (src/model/explain.ts), the `top` largest contributions listed and the others summed in
   * `rest`; explicit models add the bias terms. The user's ratings are `options.ratings` when
   * given (a folded-in or anonymous user), else the training ratings the model keeps. The score is
   * that of the user's vector re-solved against the item factors (for a trained user it is close
   * to, not always equal to, the recommendation score).
   */
  explain(user: string, item: string, options: { readonly top?: number; readonly ratings?: Iterable<ItemRating> } = {}): Explanation {
    const i = this.itemIndex(item);
    if (i === undefined) throw notFound(`item "${item}" is not in the model`, 'unknown_item', { item });
    return this.explainer(user, options.ratings).explain(user, i, options.top ?? 5);
  }

  /**
   * One factorization of the user's system, reused to explain any number of items (see explain).
   * NotFound when the user has no ratings the model knows.
   */
  explainer(user: string, ratings?: Iterable<ItemRating>): Explainer {
    let items: Int32Array;
    let values: Float32Array;
    if (ratings !== undefined) {
      const byIndex = new Map<number, number>();
      for (const r of ratings) {
        const j = this.itemIndex(r.item);
        if (j !== undefined && Number.isFinite(r.value)) byIndex.set(j, r.value);
      }
      items = Int32Array.from(byIndex.keys()).sort();
      values = Float32Array.from(items, (j) => byIndex.get(j)!);
    } else {
      const u = this.userIndex(user);
      if (u === undefined)
        throw notFound(`user "${user}" is not in the model; pass their ratings to explain with`, 'unknown_user', { user });
      const { indptr, indices } = this.userItems;
      const stored = this.userItems.values;
      if (!stored) {
        throw invalidInput('this model file keeps no rating values (userItemsValues); pass the ratings to explain with', { user });
      }
      items = Int32Array.from(indices.subarray(indptr[u]!, indptr[u + 1]!));
      values = stored.slice(indptr[u]!, indptr[u + 1]!);
    }
    if (items.length === 0)
      throw notFound(`user "${user}" has no rated items this model knows: nothing to explain with`, 'unknown_user', { user });
    if (this.params.feedback === 'implicit' && this.#gram === null) {
      this.#gram = new Float64Array(this.factors * this.factors);
      gram(this.itemFactors, this.nItems, this.factors, this.#gram); // YᵀY once per model
    }
    return createExplainer(this, items, values, this.#gram);
  }

  // ---- building blocks shared with the serving layer ------------------------------------------

  /**
   * Folds a user in from (item, value) ratings: unknown items are ignored, a repeated item keeps
   * its last value. Null when no item is known. A solve that is not finite throws ModelFitError.
   */
  foldIn(ratings: Iterable<ItemRating>): FoldedInUser | null {
    const byIndex = new Map<number, number>();
    let j = 0;
    for (const r of ratings) {
      if (typeof r.value !== 'number' || !Number.isFinite(r.value)) {
        throw invalidInput(`ratings[${j}].value must be a finite number`, { field: `ratings[${j}].value` });
      }
      const i = this.itemIndex(r.item);
      if (i !== undefined) byIndex.set(i, r.value);
      j++;
    }
    if (byIndex.size === 0) return null;
    const items = Int32Array.from(byIndex.keys()).sort();
    const values = new Float32Array(items.length);
    for (let e = 0; e < items.length; e++) values[e] = byIndex.get(items[e]!)!;
    // Built on the first fold-in: createFoldIn precomputes YᵀY (implicit), which a load should not wait for.
    this.#foldIn ??= createFoldIn(this);
    const { factors, bias } = this.#foldIn(items, values);
    return { factors, bias: this.params.feedback === 'explicit' ? bias : 0, rated: items };
  }

  /** Attaches an item catalogue: rules on categories and metadata use it, inactive items never appear. */
  useCatalog(catalog: Catalog | null): this {
    this.#catalog = catalog;
    return this;
  }

  get catalog(): Catalog | null {
    return this.#catalog;
  }

  /** The options' rules compiled against this model (and the call's or the attached catalogue). */
  rules(options: RecommendOptions = {}): CompiledRules {
    const catalog = options.catalog ?? this.#catalog;
    const { category, excludeCategory, include, exclude, where, maxPerCategory } = options;
    const filters: ItemFilters = { category, excludeCategory, include, exclude, where, maxPerCategory };
    if (
      catalog === null &&
      category === undefined &&
      excludeCategory === undefined &&
      include === undefined &&
      exclude === undefined &&
      where === undefined &&
      maxPerCategory === undefined
    ) {
      return NO_RULES;
    }
    const view = catalog ? catalog.viewFor(this.itemIds) : null;
    // Per-request id lists (include, exclude) make rules that rarely recur: compiled each time.
    if ((include?.length ?? 0) > 0 || (exclude?.length ?? 0) > 0)
      return compileRules(filters, this.nItems, (id) => this.itemIndex(id), view);
    // Compiling costs a few passes over the catalog; the same rules recur (a category page), so
    // the compiled form is kept per catalogue version, the most recent RULES_CACHE of them.
    const key = `${catalog === null ? '-' : catalog.version}|${JSON.stringify(filters)}`;
    let cache = catalog === null ? this.#rulesCache : this.#rulesCaches.get(catalog);
    if (cache === undefined) this.#rulesCaches.set(catalog!, (cache = new Map()));
    const hit = cache.get(key);
    if (hit !== undefined) {
      cache.delete(key);
      cache.set(key, hit); // most recent last
      return hit;
    }
    const compiled = compileRules(filters, this.nItems, (id) => this.itemIndex(id), view);
    cache.set(key, compiled);
    if (cache.size > RULES_CACHE) cache.delete(cache.keys().next().value!);
    return compiled;
  }

  /** μ + b_u for explicit models (turns the ranking score b_i + p_u·q_i into the predicted rating), else 0. */
  scoreOffset(u: number): number {
    return this.params.feedback === 'explicit' ? this.globalMean + (this.userBias?.[u] ?? 0) : 0;
  }

  /** Live scoring of a known user (row u): the whole catalog, rated items and what the rules forbid dropped. */
  recommendKnown(u: number, limit: number, rules: CompiledRules, includeRated: boolean): ScoredItem[] {
    const k = this.factors;
    const row = this.userItems;
    const rated = includeRated ? null : row.indices.subarray(row.indptr[u]!, row.indptr[u + 1]!);
    return this.scoreVector(this.userFactors.subarray(u * k, (u + 1) * k), this.scoreOffset(u), limit, rated, rules);
  }

  /** Live scoring of a folded-in user. */
  recommendFolded(folded: FoldedInUser, limit: number, rules: CompiledRules, includeRated: boolean): ScoredItem[] {
    const offset = this.params.feedback === 'explicit' ? this.globalMean + folded.bias : 0;
    return this.scoreVector(folded.factors, offset, limit, includeRated ? null : folded.rated, rules);
  }

  /** The most-rated items of the training data (score: the count) that pass the rules. */
  popularItems(limit: number, rules: CompiledRules): ScoredItem[] {
    const { order, counts } = this.popularOrder();
    const cap = new CategoryCap(rules, limit);
    const items: ScoredItem[] = [];
    for (let j = 0; j < order.length && items.length < limit; j++) {
      const i = order[j]!;
      if (cap.take(i)) items.push({ item: this.itemIds[i]!, score: counts[i]! });
    }
    return items;
  }

  /** Items by descending rating count in the training data (ties: lower index); built on first use. */
  popularOrder(): { readonly order: Int32Array; readonly counts: Int32Array } {
    if (this.#popular === null) {
      // count_i = |{u : i ∈ I_u}| over the training users' rated items.
      const counts = new Int32Array(this.nItems);
      const idx = this.userItems.indices;
      for (let e = 0; e < idx.length; e++) counts[idx[e]!]!++;
      this.#popular = { order: topK(Float64Array.from(counts), this.nItems).indices, counts };
    }
    return this.#popular;
  }

  /**
   * Score with the WebAssembly SIMD kernel when the runtime has it (default), or with the
   * plain-JavaScript loop (the reference) when `simd` is false.
   */
  useSimd(simd: boolean): this {
    if (simd !== this.#simd) {
      this.#simd = simd;
      this.#scorer = this.#plainScorer = undefined;
      this.#blockTopN = undefined;
      this.#lastScorer = null;
    }
    return this;
  }

  /**
   * s_i = b_i + v·q_i for every item (b_i = 0 when `withBias` is false or the model is implicit),
   * into a scratch row valid until the next call. Callers may overwrite entries (NaN drops an
   * item) before topOfCatalog.
   */
  scoreCatalog(v: Float32Array, withBias: boolean): Float32Array {
    const bias = withBias ? this.itemBias : null;
    const k = this.factors;
    if (this.#scorer === undefined) {
      this.#scorer = this.#simd ? createSimdScorer(this.itemFactors, this.itemBias, k, this.nItems) : null;
      // Implicit models have no biases: one scorer serves both.
      if (this.itemBias === null) this.#plainScorer = this.#scorer;
    }
    if (bias === null && this.#plainScorer === undefined) {
      this.#plainScorer = this.#simd ? createSimdScorer(this.itemFactors, null, k, this.nItems) : null;
    }
    const scorer = bias === this.itemBias ? this.#scorer : this.#plainScorer!;
    this.#lastScorer = scorer;
    if (scorer !== null) return scorer.scoreOne(v);
    this.#jsScores ??= new Float32Array(this.nItems);
    scoreAll(v, this.itemFactors, bias, k, this.#jsScores, this.nItems);
    return this.#jsScores;
  }

  /** The blocked top-N kernel over this model's items for lists of up to `limit` (built on first use); null without WebAssembly. */
  private blockTopN(limit: number): BlockTopN | null {
    if (this.#blockTopN === undefined || (this.#blockTopN !== null && this.#blockTopN.n < limit)) {
      this.#blockTopN = this.#simd
        ? createBlockTopN(this.itemFactors, this.itemBias, this.factors, this.nItems, Math.max(limit, BLOCK_TOP_N_MIN))
        : null;
    }
    return this.#blockTopN;
  }

  /** The best `limit` of the row scoreCatalog last returned (exactly topK: NaN never, ties by lower index). */
  topOfCatalog(limit: number): { readonly indices: Int32Array; readonly scores: Float64Array } {
    return this.#lastScorer !== null ? this.#lastScorer.top(limit) : topK(this.#jsScores ?? new Float32Array(0), limit);
  }

  private scoreVector(
    vector: Float32Array,
    offset: number,
    limit: number,
    rated: ArrayLike<number> | null,
    rules: CompiledRules,
  ): ScoredItem[] {
    const cand = rules.candidates;
    if (cand !== null && cand.length * SPARSE_CANDIDATES < this.nItems)
      return this.scoreCandidates(vector, offset, limit, rated, rules, cand);
    const scores = this.scoreCatalog(vector, true);
    if (rated !== null) for (let j = 0; j < rated.length; j++) scores[rated[j]!] = NaN;
    return this.selectItems(scores, limit, offset, rules);
  }

  /**
   * Scores only the candidates (a rule left few of them, e.g. one category of twenty): s_i = b_i +
   * v·q_i for each allowed item i, the rated ones (both lists ascending) skipped, then the best
   * `limit` under the rules. Cheaper than scoring the whole catalog by nItems / |candidates|.
   */
  private scoreCandidates(
    v: Float32Array,
    offset: number,
    limit: number,
    rated: ArrayLike<number> | null,
    rules: CompiledRules,
    cand: Int32Array,
  ): ScoredItem[] {
    const k = this.factors;
    const Q = this.itemFactors;
    const bias = this.itemBias;
    const scores = new Float32Array(cand.length);
    let r = 0;
    for (let j = 0; j < cand.length; j++) {
      const i = cand[j]!;
      if (rated !== null) {
        while (r < rated.length && rated[r]! < i) r++;
        if (r < rated.length && rated[r] === i) {
          scores[j] = NaN;
          continue;
        }
      }
      const o = i * k;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let f = 0;
      for (; f + 3 < k; f += 4) {
        s0 += v[f]! * Q[o + f]!;
        s1 += v[f + 1]! * Q[o + f + 1]!;
        s2 += v[f + 2]! * Q[o + f + 2]!;
        s3 += v[f + 3]! * Q[o + f + 3]!;
      }
      for (; f < k; f++) s0 += v[f]! * Q[o + f]!;
      scores[j] = s0 + s1 + s2 + s3 + (bias === null ? 0 : bias[i]!);
    }
    const top = selectTop(scores, limit, rules, cand);
    const items: ScoredItem[] = new Array(top.indices.length);
    for (let j = 0; j < top.indices.length; j++)
      items[j] = { item: this.itemIds[top.indices[j]!]!, score: round4(top.scores[j]! + offset) };
    return items;
  }

  /**
   * The best `limit` of the last scored row under the rules, as (id, score + offset rounded to 4
   * places). Without a mask or a cap the kernel's own top-K serves.
   */
  private selectItems(scores: Float32Array, limit: number, offset: number, rules: CompiledRules): ScoredItem[] {
    const top = rules.mask === null && rules.maxPerCategory === 0 ? this.topOfCatalog(limit) : selectTop(scores, limit, rules);
    const items: ScoredItem[] = new Array(top.indices.length);
    for (let j = 0; j < top.indices.length; j++) {
      items[j] = { item: this.itemIds[top.indices[j]!]!, score: round4(top.scores[j]! + offset) };
    }
    return items;
  }
}
