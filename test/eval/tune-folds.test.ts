import { describe, expect, it } from 'vitest';
import { expandFoldPattern, kFoldAssignment, kFoldSplit } from '../../src/eval/tune.js';
import { matrixFromTriples, type RatingMatrix } from '../../src/ratings/matrix.js';

/** Users u0..u(n-1): user j rates j+1 items (so counts 1..n), values from a fixed formula. */
function staircase(nUsers: number): RatingMatrix {
  const triples: [string, string, number][] = [];
  for (let u = 0; u < nUsers; u++) {
    for (let i = 0; i <= u; i++) triples.push([`u${u}`, `i${(i * 7 + u) % 30}`, 1 + ((u + i) % 5)]);
  }
  return matrixFromTriples(triples);
}

function pairs(m: RatingMatrix): Map<string, number> {
  const out = new Map<string, number>();
  for (let u = 0; u < m.nUsers; u++) {
    for (let e = m.byUser.indptr[u]!; e < m.byUser.indptr[u + 1]!; e++) {
      out.set(`${m.userIds[u]}|${m.itemIds[m.byUser.indices[e]!]}`, m.byUser.values[e]!);
    }
  }
  return out;
}

describe('per-user K-fold', () => {
  const m = staircase(40);

  it('puts every rating of a user with ≥2 ratings in exactly one test fold, evenly', () => {
    const k = 5;
    const a = kFoldAssignment(m, k, 42);
    for (let u = 0; u < m.nUsers; u++) {
      const start = m.byUser.indptr[u]!;
      const n = m.byUser.indptr[u + 1]! - start;
      const counts = new Array<number>(k).fill(0);
      for (let e = start; e < start + n; e++) {
        if (n < 2) expect(a[e]).toBe(-1);
        else counts[a[e]!]!++;
      }
      if (n >= 2) {
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        expect(counts.reduce((s, c) => s + c, 0)).toBe(n);
      }
    }
  });

  it('is deterministic for a seed and differs across seeds', () => {
    expect([...kFoldAssignment(m, 5, 7)]).toEqual([...kFoldAssignment(m, 5, 7)]);
    expect([...kFoldAssignment(m, 5, 7)]).not.toEqual([...kFoldAssignment(m, 5, 8)]);
  });

  it('builds K folds whose test sets partition the tested ratings and whose train is the rest', () => {
    const all = pairs(m);
    const folds = kFoldSplit(m, 4, 3);
    expect(folds.map((f) => f.name)).toEqual(['fold 1/4', 'fold 2/4', 'fold 3/4', 'fold 4/4']);
    const seen = new Map<string, number>();
    for (const f of folds) {
      const tr = pairs(f.train);
      const te = new Map<string, number>();
      for (let j = 0; j < f.test.values.length; j++) te.set(`${f.test.userIds[j]}|${f.test.itemIds[j]}`, f.test.values[j]!);
      expect(tr.size + te.size).toBe(all.size);
      for (const [key, v] of te) {
        expect(tr.has(key)).toBe(false);
        expect(all.get(key)).toBe(v);
        seen.set(key, (seen.get(key) ?? 0) + 1);
        // test indices point at the same ids in the train matrix (or -1)
      }
      for (let j = 0; j < f.test.values.length; j++) {
        const u = f.test.users[j]!;
        if (u >= 0) expect(f.train.userIds[u]).toBe(f.test.userIds[j]);
        const i = f.test.items[j]!;
        if (i >= 0) expect(f.train.itemIds[i]).toBe(f.test.itemIds[j]);
        else expect(f.train.itemIds).not.toContain(f.test.itemIds[j]);
      }
    }
    // Every rating of every user with ≥2 ratings was tested exactly once; u0 (1 rating) never.
    expect(seen.size).toBe(all.size - 1);
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
    expect([...seen.keys()].some((key) => key.startsWith('u0|'))).toBe(false);
  });

  it('rejects a fold count out of range, naming --folds', () => {
    expect(() => kFoldAssignment(m, 1, 0)).toThrow(/--folds must be an integer in 2\.\.1000, got 1/);
  });
});

describe('fold file patterns', () => {
  it('expands %d to 1..K and leaves plain paths alone', () => {
    expect(expandFoldPattern('data/u%d.base', 3)).toEqual(['data/u1.base', 'data/u2.base', 'data/u3.base']);
    expect(expandFoldPattern('data/ua.base', 3)).toEqual(['data/ua.base']);
  });
});
