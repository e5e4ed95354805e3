import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connection.js';
import { activeModelId, countModels, loadModel } from '../../src/model/registry.js';
import { loadMatrix, upsertRatings } from '../../src/ratings/store.js';
import { DEFAULT_PARAMS } from '../../src/training/params.js';
import { runInProcess } from '../helpers/cli.js';
import { tempDir, type TempDir } from '../helpers/temp.js';
import { playFixture, starFixture } from './train-helpers.js';

let tmp: TempDir;
let dbPath: string;
beforeEach(() => {
  tmp = tempDir('ridgerec-train-');
  dbPath = join(tmp.dir, 'r.db');
});
afterEach(() => tmp.cleanup());

function seed(rows: [string, string, number][]): void {
  const db = openDatabase(dbPath);
  upsertRatings(
    db,
    rows.map(([user, item, value]) => ({ user, item, value })),
  );
  db.close();
}

const FAST = ['--factors', '4', '--iterations', '5', '--threads', '1'];

describe('ridgerec train', () => {
  it('detects explicit feedback, fits, saves, activates, and prints the documented JSON', async () => {
    seed(starFixture(1));
    const r = await runInProcess(['train', '--db', dbPath, ...FAST, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['model', 'feedback', 'params', 'iterations', 'seconds', 'activated']);
    expect(out.model).toBe(1);
    expect(out.feedback).toBe('explicit');
    expect(out.activated).toBe(true);
    expect(out.params).toEqual({ ...DEFAULT_PARAMS.explicit, factors: 4, iterations: 5, threads: 1 });
    const its = out.iterations as { iteration: number; loss: number; dataLoss: number; penalty: number; seconds: number }[];
    expect(its.map((s) => s.iteration)).toEqual([1, 2, 3, 4, 5]);
    for (const s of its) {
      expect(Object.keys(s)).toEqual(['iteration', 'loss', 'dataLoss', 'penalty', 'seconds']);
      expect(s.loss).toBeCloseTo(s.dataLoss + s.penalty, 6);
    }
    expect(its.at(-1)!.loss).toBeLessThan(its[0]!.loss);
    expect(typeof out.seconds).toBe('number');
    // one progress line per iteration on stderr, nothing else on stdout
    expect(
      r.stderr.split('\n').filter((l) => /^iteration \d+\/5 {2}loss \S+ {2}data \S+ {2}penalty \S+ {2}\d+\.\d+ s$/.test(l)),
    ).toHaveLength(5);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);

    const db = openDatabase(dbPath);
    expect(activeModelId(db)).toBe(1);
    const { record, model: m } = loadModel(db, 1);
    expect(record).toMatchObject({ id: 1, status: 'active', feedback: 'explicit' });
    const matrix = loadMatrix(db);
    expect(m.userIds).toEqual(matrix.userIds);
    expect(Array.from(m.userItems.indptr)).toEqual(Array.from(matrix.byUser.indptr));
    expect(Array.from(m.userItems.indices)).toEqual(Array.from(matrix.byUser.indices));
    expect(m.userBias).not.toBeNull();
    // the saved model file carries the params, the iteration history and the training size
    expect(record.params).toEqual(out.params);
    expect(m.params).toEqual(out.params);
    expect(m.history.map((s) => s.loss)).toEqual(its.map((s) => s.loss));
    expect(record.metrics).toMatchObject({ ratings: matrix.nnz });
    db.close();

    const stats = await runInProcess(['stats', '--db', dbPath, '--json']);
    expect(JSON.parse(stats.stdout)).toMatchObject({ models: 1, activeModel: 1 });
  });

  it('--no-activate saves without touching the active model', async () => {
    seed(starFixture(2));
    expect((await runInProcess(['train', '--db', dbPath, ...FAST, '--json'])).code).toBe(0);
    const r = await runInProcess(['train', '--db', dbPath, ...FAST, '--lambda', '0.2', '--no-activate', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ model: 2, activated: false, params: { lambda: 0.2 } });
    const db = openDatabase(dbPath);
    expect(activeModelId(db)).toBe(1);
    expect(countModels(db)).toBe(2);
    db.close();
    const human = await runInProcess(['train', '--db', dbPath, ...FAST, '--no-activate']);
    expect(human.stdout).toMatch(/^saved model 3 \(explicit, 5 iterations, final loss [\d.]+\) in [\d.]+ s; not activated/);
  });

  it('detects implicit feedback from play counts, and --feedback overrides the detection', async () => {
    seed(playFixture(3, true));
    const r = await runInProcess(['train', '--db', dbPath, ...FAST, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { feedback: string; params: Record<string, unknown> };
    expect(out.feedback).toBe('implicit');
    expect(out.params).toMatchObject({ lambdaScaling: DEFAULT_PARAMS.implicit.lambdaScaling, alpha: DEFAULT_PARAMS.implicit.alpha });
    const forced = await runInProcess(['train', '--db', dbPath, ...FAST, '--feedback', 'explicit', '--json']);
    expect(JSON.parse(forced.stdout)).toMatchObject({ feedback: 'explicit', params: { feedback: 'explicit' } });
    const db = openDatabase(dbPath);
    expect(loadModel(db, 1).model.userBias).toBeNull();
    expect(loadModel(db, 2).model.userBias).not.toBeNull();
    db.close();
  });

  it.each([
    [['--factors', '0'], /--factors must be an integer in 1\.\.1024, got "0"/],
    [['--lambda', '-1'], /--lambda must be a number >= 0, got "-1"/],
    [['--solver', 'lu'], /--solver must be one of cg, cholesky, got "lu"/],
    [['--feedback', 'stars'], /--feedback must be one of explicit, implicit/],
    [['--iterations', '2.5'], /--iterations must be an integer/],
    [['--bogus'], /unknown option '--bogus'/],
  ])('exits 2 naming the flag for %j, saving nothing', async (flags, message) => {
    seed(starFixture(4, 5, 5));
    const r = await runInProcess(['train', '--db', dbPath, ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    const db = openDatabase(dbPath);
    expect(countModels(db)).toBe(0);
    db.close();
  });

  it('exits 2 with a hint on an empty database', async () => {
    const r = await runInProcess(['train', '--db', dbPath, ...FAST]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ridgerec: .*empty.*import/m);
  });
});
