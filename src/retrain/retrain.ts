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
 *   When the gate cannot refuse (no second fit on the split) and there are two threads or more,
 *   the refit of step 3 runs while the candidate is evaluated (see refitDuringEvaluation).
 *
 * The gate's metric: RMSE (lower is better) when both models are explicit, else ndcg@10 (higher is
 * better). "Not worse by more than m" is an absolute difference in the metric's own direction:
 * explicit activates when rmse_candidate − rmse_active ≤ m, implicit when
 * ndcg_active − ndcg_candidate ≤ m.
 *
 * A candidate trained elsewhere (options.candidate, `--candidate spark:DIR`) replaces the local
 * fit of step 2: it is evaluated as it is on the same holdout (on the split its export left out,
 * when the export says so), and on a pass saved and activated as it is, without a refit.
 *
 * Crash safety: every write is one SQLite transaction (the save and the activation commit
 * together), so a kill -9 at any moment leaves the previous model active and no half-written row.
 * The server (src/serving) polls activeModelId and hot-swaps on its own.
 */
import type { Db } from '../db/connection.js';
import { invalidInput, RidgerecError } from '../errors.js';
import { DEFAULT_AT, evaluateModelThreaded, metricsToJson } from '../eval/metrics.js';
import { fitAndEvaluate } from '../eval/run.js';
import { holdoutSplit } from '../eval/split.js';
import { activeModelId, getModel, saveModel } from '../model/registry.js';
import { requireTuningResult } from '../model/tuning-store.js';
import { loadMatrixParallel } from '../ratings/store.js';
import { fit } from '../model/fit.js';
import type { Model } from '../model/model.js';
import type { RatingMatrix } from '../ratings/matrix.js';
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
  /**
   * A model trained elsewhere (e.g. by Spark: `--candidate spark:DIR`) instead of a local fit: it
   * is evaluated as it is on the same holdout, against the active model's hyperparameters fitted
   * on the split, and activated as it is when it passes (there is nothing to refit).
   */
  readonly candidate?: CandidateSource;
}

/** A ready-made candidate model for the gate. */
export interface CandidateSource {
  /** How the candidate is named in the reason and the progress lines, e.g. "Spark model /data/als". */
  readonly label: string;
  /**
   * The split its training data left out (export --holdout), when known: the gate then uses it, so
   * the candidate is judged on ratings it never saw. Unknown: the candidate's holdout metrics are
   * optimistic (it may have trained on the held-out ratings).
   */
  readonly holdout: { readonly fraction: number; readonly seed: number; readonly totalRatings?: number } | null;
  /** Builds the model; `ratings` is the snapshot the gate reads (each user's rated items come from it). */
  load(ratings: RatingMatrix): Promise<Model>;
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
  const source = options.candidate;
  const holdout = options.holdout ?? source?.holdout?.fraction ?? RETRAIN_DEFAULTS.holdout;
  const seed = options.seed ?? source?.holdout?.seed ?? RETRAIN_DEFAULTS.seed;
  if (source?.holdout && (holdout !== source.holdout.fraction || seed !== source.holdout.seed)) {
    throw invalidInput(
      `${source.label} was trained without the holdout ${source.holdout.fraction} seed ${source.holdout.seed}; ` +
        `gating it on holdout ${holdout} seed ${seed} would test it on ratings it trained on: drop --holdout/--seed`,
    );
  }
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
  const matrix = await loadMatrixParallel(db);
  say(
    `loaded ${matrix.nnz} ratings (${matrix.nUsers} users × ${matrix.nItems} items) in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
  );
  const external = source ? await source.load(matrix) : null;
  const { params, base } = external
    ? {
        params: resolveParams({
          ...external.params,
          threads: options.overrides?.threads ?? DEFAULT_PARAMS[external.params.feedback].threads,
        }),
        base: source!.label,
      }
    : candidateParams(db, () => detectFeedback(matrix.byUser.values), activeSummary?.params ?? null, options);
  if (source && !source.holdout) {
    say(
      `warning: ${source.label} does not say which ratings its training left out (export with --holdout for that): ` +
        'it may have trained on the held-out ratings, which makes its holdout metrics optimistic',
    );
  } else if (source?.holdout?.totalRatings !== undefined && source.holdout.totalRatings !== matrix.nnz) {
    say(
      `warning: the store holds ${matrix.nnz} ratings, the export held ${source.holdout.totalRatings}: ` +
        'the holdout drawn now is not exactly the one the export left out',
    );
  }
  const activeParams = activeSummary ? resolveParams({ ...activeSummary.params, threads: params.threads }) : null;

  const progress = (who: string, p: TrainParams) => (s: IterationStats) =>
    say(
      `${who} iteration ${s.iteration}/${p.iterations}: loss ${s.loss.toPrecision(6)} (data ${s.dataLoss.toPrecision(6)} + penalty ${s.penalty.toPrecision(6)}) ${s.seconds.toFixed(2)} s`,
    );

  // With nothing to fit on the split besides the candidate (nothing active, or the same
  // hyperparameters) the gate cannot refuse: the active model's metrics are the candidate's, or
  // there are none. The refit on all ratings then starts as soon as the candidate is fitted and
  // runs while the candidate is evaluated, when there are two threads or more to share.
  const needActiveFit = !external && activeParams !== null && !sameHyperparameters(activeParams, params);
  const refitDuringEvaluation = !external && !needActiveFit && params.threads >= 2;
  /** The refit on all ratings, timed in the progress lines; `note` says when it runs. */
  const refit = (note: string): Promise<Model> => {
    say(`refitting the candidate on all ratings${note}`);
    const t = performance.now();
    return fit(matrix, params, { onIteration: progress('final', params) }).then((m) => {
      say(`refitted in ${((performance.now() - t) / 1000).toFixed(2)} s`);
      return m;
    });
  };
  let earlyRefit: Promise<Model> | null = null;
  const startRefit = (): void => {
    earlyRefit = refit(' while it is evaluated (nothing can refuse it: there is no second fit)');
    earlyRefit.catch(() => {}); // awaited below; this keeps a failure from being reported as unhandled first
  };
  // Before anything is thrown, so no fit outlives this call in its workers.
  const settleRefit = async (): Promise<void> => {
    await (earlyRefit as Promise<Model> | null)?.catch(() => {});
  };

  // 2. The same split for both.
  const t1 = performance.now();
  const { train, test } = holdoutSplit(matrix, holdout, seed);
  const split = `per-user holdout ${holdout} seed ${seed}: ${train.nnz} train / ${test.values.length} test ratings`;
  say(`split: ${split} in ${((performance.now() - t1) / 1000).toFixed(2)} s`);
  let cand: Awaited<ReturnType<typeof fitAndEvaluate>>;
  if (external) cand = await evaluateExternal(external, train, test, params, evalOptions, say, source!.label);
  else {
    say(`training the candidate on the split (${base}): factors ${params.factors}, lambda ${params.lambda}, ${params.feedback}`);
    try {
      cand = await fitAndEvaluate(train, test, params, {
        ...evalOptions,
        onIteration: progress('candidate', params),
        ...(refitDuringEvaluation ? { onFitted: startRefit } : {}),
      });
    } catch (e) {
      await settleRefit();
      throw e;
    }
  }
  const candMetrics = metricsToJson(cand.metrics);
  if (!external) {
    say(
      `candidate fitted in ${cand.fitSeconds.toFixed(2)} s, evaluated in ${(cand.seconds - cand.fitSeconds).toFixed(2)} s ` +
        `(ranking metrics over ${cand.metrics.testUsers} users${rankingUsers > 0 ? `, a seeded sample of at most ${rankingUsers}` : ''})`,
    );
  }
  let actMetrics: Record<string, number> | null = null;
  if (activeParams) {
    if (!external && !needActiveFit) {
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
    await settleRefit();
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

  const savedMetrics = {
    ...candMetrics,
    holdout,
    seed,
    split,
    gate: metric,
    ...(actMetrics ? { comparedWith: activeId } : {}),
    ...(source ? { candidateSource: source.label, holdoutUnseen: source.holdout !== null } : {}),
  };
  let candidateId: number;
  if (activate && external) {
    // Trained elsewhere on the export: saved and activated as it is.
    candidateId = saveInOneTransaction(db, activeId, () => saveModel(db, external, { metrics: savedMetrics, activate: true, reason }));
    say(`saved and activated ${source!.label} as model ${candidateId}`);
  } else if (activate) {
    const full = await ((earlyRefit as Promise<Model> | null) ?? refit(''));
    const t2 = performance.now();
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
 * Scores a ready-made model on the holdout: laid out in the split's train index space (its
 * factors looked up by id), each user's training items excluded, the metrics of a local candidate.
 */
async function evaluateExternal(
  model: Model,
  train: RatingMatrix,
  test: Parameters<typeof evaluateModelThreaded>[2],
  params: TrainParams,
  evalOptions: Omit<NonNullable<Parameters<typeof evaluateModelThreaded>[3]>, 'threads'>,
  say: (line: string) => void,
  label: string,
): Promise<{ fit: Model; metrics: Awaited<ReturnType<typeof evaluateModelThreaded>>; seconds: number; fitSeconds: number }> {
  const started = performance.now();
  say(`evaluating ${label} (${params.feedback}, rank ${params.factors}, lambda ${params.lambda}) on the holdout`);
  const { modelOnMatrix } = await import('../spark/import.js'); // the Parquet reader, only for a ready-made candidate
  const aligned = modelOnMatrix(model, train);
  const unknown = aligned.metrics as { unknownUsers?: number; unknownItems?: number };
  if (unknown.unknownUsers || unknown.unknownItems) {
    say(`${unknown.unknownUsers ?? 0} users and ${unknown.unknownItems ?? 0} items of the ratings are not in the candidate: they score 0`);
  }
  const metrics = await evaluateModelThreaded(aligned, train, test, { ...evalOptions, threads: params.threads });
  const seconds = (performance.now() - started) / 1000;
  say(`evaluated in ${seconds.toFixed(2)} s`);
  return { fit: model, metrics, seconds, fitSeconds: 0 };
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
