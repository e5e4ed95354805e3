/**
 * The demo shop's background λ tune: on the first `npm start` (a demo database with no tuning
 * result yet), once the server listens, `ridgerec tune` runs over the stored ratings in a child
 * process, so the dashboard's λ curve is there out of the box. The child is the CLI's own `tune`
 * (its worker threads fit the grid points, one per core); the server's event loop only reads the
 * child's progress lines, and nothing the server does waits for it. The result lands in
 * `tuning_results` like any `tune` run. The child is killed when the server's process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { TuneProgress } from '../store/dashboard.js';

/** λ × factors over a per-user 3-fold split: 10 points, 30 fits, ≈ 10 s on 2 cores. */
export const DEMO_TUNE_GRID = 'lambda=1,3,10,20,40 factors=16,64';
export const DEMO_TUNE_FOLDS = 3;

export interface BackgroundTune {
  progress(): TuneProgress;
  /** Resolves when the child has exited (with the final progress). */
  readonly finished: Promise<TuneProgress>;
  /** Kills the child (a no-op once it has exited). */
  stop(): void;
}

export interface BackgroundTuneOptions {
  readonly db: string;
  readonly grid?: string;
  readonly folds?: number;
  /** Extra `tune` flags (tests pass fewer iterations). */
  readonly extraArgs?: readonly string[];
  /** One line per event for a human (started, finished, failed). */
  readonly say?: (line: string) => void;
  /** Node arguments that run the ridgerec CLI (default: this process's own flags and entry script). */
  readonly cli?: readonly string[];
}

/**
 * The command that runs this CLI again: the same Node binary, flags (e.g. `--import tsx`) and
 * entry script as this process.
 */
function selfCommand(): string[] {
  const entry = process.argv[1];
  if (entry === undefined) throw new Error('cannot find the ridgerec entry script (process.argv[1] is empty)');
  return [...process.execArgv, entry];
}

export function startBackgroundTune(options: BackgroundTuneOptions): BackgroundTune {
  const say = options.say ?? (() => {});
  const grid = options.grid ?? DEMO_TUNE_GRID;
  const folds = options.folds ?? DEMO_TUNE_FOLDS;
  // Points in the grid: the product of the list lengths (the CLI validates it again).
  const total = grid
    .trim()
    .split(/\s+/)
    .reduce((n, dim) => n * (dim.split('=')[1]?.split(',').length ?? 1), 1);
  const args = [
    ...(options.cli ?? selfCommand()),
    'tune',
    '--db',
    options.db,
    '--feedback',
    'implicit',
    '--grid',
    grid,
    '--folds',
    String(folds),
    '--json',
    ...(options.extraArgs ?? []),
  ];
  let state: TuneProgress = { state: 'running', done: 0, total, grid, startedAt: new Date().toISOString(), error: null };
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.once('exit', kill);
  say(`tuning λ in the background (${grid}, ${folds} folds) for the dashboard's validation curve …`);

  let stderr = '';
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    // Without a terminal the CLI prints one "tune: point i/N …" line per finished grid point.
    const done = stderr.match(/^tune: point \d+\/\d+/gm)?.length ?? 0;
    if (state.state === 'running') state = { ...state, done };
  });
  // Neither the child nor its pipes keep the server's process alive.
  child.unref();
  for (const s of [child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();

  const finished = new Promise<TuneProgress>((resolve) => {
    child.once('error', (e) => {
      state = { ...state, state: 'failed', error: e.message };
      say(`background tune failed: ${e.message}`);
      resolve(state);
    });
    child.once('exit', (code, signal) => {
      process.off('exit', kill);
      if (state.state !== 'running') return resolve(state);
      if (code === 0) {
        let best = '';
        try {
          const j = JSON.parse(stdout) as { best?: { params?: Record<string, unknown>; metric?: number }; metric?: string };
          best = ` best ${j.metric ?? 'metric'} ${j.best?.metric?.toFixed(4)} at λ ${String(j.best?.params?.lambda)}, factors ${String(j.best?.params?.factors)};`;
        } catch {
          // the summary is a courtesy; the stored result is what counts
        }
        state = { ...state, state: 'done', done: total };
        say(`background tune finished:${best} see the dashboard's Training view`);
      } else {
        const why = signal !== null ? `killed by ${signal}` : (stderr.trim().split('\n').at(-1) ?? `exit code ${code}`);
        state = { ...state, state: 'failed', error: why };
        say(`background tune failed: ${why}`);
      }
      resolve(state);
    });
  });

  return { progress: () => state, finished, stop: kill };
}
