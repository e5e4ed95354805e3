import type { Db } from '../../src/db/connection.js';

/** Every table's full content (and the schema), in a stable order: equal dumps = equal databases. */
export function dumpDb(db: Db): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  const tables = db
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all() as { name: string; sql: string }[];
  out.__schema = db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY type, name').raw(true).all();
  for (const { name } of tables) {
    const cols = (db.prepare(`PRAGMA table_info("${name}")`).all() as { name: string }[]).map((c) => `"${c.name}"`);
    out[name] = db.prepare(`SELECT * FROM "${name}" ORDER BY ${cols.join(', ')}`).raw(true).all();
  }
  return out;
}
