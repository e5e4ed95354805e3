/**
 * `fit`: ratings in, a Model out. The one path from ratings to a Model that the CLI (train,
 * start), the retraining pipeline, evaluation and the public API all take, so every model carries
 * the same metrics: trainLoss (the objective after the last sweep), trainSeconds and ratings.
 */
import { invalidInput } from '../errors.js';
import { matrixFromTriples, type RatingMatrix } from '../ratings/matrix.js';
import { fitFactors } from '../training/fit.js';
import { detectFeedback, resolveParams, type FitResult, type IterationStats, type TrainParams } from '../training/params.js';
import { Model } from './model.js';

/** One rating with the client's string ids. */
export interface Rating {
  readonly user: string;
  readonly item: string;
  readonly value: number;
}

export interface FitOptions {
  /** Called after every ALS iteration (users then items) with the loss and its two terms. */
  readonly onIteration?: (s: IterationStats) => void;
  /**
   * Solve in worker threads even with threads 1, so the calling thread (a server's event loop)
   * stays free while the model fits. Default false: threads 1 fits on the calling thread.
   */
  readonly offThread?: boolean;
}

/** Training parameters as `fit` takes them: any subset; feedback is detected from the values when absent. */
export type FitParams = Partial<TrainParams>;

function isMatrix(x: unknown): x is RatingMatrix {
  return typeof x === 'object' && x !== null && 'byUser' in x && 'byItem' in x && 'userIds' in x;
}

/** Iterable of {user, item, value} → RatingMatrix, checking each entry. */
function matrixFromRatings(ratings: Iterable<Rating>): RatingMatrix {
  let line = 0;
  function* triples(): Generator<[string, string, number]> {
    for (const r of ratings) {
      const at = `ratings[${line}]`;
      if (typeof r !== 'object' || r === null) throw invalidInput(`${at} must be an object {user, item, value}`);
      if (typeof r.user !== 'string' || r.user === '') throw invalidInput(`${at}.user must be a non-empty string`, { field: `${at}.user` });
      if (typeof r.item !== 'string' || r.item === '') throw invalidInput(`${at}.item must be a non-empty string`, { field: `${at}.item` });
      if (typeof r.value !== 'number' || !Number.isFinite(r.value)) {
        throw invalidInput(`${at}.value must be a finite number, got ${String(r.value)}`, { field: `${at}.value` });
      }
      yield [r.user, r.item, r.value];
      line++;
    }
  }
  return matrixFromTriples(triples());
}

/** A Model from a training result and the training users' rated items. */
export function modelFromFit(
  result: FitResult,
  matrix: Pick<RatingMatrix, 'byUser' | 'nnz'>,
  metrics: Readonly<Record<string, unknown>> = {},
): Model {
  const last = result.history.at(-1);
  return new Model({
    ...result,
    metrics: {
      trainLoss: last?.loss ?? null,
      trainSeconds: Math.round(result.seconds * 1000) / 1000,
      ratings: matrix.nnz,
      ...metrics,
    },
    createdAt: new Date().toISOString(),
    userItems: { indptr: matrix.byUser.indptr, indices: matrix.byUser.indices, values: matrix.byUser.values },
  });
}

/**
 * Fits an ALS model. `ratings` is an iterable of {user, item, value} (a repeated pair keeps its
 * last value) or a RatingMatrix; `params` any subset of TrainParams (defaults: resolveParams;
 * feedback: detected from the values when absent). Rejects bad input with InvalidInput and a
 * diverging fit with ModelFitError (raise λ).
 */
export async function fit(ratings: Iterable<Rating> | RatingMatrix, params: FitParams = {}, options: FitOptions = {}): Promise<Model> {
  const matrix = isMatrix(ratings) ? ratings : matrixFromRatings(ratings);
  const feedback = params.feedback ?? detectFeedback(matrix.byUser.values);
  const p = resolveParams({ ...params, feedback });
  const result = await fitFactors(matrix, p, {
    ...(options.onIteration ? { onIteration: options.onIteration } : {}),
    ...(options.offThread ? { offThread: true } : {}),
  });
  return modelFromFit(result, matrix);
}
