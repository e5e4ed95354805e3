/**
 * API-key guard for the write routes. When a key is configured (RIDGEREC_API_KEY), the guarded
 * routes need `Authorization: Bearer <key>`; anything else is a 401 `unauthorized`. Both sides are
 * hashed with SHA-256 before crypto.timingSafeEqual, so neither the contents nor the length of the
 * key leak through timing. With no key configured the guard lets everything through.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { Unauthorized } from '../errors.js';

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
