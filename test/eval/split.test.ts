import { describe, expect, it } from 'vitest';
import { alignTestSet, holdoutSplit, splitByMask } from '../../src/eval/split.js';
import { matrixFromCoo, matrixFromTriples, type RatingMatrix } from '../../src/ratings/matrix.js';
import { RidgerecError } from '../../src/errors.js';
import { mulberry32 } from '../../src/training/random.js';

/** A random sparse matrix: user u has 1 + (u mod 13) ratings on distinct items, values 1..5. */
function randomMatrix(seed: number, nUsers = 60, nItems = 40): RatingMatrix {
  const rand = mulberry32(seed);
  const triples: [string, string, number][] = [];
  for (let u = 0; u < nUsers; u++) {
    const want = 1 + (u % 13);
    const items = new Set<number>();
    while (items.size < want) items.add(Math.floor(rand() * nItems));
    for (const i of items) triples.push([`u${u}`, `item:${i}`, 1 + Math.floor(rand() * 5)]);
  }
  return matrixFromTriples(triples);
}

function triplesOf(m: RatingMatrix): string[] {
  const out: string[] = [];
  for (let u = 0; u < m.nUsers; u++) {
    for (let e = m.byUser.indptr[u]!; e < m.byUser.indptr[u + 1]!; e++) {
      out.push(`${m.userIds[u]}|${m.itemIds[m.byUser.indices[e]!]}|${m.byUser.values[e]}`);
    }
  }
  return out;
}

describe('splitByMask builds the train matrix directly', () => {
  it('equal, array for array, to matrixFromCoo over the same train triples (users and items re-indexed)', () => {
    const m = randomMatrix(17, 80, 50);
    const rand = mulberry32(2);
    const mask = Uint8Array.from({ length: m.nnz }, () => (rand() < 0.3 ? 1 : 0));
    const { train } = splitByMask(m, mask);
    const us: number[] = [];
    const is: number[] = [];
    const vs: number[] = [];
    const userAt = new Map(train.userIds.map((id, j) => [id, j]));
    const itemAt = new Map(train.itemIds.map((id, j) => [id, j]));
    for (let u = 0; u < m.nUsers; u++) {
      for (let e = m.byUser.indptr[u]!; e < m.byUser.indptr[u + 1]!; e++) {
        if (mask[e] === 1) continue;
        us.push(userAt.get(m.userIds[u]!)!);
        is.push(itemAt.get(m.itemIds[m.byUser.indices[e]!]!)!);
        vs.push(m.byUser.values[e]!);
      }
    }
    const ref = matrixFromCoo(Int32Array.from(us), Int32Array.from(is), Float32Array.from(vs), train.userIds, train.itemIds);
    expect(train.nnz).toBe(ref.nnz);
    expect([train.nUsers, train.nItems]).toEqual([ref.nUsers, ref.nItems]);
    for (const side of ['byUser', 'byItem'] as const) {
      expect(Array.from(train[side].indptr)).toEqual(Array.from(ref[side].indptr));
      expect(Array.from(train[side].indices)).toEqual(Array.from(ref[side].indices));
      expect(Array.from(train[side].values)).toEqual(Array.from(ref[side].values));
    }
  });
});

describe('holdoutSplit', () => {
  const full = randomMatrix(7);

  it('is deterministic for a seed and differs across seeds', () => {
    const a = holdoutSplit(full, 0.2, 123);
    const b = holdoutSplit(full, 0.2, 123);
    const c = holdoutSplit(full, 0.2, 124);
    expect(Array.from(a.test.users)).toEqual(Array.from(b.test.users));
    expect(Array.from(a.test.items)).toEqual(Array.from(b.test.items));
    expect(a.test.itemIds).toEqual(b.test.itemIds);
    expect(triplesOf(a.train)).toEqual(triplesOf(b.train));
    expect(a.test.itemIds.map((x, t) => `${a.test.userIds[t]}|${x}`)).not.toEqual(
      c.test.itemIds.map((x, t) => `${c.test.userIds[t]}|${x}`),
    );
  });

  it.each([0.1, 0.2, 0.5, 0.9])('holds out round(fraction·n), clamped to 1..n−1, per user (fraction %s)', (f) => {
    const { test } = holdoutSplit(full, f, 1);
    const perUser = new Map<string, number>();
    for (const u of test.userIds) perUser.set(u, (perUser.get(u) ?? 0) + 1);
    for (let u = 0; u < full.nUsers; u++) {
      const n = full.byUser.indptr[u + 1]! - full.byUser.indptr[u]!;
      const want = n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(f * n)));
      expect(perUser.get(full.userIds[u]!) ?? 0).toBe(want);
    }
  });

  it('partitions the ratings: train ∪ test = all, disjoint, ids resolved in the train index space', () => {
    const { train, test } = holdoutSplit(full, 0.5, 99);
    const testTriples = test.userIds.map((u, t) => `${u}|${test.itemIds[t]}|${test.values[t]}`);
    expect([...triplesOf(train), ...testTriples].sort()).toEqual(triplesOf(full).sort());
    expect(train.nnz + test.users.length).toBe(full.nnz);
    const trainItems = new Set(train.itemIds);
    let unseenItems = 0;
    for (let t = 0; t < test.users.length; t++) {
      // Every user keeps ≥1 training rating, so users always resolve.
      expect(train.userIds[test.users[t]!]).toBe(test.userIds[t]);
      const i = test.items[t]!;
      if (i < 0) {
        unseenItems++;
        expect(trainItems.has(test.itemIds[t]!)).toBe(false);
      } else {
        expect(train.itemIds[i]).toBe(test.itemIds[t]);
      }
    }
    // With half of every user's ratings held out, some sparsely rated item loses all its ratings.
    expect(unseenItems).toBeGreaterThan(0);
    // The train matrix only contains items with at least one training rating.
    for (let i = 0; i < train.nItems; i++) expect(train.byItem.indptr[i + 1]! - train.byItem.indptr[i]!).toBeGreaterThan(0);
  });

  it('keeps single-rating users entirely in train', () => {
    const m = matrixFromTriples([
      ['a', 'x', 1],
      ['b', 'x', 2],
      ['b', 'y', 3],
    ]);
    const { train, test } = holdoutSplit(m, 0.9, 5);
    expect(test.userIds).toEqual(['b']);
    expect(train.userIds).toContain('a');
  });

  it('rejects a fraction outside (0, 1) and a non-integer seed, naming the range', () => {
    for (const f of [0, 1, -0.1, 1.5, NaN]) {
      expect(() => holdoutSplit(full, f, 1)).toThrow(/holdout fraction must be a number > 0 and < 1/);
    }
    expect(() => holdoutSplit(full, 0.2, 1.5)).toThrow(RidgerecError);
  });
});

describe('alignTestSet', () => {
  it('maps ids onto the train index space, -1 for unseen, keeping order and values', () => {
    const train = matrixFromTriples([
      ['u1', 'a', 5],
      ['u2', 'b', 3],
    ]);
    const t = alignTestSet(train, [
      ['u2', 'a', 4],
      ['u3', 'b', 2],
      ['u1', 'zz', 1],
    ]);
    expect(Array.from(t.users)).toEqual([1, -1, 0]);
    expect(Array.from(t.items)).toEqual([0, 1, -1]);
    expect(Array.from(t.values)).toEqual([4, 2, 1]);
    expect(t.userIds).toEqual(['u2', 'u3', 'u1']);
    expect(t.itemIds).toEqual(['a', 'b', 'zz']);
  });
});

describe('splitByMask', () => {
  it('re-indexes train to the users/items it keeps and marks the rest -1 in test', () => {
    // u1 rates a, b; u2 rates b, c. Hold out (u1,a) and (u2,c): item a and c vanish from train.
    const m = matrixFromTriples([
      ['u1', 'a', 1],
      ['u1', 'b', 2],
      ['u2', 'b', 3],
      ['u2', 'c', 4],
      ['u3', 'c', 5],
    ]);
    // byUser order: u1:[a,b], u2:[b,c], u3:[c]
    const { train, test } = splitByMask(m, Uint8Array.from([1, 0, 0, 1, 1]));
    expect(train.userIds).toEqual(['u1', 'u2']);
    expect(train.itemIds).toEqual(['b']);
    expect(train.nnz).toBe(2);
    expect([...test.values]).toEqual([1, 4, 5]);
    expect(test.userIds).toEqual(['u1', 'u2', 'u3']);
    expect(test.itemIds).toEqual(['a', 'c', 'c']);
    expect([...test.users]).toEqual([0, 1, -1]);
    expect([...test.items]).toEqual([-1, -1, -1]);
  });
});
