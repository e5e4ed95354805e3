import { Command } from 'commander';
import { VERSION } from '../version.js';

type Register = (program: Command) => void;

/**
 * Each command's file, loaded on demand: it registers the command (name, flags, help) and imports
 * what the command runs, so `ridgerec retrain` never loads the HTTP server or the Parquet reader.
 * The order is the order of `ridgerec --help`.
 */
export const COMMAND_MODULES: Record<string, () => Promise<{ register: Register }>> = {
  migrate: () => import('./migrate.js'),
  import: () => import('./import.js'),
  'import-items': () => import('./import-items.js'),
  stats: () => import('./stats.js'),
  serve: () => import('./serve.js'),
  start: () => import('./start.js'),
  train: () => import('./train.js'),
  evaluate: () => import('./evaluate.js'),
  models: () => import('./models.js'),
  recommend: () => import('./recommend.js'),
  similar: () => import('./similar.js'),
  explain: () => import('./explain.js'),
  tune: () => import('./tune.js'),
  retrain: () => import('./retrain.js'),
  doctor: () => import('./doctor.js'),
  export: () => import('./export.js'),
};

/** The `ridgerec` program without its commands: name, version, and usage errors exiting 2. */
export function emptyProgram(): Command {
  const program = new Command('ridgerec')
    .description('ridgerec: collaborative-filtering recommendations (ALS with L2 penalties) over SQLite')
    .version(VERSION)
    .showHelpAfterError();
  program.exitOverride((err) => {
    // commander's own usage errors (unknown flag, bad value) are input errors: exit 2.
    if (err.exitCode === 0) process.exit(0);
    process.exit(2);
  });
  return program;
}

/**
 * The program for a command line: with just the command it names (its first argument) when that
 * is a command, so a run imports only that command's modules; with every command otherwise
 * (help, --version, a mistyped name that commander then suggests a fix for).
 */
export async function programFor(argv: readonly string[]): Promise<Command> {
  const program = emptyProgram();
  const name = argv[2];
  const names = name !== undefined && Object.hasOwn(COMMAND_MODULES, name) ? [name] : Object.keys(COMMAND_MODULES);
  for (const mod of await Promise.all(names.map((n) => COMMAND_MODULES[n]!()))) mod.register(program);
  return program;
}
