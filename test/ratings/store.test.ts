import { describe, expect, it } from 'vitest';
import { Busy, RidgerecError } from '../../src/errors.js';
import { matrixFromTriples, type Csr, type RatingMatrix } from '../../src/ratings/matrix.js';
import {
  deleteUser,
  itemTitles,
  loadMatrix,
  loadMatrixParallel,
  popularItems,
  ratingStats,
  RatingWriter,
  sortByUserItem,
  upsertItems,
  upsertRatings,
  userRatings,
} from '../../src/ratings/store.js';
import { mulberry32 } from '../../src/training/random.js';
import { dbsClosedAfterEach, ratingRows } from '../helpers/db.js';
import { tempDb } from '../helpers/temp.js';

const memDb = dbsClosedAfterEach();

function csr(c: Csr): { indptr: number[]; indices: number[]; values: number[] } {
  return { indptr: [...c.indptr], indices: [...c.indices], values: [...c.values] };
}

describe('upsertRatings', () => {
  it('inserts new pairs, creating users and items, and counts them', () => {
    const db = memDb();
    const r = upsertRatings(db, [
      { user: 'alice', item: 'sku-1', value: 5, timestamp: 100 },
      { user: 'bob', item: 'sku-1', value: 3, timestamp: 200 },
      { user: 'alice', item: 'sku-2', value: 1, timestamp: 300 },
    ]);
    expect(r).toEqual({ inserted: 3, updated: 0 });
    expect(ratingRows(db)).toEqual([
      ['alice', 'sku-1', 5, 100],
      ['alice', 'sku-2', 1, 300],
      ['bob', 'sku-1', 3, 200],
    ]);
    expect(db.prepare('SELECT count(*) FROM users').pluck().get()).toBe(2);
    expect(db.prepare('SELECT count(*) FROM items').pluck().get()).toBe(2);
  });

  it('the last value for a pair wins, across calls and within one batch', () => {
    const db = memDb();
    upsertRatings(db, [{ user: 'u', item: 'i', value: 1, timestamp: 10 }]);
    const r = upsertRatings(db, [
      { user: 'u', item: 'i', value: 2, timestamp: 20 },
      { user: 'u', item: 'j', value: 4, timestamp: 21 },
      { user: 'u', item: 'i', value: 3, timestamp: 30 },
    ]);
    expect(r).toEqual({ inserted: 1, updated: 2 });
    expect(ratingRows(db)).toEqual([
      ['u', 'i', 3, 30],
      ['u', 'j', 4, 21],
    ]);
  });

  it('stamps ratings without a timestamp with the current time', () => {
    const db = memDb();
    const before = Math.floor(Date.now() / 1000);
    upsertRatings(db, [{ user: 'u', item: 'i', value: 1 }]);
    const at = ratingRows(db)[0]![3];
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
  });

  it('is all or nothing: a bad rating names its index and field and writes nothing', () => {
    const db = memDb();
    upsertRatings(db, [{ user: 'u', item: 'i', value: 1, timestamp: 1 }]);
    const bad = [
      { user: 'v', item: 'i', value: 2 },
      { user: 'w', item: 'i', value: Number.NaN },
    ];
    expect(() => upsertRatings(db, bad)).toThrow(RidgerecError);
    expect(() => upsertRatings(db, bad)).toThrow('ratings[1].value must be a finite number, got NaN');
    expect(() => upsertRatings(db, [{ user: '', item: 'i', value: 1 }])).toThrow('ratings[0].user must be a non-empty string');
    expect(() => upsertRatings(db, [{ user: 'u', item: 'i', value: 1, timestamp: 1.5 }])).toThrow(
      'ratings[0].timestamp must be an integer (unix seconds), got 1.5',
    );
    expect(ratingRows(db)).toEqual([['u', 'i', 1, 1]]);
    expect(db.prepare('SELECT count(*) FROM users').pluck().get()).toBe(1);
  });

  it('handles a large batch (multi-row statements and the single-row tail) like the naive upsert', () => {
    const db = memDb();
    const rand = mulberry32(3);
    const input = Array.from({ length: 3000 }, (_, k) => ({
      user: `u${Math.floor(rand() * 40)}`,
      item: `i${Math.floor(rand() * 60)}`,
      value: Math.floor(rand() * 5) + 1,
      timestamp: k,
    }));
    const expected = new Map<string, [number, number]>();
    let inserted = 0;
    for (const r of input) {
      const key = `${r.user}\u0000${r.item}`;
      if (!expected.has(key)) inserted++;
      expected.set(key, [r.value, r.timestamp]);
    }
    expect(upsertRatings(db, input)).toEqual({ inserted, updated: input.length - inserted });
    const rows = ratingRows(db);
    expect(rows).toHaveLength(expected.size);
    for (const [u, i, v, t] of rows) expect([v, t]).toEqual(expected.get(`${u}\u0000${i}`));
  });
});

describe('RatingWriter', () => {
  it.each([
    ['per-row updated_at', false, false],
    ['one shared updated_at', true, false],
    ['per-row updated_at, bulk ids', false, true],
    ['one shared updated_at, bulk ids', true, true],
  ])('gives the same end state and counts as row-by-row upserts, across chunk flushes (%s)', (_label, sameTime, bulk) => {
    const db = memDb();
    const rand = mulberry32(11);
    // Pre-existing ratings, then a stream with repeats inside and across chunks of 37 rows.
    upsertRatings(db, [
      { user: 'u1', item: 'i1', value: 1, timestamp: 1 },
      { user: 'u2', item: 'i3', value: 2, timestamp: 1 },
    ]);
    const expected = new Map<string, [number, number]>([
      ['u1|i1', [1, 1]],
      ['u2|i3', [2, 1]],
    ]);
    let inserted = 0;
    let updated = 0;
    db.exec('BEGIN');
    const w = new RatingWriter(db, { chunkRows: 37, batchRows: 8, bulk });
    for (let k = 0; k < 500; k++) {
      const u = `u${Math.floor(rand() * 7)}`;
      const i = `i${Math.floor(rand() * 9)}`;
      const v = Math.floor(rand() * 10) / 2;
      if (expected.has(`${u}|${i}`)) updated++;
      else inserted++;
      const t = sameTime ? 77 : k;
      expected.set(`${u}|${i}`, [v, t]);
      w.add(u, i, v, t);
    }
    w.flush();
    db.exec('COMMIT');
    expect(w.counts()).toEqual({ inserted, updated });
    const rows = ratingRows(db);
    expect(new Map(rows.map(([u, i, v, t]) => [`${u}|${i}`, [v, t]]))).toEqual(expected);
  });
});

describe('sortByUserItem', () => {
  it('sorts by (user, item) and keeps input order for equal keys, also above 2^16', () => {
    const rand = mulberry32(5);
    const n = 2000;
    const users = new Int32Array(n);
    const items = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      users[k] = rand() < 0.5 ? Math.floor(rand() * 5) : 70_000 + Math.floor(rand() * 200_000);
      items[k] = rand() < 0.5 ? Math.floor(rand() * 3) : 65_000 + Math.floor(rand() * 3_000_000);
    }
    const order = [...sortByUserItem(users, items, n)];
    const expected = Array.from({ length: n }, (_, k) => k).sort((a, b) => users[a]! - users[b]! || items[a]! - items[b]! || a - b);
    expect(order).toEqual(expected);
    // Reused scratch arrays (bigger than n, holding an earlier result) give the same answer.
    const scratch = { a: new Int32Array(n + 5).fill(7), b: new Int32Array(n + 5).fill(3), digit: new Uint16Array(n + 5) };
    expect([...sortByUserItem(users, items, n, scratch).subarray(0, n)]).toEqual(expected);
    expect([...sortByUserItem(users, items, n, scratch).subarray(0, n)]).toEqual(expected);
  });
});

describe('userRatings and deleteUser', () => {
  it('returns a user’s ratings by external item id; [] for an unknown user', () => {
    const db = memDb();
    upsertRatings(db, [
      { user: 'u', item: 'b', value: 2 },
      { user: 'u', item: 'a', value: 4.5 },
      { user: 'v', item: 'a', value: 1 },
    ]);
    expect(userRatings(db, 'u')).toEqual([
      { item: 'b', value: 2 },
      { item: 'a', value: 4.5 },
    ]);
    expect(userRatings(db, 'nobody')).toEqual([]);
  });

  it('deletes the user row and its ratings; false for an unknown user', () => {
    const db = memDb();
    upsertRatings(db, [
      { user: 'u', item: 'a', value: 2 },
      { user: 'v', item: 'a', value: 1 },
    ]);
    expect(deleteUser(db, 'u')).toBe(true);
    expect(userRatings(db, 'u')).toEqual([]);
    expect(ratingRows(db).map((r) => r[0])).toEqual(['v']);
    expect(db.prepare('SELECT external_id FROM users').pluck().all()).toEqual(['v']);
    expect(deleteUser(db, 'u')).toBe(false);
  });
});

describe('popularItems', () => {
  it('orders by rating count, most first, ties by item id', () => {
    const db = memDb();
    upsertRatings(db, [
      { user: 'u1', item: 'c', value: 1 },
      { user: 'u2', item: 'c', value: 1 },
      { user: 'u3', item: 'c', value: 1 },
      { user: 'u1', item: 'b', value: 1 },
      { user: 'u2', item: 'b', value: 1 },
      { user: 'u3', item: 'a', value: 1 },
      { user: 'u1', item: 'a', value: 1 },
      { user: 'u1', item: 'z', value: 1 },
    ]);
    expect(popularItems(db, 10)).toEqual([
      { item: 'c', count: 3 },
      { item: 'a', count: 2 },
      { item: 'b', count: 2 },
      { item: 'z', count: 1 },
    ]);
    expect(popularItems(db, 2)).toEqual([
      { item: 'c', count: 3 },
      { item: 'a', count: 2 },
    ]);
    expect(popularItems(db, 0)).toEqual([]);
    expect(() => popularItems(db, -1)).toThrow(/limit must be a non-negative integer/);
    expect(popularItems(memDb(), 5)).toEqual([]);
  });

  it('agrees with the SQL GROUP BY reference on random data, for every limit', () => {
    const db = memDb();
    const rand = mulberry32(21);
    upsertItems(db, [{ id: 'never-rated' }]);
    upsertRatings(
      db,
      Array.from({ length: 1500 }, () => ({ user: `u${Math.floor(rand() * 60)}`, item: `i${Math.floor(rand() * rand() * 80)}`, value: 1 })),
    );
    const reference = (limit: number) =>
      db
        .prepare(
          `SELECT i.external_id AS item, count(*) AS count FROM ratings r JOIN items i ON i.id = r.item_id
            GROUP BY r.item_id ORDER BY count DESC, i.external_id LIMIT ?`,
        )
        .all(limit);
    for (const limit of [1, 2, 5, 17, 80, 200]) expect(popularItems(db, limit)).toEqual(reference(limit));
  });
});

describe('ratingStats', () => {
  it('is zeros and nulls on an empty database', () => {
    expect(ratingStats(memDb())).toEqual({ users: 0, items: 0, ratings: 0, minValue: null, maxValue: null, meanValue: null });
  });

  it('counts and summarises values', () => {
    const db = memDb();
    upsertRatings(db, [
      { user: 'u1', item: 'a', value: 1 },
      { user: 'u1', item: 'b', value: 4.5 },
      { user: 'u2', item: 'a', value: 2 },
    ]);
    upsertItems(db, [{ id: 'no-ratings-yet' }]);
    expect(ratingStats(db)).toEqual({ users: 2, items: 3, ratings: 3, minValue: 1, maxValue: 4.5, meanValue: 2.5 });
  });
});

describe('upsertItems', () => {
  it('creates items and updates only the fields given', () => {
    const db = memDb();
    expect(upsertItems(db, [{ id: 'a', title: 'Alpha', metadata: { genre: ['x'] } }, { id: 'b' }])).toBe(2);
    const rows = () => db.prepare('SELECT external_id, title, metadata FROM items ORDER BY external_id').raw(true).all();
    expect(rows()).toEqual([
      ['a', 'Alpha', '{"genre":["x"]}'],
      ['b', null, null],
    ]);
    upsertItems(db, [
      { id: 'a', metadata: null },
      { id: 'b', title: 'Beta' },
    ]);
    expect(rows()).toEqual([
      ['a', 'Alpha', null],
      ['b', 'Beta', null],
    ]);
    // An item created by metadata keeps its dense id when ratings arrive later.
    upsertRatings(db, [{ user: 'u', item: 'b', value: 1 }]);
    expect(db.prepare('SELECT count(*) FROM items').pluck().get()).toBe(2);
    expect(() => upsertItems(db, [{ id: '' }])).toThrow('items[0].id must be a non-empty string');
  });
});

describe('loadMatrix', () => {
  it('builds both CSR layouts exactly, skipping users and items without ratings', () => {
    const db = memDb();
    // Dense ids follow creation order: users x(1) y(2) z(3) w(4); items p(1) q(2) r(3) s(4).
    upsertItems(db, [{ id: 'p' }, { id: 'q' }, { id: 'r' }, { id: 's' }]);
    upsertRatings(db, [
      { user: 'x', item: 's', value: 4 },
      { user: 'x', item: 'p', value: 1 },
      { user: 'y', item: 'q', value: 2 },
      { user: 'z', item: 'p', value: 3 },
      { user: 'z', item: 's', value: 5 },
      { user: 'w', item: 'q', value: 0.5 },
    ]);
    deleteUser(db, 'y');
    const m = loadMatrix(db);
    // users with ratings: x, z, w; items with ratings: p, q, s (r has none).
    expect(m.nUsers).toBe(3);
    expect(m.nItems).toBe(3);
    expect(m.nnz).toBe(5);
    expect(m.userIds).toEqual(['x', 'z', 'w']);
    expect(m.itemIds).toEqual(['p', 'q', 's']);
    expect(csr(m.byUser)).toEqual({ indptr: [0, 2, 4, 5], indices: [0, 2, 0, 2, 1], values: [1, 4, 3, 5, 0.5] });
    expect(csr(m.byItem)).toEqual({ indptr: [0, 2, 3, 5], indices: [0, 1, 2, 0, 1], values: [1, 3, 0.5, 4, 5] });
    expect(m.byUser.indices.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(m.byItem.values.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('refuses ratings whose user or item row is missing (written with foreign keys off)', () => {
    const db = memDb();
    upsertRatings(db, [{ user: 'u', item: 'i', value: 1 }]);
    db.pragma('foreign_keys = OFF');
    db.exec('INSERT INTO ratings (user_id, item_id, value, updated_at) VALUES (99, 1, 2, 0)');
    expect(() => loadMatrix(db)).toThrow('loadMatrix: rating for user id 99, which the users table does not have');
    db.exec('DELETE FROM ratings WHERE user_id = 99; INSERT INTO ratings (user_id, item_id, value, updated_at) VALUES (1, 42, 2, 0)');
    expect(() => loadMatrix(db)).toThrow('loadMatrix: rating for item id 42, which the items table does not have');
  });

  it('an empty database is an empty matrix', () => {
    const m = loadMatrix(memDb());
    expect([m.nUsers, m.nItems, m.nnz, m.userIds, m.itemIds]).toEqual([0, 0, 0, [], []]);
    expect(csr(m.byUser)).toEqual({ indptr: [0], indices: [], values: [] });
  });

  it('agrees with matrixFromTriples on random data (up to id order)', () => {
    const db = memDb();
    const rand = mulberry32(9);
    const triples: Array<[string, string, number]> = [];
    for (let k = 0; k < 2000; k++)
      triples.push([`u${Math.floor(rand() * 90)}`, `i${Math.floor(rand() * 70)}`, Math.floor(rand() * 10) / 2]);
    upsertRatings(
      db,
      triples.map(([user, item, value]) => ({ user, item, value })),
    );
    const m = loadMatrix(db);
    const ref = matrixFromTriples(triples);
    const asMap = (x: RatingMatrix) => {
      const out = new Map<string, number>();
      for (let u = 0; u < x.nUsers; u++) {
        for (let e = x.byUser.indptr[u]!; e < x.byUser.indptr[u + 1]!; e++)
          out.set(`${x.userIds[u]}|${x.itemIds[x.byUser.indices[e]!]}`, x.byUser.values[e]!);
      }
      return out;
    };
    expect(m.nnz).toBe(ref.nnz);
    expect(asMap(m)).toEqual(asMap(ref));
    for (let u = 0; u < m.nUsers; u++) {
      for (let e = m.byUser.indptr[u]! + 1; e < m.byUser.indptr[u + 1]!; e++) {
        expect(m.byUser.indices[e]!).toBeGreaterThan(m.byUser.indices[e - 1]!);
      }
    }
  });

  it('scans the ratings table in primary-key order without a sort', () => {
    const db = memDb();
    // The same query shape loadMatrix runs (with a built-in aggregate in place of its own).
    const plan = db
      .prepare('EXPLAIN QUERY PLAN SELECT count(value) FROM (SELECT user_id, item_id, value FROM ratings ORDER BY user_id, item_id)')
      .all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toMatch(/SCAN ratings/);
    expect(plan.map((p) => p.detail).join(' ')).not.toMatch(/TEMP B-TREE|USE INDEX/);
  });
});

describe('loadMatrixParallel', () => {
  const same = (a: RatingMatrix, b: RatingMatrix): void => {
    expect([b.nUsers, b.nItems, b.nnz]).toEqual([a.nUsers, a.nItems, a.nnz]);
    expect(b.userIds).toEqual(a.userIds);
    expect(b.itemIds).toEqual(a.itemIds);
    expect(csr(b.byUser)).toEqual(csr(a.byUser));
    expect(csr(b.byItem)).toEqual(csr(a.byItem));
  };

  it('reads the same matrix as loadMatrix on two threads: gaps in the ids, users and items without ratings, one user straddling nothing', async () => {
    const t = tempDb();
    try {
      const rand = mulberry32(17);
      const rows: { user: string; item: string; value: number }[] = [];
      upsertItems(t.db, [{ id: 'unrated-item' }]);
      for (let u = 0; u < 300; u++) {
        for (let i = 0; i < 60; i++)
          if (rand() < 0.2) rows.push({ user: `u${u}`, item: `i${(i * 7) % 60}`, value: 1 + Math.floor(rand() * 5) });
      }
      upsertRatings(t.db, rows);
      for (const u of ['u3', 'u150', 'u151', 'u299']) deleteUser(t.db, u);
      const mmap = t.db.pragma('mmap_size', { simple: true });
      const two = await loadMatrixParallel(t.db, { minRatings: 0 });
      same(loadMatrix(t.db), two);
      expect(two.nnz).toBeGreaterThan(3000);
      expect(t.db.inTransaction).toBe(false);
      expect(t.db.pragma('mmap_size', { simple: true })).toBe(mmap);
      // Only the upper half (user ids above the middle) or only the lower half rated: one reader finds nothing.
      for (const keep of ['low', 'high'] as const) {
        const u = tempDb();
        try {
          upsertRatings(u.db, [
            { user: 'a', item: 'x', value: 1 },
            { user: 'b', item: 'y', value: 2 },
            { user: 'c', item: 'x', value: 3 },
            { user: 'd', item: 'z', value: 4 },
          ]);
          for (const gone of keep === 'low' ? ['c', 'd'] : ['a', 'b']) deleteUser(u.db, gone);
          same(loadMatrix(u.db), await loadMatrixParallel(u.db, { minRatings: 0 }));
        } finally {
          u.cleanup();
        }
      }
    } finally {
      t.cleanup();
    }
  });

  it('reads one snapshot: a writer that commits while it runs is either wholly in it or wholly out', async () => {
    const t = tempDb();
    try {
      upsertRatings(
        t.db,
        Array.from({ length: 2000 }, (_, e) => ({ user: `u${e % 200}`, item: `i${Math.floor(e / 200)}`, value: 1 })),
      );
      const writer = t.open();
      writer.pragma('busy_timeout = 0'); // retried on timers below, as the serving core does: a busy wait here would stall the loader
      const loading = loadMatrixParallel(t.db, { minRatings: 0 });
      // A batch touching both halves, committed while the loader runs (or after its snapshot lock).
      const write = async (): Promise<void> => {
        for (;;) {
          try {
            upsertRatings(writer, [
              { user: 'u0', item: 'new', value: 5 },
              { user: 'u199', item: 'new', value: 5 },
            ]);
            return;
          } catch (e) {
            if (!(e instanceof Busy)) throw e;
            await new Promise((r) => setTimeout(r, 1));
          }
        }
      };
      await write();
      const m = await loading;
      expect([2000, 2002]).toContain(m.nnz);
      expect(m.byUser.indptr[m.nUsers]).toBe(m.nnz);
    } finally {
      t.cleanup();
    }
  });

  it('an in-memory database, or fewer ratings than minRatings, reads on this thread as loadMatrix does', async () => {
    const db = memDb();
    upsertRatings(db, [
      { user: 'a', item: 'x', value: 1 },
      { user: 'b', item: 'y', value: 2 },
    ]);
    same(loadMatrix(db), await loadMatrixParallel(db, { minRatings: 0 }));
  });
});

describe('per-connection state', () => {
  it('two connections to one file each count updates, count items, load the matrix and read titles', () => {
    const t = tempDb();
    try {
      const a = t.db;
      const b = t.open();
      expect(
        upsertRatings(a, [
          { user: 'u1', item: 'i1', value: 1 },
          { user: 'u1', item: 'i2', value: 2 },
        ]),
      ).toEqual({ inserted: 2, updated: 0 });
      expect(
        upsertRatings(b, [
          { user: 'u1', item: 'i1', value: 3 },
          { user: 'u2', item: 'i1', value: 1 },
        ]),
      ).toEqual({ inserted: 1, updated: 1 });
      expect(upsertRatings(a, [{ user: 'u2', item: 'i1', value: 5 }])).toEqual({ inserted: 0, updated: 1 });
      upsertItems(b, [{ id: 'i2', title: 'Two' }]);
      for (const db of [a, b]) {
        expect(popularItems(db, 5)).toEqual([
          { item: 'i1', count: 2 },
          { item: 'i2', count: 1 },
        ]);
        const mmap = db.pragma('mmap_size', { simple: true });
        const m = loadMatrix(db);
        expect(db.pragma('mmap_size', { simple: true })).toBe(mmap); // the connection's settings are left as they were
        expect([m.nUsers, m.nItems, m.nnz]).toEqual([2, 2, 3]);
        expect(csr(m.byUser).values).toEqual([3, 2, 5]);
        expect([...itemTitles(db, ['i1', 'i2'])]).toEqual([['i2', 'Two']]);
      }
    } finally {
      t.cleanup();
    }
  });

  it('a scan that fails leaves its connection usable, and a new connection starts fresh', () => {
    const t = tempDb();
    try {
      upsertRatings(t.db, [{ user: 'u', item: 'i', value: 1 }]);
      t.db.pragma('foreign_keys = OFF');
      t.db.exec('INSERT INTO ratings (user_id, item_id, value, updated_at) VALUES (99, 1, 2, 0)');
      expect(() => loadMatrix(t.db)).toThrow(/user id 99/);
      t.db.exec('DELETE FROM ratings WHERE user_id = 99');
      expect(loadMatrix(t.db).nnz).toBe(1);
      expect(upsertRatings(t.db, [{ user: 'u', item: 'i', value: 4 }])).toEqual({ inserted: 0, updated: 1 });
      t.db.close();
      const again = t.open();
      expect(
        upsertRatings(again, [
          { user: 'u', item: 'i', value: 2 },
          { user: 'v', item: 'i', value: 2 },
        ]),
      ).toEqual({
        inserted: 1,
        updated: 1,
      });
      expect(popularItems(again, 1)).toEqual([{ item: 'i', count: 2 }]);
    } finally {
      t.cleanup();
    }
  });
});
