import Database from 'better-sqlite3';
import { LIMITS } from '../config.js';
import { DEFAULT_BUSY_TIMEOUT_MS, writeTransaction, type Db, type WriteOptions } from '../db/connection.js';
import { WorkerPool } from '../workers.js';
import type { LoadReply, LoadTask } from './load-worker.js';
import { invalidInput } from '../errors.js';
import { canonicalId } from './ids.js';
import { IdIndex, numericKey } from './id-index.js';
import { sharedFloat32, sharedInt32, transposeCsr, type RatingMatrix } from './matrix.js';

/**
 * The ratings store: every read and write of `users`, `items` and `ratings` goes through here.
 * Writes are upserts (the last value written for a (user, item) pair wins) inside one
 * transaction each; dense ids are created on first sight by IdIndex and never leave the process.
 */

export interface RatingInput {
  readonly user: string;
  readonly item: string;
  readonly value: number;
  /** Unix seconds; the rating's updated_at. Default: now. */
  readonly timestamp?: number;
}

export interface UpsertCounts {
  /** New (user, item) pairs. */
  inserted: number;
  /** Rows that overwrote an existing pair (including a pair repeated in the same batch). */
  updated: number;
}

/** Rows a RatingWriter buffers and sorts before writing: 2^20 rows ≈ 26 MiB of typed arrays (34 with per-row timestamps). */
export const DEFAULT_CHUNK_ROWS = 1 << 20;

/** Rows per multi-row INSERT: 4 parameters each, far below SQLite's 32766-variable limit. */
export const UPSERT_BATCH_ROWS = 512;

/**
 * What the ratings store keeps per SQLite connection: the user-defined functions it has registered
 * on it (a function lives as long as its connection, so each is registered once) and the state
 * their JS side writes while a statement runs. Statements run synchronously on the connection's
 * thread, so one slot per function is enough. Created on first use and kept on the connection
 * object itself, so it is dropped with it.
 */
class ConnectionState {
  /** How often the upsert's DO UPDATE branch ran on this connection (see upsertSql). */
  updateHits = 0;
  /** popularItems' counts while its scan runs. */
  itemCounts: Int32Array | null = null;
  /** loadMatrix's arrays while its scan runs. */
  scan: ScanState | null = null;
  /** itemTitles' statement, prepared on first use. */
  titles: Database.Statement<[string], [string, string]> | null = null;
  /**
   * userRatings' statement, prepared on first use: the serving core calls it once per fold-in,
   * and a statement prepared per call holds native memory until the JS object is collected.
   */
  userRatings: Database.Statement<[string], { item: string; value: number }> | null = null;
  private readonly registered = new Set<string>();

  constructor(readonly db: Db) {}

  /** Runs `register` (which adds SQLite function `name` to the connection) unless it already ran here. */
  define(name: string, register: (db: Db, state: this) => void): this {
    if (!this.registered.has(name)) {
      register(this.db, this);
      this.registered.add(name);
    }
    return this;
  }
}

const CONNECTION_STATE = Symbol('ridgerec.ratings.connection');

function connectionState(db: Db): ConnectionState {
  const holder = db as Db & { [CONNECTION_STATE]?: ConnectionState };
  return (holder[CONNECTION_STATE] ??= new ConnectionState(db));
}

// Upsert counting: SQLite's changes() counts an insert and an upsert-update alike, so the
// DO UPDATE branch passes the new value through this function, which counts how often it runs.
// The difference of the count around one run() is exact (see ConnectionState).
const UPDATE_COUNTER_FN = 'ridgerec_count_update';
function withUpdateCounter(db: Db): ConnectionState {
  return connectionState(db).define(UPDATE_COUNTER_FN, (conn, state) =>
    conn.function(UPDATE_COUNTER_FN, { deterministic: false, directOnly: true }, (v: unknown) => {
      state.updateHits++;
      return v;
    }),
  );
}

/** The largest id in `table` (users or items), 0 when empty: the size of an id-indexed array. */
function maxId(db: Db, table: 'users' | 'items'): number {
  return db.prepare<[], number>(`SELECT coalesce(max(id), 0) FROM ${table}`).pluck().get()!;
}

/** `rows` tuples (user, item, value, updated_at); sharedTime: one `@t` for every row's updated_at. */
function upsertSql(rows: number, sharedTime = false): string {
  const tuples = new Array<string>(rows).fill(sharedTime ? '(?,?,?,@t)' : '(?,?,?,?)').join(',');
  return (
    `INSERT INTO ratings (user_id, item_id, value, updated_at) VALUES ${tuples} ` +
    `ON CONFLICT (user_id, item_id) DO UPDATE SET value = ${UPDATE_COUNTER_FN}(excluded.value), ` +
    'updated_at = excluded.updated_at'
  );
}

/** Reusable work arrays for sortByUserItem (a chunk's worth: allocating them per chunk doubles the peak). */
export interface SortScratch {
  readonly a: Int32Array;
  readonly b: Int32Array;
  readonly digit: Uint16Array;
}

/**
 * Stable LSD radix sort of rows 0..n-1 by (user, item), 16-bit digits, skipping a high-digit pass
 * when every id is below 2^16. O(n) per pass whatever the id range; rows with equal keys keep
 * their input order, so the last of a repeated pair stays last. Returns the permutation in the
 * first n entries (of a scratch array when one is given).
 */
export function sortByUserItem(users: Int32Array, items: Int32Array, n: number, scratch?: SortScratch): Int32Array {
  let order = scratch && scratch.a.length >= n ? scratch.a : new Int32Array(n);
  if (n < 2) {
    if (n === 1) order[0] = 0;
    return order;
  }
  let other = scratch && scratch.b.length >= n ? scratch.b : new Int32Array(n);
  const count = new Int32Array(65537);
  let maxUser = 0;
  let maxItem = 0;
  for (let k = 0; k < n; k++) {
    if (users[k]! > maxUser) maxUser = users[k]!;
    if (items[k]! > maxItem) maxItem = items[k]!;
  }
  // First pass (item, low digit) from the identity order: read the keys directly.
  for (let k = 0; k < n; k++) count[(items[k]! & 0xffff) + 1]!++;
  for (let d = 0; d < 65536; d++) count[d + 1]! += count[d]!;
  for (let k = 0; k < n; k++) order[count[items[k]! & 0xffff]!++] = k;
  const passes: Array<[Int32Array, number]> = [];
  if (maxItem > 0xffff) passes.push([items, 16]);
  passes.push([users, 0]);
  if (maxUser > 0xffff) passes.push([users, 16]);
  const digit = scratch && scratch.digit.length >= n ? scratch.digit : new Uint16Array(n);
  for (const [key, shift] of passes) {
    count.fill(0);
    for (let k = 0; k < n; k++) {
      const d = (key[order[k]!]! >>> shift) & 0xffff;
      digit[k] = d;
      count[d + 1]!++;
    }
    for (let d = 0; d < 65536; d++) count[d + 1]! += count[d]!;
    for (let k = 0; k < n; k++) other[count[digit[k]!]!++] = order[k]!;
    const t = order;
    order = other;
    other = t;
  }
  return order;
}

export interface RatingWriterOptions {
  /** Rows buffered, sorted and written at a time (default DEFAULT_CHUNK_ROWS). */
  readonly chunkRows?: number;
  /** Rows per multi-row INSERT (default UPSERT_BATCH_ROWS). */
  readonly batchRows?: number;
  /** IdIndex bulk mode (preload ids, write new ones in batches): for imports. */
  readonly bulk?: boolean;
}

/**
 * Buffers ratings (by dense id) in typed arrays, up to `chunkRows` at a time, then writes the
 * chunk in (user, item) order with multi-row upserts through two prepared statements (one full
 * batch, one single row for the tail). Sorting first turns random-order input into an in-order
 * sweep of the WITHOUT ROWID b-tree (each page loaded once per chunk, not once per row). Within a
 * chunk a repeated pair is written once, with its last value, and the extra occurrences count as
 * updates: the same end state and counts as writing every row in input order.
 * Only use it inside a transaction the caller owns; call flush() before committing.
 */
export class RatingWriter {
  readonly users: IdIndex;
  readonly items: IdIndex;
  private readonly conn: ConnectionState;
  private readonly batch: Database.Statement<unknown[]>;
  private readonly batchSharedTime: Database.Statement<unknown[]>;
  private readonly single: Database.Statement<unknown[]>;
  private readonly params: number[];
  private readonly params3: number[];
  /** updated_at of the chunk's first row, and whether every row so far has the same one. */
  private chunkTime = 0;
  private uniformTime = true;
  private cap: number;
  private bufUser: Int32Array;
  private bufItem: Int32Array;
  private bufValue: Float64Array;
  /** Per-row updated_at, allocated only once a chunk has two different ones (files with timestamps). */
  private bufTime: Float64Array | null = null;
  private scratch: SortScratch | null = null;
  private pending = 0;
  // The previous row's user (files grouped by user repeat it): a string, or a numeric key with
  // lastUser null; lastUserNum -2 matches nothing.
  private lastUser: string | null = null;
  private lastUserNum = -2;
  private lastUserId = 0;
  private written = 0;
  private updates = 0;

  private readonly chunkRows: number;
  private readonly batchRows: number;

  constructor(db: Db, options: RatingWriterOptions = {}) {
    const chunkRows = options.chunkRows ?? DEFAULT_CHUNK_ROWS;
    const batchRows = options.batchRows ?? UPSERT_BATCH_ROWS;
    if (!Number.isSafeInteger(batchRows) || batchRows < 1) throw new RangeError(`batchRows must be a positive integer, got ${batchRows}`);
    this.chunkRows = chunkRows;
    this.batchRows = batchRows;
    if (!Number.isSafeInteger(chunkRows) || chunkRows < 1) throw new RangeError(`chunkRows must be a positive integer, got ${chunkRows}`);
    // Start small (upsertRatings of one rating must not allocate a chunk) and grow by doubling.
    this.cap = Math.min(1024, chunkRows);
    this.bufUser = new Int32Array(this.cap);
    this.bufItem = new Int32Array(this.cap);
    this.bufValue = new Float64Array(this.cap);
    this.conn = withUpdateCounter(db);
    this.users = new IdIndex(db, 'users', { bulk: options.bulk ?? false });
    this.items = new IdIndex(db, 'items', { bulk: options.bulk ?? false });
    this.batch = db.prepare(upsertSql(batchRows));
    this.batchSharedTime = db.prepare(upsertSql(batchRows, true));
    this.single = db.prepare(upsertSql(1));
    this.params = new Array<number>(batchRows * 4).fill(0);
    this.params3 = new Array<number>(batchRows * 3).fill(0);
  }

  /** Queues one rating by external ids (creating users/items as needed). */
  add(user: string, item: string, value: number, updatedAt: number): void {
    // Files grouped by user (ratings.dat, ratings.csv) repeat the user on consecutive rows.
    let u = this.lastUserId;
    if (user !== this.lastUser) {
      u = this.users.idOf(user);
      this.lastUser = user;
      this.lastUserNum = -1;
      this.lastUserId = u;
    }
    this.addDense(u, this.items.idOf(item), value, updatedAt);
  }

  /**
   * add() for the import's parser: an id given as null is the canonical decimal in its number
   * (see numericKey), so the common MovieLens-style row makes no id strings at all.
   */
  addKeyed(user: string | null, userNum: number, item: string | null, itemNum: number, value: number, updatedAt: number): void {
    let u = this.lastUserId;
    if (user === null ? userNum !== this.lastUserNum : user !== this.lastUser) {
      u = this.users.idOfKey(user, user === null ? userNum : numericKey(user));
      this.lastUser = user;
      this.lastUserNum = user === null ? userNum : -1;
      this.lastUserId = u;
    }
    this.addDense(u, this.items.idOfKey(item, item === null ? itemNum : numericKey(item)), value, updatedAt);
  }

  /** Queues one rating by dense ids, which must exist. */
  addDense(userId: number, itemId: number, value: number, updatedAt: number): void {
    let k = this.pending;
    if (k === this.cap) {
      if (k >= this.chunkRows) {
        this.flush();
        k = 0;
      } else this.grow();
    }
    this.bufUser[k] = userId;
    this.bufItem[k] = itemId;
    this.bufValue[k] = value;
    if (k === 0) {
      this.chunkTime = updatedAt;
      this.uniformTime = true;
    } else if (this.uniformTime && updatedAt !== this.chunkTime) {
      this.uniformTime = false;
      this.bufTime ??= new Float64Array(this.cap);
      this.bufTime.fill(this.chunkTime, 0, k);
    }
    if (!this.uniformTime) this.bufTime![k] = updatedAt;
    this.pending = k + 1;
  }

  private grow(): void {
    const cap = Math.min(this.chunkRows, this.cap * 2);
    const u = new Int32Array(cap);
    const i = new Int32Array(cap);
    const v = new Float64Array(cap);
    u.set(this.bufUser);
    i.set(this.bufItem);
    v.set(this.bufValue);
    if (this.bufTime) {
      const t = new Float64Array(cap);
      t.set(this.bufTime);
      this.bufTime = t;
    }
    this.bufUser = u;
    this.bufItem = i;
    this.bufValue = v;
    this.cap = cap;
  }

  /** Writes everything queued (new users and items first). */
  flush(): void {
    this.users.flushNew();
    this.items.flushNew();
    const n = this.pending;
    if (n === 0) return;
    const us = this.bufUser;
    const is = this.bufItem;
    const vs = this.bufValue;
    const ts = this.bufTime;
    if (n > 4096 && (this.scratch === null || this.scratch.a.length < n)) {
      this.scratch = { a: new Int32Array(this.cap), b: new Int32Array(this.cap), digit: new Uint16Array(this.cap) };
    }
    const order = sortByUserItem(us, is, n, this.scratch ?? undefined);
    // A chunk whose rows share one updated_at (a file without timestamps) binds it once per
    // statement: 3 parameters a row instead of 4, ~15% faster.
    const shared = this.uniformTime;
    const W = shared ? 3 : 4;
    const p = shared ? this.params3 : this.params;
    const stmt = shared ? this.batchSharedTime : this.batch;
    const named = { t: this.chunkTime };
    const B = this.batchRows;
    const before = this.conn.updateHits;
    let inBatch = 0;
    let collapsed = 0;
    let distinct = 0;
    for (let k = 0; k < n; k++) {
      const r = order[k]!;
      const u = us[r]!;
      const i = is[r]!;
      if (k + 1 < n) {
        const next = order[k + 1]!;
        if (us[next] === u && is[next] === i) {
          collapsed++; // a later row of the chunk overwrites this one
          continue;
        }
      }
      distinct++;
      const o = inBatch * W;
      p[o] = u;
      p[o + 1] = i;
      p[o + 2] = vs[r]!;
      if (!shared) p[o + 3] = ts![r]!;
      if (++inBatch === B) {
        if (shared) stmt.run(p, named);
        else stmt.run(p);
        inBatch = 0;
      }
    }
    for (let r = 0; r < inBatch; r++) {
      const o = r * W;
      this.single.run(p[o], p[o + 1], p[o + 2], shared ? this.chunkTime : p[o + 3]);
    }
    this.updates += this.conn.updateHits - before + collapsed;
    this.written += distinct + collapsed;
    this.pending = 0;
  }

  /** Counts for everything flushed so far. */
  counts(): UpsertCounts {
    return { inserted: this.written - this.updates, updated: this.updates };
  }
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The rating with its ids in NFC; throws InvalidInput naming `ratings[i].field` and what is allowed. */
function checkRating(r: RatingInput, i: number): RatingInput {
  const at = `ratings[${i}]`;
  if (typeof r !== 'object' || r === null) throw invalidInput(`${at} must be an object with user, item and value`);
  if (typeof r.user !== 'string' || r.user.length === 0) throw invalidInput(`${at}.user must be a non-empty string`);
  if (typeof r.item !== 'string' || r.item.length === 0) throw invalidInput(`${at}.item must be a non-empty string`);
  if (typeof r.value !== 'number' || !Number.isFinite(r.value)) {
    throw invalidInput(
      `${at}.value must be a finite number, got ${typeof r.value === 'number' ? String(r.value) : (JSON.stringify(r.value) ?? String(r.value))}`,
    );
  }
  const { minRatingValue: min, maxRatingValue: max } = LIMITS;
  if (r.value < min || r.value > max) {
    throw invalidInput(`${at}.value must be within ${min}..${max}, got ${String(r.value)}`, { field: `${at}.value`, min, max });
  }
  if (r.timestamp !== undefined && !Number.isSafeInteger(r.timestamp)) {
    throw invalidInput(`${at}.timestamp must be an integer (unix seconds), got ${String(r.timestamp)}`);
  }
  const user = canonicalId(r.user, `${at}.user`);
  const item = canonicalId(r.item, `${at}.item`);
  return user === r.user && item === r.item ? r : { ...r, user, item };
}

/**
 * Checks every rating as upsertRatings does (InvalidInput naming `ratings[i].field` and what is
 * allowed) and returns them with their ids in NFC, the form they are stored under.
 */
export function checkRatings(ratings: readonly RatingInput[]): RatingInput[] {
  if (!Array.isArray(ratings)) throw invalidInput('ratings must be an array of {user, item, value}');
  return ratings.map(checkRating);
}

/**
 * Upserts in one transaction (creating users/items as needed); all or nothing. Every rating is
 * validated before anything is written: a bad one throws invalidInput naming `ratings[i].field`.
 * Ids are stored in NFC (src/ratings/ids.ts). Throws Busy when another connection holds the write
 * lock for longer than `options.lockTimeoutMs`.
 */
export function upsertRatings(db: Db, ratings: readonly RatingInput[], options: WriteOptions = {}): { inserted: number; updated: number } {
  const checked = checkRatings(ratings);
  const now = nowSeconds();
  return writeTransaction(
    db,
    () => {
      const w = new RatingWriter(db, { batchRows: checked.length >= UPSERT_BATCH_ROWS ? UPSERT_BATCH_ROWS : 1 });
      for (const r of checked) w.add(r.user, r.item, r.value, r.timestamp ?? now);
      w.flush();
      return w.counts();
    },
    options,
  );
}

/** A user's ratings by external id ([] for an unknown user), item external ids, in item-id order. */
export function userRatings(db: Db, user: string): { item: string; value: number }[] {
  const state = connectionState(db);
  const stmt = (state.userRatings ??= db.prepare<[string], { item: string; value: number }>(
    `SELECT i.external_id AS item, r.value AS value
       FROM ratings r JOIN items i ON i.id = r.item_id
      WHERE r.user_id = (SELECT id FROM users WHERE external_id = ?)
      ORDER BY r.item_id`,
  ));
  return stmt.all(canonicalId(user, 'user'));
}

/** Deletes the user's ratings (and the user row); false when the user did not exist. */
export function deleteUser(db: Db, user: string, options: WriteOptions = {}): boolean {
  const external = canonicalId(user, 'user');
  // An id the database has never seen: nothing to delete, and no write lock to wait for.
  if (db.prepare<[string], number>('SELECT id FROM users WHERE external_id = ?').pluck().get(external) === undefined) return false;
  return writeTransaction(
    db,
    () => {
      const id = db.prepare<[string], number>('SELECT id FROM users WHERE external_id = ?').pluck().get(external);
      if (id === undefined) return false;
      // Explicit rather than relying on ON DELETE CASCADE, which needs foreign_keys=ON.
      db.prepare('DELETE FROM ratings WHERE user_id = ?').run(id);
      db.prepare('DELETE FROM users WHERE id = ?').run(id);
      return true;
    },
    options,
  );
}

// popularItems counts through a one-argument aggregate into an Int32Array: the SQL
// `GROUP BY item_id` has to sort all ratings (the table is in user order), 11.2 s on 20M ratings
// against 3–4 s here.
const COUNT_AGGREGATE = 'ridgerec_count_items';
function withItemCounter(db: Db): ConnectionState {
  return connectionState(db).define(COUNT_AGGREGATE, (conn, state) =>
    conn.aggregate(COUNT_AGGREGATE, {
      start: 0,
      deterministic: false,
      directOnly: true,
      step: ((_total: number, item: number): void => {
        state.itemCounts![item]!++;
      }) as (total: number, next: number) => void,
      result: () => 0,
    }),
  );
}

/**
 * Most-rated items, most first (ties by external item id, ascending byte order), for the
 * popularity fallback. A full scan of the ratings table (O(ratings), ~3 s for 20M): callers
 * should cache the answer.
 */
export function popularItems(db: Db, limit: number): { item: string; count: number }[] {
  if (!Number.isSafeInteger(limit) || limit < 0) throw invalidInput(`limit must be a non-negative integer, got ${limit}`);
  if (limit === 0) return [];
  const state = withItemCounter(db);
  const read = db.transaction(() => {
    const counts = new Int32Array(maxId(db, 'items') + 1);
    state.itemCounts = counts;
    try {
      db.prepare(`SELECT ${COUNT_AGGREGATE}(item_id) FROM ratings`).get();
    } finally {
      state.itemCounts = null;
    }
    // The limit-th largest count; every item at or above it is a candidate (ties included).
    const nonZero = counts.filter((c) => c > 0).sort();
    if (nonZero.length === 0) return [];
    const threshold = nonZero[Math.max(0, nonZero.length - limit)]!;
    const out: { item: string; count: number; key: Buffer }[] = [];
    for (const [id, ext] of db.prepare<[], [number, string]>('SELECT id, external_id FROM items').raw(true).iterate()) {
      const c = counts[id]!;
      if (c >= threshold && c > 0) out.push({ item: ext, count: c, key: Buffer.from(ext) });
    }
    out.sort((a, b) => b.count - a.count || Buffer.compare(a.key, b.key));
    return out.slice(0, limit).map(({ item, count }) => ({ item, count }));
  });
  return read();
}

export interface RatingStats {
  users: number;
  items: number;
  ratings: number;
  minValue: number | null;
  maxValue: number | null;
  meanValue: number | null;
}

/** Counts (users and items known to the database, ratings) and the value range; nulls when empty. */
export function ratingStats(db: Db): RatingStats {
  const row = db
    .prepare<[], [number, number, number, number | null, number | null, number | null]>(
      `SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM items),
              count(*), min(value), max(value), avg(value)
         FROM ratings`,
    )
    .raw(true)
    .get()!;
  const [users, items, ratings, minValue, maxValue, meanValue] = row;
  return { users, items, ratings, minValue, maxValue, meanValue };
}

/**
 * loadMatrix's scan state. The rows reach JS through a user-defined aggregate (one native→JS
 * call per row with three plain arguments) rather than a statement iterator (an array object and
 * an iterator step per row): 2–4× faster on 20M rows, see scripts/bench/import.ts --load-matrix.
 */
interface ScanState {
  readonly userDense: Int32Array; // database user id → dense row, -1 for none
  readonly itemSeen: Uint8Array;
  readonly indptr: Int32Array;
  readonly indices: Int32Array; // database item ids until the remap
  readonly values: Float32Array;
  rows: number;
  lastUser: number;
  lastItem: number;
  e: number;
}
const LOAD_AGGREGATE = 'ridgerec_load_ratings';
function withLoader(db: Db): ConnectionState {
  return connectionState(db).define(LOAD_AGGREGATE, (conn, state) =>
    conn.aggregate(LOAD_AGGREGATE, {
      start: 0,
      deterministic: false,
      directOnly: true,
      // (@types/better-sqlite3 types step as (total, one argument); SQLite passes all three.)
      step: ((_total: number, user: number, item: number, value: number): void => {
        const st = state.scan!;
        const e = st.e;
        if (e === st.indices.length) throw new Error('the ratings table grew during loadMatrix');
        if (user !== st.lastUser) {
          if (user < st.lastUser) throw new Error('loadMatrix: ratings did not arrive in user order');
          if (user >= st.userDense.length || st.rows + 1 >= st.indptr.length) {
            throw new Error(`loadMatrix: rating for user id ${user}, which the users table does not have`);
          }
          st.indptr[st.rows] = e;
          st.userDense[user] = st.rows++;
          st.lastUser = user;
        } else if (item <= st.lastItem) throw new Error('loadMatrix: ratings did not arrive in item order');
        if (item >= st.itemSeen.length) throw new Error(`loadMatrix: rating for item id ${item}, which the items table does not have`);
        st.lastItem = item;
        st.indices[e] = item;
        st.values[e] = value;
        st.itemSeen[item] = 1;
        st.e = e + 1;
      }) as unknown as (total: number, next: number) => void,
      result: () => 0,
    }),
  );
}

/**
 * Streams the whole ratings table (in PK = user order, no sort) into a RatingMatrix; only users
 * and items that have at least one rating get a dense index, in ascending database-id order (so
 * column indices stay ascending within each row). Big arrays on SharedArrayBuffer. Everything is
 * read inside ONE read transaction, so a concurrent writer cannot tear it.
 */
export function loadMatrix(db: Db): RatingMatrix {
  const state = withLoader(db);
  const read = db.transaction((): RatingMatrix => {
    const size = snapshotSize(db);
    const st = scanState(size, sharedInt32(size.nnz), sharedFloat32(size.nnz), new Uint8Array(size.maxItem + 1));
    scanAscending(state, st, null);
    if (st.e !== size.nnz) throw new Error(`ratings changed during loadMatrix (${st.e} rows scanned, ${size.nnz} counted)`);
    return finishMatrix(db, st);
  });
  return read();
}

/** The sizes loadMatrix allocates for, read in its snapshot. */
interface SnapshotSize {
  readonly nnz: number;
  readonly maxUser: number;
  readonly maxItem: number;
  readonly userRows: number;
}

function snapshotSize(db: Db): SnapshotSize {
  // count(*) walks the b-tree pages without decoding rows: cheap, and it sizes the arrays.
  return {
    nnz: db.prepare<[], number>('SELECT count(*) FROM ratings').pluck().get()!,
    maxUser: maxId(db, 'users'),
    maxItem: maxId(db, 'items'),
    userRows: db.prepare<[], number>('SELECT count(*) FROM users').pluck().get()!,
  };
}

/** A scan's state over arrays of the snapshot's size.nnz entries (indices, values) and size.maxItem + 1 (itemSeen). */
function scanState(size: SnapshotSize, indices: Int32Array, values: Float32Array, itemSeen: Uint8Array): ScanState {
  return {
    userDense: new Int32Array(size.maxUser + 1).fill(-1),
    itemSeen,
    indptr: new Int32Array(size.userRows + 1),
    indices,
    values,
    rows: 0,
    lastUser: -1,
    lastItem: -1,
    e: 0,
  };
}

/**
 * The rows with user_id ≤ mid (every row when mid is null) in primary-key order into st: the
 * ORDER BY is satisfied by the WITHOUT ROWID table's own order (no sort; test/ratings/store.test.ts
 * checks the plan), and step() verifies it.
 */
function scanAscending(state: ConnectionState, st: ScanState, mid: number | null): void {
  state.scan = st;
  try {
    state.db
      .prepare(
        `SELECT ${LOAD_AGGREGATE}(user_id, item_id, value) FROM (SELECT user_id, item_id, value FROM ratings ` +
          `${mid === null ? '' : 'WHERE user_id <= ? '}ORDER BY user_id, item_id)`,
      )
      .get(...(mid === null ? [] : [mid]));
  } finally {
    state.scan = null;
  }
}

/**
 * The matrix from a finished scan (st.rows users with st.indptr, every entry of st's arrays
 * holding a database item id): items with ratings get dense indices in ascending id order (a
 * monotone remap keeps each row's column indices ascending), ids come from this snapshot.
 */
function finishMatrix(db: Db, st: ScanState): RatingMatrix {
  const nnz = st.indices.length;
  const nUsers = st.rows;
  const indptr = sharedInt32(nUsers + 1);
  indptr.set(st.indptr.subarray(0, nUsers));
  indptr[nUsers] = nnz;
  const maxItem = st.itemSeen.length - 1;
  const itemDense = new Int32Array(maxItem + 1).fill(-1);
  let nItems = 0;
  for (let id = 0; id <= maxItem; id++) if (st.itemSeen[id]) itemDense[id] = nItems++;
  const indices = st.indices;
  for (let k = 0; k < nnz; k++) indices[k] = itemDense[indices[k]!]!;

  const userIds = new Array<string>(nUsers);
  for (const [id, ext] of db.prepare<[], [number, string]>('SELECT id, external_id FROM users').raw(true).iterate()) {
    const u = st.userDense[id] ?? -1;
    if (u >= 0) userIds[u] = ext;
  }
  const itemIds = new Array<string>(nItems);
  for (const [id, ext] of db.prepare<[], [number, string]>('SELECT id, external_id FROM items').raw(true).iterate()) {
    const i = itemDense[id] ?? -1;
    if (i >= 0) itemIds[i] = ext;
  }
  const byUser = { indptr, indices, values: st.values };
  return { nUsers, nItems, nnz, byUser, byItem: transposeCsr(byUser, nItems), userIds, itemIds };
}

/** Below this many ratings loadMatrixParallel reads on one thread: a worker's start costs more. */
export const PARALLEL_LOAD_MIN_RATINGS = 1_000_000;

/**
 * loadMatrix on two threads: the same matrix, read about twice as fast (SQLite decodes the
 * b-tree pages on both). This thread reads the rows with user_id ≤ mid, a worker (load-worker.ts)
 * on its own read-only connection the rest, backwards from the end of the same shared arrays.
 * Both read one snapshot: their read transactions start while a third connection holds the write
 * lock, for the few milliseconds that takes, so no commit can fall between them; a concurrent
 * writer waits that long at most (its busy timeout covers it). An in-memory database, a call
 * inside a transaction or fewer than options.minRatings ratings (default
 * PARALLEL_LOAD_MIN_RATINGS) read as loadMatrix does. Measured on 5M ratings: 1.0–1.2 s against
 * 1.24–1.56 s; the worker's start (~0.12 s) and the transpose to item rows stay serial.
 */
export async function loadMatrixParallel(db: Db, options: { readonly minRatings?: number } = {}): Promise<RatingMatrix> {
  if (db.memory || db.inTransaction) return loadMatrix(db);
  const total = db.prepare<[], number>('SELECT count(*) FROM ratings').pluck().get()!;
  if (total < (options.minRatings ?? PARALLEL_LOAD_MIN_RATINGS)) return loadMatrix(db);
  const state = withLoader(db);
  const pool = WorkerPool.start<LoadTask, LoadReply>('loading', new URL('./load-worker.js', import.meta.url), 1, () => ({
    path: db.name,
  }));
  try {
    db.prepare('BEGIN').run(); // deferred: the snapshot is fixed by the first read, under the lock below
    try {
      const size = await oneSnapshot(db, pool);
      const indices = sharedInt32(size.nnz);
      const values = sharedFloat32(size.nnz);
      const itemSeen = new Uint8Array(new SharedArrayBuffer(size.maxItem + 1));
      const mid = Math.floor(size.maxUser / 2);
      const upper = pool.all(() => ({ kind: 'scan', mid, indices, values, itemSeen }));
      upper.catch(() => {}); // awaited below, after this thread's half
      const st = scanState(size, indices, values, itemSeen);
      scanAscending(state, st, mid);
      const theirs = (await upper)[0]!;
      if (st.e + theirs.rows !== size.nnz) {
        throw new Error(`ratings changed during loadMatrix (${st.e + theirs.rows} rows scanned, ${size.nnz} counted)`);
      }
      // The upper half's users, ascending, after the lower half's; its entries already follow ours.
      const users = theirs.users!;
      for (let t = users.length - 2; t >= 0; t -= 2) {
        const id = users[t]!;
        if (st.rows + 1 >= st.indptr.length || id >= st.userDense.length) {
          throw new Error(`loadMatrix: rating for user id ${id}, which the users table does not have`);
        }
        st.indptr[st.rows] = users[t + 1]!;
        st.userDense[id] = st.rows++;
      }
      return finishMatrix(db, st);
    } finally {
      db.prepare('COMMIT').run(); // ends the read transaction
    }
  } finally {
    await pool.close();
  }
}

/**
 * Fixes this connection's snapshot (its first read, inside the read transaction the caller began)
 * and the worker's, while another connection holds the write lock: no commit can fall between
 * them, so both see the same ratings. Returns the sizes that snapshot has.
 */
async function oneSnapshot(db: Db, pool: WorkerPool<LoadTask, LoadReply>): Promise<SnapshotSize> {
  const lock = new Database(db.name, { fileMustExist: true, timeout: DEFAULT_BUSY_TIMEOUT_MS });
  try {
    lock.prepare('BEGIN IMMEDIATE').run();
    try {
      const size = snapshotSize(db);
      const theirs = (await pool.all(() => ({ kind: 'begin' })))[0]!;
      if (theirs.rows !== size.nnz) throw new Error(`loadMatrix: the two readers see ${size.nnz} and ${theirs.rows} ratings`);
      return size;
    } finally {
      lock.prepare('ROLLBACK').run();
    }
  } finally {
    lock.close();
  }
}

/**
 * Item metadata upsert (the demo data set, catalogue sync): creates missing items, and for
 * existing ones sets the fields given (`undefined` leaves a field as it is, `null` clears it).
 * One transaction; returns the number of items written.
 */
export function upsertItems(db: Db, items: readonly { id: string; title?: string | null; metadata?: unknown }[]): number {
  items.forEach((it, i) => {
    if (typeof it?.id !== 'string' || it.id.length === 0) throw invalidInput(`items[${i}].id must be a non-empty string`);
    if (it.title !== undefined && it.title !== null && typeof it.title !== 'string') {
      throw invalidInput(`items[${i}].title must be a string or null`);
    }
  });
  const stmt = db.prepare<{ id: string; title: string | null; setTitle: number; metadata: string | null; setMetadata: number }>(
    `INSERT INTO items (external_id, title, metadata) VALUES (@id, @title, @metadata)
     ON CONFLICT (external_id) DO UPDATE SET
       title    = CASE WHEN @setTitle THEN excluded.title ELSE title END,
       metadata = CASE WHEN @setMetadata THEN excluded.metadata ELSE metadata END`,
  );
  const write = db.transaction(() => {
    for (const it of items) {
      const metadata = it.metadata === undefined || it.metadata === null ? null : JSON.stringify(it.metadata);
      stmt.run({
        id: canonicalId(it.id, 'items[].id'),
        title: it.title ?? null,
        setTitle: it.title === undefined ? 0 : 1,
        metadata: metadata ?? null,
        setMetadata: it.metadata === undefined ? 0 : 1,
      });
    }
    return items.length;
  });
  return write.immediate();
}

/**
 * Display titles of the given items (ids without a title are absent from the map), with one
 * statement: the ids go in as a JSON array and json_each unpacks them, so a 1000-item answer is
 * still one query over the unique index on external_id. No cache: a title changed by a catalogue
 * sync shows up on the next request.
 */
export function itemTitles(db: Db, ids: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (ids.length === 0) return out;
  const state = connectionState(db);
  const stmt = (state.titles ??= db
    .prepare<[string], [string, string]>(
      `SELECT i.external_id, i.title
         FROM json_each(?) j JOIN items i ON i.external_id = j.value
        WHERE i.title IS NOT NULL`,
    )
    .raw(true));
  for (const [id, title] of stmt.iterate(JSON.stringify(ids))) out.set(id, title);
  return out;
}
