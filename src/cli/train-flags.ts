/**
 * The training flags, defined once and shared by `train`, `evaluate` (and `tune`): commander
 * checks each value's syntax and range (exit 2 naming the flag), resolveParams fills the
 * defaults of the chosen feedback kind. Never copy this list into a command.
 */
import type { Command } from 'commander';
import {
  DEFAULT_PARAMS,
  PARAM_LIMITS,
  resolveParams,
  type Feedback,
  type LambdaScaling,
  type Solver,
  type TrainParams,
} from '../training/params.js';
import { choiceArg, floatArg, intArg } from './common.js';

/** What commander leaves in opts for the training flags; undefined = not given (use the default). */
export interface TrainFlags {
  feedback?: Feedback;
  factors?: number;
  lambda?: number;
  lambdaScaling?: LambdaScaling;
  alpha?: number;
  iterations?: number;
  solver?: Solver;
  cgSteps?: number;
  threads?: number;
  seed?: number;
}

const E = DEFAULT_PARAMS.explicit;
const I = DEFAULT_PARAMS.implicit;
const both = <K extends keyof TrainParams>(key: K): string =>
  E[key] === I[key] ? `default ${String(E[key])}` : `default ${String(E[key])} explicit, ${String(I[key])} implicit`;

/** Adds --feedback --factors --lambda --lambda-scaling --alpha --iterations --solver --cg-steps --threads --seed. */
export function addTrainFlags(cmd: Command): Command {
  const L = PARAM_LIMITS;
  return cmd
    .option(
      '--feedback <kind>',
      'explicit (star ratings, with biases) or implicit (counts/clicks, confidence-weighted); default: explicit when the values look like ratings (2..21 distinct values in 0..10), else implicit',
      choiceArg('--feedback', ['explicit', 'implicit'] as const),
    )
    .option(
      '--factors <k>',
      `number of latent factors, ${L.factors.min}..${L.factors.max} (${both('factors')})`,
      intArg('--factors', L.factors.min, L.factors.max),
    )
    .option('--lambda <l>', `L2 penalty λ >= 0 (${both('lambda')})`, floatArg('--lambda', 0))
    .option(
      '--lambda-scaling <mode>',
      `count: penalty λ·n per row (ALS-WR); none: plain λ (${both('lambdaScaling')})`,
      choiceArg('--lambda-scaling', ['count', 'none'] as const),
    )
    .option('--alpha <a>', `implicit confidence c = 1 + α·value, α >= 0 (default ${I.alpha})`, floatArg('--alpha', 0))
    .option(
      '--iterations <n>',
      `ALS sweeps, ${L.iterations.min}..${L.iterations.max} (${both('iterations')})`,
      intArg('--iterations', L.iterations.min, L.iterations.max),
    )
    .option('--solver <s>', `cg or cholesky (${both('solver')})`, choiceArg('--solver', ['cg', 'cholesky'] as const))
    .option(
      '--cg-steps <n>',
      `conjugate-gradient steps per row, ${L.cgSteps.min}..${L.cgSteps.max} (${both('cgSteps')})`,
      intArg('--cg-steps', L.cgSteps.min, L.cgSteps.max),
    )
    .option(
      '--threads <t>',
      `worker threads, ${L.threads.min}..${L.threads.max} (default: the number of cores, ${E.threads})`,
      intArg('--threads', L.threads.min, L.threads.max),
    )
    .option('--seed <s>', `random seed, ${L.seed.min}..${L.seed.max} (${both('seed')})`, intArg('--seed', L.seed.min, L.seed.max));
}

const TRAIN_PARAM_KEYS = [
  'feedback',
  'factors',
  'lambda',
  'lambdaScaling',
  'alpha',
  'iterations',
  'solver',
  'cgSteps',
  'threads',
  'seed',
] as const;

/**
 * The train flags given explicitly on the command line, as a partial TrainParams (commander
 * leaves the others undefined): for `train --tuned` and `retrain`, where explicit flags override
 * a stored base instead of the defaults.
 */
export function explicitTrainParams(source: TrainFlags | Command): Partial<TrainParams> {
  const opts: TrainFlags =
    'opts' in source && typeof source.opts === 'function' ? (source as Command).opts<TrainFlags>() : (source as TrainFlags);
  const out: Record<string, unknown> = {};
  for (const key of TRAIN_PARAM_KEYS) if (opts[key] !== undefined) out[key] = opts[key];
  return out as Partial<TrainParams>;
}

/** The full, validated TrainParams for `feedback` from the flags given (defaults for the rest). */
export function paramsFromFlags(opts: TrainFlags, feedback: Feedback): TrainParams {
  return resolveParams({ ...explicitTrainParams(opts), feedback });
}

/** One stderr line per ALS sweep: loss, data loss, penalty, seconds. */
export function formatIteration(
  s: { iteration: number; loss: number; dataLoss: number; penalty: number; seconds: number },
  of: number,
): string {
  const g = (v: number) => (Math.abs(v) >= 1e6 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(4) : v.toFixed(4));
  return `iteration ${s.iteration}/${of}  loss ${g(s.loss)}  data ${g(s.dataLoss)}  penalty ${g(s.penalty)}  ${s.seconds.toFixed(3)} s`;
}
