/**
 * `ridgerec train`: reads every stored rating, fits a model (feedback kind detected from the values
 * unless --feedback), saves it and activates it (unless --no-activate). One stderr line per ALS
 * sweep; --json prints one object on stdout.
 */
import type { Command } from 'commander';
import { openStore } from '../store/store.js';
import { saveModel } from '../model/registry.js';
import { loadMatrixParallel } from '../ratings/store.js';
import { fit } from '../model/fit.js';
import { detectFeedback, type IterationStats } from '../training/params.js';
import { dbConfig, printJson, runCommand, withDbOption, withJsonOption } from './common.js';
import { addTrainFlags, formatIteration, paramsFromFlags, type TrainFlags } from './train-flags.js';
import { requireTuningResult } from '../model/tuning-store.js';
import { paramsFromTuning } from './tune.js';

interface Flags extends TrainFlags {
  db?: string;
  json?: boolean;
  activate: boolean;
  tuned?: boolean;
}

const round = (v: number, digits = 6) => Number(v.toFixed(digits));

export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description('fit a model on all stored ratings, save it, and make it the active model')
    .option('--no-activate', 'save the model without activating it')
    .option('--tuned', 'start from the best parameters of the newest `ridgerec tune` run (flags given explicitly still win)');
  withJsonOption(withDbOption(addTrainFlags(cmd))).action((opts: Flags) =>
    runCommand(async () => {
      const started = performance.now();
      const store = openStore(dbConfig(opts).db);
      const db = store.db;
      try {
        const tuned = opts.tuned ? requireTuningResult(db, opts.feedback) : null;
        const matrix = await loadMatrixParallel(db);
        const feedback = opts.feedback ?? tuned?.feedback ?? detectFeedback(matrix.byUser.values);
        const params = tuned ? paramsFromTuning(tuned, opts) : paramsFromFlags(opts, feedback);
        process.stderr.write(
          `training ${feedback} model on ${matrix.nnz} ratings (${matrix.nUsers} users × ${matrix.nItems} items): ` +
            `k=${params.factors} λ=${params.lambda} (${params.lambdaScaling})` +
            `${feedback === 'implicit' ? ` α=${params.alpha}` : ''} ${params.iterations} iterations, ${params.solver}, ${params.threads} threads\n`,
        );
        const result = await fit(matrix, params, {
          onIteration: (s: IterationStats) => process.stderr.write(`${formatIteration(s, params.iterations)}\n`),
        });
        const last = result.history.at(-1);
        const id = saveModel(db, result, { activate: opts.activate });
        const seconds = round((performance.now() - started) / 1000, 3);
        if (opts.json) {
          printJson({
            model: id,
            feedback,
            params: result.params,
            iterations: result.history.map((s) => ({
              iteration: s.iteration,
              loss: s.loss,
              dataLoss: s.dataLoss,
              penalty: s.penalty,
              seconds: round(s.seconds, 4),
            })),
            seconds,
            activated: opts.activate,
          });
        } else {
          process.stdout.write(
            `saved model ${id} (${feedback}, ${result.history.length} iterations, final loss ${last?.loss.toFixed(4) ?? '-'}) in ${seconds} s; ` +
              `${opts.activate ? 'it is now the active model' : 'not activated (ridgerec models activate ' + id + ')'}\n`,
          );
        }
      } finally {
        db.close();
      }
    }),
  );
}
