/**
 * Offline retraining with a quality gate (`ridgerec retrain`, src/cli/retrain.ts, wires it):
 *
 *   1. read every rating in ONE read transaction (loadMatrix): a concurrent writer cannot tear it;
 *   2. split a seeded per-user holdout; fit the candidate's hyperparameters on the rest and, for a
 *      fair comparison, the active model's hyperparameters on the very same split; evaluate both;
 *   3. candidate not worse than the active model by more than maxRegression (or nothing active):
 *      refit the candidate on ALL the ratings of that snapshot, save it with its holdout metrics
 *      and activate it in one transaction → exit 0. Otherwise save the split-trained candidate as
 *      'retired' with its metrics and the reason, keep the active model → exit 3.
 *      Anything failing → an exception (exit 1) and the active model untouched.
 *
 * The gate's metric: RMSE (lower is better) when both models are explicit, else ndcg@10 (higher is
 * better). "Not worse by more than m" is an absolute difference in the metric's own direction:
 * explicit activates when rmse_candidate − rmse_active ≤ m, implicit when
 * ndcg_active − ndcg_candidate ≤ m.
 *
 * Crash safety: every write is one SQLite transaction (the save and the activation commit
 * together), so a kill -9 at any moment leaves the previous model active and no half-written row.
 * The server (src/serving) polls activeModelId and hot-swaps on its own.
 */
import type { Db } from '../db/connection.js';
import { invalidInput, RidgerecError } from '../errors.js';
import { DEFAULT_AT, metricsToJson } from '../eval/metrics.js';
import { fitAndEvaluate } from '../eval/run.js';
import { holdoutSplit } from '../eval/split.js';
import { activeModelId, getModel, saveModel } from '../model/registry.js';
import { requireTuningResult } from '../model/tuning-store.js';
import { loadMatrix } from '../ratings/store.js';
import { fit } from '../model/fit.js';
import { DEFAULT_PARAMS, detectFeedback, resolveParams, type Feedback, type IterationStats, type TrainParams } from '../training/params.js';

export interface RetrainOptions {
  /** Train flags given explicitly: they override the base hyperparameters. */
  readonly overrides?: Partial<TrainParams>;
  /** Fraction of each user's ratings held out (default 0.1). */
  readonly holdout?: number;
  /** Seed of the holdout split (default 0). */
  readonly seed?: number;
  /** Largest tolerated regression of the gate metric, absolute (default 0.005). */
  readonly maxRegression?: number;
  /** Base the candidate on the newest tuning result instead of the active model's params. */
  readonly tune?: boolean;
  /** Cut-off of the ranking metrics, the N of ndcg@N (default 10). */
  readonly at?: number;
  /**
   * Users ranked for the ranking metrics (ndcg@N, the implicit gate's metric): a uniform sample of
   * this many of the users with a holdout pair, seeded by `seed`, the same users for the candidate
   * and the active model (default RETRAIN_DEFAULTS.rankingUsers; 0 = every user). See
   * EvaluateOptions.rankingUsers for the error bound; RMSE and MAE always use every holdout pair.
   */
  readonly rankingUsers?: number;
  /** Progress lines (`ridgerec retrain` prints them on stderr). */
  readonly onProgress?: (line: string) => void;
}

export interface RetrainResult {
  /** id of the saved candidate (active now, or retired) */
  readonly candidate: number;
  /** the model active before this run, or null */
  readonly active: number | null;
  readonly activated: boolean;
  readonly metrics: {
    readonly candidate: Record<string, number>;
    /** the active model's hyperparameters evaluated on the same split; null when none was active */
    readonly active: Record<string, number> | null;
  };
  readonly reason: string;
  readonly seconds: number;
  /** not in the JSON: for the readable summary */
  readonly detail: {
    readonly metric: string;
    readonly params: TrainParams;
    readonly activeParams: TrainParams | null;
    readonly split: string;
    readonly base: string;
  };
}

/**
 * rankingUsers 20,000: a per-user ndcg lies in [0, 1], so the sampled mean is within one standard
 * error ≤ 0.5/√20000 ≈ 0.0035 of the all-user mean (typically 0.0015–0.002: per-user ndcg@10 has a
 * standard deviation of 0.2–0.3), and the candidate and the active model are ranked on the same
 * users, which shrinks the error of their difference, the quantity the gate compares with
 * maxRegression 0.005. On 100,000 users it ranks a fifth of them, which is what keeps the
 * evaluation well under one fit.
 */
export const RETRAIN_DEFAULTS = { holdout: 0.1, seed: 0, maxRegression: 0.005, at: DEFAULT_AT, rankingUsers: 20_000 } as const;

/** Exit codes of `ridgerec retrain`. */
export const RETRAIN_EXIT = { activated: 0, kept: 3, error: 1 } as const;

function fmt(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? String(x) : x.toFixed(4);
}

/** The candidate's hyperparameters: base (tuning result, else active model, else defaults) + overrides. */
function candidateParams(
  db: Db,
  feedbackOfData: () => Feedback,
  active: TrainParams | null,
  options: RetrainOptions,
): { params: TrainParams; base: string } {
  const over = options.overrides ?? {};
  let base: TrainParams | null;
  let source: string;
  if (options.tune) {
    const rec = over.feedback ? requireTuningResult(db, over.feedback) : requireTuningResult(db);
    base = rec.bestParams;
    source = `tuning result ${rec.id} (${rec.metric} ${fmt(rec.bestValue)}, ${rec.createdAt})`;
  } else if (active) {
    base = active;
    source = 'the active model';
  } else {
    base = null;
    source = 'the defaults';
  }
  const feedback = over.feedback ?? base?.feedback ?? feedbackOfData();
  if (base && base.feedback !== feedback) {
    base = null; // another feedback kind's λ, scaling and α mean something else: start from its defaults
    source = `the ${feedback} defaults`;
  }
  const threads = over.threads ?? DEFAULT_PARAMS[feedback].threads; // this machine's cores, not the saving machine's
  return { params: resolveParams({ ...(base ?? {}), ...over, threads, feedback }), base: source };
}

function sameHyperparameters(a: TrainParams, b: TrainParams): boolean {
  const { threads: _a, ...ra } = a;
  const { threads: _b, ...rb } = b;
  return JSON.stringify(ra) === JSON.stringify(rb);
}

/**
 * Runs the pipeline described at the top of this file. Returns the outcome (activated or kept);
 * throws on any failure, leaving the active model as it was.
 */
export async function retrain(db: Db, options: RetrainOptions = {}): Promise<RetrainResult> {
  const started = performance.now();
  const say = options.onProgress ?? (() => {});
  const holdout = options.holdout ?? RETRAIN_DEFAULTS.holdout;
  const seed = options.seed ?? RETRAIN_DEFAULTS.seed;
  const maxRegression = options.maxRegression ?? RETRAIN_DEFAULTS.maxRegression;
  const at = options.at ?? RETRAIN_DEFAULTS.at;
  const rankingUsers = options.rankingUsers ?? RETRAIN_DEFAULTS.rankingUsers;
  if (!(Number.isFinite(maxRegression) && maxRegression >= 0)) {
    throw invalidInput(`--max-regression must be a number >= 0, got ${maxRegression}`);
  }
  if (!(Number.isSafeInteger(rankingUsers) && rankingUsers >= 0)) {
    throw invalidInput(`--ranking-users must be an integer >= 0 (0 = every user), got ${rankingUsers}`);
  }
  const evalOptions = { at, rankingSeed: seed, ...(rankingUsers > 0 ? { rankingUsers } : {}) };

  // 1. One consistent snapshot of the ratings and of which model is active.
  const t0 = performance.now();
  const activeId = activeModelId(db);
  const activeSummary = activeId === null ? null : getModel(db, activeId);
  const matrix = loadMatrix(db);
  say(
    `loaded ${matrix.nnz} ratings (${matrix.nUsers} users × ${matrix.nItems} items) in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
  );
  const { params, base } = candidateParams(db, () => detectFeedback(matrix.byUser.values), activeSummary?.params ?? null, options);
  const activeParams = activeSummary ? resolveParams({ ...activeSummary.params, threads: params.threads }) : null;

  // 2. The same split for both.
  const t1 = performance.now();
  const { train, test } = holdoutSplit(matrix, holdout, seed);
  const split = `per-user holdout ${holdout} seed ${seed}: ${train.nnz} train / ${test.values.length} test ratings`;
  say(`split: ${split} in ${((performance.now() - t1) / 1000).toFixed(2)} s`);
  const progress = (who: string, p: TrainParams) => (s: IterationStats) =>
    say(
      `${who} iteration ${s.iteration}/${p.iterations}: loss ${s.loss.toPrecision(6)} (data ${s.dataLoss.toPrecision(6)} + penalty ${s.penalty.toPrecision(6)}) ${s.seconds.toFixed(2)} s`,
    );
  say(`training the candidate on the split (${base}): factors ${params.factors}, lambda ${params.lambda}, ${params.feedback}`);
  const cand = await fitAndEvaluate(train, test, params, { ...evalOptions, onIteration: progress('candidate', params) });
  const candMetrics = metricsToJson(cand.metrics);
  say(
    `candidate fitted in ${cand.fitSeconds.toFixed(2)} s, evaluated in ${(cand.seconds - cand.fitSeconds).toFixed(2)} s ` +
      `(ranking metrics over ${cand.metrics.testUsers} users${rankingUsers > 0 ? `, a seeded sample of at most ${rankingUsers}` : ''})`,
  );
  let actMetrics: Record<string, number> | null = null;
  if (activeParams) {
    if (sameHyperparameters(activeParams, params)) {
      // Same hyperparameters, same split, same seed: the fit would be identical.
      actMetrics = candMetrics;
      say("the active model has the same hyperparameters: its holdout metrics are the candidate's");
    } else {
      say(`training the active model's hyperparameters (model ${activeId}) on the same split`);
      const act = await fitAndEvaluate(train, test, activeParams, { ...evalOptions, onIteration: progress('active', activeParams) });
      actMetrics = metricsToJson(act.metrics);
    }
  }

  // 3. The gate.
  const bothExplicit = params.feedback === 'explicit' && (!activeParams || activeParams.feedback === 'explicit');
  const metric = bothExplicit ? 'rmse' : `ndcg@${at}`;
  const lowerIsBetter = metric === 'rmse';
  const c = candMetrics[metric];
  if (c === undefined || !Number.isFinite(c)) {
    throw new RidgerecError(
      `the candidate's holdout ${metric} is ${String(c)}: nothing to compare (too few ratings per user for a holdout?)`,
      { code: 'retrain_failed' },
    );
  }
  let activate: boolean;
  let reason: string;
  if (actMetrics === null) {
    activate = true;
    reason = `no model was active; candidate ${metric} ${fmt(c)} on the holdout`;
  } else {
    const a = actMetrics[metric] ?? NaN;
    // regression > 0 means the candidate is worse, in the metric's own direction.
    const regression = lowerIsBetter ? c - a : a - c;
    if (!Number.isFinite(a) || regression <= maxRegression + 1e-12) {
      activate = true;
      reason =
        `candidate ${metric} ${fmt(c)} vs active model ${activeId}'s ${fmt(a)} on the same holdout ` +
        `(${lowerIsBetter ? 'lower' : 'higher'} is better): not worse by more than ${maxRegression}`;
    } else {
      activate = false;
      reason =
        `candidate ${metric} ${fmt(c)} is worse than active model ${activeId}'s ${fmt(a)} on the same holdout ` +
        `by ${fmt(regression)} > --max-regression ${maxRegression}; model ${activeId} stays active`;
    }
  }
  say(reason);

  const savedMetrics = { ...candMetrics, holdout, seed, split, gate: metric, ...(actMetrics ? { comparedWith: activeId } : {}) };
  let candidateId: number;
  if (activate) {
    say('refitting the candidate on all ratings');
    const t1 = performance.now();
    const full = await fit(matrix, params, { onIteration: progress('final', params) });
    const t2 = performance.now();
    say(`refitted in ${((t2 - t1) / 1000).toFixed(2)} s`);
    candidateId = saveInOneTransaction(db, activeId, () => saveModel(db, full, { metrics: savedMetrics, activate: true, reason }));
    say(`saved and activated model ${candidateId} in ${((performance.now() - t2) / 1000).toFixed(2)} s`);
  } else {
    candidateId = saveInOneTransaction(db, undefined, () => saveModel(db, cand.fit, { metrics: savedMetrics, status: 'retired', reason }));
    say(`saved the candidate as retired model ${candidateId}`);
  }
  return {
    candidate: candidateId,
    active: activeId,
    activated: activate,
    metrics: { candidate: candMetrics, active: actMetrics },
    reason,
    seconds: (performance.now() - started) / 1000,
    detail: { metric, params, activeParams, split, base },
  };
}

/**
 * saveModel inside an outer IMMEDIATE transaction (better-sqlite3 turns saveModel's own transaction
 * into a savepoint), so an activation checks, in the same transaction as the save, that the model
 * it was compared with is still the active one.
 */
function saveInOneTransaction(db: Db, expectActive: number | null | undefined, save: () => number): number {
  return db
    .transaction((): number => {
      if (expectActive !== undefined) {
        const now = activeModelId(db);
        if (now !== expectActive) {
          throw new RidgerecError(
            `the active model changed while retraining (was ${expectActive}, now ${String(now)}); nothing was saved — run retrain again`,
            { code: 'active_model_changed' },
          );
        }
      }
      return save();
    })
    .immediate();
}
