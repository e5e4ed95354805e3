/**
 * `ridgerec retrain` as cron runs it: a child process, its exit codes and JSON, and kill -9 at the
 * worst moments (mid-training, and mid-save with the transaction held open by a test preload).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/db/connection.js';
import { activeModelId, getModel, listModels, loadActiveModel } from '../../src/model/registry.js';
import { tempDir } from '../helpers/temp.js';
import { activeModel, BAD, GOOD, lowRankRatings, seed } from './fixture.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the retrain script. With killOn, SIGKILLs it as soon as a stderr line matches (and fails
 * the test if it exits first).
 */
function retrainScript(args: readonly string[], options: { env?: NodeJS.ProcessEnv; killOn?: RegExp } = {}): Promise<Run> {
  const preload = options.env?.PAUSE_BEFORE_COMMIT_MS ? ['--import', './test/retrain/pause-before-commit.ts'] : [];
  const child = spawn(process.execPath, ['--import', 'tsx', ...preload, 'src/cli/main.ts', 'retrain', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let killed = false;
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (options.killOn && !killed && options.killOn.test(err)) {
      killed = true;
      child.kill('SIGKILL');
    }
  });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })));
}

const cleanups: (() => void)[] = [];
const dbs: Db[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
  for (const c of cleanups.splice(0)) c();
});

/** A file database with ratings and an active model fitted with `params`. */
async function prepared(params: typeof GOOD, ratings = lowRankRatings(21)): Promise<{ path: string; active: number }> {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const path = join(t.dir, 'r.db');
  const db = openDatabase(path);
  seed(db, ratings);
  const active = await activeModel(db, { feedback: 'explicit', ...params });
  db.close();
  return { path, active };
}

function reopen(path: string): Db {
  const db = openDatabase(path);
  dbs.push(db);
  return db;
}

const flags = (p: typeof GOOD) => [
  '--factors',
  String(p.factors),
  '--lambda',
  String(p.lambda),
  '--iterations',
  String(p.iterations),
  '--threads',
  '1',
];

/** The database after a kill: consistent, the old model active and loadable, no partial rows. */
function expectIntact(path: string, active: number, modelsBefore: number): void {
  const db = reopen(path);
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  expect(db.pragma('foreign_key_check')).toEqual([]);
  expect(activeModelId(db)).toBe(active);
  const { record, model: m } = loadActiveModel(db)!;
  expect(record.id).toBe(active);
  expect(m.userFactors.length).toBe(m.nUsers * m.factors);
  expect(listModels(db)).toHaveLength(modelsBefore);
  const files = db.prepare('SELECT count(*) AS n FROM model_files').get() as { n: number };
  expect(files.n).toBe(modelsBefore);
  // No lock left behind: a write transaction goes through at once.
  db.prepare('BEGIN IMMEDIATE').run();
  db.prepare('ROLLBACK').run();
}

describe('ridgerec retrain', () => {
  it('exit 0 and exactly the documented JSON when the candidate is activated', async () => {
    const { path, active } = await prepared(BAD);
    const r = await retrainScript(['--db', path, ...flags(GOOD), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const json = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['candidate', 'active', 'activated', 'metrics', 'reason', 'seconds']);
    expect(json).toMatchObject({ active, activated: true, reason: expect.any(String), seconds: expect.any(Number) });
    const metrics = json.metrics as { candidate: Record<string, number>; active: Record<string, number> };
    expect(Object.keys(metrics)).toEqual(['candidate', 'active']);
    expect(metrics.candidate.rmse).toBeLessThan(metrics.active.rmse!);
    expect(r.stderr).toMatch(/retrain: candidate iteration 1\/8/);
    const db = reopen(path);
    expect(activeModelId(db)).toBe(json.candidate);
  });

  it('exit 3 with the active model untouched when the candidate is worse; readable summary without --json', async () => {
    const { path, active } = await prepared(GOOD);
    const r = await retrainScript(['--db', path, ...flags(BAD)]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/kept the active model; retired candidate model \d+ \(previously active: 1\)/);
    expect(r.stdout).toMatch(/rmse on per-user holdout 0\.1 seed 0/);
    const db = reopen(path);
    expect(activeModelId(db)).toBe(active);
    const models = listModels(db);
    expect(models).toHaveLength(2);
    expect(getModel(db, models[1]!.id)).toMatchObject({
      status: 'retired',
      reason: expect.stringMatching(/--max-regression 0\.005/),
    });
  });

  it('exit 1 on an error (no tuning result), 2 on a bad flag, active model untouched', async () => {
    const { path, active } = await prepared(GOOD);
    const noTuning = await retrainScript(['--db', path, '--tune']);
    expect(noTuning.code).toBe(1);
    expect(noTuning.stderr).toMatch(/no tuning result.*ridgerec tune/);
    const badFlag = await retrainScript(['--db', path, '--max-regression', '-1']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/--max-regression must be a number >= 0/);
    const badAt = await retrainScript(['--db', path, '--at', '0']);
    expect(badAt.code).toBe(2);
    expect(badAt.stderr).toMatch(/--at must be an integer in 1\.\./);
    const both = await retrainScript(['--db', path, '--at', '5', '--k', '5']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/'--k <n>' cannot be used with option '--at <n>'/);
    expectIntact(path, active, 1);
  });

  it('kill -9 mid-training leaves the previous model active and the database consistent', async () => {
    const { path, active } = await prepared(GOOD);
    const r = await retrainScript(['--db', path, '--factors', '8', '--iterations', '500', '--threads', '1'], {
      killOn: /candidate iteration 1\//,
    });
    expect(r.signal).toBe('SIGKILL');
    expectIntact(path, active, 1);
  });

  it('kill -9 mid-save (inside the activating transaction) leaves no half-written model', async () => {
    const { path, active } = await prepared(BAD);
    const r = await retrainScript(['--db', path, ...flags(GOOD)], {
      env: { PAUSE_BEFORE_COMMIT_MS: '30000' },
      killOn: /test hook: model \d+ written, holding the transaction open/,
    });
    expect(r.signal).toBe('SIGKILL');
    expect(r.stderr).toMatch(/not worse by more than/); // it was about to activate
    expectIntact(path, active, 1);
  });
});
