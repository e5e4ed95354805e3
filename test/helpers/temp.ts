/** Temporary directories and SQLite files for the tests, each with a cleanup that removes it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../src/db/connection.js';

export interface TempDir {
  readonly dir: string;
  /** Removes the directory and everything in it. */
  readonly cleanup: () => void;
}

/** A new empty directory under the OS temp dir, named `${prefix}XXXXXX`. */
export function tempDir(prefix = 'ridgerec-test-'): TempDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TempDb {
  readonly dir: string;
  /** `test.db` inside `dir`. */
  readonly path: string;
  /** An open (migrated) connection to `path`. */
  readonly db: Db;
  /** Opens another connection to the same file (another process, in effect). */
  open(): Db;
  /** Closes every connection still open, then removes the directory. */
  readonly cleanup: () => void;
}

/** A SQLite file `test.db` in a new temp directory, opened with openDatabase. */
export function tempDb(prefix = 'ridgerec-test-'): TempDb {
  const { dir, cleanup } = tempDir(prefix);
  const path = join(dir, 'test.db');
  const db = openDatabase(path);
  const others: Db[] = [];
  return {
    dir,
    path,
    db,
    open() {
      const o = openDatabase(path);
      others.push(o);
      return o;
    },
    cleanup: () => {
      for (const o of others) if (o.open) o.close();
      if (db.open) db.close();
      cleanup();
    },
  };
}
