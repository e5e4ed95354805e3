/**
 * `ridgerec export ratings DIR`: the stored ratings with dense integer ids, for Spark's ALS (which
 * needs int ids), plus the two id maps that turn them back into the client's ids:
 *
 *   DIR/ratings.parquet  (or DIR/ratings/part-00000.csv with --format csv)
 *                        user_id int, item_id int, value float, ts long (unix seconds)
 *   DIR/users.parquet    id int, external string   (dense user id → the client's user id)
 *   DIR/items.parquet    id int, external string
 *   DIR/export.json      what was exported: counts, format, time, and the holdout when one was held back
 *
 * Dense ids: users and items with at least one rating, numbered 0.. in the database's id order
 * (the order loadMatrix uses). The ratings are streamed in primary-key order inside one read
 * transaction, in row groups of CHUNK_ROWS, so memory stays bounded whatever the size: one pass
 * marks the items that have ratings (one byte per item id), a second writes the rows.
 *
 * With a holdout (fraction, seed) the export leaves out exactly the test part of the per-user
 * holdout split `ridgerec retrain` makes with the same fraction and seed (src/eval/split.ts), so a
 * model trained on it can be gated on ratings it never saw. That split needs the whole rating
 * matrix in memory (as training does); the plain export does not.
 */
import { createWriteStream, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../db/connection.js';
import { invalidInput } from '../errors.js';
import { holdoutSplit } from '../eval/split.js';
import { loadMatrix } from '../ratings/store.js';
import { RatingsParquetWriter, writeIdMap } from './parquet.js';

export type ExportFormat = 'parquet' | 'csv';

export interface ExportOptions {
  readonly format?: ExportFormat;
  /** Leave out the test part of retrain's per-user holdout with this fraction (0 < f < 1). */
  readonly holdout?: number;
  /** Seed of that holdout (default 0, as retrain's). */
  readonly seed?: number;
  /** Rows per Parquet row group / per write (default 1,048,576). */
  readonly chunkRows?: number;
}

/** What DIR/export.json holds (and exportRatings returns). */
export interface ExportManifest {
  readonly format: ExportFormat;
  readonly ratings: number;
  readonly users: number;
  readonly items: number;
  /** the held-out fraction and seed, or null when every rating was exported */
  readonly holdout: { readonly fraction: number; readonly seed: number; readonly heldOut: number; readonly totalRatings: number } | null;
  readonly files: readonly string[];
  readonly createdAt: string;
}

export const CHUNK_ROWS = 1 << 20;

const EXPORT_FILES = ['ratings.parquet', 'ratings', 'users.parquet', 'items.parquet', 'export.json'];

/** A sink that takes chunks of rows; the Parquet one writes a row group per chunk. */
interface RowSink {
  add(users: Int32Array, items: Int32Array, values: Float32Array, ts: BigInt64Array, n: number): void | Promise<void>;
  finish(): Promise<void> | void;
  abort(): void;
}

function csvSink(path: string): RowSink {
  const out = createWriteStream(path);
  out.write('user_id,item_id,value,ts\n');
  return {
    async add(users, items, values, ts, n) {
      let text = '';
      for (let r = 0; r < n; r++) text += `${users[r]},${items[r]},${values[r]},${ts[r]}\n`;
      if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', resolve));
    },
    finish: () => new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve()))),
    abort: () => out.destroy(),
  };
}

function prepareDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const clash = readdirSync(dir).filter((f) => EXPORT_FILES.includes(f));
  // An export replaces a previous export's files (and only those).
  for (const f of clash) rmSync(join(dir, f), { recursive: true, force: true });
}

/**
 * Writes the export into `dir` (created if missing; a previous export's files are replaced).
 * Refuses an empty database. Returns the manifest it also writes as DIR/export.json.
 */
export async function exportRatings(db: Db, dir: string, options: ExportOptions = {}): Promise<ExportManifest> {
  const format = options.format ?? 'parquet';
  if (format !== 'parquet' && format !== 'csv') throw invalidInput(`--format must be parquet or csv, got "${String(format)}"`);
  const chunk = options.chunkRows ?? CHUNK_ROWS;
  if (!Number.isSafeInteger(chunk) || chunk < 1) throw invalidInput(`chunkRows must be an integer >= 1, got ${chunk}`);
  if (options.holdout !== undefined && !(options.holdout > 0 && options.holdout < 1)) {
    throw invalidInput(`--holdout must be a fraction > 0 and < 1, got ${options.holdout}`, { field: 'holdout' });
  }
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw invalidInput(`${dir} exists and is not a directory`);
  prepareDir(dir);

  const ratingsPath = format === 'parquet' ? join(dir, 'ratings.parquet') : join(dir, 'ratings', 'part-00000.csv');
  if (format === 'csv') mkdirSync(join(dir, 'ratings'), { recursive: true });
  const sink: RowSink = format === 'parquet' ? new RatingsParquetWriter(ratingsPath) : csvSink(ratingsPath);
  const buf: ChunkBuffer = {
    users: new Int32Array(chunk),
    items: new Int32Array(chunk),
    values: new Float32Array(chunk),
    ts: new BigInt64Array(chunk),
    n: 0,
    total: 0,
  };
  const flush = async (): Promise<void> => {
    await sink.add(buf.users, buf.items, buf.values, buf.ts, buf.n);
    buf.total += buf.n;
    buf.n = 0;
  };
  try {
    const written =
      options.holdout === undefined
        ? await streamAll(db, buf, flush)
        : await streamTrainPart(db, options.holdout, options.seed ?? 0, buf, flush);
    await flush();
    await sink.finish();
    const total = buf.total;
    if (total === 0) throw invalidInput('the database has no ratings to export: import some first (ridgerec import FILE)');
    writeIdMap(join(dir, 'users.parquet'), written.userIds);
    writeIdMap(join(dir, 'items.parquet'), written.itemIds);
    const manifest: ExportManifest = {
      format,
      ratings: total,
      users: written.userIds.length,
      items: written.itemIds.length,
      holdout: written.holdout,
      files: [format === 'parquet' ? 'ratings.parquet' : 'ratings/part-00000.csv', 'users.parquet', 'items.parquet'],
      createdAt: new Date().toISOString(),
    };
    writeFileSync(join(dir, 'export.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  } catch (e) {
    sink.abort();
    for (const f of EXPORT_FILES) rmSync(join(dir, f), { recursive: true, force: true });
    throw e;
  }
}

/** Rows gathered for the next write; `flush` writes the first n and empties it. */
interface ChunkBuffer {
  readonly users: Int32Array;
  readonly items: Int32Array;
  readonly values: Float32Array;
  readonly ts: BigInt64Array;
  n: number;
  total: number;
}

/** Appends one row; true when the buffer is full and must be flushed. */
function push(b: ChunkBuffer, user: number, item: number, value: number, ts: number): boolean {
  const n = b.n;
  b.users[n] = user;
  b.items[n] = item;
  b.values[n] = value;
  b.ts[n] = BigInt(ts);
  b.n = n + 1;
  return b.n === b.users.length;
}
interface Written {
  readonly userIds: string[];
  readonly itemIds: string[];
  readonly holdout: ExportManifest['holdout'];
}

/**
 * Every rating in (user_id, item_id) order, with dense ids, in one read transaction. Rows are
 * handed over in batches read with a keyset cursor (never one statement held across an await:
 * better-sqlite3 iterators must not interleave with other statements on the connection).
 */
async function streamAll(db: Db, buf: ChunkBuffer, flush: () => Promise<void>): Promise<Written> {
  const maxItem = db.prepare<[], number>('SELECT coalesce(max(id), 0) FROM items').pluck().get()!;
  const itemDense = new Int32Array(maxItem + 1).fill(-1);
  db.exec('BEGIN');
  try {
    // Pass 1: which items have ratings → dense ids in ascending database-id order.
    const seen = new Uint8Array(maxItem + 1);
    for (const id of db.prepare<[], number>('SELECT item_id FROM ratings').pluck().iterate()) seen[id] = 1;
    const itemIdsDb: number[] = [];
    for (let id = 0; id <= maxItem; id++) if (seen[id]) itemDense[id] = itemIdsDb.push(id) - 1;

    // Pass 2: the rows, in primary-key order, in batches.
    const BATCH = 65536;
    // A keyset cursor over the primary key: each page starts after the last (user_id, item_id).
    const pageStmt = db
      .prepare<[number, number], [number, number, number, number]>(
        `SELECT user_id, item_id, value, updated_at FROM ratings
          WHERE (user_id, item_id) > (?, ?) ORDER BY user_id, item_id LIMIT ${BATCH}`,
      )
      .raw(true);
    const userIdsDb: number[] = [];
    let lastUser = -1;
    let lastItem = -1;
    let dense = -1;
    for (;;) {
      const rows = pageStmt.all(lastUser, lastItem);
      if (rows.length === 0) break;
      for (const [u, i, v, t] of rows) {
        if (u !== lastUser) {
          dense = userIdsDb.push(u) - 1;
          lastUser = u;
        }
        lastItem = i;
        if (push(buf, dense, itemDense[i]!, v, t)) await flush();
      }
      if (rows.length < BATCH) break;
    }
    const userIds = externalIds(db, 'users', userIdsDb);
    const itemIds = externalIds(db, 'items', itemIdsDb);
    db.exec('COMMIT');
    return { userIds, itemIds, holdout: null };
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw e;
  }
}

/** External ids of the given database ids (ascending), read in one pass over the table. */
function externalIds(db: Db, table: 'users' | 'items', ids: readonly number[]): string[] {
  const out = new Array<string>(ids.length);
  if (ids.length === 0) return out;
  const max = ids[ids.length - 1]!;
  const pos = new Int32Array(max + 1).fill(-1);
  ids.forEach((id, r) => (pos[id] = r));
  for (const [id, ext] of db
    .prepare<[number], [number, string]>(`SELECT id, external_id FROM ${table} WHERE id <= ?`)
    .raw(true)
    .iterate(max)) {
    const r = pos[id] ?? -1;
    if (r >= 0) out[r] = ext;
  }
  return out;
}

/** The train part of retrain's holdout split: the matrix is loaded whole (as training would). */
async function streamTrainPart(db: Db, fraction: number, seed: number, buf: ChunkBuffer, flush: () => Promise<void>): Promise<Written> {
  const matrix = loadMatrix(db);
  if (matrix.nnz === 0) return { userIds: [], itemIds: [], holdout: null };
  const { train, test } = holdoutSplit(matrix, fraction, seed);
  // Timestamps by (user, item): one read of the table in the matrix's order.
  const ts = new Float64Array(matrix.nnz);
  let e = 0;
  for (const t of db.prepare<[], number>('SELECT updated_at FROM ratings ORDER BY user_id, item_id').pluck().iterate()) {
    if (e < ts.length) ts[e] = t;
    e++;
  }
  if (e !== matrix.nnz) throw new Error(`ratings changed during the export (${e} rows read, ${matrix.nnz} loaded); run it again`);
  // Map train indices back to the full matrix to find each kept entry's timestamp.
  const fullUser = new Map<string, number>();
  matrix.userIds.forEach((id, u) => fullUser.set(id, u));
  const fullItem = new Map<string, number>();
  matrix.itemIds.forEach((id, i) => fullItem.set(id, i));
  const { indptr, indices, values } = train.byUser;
  const full = matrix.byUser;
  for (let u = 0; u < train.nUsers; u++) {
    const fu = fullUser.get(train.userIds[u]!)!;
    let f = full.indptr[fu]!;
    for (let p = indptr[u]!; p < indptr[u + 1]!; p++) {
      const fi = fullItem.get(train.itemIds[indices[p]!]!)!;
      while (full.indices[f] !== fi) f++; // both rows ascending in item order
      if (push(buf, u, indices[p]!, values[p]!, ts[f]!)) await flush();
    }
  }
  return {
    userIds: [...train.userIds],
    itemIds: [...train.itemIds],
    holdout: { fraction, seed, heldOut: test.values.length, totalRatings: matrix.nnz },
  };
}
