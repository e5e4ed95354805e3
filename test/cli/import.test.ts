import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connection.js';
import { runInProcess, type InProcessResult as Run } from '../helpers/cli.js';
import { dumpDb } from '../helpers/db.js';
import { tempDir } from '../helpers/temp.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FIX = join(ROOT, 'test/fixtures/import');
const fx = (name: string) => join(FIX, name);
const { dir, cleanup } = tempDir('ridgerec-cli-import-');
afterAll(cleanup);
let n = 0;
const newDbPath = () => join(dir, `cli${n++}.db`);

const cli = (...args: string[]): Promise<Run> => runInProcess(args);

function json(run: Run): Record<string, unknown> {
  expect(run.stdout.endsWith('\n')).toBe(true);
  expect(run.stdout.trimEnd().split('\n')).toHaveLength(1);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

function dump(path: string) {
  const db = openDatabase(path);
  try {
    return dumpDb(db);
  } finally {
    db.close();
  }
}

describe('ridgerec import', () => {
  const cases: Array<[string, string[], Record<string, number>]> = [
    ['ratings.data', [], { rows: 4, inserted: 4, updated: 0, users: 3, items: 4 }],
    ['ratings.data', ['--format', 'movielens'], { rows: 4, inserted: 4, updated: 0, users: 3, items: 4 }],
    ['ratings.dat', [], { rows: 3, inserted: 3, updated: 0, users: 2, items: 2 }],
    ['ratings.dat', ['--format', 'dat'], { rows: 3, inserted: 3, updated: 0, users: 2, items: 2 }],
    ['movielens-header.csv', [], { rows: 3, inserted: 3, updated: 0, users: 2, items: 2 }],
    ['plain-header.csv', ['--format', 'csv'], { rows: 3, inserted: 3, updated: 0, users: 2, items: 2 }],
    [
      'named-columns.csv',
      ['--user-col', 'who', '--item-col', 'what', '--value-col', 'stars'],
      { rows: 2, inserted: 2, updated: 0, users: 2, items: 2 },
    ],
    ['ratings.tsv', [], { rows: 3, inserted: 3, updated: 0, users: 2, items: 2 }],
    ['ratings.tsv', ['--format', 'tsv'], { rows: 3, inserted: 3, updated: 0, users: 2, items: 2 }],
  ];
  for (const [file, flags, expected] of cases) {
    it(`${file} ${flags.join(' ') || '(auto)'} → ${JSON.stringify(expected)}`, async () => {
      const run = await cli('import', fx(file), ...flags, '--db', newDbPath(), '--json');
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      const out = json(run);
      expect(Object.keys(out)).toEqual(['rows', 'inserted', 'updated', 'users', 'items', 'seconds']);
      expect(out).toMatchObject(expected);
      expect(typeof out.seconds).toBe('number');
    });
  }

  it('stores what the file says (named csv columns, quoted fields)', async () => {
    const db = newDbPath();
    await cli('import', fx('named-columns.csv'), '--user-col', 'who', '--item-col', 'what', '--value-col', 'stars', '--db', db);
    const d = dump(db);
    expect(d.users!.map((r) => (r as unknown[])[1])).toEqual(['Smith, J.', 'lee']);
    expect(d.items!.map((r) => (r as unknown[])[1])).toEqual(['sku "x"', 'sku-y']);
  });

  it('prints a human summary without --json', async () => {
    const run = await cli('import', fx('ratings.data'), '--db', newDbPath());
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^imported 4 ratings from .*ratings\.data \(movielens\): 4 new, 0 updated; 3 users, 4 items in the file; [\d.]+ s\n$/,
    );
  });

  it('importing the same file twice leaves the same ratings', async () => {
    const db = newDbPath();
    expect(json(await cli('import', fx('ratings.dat'), '--db', db, '--json'))).toMatchObject({ inserted: 3, updated: 0 });
    const first = dump(db);
    expect(json(await cli('import', fx('ratings.dat'), '--db', db, '--json'))).toMatchObject({ rows: 3, inserted: 0, updated: 3 });
    expect(dump(db)).toEqual(first);
  });

  it('a bad line: exit 2, file:line: problem on stderr, database content unchanged', async () => {
    const db = newDbPath();
    await cli('import', fx('ratings.data'), '--db', db);
    const before = dump(db);
    const run = await cli('import', fx('bad.tsv'), '--db', db, '--json');
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`ridgerec: ${fx('bad.tsv')}:2: value "abc" is not a number\n`);
    expect(dump(db)).toEqual(before);
  });

  it('a value outside the allowed range (1e308): exit 2 with FILE:LINE naming the range, nothing imported', async () => {
    const db = newDbPath();
    await cli('import', fx('ratings.data'), '--db', db);
    const before = dump(db);
    for (const [name, text, line] of [
      ['huge.tsv', '1\t10\t4\n2\t20\t1e308\n3\t30\t2\n', 2],
      ['negative.csv', 'user,item,rating\n1,10,4\n2,20,3\n3,30,-2000000\n', 4],
    ] as const) {
      const file = join(dir, name);
      writeFileSync(file, text);
      const run = await cli('import', file, '--db', db, '--json');
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr.startsWith(`ridgerec: ${file}:${line}: value "`)).toBe(true);
      expect(run.stderr).toMatch(/" is outside the allowed range -1000000\.\.1000000\n$/);
      expect(dump(db)).toEqual(before);
    }
  });

  it('ids are stored in NFC: a file with the decomposed form rates the same user as one with the composed form', async () => {
    const db = newDbPath();
    const composed = join(dir, 'nfc.csv');
    const decomposed = join(dir, 'nfd.csv');
    writeFileSync(composed, 'user,item,rating\nJos\u00e9,caf\u00e9,4\n');
    writeFileSync(decomposed, 'user,item,rating\nJose\u0301,cafe\u0301,5\nJose\u0301,tea,3\n');
    expect((await cli('import', composed, '--db', db)).code).toBe(0);
    expect((await cli('import', decomposed, '--db', db)).code).toBe(0);
    const conn = openDatabase(db);
    try {
      expect(conn.prepare('SELECT external_id FROM users').pluck().all()).toEqual(['Jos\u00e9']);
      expect(conn.prepare('SELECT external_id FROM items ORDER BY id').pluck().all()).toEqual(['caf\u00e9', 'tea']);
      expect(conn.prepare('SELECT count(*) FROM ratings').pluck().get()).toBe(2); // café's 4 overwritten by 5
    } finally {
      conn.close();
    }
  });

  it('--skip-invalid imports the valid rows and reports rejected rows and the first 10 lines', async () => {
    const db = newDbPath();
    const run = await cli('import', fx('skip.tsv'), '--skip-invalid', '--db', db, '--json');
    expect(run.code).toBe(0);
    const out = json(run);
    expect(out).toMatchObject({ rows: 8, inserted: 8, updated: 0, users: 8, items: 4, rejected: 12 });
    expect(out.rejectedLines).toEqual([2, 4, 5, 7, 9, 10, 12, 13, 15, 17]);
    const human = await cli('import', fx('skip.tsv'), '--skip-invalid', '--db', newDbPath());
    expect(human.code).toBe(0);
    expect(human.stderr).toContain(`skipped ${fx('skip.tsv')}:2: missing column`);
    expect(human.stderr).toContain('rejected 12 invalid rows (first lines: 2, 4, 5, 7, 9, 10, 12, 13, 15, 17)');
    expect(human.stdout).toMatch(/^imported 8 ratings/);
  });

  it('a missing file: exit 2 with a clear message, no database created', async () => {
    const db = newDbPath();
    const run = await cli('import', join(dir, 'absent.tsv'), '--db', db);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`ridgerec: ${join(dir, 'absent.tsv')}: no such file\n`);
    expect(existsSync(db)).toBe(false);
  });

  it('an unknown format: exit 2 naming the allowed ones', async () => {
    const run = await cli('import', fx('ratings.tsv'), '--format', 'xlsx', '--db', newDbPath());
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--format must be one of auto, movielens, dat, csv, tsv, got "xlsx"');
  });

  it('a file auto cannot classify: exit 2 asking for --format', async () => {
    const run = await cli('import', join(FIX, 'named-columns.csv'), '--format', 'auto', '--user-col', 'nope', '--db', newDbPath());
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('the header has no column "nope" (--user-col)');
  });
});

describe('ridgerec stats', () => {
  it('reports zeros and nulls on an empty database, then counts after an import', async () => {
    const db = newDbPath();
    // toMatchObject: the object also counts models; only the rating counts matter here.
    expect(json(await cli('stats', '--db', db, '--json'))).toMatchObject({
      users: 0,
      items: 0,
      ratings: 0,
      minValue: null,
      maxValue: null,
      meanValue: null,
    });
    await cli('import', fx('ratings.dat'), '--db', db);
    await cli('import', fx('movielens-header.csv'), '--db', db);
    const out = json(await cli('stats', '--db', db, '--json'));
    // ratings.dat: users 1, 2; items 1193, 661 — the csv adds user 7 and items 31, 1029; user 1 is shared.
    expect(out).toMatchObject({ users: 3, items: 4, ratings: 6, minValue: 2.5, maxValue: 5, meanValue: 22 / 6 });
    const human = await cli('stats', '--db', db);
    expect(human.stdout).toContain('users    3\nitems    4\nratings  6\nvalues   min 2.5, max 5, mean 3.6667\n');
  });
});

describe('the real binary (node --import tsx src/cli/main.ts)', () => {
  it('exits 2 on a bad file and prints exactly one JSON line on success', () => {
    const db = newDbPath();
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
    const bad = run('import', fx('bad.tsv'), '--db', db);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(`bad.tsv:2: value "abc" is not a number`);
    const ok = run('import', fx('ratings.data'), '--db', db, '--json');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^\{"rows":4,"inserted":4,"updated":0,"users":3,"items":4,"seconds":[\d.e-]+\}\n$/);
  });
});
