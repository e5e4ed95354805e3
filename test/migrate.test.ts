import { writeFileSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, readMigrations, MIGRATIONS_DIR } from '../src/db/migrate.js';
import { openDatabase } from '../src/db/connection.js';
import { MigrationError } from '../src/errors.js';
import { tempDir, type TempDir } from './helpers/temp.js';

const made: TempDir[] = [];
function tmp(): string {
  const t = tempDir('ridgerec-mig-');
  made.push(t);
  return t.dir;
}
afterEach(() => {
  for (const t of made.splice(0)) t.cleanup();
});

function folder(files: Record<string, string>): string {
  const d = tmp();
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(d, name), sql);
  return d;
}

describe('migrator', () => {
  it('applies files in numeric order, each once, and records checksums', () => {
    const dir = folder({
      '0002_b.sql': 'CREATE TABLE b (x INTEGER REFERENCES a(x));',
      '0001_a.sql': 'CREATE TABLE a (x INTEGER PRIMARY KEY);',
    });
    const db = new Database(':memory:');
    const first = migrate(db, dir);
    expect(first).toEqual({ applied: ['0001_a.sql', '0002_b.sql'], current: '0002_b.sql' });
    const again = migrate(db, dir);
    expect(again).toEqual({ applied: [], current: '0002_b.sql' });
    const rows = db.prepare('SELECT name, checksum FROM schema_migrations ORDER BY name').all() as {
      name: string;
      checksum: string;
    }[];
    expect(rows.map((r) => r.name)).toEqual(['0001_a.sql', '0002_b.sql']);
    expect(rows[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a changed applied migration, naming it', () => {
    const dir = folder({ '0001_a.sql': 'CREATE TABLE a (x INTEGER);' });
    const db = new Database(':memory:');
    migrate(db, dir);
    writeFileSync(join(dir, '0001_a.sql'), 'CREATE TABLE a (x INTEGER, y TEXT);');
    expect(() => migrate(db, dir)).toThrow(MigrationError);
    expect(() => migrate(db, dir)).toThrow(/0001_a\.sql.*changed/);
  });

  it('refuses a missing applied migration, naming it', () => {
    const dir = folder({ '0001_a.sql': 'CREATE TABLE a (x INTEGER);', '0002_b.sql': 'CREATE TABLE b (y INTEGER);' });
    const db = new Database(':memory:');
    migrate(db, dir);
    rmSync(join(dir, '0002_b.sql'));
    expect(() => migrate(db, dir)).toThrow(/0002_b\.sql.*missing/);
  });

  it('refuses a new file numbered below an applied one', () => {
    const dir = folder({ '0002_b.sql': 'CREATE TABLE b (y INTEGER);' });
    const db = new Database(':memory:');
    migrate(db, dir);
    writeFileSync(join(dir, '0001_a.sql'), 'CREATE TABLE a (x INTEGER);');
    expect(() => migrate(db, dir)).toThrow(/0001_a\.sql sorts before/);
  });

  it('rolls back a failing migration and records nothing for it', () => {
    const dir = folder({
      '0001_a.sql': 'CREATE TABLE a (x INTEGER);',
      '0002_bad.sql': 'CREATE TABLE c (y INTEGER); THIS IS NOT SQL;',
    });
    const db = new Database(':memory:');
    expect(() => migrate(db, dir)).toThrow(/0002_bad\.sql failed/);
    const names = (db.prepare('SELECT name FROM schema_migrations').all() as { name: string }[]).map((r) => r.name);
    expect(names).toEqual(['0001_a.sql']);
    const c = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'c'").get() as { n: number };
    expect(c.n).toBe(0);
  });

  it('the shipped migrations apply to a fresh file database with WAL and foreign keys', () => {
    const path = join(tmp(), 'sub', 'r.db');
    const db = openDatabase(path, { migrate: false });
    expect(migrate(db).applied).toEqual(readMigrations(MIGRATIONS_DIR).map((m) => m.name));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    expect(Number(db.pragma('busy_timeout', { simple: true }))).toBeGreaterThan(0);
    db.close();
    expect(readdirSync(join(path, '..'))).toContain('r.db');
  });
});
