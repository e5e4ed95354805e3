/**
 * `npm run bench -- retrain [--size 5m|20m] [--threads N]`
 *
 * Times the offline retraining script end to end: `ridgerec retrain --json` (the built CLI,
 * bin/ridgerec.js, in a child process) on a fresh copy of the cached synthetic database (see
 * ensureDatabase in common.ts) in which no model is active, so the run is: load, holdout split,
 * fit the candidate on the split, evaluate it on the holdout (RMSE over every pair, the ranking
 * metrics over retrain's default seeded sample of 20,000 of the 100,000 users), refit on all
 * ratings, save and activate. One JSON line:
 *   {"size","nnz","threads","retrainSeconds","candidateFitSeconds","evaluationSeconds","ratio",
 *    "target":2.5,"cpuPercent","loadAverageBefore","loadAverage"}
 * retrainSeconds: the child's wall time. candidateFitSeconds and evaluationSeconds: from the
 * retrain's progress line "candidate fitted in X s, evaluated in Y s". ratio = retrainSeconds /
 * candidateFitSeconds (the target is ≤ 2.5: two fits, the second on all ratings, plus everything
 * else). cpuPercent: the child's CPU time over all its threads / wall time × 100, reported by the
 * child itself on exit (process.cpuUsage, through file descriptor 3).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/db/connection.js';
import { activeModelId } from '../../src/model/registry.js';
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

export async function run(args: string[]): Promise<void> {
  const size = (option(args, '--size') ?? '5m') as Size;
  if (!(size in SIZES)) throw new Error(`--size must be 5m or 20m, got ${size}`);
  const threadsFlag = option(args, '--threads');
  if (threadsFlag !== undefined && !(Number.isInteger(Number(threadsFlag)) && Number(threadsFlag) >= 1)) {
    throw new Error('--threads must be an integer >= 1');
  }
  const source = ensureDatabase(size);
  mkdirSync(BENCH_CACHE, { recursive: true });
  const copy = join(BENCH_CACHE, `retrain-${size}-${process.pid}.db`);
  copyFileSync(source, copy);
  try {
    const db = openDatabase(copy);
    try {
      if (activeModelId(db) !== null) throw new Error(`${source} has an active model; delete it to regenerate`);
    } finally {
      db.close();
    }
    const cli = fileURLToPath(new URL('../../bin/ridgerec.js', import.meta.url));
    const cliArgs = ['--import', CPU_ON_EXIT, cli, 'retrain', '--db', copy, '--json'];
    if (threadsFlag !== undefined) cliArgs.push('--threads', threadsFlag);
    const loadAverageBefore = loadAverage();
    const started = performance.now();
    const child = spawn(process.execPath, cliArgs, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let cpu = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      process.stderr.write(b);
    });
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (b: Buffer) => (cpu += b.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    const wall = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`ridgerec retrain exited with ${code}`);
    const result = JSON.parse(out) as { activated: boolean; seconds: number };
    const m = /candidate fitted in ([\d.]+) s, evaluated in ([\d.]+) s/.exec(err);
    if (!m) throw new Error('ridgerec retrain printed no "candidate fitted in … s" progress line');
    const fitSeconds = Number(m[1]);
    const { cpuSeconds } = JSON.parse(cpu) as { cpuSeconds: number };
    process.stdout.write(
      `${JSON.stringify({
        size,
        nnz: SIZES[size].nnz,
        threads: threadsFlag === undefined ? 'default' : Number(threadsFlag),
        activated: result.activated,
        retrainSeconds: Number(wall.toFixed(2)),
        candidateFitSeconds: fitSeconds,
        evaluationSeconds: Number(m[2]),
        ratio: Number((wall / fitSeconds).toFixed(3)),
        target: 2.5,
        cpuPercent: Math.round((cpuSeconds / wall) * 100),
        loadAverageBefore,
        loadAverage: loadAverage(),
      })}\n`,
    );
  } finally {
    rmSync(copy, { force: true });
    rmSync(`${copy}-wal`, { force: true });
    rmSync(`${copy}-shm`, { force: true });
  }
}
