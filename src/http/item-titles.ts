/**
 * Item titles for the responses ("title" next to "item"), read from the items table with one
 * statement per response: the ids go in as a JSON array and json_each unpacks them, so a
 * 1000-item answer is still one query over the unique index on external_id. No cache: a title
 * changed by a catalogue sync shows up on the next request.
 */
import type { Db } from '../db/connection.js';
import type { ItemTitles } from './app.js';

export function itemTitlesFrom(db: Db): ItemTitles {
  const stmt = db
    .prepare<[string], [string, string]>(
      `SELECT i.external_id, i.title
         FROM json_each(?) j JOIN items i ON i.external_id = j.value
        WHERE i.title IS NOT NULL`,
    )
    .raw(true);
  return (ids) => {
    const out = new Map<string, string>();
    if (ids.length === 0) return out;
    for (const [id, title] of stmt.iterate(JSON.stringify(ids))) out.set(id, title);
    return out;
  };
}
