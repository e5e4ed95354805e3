/**
 * export ratings: every stored rating with dense ids, in Parquet (several row groups when the
 * chunk is small) or CSV, the id maps, the manifest, and the holdout retrain draws left out.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { holdoutSplit } from '../../src/eval/split.js';
import { loadMatrix } from '../../src/ratings/store.js';
import { exportRatings } from '../../src/spark/export.js';
import { readIdMap, readRatingsFile } from '../../src/spark/parquet.js';
import { openStore, type SqliteStore } from '../../src/store/store.js';
import { mulberry32 } from '../../src/training/random.js';
import { runInProcess } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

let dir: string;
let cleanup: () => void;
let store: SqliteStore;
let dbPath: string;

/** 300 users × 80 items with string ids inserted in a shuffled order, values and timestamps seeded. */
function seedRatings(s: SqliteStore): { user: string; item: string; value: number; timestamp: number }[] {
  const rand = mulberry32(11);
  const rows: { user: string; item: string; value: number; timestamp: number }[] = [];
  for (let u = 0; u < 300; u++) {
    for (let i = 0; i < 80; i++) {
      if (rand() < 0.2)
        rows.push({
          user: `user-${(u * 7919) % 300}`,
          item: `sku-${(i * 31) % 80}`,
          value: 1 + Math.floor(rand() * 5),
          timestamp: 1_700_000_000 + u * 100 + i,
        });
    }
  }
  s.addRatings(rows);
  return rows;
}

beforeEach(() => {
  ({ dir, cleanup } = tempDir('ridgerec-spark-export-'));
  dbPath = join(dir, 'r.db');
  store = openStore(dbPath);
});
afterEach(() => {
  store.close();
  cleanup();
});

/** The export read back as {user, item, value, timestamp} with external ids. */
async function readBack(out: string): Promise<{ user: string; item: string; value: number; timestamp: number }[]> {
  const r = await readRatingsFile(join(out, 'ratings.parquet'));
  const users = await readIdMap(join(out, 'users.parquet'));
  const items = await readIdMap(join(out, 'items.parquet'));
  expect(Array.from(users.ids)).toEqual(Array.from(users.ids, (_, k) => k));
  return Array.from(r.users, (u, e) => ({
    user: users.external[u]!,
    item: items.external[r.items[e]!]!,
    value: r.values[e]!,
    timestamp: Number(r.ts[e]),
  }));
}

const key = (r: { user: string; item: string }) => `${r.user}|${r.item}`;

describe('exportRatings', () => {
  it('writes every rating with dense ids, streamed in row groups, and the id maps', async () => {
    const rows = seedRatings(store);
    const out = join(dir, 'out');
    const m = await exportRatings(store.db, out, { chunkRows: 1000 });
    expect(m.ratings).toBe(rows.length);
    expect(m.holdout).toBeNull();
    const file = readFileSync(join(out, 'ratings.parquet'));
    const meta = parquetMetadata(file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength));
    expect(meta.row_groups.length).toBe(Math.ceil(rows.length / 1000));
    expect(meta.row_groups.every((g) => g.columns.every((c) => c.meta_data?.codec === 'SNAPPY'))).toBe(true);
    const back = await readBack(out);
    const expected = new Map(rows.map((r) => [key(r), r]));
    expect(back).toHaveLength(expected.size);
    for (const r of back) expect(r).toEqual(expected.get(key(r)));
    // Dense ids follow the database's order: user_id 0 is the first user stored.
    const r = await readRatingsFile(join(out, 'ratings.parquet'));
    expect(r.users[0]).toBe(0);
    for (let e = 1; e < r.users.length; e++) expect(r.users[e]! >= r.users[e - 1]!).toBe(true);
    const users = await readIdMap(join(out, 'users.parquet'));
    expect(users.external[0]).toBe(rows[0]!.user);
    expect(JSON.parse(readFileSync(join(out, 'export.json'), 'utf8'))).toMatchObject({
      format: 'parquet',
      ratings: rows.length,
      users: m.users,
      items: m.items,
    });
  });

  it('numbers only users and items that have ratings', async () => {
    seedRatings(store);
    store.upsertItems([{ id: 'never-rated', title: 'Nobody bought this' }]);
    store.deleteUser('user-0');
    const m = await exportRatings(store.db, join(dir, 'out'));
    const items = await readIdMap(join(dir, 'out', 'items.parquet'));
    expect(items.external).not.toContain('never-rated');
    const users = await readIdMap(join(dir, 'out', 'users.parquet'));
    expect(users.external).not.toContain('user-0');
    expect(m.users).toBe(users.ids.length);
    const r = await readRatingsFile(join(dir, 'out', 'ratings.parquet'));
    expect(Math.max(...r.items)).toBe(m.items - 1);
  });

  it('writes CSV part files with a header when asked', async () => {
    const rows = seedRatings(store);
    const m = await exportRatings(store.db, join(dir, 'csv'), { format: 'csv', chunkRows: 500 });
    const lines = readFileSync(join(dir, 'csv', 'ratings', 'part-00000.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(lines[0]).toBe('user_id,item_id,value,ts');
    expect(lines).toHaveLength(rows.length + 1);
    expect(m.files).toEqual(['ratings/part-00000.csv', 'users.parquet', 'items.parquet']);
    const users = await readIdMap(join(dir, 'csv', 'users.parquet'));
    const items = await readIdMap(join(dir, 'csv', 'items.parquet'));
    const expected = new Map(rows.map((r) => [key(r), r]));
    for (const line of lines.slice(1, 200)) {
      const [u, i, v, t] = line.split(',').map(Number);
      const want = expected.get(`${users.external[u!]}|${items.external[i!]}`)!;
      expect([v, t]).toEqual([want.value, want.timestamp]);
    }
  });

  it('with a holdout, leaves out exactly the test part of the split retrain draws', async () => {
    seedRatings(store);
    const out = join(dir, 'held');
    const m = await exportRatings(store.db, out, { holdout: 0.25, seed: 5 });
    const { train, test } = holdoutSplit(loadMatrix(store.db), 0.25, 5);
    expect(m.ratings).toBe(train.nnz);
    expect(m.holdout).toEqual({ fraction: 0.25, seed: 5, heldOut: test.values.length, totalRatings: train.nnz + test.values.length });
    const back = new Set((await readBack(out)).map(key));
    for (let t = 0; t < test.values.length; t++) expect(back.has(`${test.userIds[t]}|${test.itemIds[t]}`)).toBe(false);
    const users = await readIdMap(join(out, 'users.parquet'));
    expect(users.external).toEqual(train.userIds);
  });

  it('replaces a previous export and leaves other files alone', async () => {
    seedRatings(store);
    const out = join(dir, 'again');
    mkdirSync(join(out, 'ratings'), { recursive: true });
    writeFileSync(join(out, 'ratings', 'part-00000.csv'), 'stale');
    writeFileSync(join(out, 'notes.txt'), 'keep me');
    await exportRatings(store.db, out);
    expect(existsSync(join(out, 'ratings'))).toBe(false);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('keep me');
    expect(existsSync(join(out, 'ratings.parquet'))).toBe(true);
  });

  it('refuses an empty database and bad options, leaving no export behind', async () => {
    await expect(exportRatings(store.db, join(dir, 'empty'))).rejects.toThrow(/no ratings to export/);
    expect(existsSync(join(dir, 'empty', 'ratings.parquet'))).toBe(false);
    seedRatings(store);
    await expect(exportRatings(store.db, join(dir, 'x'), { holdout: 1 })).rejects.toThrow(/--holdout must be a fraction > 0 and < 1/);
    await expect(exportRatings(store.db, join(dir, 'x'), { format: 'orc' as 'csv' })).rejects.toThrow(/--format must be parquet or csv/);
    writeFileSync(join(dir, 'afile'), '');
    await expect(exportRatings(store.db, join(dir, 'afile'))).rejects.toThrow(/exists and is not a directory/);
  });
});

describe('ridgerec export ratings (CLI)', () => {
  it('prints one JSON object, and exits 2 on an empty database or a bad flag', async () => {
    const empty = await runInProcess(['export', 'ratings', join(dir, 'e'), '--db', dbPath]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('no ratings to export');
    seedRatings(store);
    const r = await runInProcess(['export', 'ratings', join(dir, 'c'), '--db', dbPath, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { ratings: number; files: string[]; dir: string };
    expect(out.dir).toBe(join(dir, 'c'));
    expect(out.files).toEqual(['ratings.parquet', 'users.parquet', 'items.parquet']);
    const bad = await runInProcess(['export', 'ratings', join(dir, 'c'), '--format', 'orc', '--db', dbPath]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--format.*orc/);
    const hold = await runInProcess(['export', 'ratings', join(dir, 'c'), '--holdout', '1.5', '--db', dbPath]);
    expect(hold.code).toBe(2);
    expect(hold.stderr).toContain('--holdout');
  });
});
