import { writeFileSync } from 'node:fs';
import { exitCode } from '../../src/cli/common.js';
import { httpStatus } from '../../src/http/errors.js';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  detectFormat,
  parseDecimal,
  readRatingsFile,
  readTriples,
  scanRatingsFile,
  splitCsvLine,
  type ParsedRating,
  type ParseOptions,
  type ParseSummary,
} from '../../src/ratings/import.js';
import { mulberry32 } from '../../src/training/random.js';
import { failure } from '../helpers/expect.js';
import { tempDir } from '../helpers/temp.js';

const FIX = join(import.meta.dirname, '../fixtures/import');
const fx = (name: string) => join(FIX, name);
const { dir, cleanup } = tempDir('ridgerec-parse-');
afterAll(cleanup);
function tmpFile(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

async function readAll(path: string, options?: ParseOptions): Promise<{ rows: ParsedRating[]; summary: ParseSummary }> {
  const it = readRatingsFile(path, options);
  const rows: ParsedRating[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) return { rows, summary: r.value };
    rows.push(r.value);
  }
}

describe('rating file formats', () => {
  it('movielens: user<TAB>item<TAB>value<TAB>timestamp', async () => {
    const { rows, summary } = await readAll(fx('ratings.data'));
    expect(summary).toEqual({ format: 'movielens', rows: 4, rejected: 0, rejectedLines: [] });
    expect(rows[0]).toEqual({ user: '196', item: '242', value: 3, timestamp: 881250949, line: 1 });
    expect(rows.map((r) => [r.user, r.item, r.value])).toEqual([
      ['196', '242', 3],
      ['186', '302', 3],
      ['22', '377', 1],
      ['196', '51', 2],
    ]);
  });

  it('movielens accepts 3 columns (no timestamp) and refuses 5', async () => {
    const f = tmpFile('three.data', 'a\tb\t4\n');
    expect((await readAll(f)).rows).toEqual([{ user: 'a', item: 'b', value: 4, timestamp: null, line: 1 }]);
    const g = tmpFile('five.data', 'a\tb\t4\t1\nc\td\t1\t2\t3\n');
    expect((await failure(readAll(g))).message).toBe(`${g}:2: too many columns: expected user<TAB>item<TAB>value[<TAB>timestamp], found 5`);
  });

  it('dat: user::item::value::timestamp, fractional values', async () => {
    const { rows, summary } = await readAll(fx('ratings.dat'));
    expect(summary.format).toBe('dat');
    expect(rows).toEqual([
      { user: '1', item: '1193', value: 5, timestamp: 978300760, line: 1 },
      { user: '1', item: '661', value: 3, timestamp: 978302109, line: 2 },
      { user: '2', item: '1193', value: 4.5, timestamp: 978298413, line: 3 },
    ]);
  });

  it('csv with the MovieLens header userId,movieId,rating,timestamp', async () => {
    const { rows, summary } = await readAll(fx('movielens-header.csv'));
    expect(summary).toEqual({ format: 'csv', rows: 3, rejected: 0, rejectedLines: [] });
    expect(rows).toEqual([
      { user: '1', item: '31', value: 2.5, timestamp: 1260759144, line: 2 },
      { user: '1', item: '1029', value: 3, timestamp: 1260759179, line: 3 },
      { user: '7', item: '31', value: 4, timestamp: 851868750, line: 4 },
    ]);
  });

  it('csv with the header user,item,value (no timestamp)', async () => {
    const { rows } = await readAll(fx('plain-header.csv'));
    expect(rows.map((r) => [r.user, r.item, r.value, r.timestamp])).toEqual([
      ['alice', 'sku-81x', 5, null],
      ['bob', 'sku-81x', 3, null],
      ['alice', 'sku-7', 1, null],
    ]);
  });

  it('csv with columns named by userCol/itemCol/valueCol, quoted fields, auto → csv', async () => {
    const opts = { userCol: 'who', itemCol: 'what', valueCol: 'stars' };
    const { rows, summary } = await readAll(fx('named-columns.csv'), opts);
    expect(summary.format).toBe('csv');
    expect(rows.map((r) => [r.user, r.item, r.value])).toEqual([
      ['Smith, J.', 'sku "x"', 4],
      ['lee', 'sku-y', 2.5],
    ]);
    const e = await failure(readAll(fx('named-columns.csv'), { ...opts, valueCol: 'rating' }));
    expect(e.message).toBe(`${fx('named-columns.csv')}:1: the header has no column "rating" (--value-col); it has who, note, what, stars`);
    const e2 = await failure(readAll(fx('named-columns.csv'), { format: 'csv' }));
    expect(e2.message).toMatch(/named-columns\.csv:1: the header has no user column .*--user-col/);
  });

  it('tsv: three columns, no header, extra columns ignored, CRLF and blank lines accepted', async () => {
    const { rows, summary } = await readAll(fx('ratings.tsv'));
    expect(summary).toEqual({ format: 'tsv', rows: 3, rejected: 0, rejectedLines: [] });
    expect(rows).toEqual([
      { user: 'u1', item: 'i1', value: 4, timestamp: null, line: 1 },
      { user: 'u2', item: 'i1', value: 5, timestamp: null, line: 3 },
      { user: 'u1', item: 'i2', value: 3, timestamp: null, line: 4 },
    ]);
  });

  it('an explicit format overrides the extension', async () => {
    const f = tmpFile('looks.csv', 'x\ty\t2\t100\n');
    expect((await readAll(f, { format: 'movielens' })).rows).toEqual([{ user: 'x', item: 'y', value: 2, timestamp: 100, line: 1 }]);
  });

  it('skips a UTF-8 byte order mark and keeps non-ASCII ids', async () => {
    const f = tmpFile('bom.csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('user,item,value\nzoë,café,4\n')]));
    expect((await readAll(f)).rows).toEqual([{ user: 'zoë', item: 'café', value: 4, timestamp: null, line: 2 }]);
  });

  it('reads a multi-chunk file with multi-byte characters across chunk boundaries, counting lines', async () => {
    // ~1.6 MiB: several 1 MiB chunks; ids with 2-, 3- and 4-byte UTF-8 characters.
    const lines: string[] = [];
    for (let k = 0; k < 40_000; k++) lines.push(`ü${k}😀\tî${k % 97}€\t${(k % 9) / 2 + 0.5}\t${1000 + k}`);
    const f = tmpFile('big.data', `${lines.join('\n')}\n`);
    let n = 0;
    let ok = true;
    await scanRatingsFile(f, {}, (user, item, value, ts, line) => {
      n++;
      if (user !== `ü${line - 1}😀` || item !== `î${(line - 1) % 97}€` || value !== ((line - 1) % 9) / 2 + 0.5 || ts !== 999 + line)
        ok = false;
    });
    expect(n).toBe(40_000);
    expect(ok).toBe(true);
  });

  it('readTriples returns [user, item, value] for matrixFromTriples', async () => {
    expect(await readTriples(fx('ratings.dat'))).toEqual([
      ['1', '1193', 5],
      ['1', '661', 3],
      ['2', '1193', 4.5],
    ]);
  });
});

describe('auto detection', () => {
  it('uses the extension first', () => {
    expect(detectFormat('a.csv', 'x\ty\tz')).toBe('csv');
    expect(detectFormat('a.TSV', null)).toBe('tsv');
    expect(detectFormat('ratings.dat', '1\t2\t3')).toBe('dat');
    expect(detectFormat('u.data', null)).toBe('movielens');
    expect(detectFormat('u1.base', null)).toBe('movielens');
    expect(detectFormat('u1.test', null)).toBe('movielens');
  });

  it('then the first line', () => {
    expect(detectFormat('ratings', '1::2::3::4')).toBe('dat');
    expect(detectFormat('ratings', '1\t2\t3\t4')).toBe('movielens');
    expect(detectFormat('ratings.txt', 'user,item,value')).toBe('csv');
    expect(detectFormat('ratings', 'a b c', { userCol: 'a' })).toBe('csv');
    expect(() => detectFormat('ratings.txt', 'a b c')).toThrow(/ratings\.txt:1: cannot tell the format .*--format/);
  });

  it('detects files without a telling extension by content', async () => {
    const f = tmpFile('ratings-dat', '5::6::1.5::99\n');
    expect((await readAll(f)).rows).toEqual([{ user: '5', item: '6', value: 1.5, timestamp: 99, line: 1 }]);
    const g = tmpFile('ratings-csv', 'user,item,value\n5,6,2\n');
    expect((await readAll(g)).summary.format).toBe('csv');
    const h = tmpFile('ratings-tab', '\n5\t6\t3\n');
    expect((await readAll(h)).rows).toEqual([{ user: '5', item: '6', value: 3, timestamp: null, line: 2 }]);
  });

  it('an empty file is zero rows', async () => {
    const f = tmpFile('empty.txt', '');
    expect(await readAll(f)).toEqual({ rows: [], summary: { format: 'movielens', rows: 0, rejected: 0, rejectedLines: [] } });
  });
});

describe('bad rows', () => {
  it('names the file, the line and the problem', async () => {
    const e = await failure(readAll(fx('bad.tsv')));
    expect(e.message).toBe(`${fx('bad.tsv')}:2: value "abc" is not a number`);
    expect(exitCode(e)).toBe(2);
    expect(httpStatus(e)).toBe(400);
    expect(e.details).toEqual({ file: fx('bad.tsv'), line: 2, problem: 'value "abc" is not a number' });
  });

  const cases: Array<[string, string, string]> = [
    ['movielens', 'u\ti\n', 'missing column: expected user<TAB>item<TAB>value[<TAB>timestamp], found 2 columns'],
    ['movielens', 'u i 3\n', 'missing column: expected user<TAB>item<TAB>value[<TAB>timestamp], found 1 column'],
    ['tsv', 'u\ti\n', 'missing column: expected user<TAB>item<TAB>value, found 2 columns'],
    ['movielens', '\ti\t3\n', 'empty user id'],
    ['movielens', 'u\t \t3\n', 'empty item id'],
    ['movielens', 'u\ti\t\n', 'value "" is not a number'],
    ['movielens', 'u\ti\t0x10\n', 'value "0x10" is not a number'],
    ['movielens', 'u\ti\tInfinity\n', 'value "Infinity" is not a number'],
    ['movielens', 'u\ti\t1e999\n', 'value "1e999" is not a finite number'],
    ['movielens', 'u\ti\t4\t12.5\n', 'timestamp "12.5" is not an integer (unix seconds)'],
    ['dat', 'u::i\n', 'missing column: expected user::item::value[::timestamp], found 2 fields'],
    ['dat', 'u::i::1::2::3\n', 'too many columns: expected user::item::value[::timestamp], found 5 fields'],
    ['csv', 'user,item,value\nu,i\n', 'missing column: the header names 3+ columns, found 2'],
    ['csv', 'user,item,value\n"u,i,3\n', 'unterminated double quote'],
  ];
  for (const [format, content, problem] of cases) {
    it(`${format}: ${problem}`, async () => {
      const f = tmpFile(`case.${format}`, content);
      const line = format === 'csv' ? 2 : 1;
      const e = await failure(readAll(f, { format: format as ParseOptions['format'] }));
      expect(e.message).toBe(`${f}:${line}: ${problem}`);
    });
  }

  it('skipInvalid skips bad rows, counts them and keeps the first 10 line numbers', async () => {
    const seen: Array<[number, string]> = [];
    const { rows, summary } = await readAll(fx('skip.tsv'), { skipInvalid: true, onInvalid: (l, p) => seen.push([l, p]) });
    expect(rows.map((r) => r.line)).toEqual([1, 3, 6, 8, 11, 14, 16, 19]);
    expect(summary).toEqual({ format: 'tsv', rows: 8, rejected: 12, rejectedLines: [2, 4, 5, 7, 9, 10, 12, 13, 15, 17] });
    expect(seen).toHaveLength(12);
    expect(seen[0]).toEqual([2, 'missing column: expected user<TAB>item<TAB>value, found 2 columns']);
    expect(seen[1]).toEqual([4, 'empty user id']);
    expect(seen[4]).toEqual([9, 'value "x" is not a number']);
  });

  it('a missing file, a directory and an unknown format are input errors', async () => {
    const missing = join(dir, 'nope.tsv');
    expect((await failure(readAll(missing))).message).toBe(`${missing}: no such file`);
    expect((await failure(readAll(dir))).message).toBe(`${dir}: not a regular file`);
    const e = await failure(readAll(fx('bad.tsv'), { format: 'xml' as never }));
    expect(e.message).toBe('unknown format "xml"; use one of auto, movielens, dat, csv, tsv');
    expect(exitCode(e)).toBe(2);
  });
});

describe('parseDecimal', () => {
  it('equals Number() on decimal strings (seeded random)', () => {
    const rand = mulberry32(7);
    for (let k = 0; k < 5000; k++) {
      const intPart = Math.floor(rand() * 10 ** Math.floor(rand() * 9));
      const fracDigits = Math.floor(rand() * 8);
      const frac = fracDigits === 0 ? '' : `.${String(Math.floor(rand() * 10 ** fracDigits)).padStart(fracDigits, '0')}`;
      const s = `${rand() < 0.2 ? '-' : ''}${intPart}${frac}`;
      expect(parseDecimal(s)).toBe(Number(s));
    }
  });

  it('accepts signs, exponents and surrounding spaces; refuses the rest', () => {
    expect(parseDecimal('+4')).toBe(4);
    expect(parseDecimal('.5')).toBe(0.5);
    expect(parseDecimal('5.')).toBe(5);
    expect(parseDecimal('2.5e1')).toBe(25);
    expect(parseDecimal(' 3 ')).toBe(3);
    expect(parseDecimal('12345678901234567890')).toBe(Number('12345678901234567890'));
    for (const bad of ['', '-', '.', 'abc', '1.2.3', '0x10', 'Infinity', 'NaN', '1e', '4 stars']) {
      expect(parseDecimal(bad), bad).toBeNaN();
    }
  });
});

describe('splitCsvLine', () => {
  it('splits plain and quoted fields', () => {
    expect(splitCsvLine('a,b,,c')).toEqual(['a', 'b', '', 'c']);
    expect(splitCsvLine('"a,1",b')).toEqual(['a,1', 'b']);
    expect(splitCsvLine('x,"say ""hi""",3')).toEqual(['x', 'say "hi"', '3']);
    expect(splitCsvLine('x,""')).toEqual(['x', '']);
    expect(splitCsvLine('"x",')).toEqual(['x', '']);
    expect(splitCsvLine('"open,2')).toBeNull();
  });
});
