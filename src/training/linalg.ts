/**
 * The numerical kernels of the trainer, gathered in one module behind small functions so they can
 * later be swapped for WebAssembly SIMD without touching the solvers.
 *
 * Conventions: factor storage is Float32Array (row r of a stride-d array starts at r·d); every
 * accumulator, scratch vector and small d×d system is Float64Array. Square matrices are row-major
 * d×d. Loops are unrolled by 4 with independent accumulators so V8 keeps them in registers.
 * Nothing here allocates.
 */

/** Σ_t f[fo+t]·x[t], t < d: a stored factor row against a Float64 vector. */
export function dotRow(f: Float32Array, fo: number, x: Float64Array, d: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let t = 0;
  for (; t + 3 < d; t += 4) {
    s0 += f[fo + t]! * x[t]!;
    s1 += f[fo + t + 1]! * x[t + 1]!;
    s2 += f[fo + t + 2]! * x[t + 2]!;
    s3 += f[fo + t + 3]! * x[t + 3]!;
  }
  for (; t < d; t++) s0 += f[fo + t]! * x[t]!;
  return s0 + s1 + s2 + s3;
}

/** y[t] += a·f[fo+t], t < d: accumulate a scaled stored factor row into a Float64 vector. */
export function axpyRow(a: number, f: Float32Array, fo: number, y: Float64Array, d: number): void {
  let t = 0;
  for (; t + 3 < d; t += 4) {
    y[t] = y[t]! + a * f[fo + t]!;
    y[t + 1] = y[t + 1]! + a * f[fo + t + 1]!;
    y[t + 2] = y[t + 2]! + a * f[fo + t + 2]!;
    y[t + 3] = y[t + 3]! + a * f[fo + t + 3]!;
  }
  for (; t < d; t++) y[t] = y[t]! + a * f[fo + t]!;
}

/** Σ_t x[t]·y[t], t < d. */
export function dot(x: Float64Array, y: Float64Array, d: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let t = 0;
  for (; t + 3 < d; t += 4) {
    s0 += x[t]! * y[t]!;
    s1 += x[t + 1]! * y[t + 1]!;
    s2 += x[t + 2]! * y[t + 2]!;
    s3 += x[t + 3]! * y[t + 3]!;
  }
  for (; t < d; t++) s0 += x[t]! * y[t]!;
  return s0 + s1 + s2 + s3;
}

/** y = A·x for a full (both triangles stored) symmetric d×d A: one dot product per row. */
export function symMatVec(A: Float64Array, d: number, x: Float64Array, y: Float64Array): void {
  for (let a = 0; a < d; a++) {
    const ro = a * d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let t = 0;
    for (; t + 3 < d; t += 4) {
      s0 += A[ro + t]! * x[t]!;
      s1 += A[ro + t + 1]! * x[t + 1]!;
      s2 += A[ro + t + 2]! * x[t + 2]!;
      s3 += A[ro + t + 3]! * x[t + 3]!;
    }
    for (; t < d; t++) s0 += A[ro + t]! * x[t]!;
    y[a] = s0 + s1 + s2 + s3;
  }
}

/** Lower triangle of A += w·f fᵀ (f = stored row at fo): the rank-1 update of a normal matrix. */
export function rank1Lower(A: Float64Array, d: number, w: number, f: Float32Array, fo: number): void {
  for (let a = 0; a < d; a++) {
    const wa = w * f[fo + a]!;
    const ro = a * d;
    let b = 0;
    for (; b + 3 <= a; b += 4) {
      A[ro + b] = A[ro + b]! + wa * f[fo + b]!;
      A[ro + b + 1] = A[ro + b + 1]! + wa * f[fo + b + 1]!;
      A[ro + b + 2] = A[ro + b + 2]! + wa * f[fo + b + 2]!;
      A[ro + b + 3] = A[ro + b + 3]! + wa * f[fo + b + 3]!;
    }
    for (; b <= a; b++) A[ro + b] = A[ro + b]! + wa * f[fo + b]!;
  }
}

/** Copies the lower triangle of a d×d matrix onto its upper triangle. */
export function symmetrizeFromLower(A: Float64Array, d: number): void {
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < a; b++) A[b * d + a] = A[a * d + b]!;
  }
}

/**
 * Gram matrix G = Σ_r f_r f_rᵀ over rows [0, n) of a stride-d store, written full (symmetric)
 * into G (d×d, overwritten). Summed in row order: deterministic.
 */
export function gram(f: Float32Array, n: number, d: number, G: Float64Array): void {
  G.fill(0, 0, d * d);
  for (let r = 0; r < n; r++) rank1Lower(G, d, 1, f, r * d);
  symmetrizeFromLower(G, d);
}

/**
 * Solves A z = b in place for symmetric positive definite A (lower triangle used; overwritten by
 * its Cholesky factor L, A = L Lᵀ); b is overwritten by z. Returns false when A is not positive
 * definite (a pivot ≤ 0 or not finite), leaving A and b garbage.
 *   L_aa = sqrt(A_aa − Σ_{t<a} L_at²),  L_ba = (A_ba − Σ_{t<a} L_bt L_at) / L_aa
 *   forward  L y = b,  backward Lᵀ z = y
 */
export function choleskySolve(A: Float64Array, d: number, b: Float64Array): boolean {
  for (let a = 0; a < d; a++) {
    const ra = a * d;
    let diag = A[ra + a]!;
    for (let t = 0; t < a; t++) {
      const l = A[ra + t]!;
      diag -= l * l;
    }
    if (!(diag > 0) || diag === Infinity) return false;
    const lAA = Math.sqrt(diag);
    A[ra + a] = lAA;
    const inv = 1 / lAA;
    for (let c = a + 1; c < d; c++) {
      const rc = c * d;
      let s0 = A[rc + a]!;
      let s1 = 0;
      let t = 0;
      for (; t + 1 < a; t += 2) {
        s0 -= A[rc + t]! * A[ra + t]!;
        s1 -= A[rc + t + 1]! * A[ra + t + 1]!;
      }
      for (; t < a; t++) s0 -= A[rc + t]! * A[ra + t]!;
      A[rc + a] = (s0 + s1) * inv;
    }
  }
  // Forward substitution: L y = b.
  for (let a = 0; a < d; a++) {
    const ra = a * d;
    let s = b[a]!;
    for (let t = 0; t < a; t++) s -= A[ra + t]! * b[t]!;
    b[a] = s / A[ra + a]!;
  }
  // Backward substitution: Lᵀ z = y.
  for (let a = d - 1; a >= 0; a--) {
    let s = b[a]!;
    for (let t = a + 1; t < d; t++) s -= A[t * d + a]! * b[t]!;
    b[a] = s / A[a * d + a]!;
  }
  return true;
}
