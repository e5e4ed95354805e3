/**
 * Grid search with cross-validation: choose λ (and the other hyperparameters) on held-out data,
 * never on training loss. The pieces, each usable alone:
 *   parseGrid("lambda=0.01,0.1 factors=16,32")  → the grid (flag names → value lists), validated
 *   expandGrid(grid, base)                       → one full TrainParams per grid point
 *   kFoldSplit / expandFoldPattern               → the folds (train matrix + test set each, cut by
 *                                                  split.ts splitByMask)
 *   runGrid(folds, points, …)                    → every point on every fold, summarised
 *   argBest, tuneToJson                          → the best point and the `tune --json` shape
 * The hyperparameter names in grids and JSON are the `train` flag names (lambda, factors,
 * lambda-scaling, alpha, iterations, solver, cg-steps, seed); TrainParams keys are their camelCase.
 */
import { InvalidInput, invalidInput, isRidgerecError } from '../errors.js';
import type { RatingMatrix } from '../ratings/matrix.js';
import { DEFAULT_PARAMS, resolveParams, type Feedback, type TrainParams } from '../training/params.js';
import { mulberry32 } from '../training/random.js';
import { WorkerPool } from '../workers.js';
import { DEFAULT_AT, MAX_AT, metricsToJson } from './metrics.js';
import { fitAndEvaluate } from './run.js';
import { splitByMask, type TestSet } from './split.js';

// ---------------------------------------------------------------------------------------------
// Names: TrainParams keys ↔ flag names

/** Hyperparameters a grid may vary: every TrainParams field except feedback and threads. */
const NOT_IN_GRID = new Set(['feedback', 'threads']);

export function toFlagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function toParamKey(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Grid-able flag names, in TrainParams order, with the kind of value each takes. */
export function gridParamNames(): { name: string; key: keyof TrainParams; kind: 'number' | 'string' }[] {
  const d = DEFAULT_PARAMS.explicit;
  return (Object.keys(d) as (keyof TrainParams)[])
    .filter((k) => !NOT_IN_GRID.has(k))
    .map((k) => ({ name: toFlagName(k), key: k, kind: typeof d[k] === 'number' ? 'number' : 'string' }));
}

/** TrainParams → the flag-named hyperparameters shown in JSON (threads left out: not a hyperparameter). */
export function paramsToFlags(p: TrainParams): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const [k, v] of Object.entries(p)) {
    if (k === 'threads') continue;
    out[toFlagName(k)] = v as number | string;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Grid parsing

export type GridValue = number | string;

export interface GridDim {
  /** flag name, e.g. 'lambda-scaling' */
  readonly name: string;
  readonly key: keyof TrainParams;
  readonly values: readonly GridValue[];
}

export interface Grid {
  readonly dims: readonly GridDim[];
}

/**
 * Parses `--grid`: whitespace-separated `name=v1,v2,…` dimensions, names being `train` flag names
 * (camelCase accepted too). Numbers must be finite; ranges are checked per point by expandGrid.
 * Errors (exit 2) name the offending dimension or value: `lambda=abc`, an unknown parameter, an
 * empty list, a repeated dimension.
 */
export function parseGrid(spec: string): Grid {
  const known = gridParamNames();
  const allowed = known.map((k) => k.name).join(', ');
  const parts = spec
    .trim()
    .split(/\s+/)
    .filter((s) => s !== '');
  if (parts.length === 0)
    throw invalidInput(
      `--grid is empty; give e.g. "lambda=0.01,0.1,1 factors=16,32" (parameters: ${allowed})`,
      { flag: '--grid' },
      'invalid_grid',
    );
  const dims: GridDim[] = [];
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) {
      throw invalidInput(`--grid: "${part}" must look like name=v1,v2,… (parameters: ${allowed})`, { flag: '--grid' }, 'invalid_grid');
    }
    const rawName = part.slice(0, eq);
    const spec = known.find((k) => k.name === rawName || k.key === rawName);
    if (!spec) {
      throw invalidInput(`--grid: unknown parameter "${rawName}" (parameters: ${allowed})`, { flag: '--grid' }, 'invalid_grid');
    }
    if (dims.some((d) => d.name === spec.name)) {
      throw invalidInput(`--grid: parameter "${spec.name}" is given twice; list all its values once`, { flag: '--grid' }, 'invalid_grid');
    }
    const list = part.slice(eq + 1);
    const raws = list.split(',');
    if (list.trim() === '' || raws.every((r) => r.trim() === '')) {
      throw invalidInput(`--grid: ${spec.name} has an empty list of values`, { flag: '--grid' }, 'invalid_grid');
    }
    const values: GridValue[] = [];
    for (const raw of raws) {
      const r = raw.trim();
      if (r === '') throw invalidInput(`--grid: ${spec.name} has an empty value in "${list}"`, { flag: '--grid' }, 'invalid_grid');
      if (spec.kind === 'number') {
        const v = Number(r);
        if (!Number.isFinite(v)) {
          throw invalidInput(`--grid: ${spec.name} value "${r}" is not a number`, { flag: '--grid' }, 'invalid_grid');
        }
        values.push(v);
      } else {
        values.push(r);
      }
    }
    if (new Set(values).size !== values.length) {
      throw invalidInput(`--grid: ${spec.name} lists a value twice in "${list}"`, { flag: '--grid' }, 'invalid_grid');
    }
    dims.push({ name: spec.name, key: spec.key, values });
  }
  return { dims };
}

/** The grid as plain JSON (flag names → values), as stored with a tuning result. */
export function gridToJson(grid: Grid): Record<string, GridValue[]> {
  return Object.fromEntries(grid.dims.map((d) => [d.name, [...d.values]]));
}

/** Number of points: the product of the list lengths. */
export function gridSize(grid: Grid): number {
  return grid.dims.reduce((n, d) => n * d.values.length, 1);
}

/**
 * Every grid point as full TrainParams: `base` (the train flags and defaults) with the point's
 * values over it, validated by resolveParams. The first dimension varies slowest. An out-of-range
 * value fails with the point named: `--grid lambda=-1: lambda must be a number >= 0, got -1`.
 */
export function expandGrid(grid: Grid, base: TrainParams): TrainParams[] {
  const out: TrainParams[] = [];
  const n = gridSize(grid);
  for (let p = 0; p < n; p++) {
    const overrides: Record<string, GridValue> = {};
    let rest = p;
    for (let d = grid.dims.length - 1; d >= 0; d--) {
      const dim = grid.dims[d]!;
      overrides[dim.key] = dim.values[rest % dim.values.length]!;
      rest = Math.floor(rest / dim.values.length);
    }
    try {
      out.push(resolveParams({ ...base, ...(overrides as Partial<TrainParams>), feedback: base.feedback }));
    } catch (e) {
      if (!isRidgerecError(e)) throw e;
      const point = grid.dims.map((d) => `${d.name}=${String(overrides[d.key])}`).join(' ');
      throw invalidInput(`--grid ${point}: ${e.message}`, { flag: '--grid' }, 'invalid_grid');
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The validation metric

export interface MetricSpec {
  /** the key in metricsToJson's output: 'rmse', 'ndcg@10', … */
  readonly name: string;
  readonly higherIsBetter: boolean;
  /** The cut-off of the ranking metrics (all of them are computed; the name's suffix sets it). */
  readonly at: number;
}

/**
 * `--metric`: rmse | mae (explicit only) | ndcg@N | precision@N | recall@N | map@N. Default:
 * rmse for explicit, ndcg@10 for implicit. RMSE and MAE are better lower, the rest higher.
 */
export function parseMetric(raw: string | undefined, feedback: Feedback): MetricSpec {
  const name = raw ?? (feedback === 'explicit' ? 'rmse' : `ndcg@${DEFAULT_AT}`);
  if (name === 'rmse' || name === 'mae') {
    if (feedback !== 'explicit') {
      throw invalidInput(`--metric ${name} needs explicit feedback (implicit models predict no ratings); use ndcg@10`, {
        flag: '--metric',
      });
    }
    return { name, higherIsBetter: false, at: DEFAULT_AT };
  }
  const m = /^(ndcg|precision|recall|map)@(\d+)$/.exec(name);
  const at = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(at) || at < 1 || at > MAX_AT) {
    throw invalidInput(`--metric must be one of rmse, mae, ndcg@N, precision@N, recall@N, map@N (N in 1..${MAX_AT}), got "${name}"`, {
      flag: '--metric',
    });
  }
  return { name, higherIsBetter: true, at };
}

// ---------------------------------------------------------------------------------------------
// Folds

/** The most folds a K-fold split may have. */
export const MAX_FOLDS = 1000;

export interface Fold {
  /** e.g. 'u1.base/u1.test', 'fold 2/5', 'holdout 0.2' */
  readonly name: string;
  readonly train: RatingMatrix;
  readonly test: TestSet;
}

/**
 * Seeded per-user K-fold assignment: each user's ratings are shuffled (Fisher–Yates, mulberry32)
 * and dealt round-robin into the K folds starting at a random fold, so every rating is in exactly
 * one test fold and each user's ratings spread evenly (fold sizes differ by at most one per user).
 * Users with fewer than 2 ratings are never tested (as in holdoutSplit). Returns the fold of each
 * entry in byUser order, -1 for never tested.
 */
export function kFoldAssignment(matrix: RatingMatrix, nFolds: number, seed: number): Int8Array | Int16Array {
  if (!Number.isSafeInteger(nFolds) || nFolds < 2 || nFolds > MAX_FOLDS)
    throw invalidInput(`--folds must be an integer in 2..${MAX_FOLDS}, got ${nFolds}`, { flag: '--folds' });
  const rand = mulberry32(seed);
  const fold = nFolds <= 127 ? new Int8Array(matrix.nnz) : new Int16Array(matrix.nnz);
  fold.fill(-1);
  const { indptr } = matrix.byUser;
  let perm = new Int32Array(16);
  for (let u = 0; u < matrix.nUsers; u++) {
    const start = indptr[u]!;
    const n = indptr[u + 1]! - start;
    if (n < 2) continue;
    if (perm.length < n) perm = new Int32Array(n * 2);
    for (let j = 0; j < n; j++) perm[j] = j;
    for (let j = n - 1; j > 0; j--) {
      const r = Math.floor(rand() * (j + 1));
      const t = perm[j]!;
      perm[j] = perm[r]!;
      perm[r] = t;
    }
    const offset = Math.floor(rand() * nFolds);
    for (let j = 0; j < n; j++) fold[start + perm[j]!] = (j + offset) % nFolds;
  }
  return fold;
}

/** The K folds of kFoldAssignment, each a train matrix and its test set. */
export function kFoldSplit(matrix: RatingMatrix, nFolds: number, seed: number): Fold[] {
  const assign = kFoldAssignment(matrix, nFolds, seed);
  const folds: Fold[] = [];
  for (let f = 0; f < nFolds; f++) {
    const mask = new Uint8Array(matrix.nnz);
    for (let e = 0; e < matrix.nnz; e++) mask[e] = assign[e] === f ? 1 : 0;
    const { train, test } = splitByMask(matrix, mask);
    folds.push({ name: `fold ${f + 1}/${nFolds}`, train, test });
  }
  return folds;
}

/**
 * `--train 'u%d.base' --test 'u%d.test' --folds 5`: a `%d` in a path is replaced by 1..K, giving
 * K (train, test) file pairs; a path without `%d` is returned once.
 */
export function expandFoldPattern(path: string, nFolds: number): string[] {
  if (!path.includes('%d')) return [path];
  return Array.from({ length: nFolds }, (_, i) => path.replaceAll('%d', String(i + 1)));
}

// ---------------------------------------------------------------------------------------------
// Running the grid

/** What one fit-and-evaluate of one grid point on one fold yields. */
export interface FoldOutcome {
  /** metricsToJson of the fold's test metrics */
  readonly metrics: Readonly<Record<string, number>>;
  /** the final sweep's data loss per training rating (explicit: the training MSE, unclipped) */
  readonly trainLoss: number;
  readonly seconds: number;
}

export interface PointResult {
  readonly params: TrainParams;
  /** mean of the validation metric over the folds; NaN when the point failed */
  readonly metric: number;
  /** sample standard deviation over the folds (0 with one fold) */
  readonly std: number;
  /** mean over the folds of the final data loss per training rating */
  readonly trainLoss: number;
  /** explicit only: training RMSE, √trainLoss per fold, averaged */
  readonly trainRmse: number | null;
  /** the metric on each fold */
  readonly folds: readonly number[];
  /** mean over the folds of every metric (rmse, ndcg@10, …) */
  readonly metrics: Readonly<Record<string, number>>;
  /** fit + evaluation seconds summed over the folds */
  readonly seconds: number;
  /** set when fitting failed (e.g. ModelFitError at λ = 0): the point is never the best */
  readonly error: string | null;
}

export interface TuneResult {
  readonly metric: MetricSpec;
  readonly best: PointResult;
  /** index of the best point in results */
  readonly bestIndex: number;
  readonly results: readonly PointResult[];
  readonly folds: number;
  readonly seconds: number;
}

/** Evaluates one point on one fold; the default fits with fitAndEvaluate. Injectable for tests. */
export type PointEvaluator = (fold: Fold, params: TrainParams, at: number) => Promise<FoldOutcome>;

export async function evaluateOnFold(fold: Fold, params: TrainParams, at: number): Promise<FoldOutcome> {
  const { fit, metrics, seconds } = await fitAndEvaluate(fold.train, fold.test, params, { at });
  const last = fit.history.at(-1);
  return {
    metrics: metricsToJson(metrics),
    trainLoss: last ? last.dataLoss / Math.max(1, fold.train.nnz) : NaN,
    seconds,
  };
}

export interface RunGridOptions {
  readonly metric: MetricSpec;
  /**
   * Grid points × folds evaluated concurrently in worker threads, each fitting with threads = 1.
   * 1 (the default) runs them one after another in this thread with params.threads each.
   */
  readonly jobs?: number;
  /** Called after each (point, fold) evaluation: done / total. */
  readonly onProgress?: (done: number, total: number, point: number) => void;
  /** Called when all folds of a point are done. */
  readonly onPoint?: (index: number, result: PointResult) => void;
  /** Replaces fitAndEvaluate (tests). Forces jobs = 1. */
  readonly evaluate?: PointEvaluator;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** Sample standard deviation √(Σ(x−x̄)²/(n−1)); 0 for a single value. */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

/** Summarises one point's fold outcomes. */
export function summarisePoint(params: TrainParams, metric: MetricSpec, outcomes: readonly FoldOutcome[]): PointResult {
  const per = outcomes.map((o) => o.metrics[metric.name] ?? NaN);
  const keys = Object.keys(outcomes[0]?.metrics ?? {});
  const metrics = Object.fromEntries(keys.map((key) => [key, mean(outcomes.map((o) => o.metrics[key] ?? NaN))]));
  const explicit = params.feedback === 'explicit';
  return {
    params,
    metric: mean(per),
    std: sampleStd(per),
    trainLoss: mean(outcomes.map((o) => o.trainLoss)),
    trainRmse: explicit ? mean(outcomes.map((o) => Math.sqrt(o.trainLoss))) : null,
    folds: per,
    metrics,
    seconds: outcomes.reduce((s, o) => s + o.seconds, 0),
    error: null,
  };
}

function failedPoint(params: TrainParams, message: string): PointResult {
  return { params, metric: NaN, std: NaN, trainLoss: NaN, trainRmse: null, folds: [], metrics: {}, seconds: 0, error: message };
}

/**
 * Index of the best point: the lowest metric (rmse, mae) or the highest (ranking metrics); NaN and
 * failed points never win; ties go to the earlier point. -1 when no point has a finite metric.
 */
export function argBest(results: readonly Pick<PointResult, 'metric'>[], higherIsBetter: boolean): number {
  let best = -1;
  for (let i = 0; i < results.length; i++) {
    const m = results[i]!.metric;
    if (!Number.isFinite(m)) continue;
    if (best < 0 || (higherIsBetter ? m > results[best]!.metric : m < results[best]!.metric)) best = i;
  }
  return best;
}

/**
 * Evaluates every point on every fold and summarises: mean ± std of the validation metric, the
 * training loss beside it (the overfitting gap), every metric's mean, and the best point. A point
 * whose fit fails (ModelFitError, …) is recorded with its error and skipped; if every point fails
 * the first error is thrown.
 */
export async function runGrid(folds: readonly Fold[], points: readonly TrainParams[], options: RunGridOptions): Promise<TuneResult> {
  if (folds.length === 0) throw invalidInput('tuning needs at least one fold');
  if (points.length === 0) throw invalidInput('--grid has no points');
  const started = performance.now();
  const { metric } = options;
  const total = points.length * folds.length;
  const outcomes: (FoldOutcome | undefined)[][] = points.map(() => new Array<FoldOutcome | undefined>(folds.length));
  const errors: (unknown | undefined)[] = new Array(points.length);
  const remaining = points.map(() => folds.length);
  const results: (PointResult | undefined)[] = new Array(points.length);
  let done = 0;

  const finish = (p: number, f: number, outcome: FoldOutcome | null, error?: unknown): void => {
    if (outcome) outcomes[p]![f] = outcome;
    else if (errors[p] === undefined) errors[p] = error;
    done++;
    options.onProgress?.(done, total, p);
    if (--remaining[p]! === 0) {
      const err = errors[p];
      const r =
        err !== undefined
          ? failedPoint(points[p]!, (err as Error)?.message ?? String(err))
          : summarisePoint(points[p]!, metric, outcomes[p]! as FoldOutcome[]);
      results[p] = r;
      options.onPoint?.(p, r);
    }
  };

  const jobs = options.evaluate ? 1 : Math.max(1, Math.min(options.jobs ?? 1, total));
  if (jobs === 1) {
    const evaluate = options.evaluate ?? evaluateOnFold;
    for (let p = 0; p < points.length; p++) {
      for (let f = 0; f < folds.length; f++) {
        try {
          finish(p, f, await evaluate(folds[f]!, points[p]!, metric.at));
        } catch (e) {
          if (!isRidgerecError(e)) throw e; // a bug, not a bad grid point
          finish(p, f, null, e);
        }
      }
    }
  } else {
    await runInWorkers(folds, points, metric.at, jobs, finish);
  }

  const final = results as PointResult[];
  const bestIndex = argBest(final, metric.higherIsBetter);
  if (bestIndex < 0) {
    const first = errors.find((e) => e !== undefined);
    if (first !== undefined) throw first;
    throw invalidInput(`no grid point produced a finite ${metric.name} (is the test set empty of evaluable users?)`);
  }
  return {
    metric,
    best: final[bestIndex]!,
    bestIndex,
    results: final,
    folds: folds.length,
    seconds: (performance.now() - started) / 1000,
  };
}

/** One (grid point, fold) evaluation, as the tuning workers receive it (see tune-worker.ts). */
export interface WorkerTask {
  readonly fold: number;
  readonly params: TrainParams;
  readonly at: number;
}

/**
 * `jobs` workers of the one worker pool, each holding every fold (the matrices' typed arrays sit
 * on SharedArrayBuffer, so they are shared, not copied), taking (point, fold) tasks as they become
 * idle. Each task fits with threads = 1: the parallelism is across tasks. A task that fails on bad
 * input (InvalidInput) marks its point failed; any other failure ends the run.
 */
async function runInWorkers(
  folds: readonly Fold[],
  points: readonly TrainParams[],
  at: number,
  jobs: number,
  finish: (p: number, f: number, outcome: FoldOutcome | null, error?: unknown) => void,
): Promise<void> {
  const tasks: WorkerTask[] = [];
  for (let p = 0; p < points.length; p++) {
    for (let f = 0; f < folds.length; f++) tasks.push({ fold: f, params: { ...points[p]!, threads: 1 }, at });
  }
  const pool = WorkerPool.start<WorkerTask, FoldOutcome>('tuning', new URL('./tune-worker.js', import.meta.url), jobs, () => ({ folds }));
  try {
    await pool.queue(tasks, (j, outcome, error) => {
      const p = Math.floor(j / folds.length);
      const f = tasks[j]!.fold;
      if (error === undefined) finish(p, f, outcome!);
      else if (error instanceof InvalidInput) finish(p, f, null, error);
      else throw error;
    });
  } finally {
    await pool.close();
  }
}

// ---------------------------------------------------------------------------------------------
// JSON

function num(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

export function pointToJson(r: PointResult): Record<string, unknown> {
  const out: Record<string, unknown> = {
    params: paramsToFlags(r.params),
    metric: num(r.metric),
    std: num(r.std),
    trainLoss: num(r.trainLoss),
  };
  if (r.trainRmse !== null) out.trainRmse = num(r.trainRmse);
  out.folds = r.folds.map(num);
  out.metrics = Object.fromEntries(Object.entries(r.metrics).map(([k, v]) => [k, num(v)]));
  out.seconds = r.seconds;
  if (r.error !== null) out.error = r.error;
  return out;
}

/**
 * The `tune --json` object:
 * {"best":{"params":{..},"metric":..,"std":..},"metric":"rmse","results":[{"params":{..},"metric":..,"std":..,"trainLoss":..,…}],…}
 */
export function tuneToJson(r: TuneResult): Record<string, unknown> {
  return {
    best: { params: paramsToFlags(r.best.params), metric: num(r.best.metric), std: num(r.best.std) },
    metric: r.metric.name,
    higherIsBetter: r.metric.higherIsBetter,
    folds: r.folds,
    results: r.results.map(pointToJson),
    seconds: r.seconds,
  };
}
