/**
 * `ridgerec tune` and `ridgerec train --tuned` end to end (the real CLI as a child process) on
 * small seeded rating files.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connection.js';
import { latestTuningResult } from '../../src/model/tuning-store.js';
import { mulberry32 } from '../../src/training/random.js';
import { runCli } from '../cli/spawn-cli.js';
import { tempDir } from '../helpers/temp.js';
import { lowRankRatings } from '../retrain/fixture.js';

let dir = '';
let cleanup = () => {};

interface TuneJson {
  best: { params: Record<string, number | string>; metric: number; std: number };
  metric: string;
  folds: number;
  results: {
    params: Record<string, number | string>;
    metric: number;
    std: number;
    trainLoss: number;
    trainRmse?: number;
    folds: number[];
  }[];
  source: string;
  tuningResult: number | null;
}

beforeAll(() => {
  ({ dir, cleanup } = tempDir());
  // Two given folds (f1/f2.base + .test) and one whole file, all TSV "user item value".
  const ratings = lowRankRatings(31, 60, 40, 0.6);
  const rand = mulberry32(5);
  const fold = ratings.map(() => (rand() < 0.5 ? 1 : 2));
  const tsv = (rows: typeof ratings) => rows.map((r) => `${r.user}\t${r.item}\t${r.value}`).join('\n') + '\n';
  for (const f of [1, 2]) {
    writeFileSync(join(dir, `f${f}.base`), tsv(ratings.filter((_, j) => fold[j] !== f || j % 5 !== 0)));
    writeFileSync(join(dir, `f${f}.test`), tsv(ratings.filter((_, j) => fold[j] === f && j % 5 === 0)));
  }
  writeFileSync(join(dir, 'all.tsv'), tsv(ratings));
});
afterAll(() => cleanup());

const small = ['--iterations', '4', '--threads', '1', '--jobs', '1'];

describe('ridgerec tune', () => {
  it('u%d-style folds: JSON best = arg-best, report with one line per factors value, best stored; train --tuned uses it', async () => {
    const db = join(dir, 'a.db');
    const report = join(dir, 'tune.html');
    const r = await runCli([
      'tune',
      '--db',
      db,
      '--train',
      join(dir, 'f%d.base'),
      '--test',
      join(dir, 'f%d.test'),
      '--folds',
      '2',
      '--format',
      'tsv',
      '--grid',
      'lambda=0.01,0.1,1000 factors=2,3',
      ...small,
      '--report',
      report,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as TuneJson;
    expect(json.results).toHaveLength(6);
    expect(json.folds).toBe(2);
    expect(json.metric).toBe('rmse');
    for (const x of json.results) {
      expect(x.folds).toHaveLength(2);
      expect(x.std).toBeGreaterThanOrEqual(0);
      expect(x.trainLoss).toBeGreaterThan(0);
    }
    const argBest = json.results.reduce((a, b) => (b.metric < a.metric ? b : a));
    expect(json.best.params).toEqual(argBest.params);
    expect(json.best.metric).toBe(argBest.metric);
    expect(json.best.params.lambda).not.toBe(1000);
    expect(json.best.params).toMatchObject({ iterations: 4, 'lambda-scaling': 'count', feedback: 'explicit' });
    expect(r.stderr).toMatch(/tune: point 6\/6 lambda=1000 factors=3: rmse/);
    // the report
    const html = readFileSync(report, 'utf8');
    expect(html.match(/<polyline class="validation-line"/g)).toHaveLength(2);
    expect(html).not.toMatch(/<script|https?:/);
    // stored
    const h = openDatabase(db);
    const rec = latestTuningResult(h)!;
    h.close();
    expect(json.tuningResult).toBe(rec.id);
    expect(rec.bestParams.lambda).toBe(json.best.params.lambda);
    expect(rec.grid).toEqual({ lambda: [0.01, 0.1, 1000], factors: [2, 3] });
    expect(rec.source).toMatch(/f%d\.base .* 2 folds/);

    // train --tuned on that database: the tuned params, explicit flags winning.
    const imp = await runCli(['import', join(dir, 'all.tsv'), '--db', db, '--format', 'tsv', '--json']);
    expect(imp.code, imp.stderr).toBe(0);
    const t = await runCli(['train', '--db', db, '--tuned', '--iterations', '2', '--threads', '1', '--json']);
    expect(t.code, t.stderr).toBe(0);
    const tj = JSON.parse(t.stdout) as { params: Record<string, unknown> };
    expect(tj.params).toMatchObject({ lambda: json.best.params.lambda, factors: json.best.params.factors, iterations: 2 });
  });

  it('K-fold of one file, binary values as implicit, ndcg@10 higher-is-better', async () => {
    const r = await runCli([
      'tune',
      '--train',
      join(dir, 'all.tsv'),
      '--folds',
      '3',
      '--binary',
      '--alpha',
      '0',
      '--no-save',
      '--grid',
      'lambda=0.1,10',
      '--factors',
      '3',
      '--iterations',
      '4',
      '--jobs',
      '2',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as TuneJson;
    expect(json.metric).toBe('ndcg@10');
    expect(json.tuningResult).toBeNull();
    expect(json.source).toMatch(/per-user 3-fold split seed 0, values as 1/);
    expect(json.results.every((x) => x.folds.length === 3 && x.params.feedback === 'implicit')).toBe(true);
    const argBest = json.results.reduce((a, b) => (b.metric > a.metric ? b : a));
    expect(json.best.params).toEqual(argBest.params);
  });

  // (every grid error message is unit-tested in tune-grid.test.ts; here: the exit code path)
  it.each([
    [['--grid', 'lambda=abc'], /--grid: lambda value "abc" is not a number/],
    [['--grid', 'foo=1,2'], /--grid: unknown parameter "foo"/],
    [['--grid', 'lambda=-1'], /--grid lambda=-1: lambda must be a number >= 0/],
    [['--grid', 'lambda=1', '--folds', '2', '--test', 'x.test'], /--folds with --train and --test needs a %d/],
  ])('rejects %j with exit 2, stores nothing', async (args, message) => {
    const db = join(dir, 'bad.db');
    const r = await runCli(['tune', '--db', db, '--train', join(dir, 'all.tsv'), ...args, ...small]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    if (existsSync(db)) {
      const h = openDatabase(db);
      expect(latestTuningResult(h)).toBeNull();
      h.close();
    }
  });

  it('train --tuned without a tuning result: exit 2 saying how to get one', async () => {
    const db = join(dir, 'empty.db');
    const r = await runCli(['train', '--db', db, '--tuned']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no tuning result .*ridgerec tune/);
  });

  it('--db with a holdout, readable table on stdout', async () => {
    const db = join(dir, 'h.db');
    expect((await runCli(['import', join(dir, 'all.tsv'), '--db', db, '--format', 'tsv'])).code).toBe(0);
    const r = await runCli(['tune', '--db', db, '--holdout', '0.25', '--grid', 'lambda=0.05,0.5', '--factors', '2', ...small]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/lambda\s+rmse\s+± std\s+train RMSE/);
    expect(r.stdout).toMatch(/← best/);
    expect(r.stdout).toMatch(/best rmse \d\.\d{4} ± 0\.0000 over 1 fold: .*--lambda 0\.5?5?/);
    expect(r.stderr).toMatch(/per-user holdout 0\.25 seed 0/);
  });
});
