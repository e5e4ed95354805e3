/**
 * Alternating least squares with L2 penalties, explicit or implicit feedback (see solve-side.ts
 * for the per-row problems). Pure: no I/O; progress goes through onIteration.
 *
 * Objective (what IterationStats.loss reports after each full sweep):
 *   explicit: Σ_{(u,i)∈R} (r_ui − μ − b_u − b_i − p_u·q_i)²
 *             + λ·( Σ_u s_u(‖p_u‖² + b_u²) + Σ_i s_i(‖q_i‖² + b_i²) )
 *   implicit: Σ_{u,i} c_ui (p_ui − x_u·y_i)² + λ·( Σ_u s_u‖x_u‖² + Σ_i s_i‖y_i‖² )
 * with s_row = n_row (lambdaScaling 'count', ALS-WR) or 1 ('none'), c_ui = 1 + α·r_ui.
 */
import { invalidInput, ModelFitError } from '../errors.js';
import { sharedFloat32, type RatingMatrix } from '../ratings/matrix.js';
import type { KernelChoice } from '../kernels/select.js';
import { kernelsModule, useWasmKernels } from '../kernels/wasm.js';
import { GRAM_CHUNK } from './linalg.js';
import type { FitResult, IterationStats, TrainParams } from './params.js';
import { resolveParams } from './params.js';
import { balancedChunks, SolvePool } from './pool.js';
import { mulberry32 } from './random.js';
import { gramChunkCount, jsSolver, reduceGram, type SharedState, type Side, type SideSolver, solveConfig } from './solve-side.js';
import { createWasmState, wasmSolver, type WasmLayout, writeGram32 } from './wasm-side.js';

export interface FitOptions {
  readonly onIteration?: (s: IterationStats) => void;
  /**
   * The kernels to run: 'wasm' (the WebAssembly SIMD kernels, where the runtime supports them;
   * else the plain ones) or 'js' (the plain-TypeScript reference). Default: RIDGEREC_KERNELS
   * (see src/kernels/select.ts).
   */
  readonly kernels?: KernelChoice;
  /**
   * Solve in worker threads even when params.threads is 1 (one worker), so the calling thread
   * stays free: a server fitting beside its requests, or two fits side by side. Default false
   * (threads 1 solves on the calling thread, without a worker's start-up).
   */
  readonly offThread?: boolean;
}

/** Scale of the seeded uniform initialisation of the factors. */
const INIT_SCALE = { explicit: 0.1, implicit: 0.01 } as const;

function sharedF64(n: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(Math.max(1, n) * 8)).subarray(0, n);
}

/**
 * Fits the model. Rejects an empty matrix or invalid params with invalidInput; NaN/Infinity
 * after a half-sweep, or a system that is not positive definite, with ModelFitError (raise λ).
 */
export async function fitFactors(matrix: RatingMatrix, params: TrainParams, options: FitOptions = {}): Promise<FitResult> {
  const started = performance.now();
  const p = resolveParams(params);
  const { nUsers, nItems } = matrix;
  if (matrix.nnz === 0 || nUsers === 0 || nItems === 0) {
    throw invalidInput(
      `cannot train on an empty rating matrix (${nUsers} users, ${nItems} items, ${matrix.nnz} ratings); import ratings first`,
    );
  }
  const explicit = p.feedback === 'explicit';
  const k = p.factors;
  const d = explicit ? k + 1 : k;

  let globalMean = 0;
  if (explicit) {
    const vals = matrix.byUser.values;
    let sum = 0;
    for (let e = 0; e < vals.length; e++) sum += vals[e]!;
    globalMean = sum / vals.length;
  }

  const module = (options.kernels === undefined ? useWasmKernels() : options.kernels === 'wasm') ? kernelsModule() : null;
  let layout: WasmLayout | null = null;
  let state: SharedState;
  if (module !== null) {
    ({ state, layout } = createWasmState(matrix, d, explicit, p.threads));
  } else {
    const maxRows = Math.max(nUsers, nItems);
    state = {
      byUser: matrix.byUser,
      byItem: matrix.byItem,
      users: sharedFloat32(nUsers * d),
      items: sharedFloat32(nItems * d),
      feat: sharedFloat32(explicit ? maxRows * d : 0),
      featBias: sharedFloat32(explicit ? maxRows : 0),
      gram: sharedF64(d * d),
      gramParts: sharedF64(explicit ? 0 : Math.ceil(maxRows / GRAM_CHUNK) * d * d),
      stats: sharedF64(2 * maxRows),
    };
  }
  initFactors(state.items, nItems, k, d, p.seed, INIT_SCALE[p.feedback]);
  initFactors(state.users, nUsers, k, d, (p.seed ^ 0x9e3779b9) >>> 0, INIT_SCALE[p.feedback]);

  const cfg = solveConfig(p, { d, cholesky: p.solver === 'cholesky', globalMean });

  let pool: SolvePool | null = null;
  // Inline solves (threads = 1 on the calling thread) and inline Grams; with the kernels, slot 0 of
  // the shared memory (with a pool, the workers alone solve, and own slots 0..threads−1).
  const inline: SideSolver = (layout && wasmSolver(module, layout, state, cfg, 0)) ?? jsSolver(state, cfg);
  if (p.threads > 1 || options.offThread) {
    // Per-row work in units of one rating's work: d×d products (implicit Gram matvecs, Cholesky).
    const rowCost = explicit && !cfg.cholesky ? 1 : cfg.cholesky ? d * 2 : d / 4;
    const nChunks = p.threads * 32;
    pool = SolvePool.create(p.threads, {
      state,
      cfg,
      userChunks: balancedChunks(matrix.byUser, nChunks, rowCost),
      itemChunks: balancedChunks(matrix.byItem, nChunks, rowCost),
      counter: new Int32Array(new SharedArrayBuffer(4)),
      wasm: module !== null && layout !== null ? { module, layout } : null,
    });
  }

  const history: IterationStats[] = [];
  try {
    for (let it = 1; it <= p.iterations; it++) {
      const t0 = performance.now();
      const userPenalty = await halfSweep('users', it, false).then(() => sumStats(nUsers, 1));
      checkFinite(userPenalty, 'users', it);
      await halfSweep('items', it, true);
      const itemPenalty = sumStats(nItems, 1);
      const dataLoss = sumStats(nItems, 0);
      checkFinite(itemPenalty + dataLoss, 'items', it);
      const penalty = userPenalty + itemPenalty;
      const s: IterationStats = {
        iteration: it,
        loss: dataLoss + penalty,
        dataLoss,
        penalty,
        seconds: (performance.now() - t0) / 1000,
      };
      history.push(s);
      options.onIteration?.(s);
    }
  } finally {
    await pool?.close();
  }

  const { factors: userFactors, bias: userBias } = splitBias(state.users, nUsers, k, explicit);
  const { factors: itemFactors, bias: itemBias } = splitBias(state.items, nItems, k, explicit);
  return {
    params: p,
    factors: k,
    nUsers,
    nItems,
    userIds: matrix.userIds,
    itemIds: matrix.itemIds,
    userFactors,
    itemFactors,
    userBias,
    itemBias,
    globalMean,
    history,
    seconds: (performance.now() - started) / 1000,
  };

  /** Prepares the fixed side (explicit: features with a constant-1 bias slot; implicit: FᵀF), then solves `side`. */
  async function halfSweep(side: Side, it: number, computeLoss: boolean): Promise<void> {
    const other = side === 'users' ? state.items : state.users;
    const nOther = side === 'users' ? nItems : nUsers;
    if (explicit) {
      const { feat, featBias } = state;
      feat.set(other.subarray(0, nOther * d));
      for (let j = 0; j < nOther; j++) {
        featBias[j] = other[j * d + k]!;
        feat[j * d + k] = 1;
      }
    } else {
      // G = Σ_j f_j f_jᵀ (every unobserved column's c = 1 term): partial sums over fixed chunks
      // of rows (in the workers), added in chunk order here.
      const nChunks = gramChunkCount(state, side);
      if (pool) await pool.run({ kind: 'gram', side, computeLoss: false });
      else for (let c = 0; c < nChunks; c++) inline.partialGram(side, c);
      reduceGram(state, nChunks, d);
      if (layout) writeGram32(layout, state.gram);
    }
    const nRows = side === 'users' ? nUsers : nItems;
    const failed = pool ? await pool.run({ kind: 'solve', side, computeLoss }) : inline.solve(side, 0, nRows, computeLoss);
    if (failed >= 0) {
      const ids = side === 'users' ? matrix.userIds : matrix.itemIds;
      const n = (side === 'users' ? matrix.byUser : matrix.byItem).indptr;
      const count = n[failed + 1]! - n[failed]!;
      throw new ModelFitError(
        `iteration ${it}: the least-squares system of ${side === 'users' ? 'user' : 'item'} ${ids[failed] ?? failed} ` +
          `(${count} ratings) is not positive definite with λ = ${p.lambda} (lambdaScaling ${p.lambdaScaling}); ` +
          `raise λ (--lambda)${explicit ? '' : ' or lower α (--alpha)'}, or check the input values for NaN/Infinity`,
        { iteration: it, side, row: failed },
      );
    }
  }

  function sumStats(nRows: number, slot: 0 | 1): number {
    // Summed in row order on one thread: the same result for any thread count.
    const st = state.stats;
    let s = 0;
    for (let r = 0; r < nRows; r++) s += st[2 * r + slot]!;
    return s;
  }

  function checkFinite(x: number, side: Side, it: number): void {
    if (Number.isFinite(x)) return;
    throw new ModelFitError(
      `training diverged: the ${side === 'users' ? 'user' : 'item'} factors hold NaN/Infinity after the ${side} ` +
        `half-sweep of iteration ${it} (λ = ${p.lambda}${explicit ? '' : `, α = ${p.alpha}`}); raise λ (--lambda)` +
        `${explicit ? '' : ', lower α (--alpha)'}, or check the input values for NaN/Infinity`,
      { iteration: it, side },
    );
  }
}

/** Seeded uniform initialisation in [−scale, scale) of the k factor slots; bias slots start at 0. */
function initFactors(store: Float32Array, n: number, k: number, d: number, seed: number, scale: number): void {
  const rand = mulberry32(seed);
  for (let r = 0; r < n; r++) {
    for (let t = 0; t < k; t++) store[r * d + t] = (rand() * 2 - 1) * scale;
  }
}

/** Stride-d internal rows → stride-k factors (+ the bias slot as its own array, explicit). */
function splitBias(store: Float32Array, n: number, k: number, explicit: boolean): { factors: Float32Array; bias: Float32Array | null } {
  if (!explicit) return { factors: store.slice(0, n * k), bias: null };
  const d = k + 1;
  const factors = new Float32Array(n * k);
  const bias = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    factors.set(store.subarray(r * d, r * d + k), r * k);
    bias[r] = store[r * d + k]!;
  }
  return { factors, bias };
}
