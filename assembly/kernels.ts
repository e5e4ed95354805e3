/**
 * ridgerec's numerical kernels in AssemblyScript, compiled to one WebAssembly module (SIMD, shared
 * memory) by `npm run build` into dist/kernels/kernels.wasm. The plain-TypeScript reference of every
 * kernel is src/training/linalg.ts + solve-side.ts (training) and src/kernels/scoring.ts (scoring);
 * tests compare the two.
 *
 * Every argument named as an array is a byte address in the imported memory. The module keeps no
 * state and allocates nothing: callers lay out the factors, the Grams, the per-thread scratch and
 * the copied CSR blocks (see src/training/wasm-side.ts and src/kernels/wasm-scorer.ts).
 *
 * Conventions: factors are f32 rows of stride d (row r at r·d). CG vectors are f32 of length dp
 * (d rounded up to a multiple of 4) whose lanes d..dp−1 are zero and stay zero. The Gram used by CG
 * is f32, dp×dp, zero-padded; the Grams and normal matrices of the Cholesky path are f64 d×d.
 * The hot inner loops are written bottom-tested (do … while): V8 compiles them to tighter machine
 * code than AssemblyScript's top-tested `for` (measured on the catalog scoring kernel: ~1.5× faster).
 */

// ---------------------------------------------------------------------------------------------
// Small vector helpers (inlined)

@inline
function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Σ_t a[t]·b[t], t < d (any d; f32, two accumulators, scalar tail). */
@inline
function dot32(a: usize, b: usize, d: i32): f32 {
  let acc0 = f32x4.splat(0);
  let acc1 = f32x4.splat(0);
  let t = 0;
  for (; t + 8 <= d; t += 8) {
    const o = (<usize>t) << 2;
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
    acc1 = f32x4.add(acc1, f32x4.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
  }
  if (t + 4 <= d) {
    const o = (<usize>t) << 2;
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
    t += 4;
  }
  let s = hsum(f32x4.add(acc0, acc1));
  for (; t < d; t++) s += load<f32>(a + ((<usize>t) << 2)) * load<f32>(b + ((<usize>t) << 2));
  return s;
}

/** Σ_t a[t]·b[t] over padded vectors (dp a multiple of 4), accumulated in f64 per lane pair. */
@inline
function dotPadded(a: usize, b: usize, dp: i32): f64 {
  let acc = f64x2.splat(0);
  let acc1 = f64x2.splat(0);
  for (let o: usize = 0, end = (<usize>dp) << 2; o < end; o += 16) {
    const m = f32x4.mul(v128.load(a + o), v128.load(b + o));
    acc = f64x2.add(acc, f64x2.promote_low_f32x4(m));
    acc1 = f64x2.add(acc1, f64x2.promote_low_f32x4(v128.shuffle<f32>(m, m, 2, 3, 0, 1)));
  }
  const s = f64x2.add(acc, acc1);
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}

/** Σ_t a[t]·b[t], t < n, f64 rows (two f64x2 accumulators). */
@inline
function dot64(a: usize, b: usize, n: i32): f64 {
  let acc0 = f64x2.splat(0);
  let acc1 = f64x2.splat(0);
  const e4 = (<usize>(n & ~3)) << 3;
  let o: usize = 0;
  if (e4 != 0) {
    do {
      acc0 = f64x2.add(acc0, f64x2.mul(v128.load(a + o), v128.load(b + o)));
      acc1 = f64x2.add(acc1, f64x2.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
      o += 32;
    } while (o < e4);
  }
  let t = n & ~3;
  const v = f64x2.add(acc0, acc1);
  let s = f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
  for (; t < n; t++) s += load<f64>(a + ((<usize>t) << 3)) * load<f64>(b + ((<usize>t) << 3));
  return s;
}

/** Address of row idx[j] of a stride-d f32 store. */
@inline
function rowAt(f: usize, idx: usize, j: i32, d: i32): usize {
  return f + (<usize>(load<i32>(idx + ((<usize>j) << 2)) * d) << 2);
}

/** out[0..3] = fa·x, fb·x, fc·x, fd·x over t < d. */
@inline
function dot4(fa: usize, fb: usize, fc: usize, fd: usize, x: usize, d: i32, out: usize): void {
  let aa = f32x4.splat(0);
  let ab = f32x4.splat(0);
  let ac = f32x4.splat(0);
  let ad = f32x4.splat(0);
  let t = 0;
  const e4 = (<usize>(d & ~3)) << 2;
  let ov: usize = 0;
  if (e4 != 0) {
    do {
      const o = ov;
      const xv = v128.load(x + o);
      aa = f32x4.add(aa, f32x4.mul(v128.load(fa + o), xv));
      ab = f32x4.add(ab, f32x4.mul(v128.load(fb + o), xv));
      ac = f32x4.add(ac, f32x4.mul(v128.load(fc + o), xv));
      ad = f32x4.add(ad, f32x4.mul(v128.load(fd + o), xv));
      ov += 16;
    } while (ov < e4);
  }
  t = d & ~3;
  let sa = hsum(aa);
  let sb = hsum(ab);
  let sc = hsum(ac);
  let sd = hsum(ad);
  for (; t < d; t++) {
    const o = (<usize>t) << 2;
    const xt = load<f32>(x + o);
    sa += load<f32>(fa + o) * xt;
    sb += load<f32>(fb + o) * xt;
    sc += load<f32>(fc + o) * xt;
    sd += load<f32>(fd + o) * xt;
  }
  store<f32>(out, sa);
  store<f32>(out, sb, 4);
  store<f32>(out, sc, 8);
  store<f32>(out, sd, 12);
}

/** y[t] += (ca·fa[t] + cb·fb[t]) + (cc·fc[t] + cd·fd[t]), t < d: y loaded and stored once for four rows. */
@inline
function axpy4(fa: usize, fb: usize, fc: usize, fd: usize, ca: f32, cb: f32, cc: f32, cd: f32, y: usize, d: i32): void {
  const va = f32x4.splat(ca);
  const vb = f32x4.splat(cb);
  const vc = f32x4.splat(cc);
  const vd = f32x4.splat(cd);
  let t = 0;
  const e4 = (<usize>(d & ~3)) << 2;
  let ov: usize = 0;
  if (e4 != 0) {
    do {
      const o = ov;
      const s = f32x4.add(
        f32x4.add(f32x4.mul(va, v128.load(fa + o)), f32x4.mul(vb, v128.load(fb + o))),
        f32x4.add(f32x4.mul(vc, v128.load(fc + o)), f32x4.mul(vd, v128.load(fd + o))),
      );
      v128.store(y + o, f32x4.add(v128.load(y + o), s));
      ov += 16;
    } while (ov < e4);
  }
  t = d & ~3;
  for (; t < d; t++) {
    const o = (<usize>t) << 2;
    const s = ca * load<f32>(fa + o) + cb * load<f32>(fb + o) + (cc * load<f32>(fc + o) + cd * load<f32>(fd + o));
    store<f32>(y + o, load<f32>(y + o) + s);
  }
}

// ---------------------------------------------------------------------------------------------
// Gathered row kernels: the entries j < n of one CSR row, feature rows f_{idx[j]}.

/**
 * out[j] = f_{idx[j]}·x for j < n; four rows at a time, so each load of x serves four products and
 * four scattered rows are being fetched at once.
 */
export function gatherDot(f: usize, idx: usize, n: i32, d: i32, x: usize, out: usize): void {
  let j = 0;
  for (; j + 3 < n; j += 4) dot4(rowAt(f, idx, j, d), rowAt(f, idx, j + 1, d), rowAt(f, idx, j + 2, d), rowAt(f, idx, j + 3, d), x, d, out + ((<usize>j) << 2));
  for (; j + 1 < n; j += 2) {
    const fa = rowAt(f, idx, j, d);
    const fb = rowAt(f, idx, j + 1, d);
    let aa = f32x4.splat(0);
    let ab = f32x4.splat(0);
    let t = 0;
    const e4 = (<usize>(d & ~3)) << 2;
    let ov: usize = 0;
    if (e4 != 0) {
      do {
        const o = ov;
        const xv = v128.load(x + o);
        aa = f32x4.add(aa, f32x4.mul(v128.load(fa + o), xv));
        ab = f32x4.add(ab, f32x4.mul(v128.load(fb + o), xv));
        ov += 16;
      } while (ov < e4);
    }
    t = d & ~3;
    let sa = hsum(aa);
    let sb = hsum(ab);
    for (; t < d; t++) {
      const o = (<usize>t) << 2;
      const xt = load<f32>(x + o);
      sa += load<f32>(fa + o) * xt;
      sb += load<f32>(fb + o) * xt;
    }
    store<f32>(out + ((<usize>j) << 2), sa);
    store<f32>(out + ((<usize>j) << 2), sb, 4);
  }
  if (j < n) store<f32>(out + ((<usize>j) << 2), dot32(rowAt(f, idx, j, d), x, d));
}

/** y[t] += ca·fa[t] + cb·fb[t], t < d (fb = 0: only fa). */
@inline
function axpy2(fa: usize, fb: usize, ca: f32, cb: f32, y: usize, d: i32): void {
  const va = f32x4.splat(ca);
  let t = 0;
  if (fb != 0) {
    const vb = f32x4.splat(cb);
    const e4 = (<usize>(d & ~3)) << 2;
    let ov: usize = 0;
    if (e4 != 0) {
      do {
        const o = ov;
        const s = f32x4.add(f32x4.mul(va, v128.load(fa + o)), f32x4.mul(vb, v128.load(fb + o)));
        v128.store(y + o, f32x4.add(v128.load(y + o), s));
        ov += 16;
      } while (ov < e4);
    }
    t = d & ~3;
    for (; t < d; t++) {
      const o = (<usize>t) << 2;
      store<f32>(y + o, load<f32>(y + o) + (ca * load<f32>(fa + o) + cb * load<f32>(fb + o)));
    }
  } else {
    const e4 = (<usize>(d & ~3)) << 2;
    let ov: usize = 0;
    if (e4 != 0) {
      do {
        const o = ov;
        v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(va, v128.load(fa + o))));
        ov += 16;
      } while (ov < e4);
    }
    t = d & ~3;
    for (; t < d; t++) {
      const o = (<usize>t) << 2;
      store<f32>(y + o, load<f32>(y + o) + ca * load<f32>(fa + o));
    }
  }
}

/**
 * One visit of each feature row for both CG passes:
 *   s[j] = f_j·p,   y += Σ_j (a[j] + sg·w[j]·s[j]) f_j        (a = 0: no a[j] term)
 * The CG step's data part of A·p is a = 0, sg = 1 (y += Σ w_j (f_j·p) f_j); the initial residual
 * is a = c t, sg = −1 (r += Σ (c_j t_j − w_j (f_j·x)) f_j). Four rows at a time; the second use of
 * each f_j hits the cache the first one filled.
 */
export function gatherDotAxpy(f: usize, idx: usize, n: i32, d: i32, p: usize, a: usize, w: usize, sg: f32, s: usize, y: usize): void {
  let j = 0;
  for (; j + 3 < n; j += 4) {
    const fa = rowAt(f, idx, j, d);
    const fb = rowAt(f, idx, j + 1, d);
    const fc = rowAt(f, idx, j + 2, d);
    const fd = rowAt(f, idx, j + 3, d);
    const jo = (<usize>j) << 2;
    dot4(fa, fb, fc, fd, p, d, s + jo);
    let ca = sg * load<f32>(w + jo) * load<f32>(s + jo);
    let cb = sg * load<f32>(w + jo, 4) * load<f32>(s + jo, 4);
    let cc = sg * load<f32>(w + jo, 8) * load<f32>(s + jo, 8);
    let cd = sg * load<f32>(w + jo, 12) * load<f32>(s + jo, 12);
    if (a != 0) {
      ca += load<f32>(a + jo);
      cb += load<f32>(a + jo, 4);
      cc += load<f32>(a + jo, 8);
      cd += load<f32>(a + jo, 12);
    }
    axpy4(fa, fb, fc, fd, ca, cb, cc, cd, y, d);
  }
  for (; j < n; j++) {
    const fa = rowAt(f, idx, j, d);
    const sa = dot32(fa, p, d);
    const jo = (<usize>j) << 2;
    store<f32>(s + jo, sa);
    const ca = sg * load<f32>(w + jo) * sa + (a != 0 ? load<f32>(a + jo) : 0);
    axpy2(fa, 0, ca, 0, y, d);
  }
}

/**
 * y = G·x for the symmetric, zero-padded dp×dp f32 Gram G (dp a multiple of 4), as
 * y = Σ_t x_t·G[t][·] (column t = row t), four t per pass over y: no horizontal sums.
 */
export function symv(G: usize, dp: i32, x: usize, y: usize): void {
  const rowBytes = (<usize>dp) << 2;
  memory.fill(y, 0, rowBytes);
  for (let t = 0; t < dp; t += 4) {
    const xv = v128.load(x + ((<usize>t) << 2));
    const x0 = f32x4.splat(f32x4.extract_lane(xv, 0));
    const x1 = f32x4.splat(f32x4.extract_lane(xv, 1));
    const x2 = f32x4.splat(f32x4.extract_lane(xv, 2));
    const x3 = f32x4.splat(f32x4.extract_lane(xv, 3));
    const g0 = G + <usize>t * rowBytes;
    const g1 = g0 + rowBytes;
    const g2 = g1 + rowBytes;
    const g3 = g2 + rowBytes;
    let o: usize = 0;
    do {
      const s = f32x4.add(
        f32x4.add(f32x4.mul(x0, v128.load(g0 + o)), f32x4.mul(x1, v128.load(g1 + o))),
        f32x4.add(f32x4.mul(x2, v128.load(g2 + o)), f32x4.mul(x3, v128.load(g3 + o))),
      );
      v128.store(y + o, f32x4.add(v128.load(y + o), s));
      o += 16;
    } while (o < rowBytes);
  }
}

// ---------------------------------------------------------------------------------------------
// Gram and normal matrices

/**
 * Lower triangle of A += Σ_j w[j]·f_j f_jᵀ over the entries j < n (A: f64 d×d, row-major;
 * w = 0: every weight is 1). Blocks of up to 32 rows are copied contiguously into T (f32, 32·d)
 * and U = w·T, then A[a][b..b+3] += Σ_j U[j][a]·T[j][b..b+3] is summed in f32 over the block and
 * added to A in f64. Entries just above the diagonal may be written too (the 4-wide block that
 * holds the diagonal); callers read the lower triangle only.
 */
export function syrkLower(f: usize, idx: usize, n: i32, w: usize, d: i32, A: usize, T: usize, U: usize): void {
  const rowBytes = (<usize>d) << 2;
  for (let start = 0; start < n; start += 32) {
    const m = min(32, n - start);
    for (let j = 0; j < m; j++) {
      const src = rowAt(f, idx, start + j, d);
      const tj = T + <usize>j * rowBytes;
      const uj = U + <usize>j * rowBytes;
      memory.copy(tj, src, rowBytes);
      const wj = w == 0 ? <f32>1 : load<f32>(w + ((<usize>(start + j)) << 2));
      const wv = f32x4.splat(wj);
      let t = 0;
      for (; t + 4 <= d; t += 4) v128.store(uj + ((<usize>t) << 2), f32x4.mul(wv, v128.load(tj + ((<usize>t) << 2))));
      for (; t < d; t++) store<f32>(uj + ((<usize>t) << 2), wj * load<f32>(tj + ((<usize>t) << 2)));
    }
    for (let a = 0; a < d; a++) {
      const ua = U + ((<usize>a) << 2);
      const arow = A + ((<usize>(a * d)) << 3);
      const jEnd = <usize>m * rowBytes;
      let b = 0;
      // Eight columns per pass while both 4-blocks start on or below the diagonal: one splat of
      // U[j][a] serves eight products.
      for (; b + 8 <= d && b + 4 <= a; b += 8) {
        let acc0 = f32x4.splat(0);
        let acc1 = f32x4.splat(0);
        const tb = T + ((<usize>b) << 2);
        let jo: usize = 0;
        do {
          const u = v128.load32_splat(ua + jo);
          acc0 = f32x4.add(acc0, f32x4.mul(u, v128.load(tb + jo)));
          acc1 = f32x4.add(acc1, f32x4.mul(u, v128.load(tb + jo, 16)));
          jo += rowBytes;
        } while (jo < jEnd);
        const dst = arow + ((<usize>b) << 3);
        v128.store(dst, f64x2.add(v128.load(dst), f64x2.promote_low_f32x4(acc0)));
        v128.store(dst, f64x2.add(v128.load(dst, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(acc0, acc0, 2, 3, 0, 1))), 16);
        v128.store(dst, f64x2.add(v128.load(dst, 32), f64x2.promote_low_f32x4(acc1)), 32);
        v128.store(dst, f64x2.add(v128.load(dst, 48), f64x2.promote_low_f32x4(v128.shuffle<f32>(acc1, acc1, 2, 3, 0, 1))), 48);
      }
      for (; b + 4 <= d && b <= a; b += 4) {
        let acc = f32x4.splat(0);
        const tb = T + ((<usize>b) << 2);
        let jo: usize = 0;
        do {
          acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(ua + jo), v128.load(tb + jo)));
          jo += rowBytes;
        } while (jo < jEnd);
        const dst = arow + ((<usize>b) << 3);
        v128.store(dst, f64x2.add(v128.load(dst), f64x2.promote_low_f32x4(acc)));
        v128.store(dst, f64x2.add(v128.load(dst, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(acc, acc, 2, 3, 0, 1))), 16);
      }
      for (; b <= a; b++) {
        let s: f32 = 0;
        for (let j = 0; j < m; j++) {
          const jo = <usize>j * rowBytes;
          s += load<f32>(ua + jo) * load<f32>(T + jo + ((<usize>b) << 2));
        }
        const dst = arow + ((<usize>b) << 3);
        store<f64>(dst, load<f64>(dst) + <f64>s);
      }
    }
  }
}

/**
 * Solves A z = b in place for symmetric positive definite A (f64 d×d, lower triangle used and
 * overwritten by L, A = L Lᵀ); b (f64) becomes z. Returns 0 when A is not positive definite.
 *   L_aa = sqrt(A_aa − Σ_{t<a} L_at²),  L_ca = (A_ca − Σ_{t<a} L_ct L_at) / L_aa
 *   forward  L y = b,  backward Lᵀ z = y
 */
export function choleskySolve(A: usize, d: i32, b: usize): i32 {
  const rowBytes = (<usize>d) << 3;
  for (let a = 0; a < d; a++) {
    const ra = A + <usize>a * rowBytes;
    const diag = load<f64>(ra + ((<usize>a) << 3)) - dot64(ra, ra, a);
    if (!(diag > 0) || diag == Infinity) return 0;
    const l = Math.sqrt(diag);
    store<f64>(ra + ((<usize>a) << 3), l);
    const inv = 1 / l;
    for (let c = a + 1; c < d; c++) {
      const rc = A + <usize>c * rowBytes;
      const at = rc + ((<usize>a) << 3);
      store<f64>(at, (load<f64>(at) - dot64(rc, ra, a)) * inv);
    }
  }
  for (let a = 0; a < d; a++) {
    const ra = A + <usize>a * rowBytes;
    const s = load<f64>(b + ((<usize>a) << 3)) - dot64(ra, b, a);
    store<f64>(b + ((<usize>a) << 3), s / load<f64>(ra + ((<usize>a) << 3)));
  }
  for (let a = d - 1; a >= 0; a--) {
    let s = load<f64>(b + ((<usize>a) << 3));
    for (let t = a + 1; t < d; t++) s -= load<f64>(A + <usize>t * rowBytes + ((<usize>a) << 3)) * load<f64>(b + ((<usize>t) << 3));
    store<f64>(b + ((<usize>a) << 3), s / load<f64>(A + <usize>a * rowBytes + ((<usize>a) << 3)));
  }
  return 1;
}

// ---------------------------------------------------------------------------------------------
// One block of rows of a half-sweep (see src/training/solve-side.ts for the problem):
//   (G + Σ_j w_j f_j f_jᵀ + λ_r I) z = Σ_j c_j t_j f_j
//   explicit: G = 0, w = 1, c t = r − μ − b_j;  implicit: G = FᵀF, w = α·v, c t = 1 + α·v
// The block's CSR entries were copied to idx/vals; row r's entries are [indptr[r] − base,
// indptr[r+1] − base). out and stats point at the block's first row.

/** Scratch layout (bytes from `scratch`): x, r, p, Ap, tmp (dp f32 each), then w, coef, sx, sp (cap f32 each). */
@inline
function vecAt(scratch: usize, dp: i32, i: i32): usize {
  return scratch + <usize>(i * dp) * 4;
}

/**
 * Conjugate gradient, warm-started from the row's current factors, cgSteps steps, matrix-free:
 *   A·v = G·v + λ_r v + Σ_j w_j (f_j·v) f_j
 * Writes the solution to out, stats[2r+1] = λ_r‖z‖² and, with computeLoss, stats[2r] =
 *   explicit: Σ_j (t_j − f_j·z)²
 *   implicit: zᵀGz + Σ_j (c_j (1 − f_j·z)² − (f_j·z)²)
 */
export function cgRows(
  nRows: i32,
  indptr: usize,
  base: i32,
  idx: usize,
  vals: usize,
  fixed: usize,
  fixedBias: usize,
  out: usize,
  stats: usize,
  gram: usize,
  d: i32,
  explicit: i32,
  lambda: f64,
  countScaling: i32,
  alpha: f32,
  mu: f32,
  cgSteps: i32,
  computeLoss: i32,
  scratch: usize,
  cap: i32,
): void {
  const dp = (d + 3) & ~3;
  const x = vecAt(scratch, dp, 0);
  const r = vecAt(scratch, dp, 1);
  const p = vecAt(scratch, dp, 2);
  const Ap = vecAt(scratch, dp, 3);
  const w = vecAt(scratch, dp, 5);
  const coef = w + (<usize>cap << 2);
  const sx = coef + (<usize>cap << 2);
  const sp = sx + (<usize>cap << 2);
  const vb = (<usize>dp) << 2;
  memory.fill(x, 0, 5 * vb);
  // With α = 0 (implicit) every observed weight w = α·v is 0: the data part of A vanishes.
  const weighted = explicit != 0 || alpha != 0;
  for (let row = 0; row < nRows; row++) {
    const e0 = load<i32>(indptr + ((<usize>row) << 2)) - base;
    const n = load<i32>(indptr + ((<usize>row) << 2), 4) - base - e0;
    const o = out + ((<usize>(row * d)) << 2);
    const st = stats + ((<usize>row) << 4);
    if (n == 0) {
      // No ratings: zero factors and bias (even with count scaling, where λ_r = 0).
      memory.fill(o, 0, (<usize>d) << 2);
      store<f64>(st, 0);
      store<f64>(st, 0, 8);
      continue;
    }
    const ix = idx + ((<usize>e0) << 2);
    const vv = vals + ((<usize>e0) << 2);
    const lam: f64 = countScaling != 0 ? lambda * <f64>n : lambda;
    const lamv = f32x4.splat(<f32>lam);
    memory.copy(x, o, (<usize>d) << 2);

    // r = b − A x = Σ_j (c_j t_j − w_j s_j) f_j − G x − λ_r x,   s_j = f_j·x
    for (let j = 0; j < n; j++) {
      const jo = (<usize>j) << 2;
      const v = load<f32>(vv + jo);
      if (explicit != 0) {
        store<f32>(w + jo, 1);
        store<f32>(coef + jo, v - mu - load<f32>(fixedBias + ((<usize>load<i32>(ix + jo)) << 2))); // c t = r − μ − b_j
      } else {
        const wj = alpha * v;
        store<f32>(w + jo, wj); // w = c − 1 = α v
        store<f32>(coef + jo, 1 + wj); // c t = c
      }
    }
    if (explicit != 0) {
      for (let t: usize = 0; t < vb; t += 16) v128.store(r + t, f32x4.neg(f32x4.mul(lamv, v128.load(x + t))));
    } else {
      symv(gram, dp, x, r);
      for (let t: usize = 0; t < vb; t += 16) v128.store(r + t, f32x4.neg(f32x4.add(v128.load(r + t), f32x4.mul(lamv, v128.load(x + t)))));
    }
    gatherDotAxpy(fixed, ix, n, d, x, coef, w, -1, sx, r);
    memory.copy(p, r, vb);
    let rs = dotPadded(r, r, dp);
    for (let step = 0; step < cgSteps && rs > 1e-20; step++) {
      // Ap = G p + λ_r p + Σ_j w_j (f_j·p) f_j
      if (explicit != 0) {
        for (let t: usize = 0; t < vb; t += 16) v128.store(Ap + t, f32x4.mul(lamv, v128.load(p + t)));
      } else {
        symv(gram, dp, p, Ap);
        for (let t: usize = 0; t < vb; t += 16) v128.store(Ap + t, f32x4.add(v128.load(Ap + t), f32x4.mul(lamv, v128.load(p + t))));
      }
      if (weighted) gatherDotAxpy(fixed, ix, n, d, p, 0, w, 1, sp, Ap);
      const pAp = dotPadded(p, Ap, dp);
      if (!(pAp > 0)) break; // singular direction (λ = 0): keep the current iterate
      // α_cg = rᵀr / pᵀAp;  x += α_cg p;  r −= α_cg Ap;  p = r + (r'ᵀr' / rᵀr) p
      const a = rs / pAp;
      const av = f32x4.splat(<f32>a);
      for (let t: usize = 0; t < vb; t += 16) {
        v128.store(x + t, f32x4.add(v128.load(x + t), f32x4.mul(av, v128.load(p + t))));
        v128.store(r + t, f32x4.sub(v128.load(r + t), f32x4.mul(av, v128.load(Ap + t))));
      }
      // Keep s_j = f_j·x current for the loss: f_j·(x + α p) = s_j + α (f_j·p).
      if (!weighted && computeLoss != 0) gatherDot(fixed, ix, n, d, p, sp);
      if (weighted || computeLoss != 0) {
        const a32 = <f32>a;
        for (let j = 0; j < n; j++) {
          const jo = (<usize>j) << 2;
          store<f32>(sx + jo, load<f32>(sx + jo) + a32 * load<f32>(sp + jo));
        }
      }
      const rsNew = dotPadded(r, r, dp);
      const beta = f32x4.splat(<f32>(rsNew / rs));
      for (let t: usize = 0; t < vb; t += 16) v128.store(p + t, f32x4.add(v128.load(r + t), f32x4.mul(beta, v128.load(p + t))));
      rs = rsNew;
    }
    memory.copy(o, x, (<usize>d) << 2);
    store<f64>(st, lam * dotPadded(x, x, dp), 8);
    if (computeLoss != 0) store<f64>(st, dataLoss(n, ix, vv, sx, fixedBias, explicit, alpha, mu) + (explicit != 0 ? 0 : quadForm(gram, dp, x, Ap)));
  }
}

/** The row's data loss from s_j = f_j·z: explicit Σ (t_j − s_j)²; implicit Σ c_j (1 − s_j)² − s_j² (in f64). */
@inline
function dataLoss(n: i32, ix: usize, vv: usize, sx: usize, fixedBias: usize, explicit: i32, alpha: f32, mu: f32): f64 {
  let dl: f64 = 0;
  for (let j = 0; j < n; j++) {
    const jo = (<usize>j) << 2;
    const v = <f64>load<f32>(vv + jo);
    const s = <f64>load<f32>(sx + jo);
    if (explicit != 0) {
      const res = v - <f64>mu - <f64>load<f32>(fixedBias + ((<usize>load<i32>(ix + jo)) << 2)) - s;
      dl += res * res;
    } else {
      const c = 1 + <f64>alpha * v;
      dl += c * (1 - s) * (1 - s) - s * s;
    }
  }
  return dl;
}

/** zᵀ G z (= Σ over every column of s²) with G the padded f32 Gram; tmp receives G z. */
@inline
function quadForm(gram: usize, dp: i32, z: usize, tmp: usize): f64 {
  symv(gram, dp, z, tmp);
  return dotPadded(z, tmp, dp);
}

/**
 * Exact solves: A = G + Σ_j w_j f_j f_jᵀ + λ_r I (f64, gram64 = the full f64 Gram, implicit),
 * b = Σ_j c_j t_j f_j, z = A⁻¹ b by Cholesky. Same outputs as cgRows. Returns the first row (of
 * the block) whose matrix is not positive definite, or −1.
 * Scratch: five dp-f32 vectors (x first, tmp fifth), then w, coef, sx and a spare (cap f32 each),
 * then A (d·d f64), b (d f64), T and U (32·d f32 each), 16-byte aligned.
 */
export function choleskyRows(
  nRows: i32,
  indptr: usize,
  base: i32,
  idx: usize,
  vals: usize,
  fixed: usize,
  fixedBias: usize,
  out: usize,
  stats: usize,
  gram32: usize,
  gram64: usize,
  d: i32,
  explicit: i32,
  lambda: f64,
  countScaling: i32,
  alpha: f32,
  mu: f32,
  computeLoss: i32,
  scratch: usize,
  cap: i32,
): i32 {
  const dp = (d + 3) & ~3;
  const x = vecAt(scratch, dp, 0);
  const tmp = vecAt(scratch, dp, 4);
  const w = vecAt(scratch, dp, 5);
  const coef = w + (<usize>cap << 2);
  const sx = coef + (<usize>cap << 2);
  const A = (sx + (<usize>cap << 3) + 15) & ~15;
  const b = A + ((<usize>(d * d)) << 3);
  const T = (b + ((<usize>d) << 3) + 15) & ~15;
  const U = T + ((<usize>(32 * d)) << 2);
  const vb = (<usize>dp) << 2;
  memory.fill(x, 0, 5 * vb);
  const weighted = explicit != 0 || alpha != 0;
  for (let row = 0; row < nRows; row++) {
    const e0 = load<i32>(indptr + ((<usize>row) << 2)) - base;
    const n = load<i32>(indptr + ((<usize>row) << 2), 4) - base - e0;
    const o = out + ((<usize>(row * d)) << 2);
    const st = stats + ((<usize>row) << 4);
    if (n == 0) {
      memory.fill(o, 0, (<usize>d) << 2);
      store<f64>(st, 0);
      store<f64>(st, 0, 8);
      continue;
    }
    const ix = idx + ((<usize>e0) << 2);
    const vv = vals + ((<usize>e0) << 2);
    const lam: f64 = countScaling != 0 ? lambda * <f64>n : lambda;
    // A = G + Σ_j w_j f_j f_jᵀ + λ_r I (lower triangle),  b = Σ_j c_j t_j f_j
    if (explicit != 0) memory.fill(A, 0, (<usize>(d * d)) << 3);
    else memory.copy(A, gram64, (<usize>(d * d)) << 3);
    for (let a = 0; a < d; a++) {
      const at = A + ((<usize>(a * d + a)) << 3);
      store<f64>(at, load<f64>(at) + lam);
    }
    memory.fill(b, 0, (<usize>d) << 3);
    for (let j = 0; j < n; j++) {
      const jo = (<usize>j) << 2;
      const v = load<f32>(vv + jo);
      let ct: f64;
      if (explicit != 0) {
        store<f32>(w + jo, 1);
        ct = <f64>v - <f64>mu - <f64>load<f32>(fixedBias + ((<usize>load<i32>(ix + jo)) << 2));
      } else {
        store<f32>(w + jo, alpha * v);
        ct = 1 + <f64>alpha * <f64>v;
      }
      // b += c_j t_j f_j in f64, two lanes at a time
      const fj = rowAt(fixed, ix, j, d);
      const cv = f64x2.splat(ct);
      let t = 0;
      for (; t + 2 <= d; t += 2) {
        const bt = b + ((<usize>t) << 3);
        v128.store(bt, f64x2.add(v128.load(bt), f64x2.mul(cv, f64x2.promote_low_f32x4(v128.load64_zero(fj + ((<usize>t) << 2))))));
      }
      if (t < d) {
        const bt = b + ((<usize>t) << 3);
        store<f64>(bt, load<f64>(bt) + ct * <f64>load<f32>(fj + ((<usize>t) << 2)));
      }
    }
    if (weighted) syrkLower(fixed, ix, n, w, d, A, T, U);
    if (choleskySolve(A, d, b) == 0) return row;
    for (let t = 0; t < d; t++) store<f32>(x + ((<usize>t) << 2), <f32>load<f64>(b + ((<usize>t) << 3)));
    memory.copy(o, x, (<usize>d) << 2);
    store<f64>(st, lam * dotPadded(x, x, dp), 8);
    if (computeLoss != 0) {
      gatherDot(fixed, ix, n, d, x, sx);
      store<f64>(st, dataLoss(n, ix, vv, sx, fixedBias, explicit, alpha, mu) + (explicit != 0 ? 0 : quadForm(gram32, dp, x, tmp)));
    }
  }
  return -1;
}

/**
 * Partial Gram of rows [r0, r1) of a stride-d f32 store: lower triangle of G += Σ_r f_r f_rᵀ
 * (G f64 d×d). idx: scratch of 32 ints; T, U: 32·d f32 each.
 */
export function gramRows(f: usize, r0: i32, r1: i32, d: i32, G: usize, idx: usize, T: usize, U: usize): void {
  for (let start = r0; start < r1; start += 32) {
    const m = min(32, r1 - start);
    for (let j = 0; j < m; j++) store<i32>(idx + ((<usize>j) << 2), start + j);
    syrkLower(f, idx, m, 0, d, G, T, U);
  }
}

// ---------------------------------------------------------------------------------------------
// Catalog scoring of one vector (live recommendations, similar items). Item factors are re-laid as
// blocks of 4 items, Qt[(b·k + f)·4 + lane] = Q[(4b + lane)·k + f], so
// s_{4b..4b+3} = bias_{4b..} + Σ_f splat(p_f)·Qt_{b,f}: no horizontal sums, one multiply-add per four items.

/** One user, eight items per step: out[i] = bias[i] + Σ_f p[f]·Q[i·k + f], for n8·8 items (k ≥ 1). */
export function score1(qt: usize, bias: usize, p: usize, out: usize, n8: i32, k: i32): void {
  const kb = (<usize>k) << 4; // bytes of one 4-item block
  for (let blk = 0; blk < n8; blk++) {
    let acc0 = v128.load(bias);
    let acc1 = v128.load(bias, 16);
    let qa = qt;
    let pf = p;
    const qEnd = qt + kb;
    do {
      const s = v128.load32_splat(pf);
      acc0 = f32x4.add(acc0, f32x4.mul(s, v128.load(qa)));
      acc1 = f32x4.add(acc1, f32x4.mul(s, v128.load(qa + kb)));
      qa += 16;
      pf += 4;
    } while (qa < qEnd);
    v128.store(out, acc0);
    v128.store(out, acc1, 16);
    out += 32;
    bias += 32;
    qt += 2 * kb;
  }
}

/**
 * Writes to dst the indices i (ascending) of every score with out[i] ≥ thr among n4·4 scores and
 * returns how many. Four scores per compare; only a block with some lane ≥ thr is looked at lane
 * by lane. NaN is never ≥ thr.
 */
export function collect(out: usize, n4: i32, thr: f32, dst: usize): i32 {
  const t = f32x4.splat(thr);
  let m = 0;
  for (let blk = 0; blk < n4; blk++) {
    const o = out + ((<usize>blk) << 4);
    if (v128.any_true(f32x4.ge(v128.load(o), t))) {
      for (let lane = 0; lane < 4; lane++) {
        if (load<f32>(o + ((<usize>lane) << 2)) >= thr) {
          store<i32>(dst + ((<usize>m) << 2), blk * 4 + lane);
          m++;
        }
      }
    }
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Blocked top-N (precompute, batch recommend, evaluation): eight users against the catalog with the
// selection fused, so no score row is ever written out.
//
// Stage 1, a filter on 16-bit integers: item factors quantized with one catalog-wide scale S,
// q̃_i = round(S·q_i), user factors with a per-user scale s_u, p̃_u = round(s_u·p_u), both within
// ±M (M²·k < 2³⁰, so the 32-bit sums cannot overflow). i32x4.dot_i16x8_s multiplies eight
// 16-bit pairs and adds neighbours: two factors of four items per instruction, twice the work of
// an f32x4 multiply-add. The quantized score
//   ŝ_ui = b_i + (p̃_u·q̃_i)/(s_u·S)
// differs from the exact one by at most E_u (src/kernels/block-top-n.ts computes it):
//   |s_ui − ŝ_ui| ≤ max_f|p_uf − p̃_uf/s_u|·max_i‖q_i‖₁ + ‖p̃_u/s_u‖₁·max_{i,f}|q_if − q̃_if/S| + rounding.
// Stage 2, exact: an item is looked at only when ŝ_ui ≥ t_u − E_u, t_u the user's current n-th best
// exact score (−∞ until n items are held). It is skipped if the user rated it (a pointer walks the
// user's ascending rated list as the items ascend), else s_ui = b_i + Σ_f p_uf·q_if in f32 and it
// enters the user's min-heap when it beats the root. The heap orders like topK (top-k.ts): better =
// higher score, or equal score and lower index; both are packed into one unsigned 64-bit key,
//   key(s, i) = order(s)·2³² + (2³² − 1 − i),   order(s) = the f32 bits made monotone as unsigned,
// so one integer compare decides. Items arrive in ascending order, so an equal score never replaces
// the root. The result is exactly the top n of the exact scores.
//
// Per-group state (eight users), byte addresses:
//   p8   interleaved quantized pairs: i32 at (f/2)·32 + j·4 holds (p̃_j[f], p̃_j[f+1]) as two i16
//   uf   the users' f32 rows, stride k (the exact pass)
//   st   eight-lane fields, each 32 bytes: +0 c_j = 1/(s_j·S) (f32), +32 thr_j = t_j − E_j (f32),
//        +64 E_j (f32), +96 heap size (i32), +128 rated pointer, +160 rated end (i32 addresses)
//   hk   heap keys (u64), n per user, user j at j·n
// Unused lanes have p̃ = 0 and thr = +∞: nothing passes their filter.

/** Unsigned bits that order like the f32 value (−0 is made +0 first: they tie, as in topK). */
@inline
function orderBits(s: f32): u32 {
  const b = reinterpret<u32>(s + 0.0);
  return (b & 0x80000000) != 0 ? ~b : b | 0x80000000;
}

/** The f32 whose orderBits are o. */
@inline
function orderScore(o: u32): f32 {
  return reinterpret<f32>((o & 0x80000000) != 0 ? o & 0x7fffffff : ~o);
}

/** The heap key of (score s, item i): larger = better. */
@inline
function heapKey(s: f32, i: i32): u64 {
  return ((<u64>orderBits(s)) << 32) | <u64>(0xffffffff - <u32>i);
}

/** Looks at item i for user j (the filter passed): rated check, exact score, heap update. */
function topnConsider(j: i32, i: i32, qf: usize, bias: usize, k: i32, uf: usize, st: usize, hk: usize, n: i32): void {
  const jo = (<usize>j) << 2;
  let rp = load<i32>(st + jo, 128);
  const re = load<i32>(st + jo, 160);
  while (rp < re && load<i32>(rp) < i) rp += 4;
  store<i32>(st + jo, rp, 128);
  if (rp < re && load<i32>(rp) == i) return;
  const s = dot32(uf + (<usize>(j * k) << 2), qf + (<usize>(i * k) << 2), k) + load<f32>(bias + ((<usize>i) << 2));
  if (s != s) return; // NaN is never selected
  const H = hk + (<usize>(j * n) << 3);
  const key = heapKey(s, i);
  let size = load<i32>(st + jo, 96);
  if (size < n) {
    // sift up: a parent is worse than (or equal to) its children.
    let c = size;
    while (c > 0) {
      const p = (c - 1) >> 1;
      const pk = load<u64>(H + ((<usize>p) << 3));
      if (pk <= key) break;
      store<u64>(H + ((<usize>c) << 3), pk);
      c = p;
    }
    store<u64>(H + ((<usize>c) << 3), key);
    size++;
    store<i32>(st + jo, size, 96);
    if (size == n) store<f32>(st + jo, orderScore(<u32>(load<u64>(H) >> 32)) - load<f32>(st + jo, 64), 32);
    return;
  }
  if (key <= load<u64>(H)) return;
  heapSiftDown(H, n, key);
  store<f32>(st + jo, orderScore(<u32>(load<u64>(H) >> 32)) - load<f32>(st + jo, 64), 32);
}

/** Puts `key` at the root of a min-heap of `size` keys and sifts it down. */
function heapSiftDown(H: usize, size: i32, key: u64): void {
  let c = 0;
  for (;;) {
    const l = 2 * c + 1;
    if (l >= size) break;
    let w = l;
    let wk = load<u64>(H + ((<usize>l) << 3));
    if (l + 1 < size) {
      const rk = load<u64>(H + ((<usize>l) << 3), 8);
      if (rk < wk) {
        w = l + 1;
        wk = rk;
      }
    }
    if (wk >= key) break;
    store<u64>(H + ((<usize>c) << 3), wk);
    c = w;
  }
  store<u64>(H + ((<usize>c) << 3), key);
}

/** The lanes of one user's four filtered scores v (items i0..i0+3) that pass thr_j go to topnConsider. */
function topnLanes(j: i32, i0: i32, v: v128, nItems: i32, qf: usize, bias: usize, k: i32, uf: usize, st: usize, hk: usize, n: i32): void {
  const ta = st + 32 + ((<usize>j) << 2);
  if (i0 < nItems && f32x4.extract_lane(v, 0) >= load<f32>(ta)) topnConsider(j, i0, qf, bias, k, uf, st, hk, n);
  if (i0 + 1 < nItems && f32x4.extract_lane(v, 1) >= load<f32>(ta)) topnConsider(j, i0 + 1, qf, bias, k, uf, st, hk, n);
  if (i0 + 2 < nItems && f32x4.extract_lane(v, 2) >= load<f32>(ta)) topnConsider(j, i0 + 2, qf, bias, k, uf, st, hk, n);
  if (i0 + 3 < nItems && f32x4.extract_lane(v, 3) >= load<f32>(ta)) topnConsider(j, i0 + 3, qf, bias, k, uf, st, hk, n);
}

/** ŝ = b + c_j·(p̃·q̃) of four items for user j, compared with thr_j; a passing block goes lane by lane. */
@inline
function topnCheck(j: i32, i0: i32, acc: v128, b: v128, nItems: i32, qf: usize, bias: usize, k: i32, uf: usize, st: usize, hk: usize, n: i32): void {
  const jo = (<usize>j) << 2;
  const v = f32x4.add(b, f32x4.mul(f32x4.convert_i32x4_s(acc), v128.load32_splat(st + jo)));
  if (v128.any_true(f32x4.ge(v, v128.load32_splat(st + jo, 32)))) topnLanes(j, i0, v, nItems, qf, bias, k, uf, st, hk, n);
}

/**
 * Stage 1 and 2 for one group of eight users over the 4-item blocks [blk0, blk1) of the catalog,
 * blk0 and blk1 even. qi: the quantized items, 4 to a block, Qi[(b·kp + g)·8 + 2·lane + h] =
 * q̃_{4b+lane}[2g + h] (i16), kp = ⌈k/2⌉ pairs (a zero pads odd k), zero blocks padding the
 * catalog to an even count; qf: the f32 item rows, stride k; bias: f32 per item (zeros for
 * implicit models, padded like qi). Padding items (index ≥ nItems) are never considered.
 *
 * Two blocks (eight items) at a time, for four users at a time: each splatted user pair feeds two
 * dot_i16x8_s and each item load feeds four, 2 loads and 4 splats per 8 products (against 1 and 8
 * with one block for eight users), in 8 accumulators, 11 vector registers in all.
 */
export function topnTile(
  qi: usize,
  qf: usize,
  bias: usize,
  nItems: i32,
  k: i32,
  kp: i32,
  blk0: i32,
  blk1: i32,
  p8: usize,
  uf: usize,
  st: usize,
  hk: usize,
  n: i32,
): void {
  const kb = (<usize>kp) << 4; // bytes of one quantized 4-item block
  let qb = qi + (<usize>blk0) * kb;
  for (let blk = blk0; blk < blk1; blk += 2) {
    const i0 = blk << 2;
    const bA = v128.load(bias + ((<usize>i0) << 2));
    const bB = v128.load(bias + ((<usize>i0) << 2), 16);
    for (let h = 0; h < 2; h++) {
      let a0 = i32x4.splat(0);
      let a1 = a0;
      let a2 = a0;
      let a3 = a0;
      let c0 = a0;
      let c1 = a0;
      let c2 = a0;
      let c3 = a0;
      let qa = qb;
      let pf = p8 + ((<usize>h) << 4);
      const qEnd = qb + kb;
      do {
        const qA = v128.load(qa);
        const qB = v128.load(qa + kb);
        let s = v128.load32_splat(pf);
        a0 = i32x4.add(a0, i32x4.dot_i16x8_s(s, qA));
        c0 = i32x4.add(c0, i32x4.dot_i16x8_s(s, qB));
        s = v128.load32_splat(pf, 4);
        a1 = i32x4.add(a1, i32x4.dot_i16x8_s(s, qA));
        c1 = i32x4.add(c1, i32x4.dot_i16x8_s(s, qB));
        s = v128.load32_splat(pf, 8);
        a2 = i32x4.add(a2, i32x4.dot_i16x8_s(s, qA));
        c2 = i32x4.add(c2, i32x4.dot_i16x8_s(s, qB));
        s = v128.load32_splat(pf, 12);
        a3 = i32x4.add(a3, i32x4.dot_i16x8_s(s, qA));
        c3 = i32x4.add(c3, i32x4.dot_i16x8_s(s, qB));
        qa += 16;
        pf += 32;
      } while (qa < qEnd);
      // Per user, the first block's items before the second's: each user still meets items in ascending order.
      const j = h << 2;
      topnCheck(j, i0, a0, bA, nItems, qf, bias, k, uf, st, hk, n);
      topnCheck(j, i0 + 4, c0, bB, nItems, qf, bias, k, uf, st, hk, n);
      topnCheck(j + 1, i0, a1, bA, nItems, qf, bias, k, uf, st, hk, n);
      topnCheck(j + 1, i0 + 4, c1, bB, nItems, qf, bias, k, uf, st, hk, n);
      topnCheck(j + 2, i0, a2, bA, nItems, qf, bias, k, uf, st, hk, n);
      topnCheck(j + 2, i0 + 4, c2, bB, nItems, qf, bias, k, uf, st, hk, n);
      topnCheck(j + 3, i0, a3, bA, nItems, qf, bias, k, uf, st, hk, n);
      topnCheck(j + 3, i0 + 4, c3, bB, nItems, qf, bias, k, uf, st, hk, n);
    }
    qb += kb << 1;
  }
}

/** Empties a heap of `size` keys into outS/outI best first (descending; ties by lower index). */
export function heapDrain(H: usize, size: i32, outS: usize, outI: usize): void {
  for (let m = size; m > 0; m--) {
    const top = load<u64>(H);
    store<f32>(outS + ((<usize>(m - 1)) << 2), orderScore(<u32>(top >> 32)));
    store<i32>(outI + ((<usize>(m - 1)) << 2), <i32>(0xffffffff - <u32>top));
    if (m - 1 > 0) heapSiftDown(H, m - 1, load<u64>(H + ((<usize>(m - 1)) << 3)));
  }
}
