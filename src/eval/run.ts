/**
 * The fit-then-evaluate step shared by `ridgerec evaluate`, `ridgerec tune` and the retrain
 * script: fit on the train matrix, score the held-out TestSet (on the fit's threads), time both.
 */
import type { RatingMatrix } from '../ratings/matrix.js';
import { fit as fitModel } from '../model/fit.js';
import type { Model } from '../model/model.js';
import type { IterationStats, TrainParams } from '../training/params.js';
import { evaluateModelThreaded, type EvalMetrics } from './metrics.js';
import type { TestSet } from './split.js';

export interface FitAndEvaluateOptions {
  /** cut-off of the ranking metrics (default DEFAULT_AT, 10). */
  at?: number;
  /** Rank at most this many seeded random test users (EvaluateOptions.rankingUsers; default every user). */
  rankingUsers?: number;
  /** Seed of that sample (default 0). */
  rankingSeed?: number;
  onIteration?: (s: IterationStats) => void;
  /** Called once the fit is done, before the evaluation starts (retrain starts its refit there). */
  onFitted?: () => void;
}

/** Fits `params` on `train`, evaluates on `test`; seconds covers both, fitSeconds the fit alone. */
export async function fitAndEvaluate(
  train: RatingMatrix,
  test: TestSet,
  params: TrainParams,
  options: FitAndEvaluateOptions = {},
): Promise<{ fit: Model; metrics: EvalMetrics; seconds: number; fitSeconds: number }> {
  const started = performance.now();
  const fit = await fitModel(train, params, options.onIteration ? { onIteration: options.onIteration } : {});
  const fitSeconds = (performance.now() - started) / 1000;
  options.onFitted?.();
  // The ranking pass uses the fit's threads (workers only when the problem is large enough).
  const metrics = await evaluateModelThreaded(fit, train, test, {
    threads: params.threads,
    ...(options.at === undefined ? {} : { at: options.at }),
    ...(options.rankingUsers === undefined ? {} : { rankingUsers: options.rankingUsers }),
    ...(options.rankingSeed === undefined ? {} : { rankingSeed: options.rankingSeed }),
  });
  return { fit, metrics, seconds: (performance.now() - started) / 1000, fitSeconds };
}
