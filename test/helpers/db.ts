/** Database helpers for the tests: connections closed after each test, and readable dumps. */
import { afterEach } from 'vitest';
import { openDatabase, type Db } from '../../src/db/connection.js';

/**
 * Call once at the top of a test file: returns an opener (default `:memory:`) whose connections
 * are closed after each test.
 */
export function dbsClosedAfterEach(): (path?: string) => Db {
  const open: Db[] = [];
  afterEach(() => {
    for (const db of open.splice(0)) db.close();
  });
  return (path = ':memory:') => {
    const db = openDatabase(path);
    open.push(db);
    return db;
  };
}

/** Every stored rating as [user id, item id, value, updated_at], ordered by user id then item id. */
export function ratingRows(db: Db): Array<[string, string, number, number]> {
  return db
    .prepare(
      `SELECT u.external_id, i.external_id, r.value, r.updated_at FROM ratings r
         JOIN users u ON u.id = r.user_id JOIN items i ON i.id = r.item_id
        ORDER BY u.external_id, i.external_id`,
    )
    .raw(true)
    .all() as Array<[string, string, number, number]>;
}

/** Every table's full content (and the schema), in a stable order: equal dumps = equal databases. */
export function dumpDb(db: Db): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  const tables = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
    name: string;
    sql: string;
  }[];
  out.__schema = db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY type, name').raw(true).all();
  for (const { name } of tables) {
    const cols = (db.prepare(`PRAGMA table_info("${name}")`).all() as { name: string }[]).map((c) => `"${c.name}"`);
    out[name] = db
      .prepare(`SELECT * FROM "${name}" ORDER BY ${cols.join(', ')}`)
      .raw(true)
      .all();
  }
  return out;
}
