/**
 * Offline metrics for a fitted model against a held-out TestSet (in the train matrix's index
 * space, see split.ts).
 *
 * Rating error (explicit models only): RMSE = sqrt(Σ (r̂ − r)² / n), MAE = Σ |r̂ − r| / n over
 * every test pair. r̂ = μ + b_u + b_i + p_u·q_i, clipped to the training value range [min, max];
 * a user unseen in training contributes no b_u / p_u·q_i (r̂ = μ + b_i), an unseen item no b_i /
 * p_u·q_i (r̂ = μ + b_u), both unseen → μ.
 *
 * Ranking at the cut-off N (`at`; not to be confused with k, the number of factors), both feedback
 * kinds: for each test user known in training, score every item (explicit: b_i + p_u·q_i, the
 * predicted rating minus per-user constants; implicit: x_u·y_i), drop the user's training items,
 * take the top N. relevant = the user's test items that are known in
 * training and not among the user's training items (neither can ever be recommended, so counting
 * them would only cap recall below 1). Users with no relevant item are left out; the rest are
 * averaged (testUsers counts them):
 *   precision@N = hits / N
 *   recall@N    = hits / |relevant|
 *   ndcg@N      = Σ_{hit at rank r} 1/log2(r+1) / Σ_{r=1..min(N,|relevant|)} 1/log2(r+1)   (binary gains)
 *   map@N       = Σ_{hit at rank r} (hits within the first r)/r / min(N, |relevant|)
 *   coverage@N  = |distinct items recommended to the evaluated users| / nItems (catalog size)
 * With no evaluable user the ranking metrics are NaN (JSON null), never a misleading 0.
 */
import { invalidInput } from '../errors.js';
import type { RatingMatrix } from '../ratings/matrix.js';
import { scoreAll } from '../kernels/scoring.js';
import { topK } from '../kernels/top-k.js';
import { createBlockTopN, type BlockTopN } from '../kernels/block-top-n.js';
import { wasmSimdSupported } from '../kernels/wasm-scorer.js';
import type { FactorModel } from '../training/params.js';
import { mulberry32 } from '../training/random.js';
import { WorkerPool } from '../workers.js';
import type { TestSet } from './split.js';

export interface EvalMetrics {
  /** The cut-off N of the ranking metrics (the 10 of ndcg@10). */
  readonly at: number;
  readonly rmse?: number;
  readonly mae?: number;
  readonly precision: number;
  readonly recall: number;
  readonly ndcg: number;
  readonly map: number;
  readonly coverage: number;
  /** users averaged over in the ranking metrics. */
  readonly testUsers: number;
}

/** The default cut-off of the ranking metrics: ndcg@10. */
export const DEFAULT_AT = 10;
/** The largest cut-off the CLI accepts (`--at`, `--metric ndcg@N`). */
export const MAX_AT = 100_000;

/** Options of evaluateModel. */
export interface EvaluateOptions {
  /** Cut-off N of the ranking metrics (default DEFAULT_AT). */
  readonly at?: number;
  /**
   * Rank at most this many users for the ranking metrics: a uniform sample without replacement
   * (seeded by rankingSeed) of the users with a test pair, the same users whatever the model and
   * the thread count. Default: every user. RMSE and MAE always cover every test pair. Each user's
   * precision, recall, ndcg and AP lie in [0, 1], so the sample mean of n users out of N is within
   * one standard error σ·√((N − n)/(N − 1))/√n ≤ 0.5/√n of the all-user mean (σ ≤ 0.5 for values in
   * [0, 1]); two models compared on the same sample differ by less than that, their per-user values
   * being correlated. Coverage then counts the items recommended to the sample only.
   */
  readonly rankingUsers?: number;
  /** Seed of the rankingUsers sample (default 0). */
  readonly rankingSeed?: number;
}

/** Options of evaluateModelThreaded. */
export interface ThreadedEvaluateOptions extends EvaluateOptions {
  /** Worker threads for the ranking pass (default 1: this thread). */
  readonly threads?: number;
  /**
   * Fewest multiply-adds (evaluated users × items × factors) worth starting workers for
   * (default PARALLEL_MIN_WORK); below it the ranking runs in this thread.
   */
  readonly minWork?: number;
}

/**
 * Starting a worker and re-laying the item factors for its scorer costs ~100 ms; the scorer does
 * ~7·10⁹ multiply-adds a second on one core, so below ~2·10⁹ (a few tenths of a second) one thread
 * finishes first. MovieLens 100K (943 × 1,682 × 64 ≈ 10⁸) stays in one thread.
 */
export const PARALLEL_MIN_WORK = 2e9;

/** Ranking tasks per worker: uneven progress on a shared machine evens out over several tasks. */
const TASKS_PER_THREAD = 4;

function checkedInputs(model: FactorModel, train: RatingMatrix, test: TestSet, options: EvaluateOptions): number {
  const at = options.at ?? DEFAULT_AT;
  if (!Number.isSafeInteger(at) || at < 1) throw invalidInput(`at must be an integer >= 1, got ${at}`, { field: 'at' });
  if (model.nUsers !== train.nUsers || model.nItems !== train.nItems) {
    throw invalidInput(
      `the model (${model.nUsers} users × ${model.nItems} items) was not fitted on this train matrix ` +
        `(${train.nUsers} × ${train.nItems})`,
    );
  }
  if (test.users.length === 0) throw invalidInput('the test set is empty: nothing to evaluate');
  const r = options.rankingUsers;
  if (r !== undefined && !(Number.isSafeInteger(r) && r >= 1)) {
    throw invalidInput(`rankingUsers must be an integer >= 1, got ${r}`, { field: 'rankingUsers' });
  }
  return at;
}

/** All the metrics in this thread. */
export function evaluateModel(model: FactorModel, train: RatingMatrix, test: TestSet, options: EvaluateOptions = {}): EvalMetrics {
  const at = checkedInputs(model, train, test, options);
  const explicit = model.params.feedback === 'explicit';
  const error = explicit ? ratingError(model, train, test) : {};
  const d = rankingInput(model, train, test, at, explicit, false, options);
  rankUserRange(d, { userStart: 0, userEnd: model.nUsers });
  return { at, ...error, ...combineRanking(d, model.nUsers) };
}

/**
 * The same metrics as evaluateModel, bit for bit, with the ranking pass (scoring every evaluated
 * user against the catalog) split over `threads` workers when the work is large enough. The users
 * are cut into ranges holding equal numbers of users with test pairs; each worker writes its
 * users' values into a shared array and this thread sums them in user order, as evaluateModel does.
 */
export async function evaluateModelThreaded(
  model: FactorModel,
  train: RatingMatrix,
  test: TestSet,
  options: ThreadedEvaluateOptions = {},
): Promise<EvalMetrics> {
  const at = checkedInputs(model, train, test, options);
  const threads = Math.max(1, Math.trunc(options.threads ?? 1));
  const explicit = model.params.feedback === 'explicit';
  const nUsers = model.nUsers;
  const ranked = rankedUsers(nUsers, test, options);
  // Users with a test pair of their own (and in the sample), and the prefix counts used to cut
  // equal ranges of them.
  const withTest = new Int32Array(nUsers + 1);
  for (let t = 0; t < test.users.length; t++) {
    const u = test.users[t]!;
    if (u >= 0 && (ranked === null || ranked[u] === 1)) withTest[u + 1] = 1;
  }
  for (let u = 0; u < nUsers; u++) withTest[u + 1]! += withTest[u]!;
  const scored = withTest[nUsers]!;
  const work = scored * model.nItems * model.factors;
  if (threads === 1 || scored < 2 || work < (options.minWork ?? PARALLEL_MIN_WORK)) {
    const { threads: _t, minWork: _m, ...single } = options;
    return evaluateModel(model, train, test, single);
  }

  const error = explicit ? ratingError(model, train, test) : {};
  const d = rankingInput(model, train, test, at, explicit, true, options, ranked);
  const nTasks = Math.min(scored, threads * TASKS_PER_THREAD);
  // Range j starts at the first user u with withTest[u] ≥ j·scored/nTasks (a binary search).
  const cut = (j: number): number => {
    if (j >= nTasks) return nUsers;
    const want = Math.floor((j * scored) / nTasks);
    let lo = 0;
    let hi = nUsers;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (withTest[mid]! < want) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const tasks: RankingRange[] = [];
  for (let j = 0; j < nTasks; j++) tasks.push({ userStart: j === 0 ? 0 : cut(j), userEnd: cut(j + 1) });
  const pool = WorkerPool.start<RankingRange, void>(
    'evaluation',
    new URL('./eval-worker.js', import.meta.url),
    Math.min(threads, nTasks),
    () => d,
  );
  try {
    await pool.queue(tasks, (_j, _reply, error) => {
      if (error !== undefined) throw error;
    });
  } finally {
    await pool.close();
  }
  return { at, ...error, ...combineRanking(d, nUsers) };
}

function ratingError(model: FactorModel, train: RatingMatrix, test: TestSet): { rmse: number; mae: number } {
  const k = model.factors;
  const P = model.userFactors;
  const Q = model.itemFactors;
  const bu = model.userBias;
  const bi = model.itemBias;
  const mu = model.globalMean;
  const tv = train.byUser.values;
  let lo = Infinity;
  let hi = -Infinity;
  for (let e = 0; e < tv.length; e++) {
    const v = tv[e]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (tv.length === 0) lo = hi = mu;
  let se = 0;
  let ae = 0;
  const n = test.users.length;
  for (let t = 0; t < n; t++) {
    const u = test.users[t]!;
    const i = test.items[t]!;
    // r̂ = μ + b_u + b_i + p_u·q_i, with the terms of an unseen side left out.
    let p = mu;
    if (u >= 0 && bu) p += bu[u]!;
    if (i >= 0 && bi) p += bi[i]!;
    if (u >= 0 && i >= 0) {
      let dot = 0;
      for (let f = 0, pu = u * k, qi = i * k; f < k; f++) dot += P[pu + f]! * Q[qi + f]!;
      p += dot;
    }
    if (p < lo) p = lo;
    else if (p > hi) p = hi;
    const d = p - test.values[t]!;
    se += d * d;
    ae += Math.abs(d);
  }
  const rmse = Math.sqrt(se / n);
  const mae = ae / n;
  if (!Number.isFinite(rmse) || !Number.isFinite(mae)) {
    throw invalidInput(
      'RMSE is not finite: the model or the test values contain NaN/Infinity; check the input values and refit with a larger λ',
    );
  }
  return { rmse, mae };
}

/**
 * What the ranking pass reads (every array may live on a SharedArrayBuffer, so evaluation workers
 * share it without a copy) and writes.
 */
export interface RankingShared {
  readonly k: number;
  readonly nItems: number;
  readonly at: number;
  /** Use the WebAssembly SIMD scorer (decided once by the caller, so every thread scores alike). */
  readonly simd: boolean;
  readonly userFactors: Float32Array;
  readonly itemFactors: Float32Array;
  /** b_i for explicit models, null for implicit ones (the ranking score is then x_u·y_i). */
  readonly itemBias: Float32Array | null;
  /** The training CSR by user: a user's training items are never ranked. */
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  /** Test items grouped by user: user u's are testItems[testStart[u] .. testStart[u+1]) (-1 = unseen item). */
  readonly testStart: Int32Array;
  readonly testItems: Int32Array;
  /**
   * Output, 4 per user: perUser[4u..4u+3] = precision, recall, ndcg, AP of user u; NaN in all four
   * for a user left out (no relevant item). The caller fills it with NaN first.
   */
  readonly perUser: Float64Array;
  /** Output: recommended[i] = 1 once item i is in some evaluated user's top N. */
  readonly recommended: Uint8Array;
}

/** The users one ranking task covers: [userStart, userEnd). */
export interface RankingRange {
  readonly userStart: number;
  readonly userEnd: number;
}

/**
 * The per-user half of the ranking metrics for users [userStart, userEnd): ranks the catalog for
 * each user with a relevant item, the user's training items excluded (the blocked top-N kernel,
 * src/kernels/block-top-n.ts, eight users per pass over tiles of the item factors with the
 * selection fused; else scoreAll + topK with those items set to NaN) and writes the user's four
 * values into perUser. Each user's values depend on that user alone, so any split of
 * the users into ranges writes the same numbers.
 */
export function rankUserRange(d: RankingShared, range: RankingRange, blocked: BlockTopN | null = rankingKernel(d)): void {
  const { k, nItems, at, userFactors: P, itemFactors: Q, itemBias: bi, indptr, indices, testStart, testItems, perUser } = d;
  // stamp[i] === mark marks item i as one of the user's training items, rel[i] === mark as relevant;
  // the first pass over a user marks with −(u + 1), the ranking pass with u + 1.
  const stamp = new Int32Array(nItems);
  const rel = new Int32Array(nItems);
  /** Marks user u's training and relevant items with `mark`; returns |relevant|. */
  const markUser = (u: number, mark: number): number => {
    for (let e = indptr[u]!, end = indptr[u + 1]!; e < end; e++) stamp[indices[e]!] = mark;
    let nRel = 0;
    for (let o = testStart[u]!, end = testStart[u + 1]!; o < end; o++) {
      const i = testItems[o]!;
      if (i < 0 || stamp[i] === mark || rel[i] === mark) continue;
      rel[i] = mark;
      nRel++;
    }
    return nRel;
  };
  // The users with at least one relevant item, ascending.
  const users: number[] = [];
  for (let u = range.userStart; u < range.userEnd; u++) {
    if (testStart[u] !== testStart[u + 1] && markUser(u, -(u + 1)) > 0) users.push(u);
  }
  /** Writes user u's four values from `best`, the user's top items (best first; -1 ends a short list). */
  const finish = (u: number, best: Int32Array): void => {
    const nRel = markUser(u, u + 1);
    const mark = u + 1;
    let hits = 0;
    let dcg = 0;
    let ap = 0;
    for (let r = 0; r < best.length && best[r]! >= 0; r++) {
      const i = best[r]!;
      d.recommended[i] = 1;
      if (rel[i] === mark) {
        hits++;
        dcg += 1 / Math.log2(r + 2); // rank r+1 → log2(rank + 1)
        ap += hits / (r + 1);
      }
    }
    const ideal = Math.min(at, nRel);
    let idcg = 0;
    for (let r = 1; r <= ideal; r++) idcg += 1 / Math.log2(r + 1);
    perUser[4 * u] = hits / at;
    perUser[4 * u + 1] = hits / nRel;
    perUser[4 * u + 2] = dcg / idcg;
    perUser[4 * u + 3] = ap / ideal;
  };
  // The blocked kernel (groups of eight users, top-N fused, float32 scores: the same list for a user
  // whatever the batch); else the plain loop with the user's training items set to NaN.
  if (blocked !== null) {
    const m = blocked.n;
    const chunk = Math.max(8, Math.min(512, Math.floor(4_000_000 / m))); // bounds the lists in flight
    const idx = new Int32Array(chunk * m);
    const sc = new Float32Array(chunk * m);
    for (let b = 0; b < users.length; b += chunk) {
      const batch = Int32Array.from(users.slice(b, b + chunk));
      blocked.topN(P, batch, { indptr, indices }, idx, sc, m);
      for (let t = 0; t < batch.length; t++) finish(batch[t]!, idx.subarray(t * m, (t + 1) * m));
    }
    return;
  }
  const scores = new Float64Array(nItems);
  for (const u of users) {
    scoreAll(P.subarray(u * k, (u + 1) * k), Q, bi, k, scores, nItems);
    for (let e = indptr[u]!, end = indptr[u + 1]!; e < end; e++) scores[indices[e]!] = NaN;
    finish(u, topK(scores, at).indices);
  }
}

/** The blocked top-N kernel for the ranking pass (lists of min(at, nItems)); null when d.simd is false or it is unavailable. */
export function rankingKernel(d: RankingShared): BlockTopN | null {
  return d.simd ? createBlockTopN(d.itemFactors, d.itemBias, d.k, d.nItems, Math.max(1, Math.min(d.at, d.nItems))) : null;
}

/** A typed array of `n` elements on a SharedArrayBuffer (workers read and write it in place) or not. */
function alloc<T>(Ctor: { new (b: ArrayBufferLike): T; BYTES_PER_ELEMENT: number }, n: number, shared: boolean): T {
  const bytes = Math.max(1, n) * Ctor.BYTES_PER_ELEMENT;
  const view = new Ctor(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes)) as T & { subarray(a: number, b: number): T };
  return view.subarray(0, n);
}

/** `a` itself when it is unshared or already on a SharedArrayBuffer, else a shared copy. */
function share<T extends Float32Array | Int32Array>(a: T, shared: boolean): T {
  if (!shared || a.buffer instanceof SharedArrayBuffer) return a;
  const out = alloc(a.constructor as unknown as { new (b: ArrayBufferLike): T; BYTES_PER_ELEMENT: number }, a.length, true);
  out.set(a as never);
  return out;
}

/**
 * The users to rank under options.rankingUsers: a 0/1 mask over the train users (1 = rank), a
 * uniform sample without replacement of the users with a test pair (partial Fisher–Yates driven by
 * mulberry32(rankingSeed)); null when every such user is ranked.
 */
export function rankedUsers(nUsers: number, test: TestSet, options: EvaluateOptions): Uint8Array | null {
  const want = options.rankingUsers;
  if (want === undefined) return null;
  const has = new Uint8Array(nUsers);
  for (let t = 0; t < test.users.length; t++) {
    const u = test.users[t]!;
    if (u >= 0) has[u] = 1;
  }
  const pool: number[] = [];
  for (let u = 0; u < nUsers; u++) if (has[u] === 1) pool.push(u);
  if (pool.length <= want) return null;
  const rand = mulberry32(options.rankingSeed ?? 0);
  const mask = new Uint8Array(nUsers);
  for (let j = 0; j < want; j++) {
    const r = j + Math.floor(rand() * (pool.length - j));
    const picked = pool[r]!;
    pool[r] = pool[j]!;
    pool[j] = picked;
    mask[picked] = 1;
  }
  return mask;
}

/**
 * The inputs of the ranking pass: test items grouped by known user (counting sort; only the users
 * of the rankingUsers sample keep theirs), outputs allocated.
 */
function rankingInput(
  model: FactorModel,
  train: RatingMatrix,
  test: TestSet,
  at: number,
  explicit: boolean,
  shared: boolean,
  options: EvaluateOptions,
  ranked: Uint8Array | null = rankedUsers(model.nUsers, test, options),
): RankingShared {
  const nUsers = model.nUsers;
  const testStart = alloc(Int32Array, nUsers + 1, shared);
  const keep = (u: number): boolean => u >= 0 && (ranked === null || ranked[u] === 1);
  for (let t = 0; t < test.users.length; t++) {
    const u = test.users[t]!;
    if (keep(u)) testStart[u + 1]!++;
  }
  for (let u = 0; u < nUsers; u++) testStart[u + 1]! += testStart[u]!;
  const testItems = alloc(Int32Array, testStart[nUsers]!, shared);
  const fill = testStart.slice(0, nUsers);
  for (let t = 0; t < test.users.length; t++) {
    const u = test.users[t]!;
    if (keep(u)) testItems[fill[u]!++] = test.items[t]!;
  }
  const bias = explicit ? model.itemBias : null;
  return {
    k: model.factors,
    nItems: model.nItems,
    at,
    simd: model.factors >= 1 && wasmSimdSupported(),
    userFactors: share(model.userFactors, shared),
    itemFactors: share(model.itemFactors, shared),
    itemBias: bias === null ? null : share(bias, shared),
    indptr: share(train.byUser.indptr, shared),
    indices: share(train.byUser.indices, shared),
    testStart,
    testItems,
    perUser: alloc(Float64Array, 4 * nUsers, shared).fill(NaN),
    recommended: alloc(Uint8Array, model.nItems, shared),
  };
}

/** Sums the per-user values in user order (the same order for every thread count) into the averages. */
function combineRanking(d: RankingShared, nUsers: number): Omit<EvalMetrics, 'at' | 'rmse' | 'mae'> {
  const { perUser, recommended, nItems } = d;
  let users = 0;
  let sumP = 0;
  let sumR = 0;
  let sumN = 0;
  let sumM = 0;
  for (let u = 0; u < nUsers; u++) {
    const p = perUser[4 * u]!;
    if (p !== p) continue; // NaN: left out
    users++;
    sumP += p;
    sumR += perUser[4 * u + 1]!;
    sumN += perUser[4 * u + 2]!;
    sumM += perUser[4 * u + 3]!;
  }
  let distinct = 0;
  for (let i = 0; i < nItems; i++) distinct += recommended[i]!;
  if (users === 0) {
    return { precision: NaN, recall: NaN, ndcg: NaN, map: NaN, coverage: NaN, testUsers: 0 };
  }
  return {
    precision: sumP / users,
    recall: sumR / users,
    ndcg: sumN / users,
    map: sumM / users,
    coverage: nItems === 0 ? 0 : distinct / nItems,
    testUsers: users,
  };
}

/** {"rmse":..,"mae":..,"precision@10":..,...} — rmse/mae only for explicit; the suffix is the cut-off `at`. */
export function metricsToJson(m: EvalMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  if (m.rmse !== undefined) out.rmse = m.rmse;
  if (m.mae !== undefined) out.mae = m.mae;
  out[`precision@${m.at}`] = m.precision;
  out[`recall@${m.at}`] = m.recall;
  out[`ndcg@${m.at}`] = m.ndcg;
  out[`map@${m.at}`] = m.map;
  out[`coverage@${m.at}`] = m.coverage;
  return out;
}
