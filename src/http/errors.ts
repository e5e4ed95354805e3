/**
 * The one error middleware (and the 404 fallback). Every error answer has the same shape:
 *   {"error":{"code":"snake_case","message":"a sentence","details":…}}
 * RidgerecError → the status of its kind (httpStatus) and its code/message/details; body-parser failures → 400 invalid_json,
 * 413 payload_too_large, 415 unsupported_media_type; anything else is a bug → a bare 500
 * internal_error that names the request id (the stack goes to the log, never to the client).
 */
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import type { Logger } from 'pino';
import {
  Busy,
  Conflict,
  databaseFaultMessage,
  Forbidden,
  InvalidInput,
  invalidInput,
  isRidgerecError,
  NotFound,
  Unauthorized,
  Unavailable,
  type RidgerecError,
} from '../errors.js';

/** The HTTP status of each kind of core error; anything else is a 500. */
export function httpStatus(err: RidgerecError): number {
  if (err instanceof InvalidInput) return 400;
  if (err instanceof Unauthorized) return 401;
  if (err instanceof Forbidden) return 403;
  if (err instanceof NotFound) return 404;
  if (err instanceof Conflict) return 409;
  if (err instanceof Unavailable) return 503;
  return 500;
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly details?: unknown };
}

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** body-parser / http-errors style error: `type` and `status` set by raw-body and body-parser. */
interface HttpError {
  readonly type?: unknown;
  readonly status?: unknown;
  readonly expose?: unknown;
  readonly limit?: unknown;
}

function requestId(req: Request): string {
  const id = (req as Request & { id?: unknown }).id;
  return id === undefined ? 'unknown' : String(id);
}

/**
 * Refuses a path whose percent-encoding does not decode (`%zz`, a lone `%`, bytes that are not
 * UTF-8 such as `%ff`, an encoded lone surrogate) with a 400 `invalid_path`, before any route or
 * API-key check sees it: Express would otherwise fail while matching route parameters.
 */
export const requireDecodablePath: RequestHandler = (req, _res, next) => {
  try {
    decodeURIComponent(req.path);
  } catch {
    next(invalidInput(`the path ${JSON.stringify(req.path.slice(0, 200))} is not valid percent-encoded UTF-8`, undefined, 'invalid_path'));
    return;
  }
  next();
};

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json(errorBody('not_found', `no route for ${req.method} ${req.path}; see GET /openapi.json`));
};

export function errorHandler(logger: Logger): ErrorRequestHandler {
  // Express recognises an error handler by its four parameters: keep `_next`.
  return (err: unknown, req, res, _next) => {
    const log = (req as Request & { log?: Logger }).log ?? logger;
    if (res.headersSent) {
      log.error({ err, reqId: requestId(req) }, 'error after the response started');
      res.destroy();
      return;
    }
    if (isRidgerecError(err)) {
      const status = httpStatus(err);
      if (err instanceof Busy) {
        // The write lock is held by another process: a normal condition under load, not a bug.
        res.set('Retry-After', String(err.retryAfterSeconds));
        log.warn({ reqId: requestId(req) }, err.message);
      } else if (status >= 500) log.error({ err, reqId: requestId(req) }, err.message);
      res.status(status).json(errorBody(err.code, err.message, err.details));
      return;
    }
    const fault = databaseFaultMessage(err);
    if (fault !== null) {
      log.error({ err, reqId: requestId(req) }, fault);
      res.status(500).json(errorBody('database_corrupt', fault));
      return;
    }
    const h = (err ?? {}) as HttpError;
    if (h.type === 'entity.too.large') {
      res
        .status(413)
        .json(
          errorBody('payload_too_large', `the request body is larger than the ${String(h.limit ?? 1048576)}-byte limit (1 MB); split it`),
        );
      return;
    }
    if (h.type === 'entity.parse.failed') {
      res.status(400).json(errorBody('invalid_json', `the request body is not valid JSON: ${(err as Error).message}`));
      return;
    }
    if (h.type === 'charset.unsupported' || h.type === 'encoding.unsupported') {
      res.status(415).json(errorBody('unsupported_media_type', (err as Error).message));
      return;
    }
    if (typeof h.status === 'number' && h.status >= 400 && h.status < 500 && h.expose === true) {
      res.status(h.status).json(errorBody('bad_request', (err as Error).message));
      return;
    }
    const id = requestId(req);
    log.error({ err, reqId: id }, 'unhandled error');
    res
      .status(500)
      .json(errorBody('internal_error', `internal error; the server log has the details under request id ${id}`, { requestId: id }));
  };
}
