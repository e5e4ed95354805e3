/**
 * The errors ridgerec raises on purpose. They say what went wrong and carry a snake_case code and
 * optional details; they know nothing of HTTP statuses or exit codes, which belong to the layers
 * that answer them (src/http/errors.ts maps them to statuses, src/cli/common.ts to exit codes).
 * Anything that is not a RidgerecError is a bug: the HTTP layer answers a bare 500 and logs it,
 * the CLI exits 1.
 */
export interface ErrorOptions {
  readonly code?: string;
  readonly details?: unknown;
  readonly cause?: unknown;
}

export class RidgerecError extends Error {
  readonly code: string;
  readonly details: unknown;

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code ?? 'error';
    this.details = options.details;
  }
}

/** Bad input from a caller: a file line, a parameter, a request field. Nothing was changed. */
export class InvalidInput extends RidgerecError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { code: 'invalid_input', ...options });
  }
}

/** Something named does not exist (an item, a model). */
export class NotFound extends RidgerecError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { code: 'not_found', ...options });
  }
}

/** The request cannot be served in the current state (no model is active, nothing to roll back to). */
export class Unavailable extends RidgerecError {}

/**
 * The database's write lock is held by another connection (an import, a training run saving its
 * model) and the write gave up waiting for it. Nothing was written; retrying after
 * `retryAfterSeconds` may succeed.
 */
export class Busy extends Unavailable {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds = 1, options: ErrorOptions = {}) {
    super(message, { code: 'busy', ...options });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The caller is not allowed to do this (a missing or wrong API key). */
export class Unauthorized extends RidgerecError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { code: 'unauthorized', ...options });
  }
}

/** The caller may not do this here whoever they are (e.g. writes on a read-only server). */
export class Forbidden extends RidgerecError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { code: 'forbidden', ...options });
  }
}

/** The state changed under the caller (e.g. nothing to roll back to); retrying after a look may help. */
export class Conflict extends RidgerecError {}

/** Bad input: InvalidInput with a code (default invalid_input) and details. */
export function invalidInput(message: string, details?: unknown, code = 'invalid_input'): InvalidInput {
  return new InvalidInput(message, { code, details });
}

/** A named thing does not exist. */
export function notFound(message: string, code = 'not_found', details?: unknown): NotFound {
  return new NotFound(message, { code, details });
}

/** No model is active yet. */
export function noModel(message = 'no model is active yet; run `ridgerec train` first'): Unavailable {
  return new Unavailable(message, { code: 'no_model' });
}

/**
 * Training produced NaN/Infinity or a singular system. The message must say how to fix it
 * (raise λ, lower α, check the input values).
 */
export class ModelFitError extends RidgerecError {
  constructor(message: string, details?: unknown) {
    super(message, { code: 'model_fit_failed', details });
  }
}

/** The migrations folder and the database disagree (edited or missing applied file). */
export class MigrationError extends RidgerecError {
  constructor(message: string) {
    super(message, { code: 'migration_failed' });
  }
}

export function isRidgerecError(e: unknown): e is RidgerecError {
  return e instanceof RidgerecError;
}

/**
 * When `e` is SQLite saying the database file is damaged (SQLITE_CORRUPT*, SQLITE_NOTADB: a
 * truncated file, a file that is not a database, a flipped page), the one line to show for it;
 * else null. The CLI prints it instead of a stack trace; the HTTP layer answers with it.
 */
export function databaseFaultMessage(e: unknown): string | null {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^SQLITE_(CORRUPT|NOTADB)/.test(code)) return null;
  const what = code.startsWith('SQLITE_NOTADB') ? 'is not a SQLite database' : 'is corrupt';
  return (
    `the database file ${what} (SQLite: ${(e as Error).message}); ` +
    '`ridgerec doctor` checks it; restore it from a backup or point --db / RIDGEREC_DB at a good copy'
  );
}
