/**
 * Hyperparameters: one type, defaults in one place, validated once. Saved with every model
 * (as JSON) so a model can be re-fitted or folded into exactly as it was trained.
 */
export type Feedback = 'explicit' | 'implicit';
export type Solver = 'cg' | 'cholesky';
export type LambdaScaling = 'count' | 'none';

export interface TrainParams {
  /** explicit: star ratings with biases; implicit: confidence-weighted preferences (HKV 2008). */
  readonly feedback: Feedback;
  /** k, the number of latent factors. */
  readonly factors: number;
  /** λ, the L2 penalty on the factors (and biases, explicit). */
  readonly lambda: number;
  /** count: each row's penalty is λ·n_row (ALS-WR); none: plain λ. */
  readonly lambdaScaling: LambdaScaling;
  /** implicit only: confidence c_ui = 1 + α·value. */
  readonly alpha: number;
  /** full sweeps (users then items). */
  readonly iterations: number;
  readonly solver: Solver;
  /** conjugate-gradient steps per row per half-sweep (solver cg). */
  readonly cgSteps: number;
  /** worker threads; 1 runs in the calling thread. */
  readonly threads: number;
  /** seed of the factor initialisation. */
  readonly seed: number;
}

export interface IterationStats {
  readonly iteration: number;
  /** dataLoss + penalty: the objective the sweep minimises. */
  readonly loss: number;
  /** Σ (weighted) squared error over the data. */
  readonly dataLoss: number;
  /** λ · Σ (scaled) squared factor (and bias) norms. */
  readonly penalty: number;
  readonly seconds: number;
}

/**
 * What a fitted model is, independent of where it lives: factors row-major (row r occupies
 * [r·k, (r+1)·k)), biases for explicit models, and the dense-index → external-id maps.
 *
 * Explicit prediction: r̂_ui = globalMean + userBias[u] + itemBias[i] + p_u·q_i.
 * Implicit score:      x_u·y_i (userBias/itemBias are null, globalMean 0).
 */
export interface FactorModel {
  readonly params: TrainParams;
  /** k */
  readonly factors: number;
  readonly nUsers: number;
  readonly nItems: number;
  readonly userIds: readonly string[];
  readonly itemIds: readonly string[];
  readonly userFactors: Float32Array;
  readonly itemFactors: Float32Array;
  readonly userBias: Float32Array | null;
  readonly itemBias: Float32Array | null;
  readonly globalMean: number;
}

/** The output of training: a model plus how it got there. */
export interface FitResult extends FactorModel {
  readonly history: readonly IterationStats[];
  readonly seconds: number;
}
