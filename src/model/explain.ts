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
 * One d×d Cholesky factorization per user, then one pair of triangular solves per explained item.
 */
import { ModelFitError } from '../errors.js';
import { choleskySolve, choleskySubstitute } from '../training/linalg.js';
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
  const feat = (j: number, t: number): number => (t < k ? Q[j * k + t]! : 1);
  // A_u (lower triangle is all choleskySolve reads) and the per-item coefficient c_uj t_uj.
  const A = new Float64Array(d * d);
  if (!explicit && gram) A.set(gram);
  const coef = new Float64Array(n);
  for (let e = 0; e < n; e++) {
    const j = items[e]!;
    const v = values[e]!;
    const w = explicit ? 1 : alpha * v;
    coef[e] = explicit ? v - m.globalMean - (m.itemBias?.[j] ?? 0) : 1 + alpha * v;
    for (let a = 0; a < d; a++) {
      const fa = w * feat(j, a);
      for (let b = 0; b <= a; b++) A[a * d + b] = A[a * d + b]! + fa * feat(j, b);
    }
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
  // rhs = A⁻¹ e_d: b_u = Σ_j c_j t_j (A⁻¹ e_d)·f_j.
  let userBias = 0;
  if (explicit) {
    for (let e = 0; e < n; e++) {
      let s = 0;
      for (let a = 0; a < d; a++) s += rhs[a]! * feat(items[e]!, a);
      userBias += coef[e]! * s;
    }
  }
  const u = new Float64Array(d);
  return {
    explain(user, i, top) {
      // u = A⁻¹ g_i, then contribution_j = c_j t_j · u·f_j.
      u.fill(0);
      for (let t = 0; t < k; t++) u[t] = Q[i * k + t]!;
      choleskySubstitute(A, d, u);
      const parts = new Array<{ j: number; c: number }>(n);
      let sum = 0;
      for (let e = 0; e < n; e++) {
        const j = items[e]!;
        let s = 0;
        for (let a = 0; a < d; a++) s += u[a]! * feat(j, a);
        const c = coef[e]! * s;
        if (!Number.isFinite(c)) {
          throw new ModelFitError(
            `cannot explain: a contribution is not finite (λ = ${m.params.lambda}); retrain with a larger λ (--lambda)`,
          );
        }
        parts[e] = { j, c };
        sum += c;
      }
      parts.sort((x, y) => y.c - x.c || x.j - y.j);
      const shown = parts.slice(0, Math.max(0, top));
      let listed = 0;
      for (const p of shown) listed += p.c;
      const item = m.itemIds[i]!;
      const contributions = shown.map((p) => ({ item: m.itemIds[p.j]!, contribution: p.c }));
      if (!explicit) return { user, item, score: sum, contributions, rest: sum - listed };
      const itemBias = m.itemBias?.[i] ?? 0;
      return {
        user,
        item,
        score: m.globalMean + userBias + itemBias + sum,
        contributions,
        rest: sum - listed,
        bias: { global: m.globalMean, user: userBias, item: itemBias },
      };
    },
  };
}
