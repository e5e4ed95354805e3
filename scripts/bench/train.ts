/**
 * `npm run bench -- train [--size 5m|20m] [--iterations N] [--threads 1,2] [--cases LIST]`
 *
 * Times ALS training on a deterministic synthetic data set, one JSON line per case:
 *   {"feedback","solver","factors":64,"threads","secondsPerIteration","loadSeconds","peakRssMB",
 *    "iterations","size","nnz","loss","cpuSecondsPerIteration","loadAverage"}
 * Cases (--cases, comma-separated; default all): implicit-cg, explicit-cholesky, explicit-cg, each
 * with every --threads value (default 1,2). Each case runs in its own child process, so peakRssMB
 * (VmHWM from /proc/self/status) and loadSeconds are per case.
 *
 * The data set (generated once by ensureDatabase in common.ts, cached as a SQLite database under $TMPDIR):
 *   5m:  100,000 users × 20,000 items × 5,000,000 interactions
 *   20m: 140,000 users × 27,000 items × 20,000,000 interactions
 * item popularity Zipf (p_i ∝ 1/rank^0.9, ranks shuffled over the item ids), user activity
 * log-normal (σ = 1, capped at a quarter of the catalogue), distinct items per user, values
 * integers 1..5 (skewed to the low end): play counts for implicit (c = 1 + α·v with the default α),
 * star ratings for explicit. Seeded: the same bytes every time.
 *
 * loadSeconds: loadMatrix(db) (SQLite → CSR by user and by item). secondsPerIteration: the mean
 * over the timed iterations (default 3) of fit's per-iteration wall time, with default λ/α;
 * medianSecondsPerIteration: the median of iterations 2..N (the first includes starting workers).
 *
 * The peer: when the implicit library is built (../shared/peers/build-implicit.sh, under
 * $PEER_DIR, default /tmp/peer-implicit), each case is followed, in the same run, by the peer on
 * the same ratings (exported once to a TSV beside the database) with the same thread count:
 * implicit's CG for the cg cases, its Cholesky for explicit-cholesky (implicit has no explicit
 * mode: explicit cases are compared with its implicit solver). The line then carries
 * "peer":{"name":"implicit","solver","secondsPerIteration" (median of iterations 2..N),"peakRssMB"}
 * and "ratio" = ours (median) / the peer's; without the peer, "peer":null and stderr says why.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/db/connection.js';
import { loadMatrix } from '../../src/ratings/store.js';
import { fitFactors } from '../../src/training/fit.js';
import { resolveParams, type Feedback, type Solver } from '../../src/training/params.js';
import { dbPath, ensureDatabase, loadAverage, peakRssMB, SIZES, type Size } from './common.js';

const CASES: Record<string, { feedback: Feedback; solver: Solver }> = {
  'implicit-cg': { feedback: 'implicit', solver: 'cg' },
  'explicit-cholesky': { feedback: 'explicit', solver: 'cholesky' },
  'explicit-cg': { feedback: 'explicit', solver: 'cg' },
};

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const v = args[at + 1];
  if (v === undefined) throw new Error(`${name} needs a value`);
  return v;
}

/** One case in this process: load, fit, print the JSON line. */
async function child(args: string[]): Promise<void> {
  const size = option(args, '--size') as Size;
  const c = CASES[option(args, '--case')!]!;
  const threads = Number(option(args, '--threads'));
  const iterations = Number(option(args, '--iterations'));
  const db = openDatabase(dbPath(size));
  const t0 = performance.now();
  const matrix = loadMatrix(db);
  const loadSeconds = (performance.now() - t0) / 1000;
  db.close();
  const params = resolveParams({ feedback: c.feedback, solver: c.solver, factors: 64, threads, iterations });
  const cpu0 = process.cpuUsage();
  const result = await fitFactors(matrix, params, {
    onIteration: (s) =>
      process.stderr.write(
        `  ${c.feedback}-${c.solver} threads=${threads} iteration ${s.iteration}: ${s.seconds.toFixed(2)} s, loss ${s.loss.toExponential(4)}\n`,
      ),
  });
  const cpu = process.cpuUsage(cpu0);
  const later = result.history
    .slice(1)
    .map((h) => h.seconds)
    .sort((a, b) => a - b);
  const median = later.length > 0 ? later[Math.floor(later.length / 2)]! : result.history[0]!.seconds;
  const secondsPerIteration = result.history.reduce((s, h) => s + h.seconds, 0) / result.history.length;
  // CPU seconds of all threads of this process per iteration (includes starting the workers):
  // a load-independent companion to the wall time when the machine is shared.
  const cpuSecondsPerIteration = (cpu.user + cpu.system) / 1e6 / iterations;
  process.stdout.write(
    `${JSON.stringify({
      feedback: c.feedback,
      solver: c.solver,
      factors: 64,
      threads,
      secondsPerIteration: Number(secondsPerIteration.toFixed(3)),
      medianSecondsPerIteration: Number(median.toFixed(3)),
      loadSeconds: Number(loadSeconds.toFixed(3)),
      cpuSecondsPerIteration: Number(cpuSecondsPerIteration.toFixed(3)),
      loadAverage: loadAverage(),
      peakRssMB: peakRssMB(),
      iterations,
      size,
      nnz: matrix.nnz,
      loss: result.history.at(-1)!.loss,
    })}\n`,
  );
}

export async function run(args: string[]): Promise<void> {
  if (args.includes('--child')) return child(args);
  const size = (option(args, '--size') ?? '5m') as Size;
  if (!(size in SIZES)) throw new Error(`--size must be 5m or 20m, got ${size}`);
  const iterations = Number(option(args, '--iterations') ?? 3);
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`--iterations must be an integer >= 1`);
  const threads = (option(args, '--threads') ?? '1,2').split(',').map(Number);
  if (threads.some((t) => !Number.isInteger(t) || t < 1)) throw new Error('--threads must be a list like 1,2');
  const cases = (option(args, '--cases') ?? Object.keys(CASES).join(',')).split(',');
  for (const c of cases) if (!(c in CASES)) throw new Error(`unknown case ${c}; known: ${Object.keys(CASES).join(', ')}`);
  ensureDatabase(size);
  const peer = peerAvailable();
  if (peer !== null) process.stderr.write(`peer not available: ${peer}; the lines carry "peer":null\n`);
  const script = fileURLToPath(new URL('../bench.ts', import.meta.url));
  for (const c of cases) {
    for (const t of threads) {
      const ours = await new Promise<string>((resolve, reject) => {
        const p = spawn(
          process.execPath,
          [
            ...process.execArgv,
            script,
            'train',
            '--child',
            '--size',
            size,
            '--case',
            c,
            '--threads',
            String(t),
            '--iterations',
            String(iterations),
          ],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        let out = '';
        p.stdout.on('data', (b: Buffer) => (out += b.toString()));
        p.on('error', reject);
        p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`case ${c} threads=${t} exited with ${code}`))));
      });
      const line = JSON.parse(ours) as Record<string, unknown>;
      let peerLine: PeerResult | null = null;
      if (peer === null) peerLine = await runPeer(size, CASES[c]!.solver, t, iterations);
      const ratio = peerLine ? Number(((line.medianSecondsPerIteration as number) / peerLine.secondsPerIteration).toFixed(3)) : null;
      process.stdout.write(`${JSON.stringify({ ...line, peer: peerLine, ratio })}\n`);
    }
  }
}

const PEER_DIR = process.env.PEER_DIR ?? '/tmp/peer-implicit';
const PEER_SCRIPTS = fileURLToPath(new URL('../../../shared/peers/', import.meta.url));

interface PeerResult {
  readonly name: 'implicit';
  readonly solver: string;
  readonly secondsPerIteration: number;
  readonly peakRssMB: number;
  readonly loadAverage: number;
}

/** null when the implicit peer can run here, else why not. */
function peerAvailable(): string | null {
  if (!existsSync(join(PEER_DIR, '.built')))
    return `the implicit library is not built under ${PEER_DIR} (run ../shared/peers/build-implicit.sh)`;
  if (!existsSync(join(PEER_SCRIPTS, 'implicit_speed.py'))) return `${PEER_SCRIPTS}implicit_speed.py is missing`;
  return null;
}

/** The benchmark database's ratings as `user<TAB>item<TAB>value` (dense ids), written once beside it. */
async function exportTsv(size: Size): Promise<string> {
  const path = dbPath(size).replace(/\.db$/, '.tsv');
  if (existsSync(path)) return path;
  const db = openDatabase(dbPath(size));
  const tmp = `${path}.partial-${process.pid}`;
  const out = createWriteStream(tmp);
  try {
    let buf = '';
    for (const r of db.prepare('SELECT user_id, item_id, value FROM ratings').iterate() as Iterable<{
      user_id: number;
      item_id: number;
      value: number;
    }>) {
      buf += `${r.user_id}\t${r.item_id}\t${r.value}\n`;
      if (buf.length > 1 << 20) {
        if (!out.write(buf)) await new Promise<void>((res) => out.once('drain', () => res()));
        buf = '';
      }
    }
    out.write(buf);
  } finally {
    db.close();
    await new Promise<void>((res) => out.end(() => res()));
  }
  renameSync(tmp, path);
  return path;
}

/** Times the peer on the same ratings (its median s/iteration over iterations 2..N). */
async function runPeer(size: Size, solver: Solver, threads: number, iterations: number): Promise<PeerResult> {
  const tsv = await exportTsv(size);
  const args = [join(PEER_SCRIPTS, 'implicit_speed.py'), tsv, '--threads', String(threads), '--iters', String(Math.max(2, iterations + 1))];
  if (solver === 'cholesky') args.push('--cholesky');
  const env = { ...process.env, PYTHONPATH: `${PEER_DIR}/src:${PEER_DIR}/pylib`, OPENBLAS_NUM_THREADS: '1' };
  const r = JSON.parse(execFileSync('python3', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as {
    secondsPerIteration: number;
    peakRssMB: number;
  };
  return { name: 'implicit', solver, secondsPerIteration: r.secondsPerIteration, peakRssMB: r.peakRssMB, loadAverage: loadAverage() };
}
