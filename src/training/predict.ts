import type { FactorModel } from './params.js';

/**
 * The model's prediction for dense user u and item i:
 *   explicit: r̂_ui = μ + b_u + b_i + p_u·q_i;   implicit: x_u·y_i.
 */
export function predict(model: FactorModel, u: number, i: number): number {
  const k = model.factors;
  const P = model.userFactors;
  const Q = model.itemFactors;
  const uo = u * k;
  const io = i * k;
  let s = 0;
  for (let t = 0; t < k; t++) s += P[uo + t]! * Q[io + t]!;
  if (model.userBias && model.itemBias) s += model.globalMean + model.userBias[u]! + model.itemBias[i]!;
  return s;
}
