/**
 * The background λ tune `start` runs on a fresh demo shop (src/demo/tune.ts): the CLI's `tune` in a
 * child process, its progress read from the child's lines, the result stored for the dashboard.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/db/connection.js';
import { loadDemoShop } from '../../src/demo/load.js';
import { generateDemoShop } from '../../src/demo/shop.js';
import { startBackgroundTune } from '../../src/demo/tune.js';
import { latestTuningResult } from '../../src/model/tuning-store.js';
import { tempDir, type TempDir } from '../helpers/temp.js';

const CLI = ['--import', 'tsx', join(import.meta.dirname, '../../src/cli/main.ts')];

describe('background tune', () => {
  let tmp: TempDir;
  let db: Db;
  let path: string;
  beforeAll(() => {
    tmp = tempDir('ridgerec-demo-tune-');
    path = join(tmp.dir, 'shop.db');
    db = openDatabase(path);
    loadDemoShop(db, generateDemoShop({ users: 300 }));
  });
  afterAll(() => {
    db.close();
    tmp.cleanup();
  });

  it('runs the grid in a child process, reports progress and stores the result', async () => {
    const said: string[] = [];
    const tune = startBackgroundTune({
      db: path,
      grid: 'lambda=5,20 factors=8',
      folds: 2,
      extraArgs: ['--iterations', '3'],
      cli: CLI,
      say: (l) => said.push(l),
    });
    expect(tune.progress()).toMatchObject({ state: 'running', done: 0, total: 2, grid: 'lambda=5,20 factors=8', error: null });
    const final = await tune.finished;
    expect(final).toMatchObject({ state: 'done', done: 2, total: 2, error: null });
    expect(tune.progress()).toEqual(final);
    const rec = latestTuningResult(db, 'implicit');
    expect(rec).not.toBeNull();
    expect(rec!.grid).toEqual({ lambda: [5, 20], factors: [8] });
    expect(rec!.results).toHaveLength(2);
    expect(rec!.source).toMatch(/2-fold split/);
    expect(said[0]).toMatch(/^tuning λ in the background/);
    expect(said.at(-1)).toMatch(/^background tune finished: best ndcg@10 0\.\d{4} at λ (5|20), factors 8;/);
  });

  it('reports a failing run with the reason and stores nothing', async () => {
    const before = latestTuningResult(db)?.id;
    const tune = startBackgroundTune({ db: path, grid: 'lambda=abc', cli: CLI });
    const final = await tune.finished;
    expect(final.state).toBe('failed');
    expect(final.error).toMatch(/lambda value "abc" is not a number/);
    expect(latestTuningResult(db)?.id).toBe(before);
  });
});
