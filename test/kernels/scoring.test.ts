import { describe, expect, it } from 'vitest';
import { rowNorms, scoreAll, scoreAll4 } from '../../src/kernels/scoring.js';
import { topK } from '../../src/kernels/top-k.js';
import { createSimdScorer, wasmSimdSupported } from '../../src/kernels/wasm-scorer.js';
import { mulberry32 } from '../../src/training/random.js';

/** The obvious reference: s_i = b_i + Σ_f u_f q_if in float64. */
function reference(u: Float32Array, q: Float32Array, b: Float32Array | null, k: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    let s = b?.[i] ?? 0;
    for (let f = 0; f < k; f++) s += u[f]! * q[i * k + f]!;
    return s;
  });
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThan(tol);
}

// Shapes that hit every remainder: k not a multiple of 4, catalogs not a multiple of 4 or 8.
const shapes = [
  [1, 1],
  [3, 7],
  [4, 8],
  [5, 9],
  [8, 33],
  [64, 100],
  [65, 13],
] as const;

describe('scoring kernels', () => {
  it('scoreAll and scoreAll4 match the float64 reference', () => {
    const rand = mulberry32(3);
    for (const [k, n] of shapes) {
      const q = Float32Array.from({ length: n * k }, () => rand() * 2 - 1);
      const p = Float32Array.from({ length: 5 * k }, () => rand() * 2 - 1);
      const b = Float32Array.from({ length: n }, () => rand());
      const out = new Float64Array(n);
      scoreAll(p.subarray(0, k), q, b, k, out);
      expectClose(out, reference(p.subarray(0, k), q, b, k, n), 1e-5);
      const out4 = new Float32Array(4 * n);
      scoreAll4(p, [1, 2, 3, 4], q, null, k, n, out4);
      for (let j = 0; j < 4; j++) {
        expectClose(out4.subarray(j * n, (j + 1) * n), reference(p.subarray((j + 1) * k, (j + 2) * k), q, null, k, n), 1e-5);
      }
    }
  });

  it('rowNorms are the Euclidean norms of the rows', () => {
    const q = Float32Array.of(3, 4, 0, 0, 1, 1);
    expect(Array.from(rowNorms(q, 2, 3))).toEqual([5, 0, Math.fround(Math.SQRT2)]);
  });
});

describe.skipIf(!wasmSimdSupported())('WebAssembly SIMD kernel', () => {
  it('scoreOne matches the float64 reference for every remainder shape', () => {
    const rand = mulberry32(4);
    for (const [k, n] of shapes) {
      const q = Float32Array.from({ length: n * k }, () => rand() * 2 - 1);
      const b = Float32Array.from({ length: n }, () => rand());
      const p = Float32Array.from({ length: 3 * k }, () => rand() * 2 - 1);
      for (const bias of [b, null]) {
        const s = createSimdScorer(q, bias, k, n)!;
        // several users in turn on one scorer: each call overwrites the last one's vector and row
        for (const u of [0, 2, 1]) {
          expectClose(s.scoreOne(p.subarray(u * k, (u + 1) * k)), reference(p.subarray(u * k, (u + 1) * k), q, bias, k, n), 1e-4);
        }
      }
    }
  });

  it('top(n) selects exactly what topK does on big catalogs: NaN dropped, ties to the lower index', () => {
    const rand = mulberry32(5);
    const k = 4;
    const n = 10_003; // > 2 × the 4,096-item sample, not a multiple of 8
    // Quantised factors: many exactly equal scores, so the tie order is exercised.
    const q = Float32Array.from({ length: n * k }, () => Math.round(rand() * 8) / 8);
    const p = Float32Array.from({ length: 8 * k }, () => Math.round(rand() * 4) / 4);
    const s = createSimdScorer(q, null, k, n)!;
    for (const limit of [1, 10, 50, 300]) {
      for (let j = 0; j < 8; j++) {
        const row = s.scoreOne(p.subarray(j * k, (j + 1) * k));
        // Drop a random tenth, and for user 7 nearly the whole sample prefix.
        for (let i = 0; i < n; i++) if (rand() < 0.1 || (j === 7 && i < 4090)) row[i] = NaN;
        const expected = topK(Float32Array.from(row), limit);
        const got = s.top(limit);
        expect(Array.from(got.indices)).toEqual(Array.from(expected.indices));
        expect(Array.from(got.scores)).toEqual(Array.from(expected.scores));
      }
    }
    // A catalog where every item is dropped gives nothing.
    s.scoreOne(p.subarray(0, k)).fill(NaN);
    expect(s.top(5).indices).toHaveLength(0);
  });
});
