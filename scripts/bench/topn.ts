/**
 * `npm run bench -- topn [--size 20m|small] [--threads 1,2] [--n 50] [--sample 100] [--db PATH] [--regenerate]`
 *
 * The top-N precompute for every user, ridgerec against the implicit library on the same factors.
 * The model is the serve case's synthetic one (common.ts: 140,000 users × 27,000 items × 64 seeded
 * factors and a Zipf-like rated-items CSR of ~20M entries, saved once into
 * $TMPDIR/ridgerec-bench-serve-<size>.db and reused). For each --threads value, in one run:
 *
 *   ridgerec  a child process (this file with --child) loads the active model from the db and
 *             times `startPrecompute(model, { n, threads })` until its table is done: copying the
 *             arrays to shared memory, starting the workers and every user's best n unrated
 *             items. It runs the compiled modules of dist/ (`npm run build`), as `npm start` and
 *             the CLI do: under tsx every worker would compile the TypeScript sources first.
 *   implicit  scripts/bench/implicit_topn.py times implicit 0.7.3's
 *             `AlternatingLeastSquares(num_threads=threads).recommend(np.arange(users), user_items,
 *             N=n, filter_already_liked_items=True)` with the same factors (float32) and the same
 *             rated-items CSR, written once per run to .npy files in a temporary directory.
 *
 * Each side runs in its own process, so peakRssMB (VmHWM, ru_maxrss) is per side and includes
 * loading its inputs; seconds and cpuSeconds cover the top-N only (loadSeconds apart).
 * Prints per thread count one JSON line per side, then
 *   {"case":"topn","threads","ratio" (ridgerec seconds / implicit seconds),"cpuRatio","check",…}
 * where check compares both lists for --sample seeded random users (plus the most active one): a
 * list agrees when no rated item is in it and, rank by rank, the two items' float64 scores
 * x_u·y_i differ by at most 1e-5 of the best score (so only ties and rounding can reorder it);
 * "identical" counts the lists equal item for item. A disagreement is printed on stderr and the
 * exit code is 1.
 *
 * The peer: the implicit library built by ../shared/peers/build-implicit.sh under $PEER_DIR
 * (default /tmp/peer-implicit), run by python3 with PYTHONPATH=$PEER_DIR/src:$PEER_DIR/pylib and
 * OPENBLAS_NUM_THREADS=1. When it is not built, stderr says it is absent and only ridgerec's lines
 * are printed.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Model } from '../../src/model/model.js';
import { loadActiveModel } from '../../src/model/registry.js';
import { mulberry32 } from '../../src/training/random.js';
import { SHAPES, loadAverage, peakRssMB, prepareDb, servingModelDbPath } from './common.js';

const HERE = dirname(fileURLToPath(import.meta.url));

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined) throw new Error(`${name} needs a value`);
  return v;
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

function cpuSeconds(): number {
  const u = process.cpuUsage(); // the whole process: the worker threads included
  return (u.user + u.system) / 1e6;
}

/** What either side reports; `sample` maps a user index to its list, best first. */
interface SideResult {
  readonly side: 'ridgerec' | 'implicit';
  readonly threads: number;
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly loadSeconds: number;
  readonly peakRssMB: number;
  readonly sample: Record<string, number[]>;
  readonly [key: string]: unknown;
}

/** The ridgerec side, in its own process: load the active model, then time the precompute. */
async function child(args: string[]): Promise<void> {
  const dist = new URL('../../dist/', import.meta.url);
  if (!existsSync(fileURLToPath(new URL('serving/precompute.js', dist))))
    throw new Error('bench topn: dist/ is missing; run npm run build');
  const { openDatabase } = (await import(new URL('db/connection.js', dist).href)) as typeof import('../../src/db/connection.js');
  const { loadActiveModel } = (await import(new URL('model/registry.js', dist).href)) as typeof import('../../src/model/registry.js');
  const { startPrecompute } = (await import(
    new URL('serving/precompute.js', dist).href
  )) as typeof import('../../src/serving/precompute.js');
  const { useWasmKernels } = (await import(new URL('kernels/wasm.js', dist).href)) as typeof import('../../src/kernels/wasm.js');
  const threads = Number(flag(args, '--threads'));
  const n = Number(flag(args, '--n'));
  const sample = flag(args, '--sample')!.split(',').map(Number);
  const t0 = performance.now();
  const db = openDatabase(flag(args, '--db')!);
  const { model } = loadActiveModel(db)!;
  db.close();
  const loadSeconds = (performance.now() - t0) / 1000;

  const c0 = cpuSeconds();
  const t1 = performance.now();
  const job = startPrecompute(model, { n, threads });
  const startSeconds = (performance.now() - t1) / 1000;
  const table = await job.done;
  const seconds = (performance.now() - t1) / 1000;
  const cpu = cpuSeconds() - c0;
  if (table === null) throw new Error('the precompute was cancelled');

  const out: SideResult = {
    side: 'ridgerec',
    threads,
    n: table.n,
    kernels: useWasmKernels() ? 'wasm' : 'js',
    seconds: round(seconds),
    cpuSeconds: round(cpu),
    startSeconds: round(startSeconds),
    loadSeconds: round(loadSeconds),
    peakRssMB: peakRssMB(),
    sample: Object.fromEntries(sample.map((u) => [String(u), Array.from(table.indices.subarray(u * table.n, (u + 1) * table.n))])),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/** Runs a child process to completion and parses the last line of its stdout. */
function runJson(command: string, argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<SideResult> {
  const p = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'], env });
  let stdout = '';
  p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  return new Promise((resolve, reject) => {
    p.once('error', reject);
    p.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${command} ${argv.join(' ')} exited with code ${code}`));
      resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as SideResult);
    });
  });
}

/** The environment that runs the peer, or why it cannot run. */
function peerEnv(): { env: NodeJS.ProcessEnv } | { absent: string } {
  const dir = process.env.PEER_DIR ?? '/tmp/peer-implicit';
  if (!existsSync(join(dir, '.built')))
    return { absent: `the implicit peer is not built in ${dir} (../shared/peers/build-implicit.sh builds it)` };
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
  } catch {
    return { absent: 'python3 is not on PATH' };
  }
  return { env: { ...process.env, PYTHONPATH: `${dir}/src:${dir}/pylib`, OPENBLAS_NUM_THREADS: '1' } };
}

/** Writes a C-order little-endian .npy file (format 1.0) holding `a` with the given shape. */
function writeNpy(path: string, a: Float32Array | Int32Array | Uint16Array, shape: readonly number[]): void {
  const descr = a instanceof Float32Array ? '<f4' : a instanceof Int32Array ? '<i4' : '<u2';
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${dims}, }`;
  // The magic, version and length take 10 bytes; the header ends in '\n' at a multiple of 64.
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, prefix);
    writeSync(fd, Buffer.from(header, 'latin1'));
    const bytes = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (let off = 0; off < bytes.length; off += 1 << 26) writeSync(fd, bytes.subarray(off, off + (1 << 26)));
  } finally {
    closeSync(fd);
  }
}

/** The model's arrays as implicit_topn.py reads them (see its docstring). */
function exportForPeer(model: Model, sample: readonly number[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'ridgerec-topn-'));
  writeNpy(join(dir, 'user_factors.npy'), model.userFactors, [model.nUsers, model.factors]);
  writeNpy(join(dir, 'item_factors.npy'), model.itemFactors, [model.nItems, model.factors]);
  writeNpy(join(dir, 'indptr.npy'), model.userItems.indptr, [model.nUsers + 1]);
  writeNpy(join(dir, 'indices.npy'), model.userItems.indices, [model.userItems.indices.length]);
  writeNpy(join(dir, 'sample.npy'), Int32Array.from(sample), [sample.length]);
  return dir;
}

/** --sample seeded random users and the one with the most rated items, ascending. */
function sampleUsers(model: Model, count: number): number[] {
  const rand = mulberry32(9);
  const { indptr } = model.userItems;
  let busiest = 0;
  for (let u = 1; u < model.nUsers; u++) if (indptr[u + 1]! - indptr[u]! > indptr[busiest + 1]! - indptr[busiest]!) busiest = u;
  const users = new Set([busiest]);
  while (users.size < Math.min(count + 1, model.nUsers)) users.add(Math.floor(rand() * model.nUsers));
  return [...users].sort((a, b) => a - b);
}

/** Whether the two sides' lists agree for every sampled user (see the header), and how. */
function compareLists(model: Model, ours: SideResult['sample'], theirs: SideResult['sample']) {
  const k = model.factors;
  const { indptr, indices } = model.userItems;
  const score = (u: number, i: number): number => {
    let s = 0;
    for (let f = 0; f < k; f++) s += model.userFactors[u * k + f]! * model.itemFactors[i * k + f]!;
    return s;
  };
  const rated = (u: number, i: number): boolean => {
    for (let e = indptr[u]!; e < indptr[u + 1]!; e++) if (indices[e] === i) return true;
    return false;
  };
  let identical = 0;
  let agree = 0;
  const disagree: number[] = [];
  for (const key of Object.keys(ours)) {
    const u = Number(key);
    const a = ours[key]!;
    const b = theirs[key];
    if (b === undefined || a.length !== b.length) {
      disagree.push(u);
      continue;
    }
    const tol = 1e-5 * Math.abs(score(u, a[0]!));
    let ok = true;
    for (let j = 0; j < a.length && ok; j++) {
      if (rated(u, a[j]!) || rated(u, b[j]!)) ok = false;
      else if (Math.abs(score(u, a[j]!) - score(u, b[j]!)) > tol) ok = false;
    }
    if (!ok) disagree.push(u);
    else {
      agree++;
      if (a.every((i, j) => i === b[j])) identical++;
    }
  }
  return { users: Object.keys(ours).length, agree, identical, disagree };
}

export async function run(args: string[]): Promise<void> {
  if (args.includes('--child')) return child(args);
  const size = flag(args, '--size') ?? '20m';
  const shape = SHAPES[size];
  if (!shape) throw new Error(`--size must be one of ${Object.keys(SHAPES).join(', ')}, got "${size}"`);
  const threadCounts = (flag(args, '--threads') ?? '1,2').split(',').map(Number);
  const n = Number(flag(args, '--n') ?? 50);
  const path = flag(args, '--db') ?? servingModelDbPath(size);

  const db = prepareDb(path, shape, args.includes('--regenerate'));
  const { model } = loadActiveModel(db)!;
  db.close();
  const sample = sampleUsers(model, Number(flag(args, '--sample') ?? 100));
  const peer = peerEnv();
  if ('absent' in peer) process.stderr.write(`bench topn: the peer is absent, skipping it: ${peer.absent}\n`);
  const dir = 'env' in peer ? exportForPeer(model, sample) : null;
  const common = {
    case: 'topn',
    size,
    users: model.nUsers,
    items: model.nItems,
    factors: model.factors,
    nnz: model.userItems.indices.length,
  };
  let failed = false;
  try {
    for (const threads of threadCounts) {
      const ours = await runJson(process.execPath, [
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        '--child',
        '--db',
        path,
        '--threads',
        String(threads),
        '--n',
        String(n),
        '--sample',
        sample.join(','),
      ]);
      const { sample: oursLists, ...oursLine } = ours;
      process.stdout.write(`${JSON.stringify({ ...common, ...oursLine, loadAverage: loadAverage() })}\n`);
      if (dir === null || !('env' in peer)) continue;
      const theirs = await runJson(
        'python3',
        [join(HERE, 'implicit_topn.py'), dir, '--threads', String(threads), '--n', String(n)],
        peer.env,
      );
      const { sample: theirLists, ...theirLine } = theirs;
      process.stdout.write(`${JSON.stringify({ ...common, ...theirLine, loadAverage: loadAverage() })}\n`);
      const check = compareLists(model, oursLists, theirLists);
      if (check.disagree.length > 0) {
        failed = true;
        process.stderr.write(`bench topn: the two sides' top-${n} lists disagree for users ${check.disagree.join(', ')}\n`);
      }
      process.stdout.write(
        `${JSON.stringify({
          case: 'topn',
          size,
          threads,
          n,
          ridgerecSeconds: ours.seconds,
          implicitSeconds: theirs.seconds,
          ratio: round(ours.seconds / theirs.seconds, 2),
          cpuRatio: round(ours.cpuSeconds / theirs.cpuSeconds, 2),
          check: { users: check.users, agree: check.agree, identical: check.identical, disagree: check.disagree.length },
          loadAverage: loadAverage(),
        })}\n`,
      );
    }
  } finally {
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

// Run directly (the ridgerec child): `node --import tsx scripts/bench/topn.ts --child …`.
if (process.argv[1] === fileURLToPath(import.meta.url)) await run(process.argv.slice(2));
