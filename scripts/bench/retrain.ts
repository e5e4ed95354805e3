/**
 * `npm run bench -- retrain [--size 5m|20m] [--threads N]`
 *
 * Times the offline retraining script end to end against one fit, in the same run:
 *   1. one fit: `ridgerec train` (the built CLI, bin/ridgerec.js, in a child process) on a fresh
 *      copy of the cached synthetic database (see ensureDatabase in common.ts); its fit time is the
 *      model's trainSeconds (the ALS fit of all ratings with the default threads, without loading
 *      and saving);
 *   2. `ridgerec retrain --json` on another fresh copy, in which no model is active, so the run is:
 *      load, holdout split, fit the candidate on the split and evaluate it on the holdout (RMSE over
 *      every pair, the ranking metrics over retrain's default seeded sample of 20,000 of the 100,000
 *      users), refit on all ratings (beside the candidate, see src/retrain/retrain.ts), save and
 *      activate;
 *   3. one fit again, as in 1: the mean of the two is the one fit the ratio divides by, so a drift
 *      of the machine's load during the run weighs on both sides.
 * One JSON line:
 *   {"size","nnz","threads","retrainSeconds","fitSeconds":[before, after],"ratio","target":2.5,
 *    "candidateFitSeconds","evaluationSeconds","cpuPercent","loadAverageBefore","loadAverage"}
 * retrainSeconds: the retrain child's wall time. ratio = retrainSeconds / mean(fitSeconds) (the
 * target is ≤ 2.5: two fits, the second on all ratings, plus everything else).
 * candidateFitSeconds and evaluationSeconds: from the retrain's progress line "candidate fitted
 * in X s, evaluated in Y s" (with two threads or more the candidate fits on half of them, beside
 * the refit). cpuPercent: the retrain child's CPU time over all its threads / wall time × 100,
 * reported by the child itself on exit (process.cpuUsage, through file descriptor 3).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/db/connection.js';
import { activeModelId, getModel } from '../../src/model/registry.js';
import { BENCH_CACHE, ensureDatabase, loadAverage, SIZES, type Size } from './common.js';

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const v = args[at + 1];
  if (v === undefined) throw new Error(`${name} needs a value`);
  return v;
}

/** Loaded into the child with --import: writes the process's CPU seconds (all threads) to fd 3 on exit. */
const CPU_ON_EXIT =
  'data:text/javascript,' +
  encodeURIComponent(
    "import { writeSync } from 'node:fs'; process.on('exit', () => { const c = process.cpuUsage(); writeSync(3, JSON.stringify({ cpuSeconds: (c.user + c.system) / 1e6 })); });",
  );

/** Runs the CLI in a child process; resolves to its wall seconds, stdout, stderr and CPU seconds. */
async function runCli(cliArgs: string[], echo: boolean): Promise<{ wall: number; out: string; err: string; cpuSeconds: number }> {
  const cli = fileURLToPath(new URL('../../bin/ridgerec.js', import.meta.url));
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', CPU_ON_EXIT, cli, ...cliArgs], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let cpu = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
    if (echo) process.stderr.write(b);
  });
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (b: Buffer) => (cpu += b.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const wall = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`ridgerec ${cliArgs[0]} exited with ${code}: ${err.slice(-2000)}`);
  return { wall, out, err, cpuSeconds: (JSON.parse(cpu) as { cpuSeconds: number }).cpuSeconds };
}

/** A fresh copy of the cached database with no active model; removed (with its WAL files) by the returned function. */
function freshCopy(source: string, name: string): { path: string; remove: () => void } {
  const path = join(BENCH_CACHE, `${name}-${process.pid}.db`);
  copyFileSync(source, path);
  const db = openDatabase(path);
  try {
    if (activeModelId(db) !== null) throw new Error(`${source} has an active model; delete it to regenerate`);
  } finally {
    db.close();
  }
  return {
    path,
    remove: () => {
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
    },
  };
}

/** One `ridgerec train` on a fresh copy: the fit's seconds (the model's trainSeconds). */
async function oneFit(source: string, size: Size, threads: string[]): Promise<number> {
  const copy = freshCopy(source, `fit-${size}`);
  try {
    const { out } = await runCli(['train', '--db', copy.path, '--json', ...threads], false);
    const { model } = JSON.parse(out) as { model: number };
    const db = openDatabase(copy.path);
    try {
      return Number(getModel(db, model).metrics.trainSeconds);
    } finally {
      db.close();
    }
  } finally {
    copy.remove();
  }
}

export async function run(args: string[]): Promise<void> {
  const size = (option(args, '--size') ?? '5m') as Size;
  if (!(size in SIZES)) throw new Error(`--size must be 5m or 20m, got ${size}`);
  const threadsFlag = option(args, '--threads');
  if (threadsFlag !== undefined && !(Number.isInteger(Number(threadsFlag)) && Number(threadsFlag) >= 1)) {
    throw new Error('--threads must be an integer >= 1');
  }
  const threads = threadsFlag === undefined ? [] : ['--threads', threadsFlag];
  const source = ensureDatabase(size);
  mkdirSync(BENCH_CACHE, { recursive: true });
  const loadAverageBefore = loadAverage();
  const fitBefore = await oneFit(source, size, threads);
  const copy = freshCopy(source, `retrain-${size}`);
  let retrain: Awaited<ReturnType<typeof runCli>>;
  try {
    retrain = await runCli(['retrain', '--db', copy.path, '--json', ...threads], true);
  } finally {
    copy.remove();
  }
  const fitAfter = await oneFit(source, size, threads);
  const result = JSON.parse(retrain.out) as { activated: boolean };
  const m = /candidate fitted in ([\d.]+) s, evaluated in ([\d.]+) s/.exec(retrain.err);
  if (!m) throw new Error('ridgerec retrain printed no "candidate fitted in … s" progress line');
  const fit = (fitBefore + fitAfter) / 2;
  process.stdout.write(
    `${JSON.stringify({
      size,
      nnz: SIZES[size].nnz,
      threads: threadsFlag === undefined ? 'default' : Number(threadsFlag),
      activated: result.activated,
      retrainSeconds: Number(retrain.wall.toFixed(2)),
      fitSeconds: [fitBefore, fitAfter],
      ratio: Number((retrain.wall / fit).toFixed(3)),
      target: 2.5,
      candidateFitSeconds: Number(m[1]),
      evaluationSeconds: Number(m[2]),
      cpuPercent: Math.round((retrain.cpuSeconds / retrain.wall) * 100),
      loadAverageBefore,
      loadAverage: loadAverage(),
    })}\n`,
  );
}
