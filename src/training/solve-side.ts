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
import { axpyRow, choleskySolve, dot, dotRow, rank1Lower, symMatVec } from './linalg.js';

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

/** Per-thread scratch, allocated once per fit and reused for every row. */
export interface Scratch {
  readonly A: Float64Array;
  readonly x: Float64Array;
  readonly r: Float64Array;
  readonly p: Float64Array;
  readonly Ap: Float64Array;
}

export function createScratch(d: number): Scratch {
  return {
    A: new Float64Array(d * d),
    x: new Float64Array(d),
    r: new Float64Array(d),
    p: new Float64Array(d),
    Ap: new Float64Array(d),
  };
}

/**
 * Solves rows [start, end) of one side, writing factors to `out` and per-row loss terms to
 * `stats`. With computeLoss, stats[2r] is the row's share of the data loss at the new factors
 *   explicit: Σ_{j∈R_r} (t_rj − f_j·z)²
 *   implicit: zᵀ G z + Σ_{j∈R_r} (c_rj (1 − f_j·z)² − (f_j·z)²)   (= Σ over all columns of c(p − s)²)
 * Returns the first row whose Cholesky factorisation failed (not positive definite), or −1.
 */
export function solveRows(
  side: SideArrays,
  cfg: SolveConfig,
  start: number,
  end: number,
  computeLoss: boolean,
  s: Scratch,
): number {
  const { indptr, indices, values } = side.csr;
  const { fixed, fixedBias, out, gram, stats } = side;
  const { d, explicit, alpha, globalMean } = cfg;
  const { A, x, r, p, Ap } = s;
  for (let row = start; row < end; row++) {
    const e0 = indptr[row]!;
    const e1 = indptr[row + 1]!;
    const oo = row * d;
    if (e1 === e0) {
      // No ratings: zero factors and bias (even with count scaling, where λ_r = 0).
      out.fill(0, oo, oo + d);
      stats[2 * row] = 0;
      stats[2 * row + 1] = 0;
      continue;
    }
    const lam = cfg.countScaling ? cfg.lambda * (e1 - e0) : cfg.lambda;

    if (cfg.cholesky) {
      // A = G + Σ_j w_j f_j f_jᵀ + λ_r I (lower triangle),  x = Σ_j c_j t_j f_j
      if (explicit) A.fill(0);
      else A.set(gram);
      for (let a = 0; a < d; a++) A[a * d + a] = A[a * d + a]! + lam;
      x.fill(0);
      for (let e = e0; e < e1; e++) {
        const fo = indices[e]! * d;
        const v = values[e]!;
        if (explicit) {
          rank1Lower(A, d, 1, fixed, fo);
          axpyRow(v - globalMean - fixedBias[indices[e]!]!, fixed, fo, x, d);
        } else {
          const w = alpha * v;
          if (w !== 0) rank1Lower(A, d, w, fixed, fo);
          axpyRow(1 + w, fixed, fo, x, d);
        }
      }
      if (!choleskySolve(A, d, x)) return row;
    } else {
      // Conjugate gradient on the same system, warm-started from the current factors and
      // matrix-free: A·v = G·v + λ_r v + Σ_j w_j (f_j·v) f_j.
      for (let t = 0; t < d; t++) x[t] = out[oo + t]!;
      // r = b − A x = Σ_j (c_j t_j − w_j f_j·x) f_j − G x − λ_r x
      if (explicit) {
        for (let t = 0; t < d; t++) r[t] = -lam * x[t]!;
      } else {
        symMatVec(gram, d, x, r);
        for (let t = 0; t < d; t++) r[t] = -r[t]! - lam * x[t]!;
      }
      for (let e = e0; e < e1; e++) {
        const fo = indices[e]! * d;
        const v = values[e]!;
        const fx = dotRow(fixed, fo, x, d);
        const coef = explicit ? v - globalMean - fixedBias[indices[e]!]! - fx : 1 + alpha * v * (1 - fx);
        axpyRow(coef, fixed, fo, r, d);
      }
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
        for (let e = e0; e < e1; e++) {
          const w = explicit ? 1 : alpha * values[e]!;
          if (w === 0) continue;
          const fo = indices[e]! * d;
          axpyRow(w * dotRow(fixed, fo, p, d), fixed, fo, Ap, d);
        }
        const pAp = dot(p, Ap, d);
        if (!(pAp > 0)) break; // singular direction (λ = 0): keep the current iterate
        // α_cg = rᵀr / pᵀAp;  x += α_cg p;  r −= α_cg Ap;  p = r + (r'ᵀr' / rᵀr) p
        const step1 = rs / pAp;
        for (let t = 0; t < d; t++) {
          x[t] = x[t]! + step1 * p[t]!;
          r[t] = r[t]! - step1 * Ap[t]!;
        }
        const rsNew = dot(r, r, d);
        const beta = rsNew / rs;
        for (let t = 0; t < d; t++) p[t] = r[t]! + beta * p[t]!;
        rs = rsNew;
      }
    }

    // Store (rounded to float32) and keep the rounded values so the loss is the stored model's.
    for (let t = 0; t < d; t++) {
      const v = Math.fround(x[t]!);
      x[t] = v;
      out[oo + t] = v;
    }
    stats[2 * row + 1] = lam * dot(x, x, d);
    if (computeLoss) {
      let dl = 0;
      for (let e = e0; e < e1; e++) {
        const fo = indices[e]! * d;
        const v = values[e]!;
        const fx = dotRow(fixed, fo, x, d);
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
