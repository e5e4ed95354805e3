import type Database from 'better-sqlite3';
import type { Db } from '../db/connection.js';

/** The two id tables: each maps the client's string id to a dense integer id. */
export type IdTable = 'users' | 'items';

/**
 * External id → dense id for one table, cached in a Map so a bulk import asks SQLite about each
 * distinct id once, not once per row (gorse's `dataset/dict.go` idea). Dense ids are SQLite rowids
 * (`INTEGER PRIMARY KEY`): they are assigned here, on first sight, and never leave the process.
 *
 * The cache only holds ids this instance has been asked about, so `size` is the number of
 * distinct ids seen (the import reports it as "users"/"items" in the file). Create one per
 * transaction: a rolled-back transaction takes its new rows with it, and a cache that outlived it
 * would hand out ids that no longer exist.
 */
export class IdIndex {
  private readonly cache = new Map<string, number>();
  /**
   * Canonical decimal ids below NUMERIC_LIMIT ("196", not "0196") skip the Map: index by their
   * value, dense id + 1 (0 = not cached). MovieLens-style ids are all like this, and a typed-array
   * read is ~3× cheaper than hashing a fresh substring. Grows to the largest such id seen.
   */
  private numeric = new Int32Array(0);
  private numericCount = 0;
  private readonly select: Database.Statement<[string], number>;
  private readonly insert: Database.Statement<[string]>;

  constructor(db: Db, table: IdTable) {
    // Table names come from the closed IdTable union, never from input.
    this.select = db.prepare<[string], number>(`SELECT id FROM ${table} WHERE external_id = ?`).pluck();
    this.insert = db.prepare<[string]>(`INSERT INTO ${table} (external_id) VALUES (?)`);
  }

  /** Number of distinct external ids looked up or created through this instance. */
  get size(): number {
    return this.cache.size + this.numericCount;
  }

  private cached(externalId: string, n: number): number | undefined {
    if (n >= 0) {
      const v = n < this.numeric.length ? this.numeric[n]! : 0;
      return v === 0 ? undefined : v - 1;
    }
    return this.cache.get(externalId);
  }

  private remember(externalId: string, n: number, id: number): void {
    if (n >= 0) {
      if (n >= this.numeric.length) {
        const grown = new Int32Array(Math.min(NUMERIC_LIMIT, Math.max(n + 1, this.numeric.length * 2, 1024)));
        grown.set(this.numeric);
        this.numeric = grown;
      }
      this.numeric[n] = id + 1;
      this.numericCount++;
    } else this.cache.set(detach(externalId), id);
  }

  /** The dense id of `externalId`, or undefined when the table does not have it (nothing is written). */
  find(externalId: string): number | undefined {
    const n = numericKey(externalId);
    const hit = this.cached(externalId, n);
    if (hit !== undefined) return hit;
    const id = this.select.get(externalId);
    if (id !== undefined) this.remember(externalId, n, id);
    return id;
  }

  /** The dense id of `externalId`, inserting a row for it when it is new. Call inside a transaction. */
  idOf(externalId: string): number {
    const n = numericKey(externalId);
    const hit = this.cached(externalId, n);
    if (hit !== undefined) return hit;
    let id = this.select.get(externalId);
    if (id === undefined) id = Number(this.insert.run(externalId).lastInsertRowid);
    this.remember(externalId, n, id);
    return id;
  }
}

/** Numeric ids at or above this use the Map (bounds the typed table at 16 MiB). */
const NUMERIC_LIMIT = 1 << 22;

/** The value of a canonical decimal id ("0", "196"; not "0196", "+1", "1.0") below NUMERIC_LIMIT, else -1. */
export function numericKey(s: string): number {
  const n = s.length;
  if (n === 0 || n > 7) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  if (n > 1 && s.charCodeAt(0) === 48) return -1;
  return v < NUMERIC_LIMIT ? v : -1;
}

/**
 * A copy of `s` that does not pin the string it was sliced from. V8 represents a substring of 13+
 * characters as a view into its parent, so a Map key sliced from a 1 MiB file chunk would keep the
 * whole chunk alive for as long as the cache lives.
 */
function detach(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}
