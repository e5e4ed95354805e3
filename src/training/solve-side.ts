/**
 * One half-sweep of alternating least squares: with the other side's factors fixed, solve every
 * row's ridge problem. The same routine runs on the user-major matrix (solving users against fixed
 * items) and on the item-major one (solving items against fixed users); explicit and implicit
 * feedback differ only in the weights and targets below.
 *
 * Every row r (a user, or an item) minimises a weighted ridge problem over its columns j:
 *   Σ_j c_rj (t_rj − f_j·z)² + λ_r ‖z‖²        λ_r = λ·n_r (count scaling) or λ (none)
 * whose normal equations are
 *   (G + Σ_{j∈R_r} w_rj f_j f_jᵀ + λ_r I) z = Σ_{j∈R_r} c_rj t_rj f_j
 * explicit (d = k+1, z = [p_u; b_u], f_j = [q_j; 1], only observed columns):
 *   G = 0, w = 1, c = 1, t = r_uj − μ − b_j
 * implicit (d = k, over all columns; unobserved columns have c = 1, t = 0):
 *   G = FᵀF (precomputed once per half-sweep), w = c − 1 = α·v, c = 1 + α·v, t = 1
 */
import type { Csr } from '../ratings/matrix.js';
import {
  choleskySolve,
  dot,
  GRAM_CHUNK,
  gatherAxpy,
  gatherDot,
  gatherRows,
  gatherSyrk,
  gramRows,
  SYRK_BLOCK,
  symMatVec,
  symmetrizeFromLower,
} from './linalg.js';
import type { TrainParams } from './params.js';

/** The arrays of one half-sweep. All may live on SharedArrayBuffer (workers write `out`/`stats`). */
export interface SideArrays {
  /** rows = the side being solved. */
  readonly csr: Csr;
  /** the fixed side's features, stride d (explicit: the bias slot holds the constant 1). */
  readonly fixed: Float32Array;
  /** explicit: the fixed side's biases (part of the target); implicit: unused. */
  readonly fixedBias: Float32Array;
  /** this side's factors, stride d: read as the CG warm start, overwritten by the solution. */
  readonly out: Float32Array;
  /** implicit: G = FᵀF of the fixed features (d×d, full); explicit: unused. */
  readonly gram: Float64Array;
  /** 2 per row: [data loss of the row (when computeLoss), λ_r‖z_r‖²]. */
  readonly stats: Float64Array;
}

/** The scalar settings of a half-sweep (identical for every row and thread). */
export interface SolveConfig {
  readonly d: number;
  readonly explicit: boolean;
  readonly lambda: number;
  readonly countScaling: boolean;
  readonly alpha: number;
  readonly cholesky: boolean;
  readonly cgSteps: number;
  /** explicit: μ, subtracted from every target. */
  readonly globalMean: number;
}

/**
 * The settings for `params`' objective (λ, its scaling, α; explicit or implicit). fit and fold-in
 * both take them from here, so a folded-in user solves exactly the problem training solved.
 */
export function solveConfig(
  params: TrainParams,
  options: { readonly d: number; readonly cholesky: boolean; readonly globalMean: number },
): SolveConfig {
  const explicit = params.feedback === 'explicit';
  return {
    d: options.d,
    explicit,
    lambda: params.lambda,
    countScaling: params.lambdaScaling === 'count',
    alpha: explicit ? 0 : params.alpha,
    cholesky: options.cholesky,
    cgSteps: params.cgSteps,
    globalMean: options.globalMean,
  };
}

/** Per-thread scratch, allocated once per fit and reused for every row (grown for long rows). */
export interface Scratch {
  readonly A: Float64Array;
  readonly x: Float64Array;
  readonly r: Float64Array;
  readonly p: Float64Array;
  readonly Ap: Float64Array;
  /** gatherSyrk's feature-major blocks. */
  readonly syrk: Float64Array;
  /** gramRows' row indices and unit weights. */
  readonly gramIdx: Int32Array;
  readonly ones: Float64Array;
  /** per entry of the current row: s_j = f_j·x (kept current through the CG steps). */
  sx: Float64Array;
  /** per entry: f_j·p, or the weights w_j. */
  sp: Float64Array;
  /** per entry: the coefficients of a gathered axpy. */
  coef: Float64Array;
  /** a long row's feature rows, copied contiguously (row j at j·d), and the indices 0, 1, 2, … */
  rows: Float32Array;
  iota: Int32Array;
}

/** Rows with at least this many entries are gathered into contiguous scratch for CG. */
export const GATHER_MIN_ROW = 1024;

function ensureGatherCapacity(s: Scratch, n: number, d: number): void {
  if (s.iota.length >= n) return;
  const cap = Math.max(n, 2 * s.iota.length);
  s.rows = new Float32Array(cap * d);
  s.iota = Int32Array.from({ length: cap }, (_, j) => j);
}

export function createScratch(d: number, rowCapacity = 256): Scratch {
  return {
    A: new Float64Array(d * d),
    x: new Float64Array(d),
    r: new Float64Array(d),
    p: new Float64Array(d),
    Ap: new Float64Array(d),
    syrk: new Float64Array(2 * d * SYRK_BLOCK),
    gramIdx: new Int32Array(SYRK_BLOCK),
    ones: new Float64Array(SYRK_BLOCK).fill(1),
    sx: new Float64Array(rowCapacity),
    sp: new Float64Array(rowCapacity),
    coef: new Float64Array(rowCapacity),
    rows: new Float32Array(0),
    iota: new Int32Array(0),
  };
}

function ensureRowCapacity(s: Scratch, n: number): void {
  if (s.sx.length >= n) return;
  const cap = Math.max(n, 2 * s.sx.length);
  s.sx = new Float64Array(cap);
  s.sp = new Float64Array(cap);
  s.coef = new Float64Array(cap);
}

/**
 * Solves rows [start, end) of one side, writing factors to `out` and per-row loss terms to
 * `stats`. With computeLoss, stats[2r] is the row's share of the data loss at the new factors
 *   explicit: Σ_{j∈R_r} (t_rj − f_j·z)²
 *   implicit: zᵀ G z + Σ_{j∈R_r} (c_rj (1 − f_j·z)² − (f_j·z)²)   (= Σ over all columns of c(p − s)²)
 * Returns the first row whose Cholesky factorisation failed (not positive definite), or −1.
 */
export function solveRows(side: SideArrays, cfg: SolveConfig, start: number, end: number, computeLoss: boolean, s: Scratch): number {
  const { indptr, indices, values } = side.csr;
  const { fixed, fixedBias, out, gram, stats } = side;
  const { d, explicit, alpha, globalMean } = cfg;
  const { A, x, r, p, Ap } = s;
  // With α = 0 (implicit) every observed weight w = α·v is 0: the data part of A vanishes.
  const weighted = explicit || alpha !== 0;
  for (let row = start; row < end; row++) {
    const e0 = indptr[row]!;
    const e1 = indptr[row + 1]!;
    const n = e1 - e0;
    const oo = row * d;
    if (n === 0) {
      // No ratings: zero factors and bias (even with count scaling, where λ_r = 0).
      out.fill(0, oo, oo + d);
      stats[2 * row] = 0;
      stats[2 * row + 1] = 0;
      continue;
    }
    ensureRowCapacity(s, n);
    const { sx, sp, coef } = s;
    const lam = cfg.countScaling ? cfg.lambda * n : cfg.lambda;

    if (cfg.cholesky) {
      // A = G + Σ_j w_j f_j f_jᵀ + λ_r I (lower triangle),  x = Σ_j c_j t_j f_j
      if (explicit) A.fill(0);
      else A.set(gram);
      for (let a = 0; a < d; a++) A[a * d + a] = A[a * d + a]! + lam;
      for (let j = 0; j < n; j++) {
        const e = e0 + j;
        const v = values[e]!;
        if (explicit) {
          sp[j] = 1; // w
          coef[j] = v - globalMean - fixedBias[indices[e]!]!; // c t = r − μ − b_j
        } else {
          sp[j] = alpha * v; // w = c − 1
          coef[j] = 1 + alpha * v; // c t = c
        }
      }
      if (weighted) gatherSyrk(fixed, indices, e0, e1, sp, A, d, s.syrk);
      x.fill(0);
      gatherAxpy(fixed, indices, e0, e1, coef, x, d);
      if (!choleskySolve(A, d, x)) return row;
    } else {
      // Conjugate gradient on the same system, warm-started from the current factors and
      // matrix-free: A·v = G·v + λ_r v + Σ_j w_j (f_j·v) f_j.
      for (let t = 0; t < d; t++) x[t] = out[oo + t]!;
      // A long row is read 2·(cgSteps+1) times: copy its feature rows into one contiguous block
      // first, so the later passes stream through memory instead of chasing scattered rows.
      let F = fixed;
      let I = indices;
      let g0 = e0;
      let g1 = e1;
      if (n >= GATHER_MIN_ROW) {
        ensureGatherCapacity(s, n, d);
        gatherRows(fixed, indices, e0, e1, d, s.rows);
        F = s.rows;
        I = s.iota;
        g0 = 0;
        g1 = n;
      }
      // r = b − A x = Σ_j (c_j t_j − w_j s_j) f_j − G x − λ_r x,   s_j = f_j·x
      gatherDot(F, I, g0, g1, x, d, sx);
      for (let j = 0; j < n; j++) {
        const e = e0 + j;
        const v = values[e]!;
        coef[j] = explicit ? v - globalMean - fixedBias[indices[e]!]! - sx[j]! : 1 + alpha * v * (1 - sx[j]!);
      }
      if (explicit) {
        for (let t = 0; t < d; t++) r[t] = -lam * x[t]!;
      } else {
        symMatVec(gram, d, x, r);
        for (let t = 0; t < d; t++) r[t] = -r[t]! - lam * x[t]!;
      }
      gatherAxpy(F, I, g0, g1, coef, r, d);
      for (let t = 0; t < d; t++) p[t] = r[t]!;
      let rs = dot(r, r, d);
      for (let step = 0; step < cfg.cgSteps && rs > 1e-20; step++) {
        // Ap = G p + λ_r p + Σ_j w_j (f_j·p) f_j
        if (explicit) {
          for (let t = 0; t < d; t++) Ap[t] = lam * p[t]!;
        } else {
          symMatVec(gram, d, p, Ap);
          for (let t = 0; t < d; t++) Ap[t] = Ap[t]! + lam * p[t]!;
        }
        if (weighted) {
          gatherDot(F, I, g0, g1, p, d, sp);
          if (explicit) {
            gatherAxpy(F, I, g0, g1, sp, Ap, d);
          } else {
            for (let j = 0; j < n; j++) coef[j] = alpha * values[e0 + j]! * sp[j]!;
            gatherAxpy(F, I, g0, g1, coef, Ap, d);
          }
        }
        const pAp = dot(p, Ap, d);
        if (!(pAp > 0)) break; // singular direction (λ = 0): keep the current iterate
        // α_cg = rᵀr / pᵀAp;  x += α_cg p;  r −= α_cg Ap;  p = r + (r'ᵀr' / rᵀr) p
        const step1 = rs / pAp;
        for (let t = 0; t < d; t++) {
          x[t] = x[t]! + step1 * p[t]!;
          r[t] = r[t]! - step1 * Ap[t]!;
        }
        // Keep s_j = f_j·x current for the loss: f_j·(x + α p) = s_j + α (f_j·p).
        if (weighted) for (let j = 0; j < n; j++) sx[j] = sx[j]! + step1 * sp[j]!;
        else if (computeLoss) {
          gatherDot(F, I, g0, g1, p, d, sp);
          for (let j = 0; j < n; j++) sx[j] = sx[j]! + step1 * sp[j]!;
        }
        const rsNew = dot(r, r, d);
        const beta = rsNew / rs;
        for (let t = 0; t < d; t++) p[t] = r[t]! + beta * p[t]!;
        rs = rsNew;
      }
    }

    // Store (rounded to float32) and keep the rounded values so the penalty is the stored model's.
    for (let t = 0; t < d; t++) {
      const v = Math.fround(x[t]!);
      x[t] = v;
      out[oo + t] = v;
    }
    stats[2 * row + 1] = lam * dot(x, x, d);
    if (computeLoss) {
      // CG kept s_j = f_j·x current (to float32 rounding of x); cholesky computes it now.
      if (cfg.cholesky) gatherDot(fixed, indices, e0, e1, x, d, sx);
      let dl = 0;
      for (let j = 0; j < n; j++) {
        const e = e0 + j;
        const v = values[e]!;
        const fx = sx[j]!;
        if (explicit) {
          const res = v - globalMean - fixedBias[indices[e]!]! - fx; // (t − s)²
          dl += res * res;
        } else {
          const c = 1 + alpha * v; // c (1 − s)² − s²: the observed correction to zᵀGz
          dl += c * (1 - fx) * (1 - fx) - fx * fx;
        }
      }
      if (!explicit) {
        symMatVec(gram, d, x, Ap); // zᵀ G z = Σ over every column of s²
        dl += dot(x, Ap, d);
      }
      stats[2 * row] = dl;
    }
  }
  return -1;
}

/** Everything a half-sweep reads or writes, shared by the main thread and the workers. */
export interface SharedState {
  readonly byUser: Csr;
  readonly byItem: Csr;
  /** user factors, stride d (explicit: [p_u; b_u]). */
  readonly users: Float32Array;
  /** item factors, stride d (explicit: [q_i; b_i]). */
  readonly items: Float32Array;
  /** explicit: the fixed side's factors with the bias slot set to 1 (prepared per half-sweep). */
  readonly feat: Float32Array;
  /** explicit: the fixed side's biases (prepared per half-sweep). */
  readonly featBias: Float32Array;
  readonly gram: Float64Array;
  /** implicit: per GRAM_CHUNK rows of the fixed side, a partial Gram (lower triangle, d×d each). */
  readonly gramParts: Float64Array;
  readonly stats: Float64Array;
}

export type Side = 'users' | 'items';

/** The arrays of the half-sweep that solves `side` against the other side's fixed factors. */
export function sideArrays(st: SharedState, side: Side, explicit: boolean): SideArrays {
  const solvingUsers = side === 'users';
  return {
    csr: solvingUsers ? st.byUser : st.byItem,
    fixed: explicit ? st.feat : solvingUsers ? st.items : st.users,
    fixedBias: st.featBias,
    out: solvingUsers ? st.users : st.items,
    gram: st.gram,
    stats: st.stats,
  };
}

/** The number of rows of the side that is fixed while `side` is solved. */
function fixedRows(st: SharedState, side: Side): number {
  return (side === 'users' ? st.byItem : st.byUser).indptr.length - 1;
}

/** How many partial Grams the half-sweep solving `side` needs (implicit). */
export function gramChunkCount(st: SharedState, side: Side): number {
  return Math.ceil(fixedRows(st, side) / GRAM_CHUNK);
}

/**
 * Partial Gram number `chunk` of the fixed side, G_c = Σ_{r in chunk} f_r f_rᵀ (lower triangle),
 * into st.gramParts. Any thread may compute any chunk: the chunks are fixed.
 */
export function partialGram(st: SharedState, side: Side, chunk: number, d: number, s: Scratch): void {
  const f = side === 'users' ? st.items : st.users;
  const n = fixedRows(st, side);
  const part = st.gramParts.subarray(chunk * d * d, (chunk + 1) * d * d);
  part.fill(0);
  const r0 = chunk * GRAM_CHUNK;
  gramRows(f, r0, Math.min(n, r0 + GRAM_CHUNK), d, part, s.gramIdx, s.ones, s.syrk);
}

/**
 * What one thread runs during a half-sweep: the plain-TypeScript solver below (`jsSolver`, the
 * reference) or the WebAssembly kernels (`wasmSolver` in wasm-side.ts). Both compute, for every
 * row, the same solution and loss terms into the same SharedState.
 */
export interface SideSolver {
  /** Solves rows [start, end) of `side`; returns the first row whose Cholesky failed, or −1. */
  solve(side: Side, start: number, end: number, computeLoss: boolean): number;
  /** Partial Gram number `chunk` of the side fixed while `side` is solved (see partialGram). */
  partialGram(side: Side, chunk: number): void;
}

/** The plain-TypeScript solver over `st`, with its own scratch. */
export function jsSolver(st: SharedState, cfg: SolveConfig): SideSolver {
  const scratch = createScratch(cfg.d);
  return {
    solve: (side, start, end, computeLoss) => solveRows(sideArrays(st, side, cfg.explicit), cfg, start, end, computeLoss, scratch),
    partialGram: (side, chunk) => partialGram(st, side, chunk, cfg.d, scratch),
  };
}

/** G = Σ_c G_c in chunk order (deterministic for any thread count), written full into st.gram. */
export function reduceGram(st: SharedState, nChunks: number, d: number): void {
  const G = st.gram;
  const parts = st.gramParts;
  const dd = d * d;
  G.fill(0, 0, dd);
  for (let c = 0; c < nChunks; c++) {
    const o = c * dd;
    for (let t = 0; t < dd; t++) G[t] = G[t]! + parts[o + t]!;
  }
  symmetrizeFromLower(G, d);
}
