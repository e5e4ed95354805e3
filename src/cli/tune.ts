/**
 * `ridgerec tune`: grid search with cross-validation (src/eval/tune.ts does the work; this file
 * wires flags, data sources, progress and output).
 *
 *   ridgerec tune --grid "lambda=0.01,0.1,1 factors=16,32" [data source] [train flags] [--format F]
 *                 [--binary] [--metric rmse|ndcg@10|…] [--jobs N] [--report tune.html] [--no-save] [--json]
 * Data sources (folds):
 *   --train FILE --test FILE              one fold
 *   --train 'u%d.base' --test 'u%d.test' --folds K   K given folds (%d = 1..K)
 *   --train FILE --folds K                a seeded per-user K-fold split of FILE
 *   --train FILE [--holdout 0.2]          a seeded per-user holdout of FILE
 *   --db PATH [--holdout 0.2 | --folds K] the stored ratings, split the same ways (the default)
 * --seed seeds the split and the factor initialisation. The best point is stored in the database
 * (migration 0003) for `train --tuned` and `retrain --tune`, unless --no-save.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import type { Config } from '../config.js';
import { invalidInput } from '../errors.js';
import { renderTuneReport } from '../eval/report.js';
import { alignTestSet, holdoutSplit } from '../eval/split.js';
import {
  expandFoldPattern,
  expandGrid,
  gridSize,
  gridToJson,
  kFoldSplit,
  MAX_FOLDS,
  paramsToFlags,
  parseGrid,
  parseMetric,
  runGrid,
  tuneToJson,
  type Fold,
  type PointResult,
  type TuneResult,
} from '../eval/tune.js';
import { saveTuningResult, type TuningRecord } from '../model/tuning-store.js';
import { RATING_FORMATS, readTriples, type RatingFormat } from '../ratings/import.js';
import { matrixFromTriples, type RatingMatrix } from '../ratings/matrix.js';
import { loadMatrixParallel } from '../ratings/store.js';
import { openStore } from '../store/store.js';
import { DEFAULT_PARAMS, detectFeedback, resolveParams, type TrainParams } from '../training/params.js';
import { choiceArg, dbConfig, floatArg, intArg, printJson, runCommand, withDbOption, withJsonOption } from './common.js';
import { addTrainFlags, explicitTrainParams, paramsFromFlags, type TrainFlags } from './train-flags.js';

interface Flags extends TrainFlags {
  db?: string;
  json?: boolean;
  grid: string;
  train?: string;
  test?: string;
  folds?: number;
  holdout?: number;
  format?: RatingFormat;
  binary?: boolean;
  metric?: string;
  report?: string;
  jobs?: number;
  save: boolean;
}

/**
 * `train --tuned`: the stored best parameters, with the train flags given explicitly over them;
 * threads from --threads or this machine's cores (not the tuning run's).
 */
export function paramsFromTuning(rec: TuningRecord, opts: TrainFlags): TrainParams {
  const over = explicitTrainParams(opts);
  return resolveParams({ ...rec.bestParams, threads: DEFAULT_PARAMS[rec.feedback].threads, ...over, feedback: rec.feedback });
}

/**
 * The default number of concurrent fits: one per core, each single-threaded. Measured on this
 * 2-core machine (README, `tune`): 2 concurrent fits × 1 thread finished a small grid faster than
 * one fit at a time × 2 threads in every run, since a small fit spends much of each sweep in
 * serial parts (loss, YᵀY, evaluation) and in waking workers.
 */
export const DEFAULT_JOBS = availableParallelism();

/** The holdout fraction when the data source gives neither a test file nor --folds. */
export const DEFAULT_HOLDOUT = 0.2;

export function register(program: Command): void {
  const cmd = program
    .command('tune')
    .description('grid search over hyperparameters with cross-validation; stores the best for `train --tuned`')
    .requiredOption('--grid <spec>', 'the grid: "lambda=0.01,0.1,1 factors=16,32 alpha=1,10" (train flag names; every point is evaluated)')
    .option('--train <file>', 'training ratings file; a %d is replaced by 1..K (with --test and --folds K)')
    .option('--test <file>', 'test ratings file for --train (one fold, or K with %d)')
    .option(
      '--folds <k>',
      'number of folds: K %d-files, or a seeded per-user K-fold split of --train / the database',
      intArg('--folds', 2, MAX_FOLDS),
    )
    .option(
      '--holdout <fraction>',
      `fraction of each user's ratings held out when there is no --test or --folds (default ${DEFAULT_HOLDOUT})`,
      floatArg('--holdout', 0, 1, true),
    )
    .option('--format <format>', `rating file format: ${RATING_FORMATS.join(', ')} (default auto)`, choiceArg('--format', RATING_FORMATS))
    .option('--binary', 'treat every value as 1 (implicit "seen" data from star ratings)')
    .option(
      '--metric <name>',
      'validation metric: rmse | mae (explicit) | ndcg@N | precision@N | recall@N | map@N (default rmse explicit, ndcg@10 implicit)',
    )
    .option(
      '--jobs <n>',
      `grid points fitted concurrently in worker threads, 1 thread each (default: the number of cores, ${DEFAULT_JOBS}); 1 fits one at a time with --threads`,
      intArg('--jobs', 1, 256),
    )
    .option('--report <file>', 'write a self-contained HTML report with the validation curve')
    .option('--no-save', 'do not store the best parameters in the database');
  withJsonOption(withDbOption(addTrainFlags(cmd))).action((opts: Flags) => runCommand(() => tune(opts)));
}

interface Source {
  readonly folds: Fold[];
  readonly description: string;
}

function binaryTriples(triples: [string, string, number][], binary: boolean): [string, string, number][] {
  if (binary) for (const t of triples) t[2] = 1;
  return triples;
}

function binaryMatrix(m: RatingMatrix, binary: boolean): RatingMatrix {
  if (binary) {
    m.byUser.values.fill(1);
    m.byItem.values.fill(1);
  }
  return m;
}

async function loadFolds(opts: Flags, config: Config, seed: number, say: (s: string) => void): Promise<Source> {
  const binary = opts.binary === true;
  const readOpts = opts.format ? { format: opts.format } : {};
  if (opts.test !== undefined && opts.train === undefined) throw invalidInput('--test needs --train');
  if (opts.holdout !== undefined && opts.folds !== undefined) throw invalidInput('give either --holdout or --folds, not both');
  const bin = binary ? ', values as 1 (--binary)' : '';
  if (opts.train !== undefined) {
    const pattern = opts.train.includes('%d') || (opts.test?.includes('%d') ?? false);
    if (opts.test !== undefined) {
      if (opts.holdout !== undefined) throw invalidInput('--holdout splits --train itself; drop it when --test is given');
      if (pattern && opts.folds === undefined) throw invalidInput('a %d in --train/--test needs --folds K (e.g. --folds 5 for u1..u5)');
      if (!pattern && opts.folds !== undefined) {
        throw invalidInput(
          '--folds with --train and --test needs a %d in the paths (u%d.base / u%d.test); drop --test for a K-fold split of --train',
        );
      }
      const nFolds = opts.folds ?? 1;
      const trains = expandFoldPattern(opts.train, nFolds);
      const tests = expandFoldPattern(opts.test, nFolds);
      if (trains.length !== tests.length) throw invalidInput('put %d in both --train and --test, or in neither');
      const folds: Fold[] = [];
      for (let f = 0; f < trains.length; f++) {
        const train = matrixFromTriples(binaryTriples(await readTriples(trains[f]!, readOpts), binary));
        const test = alignTestSet(train, binaryTriples(await readTriples(tests[f]!, readOpts), binary));
        say(`fold ${f + 1}/${trains.length}: ${trains[f]} (${train.nnz} ratings) / ${tests[f]} (${test.values.length})`);
        folds.push({ name: `${trains[f]}/${tests[f]}`, train, test });
      }
      return { folds, description: `files ${opts.train} / ${opts.test}${nFolds > 1 ? `, ${nFolds} folds` : ''}${bin}` };
    }
    if (pattern) throw invalidInput('a %d in --train needs --test with a %d too');
    const all = matrixFromTriples(binaryTriples(await readTriples(opts.train, readOpts), binary));
    return splitMatrix(all, opts, seed, `file ${opts.train}`, bin);
  }
  const store = openStore(config.db);
  const db = store.db;
  try {
    const all = binaryMatrix(await loadMatrixParallel(db), binary);
    return splitMatrix(all, opts, seed, `database ${opts.db ?? '(default)'}`, bin);
  } finally {
    db.close();
  }
}

function splitMatrix(all: RatingMatrix, opts: Flags, seed: number, what: string, bin: string): Source {
  if (all.nnz === 0) throw invalidInput(`${what} has no ratings to tune on`);
  if (opts.folds !== undefined) {
    return { folds: kFoldSplit(all, opts.folds, seed), description: `${what}, per-user ${opts.folds}-fold split seed ${seed}${bin}` };
  }
  const fraction = opts.holdout ?? DEFAULT_HOLDOUT;
  const { train, test } = holdoutSplit(all, fraction, seed);
  return { folds: [{ name: `holdout ${fraction}`, train, test }], description: `${what}, per-user holdout ${fraction} seed ${seed}${bin}` };
}

function describePoint(p: TrainParams, varying: readonly string[]): string {
  const flags = paramsToFlags(p);
  return varying.map((k) => `${k}=${flags[k]}`).join(' ');
}

function table(r: TuneResult, varying: readonly string[]): string {
  const explicit = r.best.params.feedback === 'explicit';
  const head = [...varying, r.metric.name, '± std', explicit ? 'train RMSE' : 'train loss', 'seconds'];
  const f = (x: number | null) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(4));
  const rows = r.results.map((p: PointResult, i) => {
    const flags = paramsToFlags(p.params);
    return [
      ...varying.map((k) => String(flags[k])),
      f(p.metric),
      f(p.std),
      f(explicit ? p.trainRmse : p.trainLoss),
      p.seconds.toFixed(1),
      i === r.bestIndex ? '← best' : p.error ? `failed: ${p.error}` : '',
    ];
  });
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, j) => (j < widths.length ? c.padStart(widths[j]!) : c))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

async function tune(opts: Flags): Promise<void> {
  const started = performance.now();
  const grid = parseGrid(opts.grid); // a malformed grid fails before any data is read
  const config = dbConfig(opts);
  const seed = opts.seed ?? 0;
  const say = (s: string) => process.stderr.write(`tune: ${s}\n`);
  const { folds, description } = await loadFolds(opts, config, seed, say);
  const feedback = opts.feedback ?? detectFeedback(folds[0]!.train.byUser.values);
  const base = paramsFromFlags(opts, feedback);
  const points = expandGrid(grid, base);
  const metric = parseMetric(opts.metric, feedback);
  const varying = grid.dims.map((d) => d.name);
  const jobs = opts.jobs ?? DEFAULT_JOBS;
  say(
    `${gridSize(grid)} points × ${folds.length} fold${folds.length === 1 ? '' : 's'} (${description}), ${feedback}, ` +
      `metric ${metric.name}, ${jobs > 1 ? `${jobs} concurrent fits × 1 thread` : `one fit at a time × ${base.threads} threads`}`,
  );

  const total = points.length * folds.length;
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { stream: process.stderr, format: 'tune [{bar}] {value}/{total} fits | {eta_formatted} left | {last}', hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(total, 0, { last: '' });
  let result: TuneResult;
  try {
    result = await runGrid(folds, points, {
      metric,
      jobs,
      onProgress: (done) => bar?.update(done),
      onPoint: (i, r) => {
        const text = r.error
          ? `${describePoint(r.params, varying)}: failed: ${r.error}`
          : `${describePoint(r.params, varying)}: ${metric.name} ${r.metric.toFixed(4)} ± ${r.std.toFixed(4)}`;
        if (bar) bar.update({ last: text });
        else say(`point ${i + 1}/${points.length} ${text}`);
      },
    });
  } finally {
    bar?.stop();
  }

  const gridJson = gridToJson(grid);
  let stored: number | null = null;
  const json = tuneToJson(result);
  if (opts.save) {
    const store = openStore(config.db);
    const db = store.db;
    try {
      stored = saveTuningResult(db, {
        feedback,
        metric: metric.name,
        higherIsBetter: metric.higherIsBetter,
        bestValue: result.best.metric,
        bestParams: result.best.params,
        grid: gridJson,
        source: description,
        results: json.results as unknown[],
      });
    } finally {
      db.close();
    }
  }
  if (opts.report !== undefined) {
    writeFileSync(opts.report, renderTuneReport(result, { source: description, grid: gridJson }));
    say(`wrote ${opts.report}`);
  }
  const seconds = (performance.now() - started) / 1000;
  if (opts.json) {
    printJson({ ...json, source: description, tuningResult: stored, seconds });
    return;
  }
  const b = result.best;
  const bestFlags = Object.entries(paramsToFlags(b.params))
    .filter(([k]) => k !== 'feedback')
    .map(([k, v]) => `--${k} ${v}`)
    .join(' ');
  process.stdout.write(
    `${table(result, varying)}\n\n` +
      `best ${metric.name} ${b.metric.toFixed(4)} ± ${b.std.toFixed(4)} over ${result.folds} fold${result.folds === 1 ? '' : 's'}: ${bestFlags}\n` +
      (stored !== null ? `stored as tuning result ${stored}: \`ridgerec train --tuned\` uses it\n` : '') +
      `${seconds.toFixed(1)} s\n`,
  );
}
