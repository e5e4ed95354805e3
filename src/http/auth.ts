/**
 * The guard in front of every write route (POST ratings, DELETE users, PUT/PATCH items, reload),
 * three checks in this order:
 *   1. read-only mode: a server bound to a non-loopback address without an API key refuses every
 *      write with 403 `writes_disabled` (unless started with --allow-open-writes);
 *   2. the per-client rate limit (express-rate-limit; counts failed key attempts too, so guessing
 *      the key is as slow as writing): past it, 429 `rate_limited` with Retry-After;
 *   3. the API key: when one is configured (RIDGEREC_API_KEY), `Authorization: Bearer <key>`;
 *      anything else is a 401 `unauthorized`. Both sides are hashed with SHA-256 before
 *      crypto.timingSafeEqual, so neither the contents nor the length of the key leak through timing.
 * With no key, no read-only mode and no rate limit, the guard lets everything through.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import { Forbidden, Unauthorized } from '../errors.js';
import { errorBody } from './errors.js';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export function unauthorized(message: string): Unauthorized {
  return new Unauthorized(message);
}

/** True when `header` is exactly "Bearer <key>" (scheme case-insensitive). Constant time in the key. */
export function bearerMatches(header: string | undefined, key: string): boolean {
  const m = /^Bearer[ ]+(\S.*)$/i.exec(header ?? '');
  const given = m?.[1]?.trim() ?? '';
  // Always compare, even when the header is missing, so a missing header costs the same as a wrong key.
  const same = timingSafeEqual(digest(given), digest(key));
  return m !== null && same;
}

export function requireApiKey(apiKey: string | null | undefined): RequestHandler {
  if (apiKey === undefined || apiKey === null || apiKey === '') return (_req, _res, next) => next();
  return (req, res, next) => {
    const header = req.get('authorization');
    if (bearerMatches(header, apiKey)) {
      next();
      return;
    }
    res.set('WWW-Authenticate', 'Bearer realm="ridgerec"');
    next(
      unauthorized(
        header === undefined
          ? 'this route needs an API key: send "Authorization: Bearer <key>" (the server has RIDGEREC_API_KEY set)'
          : 'the API key in the Authorization header is wrong; send "Authorization: Bearer <key>"',
      ),
    );
  };
}

/**
 * True for an address only this machine can reach: `localhost`, 127.0.0.0/8, ::1 and
 * ::ffff:127.x. Any other name or address (0.0.0.0, ::, a LAN address, a host name) counts as
 * reachable from outside.
 */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost') return true;
  const family = isIP(h);
  // BlockList matches IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) against the IPv4 subnet too.
  return family !== 0 && LOOPBACK.check(h, family === 4 ? 'ipv4' : 'ipv6');
}

/** Writes per client per window; `limit` 0 (or null) turns it off. */
export interface RateLimitSettings {
  readonly limit: number;
  readonly windowMs: number;
}

export interface WriteGuardOptions {
  readonly apiKey?: string | null | undefined;
  /** Refuse every write with 403 writes_disabled. */
  readonly readOnly?: boolean | undefined;
  readonly rateLimit?: RateLimitSettings | null | undefined;
}

export const WRITES_DISABLED_MESSAGE =
  'writes are disabled: this server listens on a non-loopback address without an API key, so it is read-only; ' +
  'set RIDGEREC_API_KEY=<key> and send "Authorization: Bearer <key>", or restart it with --allow-open-writes ' +
  '(RIDGEREC_ALLOW_OPEN_WRITES=1) to accept writes from anyone who can reach it';

/** The per-client limiter: 429 rate_limited in the API's error shape, with Retry-After in seconds. */
export function writeRateLimiter(settings: RateLimitSettings): RequestHandler {
  const seconds = Math.round(settings.windowMs / 100) / 10;
  return rateLimit({
    windowMs: settings.windowMs,
    limit: settings.limit,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler(req, res) {
      const info = (req as typeof req & { rateLimit?: { resetTime?: Date } }).rateLimit;
      const reset = info?.resetTime?.getTime();
      const retryAfter = Math.max(1, Math.ceil(((reset ?? Date.now() + settings.windowMs) - Date.now()) / 1000));
      res.set('Retry-After', String(retryAfter));
      res
        .status(429)
        .json(
          errorBody(
            'rate_limited',
            `too many write requests from this client: at most ${settings.limit} per ${seconds} s; retry after ${retryAfter} s ` +
              '(RIDGEREC_RATE_LIMIT and RIDGEREC_RATE_LIMIT_WINDOW_MS set the limit)',
            { limit: settings.limit, windowMs: settings.windowMs, retryAfterSeconds: retryAfter },
          ),
        );
    },
  });
}

/** The guard of the write routes: read-only mode, then the rate limit, then the API key (see the top of this file). */
export function writeGuard(options: WriteGuardOptions): RequestHandler {
  if (options.readOnly) {
    return (_req, _res, next) => next(new Forbidden(WRITES_DISABLED_MESSAGE, { code: 'writes_disabled' }));
  }
  const key = requireApiKey(options.apiKey);
  const limit = options.rateLimit;
  if (limit === null || limit === undefined || limit.limit <= 0) return key;
  const limiter = writeRateLimiter(limit);
  return (req, res, next) => {
    void limiter(req, res, (err?: unknown) => {
      if (err !== undefined) next(err);
      else key(req, res, next);
    });
  };
}
