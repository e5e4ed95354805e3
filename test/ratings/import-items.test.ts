/**
 * import-items: each format (u.item with u.genre, movies.csv, generic CSV, JSON lines) read into the
 * catalogue, auto-detection, the bad-line rules of `ridgerec import` (FILE:LINE: problem, exit 2,
 * nothing written) and --skip-invalid, through the module and the real command (in-process).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connection.js';
import { catalogueVersion, getItem, loadCatalogueItems } from '../../src/ratings/catalogue.js';
import { detectItemFormat, importItemsFile, readItemsFile } from '../../src/ratings/import-items.js';
import { upsertRatings } from '../../src/ratings/store.js';
import { runInProcess } from '../helpers/cli.js';
import { dumpDb } from '../helpers/db.js';
import { tempDir } from '../helpers/temp.js';

const { dir, cleanup } = tempDir('ridgerec-items-');
afterAll(cleanup);
let n = 0;

/** Writes `content` to a new file named `name` in a fresh folder (so u.item finds its own u.genre). */
function file(name: string, content: string | Buffer, genres?: string): string {
  const folder = join(dir, `f${n++}`);
  mkdirSync(folder);
  if (genres !== undefined) writeFileSync(join(folder, 'u.genre'), genres);
  const path = join(folder, name);
  writeFileSync(path, content);
  return path;
}

const newDb = () => openDatabase(join(dir, `db${n++}.db`));

const GENRES = 'unknown|0\nAction|1\nHorror|2\n\n';
/** A u.item with 3 genre flags (u.genre above names them); latin1 in the title of item 2. */
const U_ITEM = Buffer.from(
  '1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|1|0\n' +
    '2|Café Noir (1996)|||http://x|0|1|1\r\n' +
    '\n' +
    '3|unknown||||1|0|0\n',
  'latin1',
);

describe('readItemsFile formats', () => {
  it('movielens-items: the flags become categories named by u.genre, latin1 titles, the dates in metadata', () => {
    const path = file('u.item', U_ITEM, GENRES);
    const r = readItemsFile(path);
    expect(r.format).toBe('movielens-items');
    expect(r.changes.map((c) => [c.id, c.line])).toEqual([
      ['1', 1],
      ['2', 2],
      ['3', 4],
    ]);
    expect(r.changes[0]!.patch).toEqual({
      title: 'Toy Story (1995)',
      categories: ['Action'],
      metadata: { releaseDate: '01-Jan-1995', year: 1995, imdbUrl: 'http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)' },
    });
    expect(r.changes[1]!.patch).toEqual({ title: 'Café Noir (1996)', categories: ['Action', 'Horror'], metadata: { imdbUrl: 'http://x' } });
    expect(r.changes[2]!.patch).toEqual({ title: 'unknown', categories: ['unknown'], metadata: {} });
  });

  it('movielens-items without u.genre beside it says so', () => {
    const path = file('u.item', U_ITEM);
    expect(() => readItemsFile(path)).toThrow(/needs u\.genre .* is missing/);
  });

  it('csv: MovieLens movies.csv, quoted titles, "(no genres listed)" is no category', () => {
    const path = file(
      'movies.csv',
      'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children\n11,"American President, The (1995)",Comedy|Drama|Romance\n' +
        '99,Empty (2000),(no genres listed)\n',
    );
    const r = readItemsFile(path);
    expect(r.format).toBe('csv');
    expect(r.changes.map((c) => c.id)).toEqual(['1', '11', '99']);
    expect(r.changes[1]!.patch).toEqual({ title: 'American President, The (1995)', categories: ['Comedy', 'Drama', 'Romance'] });
    expect(r.changes[2]!.patch).toEqual({ title: 'Empty (2000)', categories: [] });
  });

  it('csv: generic columns, the rest to metadata (numbers, booleans, strings; empty cells left out), active', () => {
    const path = file(
      'shop.csv',
      'item,title,categories,brand,price,inStock,sku,active\nboot-1,Boot,hiking|shoes,acme,49.5,true,007,false\nboot-2,,,,12,,x,1\n',
    );
    const r = readItemsFile(path);
    expect(r.changes[0]!.patch).toEqual({
      title: 'Boot',
      categories: ['hiking', 'shoes'],
      metadata: { brand: 'acme', price: 49.5, inStock: true, sku: '007' },
      active: false,
    });
    expect(r.changes[1]!.patch).toEqual({ title: null, categories: [], metadata: { price: 12, sku: 'x' }, active: true });
  });

  it('jsonl: id or item, the fields given only', () => {
    const path = file(
      'items.jsonl',
      '{"id":"a","title":"A","categories":["x"],"metadata":{"price":3},"active":false}\n{"item":7,"active":true}\n\n{"id":"b"}\n',
    );
    const r = readItemsFile(path);
    expect(r.format).toBe('jsonl');
    expect(r.changes).toEqual([
      { id: 'a', line: 1, patch: { title: 'A', categories: ['x'], metadata: { price: 3 }, active: false } },
      { id: '7', line: 2, patch: { active: true } },
      { id: 'b', line: 4, patch: {} },
    ]);
  });

  it('auto picks by name, extension and first line', () => {
    expect(detectItemFormat('/x/u.item', null)).toBe('movielens-items');
    expect(detectItemFormat('a.jsonl', null)).toBe('jsonl');
    expect(detectItemFormat('a.ndjson', null)).toBe('jsonl');
    expect(detectItemFormat('a.csv', '{')).toBe('csv');
    expect(detectItemFormat('items.txt', '{"id":"a"}')).toBe('jsonl');
    expect(detectItemFormat('items.txt', `1|t|d||u|${Array(19).fill('0').join('|')}`)).toBe('movielens-items');
    expect(detectItemFormat('items.txt', 'item,title')).toBe('csv');
    expect(detectItemFormat('items.txt', 'item,title', 'jsonl')).toBe('jsonl');
    expect(() => detectItemFormat('items.txt', 'just words')).toThrow(/items\.txt:1: cannot tell the format.*--format/);
  });
});

describe('bad lines', () => {
  const cases: [string, string, string | Buffer, RegExp, string?][] = [
    ['u.item with a missing field', 'u.item', '1|T|||u|0|1\n', /:1: expected 8 \|-separated fields .* found 7/, GENRES],
    ['u.item with a bad flag', 'u.item', '1|T|||u|0|1|0\n2|T|||u|0|2|0\n', /:2: genre flag 1 \(Action\) is "2", not 0 or 1/, GENRES],
    ['csv with a missing column', 'a.csv', 'item,title,categories\nx,T,a\ny,T\n', /:3: missing columns: the header names 3, found 2/],
    ['csv with an empty id', 'a.csv', 'item,title\n,T\n', /:2: empty item id/],
    ['csv with a bad active', 'a.csv', 'item,active\nx,maybe\n', /:2: active "maybe" is not true, false, 1 or 0/],
    [
      'csv with a comma in a category',
      'a.csv',
      'item,categories\nx,"a,b|c"\n',
      /:2: item\.categories must be a list of non-empty strings without commas/,
    ],
    ['jsonl that is not JSON', 'a.jsonl', '{"id":"a"}\n{"id":\n', /:2: not valid JSON/],
    ['jsonl without an id', 'a.jsonl', '{"title":"T"}\n', /:1: no "id" \(or "item"\)/],
    [
      'jsonl with nested metadata',
      'a.jsonl',
      '{"id":"a","metadata":{"x":{"y":1}}}\n',
      /:1: item\.metadata\.x must be a string, a finite number or a boolean/,
    ],
    ['jsonl with an unknown field', 'a.jsonl', '{"id":"a","colour":"red"}\n', /:1: item\.colour is not an item field/],
  ];
  for (const [what, name, content, message, genres] of cases) {
    it(`${what}: FILE:LINE: problem, and nothing is written`, () => {
      const path = file(name, content, genres);
      const db = newDb();
      try {
        upsertRatings(db, [{ user: 'u', item: 'x', value: 1 }]);
        const before = dumpDb(db);
        let err: Error | undefined;
        try {
          importItemsFile(db, path);
        } catch (e) {
          err = e as Error;
        }
        expect(err?.message).toMatch(message);
        expect(err?.message.startsWith(`${path}:`)).toBe(true);
        expect(dumpDb(db)).toEqual(before);
      } finally {
        db.close();
      }
    });
  }

  it('--skip-invalid skips and counts bad lines and writes the rest', () => {
    const path = file('a.csv', 'item,title\nx,X\n,empty\ny,Y\n"z,Z\n');
    const db = newDb();
    try {
      const skipped: number[] = [];
      const r = importItemsFile(db, path, { skipInvalid: true, onInvalid: (line) => skipped.push(line) });
      expect(r).toMatchObject({ format: 'csv', rows: 2, inserted: 2, updated: 0, rejected: 2, rejectedLines: [3, 5] });
      expect(skipped).toEqual([3, 5]);
      expect(loadCatalogueItems(db).map((i) => [i.id, i.title])).toEqual([
        ['x', 'X'],
        ['y', 'Y'],
      ]);
    } finally {
      db.close();
    }
  });
});

describe('importItemsFile into the database', () => {
  it('upserts: new and updated items counted, fields the file does not carry kept, the version bumped', () => {
    const db = newDb();
    try {
      upsertRatings(db, [{ user: 'u', item: '1', value: 1 }]); // item 1 exists, says nothing yet
      const v0 = catalogueVersion(db);
      const r = importItemsFile(db, file('u.item', U_ITEM, GENRES));
      expect(r).toMatchObject({ format: 'movielens-items', rows: 3, inserted: 2, updated: 1, rejected: 0 });
      expect(catalogueVersion(db)).toBeGreaterThan(v0);
      // Deactivate item 2, then re-import titles only: active and categories stay as they are.
      importItemsFile(db, file('a.jsonl', '{"id":"2","active":false}\n'));
      importItemsFile(db, file('titles.csv', 'item,title\n2,Renamed\n'));
      expect(getItem(db, '2')).toEqual({
        id: '2',
        title: 'Renamed',
        categories: ['Action', 'Horror'],
        metadata: { imdbUrl: 'http://x' },
        active: false,
      });
    } finally {
      db.close();
    }
  });
});

describe('ridgerec import-items', () => {
  it('imports and reports (--json), exit 0', async () => {
    const dbPath = join(dir, `cli${n++}.db`);
    const run = await runInProcess(['import-items', file('u.item', U_ITEM, GENRES), '--db', dbPath, '--json']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toMatchObject({ format: 'movielens-items', rows: 3, inserted: 3, updated: 0 });
    const db = openDatabase(dbPath);
    try {
      expect(getItem(db, '1')?.categories).toEqual(['Action']);
    } finally {
      db.close();
    }
  });

  it('a bad line: exit 2, FILE:LINE: problem on stderr, nothing written; --skip-invalid writes the rest', async () => {
    const dbPath = join(dir, `cli${n++}.db`);
    const path = file('items.jsonl', '{"id":"a"}\n{"id":""}\n');
    const bad = await runInProcess(['import-items', path, '--db', dbPath]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`ridgerec: ${path}:2: empty item id\n`);
    const db = openDatabase(dbPath);
    try {
      expect(getItem(db, 'a')).toBeUndefined();
    } finally {
      db.close();
    }
    const skip = await runInProcess(['import-items', path, '--db', dbPath, '--skip-invalid']);
    expect(skip.code).toBe(0);
    expect(skip.stderr).toContain(`skipped ${path}:2: empty item id`);
    expect(skip.stdout).toMatch(/^imported 1 items from .* \(jsonl\): 1 new, 0 updated/);
  });

  it('a missing file and an unknown --format are exit 2', async () => {
    const missing = await runInProcess(['import-items', join(dir, 'nope.csv'), '--db', join(dir, `cli${n++}.db`)]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.csv: no such file/);
    const format = await runInProcess(['import-items', file('a.csv', 'item\nx\n'), '--format', 'xml']);
    expect(format.code).toBe(2);
    expect(format.stderr).toMatch(/--format must be one of auto, csv, jsonl, movielens-items/);
  });
});
