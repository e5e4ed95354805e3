import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/connection.js';
import { IdIndex, numericKey } from '../../src/ratings/id-index.js';
import { dbsClosedAfterEach } from '../helpers/db.js';

const memDb = dbsClosedAfterEach();

const table = (db: Db) => db.prepare('SELECT id, external_id FROM users ORDER BY id').raw(true).all();
const IDS = ['196', '0196', '7', '0', 'sku-81x', '4194304', '99999999', 'a-very-long-external-identifier-0001', ' 7'];

describe('numericKey', () => {
  it('maps canonical small decimals to their value and everything else to -1', () => {
    expect(['0', '7', '196', '4194303'].map(numericKey)).toEqual([0, 7, 196, 4194303]);
    expect(['', '0196', '+1', '-1', '1.0', '1e3', ' 7', '4194304', '12345678', 'x1'].map(numericKey)).toEqual(new Array(10).fill(-1));
  });
});

describe.each([
  ['lookup mode', false],
  ['bulk mode', true],
])('IdIndex (%s)', (_label, bulk) => {
  it('gives each distinct external id one dense id, persisted in the table', () => {
    const db = memDb();
    db.exec('BEGIN IMMEDIATE');
    const idx = new IdIndex(db, 'users', { bulk });
    const ids = IDS.map((s) => idx.idOf(s));
    expect(new Set(ids).size).toBe(IDS.length); // "196" and "0196", "7" and " 7" are different ids
    expect(IDS.map((s) => idx.idOf(s))).toEqual(ids); // stable
    expect(idx.size).toBe(IDS.length);
    idx.flushNew();
    db.exec('COMMIT');
    expect(table(db)).toEqual(IDS.map((s, k) => [ids[k], s]).sort((a, b) => (a[0] as number) - (b[0] as number)));
  });

  it('reuses ids already in the table and counts only the ids asked about', () => {
    const db = memDb();
    db.exec("INSERT INTO users (id, external_id) VALUES (5, '196'), (9, 'alice'), (12, '3')");
    db.exec('BEGIN IMMEDIATE');
    const idx = new IdIndex(db, 'users', { bulk });
    expect(idx.idOf('alice')).toBe(9);
    expect(idx.idOf('196')).toBe(5);
    expect(idx.find('3')).toBe(12);
    expect(idx.find('nobody')).toBeUndefined();
    const bob = idx.idOf('bob');
    expect(bob).toBeGreaterThan(12);
    expect(idx.size).toBe(4);
    idx.flushNew();
    db.exec('COMMIT');
    expect(table(db)).toEqual([
      [5, '196'],
      [9, 'alice'],
      [12, '3'],
      [bob, 'bob'],
    ]);
  });

  it('writes many new ids (multi-row batches plus a tail)', () => {
    const db = memDb();
    db.exec('BEGIN IMMEDIATE');
    const idx = new IdIndex(db, 'users', { bulk });
    const ids = Array.from({ length: 700 }, (_, k) => idx.idOf(k % 2 ? `u${k}` : String(k)));
    idx.flushNew();
    db.exec('COMMIT');
    const rows = table(db) as Array<[number, string]>;
    expect(rows).toHaveLength(700);
    expect(new Map(rows.map(([id, ext]) => [ext, id]))).toEqual(new Map(ids.map((id, k) => [k % 2 ? `u${k}` : String(k), id])));
  });
});
