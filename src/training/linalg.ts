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

/**
 * y = A·x for a full (both triangles stored) symmetric d×d A: y_a = Σ_t A_at x_t, four rows at a
 * time so each x[t] is loaded once for four products.
 */
export function symMatVec(A: Float64Array, d: number, x: Float64Array, y: Float64Array): void {
  let a = 0;
  for (; a + 3 < d; a += 4) {
    const r0 = a * d;
    const r1 = r0 + d;
    const r2 = r1 + d;
    const r3 = r2 + d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let t = 0; t < d; t++) {
      const xt = x[t]!;
      s0 += A[r0 + t]! * xt;
      s1 += A[r1 + t]! * xt;
      s2 += A[r2 + t]! * xt;
      s3 += A[r3 + t]! * xt;
    }
    y[a] = s0;
    y[a + 1] = s1;
    y[a + 2] = s2;
    y[a + 3] = s3;
  }
  for (; a < d; a++) {
    const ro = a * d;
    let s0 = 0;
    for (let t = 0; t < d; t++) s0 += A[ro + t]! * x[t]!;
    y[a] = s0;
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
 * Lower triangle of G += Σ_r f_r f_rᵀ over rows [r0, r1) of a stride-d store, through gatherSyrk
 * in blocks of SYRK_BLOCK rows. `idx` must hold SYRK_BLOCK ints, `ones` SYRK_BLOCK ones, `scratch`
 * 2·d·SYRK_BLOCK doubles.
 */
export function gramRows(
  f: Float32Array,
  r0: number,
  r1: number,
  d: number,
  G: Float64Array,
  idx: Int32Array,
  ones: Float64Array,
  scratch: Float64Array,
): void {
  for (let start = r0; start < r1; start += SYRK_BLOCK) {
    const m = Math.min(SYRK_BLOCK, r1 - start);
    for (let j = 0; j < m; j++) idx[j] = start + j;
    gatherSyrk(f, idx, 0, m, ones, G, d, scratch);
  }
}

/** Rows per partial Gram: fixed, so the summation order never depends on the thread count. */
export const GRAM_CHUNK = 4096;

/**
 * Gram matrix G = Σ_r f_r f_rᵀ over rows [0, n) of a stride-d store, written full (symmetric)
 * into G (d×d, overwritten): partial sums over GRAM_CHUNK rows, added in chunk order — the same
 * order the multi-threaded trainer uses (see fit.ts), so both give identical bits.
 */
export function gram(f: Float32Array, n: number, d: number, G: Float64Array): void {
  G.fill(0, 0, d * d);
  const part = new Float64Array(d * d);
  const idx = new Int32Array(SYRK_BLOCK);
  const ones = new Float64Array(SYRK_BLOCK).fill(1);
  const scratch = new Float64Array(2 * d * SYRK_BLOCK);
  for (let r0 = 0; r0 < n; r0 += GRAM_CHUNK) {
    part.fill(0);
    gramRows(f, r0, Math.min(n, r0 + GRAM_CHUNK), d, part, idx, ones, scratch);
    for (let t = 0; t < d * d; t++) G[t] = G[t]! + part[t]!;
  }
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
    let q0 = A[ra + a]!;
    let q1 = 0;
    let t0 = 0;
    for (; t0 + 1 < a; t0 += 2) {
      const l0 = A[ra + t0]!;
      const l1 = A[ra + t0 + 1]!;
      q0 -= l0 * l0;
      q1 -= l1 * l1;
    }
    if (t0 < a) q0 -= A[ra + t0]! * A[ra + t0]!;
    const diag = q0 + q1;
    if (!(diag > 0) || diag === Infinity) return false;
    const lAA = Math.sqrt(diag);
    A[ra + a] = lAA;
    const inv = 1 / lAA;
    // Column a below the diagonal, four rows at a time (each L_at loaded once for four rows).
    let c = a + 1;
    for (; c + 3 < d; c += 4) {
      const r0 = c * d;
      const r1 = r0 + d;
      const r2 = r1 + d;
      const r3 = r2 + d;
      let s0 = A[r0 + a]!;
      let s1 = A[r1 + a]!;
      let s2 = A[r2 + a]!;
      let s3 = A[r3 + a]!;
      for (let t = 0; t < a; t++) {
        const l = A[ra + t]!;
        s0 -= A[r0 + t]! * l;
        s1 -= A[r1 + t]! * l;
        s2 -= A[r2 + t]! * l;
        s3 -= A[r3 + t]! * l;
      }
      A[r0 + a] = s0 * inv;
      A[r1 + a] = s1 * inv;
      A[r2 + a] = s2 * inv;
      A[r3 + a] = s3 * inv;
    }
    for (; c < d; c++) {
      const rc = c * d;
      let s0 = A[rc + a]!;
      for (let t = 0; t < a; t++) s0 -= A[rc + t]! * A[ra + t]!;
      A[rc + a] = s0 * inv;
    }
  }
  choleskySubstitute(A, d, b);
  return true;
}

/**
 * Solves L Lᵀ z = b in place (b becomes z) with the Cholesky factor L that choleskySolve left in
 * the lower triangle of A: one factorization, then any number of right-hand sides.
 */
export function choleskySubstitute(L: Float64Array, d: number, b: Float64Array): void {
  // Forward substitution: L y = b.
  for (let a = 0; a < d; a++) {
    const ra = a * d;
    let s = b[a]!;
    for (let t = 0; t < a; t++) s -= L[ra + t]! * b[t]!;
    b[a] = s / L[ra + a]!;
  }
  // Backward substitution: Lᵀ z = y.
  for (let a = d - 1; a >= 0; a--) {
    let s = b[a]!;
    for (let t = a + 1; t < d; t++) s -= L[t * d + a]! * b[t]!;
    b[a] = s / L[a * d + a]!;
  }
}

/**
 * out[j] = f_{idx[e0+j]} · x for every entry e0 ≤ e0+j < e1: the dot products of a row's gathered
 * feature rows with one vector. Four rows at a time (each x[t] loaded once for four products),
 * two t per step: 8 independent accumulators.
 */
export function gatherDot(f: Float32Array, idx: Int32Array, e0: number, e1: number, x: Float64Array, d: number, out: Float64Array): void {
  let e = e0;
  for (; e + 3 < e1; e += 4) {
    const a = idx[e]! * d;
    const b = idx[e + 1]! * d;
    const c = idx[e + 2]! * d;
    const g = idx[e + 3]! * d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let r0 = 0;
    let r1 = 0;
    let r2 = 0;
    let r3 = 0;
    let t = 0;
    for (; t + 1 < d; t += 2) {
      const x0 = x[t]!;
      const x1 = x[t + 1]!;
      s0 += f[a + t]! * x0;
      s1 += f[b + t]! * x0;
      s2 += f[c + t]! * x0;
      s3 += f[g + t]! * x0;
      r0 += f[a + t + 1]! * x1;
      r1 += f[b + t + 1]! * x1;
      r2 += f[c + t + 1]! * x1;
      r3 += f[g + t + 1]! * x1;
    }
    if (t < d) {
      const x0 = x[t]!;
      s0 += f[a + t]! * x0;
      s1 += f[b + t]! * x0;
      s2 += f[c + t]! * x0;
      s3 += f[g + t]! * x0;
    }
    const j = e - e0;
    out[j] = s0 + r0;
    out[j + 1] = s1 + r1;
    out[j + 2] = s2 + r2;
    out[j + 3] = s3 + r3;
  }
  for (; e < e1; e++) out[e - e0] = dotRow(f, idx[e]! * d, x, d);
}

/**
 * y += Σ_j coef[j] · f_{idx[e0+j]} over the entries e0 ≤ e0+j < e1: a row's gathered feature rows
 * combined into one vector. Four rows at a time, so y is loaded and stored once per four rows.
 */
export function gatherAxpy(f: Float32Array, idx: Int32Array, e0: number, e1: number, coef: Float64Array, y: Float64Array, d: number): void {
  let e = e0;
  for (; e + 3 < e1; e += 4) {
    const a = idx[e]! * d;
    const b = idx[e + 1]! * d;
    const c = idx[e + 2]! * d;
    const g = idx[e + 3]! * d;
    const j = e - e0;
    const w0 = coef[j]!;
    const w1 = coef[j + 1]!;
    const w2 = coef[j + 2]!;
    const w3 = coef[j + 3]!;
    let t = 0;
    for (; t + 1 < d; t += 2) {
      y[t] = y[t]! + (w0 * f[a + t]! + w1 * f[b + t]!) + (w2 * f[c + t]! + w3 * f[g + t]!);
      y[t + 1] = y[t + 1]! + (w0 * f[a + t + 1]! + w1 * f[b + t + 1]!) + (w2 * f[c + t + 1]! + w3 * f[g + t + 1]!);
    }
    if (t < d) y[t] = y[t]! + (w0 * f[a + t]! + w1 * f[b + t]!) + (w2 * f[c + t]! + w3 * f[g + t]!);
  }
  for (; e < e1; e++) axpyRow(coef[e - e0]!, f, idx[e]! * d, y, d);
}

/** dst[j·d + t] = f[idx[e0+j]·d + t]: a row's scattered feature rows copied into one block. */
export function gatherRows(f: Float32Array, idx: Int32Array, e0: number, e1: number, d: number, dst: Float32Array): void {
  for (let e = e0, o = 0; e < e1; e++, o += d) {
    const fo = idx[e]! * d;
    let t = 0;
    for (; t + 3 < d; t += 4) {
      dst[o + t] = f[fo + t]!;
      dst[o + t + 1] = f[fo + t + 1]!;
      dst[o + t + 2] = f[fo + t + 2]!;
      dst[o + t + 3] = f[fo + t + 3]!;
    }
    for (; t < d; t++) dst[o + t] = f[fo + t]!;
  }
}

/** Rows gathered per block by gatherSyrk (its scratch holds 2·d·SYRK_BLOCK doubles). */
export const SYRK_BLOCK = 128;

/**
 * Lower triangle of A += Σ_j w[j] f_j f_jᵀ over the entries e0 ≤ e0+j < e1 (the data part of a
 * normal matrix). The rows are gathered, SYRK_BLOCK at a time, into feature-major scratch
 * T[a·m + j] = f_j[a] and U = w·T, so each A[a][b] = Σ_j U[a][j]·T[b][j] is a contiguous dot
 * product; 4×2 blocks of A share their loads. `scratch` must hold 2·d·SYRK_BLOCK doubles.
 */
export function gatherSyrk(
  f: Float32Array,
  idx: Int32Array,
  e0: number,
  e1: number,
  w: Float64Array,
  A: Float64Array,
  d: number,
  scratch: Float64Array,
): void {
  for (let start = e0; start < e1; start += SYRK_BLOCK) {
    const m = Math.min(SYRK_BLOCK, e1 - start);
    const U = scratch;
    const T0 = d * SYRK_BLOCK; // T lives after U
    for (let j = 0; j < m; j++) {
      const fo = idx[start + j]! * d;
      const wj = w[start - e0 + j]!;
      for (let a = 0; a < d; a++) {
        const v = f[fo + a]!;
        scratch[T0 + a * m + j] = v;
        U[a * m + j] = wj * v;
      }
    }
    // A[a..a+3][b..b+1] from 4 rows of U and 2 of T: 6 loads for 8 products. Entries above
    // the diagonal (b + jj > a + i) are computed in the diagonal blocks but not written.
    for (let a = 0; a < d; a += 4) {
      const fullA = a + 3 < d;
      const u0o = a * m;
      const u1o = u0o + m;
      const u2o = u1o + m;
      const u3o = u2o + m;
      for (let b = 0; b <= a + 3 && b < d; b += 2) {
        const ta = T0 + b * m;
        const tb = ta + m;
        if (fullA && b + 1 < d) {
          let s00 = 0;
          let s01 = 0;
          let s10 = 0;
          let s11 = 0;
          let s20 = 0;
          let s21 = 0;
          let s30 = 0;
          let s31 = 0;
          for (let j = 0; j < m; j++) {
            const t0 = scratch[ta + j]!;
            const t1 = scratch[tb + j]!;
            const u0 = U[u0o + j]!;
            const u1 = U[u1o + j]!;
            const u2 = U[u2o + j]!;
            const u3 = U[u3o + j]!;
            s00 += u0 * t0;
            s01 += u0 * t1;
            s10 += u1 * t0;
            s11 += u1 * t1;
            s20 += u2 * t0;
            s21 += u2 * t1;
            s30 += u3 * t0;
            s31 += u3 * t1;
          }
          const r0 = a * d + b;
          if (b <= a) A[r0] = A[r0]! + s00;
          if (b + 1 <= a) A[r0 + 1] = A[r0 + 1]! + s01;
          const r1 = r0 + d;
          if (b <= a + 1) A[r1] = A[r1]! + s10;
          if (b + 1 <= a + 1) A[r1 + 1] = A[r1 + 1]! + s11;
          const r2 = r1 + d;
          if (b <= a + 2) A[r2] = A[r2]! + s20;
          if (b + 1 <= a + 2) A[r2 + 1] = A[r2 + 1]! + s21;
          const r3 = r2 + d;
          A[r3] = A[r3]! + s30; // b ≤ a + 2 < a + 3 always holds here
          A[r3 + 1] = A[r3 + 1]! + s31;
        } else {
          // Edges (d not a multiple of 4, or an odd last column): one entry at a time.
          const aEnd = Math.min(d, a + 4);
          const bEnd = Math.min(d, b + 2);
          for (let aa = a; aa < aEnd; aa++) {
            for (let bb = b; bb < bEnd && bb <= aa; bb++) {
              const uo = aa * m;
              const to = T0 + bb * m;
              let acc = 0;
              for (let j = 0; j < m; j++) acc += U[uo + j]! * scratch[to + j]!;
              A[aa * d + bb] = A[aa * d + bb]! + acc;
            }
          }
        }
      }
    }
  }
}
