import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Busy } from '../errors.js';
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

/** How a write takes the database's write lock. */
export interface WriteOptions {
  /**
   * How long to wait for another connection's write lock, in milliseconds (default: the
   * connection's busy timeout, DEFAULT_BUSY_TIMEOUT_MS). 0 tries once: the serving core passes 0
   * and retries with timers, so its event loop never sleeps inside SQLite's busy handler.
   */
  readonly lockTimeoutMs?: number;
}

/** True for SQLite's "database is locked" family (SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, …, SQLITE_LOCKED). */
export function isLockError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/**
 * Runs `fn` in one write transaction (BEGIN IMMEDIATE: the write lock is taken before the first
 * statement, so a transaction never fails half-way for want of it). Inside a transaction already
 * open it is a savepoint of that one. When the lock is not free within `lockTimeoutMs` it throws
 * Busy and nothing is written.
 */
export function writeTransaction<T>(db: Db, fn: () => T, options: WriteOptions = {}): T {
  const tx = db.transaction(fn);
  const wait = options.lockTimeoutMs;
  const saved = wait === undefined || db.inTransaction ? null : (db.pragma('busy_timeout', { simple: true }) as number);
  if (saved !== null) db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(wait!))}`);
  try {
    return tx.immediate();
  } catch (e) {
    if (isLockError(e)) {
      throw new Busy('the database is busy (another process holds its write lock, e.g. an import or a training run); retry shortly', 1, {
        cause: e,
      });
    }
    throw e;
  } finally {
    if (saved !== null) db.pragma(`busy_timeout = ${saved}`);
  }
}

/**
 * True while another connection holds the write lock. Probes without waiting (an empty write
 * transaction with lock timeout 0), so it never blocks, whatever the connection's busy_timeout.
 */
export function writeLockHeld(db: Db): boolean {
  try {
    writeTransaction(db, () => undefined, { lockTimeoutMs: 0 });
    return false;
  } catch (e) {
    if (e instanceof Busy) return true;
    throw e;
  }
}

/**
 * Memory-mapped I/O for one long read (loadModel's model file): SQLite then copies pages straight
 * from the mapping instead of a read() per 4 KB page (measured: about a quarter off loading a
 * 140k-user model). The mapped pages count in the process's RSS while the read runs, which is
 * why reading the ratings (a tenth faster so, but as large as the database) does not use it.
 * Capped by SQLite's compile-time SQLITE_MAX_MMAP_SIZE; the connection's own setting is restored
 * after. Inside a transaction, or on an in-memory database, `read` runs as it is.
 */
export function withMmap<T>(db: Db, read: () => T): T {
  const prev = db.memory || db.inTransaction ? null : Number(db.pragma('mmap_size', { simple: true }));
  if (prev === null || prev >= READ_MMAP_BYTES) return read();
  db.pragma(`mmap_size = ${READ_MMAP_BYTES}`);
  try {
    return read();
  } finally {
    db.pragma(`mmap_size = ${prev}`);
  }
}

const READ_MMAP_BYTES = 2 ** 31 - 1;
