/**
 * External user and item ids: any non-empty string of valid UTF-16 (no lone surrogate, which
 * SQLite would store as U+FFFD and which could then never be read back under the id given), kept
 * in Unicode normalization form C. Every way in (HTTP paths and bodies, rating and item files,
 * the library's Store and Recommender) passes ids through canonicalId, so "é" typed as one code
 * point (U+00E9) and as "e" + combining acute (U+0065 U+0301) are the same user or item.
 */
import { invalidInput } from '../errors.js';

/** Matches a lone surrogate (with the u flag a valid pair is one code point, not Cs). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Why `id` cannot be an id (a lone surrogate), or null when it can. Empty and over-long ids are
 * the callers' checks (their limits differ: files, HTTP).
 */
export function idProblem(id: string): string | null {
  return LONE_SURROGATE.test(id) ? 'is not valid UTF-16 (it holds a lone surrogate)' : null;
}

/**
 * The id in NFC, or null when it holds a lone surrogate. Every code unit below U+0300 is its own
 * NFC form and cannot combine with a neighbour (Unicode's NFC_Quick_Check is Yes for all of
 * U+0000..U+02FF, and combining marks start at U+0300), so ASCII and Latin-1 ids, the common case,
 * return at once without a regular expression or normalize().
 */
export function nfcId(id: string): string | null {
  for (let i = 0; i < id.length; i++) {
    if (id.charCodeAt(i) >= 0x300) return LONE_SURROGATE.test(id) ? null : id.normalize('NFC');
  }
  return id;
}

/** The id in NFC; throws InvalidInput naming `field` for a lone surrogate. */
export function canonicalId(id: string, field = 'id'): string {
  const out = nfcId(id);
  if (out === null) throw invalidInput(`${field} ${idProblem(id)!}`, { field });
  return out;
}
