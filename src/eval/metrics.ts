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
import { createSimdScorer } from '../kernels/wasm-scorer.js';
import type { FactorModel } from '../training/params.js';
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

export function evaluateModel(model: FactorModel, train: RatingMatrix, test: TestSet, options: { at?: number } = {}): EvalMetrics {
  const at = options.at ?? DEFAULT_AT;
  if (!Number.isSafeInteger(at) || at < 1) throw invalidInput(`at must be an integer >= 1, got ${at}`, { field: 'at' });
  if (model.nUsers !== train.nUsers || model.nItems !== train.nItems) {
    throw invalidInput(
      `the model (${model.nUsers} users × ${model.nItems} items) was not fitted on this train matrix ` +
        `(${train.nUsers} × ${train.nItems})`,
    );
  }
  const n = test.users.length;
  if (n === 0) throw invalidInput('the test set is empty: nothing to evaluate');
  const explicit = model.params.feedback === 'explicit';
  const out: { rmse?: number; mae?: number } = {};
  if (explicit) Object.assign(out, ratingError(model, train, test));
  return { at, ...out, ...rankingMetrics(model, train, test, at, explicit) };
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

function rankingMetrics(
  model: FactorModel,
  train: RatingMatrix,
  test: TestSet,
  at: number,
  explicit: boolean,
): Omit<EvalMetrics, 'at' | 'rmse' | 'mae'> {
  const k = model.factors;
  const nItems = model.nItems;
  const P = model.userFactors;
  const Q = model.itemFactors;
  const bi = explicit ? model.itemBias : null;
  const { indptr, indices } = train.byUser;

  // Group the test pairs by known user: order[] lists pair indices sorted by user (counting sort).
  const start = new Int32Array(model.nUsers + 1);
  for (let t = 0; t < test.users.length; t++) {
    const u = test.users[t]!;
    if (u >= 0) start[u + 1]!++;
  }
  for (let u = 0; u < model.nUsers; u++) start[u + 1]! += start[u]!;
  const order = new Int32Array(start[model.nUsers]!);
  const fill = start.slice(0, model.nUsers);
  for (let t = 0; t < test.users.length; t++) {
    const u = test.users[t]!;
    if (u >= 0) order[fill[u]!++] = t;
  }

  // stamp[i] === u + 1 marks item i as one of user u's training items; rel[i] === u + 1 as relevant.
  const stamp = new Int32Array(nItems);
  const rel = new Int32Array(nItems);
  const recommended = new Uint8Array(nItems);
  const scores = new Float64Array(nItems);
  // The WebAssembly SIMD scorer where it runs (float32 sums; RIDGEREC_KERNELS=js selects the plain loop).
  const simd = createSimdScorer(Q, bi, k, nItems);
  let users = 0;
  let sumP = 0;
  let sumR = 0;
  let sumN = 0;
  let sumM = 0;
  for (let u = 0; u < model.nUsers; u++) {
    if (start[u] === start[u + 1]) continue;
    const mark = u + 1;
    for (let e = indptr[u]!, end = indptr[u + 1]!; e < end; e++) stamp[indices[e]!] = mark;
    let nRel = 0;
    for (let o = start[u]!, end = start[u + 1]!; o < end; o++) {
      const i = test.items[order[o]!]!;
      if (i < 0 || stamp[i] === mark || rel[i] === mark) continue;
      rel[i] = mark;
      nRel++;
    }
    if (nRel === 0) continue;
    // score_i = b_i + p_u·q_i (explicit) or x_u·y_i (implicit), with serving's scoring kernel.
    let row: Float32Array | Float64Array = scores;
    if (simd) row = simd.scoreOne(P.subarray(u * k, (u + 1) * k));
    else scoreAll(P.subarray(u * k, (u + 1) * k), Q, bi, k, scores, nItems);
    const top = topK(row, at, (i) => stamp[i] === mark);
    let hits = 0;
    let dcg = 0;
    let ap = 0;
    for (let r = 0; r < top.indices.length; r++) {
      const i = top.indices[r]!;
      recommended[i] = 1;
      if (rel[i] === mark) {
        hits++;
        dcg += 1 / Math.log2(r + 2); // rank r+1 → log2(rank + 1)
        ap += hits / (r + 1);
      }
    }
    const ideal = Math.min(at, nRel);
    let idcg = 0;
    for (let r = 1; r <= ideal; r++) idcg += 1 / Math.log2(r + 1);
    users++;
    sumP += hits / at;
    sumR += hits / nRel;
    sumN += dcg / idcg;
    sumM += ap / ideal;
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
