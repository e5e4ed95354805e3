import { existsSync, writeFileSync } from 'node:fs';
import { exitCode } from '../../src/cli/common.js';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/connection.js';
import { importRatingsFile } from '../../src/ratings/import.js';
import { loadMatrix, ratingStats, upsertRatings } from '../../src/ratings/store.js';
import { dbsClosedAfterEach, dumpDb, ratingRows } from '../helpers/db.js';
import { failure } from '../helpers/expect.js';
import { tempDir } from '../helpers/temp.js';

const FIX = join(import.meta.dirname, '../fixtures/import');
const fx = (name: string) => join(FIX, name);
const { dir, cleanup } = tempDir('ridgerec-import-');
afterAll(cleanup);
const openTestDb = dbsClosedAfterEach();
let n = 0;
const fileDb = (): Db => openTestDb(join(dir, `t${n++}.db`));

describe('importRatingsFile', () => {
  it('imports a file, storing its timestamps, and reports counts', async () => {
    const db = fileDb();
    const r = await importRatingsFile(db, fx('ratings.data'));
    expect(r).toMatchObject({ rows: 4, inserted: 4, updated: 0, users: 3, items: 4, format: 'movielens', rejected: 0 });
    expect(r.seconds).toBeGreaterThan(0);
    expect(ratingRows(db)).toEqual([
      ['186', '302', 3, 891717742],
      ['196', '242', 3, 881250949],
      ['196', '51', 2, 880606923],
      ['22', '377', 1, 878887116],
    ]);
  });

  it('stamps rows without a timestamp with `now`', async () => {
    const db = fileDb();
    await importRatingsFile(db, fx('plain-header.csv'), { now: 1234 });
    expect(ratingRows(db).map((r) => r[3])).toEqual([1234, 1234, 1234]);
  });

  it('importing the same file twice leaves the same ratings (the second time: all updates)', async () => {
    const db = fileDb();
    await importRatingsFile(db, fx('movielens-header.csv'));
    const first = dumpDb(db);
    const again = await importRatingsFile(db, fx('movielens-header.csv'));
    expect(again).toMatchObject({ rows: 3, inserted: 0, updated: 3, users: 2, items: 2 });
    expect(dumpDb(db)).toEqual(first);
  });

  it('upserts over existing ratings, last value wins, a pair repeated in the file counts as updated', async () => {
    const db = fileDb();
    upsertRatings(db, [{ user: 'a', item: 'x', value: 1, timestamp: 5 }]);
    const f = join(dir, 'repeats.tsv');
    writeFileSync(f, 'a\tx\t2\nb\tx\t3\nb\tx\t4\nb\ty\t5\nb\tx\t4.5\n');
    const r = await importRatingsFile(db, f, { now: 99 });
    expect(r).toMatchObject({ rows: 5, inserted: 2, updated: 3, users: 2, items: 2 });
    expect(ratingRows(db)).toEqual([
      ['a', 'x', 2, 99],
      ['b', 'x', 4.5, 99],
      ['b', 'y', 5, 99],
    ]);
  });

  it('a bad line fails the whole import and leaves the database exactly as it was', async () => {
    const db = fileDb();
    await importRatingsFile(db, fx('ratings.data'));
    const before = dumpDb(db);
    // Line 2 is bad; line 1 would have created u1/i1 and a rating.
    const e = await failure(importRatingsFile(db, fx('bad.tsv')));
    expect(e.message).toBe(`${fx('bad.tsv')}:2: value "abc" is not a number`);
    expect(exitCode(e)).toBe(2);
    expect(db.inTransaction).toBe(false);
    expect(dumpDb(db)).toEqual(before);
    // A bad line after many chunks of good rows already written is rolled back too.
    const big = join(dir, 'late-bad.tsv');
    const lines = Array.from({ length: 30_000 }, (_, k) => `n${k % 5000}\tm${k % 3001}\t${(k % 5) + 1}`);
    lines.push('late\tbad');
    writeFileSync(big, `${lines.join('\n')}\n`);
    const e2 = await failure(importRatingsFile(db, big, { chunkRows: 1000 }));
    expect(e2.message).toBe(`${big}:30001: missing column: expected user<TAB>item<TAB>value, found 2 columns`);
    expect(dumpDb(db)).toEqual(before);
    // The connection's settings are restored: foreign keys back on.
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
  });

  it('skipInvalid imports the valid rows and reports the rejected ones', async () => {
    const db = fileDb();
    const r = await importRatingsFile(db, fx('skip.tsv'), { skipInvalid: true });
    expect(r).toMatchObject({ rows: 8, inserted: 8, updated: 0, users: 8, items: 4, rejected: 12 });
    expect(r.rejectedLines).toEqual([2, 4, 5, 7, 9, 10, 12, 13, 15, 17]);
    expect(ratingStats(db)).toMatchObject({ users: 8, items: 4, ratings: 8 });
  });

  it('a missing file or unknown format is an input error that changes nothing', async () => {
    const db = fileDb();
    const before = dumpDb(db);
    expect(exitCode(await failure(importRatingsFile(db, join(dir, 'none.tsv'))))).toBe(2);
    expect((await failure(importRatingsFile(db, fx('ratings.tsv'), { format: 'json' as never }))).message).toMatch(/unknown format "json"/);
    expect(dumpDb(db)).toEqual(before);
  });
});

const ML100K = resolve(import.meta.dirname, '../../../shared/data/ml-100k/u.data');
if (!existsSync(ML100K)) console.log(`skipping the MovieLens 100K import test: ${ML100K} is absent`);

describe.skipIf(!existsSync(ML100K))('MovieLens 100K (../shared/data/ml-100k/u.data)', () => {
  it('finds 943 users, 1,682 items and 100,000 ratings', async () => {
    const db = fileDb();
    const r = await importRatingsFile(db, ML100K);
    expect(r).toMatchObject({ rows: 100_000, inserted: 100_000, updated: 0, users: 943, items: 1682, format: 'movielens' });
    const stats = ratingStats(db);
    expect(stats).toMatchObject({ users: 943, items: 1682, ratings: 100_000, minValue: 1, maxValue: 5 });
    expect(stats.meanValue).toBeCloseTo(3.52986, 5);
    const m = loadMatrix(db);
    expect([m.nUsers, m.nItems, m.nnz]).toEqual([943, 1682, 100_000]);
    // Every user has at least 20 ratings (the data set's README).
    let least = Infinity;
    for (let u = 0; u < m.nUsers; u++) least = Math.min(least, m.byUser.indptr[u + 1]! - m.byUser.indptr[u]!);
    expect(least).toBe(20);
    // Re-importing changes nothing.
    const again = await importRatingsFile(db, ML100K);
    expect(again).toMatchObject({ inserted: 0, updated: 100_000 });
    expect(ratingStats(db)).toEqual(stats);
  });
});
