/**
 * One error class for everything ridgerec reports on purpose. It carries what each boundary needs:
 * an HTTP status and a snake_case code for the API, an exit code for the CLI, and optional details.
 * Anything that is not a RidgerecError is a bug: the HTTP layer answers a bare 500 and logs it,
 * the CLI exits 1.
 */
export interface ErrorOptions {
  readonly code?: string;
  readonly status?: number;
  readonly exitCode?: number;
  readonly details?: unknown;
  readonly cause?: unknown;
}

export class RidgerecError extends Error {
  readonly code: string;
  readonly status: number;
  readonly exitCode: number;
  readonly details: unknown;

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code ?? 'error';
    this.status = options.status ?? 500;
    this.exitCode = options.exitCode ?? 1;
    this.details = options.details;
  }
}

/** Bad input from a user: a file line, a flag, a request field. HTTP 400, exit code 2. */
export function invalidInput(message: string, details?: unknown, code = 'invalid_input'): RidgerecError {
  return new RidgerecError(message, { code, status: 400, exitCode: 2, details });
}

/** Something named does not exist (an item, a model). HTTP 404, exit code 2. */
export function notFound(message: string, code = 'not_found', details?: unknown): RidgerecError {
  return new RidgerecError(message, { code, status: 404, exitCode: 2, details });
}

/** No model is active yet. HTTP 503, exit code 2. */
export function noModel(message = 'no model is active yet; run `ridgerec train` first'): RidgerecError {
  return new RidgerecError(message, { code: 'no_model', status: 503, exitCode: 2 });
}

/**
 * Training produced NaN/Infinity or a singular system. The message must say how to fix it
 * (raise λ, lower α, check the input values).
 */
export class ModelFitError extends RidgerecError {
  constructor(message: string, details?: unknown) {
    super(message, { code: 'model_fit_failed', status: 500, exitCode: 1, details });
  }
}

/** The migrations folder and the database disagree (edited or missing applied file). */
export class MigrationError extends RidgerecError {
  constructor(message: string) {
    super(message, { code: 'migration_failed', status: 500, exitCode: 1 });
  }
}

export function isRidgerecError(e: unknown): e is RidgerecError {
  return e instanceof RidgerecError;
}
