/**
 * The item catalogue in SQLite (migration 0005): title, categories, metadata and active on the
 * `items` rows the ratings already use. Writes are upserts in one transaction; `catalogueVersion`
 * is bumped by triggers on every change, so a server polls one row to learn that another process
 * changed the catalogue.
 */
import { writeTransaction, type Db, type WriteOptions } from '../db/connection.js';
import { invalidInput } from '../errors.js';
import { canonicalId } from './ids.js';

export type MetadataValue = string | number | boolean;

export interface CatalogItem {
  readonly id: string;
  readonly title: string | null;
  readonly categories: readonly string[];
  readonly metadata: Readonly<Record<string, MetadataValue>>;
  readonly active: boolean;
}

/** Checks one item as it comes from a file or a request; InvalidInput names the field. */
export function checkCatalogItem(raw: unknown, at = 'item'): CatalogItem {
  if (typeof raw !== 'object' || raw === null) throw invalidInput(`${at} must be an object`);
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== 'string' || r.id === '') throw invalidInput(`${at}.id must be a non-empty string`, { field: `${at}.id` });
  if (r.title !== undefined && r.title !== null && typeof r.title !== 'string') {
    throw invalidInput(`${at}.title must be a string or null`, { field: `${at}.title` });
  }
  const categories = r.categories ?? [];
  if (!Array.isArray(categories) || categories.some((c) => typeof c !== 'string' || c === '' || c.includes(','))) {
    throw invalidInput(`${at}.categories must be a list of non-empty strings without commas`, { field: `${at}.categories` });
  }
  const metadata = r.metadata ?? {};
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw invalidInput(`${at}.metadata must be a flat JSON object`, { field: `${at}.metadata` });
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (!(typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))) {
      throw invalidInput(`${at}.metadata.${k} must be a string, a finite number or a boolean`, { field: `${at}.metadata.${k}` });
    }
  }
  if (r.active !== undefined && typeof r.active !== 'boolean')
    throw invalidInput(`${at}.active must be true or false`, { field: `${at}.active` });
  return {
    id: canonicalId(r.id, `${at}.id`),
    title: (r.title as string | null | undefined) ?? null,
    categories: [...new Set(categories as string[])],
    metadata: { ...(metadata as Record<string, MetadataValue>) },
    active: (r.active as boolean | undefined) ?? true,
  };
}

/** A row of the items table, as ITEM_COLUMNS selects it. */
export interface ItemRow {
  external_id: string;
  title: string | null;
  categories: string;
  metadata: string | null;
  active: number;
}

/** The catalogue item a row of the items table holds. */
export function itemOf(r: ItemRow): CatalogItem {
  return {
    id: r.external_id,
    title: r.title,
    categories: JSON.parse(r.categories) as string[],
    metadata: r.metadata === null ? {} : (JSON.parse(r.metadata) as Record<string, MetadataValue>),
    active: r.active === 1,
  };
}

/** The items table's columns that make a CatalogItem (itemOf). */
export const ITEM_COLUMNS = 'external_id, title, categories, metadata, active';

/** A change to an item: absent fields keep their stored value (or the default for a new item). */
export interface ItemPatch {
  readonly title?: string | null;
  readonly categories?: readonly string[];
  readonly metadata?: Readonly<Record<string, MetadataValue>>;
  readonly active?: boolean;
}

/** Checks a patch as it comes from a request body; InvalidInput names the field. */
export function checkItemPatch(raw: unknown, at = 'body'): ItemPatch {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalidInput(`${at} must be a JSON object`);
  const known = new Set(['title', 'categories', 'metadata', 'active']);
  for (const k of Object.keys(raw))
    if (!known.has(k)) throw invalidInput(`${at}.${k} is not an item field (title, categories, metadata, active)`, { field: `${at}.${k}` });
  const r = raw as Record<string, unknown>;
  // Reuse the full item check on a stand-in id, keeping only the fields given.
  const full = checkCatalogItem({ id: '-', ...r }, at);
  const out: { -readonly [K in keyof ItemPatch]: ItemPatch[K] } = {};
  if ('title' in r) out.title = full.title;
  if ('categories' in r) out.categories = full.categories;
  if ('metadata' in r) out.metadata = full.metadata;
  if ('active' in r) out.active = full.active;
  return out;
}

/** The stored item, or undefined for an id the database has never seen. */
export function getItem(db: Db, id: string): CatalogItem | undefined {
  const row = db.prepare(`SELECT ${ITEM_COLUMNS} FROM items WHERE external_id = ?`).get(canonicalId(id, 'item')) as ItemRow | undefined;
  return row === undefined ? undefined : itemOf(row);
}

/**
 * Applies patches in one transaction (creating missing items) and returns the stored items, in
 * order. `replace` resets absent fields to their defaults (a PUT), otherwise they are kept (a PATCH).
 */
export function writeItems(
  db: Db,
  changes: readonly { id: string; patch: ItemPatch }[],
  replace: boolean,
  options: WriteOptions = {},
): CatalogItem[] {
  const upsert = db.prepare(
    `INSERT INTO items (external_id, title, categories, metadata, active) VALUES (@id, @title, @categories, @metadata, @active)
     ON CONFLICT (external_id) DO UPDATE SET title = excluded.title, categories = excluded.categories,
       metadata = excluded.metadata, active = excluded.active
     WHERE title IS NOT excluded.title OR categories IS NOT excluded.categories OR metadata IS NOT excluded.metadata
       OR active IS NOT excluded.active`,
  );
  // Prepared once per call: preparing per item would cost more than the reads and writes (an import writes 10^5 items).
  const select = db.prepare(`SELECT ${ITEM_COLUMNS} FROM items WHERE external_id = ?`);
  return writeTransaction(
    db,
    (): CatalogItem[] => {
      const out: CatalogItem[] = [];
      for (const { id: given, patch } of changes) {
        if (typeof given !== 'string' || given === '') throw invalidInput('an item id must be a non-empty string');
        const id = canonicalId(given, 'item');
        const row = replace ? undefined : (select.get(id) as ItemRow | undefined);
        const old = row === undefined ? undefined : itemOf(row);
        const item: CatalogItem = {
          id,
          title: patch.title !== undefined ? patch.title : (old?.title ?? null),
          categories: patch.categories ?? old?.categories ?? [],
          metadata: patch.metadata ?? old?.metadata ?? {},
          active: patch.active ?? old?.active ?? true,
        };
        upsert.run({
          id,
          title: item.title,
          categories: JSON.stringify(item.categories),
          metadata: Object.keys(item.metadata).length === 0 ? null : JSON.stringify(item.metadata),
          active: item.active ? 1 : 0,
        });
        out.push(item);
      }
      return out;
    },
    options,
  );
}

export interface ItemQuery {
  readonly category?: string;
  readonly active?: boolean;
  readonly limit: number;
  /** Cursor: items with an id after this one (ids in binary order). */
  readonly after?: string;
}

/** A page of the catalogue in id order; `next` is the cursor (`after`) of the following page, null at the end. */
export interface ItemPage {
  readonly items: CatalogItem[];
  readonly next: string | null;
}

/** What a catalogue write stored, with the catalogue version just before and just after it (one transaction). */
export interface ItemWrite {
  readonly items: CatalogItem[];
  readonly from: number;
  readonly to: number;
}

/** A page of items in id order; `next` is the cursor for the following page, null at the end. */
export function listItems(db: Db, q: ItemQuery): ItemPage {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.after !== undefined) {
    where.push('external_id > ?');
    args.push(q.after);
  }
  if (q.active !== undefined) {
    where.push('active = ?');
    args.push(q.active ? 1 : 0);
  }
  if (q.category !== undefined) {
    where.push('EXISTS (SELECT 1 FROM json_each(items.categories) c WHERE c.value = ?)');
    args.push(q.category);
  }
  const rows = db
    .prepare(`SELECT ${ITEM_COLUMNS} FROM items ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY external_id LIMIT ?`)
    .all(...args, q.limit + 1) as ItemRow[];
  const items = rows.slice(0, q.limit).map(itemOf);
  return { items, next: rows.length > q.limit ? items.at(-1)!.id : null };
}

/** Every item the catalogue says something of (a title, categories, metadata, or inactive). */
export function loadCatalogueItems(db: Db): CatalogItem[] {
  return (
    db
      .prepare(`SELECT ${ITEM_COLUMNS} FROM items WHERE title IS NOT NULL OR metadata IS NOT NULL OR categories <> '[]' OR active = 0`)
      .all() as ItemRow[]
  ).map(itemOf);
}

/** The catalogue's change counter (migration 0005's triggers bump it). */
export function catalogueVersion(db: Db): number {
  return (db.prepare('SELECT version FROM catalogue_version WHERE id = 1').get() as { version: number }).version;
}
