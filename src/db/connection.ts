import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from './migrate.js';

export type Db = Database.Database;

/** How long a writer waits for another connection's write lock before failing, in milliseconds. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export interface OpenOptions {
  /** Apply pending migrations (default true). Every command that opens the database does. */
  readonly migrate?: boolean;
  /** Busy timeout in milliseconds (default DEFAULT_BUSY_TIMEOUT_MS). */
  readonly busyTimeoutMs?: number;
}

/**
 * Opens (creating it and its folder on demand) the SQLite database at `path` with the settings
 * every ridgerec process uses: WAL (readers never block the writer), foreign keys on, a busy
 * timeout so concurrent writers wait instead of failing, synchronous=NORMAL (durable at each WAL
 * checkpoint, safe against corruption), and applies pending migrations (unless `migrate: false`;
 * `ridgerec migrate` runs them itself to report what it applied). ':memory:' works for tests.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Db {
  if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS))}`);
  db.pragma('synchronous = NORMAL');
  if (options.migrate ?? true) {
    try {
      migrate(db);
    } catch (e) {
      db.close();
      throw e;
    }
  }
  return db;
}
