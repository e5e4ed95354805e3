/** Seeded rating fixtures with a known structure for the train/evaluate CLI tests. */
import { mulberry32 } from '../../src/training/random.js';

/**
 * Star ratings from a rank-2 taste model: r = clip(round(3 + 1.5·(a_u·b_i)), 1, 5) with unit-ish
 * random 2-vectors, each user rating ~60% of the items. A model with ≥2 factors can learn it, so
 * it must beat the predict-the-mean baseline on held-out pairs.
 */
export function starFixture(seed: number, nUsers = 40, nItems = 25): [string, string, number][] {
  const rand = mulberry32(seed);
  const vec = () => [rand() * 2 - 1, rand() * 2 - 1] as const;
  const users = Array.from({ length: nUsers }, vec);
  const items = Array.from({ length: nItems }, vec);
  const out: [string, string, number][] = [];
  for (let u = 0; u < nUsers; u++) {
    for (let i = 0; i < nItems; i++) {
      if (rand() > 0.6) continue;
      const dot = users[u]![0] * items[i]![0] + users[u]![1] * items[i]![1];
      out.push([`u${u}`, `item-${i}`, Math.min(5, Math.max(1, Math.round(3 + 3 * dot)))]);
    }
  }
  return out;
}

/**
 * Implicit feedback with a known structure: three "genres" (u mod 3, i mod 3); a user interacts
 * with 80% of their own genre's items and 10% of the others. Values are 1 (clicks) or, with
 * counts, random play counts 1..200 (noise: many distinct values, clearly not a star scale).
 */
export function playFixture(seed: number, counts = false, nUsers = 30, nItems = 20): [string, string, number][] {
  const rand = mulberry32(seed);
  const out: [string, string, number][] = [];
  for (let u = 0; u < nUsers; u++) {
    for (let i = 0; i < nItems; i++) {
      const p = u % 3 === i % 3 ? 0.8 : 0.1;
      if (rand() < p) out.push([`u${u}`, `i${i}`, counts ? 1 + Math.floor(rand() * 200) : 1]);
    }
  }
  return out;
}

/** MovieLens u.data lines: user \t item \t value \t timestamp. */
export function toTsv(rows: readonly (readonly [string, string, number])[]): string {
  return rows.map(([u, i, v], n) => `${u}\t${i}\t${v}\t${1_000_000 + n}`).join('\n') + '\n';
}
