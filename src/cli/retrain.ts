/**
 * `ridgerec retrain [--db PATH] [train flags] [--holdout 0.1] [--seed S] [--max-regression 0.005] [--ranking-users 20000] [--tune] [--json]`
 * (`npm run retrain -- …` runs it)
 *
 * Offline retraining with a quality gate (src/retrain/retrain.ts does the work; this file only
 * wires flags, output and exit codes). Exit 0: the candidate was activated. Exit 3: it was worse
 * than the active model by more than --max-regression; it is saved as 'retired' and the active
 * model stays. Exit 1: anything went wrong; the active model is untouched. Exit 2: bad flags, as
 * for every command. Progress goes to stderr; with --json stdout gets exactly one object:
 * {"candidate":id,"active":previousId|null,"activated":bool,"metrics":{"candidate":{..},"active":{..}|null},"reason":"..","seconds":..}
 */
import type { Command } from 'commander';
import { openStore } from '../store/store.js';
import { invalidInput, isRidgerecError } from '../errors.js';
import { RETRAIN_DEFAULTS, RETRAIN_EXIT, retrain, type CandidateSource, type RetrainResult } from '../retrain/retrain.js';
import { cliMessage, cutoffFlag, dbConfig, errorLine, floatArg, intArg, withCutoffOption, withDbOption, withJsonOption } from './common.js';
import { addTrainFlags, explicitTrainParams } from './train-flags.js';

interface Flags {
  db?: string;
  json?: boolean;
  holdout?: number;
  maxRegression?: number;
  tune?: boolean;
  at?: number;
  k?: number;
  seed?: number;
  rankingUsers?: number;
  candidate?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('retrain')
    .description('retrain on all ratings; activate the candidate unless it is worse than the active model on a holdout')
    .option(
      '--holdout <fraction>',
      `fraction of each user's ratings held out for the comparison (default ${RETRAIN_DEFAULTS.holdout})`,
      floatArg('--holdout', 0, 1, true),
    )
    .option(
      '--max-regression <delta>',
      `largest tolerated regression of the gate metric, absolute (default ${RETRAIN_DEFAULTS.maxRegression})`,
      floatArg('--max-regression', 0),
    )
    .option('--tune', "start from the newest `ridgerec tune` result instead of the active model's hyperparameters")
    .option(
      '--ranking-users <n>',
      `rank a seeded sample of at most n holdout users for the ranking metrics, 0 = every user (default ${RETRAIN_DEFAULTS.rankingUsers})`,
      intArg('--ranking-users', 0),
    )
    .option('--candidate <source>', 'gate a model trained elsewhere instead of fitting one: spark:DIR (a Spark ALSModel.save directory)');
  withJsonOption(withDbOption(addTrainFlags(withCutoffOption(cmd, RETRAIN_DEFAULTS.at)))).action(async (opts: Flags) => {
    process.exitCode = await run(cmd, opts);
  });
}

/** `--candidate spark:DIR` → the candidate source; training flags other than --threads make no sense with it. */
async function candidateSource(raw: string, overrides: Record<string, unknown>, opts: Flags): Promise<CandidateSource> {
  const tune = opts.tune === true;
  const m = /^spark:(.+)$/.exec(raw);
  if (!m) throw invalidInput(`--candidate must be spark:DIR (a Spark ALSModel.save directory), got "${raw}"`);
  const fitFlags = Object.keys(overrides).filter((k) => k !== 'threads');
  if (tune || fitFlags.length > 0) {
    throw invalidInput(
      `--candidate ${raw} is a model already trained: ${tune ? '--tune' : fitFlags.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} cannot apply to it`,
    );
  }
  const { sparkCandidate } = await import('../spark/import.js'); // the Parquet reader, only for --candidate
  const source = sparkCandidate(m[1]!);
  const h = source.holdout;
  if (h && ((opts.holdout !== undefined && opts.holdout !== h.fraction) || (opts.seed !== undefined && opts.seed !== h.seed))) {
    throw invalidInput(
      `${source.label} was trained without the holdout ${h.fraction} seed ${h.seed} (its export.json): ` +
        'gating it on another split would test it on ratings it trained on: drop --holdout/--seed',
    );
  }
  return source;
}

function summary(r: RetrainResult): string {
  const m = r.detail.metric;
  const c = r.metrics.candidate[m];
  const a = r.metrics.active?.[m];
  return (
    `${r.activated ? 'activated' : 'kept the active model; retired'} candidate model ${r.candidate}` +
    ` (previously active: ${r.active ?? 'none'})\n` +
    `  ${m} on ${r.detail.split}: candidate ${c?.toFixed(4)}${a !== undefined ? `, active ${a.toFixed(4)}` : ''}\n` +
    `  candidate params (from ${r.detail.base}): factors ${r.detail.params.factors}, lambda ${r.detail.params.lambda}, ` +
    `lambda-scaling ${r.detail.params.lambdaScaling}, alpha ${r.detail.params.alpha}, iterations ${r.detail.params.iterations}\n` +
    `  ${r.reason}\n  ${r.seconds.toFixed(1)} s\n`
  );
}

async function run(cmd: Command, opts: Flags): Promise<number> {
  const overrides = explicitTrainParams(cmd);
  let candidate: CandidateSource | undefined;
  try {
    // A --candidate that is not a Spark model directory is a usage error (exit 2), found before any work.
    candidate = opts.candidate === undefined ? undefined : await candidateSource(opts.candidate, overrides, opts);
  } catch (e) {
    process.stderr.write(`ridgerec: ${isRidgerecError(e) ? cliMessage(e) : String(e)}\n`);
    return 2;
  }
  try {
    const store = openStore(dbConfig(opts).db);
    try {
      const r = await retrain(store.db, {
        overrides,
        ...(candidate ? { candidate } : {}),
        holdout: opts.holdout,
        seed: opts.seed,
        maxRegression: opts.maxRegression,
        tune: opts.tune === true,
        at: cutoffFlag(opts),
        rankingUsers: opts.rankingUsers,
        onProgress: (line) => process.stderr.write(`retrain: ${line}\n`),
      });
      if (opts.json) {
        const { candidate, active, activated, metrics, reason, seconds } = r;
        process.stdout.write(`${JSON.stringify({ candidate, active, activated, metrics, reason, seconds })}\n`);
      } else process.stdout.write(summary(r));
      return r.activated ? RETRAIN_EXIT.activated : RETRAIN_EXIT.kept;
    } finally {
      store.close();
    }
  } catch (e) {
    process.stderr.write(`${errorLine(e)}\n`);
    return RETRAIN_EXIT.error;
  }
}
