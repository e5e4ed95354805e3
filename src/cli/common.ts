import type { Command } from 'commander';
import { openStore } from '../store/store.js';
import { createRecommender, type Recommender } from '../serving/recommender.js';
import { parseWhere, splitList, type ItemFilters } from '../model/rules.js';
import { InvalidArgumentError, Option } from 'commander';
import { DEFAULTS, loadConfig, type Config } from '../config.js';
import { MAX_AT } from '../eval/metrics.js';
import {
  Conflict,
  databaseFaultMessage,
  InvalidInput,
  isRidgerecError,
  NotFound,
  Unauthorized,
  Unavailable,
  type RidgerecError,
} from '../errors.js';

/** The exit code of each kind of core error: 2 for what the user can fix by asking differently, else 1. */
export function exitCode(err: RidgerecError): number {
  return err instanceof InvalidInput ||
    err instanceof NotFound ||
    err instanceof Conflict ||
    err instanceof Unavailable ||
    err instanceof Unauthorized
    ? 2
    : 1;
}

/** Adds the --db flag every command that touches the database takes. */
export function withDbOption(cmd: Command): Command {
  return cmd.option('--db <path>', `SQLite database file (default: $RIDGEREC_DB or ${DEFAULTS.db})`);
}

/**
 * Adds --at N, the cut-off of the ranking metrics (the 10 of ndcg@10), and --k, its older name,
 * kept working but out of the help; giving both is a usage error.
 */
export function withCutoffOption(cmd: Command, defaultAt: number): Command {
  return cmd
    .option('--at <n>', `cut-off of the ranking metrics, the N of ndcg@N (1..${MAX_AT}, default ${defaultAt})`, intArg('--at', 1, MAX_AT))
    .addOption(
      new Option('--k <n>', 'older name of --at')
        .argParser(intArg('--k', 1, MAX_AT))
        .conflicts('at')
        .hideHelp(),
    );
}

/** The cut-off given as --at or --k; undefined when neither was. */
export function cutoffFlag(opts: { at?: number; k?: number }): number | undefined {
  return opts.at ?? opts.k;
}

export function withJsonOption(cmd: Command): Command {
  return cmd.option('--json', 'print one JSON object on stdout');
}

/** The configuration of a command whose only flag among the settings is --db (src/config.ts). */
export function dbConfig(opts: { db?: string | undefined }): Config {
  return loadConfig({ db: opts.db });
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * The core names parameters (`factors must be …`, details.field "factors"); on the command line
 * the same thing is a flag (`--factors must be …`).
 */
export function cliMessage(e: RidgerecError): string {
  const field = (e.details as { field?: unknown } | undefined)?.field;
  if (e instanceof InvalidInput && typeof field === 'string' && /^[a-z][A-Za-z]*$/.test(field) && e.message.startsWith(`${field} `)) {
    return `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}${e.message.slice(field.length)}`;
  }
  return e.message;
}

/**
 * The one line a command prints for an error it cannot recover from: the core's message, the
 * damaged-database line, or (a bug) the stack trace.
 */
export function errorLine(e: unknown): string {
  if (isRidgerecError(e)) return `ridgerec: ${cliMessage(e)}`;
  const fault = databaseFaultMessage(e);
  if (fault !== null) return `ridgerec: ${fault}`;
  return `ridgerec: unexpected error: ${(e as Error)?.stack ?? String(e)}`;
}

/** Runs a command body; a RidgerecError becomes `ridgerec: message` and its exit code. */
export async function runCommand(body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (e) {
    process.stderr.write(`${errorLine(e)}\n`);
    process.exitCode = isRidgerecError(e) ? exitCode(e) : 1;
  }
}

/** commander argument parsers that name the flag and the allowed range. */
export function intArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    const v = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max === Number.MAX_SAFE_INTEGER ? '∞' : max}, got "${raw}"`);
    }
    return v;
  };
}

export function floatArg(name: string, min: number, max = Infinity, minExclusive = false, maxExclusive = false) {
  return (raw: string): number => {
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v) || (minExclusive ? v <= min : v < min) || (maxExclusive ? v >= max : v > max)) {
      const lo = minExclusive ? `> ${min}` : `>= ${min}`;
      const hi = max === Infinity ? '' : ` and ${maxExclusive ? '<' : '<='} ${max}`;
      throw new InvalidArgumentError(`${name} must be a number ${lo}${hi}, got "${raw}"`);
    }
    return v;
  };
}

export function choiceArg<T extends string>(name: string, choices: readonly T[]) {
  return (raw: string): T => {
    if (!(choices as readonly string[]).includes(raw)) {
      throw new InvalidArgumentError(`${name} must be one of ${choices.join(', ')}, got "${raw}"`);
    }
    return raw as T;
  };
}

/** The rule flags of `recommend` and `similar` (the HTTP routes' query parameters). */
export interface FilterFlags {
  category?: string;
  excludeCategory?: string;
  include?: string;
  exclude?: string;
  where?: string;
  maxPerCategory?: number;
}

export function withFilterOptions(cmd: Command): Command {
  return cmd
    .option('--category <list>', 'only items in any of these comma-separated categories')
    .option('--exclude-category <list>', 'no item in any of these comma-separated categories')
    .option('--include <ids>', 'only these comma-separated item ids (a candidate list), in score order')
    .option('--exclude <ids>', 'never these comma-separated item ids')
    .option('--where <conditions>', 'metadata conditions, e.g. "brand:acme,price<50" (key:v, key!:v, <, <=, >, >=)')
    .option('--max-per-category <n>', 'no more than n items sharing a category', intArg('--max-per-category', 1));
}

/** FilterFlags → the rules (comma lists split, the where grammar checked). */
export function filtersFromFlags(f: FilterFlags): ItemFilters {
  const list = (s: string | undefined) => (s === undefined ? undefined : splitList(s));
  const out: { -readonly [K in keyof ItemFilters]: ItemFilters[K] } = {};
  if (f.category !== undefined) out.category = list(f.category);
  if (f.excludeCategory !== undefined) out.excludeCategory = list(f.excludeCategory);
  if (f.include !== undefined) out.include = list(f.include);
  if (f.exclude !== undefined) out.exclude = list(f.exclude);
  if (f.where !== undefined) out.where = parseWhere(f.where);
  if (f.maxPerCategory !== undefined) out.maxPerCategory = f.maxPerCategory;
  return out;
}

/**
 * Runs a one-shot command's body against a recommender over the --db store, then closes both. No
 * top-N precomputation: one live scoring pass is all a single answer needs.
 */
export async function withRecommender<T>(opts: { db?: string | undefined }, body: (rec: Recommender) => T | Promise<T>): Promise<T> {
  const store = openStore(dbConfig(opts).db);
  const rec = createRecommender({ store, precompute: false });
  try {
    return await body(rec);
  } finally {
    await rec.close();
    store.close();
  }
}

/** What an import command reports (ratings or items). */
export interface ImportSummary {
  readonly format: string;
  readonly rows: number;
  readonly inserted: number;
  readonly updated: number;
  readonly seconds: number;
  readonly rejected: number;
  readonly rejectedLines: readonly number[];
}

/**
 * Prints an import's outcome: with --json one object (`fields` first, then rows/inserted/updated,
 * the counts of `extra`, seconds, and the rejections under --skip-invalid); else the skipped lines
 * on stderr and `line` (given the rounded seconds) on stdout.
 */
export function reportImport(
  opts: { json?: boolean; skipInvalid?: boolean },
  result: ImportSummary,
  problems: readonly string[],
  /** What a rejected unit is called: a ratings file's row, an item file's line. */
  unit: 'row' | 'line',
  fields: Record<string, unknown>,
  extra: Record<string, unknown>,
  line: (seconds: number) => string,
): void {
  const seconds = Math.round(result.seconds * 1000) / 1000;
  const out: Record<string, unknown> = {
    ...fields,
    rows: result.rows,
    inserted: result.inserted,
    updated: result.updated,
    ...extra,
    seconds,
  };
  if (opts.skipInvalid) {
    out.rejected = result.rejected;
    out.rejectedLines = result.rejectedLines;
  }
  if (opts.json) {
    printJson(out);
    return;
  }
  if (result.rejected > 0) {
    for (const p of problems) process.stderr.write(`skipped ${p}\n`);
    process.stderr.write(
      `rejected ${result.rejected} invalid ${unit}${result.rejected === 1 ? '' : 's'} (first lines: ${result.rejectedLines.join(', ')})\n`,
    );
  }
  process.stdout.write(line(seconds));
}
