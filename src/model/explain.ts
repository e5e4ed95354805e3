/**
 * Explanations: a score decomposed over the user's own rated items, from one factorization of the
 * user's ridge system (Hu, Koren & Volinsky 2008, §5). The user's vector is re-solved against the
 * fixed item factors with the model's λ, λ scaling and α — the fold-in problem of
 * src/training/solve-side.ts:
 *
 *   A_u z_u = Σ_{j∈I_u} c_uj t_uj f_j,   A_u = G + Σ_{j∈I_u} w_uj f_j f_jᵀ + λ_u I
 *
 * so for any item i with feature g_i the score is linear in the rated items:
 *
 *   g_iᵀ z_u = Σ_{j∈I_u} c_uj t_uj · (A_u⁻¹ g_i)ᵀ f_j      (A_u symmetric)
 *
 * implicit (HKV): f_j = y_j, G = YᵀY, w = α·r_uj, c = 1 + α·r_uj, t = 1, g_i = y_i:
 *   contribution_j = c_uj · y_iᵀ W_u y_j with W_u = A_u⁻¹, and the contributions sum to x_u·y_i.
 * explicit: f_j = [q_j; 1], G = 0, w = c = 1, t = r_uj − μ − b_j, z_u = [p_u; b_u], g_i = [q_i; 0]:
 *   contribution_j = (r_uj − μ − b_j) · [q_i; 0]ᵀ A_u⁻¹ [q_j; 1], which equals
 *   (r_uj − μ − b_u − b_j) · q_iᵀ (Σ q_j q_jᵀ + λ_u I)⁻¹ q_j (the p_u block of the joint solve),
 *   summing to p_u·q_i; μ, b_u and b_i are reported apart, and score = μ + b_u + b_i + Σ.
 * One d×d Cholesky factorization per user, then one pair of triangular solves and one gathered
 * matrix-vector product over the rated rows per explained item.
 */
import { ModelFitError } from '../errors.js';
import { choleskySolve, choleskySubstitute, gatherAxpy, gatherDot, gatherSyrk, SYRK_BLOCK } from '../training/linalg.js';
import type { TrainParams } from '../training/params.js';

export interface Contribution {
  readonly item: string;
  /** This rated item's share of the score. */
  readonly contribution: number;
}

export interface Explanation {
  readonly user: string;
  readonly item: string;
  /** The score of the re-solved user vector: explicit μ + b_u + b_i + p_u·q_i, implicit x_u·y_i. */
  readonly score: number;
  /** The largest contributions, largest first. */
  readonly contributions: Contribution[];
  /** The sum of the contributions not listed. */
  readonly rest: number;
  /** Explicit models: the bias terms of the score, apart from the contributions. */
  readonly bias?: { readonly global: number; readonly user: number; readonly item: number };
}

/** What an explainer needs of a model. */
export interface ExplainableModel {
  readonly params: TrainParams;
  readonly factors: number;
  readonly nItems: number;
  readonly itemIds: readonly string[];
  readonly itemFactors: Float32Array;
  readonly itemBias: Float32Array | null;
  readonly globalMean: number;
}

/** One user's factorized system: explains any item's score against it. */
export interface Explainer {
  explain(user: string, i: number, top: number): Explanation;
}

/**
 * Factorizes A_u for the user's rated items (dense indices, values) once. `gram` is YᵀY (implicit;
 * d×d, full) and is ignored for explicit models. Throws ModelFitError when A_u is not positive
 * definite (λ = 0 with too few ratings).
 */
export function createExplainer(m: ExplainableModel, items: Int32Array, values: Float32Array, gram: Float64Array | null): Explainer {
  const k = m.factors;
  const explicit = m.params.feedback === 'explicit';
  const d = explicit ? k + 1 : k;
  const n = items.length;
  const lambdaU = m.params.lambdaScaling === 'count' ? m.params.lambda * n : m.params.lambda;
  const alpha = m.params.alpha;
  const Q = m.itemFactors;
  // The per-item weight w_uj of A_u and coefficient c_uj t_uj of the right-hand side.
  const w = new Float64Array(n);
  const coef = new Float64Array(n);
  for (let e = 0; e < n; e++) {
    const v = values[e]!;
    w[e] = explicit ? 1 : alpha * v;
    coef[e] = explicit ? v - m.globalMean - (m.itemBias?.[items[e]!] ?? 0) : 1 + alpha * v;
  }
  // A_u, lower triangle (all choleskySolve reads). The q-block Σ w_uj q_j q_jᵀ is one gathered
  // syrk over the rated rows; explicit models add the row of the constant feature 1:
  // A[k][t] = Σ_j q_j[t], A[k][k] = n.
  const B = new Float64Array(k * k);
  if (!explicit && gram) B.set(gram);
  gatherSyrk(Q, items, 0, n, w, B, k, new Float64Array(2 * k * SYRK_BLOCK));
  let A = B;
  if (explicit) {
    A = new Float64Array(d * d);
    for (let a = 0; a < k; a++) A.set(B.subarray(a * k, a * k + a + 1), a * d);
    const last = new Float64Array(k);
    gatherAxpy(Q, items, 0, n, w, last, k);
    A.set(last, k * d);
    A[k * d + k] = n;
  }
  for (let a = 0; a < d; a++) A[a * d + a] = A[a * d + a]! + lambdaU;
  // Factorize once; the first solve gives b_u = e_dᵀ A⁻¹ Σ c t f_j (explicit) for free.
  const rhs = new Float64Array(d);
  if (explicit) rhs[k] = 1;
  if (!choleskySolve(A, d, rhs)) {
    throw new ModelFitError(
      `cannot explain: the user's ridge system (${n} ratings) is not positive definite with λ = ${m.params.lambda}; retrain with a larger λ (--lambda)`,
    );
  }
  // s_j = u·f_j for every rated j, where f_j = [q_j; 1] for explicit models.
  const s = new Float64Array(n);
  const dots = (u: Float64Array): void => {
    gatherDot(Q, items, 0, n, u, k, s);
    if (explicit) for (let e = 0; e < n; e++) s[e] = s[e]! + u[k]!;
  };
  // rhs = A⁻¹ e_d: b_u = Σ_j c_j t_j (A⁻¹ e_d)·f_j.
  let userBias = 0;
  if (explicit) {
    dots(rhs);
    for (let e = 0; e < n; e++) userBias += coef[e]! * s[e]!;
  }
  const u = new Float64Array(d);
  const c = new Float64Array(n);
  return {
    explain(user, i, top) {
      // u = A⁻¹ g_i, then contribution_j = c_j t_j · u·f_j.
      u.fill(0);
      for (let t = 0; t < k; t++) u[t] = Q[i * k + t]!;
      choleskySubstitute(A, d, u);
      dots(u);
      let sum = 0;
      for (let e = 0; e < n; e++) {
        const x = coef[e]! * s[e]!;
        if (!Number.isFinite(x)) {
          throw new ModelFitError(
            `cannot explain: a contribution is not finite (λ = ${m.params.lambda}); retrain with a larger λ (--lambda)`,
          );
        }
        c[e] = x;
        sum += x;
      }
      // The `top` largest (ties: the smaller item index first), by insertion into a short list.
      const shown: number[] = [];
      const before = (e: number, f: number): boolean => c[e]! > c[f]! || (c[e] === c[f] && items[e]! < items[f]!);
      const want = Math.max(0, Math.min(top, n));
      for (let e = 0; e < n && want > 0; e++) {
        if (shown.length === want && !before(e, shown[want - 1]!)) continue;
        let p = shown.length === want ? want - 1 : shown.length;
        while (p > 0 && before(e, shown[p - 1]!)) {
          shown[p] = shown[p - 1]!;
          p--;
        }
        shown[p] = e;
      }
      // rest: the contributions not listed, summed in rating order (exactly 0 when all are listed).
      const listed = new Uint8Array(n);
      for (const e of shown) listed[e] = 1;
      let rest = 0;
      for (let e = 0; e < n; e++) if (listed[e] === 0) rest += c[e]!;
      const item = m.itemIds[i]!;
      const contributions = shown.map((e) => ({ item: m.itemIds[items[e]!]!, contribution: c[e]! }));
      if (!explicit) return { user, item, score: sum, contributions, rest };
      const itemBias = m.itemBias?.[i] ?? 0;
      return {
        user,
        item,
        score: m.globalMean + userBias + itemBias + sum,
        contributions,
        rest,
        bias: { global: m.globalMean, user: userBias, item: itemBias },
      };
    },
  };
}
