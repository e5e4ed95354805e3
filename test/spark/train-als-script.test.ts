/**
 * scripts/spark/train_als.py without Spark: `python3 -m py_compile`, and its argument parsing and
 * its calls into Spark run against a stub `pyspark` package (test/spark/pyspark-stub) that records
 * them. Skipped, saying so, where python3 is absent.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/spark/train_als.py');
const STUB = join(ROOT, 'test/spark/pyspark-stub');
const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const hasPython = python.status === 0;
if (!hasPython) console.warn('skipping the train_als.py tests: python3 is not installed');

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tempDir('ridgerec-train-als-')));
afterAll(() => cleanup?.());

function py(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync('python3', args, {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: STUB, PYTHONDONTWRITEBYTECODE: '1', ...env },
  });
}

/** als_params(parse_args(argv)) as JSON, from the script's own functions. */
function alsParams(argv: string[]): Record<string, unknown> {
  const code =
    'import json, sys; sys.path.insert(0, "scripts/spark"); import train_als as t; ' +
    `print(json.dumps(t.als_params(t.parse_args(${JSON.stringify(argv)}))))`;
  const r = py(['-c', code]);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe.skipIf(!hasPython)('scripts/spark/train_als.py', () => {
  it('compiles (python3 -m py_compile)', () => {
    // The bytecode goes under the temp dir, not into scripts/spark/__pycache__.
    const r = py(['-m', 'py_compile', SCRIPT], { PYTHONPYCACHEPREFIX: join(dir, 'pycache') });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it("maps ridgerec's parameters onto Spark ALS's, with ridgerec's count-scaled defaults", () => {
    expect(alsParams(['exp', 'out'])).toEqual({
      rank: 64,
      maxIter: 15,
      regParam: 0.12,
      implicitPrefs: false,
      alpha: 1,
      seed: 0,
      userCol: 'user_id',
      itemCol: 'item_id',
      ratingCol: 'value',
      nonnegative: false,
      coldStartStrategy: 'drop',
    });
    expect(
      alsParams([
        'exp',
        'out',
        '--feedback',
        'implicit',
        '--factors',
        '128',
        '--alpha',
        '40',
        '--iterations',
        '20',
        '--seed',
        '7',
        '--blocks',
        '50',
      ]),
    ).toMatchObject({
      rank: 128,
      implicitPrefs: true,
      alpha: 40,
      maxIter: 20,
      regParam: 0.08,
      seed: 7,
      numUserBlocks: 50,
      numItemBlocks: 50,
    });
    expect(alsParams(['exp', 'out', '--lambda', '0.05'])).toMatchObject({ regParam: 0.05, implicitPrefs: false });
  });

  it.each([
    [['exp', 'out', '--factors', '0'], '--factors must be in 1..1024'],
    [['exp', 'out', '--factors', 'x'], '--factors must be an integer'],
    [['exp', 'out', '--lambda', '-1'], '--lambda must be >= 0'],
    [['exp', 'out', '--lambda', 'nan'], '--lambda must be >= 0'],
    [['exp', 'out', '--iterations', '0'], '--iterations must be in 1..10000'],
    [['exp', 'out', '--feedback', 'stars'], "invalid choice: 'stars'"],
    [['exp'], 'the following arguments are required: model_dir'],
  ])('refuses %j with exit 2 and a message naming the flag', (argv, message) => {
    const r = py([SCRIPT, ...argv]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('reads the export, fits, saves with ALSModel.save and copies the id maps and ridgerec.json beside the model', () => {
    const exp = join(dir, 'export');
    mkdirSync(exp, { recursive: true });
    for (const f of ['ratings.parquet', 'users.parquet', 'items.parquet', 'export.json']) writeFileSync(join(exp, f), `content of ${f}`);
    const out = join(dir, 'model');
    const log = join(dir, 'calls.jsonl');
    const r = py(
      [
        SCRIPT,
        exp,
        out,
        '--feedback',
        'implicit',
        '--factors',
        '16',
        '--lambda',
        '0.5',
        '--alpha',
        '3',
        '--iterations',
        '4',
        '--checkpoint-dir',
        '/tmp/ckpt',
      ],
      {
        PYSPARK_STUB_LOG: log,
      },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const calls = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; [k: string]: unknown });
    expect(calls.map((c) => c.event)).toEqual(['appName', 'checkpointDir', 'read.parquet', 'ALS', 'fit', 'save', 'stop']);
    expect(calls.find((c) => c.event === 'read.parquet')!.path).toBe(`${exp}/ratings.parquet`);
    expect(calls.find((c) => c.event === 'ALS')!.params).toMatchObject({
      rank: 16,
      regParam: 0.5,
      alpha: 3,
      maxIter: 4,
      implicitPrefs: true,
    });
    expect(calls.find((c) => c.event === 'save')!.path).toBe(out);
    for (const f of ['users.parquet', 'items.parquet', 'export.json']) expect(readFileSync(join(out, f), 'utf8')).toBe(`content of ${f}`);
    const side = JSON.parse(readFileSync(join(out, 'ridgerec.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(side.spark).toMatchObject({ implicitPrefs: true, rank: 16, regParam: 0.5, alpha: 3, maxIter: 4 });
    expect(side.ridgerec).toMatchObject({ feedback: 'implicit', factors: 16, lambda: 0.5, lambdaScaling: 'count' });
    expect(r.stdout).toContain(`ridgerec models import-spark ${out}`);
  });

  it('reads a CSV export (ratings/ part files) with the export’s column types', () => {
    const exp = join(dir, 'export-csv');
    mkdirSync(join(exp, 'ratings'), { recursive: true });
    writeFileSync(join(exp, 'ratings', 'part-00000.csv'), 'user_id,item_id,value,ts\n0,0,1,0\n');
    const log = join(dir, 'calls-csv.jsonl');
    const out = join(dir, 'model-csv');
    const r = py([SCRIPT, exp, out, '--overwrite'], { PYSPARK_STUB_LOG: log });
    expect(r.status).toBe(0);
    const calls = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; [k: string]: unknown });
    expect(calls.find((c) => c.event === 'read.csv')).toMatchObject({
      path: `${exp}/ratings`,
      header: true,
      columns: ['user_id', 'item_id', 'value', 'ts'],
    });
    expect(calls.map((c) => c.event)).toContain('write.overwrite');
    expect(existsSync(join(out, 'ridgerec.json'))).toBe(true);
  });
});
