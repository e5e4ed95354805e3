/**
 * `ridgerec evaluate`: fits on a train file and scores a test file (`--train FILE --test FILE`),
 * or fits on a seeded per-user holdout of the stored ratings (`--holdout 0.2 [--seed S]`), and
 * prints RMSE/MAE (explicit) and precision/recall/NDCG/MAP/coverage at the cut-off --at. Nothing is saved.
 */
import type { Command } from 'commander';
import { openStore } from '../store/store.js';
import { invalidInput } from '../errors.js';
import { DEFAULT_AT, metricsToJson } from '../eval/metrics.js';
import { fitAndEvaluate } from '../eval/run.js';
import { alignTestSet, holdoutSplit, type TestSet } from '../eval/split.js';
import { RATING_FORMATS, readTriples, type RatingFormat } from '../ratings/import.js';
import { matrixFromTriples, type RatingMatrix } from '../ratings/matrix.js';
import { loadMatrixParallel } from '../ratings/store.js';
import { detectFeedback } from '../training/params.js';
import {
  choiceArg,
  cutoffFlag,
  dbConfig,
  floatArg,
  withCutoffOption,
  printJson,
  runCommand,
  withDbOption,
  withJsonOption,
} from './common.js';
import { addTrainFlags, formatIteration, paramsFromFlags, type TrainFlags } from './train-flags.js';

interface Flags extends TrainFlags {
  db?: string;
  json?: boolean;
  train?: string;
  test?: string;
  format: RatingFormat;
  holdout?: number;
  at?: number;
  k?: number;
}

async function loadSplit(opts: Flags): Promise<{ train: RatingMatrix; test: TestSet; source: string }> {
  const fileMode = opts.train !== undefined || opts.test !== undefined;
  if (fileMode) {
    if (opts.train === undefined || opts.test === undefined) {
      throw invalidInput('--train FILE and --test FILE go together; give both (or --holdout FRACTION to split the stored ratings)');
    }
    if (opts.holdout !== undefined) throw invalidInput('--holdout splits the stored ratings; it cannot be combined with --train/--test');
    const train = matrixFromTriples(await readTriples(opts.train, { format: opts.format }));
    const test = alignTestSet(train, await readTriples(opts.test, { format: opts.format }));
    return { train, test, source: `${opts.train} / ${opts.test}` };
  }
  if (opts.holdout === undefined) {
    throw invalidInput(
      'nothing to evaluate on: give --train FILE --test FILE, or --holdout FRACTION (e.g. 0.2) to split the stored ratings',
    );
  }
  const store = openStore(dbConfig(opts).db);
  const db = store.db;
  let all: RatingMatrix;
  try {
    all = await loadMatrixParallel(db);
  } finally {
    db.close();
  }
  if (all.nnz === 0) throw invalidInput('the database holds no ratings; import some first (ridgerec import FILE)');
  const seed = opts.seed ?? 0;
  const { train, test } = holdoutSplit(all, opts.holdout, seed);
  if (test.users.length === 0) {
    throw invalidInput('the holdout is empty: no user has 2 or more ratings, so none can be held out');
  }
  return { train, test, source: `stored ratings, holdout ${opts.holdout}, seed ${seed}` };
}

export function register(program: Command): void {
  const cmd = program
    .command('evaluate')
    .description('fit on training ratings and measure RMSE/MAE and ranking quality on held-out ratings (saves nothing)')
    .option('--train <file>', 'training ratings file (with --test)')
    .option('--test <file>', 'test ratings file (with --train)')
    .option('--format <format>', `format of both files: ${RATING_FORMATS.join('|')}`, choiceArg('--format', RATING_FORMATS), 'auto')
    .option(
      '--holdout <fraction>',
      "instead of files: hold out this fraction of each stored user's ratings (0 < f < 1; split seeded by --seed)",
      floatArg('--holdout', 0, 1, true, true),
    );
  withJsonOption(withDbOption(addTrainFlags(withCutoffOption(cmd, DEFAULT_AT)))).action((opts: Flags) =>
    runCommand(async () => {
      const started = performance.now();
      const { train, test, source } = await loadSplit(opts);
      const feedback = opts.feedback ?? detectFeedback(train.byUser.values);
      const params = paramsFromFlags(opts, feedback);
      process.stderr.write(
        `evaluating ${feedback} model: ${train.nnz} training ratings (${train.nUsers} users × ${train.nItems} items), ` +
          `${test.users.length} test ratings (${source})\n`,
      );
      const { metrics } = await fitAndEvaluate(train, test, params, {
        at: cutoffFlag(opts) ?? DEFAULT_AT,
        onIteration: (s) => process.stderr.write(`${formatIteration(s, params.iterations)}\n`),
      });
      const seconds = Number(((performance.now() - started) / 1000).toFixed(3));
      const out = { ...metricsToJson(metrics), seconds };
      if (opts.json) {
        printJson(out);
        return;
      }
      const lines = Object.entries(out).map(
        ([key, v]) => `${key.padEnd(14)} ${Number.isNaN(v) ? 'n/a' : key === 'seconds' ? v : v.toFixed(6)}`,
      );
      lines.push(`${'test users'.padEnd(14)} ${metrics.testUsers} (ranking metrics averaged over them)`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }),
  );
}
