import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { MigrationError } from '../errors.js';

/** migrations/ at the package root: two levels above both src/db and dist/db. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

const NAME = /^(\d{4})_[a-z0-9_]+\.sql$/;

export interface MigrationFile {
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export interface MigrateResult {
  /** Migrations applied by this call, in order. */
  readonly applied: string[];
  /** The newest applied migration after this call, or null for an empty folder. */
  readonly current: string | null;
}

export function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

export function readMigrations(dir: string = MIGRATIONS_DIR): MigrationFile[] {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const seen = new Set<string>();
  return names.map((name) => {
    const m = NAME.exec(name);
    if (!m) throw new MigrationError(`migration file name ${name} must look like 0001_name.sql`);
    const number = m[1]!;
    if (seen.has(number)) throw new MigrationError(`two migration files share the number ${number} (${name})`);
    seen.add(number);
    const sql = readFileSync(`${dir}/${name}`, 'utf8');
    return { name, sql, checksum: checksum(sql) };
  });
}

/**
 * Applies pending migrations, each once, in name order, each inside its own transaction, and
 * records it with a checksum. Refuses a broken history before touching anything: an applied
 * migration whose file is missing or changed, or a pending file numbered below an applied one.
 */
export function migrate(db: Database.Database, dir: string = MIGRATIONS_DIR): MigrateResult {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    name       TEXT PRIMARY KEY,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  )`);
  const files = readMigrations(dir);
  const byName = new Map(files.map((f) => [f.name, f]));
  const appliedRows = db.prepare('SELECT name, checksum FROM schema_migrations ORDER BY name').all() as {
    name: string;
    checksum: string;
  }[];

  for (const row of appliedRows) {
    const file = byName.get(row.name);
    if (!file) {
      throw new MigrationError(`migration ${row.name} was applied to this database but its file is missing from ${dir}; restore it`);
    }
    if (file.checksum !== row.checksum) {
      throw new MigrationError(
        `migration ${row.name} was changed after it was applied (checksum mismatch); ` +
          'applied migrations are forward-only: restore the file and add a new migration instead',
      );
    }
  }
  const appliedNames = new Set(appliedRows.map((r) => r.name));
  const lastApplied = appliedRows.at(-1)?.name ?? null;
  const pending = files.filter((f) => !appliedNames.has(f.name));
  for (const f of pending) {
    if (lastApplied !== null && f.name < lastApplied) {
      throw new MigrationError(`migration ${f.name} sorts before the already-applied ${lastApplied}; give it a higher number`);
    }
  }

  const record = db.prepare('INSERT INTO schema_migrations (name, checksum) VALUES (?, ?)');
  const applied: string[] = [];
  for (const f of pending) {
    const apply = db.transaction(() => {
      db.exec(f.sql);
      record.run(f.name, f.checksum);
    });
    try {
      apply.immediate();
    } catch (e) {
      throw new MigrationError(`migration ${f.name} failed and was rolled back: ${(e as Error).message}`);
    }
    applied.push(f.name);
  }
  return { applied, current: files.at(-1)?.name ?? lastApplied };
}
