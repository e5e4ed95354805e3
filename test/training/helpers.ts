/** Shared fixtures for the training tests: a seeded PRNG and small random problems. */
import { Matrix, solve } from 'ml-matrix';
import { matrixFromCoo, type RatingMatrix } from '../../src/ratings/matrix.js';
import { mulberry32 } from '../../src/training/random.js';

export { mulberry32 };

export function randomStore(rand: () => number, rows: number, d: number, scale = 1): Float32Array {
  const a = new Float32Array(rows * d);
  for (let t = 0; t < a.length; t++) a[t] = (rand() * 2 - 1) * scale;
  return a;
}

/** rows×cols ml-matrix view of a stride-d store. */
export function toMatrix(store: ArrayLike<number>, rows: number, d: number): Matrix {
  const m = new Matrix(rows, d);
  for (let r = 0; r < rows; r++) for (let t = 0; t < d; t++) m.set(r, t, store[r * d + t]!);
  return m;
}

/** Solves A z = b with ml-matrix (the slow, obvious reference). */
export function referenceSolve(A: Matrix, b: number[]): number[] {
  return solve(A, Matrix.columnVector(b)).getColumn(0);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let t = 0; t < a.length; t++) m = Math.max(m, Math.abs(a[t]! - b[t]!));
  return m;
}

/** A RatingMatrix from dense (user, item, value) triples with ids "u<i>"/"i<j>". */
export function denseIdMatrix(nUsers: number, nItems: number, triples: [number, number, number][]): RatingMatrix {
  return matrixFromCoo(
    Int32Array.from(triples.map((t) => t[0])),
    Int32Array.from(triples.map((t) => t[1])),
    Float32Array.from(triples.map((t) => t[2])),
    Array.from({ length: nUsers }, (_, u) => `u${u}`),
    Array.from({ length: nItems }, (_, i) => `i${i}`),
  );
}
