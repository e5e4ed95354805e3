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
  private readonly select: Database.Statement<[string], number>;
  private readonly insert: Database.Statement<[string]>;

  constructor(db: Db, table: IdTable) {
    // Table names come from the closed IdTable union, never from input.
    this.select = db.prepare<[string], number>(`SELECT id FROM ${table} WHERE external_id = ?`).pluck();
    this.insert = db.prepare<[string]>(`INSERT INTO ${table} (external_id) VALUES (?)`);
  }

  /** Number of distinct external ids looked up or created through this instance. */
  get size(): number {
    return this.cache.size;
  }

  /** The dense id of `externalId`, or undefined when the table does not have it (nothing is written). */
  find(externalId: string): number | undefined {
    const hit = this.cache.get(externalId);
    if (hit !== undefined) return hit;
    const id = this.select.get(externalId);
    if (id !== undefined) this.cache.set(detach(externalId), id);
    return id;
  }

  /** The dense id of `externalId`, inserting a row for it when it is new. Call inside a transaction. */
  idOf(externalId: string): number {
    const hit = this.cache.get(externalId);
    if (hit !== undefined) return hit;
    let id = this.select.get(externalId);
    if (id === undefined) id = Number(this.insert.run(externalId).lastInsertRowid);
    this.cache.set(detach(externalId), id);
    return id;
  }
}

/**
 * A copy of `s` that does not pin the string it was sliced from. V8 represents a substring of 13+
 * characters as a view into its parent, so a Map key sliced from a 1 MiB file chunk would keep the
 * whole chunk alive for as long as the cache lives.
 */
function detach(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}
