/**
 * Fold-in: the factors (and bias, explicit) of a user the model has never seen, from that user's
 * ratings, by one exact ridge solve against the model's FIXED item factors with the model's λ,
 * λ scaling and α — the same per-row problem (and code) as a training half-sweep:
 *   (G + Σ_{i∈I_u} w_ui f_i f_iᵀ + λ_u I) z = Σ_{i∈I_u} c_ui t_ui f_i     (see solve-side.ts)
 * G = YᵀY (implicit) and the explicit feature rows [q_i; 1] are prepared once per model.
 */
import { invalidInput, ModelFitError } from '../errors.js';
import { gram } from './linalg.js';
import type { FactorModel } from './params.js';
import { createScratch, type SideArrays, solveConfig, solveRows } from './solve-side.js';

export type FoldIn = (items: Int32Array, values: Float32Array) => { factors: Float32Array; bias: number };

export function createFoldIn(model: FactorModel): FoldIn {
  const { params, nItems } = model;
  const k = model.factors;
  const explicit = params.feedback === 'explicit';
  const d = explicit ? k + 1 : k;
  let fixed: Float32Array<ArrayBufferLike>;
  let fixedBias: Float32Array<ArrayBufferLike> = new Float32Array(0);
  const G = new Float64Array(explicit ? 0 : d * d);
  if (explicit) {
    fixed = new Float32Array(nItems * d);
    fixedBias = model.itemBias ?? new Float32Array(nItems);
    for (let i = 0; i < nItems; i++) {
      fixed.set(model.itemFactors.subarray(i * k, (i + 1) * k), i * d);
      fixed[i * d + k] = 1;
    }
  } else {
    fixed = model.itemFactors;
    gram(fixed, nItems, d, G); // YᵀY once per model
  }
  const cfg = solveConfig(params, { d, cholesky: true, globalMean: model.globalMean });
  const scratch = createScratch(d);

  return (items, values) => {
    if (items.length !== values.length) {
      throw invalidInput(`fold-in: items (${items.length}) and values (${values.length}) differ in length`);
    }
    for (let e = 0; e < items.length; e++) {
      const i = items[e]!;
      if (!(i >= 0 && i < nItems)) throw invalidInput(`fold-in: item index ${i} is outside 0..${nItems - 1}`);
      if (!Number.isFinite(values[e]!)) throw invalidInput(`fold-in: value ${values[e]} for item index ${i} is not a finite number`);
    }
    const out = new Float32Array(d);
    const side: SideArrays = {
      csr: { indptr: Int32Array.of(0, items.length), indices: items, values },
      fixed,
      fixedBias,
      out,
      gram: G,
      stats: new Float64Array(2),
    };
    const failed = solveRows(side, cfg, 0, 1, false, scratch);
    if (failed >= 0 || !out.every(Number.isFinite)) {
      throw new ModelFitError(
        `fold-in: the ridge system of ${items.length} ratings is not positive definite with λ = ${params.lambda}; ` +
          'retrain with a larger λ (--lambda), or check the values for NaN/Infinity',
      );
    }
    return { factors: out.slice(0, k), bias: explicit ? out[k]! : 0 };
  };
}
