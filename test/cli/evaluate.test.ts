import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connection.js';
import { metricsToJson } from '../../src/eval/metrics.js';
import { fitAndEvaluate } from '../../src/eval/run.js';
import { alignTestSet, holdoutSplit } from '../../src/eval/split.js';
import { countModels } from '../../src/model/registry.js';
import { matrixFromTriples } from '../../src/ratings/matrix.js';
import { loadMatrix, upsertRatings } from '../../src/ratings/store.js';
import { resolveParams } from '../../src/training/params.js';
import { runInProcess } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { playFixture, starFixture, toTsv } from './train-helpers.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('ridgerec-eval-'));
});
afterEach(() => cleanup());

const FAST = ['--factors', '3', '--iterations', '8', '--threads', '1'];
const fastParams = { factors: 3, iterations: 8, threads: 1 };

/** Splits rows into train/test by a fixed rule: every 5th row of the fixture is a test row. */
function writeFiles(rows: [string, string, number][]): { train: string; test: string; trainRows: typeof rows; testRows: typeof rows } {
  const trainRows = rows.filter((_, n) => n % 5 !== 0);
  const testRows = rows.filter((_, n) => n % 5 === 0);
  const train = join(dir, 'a.base');
  const test = join(dir, 'a.test');
  writeFileSync(train, toTsv(trainRows));
  writeFileSync(test, toTsv(testRows));
  return { train, test, trainRows, testRows };
}

function without<T extends Record<string, unknown>>(o: T, key: string): Record<string, unknown> {
  const { [key]: _drop, ...rest } = o;
  return rest;
}

describe('ridgerec evaluate', () => {
  it('--train/--test: prints the documented JSON, equal to fitAndEvaluate in-process, and beats the mean baseline', async () => {
    const f = writeFiles(starFixture(11, 60, 30));
    const r = await runInProcess(['evaluate', '--train', f.train, '--test', f.test, ...FAST, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, number>;
    expect(Object.keys(out)).toEqual(['rmse', 'mae', 'precision@10', 'recall@10', 'ndcg@10', 'map@10', 'coverage@10', 'seconds']);
    // The same fit in-process (threads 1, same seed) gives the same numbers: the command only wires.
    const train = matrixFromTriples(f.trainRows);
    const test = alignTestSet(train, f.testRows);
    const ref = await fitAndEvaluate(train, test, resolveParams({ feedback: 'explicit', ...fastParams }));
    expect(without(out, 'seconds')).toEqual(metricsToJson(ref.metrics));
    // Predicting the training mean for every test pair is the baseline a rank-2 fixture must beat.
    const mean = f.trainRows.reduce((s, x) => s + x[2], 0) / f.trainRows.length;
    const baseline = Math.sqrt(f.testRows.reduce((s, x) => s + (x[2] - mean) ** 2, 0) / f.testRows.length);
    expect(out.rmse!).toBeLessThan(0.8 * baseline);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('iteration '))).toHaveLength(8);
  });

  it('the metric keys follow --at (or its older name --k), and implicit feedback has no rmse/mae', async () => {
    const f = writeFiles(playFixture(12));
    // λ fixed: the implicit default is tuned for MovieLens-sized data and over-smooths 30 users.
    const r = await runInProcess(['evaluate', '--train', f.train, '--test', f.test, ...FAST, '--lambda', '0.1', '--at', '3', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, number>;
    expect(Object.keys(out)).toEqual(['precision@3', 'recall@3', 'ndcg@3', 'map@3', 'coverage@3', 'seconds']);
    const old = await runInProcess(['evaluate', '--train', f.train, '--test', f.test, ...FAST, '--lambda', '0.1', '--k', '3', '--json']);
    expect(old.code).toBe(0);
    expect(without(JSON.parse(old.stdout) as Record<string, number>, 'seconds')).toEqual(without(out, 'seconds'));
    // Users prefer their own genre (u mod 3 = i mod 3): a fitted model must rank far above chance.
    // Chance precision of a user = |relevant| / |candidates| (items the user has no training row
    // for), averaged over the users the metric averages over.
    const train = matrixFromTriples(f.trainRows);
    const test = alignTestSet(train, f.testRows);
    const rel = new Map<number, Set<number>>();
    for (let t = 0; t < test.users.length; t++) {
      if (test.users[t]! < 0 || test.items[t]! < 0) continue;
      if (!rel.has(test.users[t]!)) rel.set(test.users[t]!, new Set());
      rel.get(test.users[t]!)!.add(test.items[t]!);
    }
    let chance = 0;
    for (const [u, items] of rel) chance += items.size / (train.nItems - (train.byUser.indptr[u + 1]! - train.byUser.indptr[u]!));
    chance /= rel.size;
    expect(out['precision@3']!).toBeGreaterThan(2 * chance);
  });

  it('--holdout on the stored ratings: seeded, equal to holdoutSplit + fitAndEvaluate, saves nothing', async () => {
    const dbPath = join(dir, 'r.db');
    const db = openDatabase(dbPath);
    upsertRatings(
      db,
      starFixture(13).map(([user, item, value]) => ({ user, item, value })),
    );
    const all = loadMatrix(db);
    db.close();
    const r = await runInProcess(['evaluate', '--db', dbPath, '--holdout', '0.25', '--seed', '3', ...FAST, '--k', '5', '--json']);
    expect(r.code).toBe(0);
    const { train, test } = holdoutSplit(all, 0.25, 3);
    const ref = await fitAndEvaluate(train, test, resolveParams({ feedback: 'explicit', ...fastParams, seed: 3 }), { at: 5 });
    expect(without(JSON.parse(r.stdout) as Record<string, unknown>, 'seconds')).toEqual(metricsToJson(ref.metrics));
    const again = await runInProcess(['evaluate', '--db', dbPath, '--holdout', '0.25', '--seed', '3', ...FAST, '--k', '5', '--json']);
    expect(without(JSON.parse(again.stdout) as Record<string, unknown>, 'seconds')).toEqual(metricsToJson(ref.metrics));
    const db2 = openDatabase(dbPath);
    expect(countModels(db2)).toBe(0);
    db2.close();
    const human = await runInProcess(['evaluate', '--db', dbPath, '--holdout', '0.25', ...FAST]);
    expect(human.stdout).toMatch(/^rmse +\d\.\d{6}$/m);
    expect(human.stdout).toMatch(/^test users +\d+/m);
  });

  it.each([
    [[], /give --train FILE --test FILE, or --holdout FRACTION/],
    [['--train', 'x.base'], /--train FILE and --test FILE go together/],
    [['--train', 'a', '--test', 'b', '--holdout', '0.2'], /cannot be combined/],
    [['--holdout', '0'], /--holdout must be a number > 0 and < 1, got "0"/],
    [['--holdout', '1'], /--holdout must be a number > 0 and < 1, got "1"/],
    [['--holdout', '0.2', '--k', '0'], /--k must be an integer in 1\.\./],
    [['--holdout', '0.2', '--at', '0'], /--at must be an integer in 1\.\./],
    [['--holdout', '0.2', '--at', '3', '--k', '5'], /'--k <n>' cannot be used with option '--at <n>'/],
    [['--holdout', '0.2', '--factors', 'many'], /--factors must be an integer/],
  ])('exits 2 with a clear message for %j', async (flags, message) => {
    const r = await runInProcess(['evaluate', '--db', join(dir, 'r.db'), ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('exits 2 on an empty database', async () => {
    const r = await runInProcess(['evaluate', '--db', join(dir, 'r.db'), '--holdout', '0.2']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/holds no ratings/);
  });
});

const ML = new URL('../../../shared/data/ml-100k/', import.meta.url).pathname;
const haveMl = existsSync(join(ML, 'u1.base')) && existsSync(join(ML, 'u1.test'));
if (!haveMl) console.log(`skipping the MovieLens 100K u1 evaluation: ${ML}u1.base/u1.test not found`);

describe.skipIf(!haveMl)('ridgerec evaluate on MovieLens 100K fold u1 (default parameters)', () => {
  it('reaches RMSE < 0.93', async () => {
    const r = await runInProcess(['evaluate', '--train', join(ML, 'u1.base'), '--test', join(ML, 'u1.test'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, number>;
    console.log(`ML-100k u1 with defaults: ${r.stdout.trim()}`);
    expect(out.rmse!).toBeLessThan(0.93);
    expect(out['precision@10']!).toBeGreaterThan(0);
  });
});
