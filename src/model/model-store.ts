/**
 * The versioned model store (migration 0002): every fitted model is saved once, with its
 * hyperparameters, metrics, factor/bias arrays, id maps and each training user's items. Exactly
 * one model is active (a partial unique index plus transactions); an activation history lets
 * `rollback` return to the previously active model. Listing reads only the small `models` rows;
 * the arrays live in `model_blobs` and are read only by loadModel.
 *
 * Typed arrays are stored as their raw bytes (Buffer views over the same memory, no per-element
 * loop) and loaded as views over the Buffer SQLite hands back (no second copy). Id maps are JSON:
 * one JSON string of the ids joined by '\n' when no id contains a newline (parsed ~3× faster than
 * an array of 140k strings on a cold start), else a JSON array; any string round-trips exactly. userItems.indices, the biggest array (one entry per
 * training rating), is stored as Uint16 when the catalog has at most 65,536 items (half the bytes
 * to read back; loaded as a Uint16Array view, not widened), else as Int32;
 * the blob's length tells which (2 or 4 bytes per entry, entries = indptr[nUsers]).
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/connection.js';
import { ModelFitError, RidgerecError, invalidInput, notFound } from '../errors.js';
import type { Csr } from '../ratings/matrix.js';
import type { Feedback, TrainParams } from '../training/params.js';
import type { FactorModel, FitResult, ModelStatus, StoredModel } from './factor-model.js';

export interface ModelSummary {
  id: number;
  createdAt: string;
  activatedAt: string | null;
  feedback: Feedback;
  status: ModelStatus;
  params: TrainParams;
  metrics: Record<string, unknown>;
  reason: string | null;
  nUsers: number;
  nItems: number;
  factors: number;
}

export interface SaveOptions {
  /** Each training user's rated items (matrix.byUser); values are not stored. */
  userItems: Pick<Csr, 'indptr' | 'indices'>;
  metrics?: Record<string, unknown>;
  /** 'ready' (default) or 'retired' (a candidate kept for the record, see `reason`). */
  status?: 'ready' | 'retired';
  reason?: string;
  /** Activate the new model in the same transaction. */
  activate?: boolean;
}

interface ModelRow {
  id: number;
  created_at: string;
  activated_at: string | null;
  feedback: Feedback;
  status: ModelStatus;
  params: string;
  metrics: string;
  reason: string | null;
  n_users: number;
  n_items: number;
  factors: number;
  global_mean: number;
}

interface BlobRow {
  user_ids: string;
  item_ids: string;
  user_factors: Buffer;
  item_factors: Buffer;
  user_bias: Buffer | null;
  item_bias: Buffer | null;
  user_items_indptr: Buffer;
  user_items_indices: Buffer;
}

const SUMMARY_COLUMNS = 'id, created_at, activated_at, feedback, status, params, metrics, reason, n_users, n_items, factors, global_mean';

/** Prepared statements cached per connection (the server polls activeModelId every 2 s). */
const statementCache = new WeakMap<Db, Map<string, Statement>>();
function stmt(db: Db, sql: string): Statement {
  let m = statementCache.get(db);
  if (!m) statementCache.set(db, (m = new Map()));
  let s = m.get(sql);
  if (!s) m.set(sql, (s = db.prepare(sql)));
  return s;
}

function bytes(a: Float32Array | Int32Array | Uint16Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** A typed-array view over a Buffer's bytes; copies only if the Buffer is not 4-byte aligned. */
function view<T extends Float32Array | Int32Array>(
  Ctor: { new (b: ArrayBufferLike, off: number, len: number): T; BYTES_PER_ELEMENT: number },
  buf: Buffer,
  what: string,
  expectLength: number,
): T {
  const len = buf.byteLength / Ctor.BYTES_PER_ELEMENT;
  if (len !== expectLength) {
    throw new RidgerecError(`stored model is corrupt: ${what} has ${len} entries, expected ${expectLength}`, {
      code: 'model_corrupt',
    });
  }
  if (buf.byteOffset % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(buf.buffer, buf.byteOffset, len);
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  return new Ctor(copy.buffer, 0, len);
}

/** Id map → JSON text: a '\n'-joined JSON string when possible, else a JSON array. */
function encodeIds(ids: readonly string[]): string {
  if (ids.length > 0 && !ids.some((id) => id.includes('\n'))) return JSON.stringify(ids.join('\n'));
  return JSON.stringify(ids);
}

function decodeIds(text: string, n: number, what: string, id: number): string[] {
  const v = JSON.parse(text) as unknown;
  const ids = typeof v === 'string' ? (n === 0 ? [] : v.split('\n')) : (v as string[]);
  if (!Array.isArray(ids) || ids.length !== n) {
    throw new RidgerecError(`stored model ${id} is corrupt: ${what} holds ${Array.isArray(ids) ? ids.length : 'no'} ids, expected ${n}`, {
      code: 'model_corrupt',
    });
  }
  return ids;
}

function checkFinite(a: Float32Array | null, what: string): void {
  if (!a) return;
  for (let j = 0; j < a.length; j++) {
    const v = a[j]!;
    if (v - v !== 0) {
      throw new ModelFitError(
        `refusing to save a model whose ${what} contain NaN/Infinity (entry ${j}); refit with a larger --lambda (or a smaller --alpha for implicit feedback) and check the input values`,
      );
    }
  }
}

function validate(model: FactorModel, userItems: Pick<Csr, 'indptr' | 'indices'>): void {
  const { nUsers, nItems, factors: k } = model;
  const bad = (msg: string) => invalidInput(`cannot save model: ${msg}`);
  if (!Number.isSafeInteger(k) || k < 1) throw bad(`factors must be an integer >= 1, got ${k}`);
  if (model.userIds.length !== nUsers) throw bad(`userIds has ${model.userIds.length} ids for ${nUsers} users`);
  if (model.itemIds.length !== nItems) throw bad(`itemIds has ${model.itemIds.length} ids for ${nItems} items`);
  if (model.userFactors.length !== nUsers * k) throw bad(`userFactors has ${model.userFactors.length} entries, expected ${nUsers}×${k}`);
  if (model.itemFactors.length !== nItems * k) throw bad(`itemFactors has ${model.itemFactors.length} entries, expected ${nItems}×${k}`);
  if (model.params.feedback === 'explicit' && (!model.userBias || !model.itemBias)) {
    throw bad('an explicit model needs userBias and itemBias');
  }
  if (model.userBias && model.userBias.length !== nUsers) throw bad(`userBias has ${model.userBias.length} entries for ${nUsers} users`);
  if (model.itemBias && model.itemBias.length !== nItems) throw bad(`itemBias has ${model.itemBias.length} entries for ${nItems} items`);
  if (userItems.indptr.length !== nUsers + 1) throw bad(`userItems.indptr has ${userItems.indptr.length} entries, expected ${nUsers + 1}`);
  if (userItems.indptr[nUsers] !== userItems.indices.length) throw bad('userItems.indptr does not end at indices.length');
  const ix = userItems.indices;
  for (let e = 0; e < ix.length; e++) {
    const i = ix[e]!;
    if (!(i >= 0 && i < nItems)) throw bad(`userItems.indices[${e}] = ${i} is outside 0..${nItems - 1}`);
  }
  if (!Number.isFinite(model.globalMean))
    throw new ModelFitError('refusing to save a model whose global mean is not finite; check the input values');
  checkFinite(model.userFactors, 'user factors');
  checkFinite(model.itemFactors, 'item factors');
  checkFinite(model.userBias, 'user biases');
  checkFinite(model.itemBias, 'item biases');
}

/**
 * Saves a model in one transaction (the `models` row and its blobs, or nothing) and returns its
 * id. status 'ready' by default; activate: true activates it in the same transaction.
 */
export function saveModel(db: Db, model: FitResult | FactorModel, options: SaveOptions): number {
  validate(model, options.userItems);
  const status = options.status ?? 'ready';
  if (status !== 'ready' && status !== 'retired')
    throw invalidInput(`cannot save model: status must be ready or retired, got ${String(status)}`);
  if (status === 'retired' && options.activate) throw invalidInput('cannot save model: a retired model cannot be activated on save');
  // Strip anything that is not a TrainParams field (a FitResult's params is already one).
  const p = model.params;
  const params: TrainParams = {
    feedback: p.feedback,
    factors: p.factors,
    lambda: p.lambda,
    lambdaScaling: p.lambdaScaling,
    alpha: p.alpha,
    iterations: p.iterations,
    solver: p.solver,
    cgSteps: p.cgSteps,
    threads: p.threads,
    seed: p.seed,
  };
  const run = db.transaction((): number => {
    const info = stmt(
      db,
      `INSERT INTO models (feedback, status, params, metrics, reason, n_users, n_items, factors, global_mean)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      params.feedback,
      status,
      JSON.stringify(params),
      JSON.stringify(options.metrics ?? {}),
      options.reason ?? null,
      model.nUsers,
      model.nItems,
      model.factors,
      model.globalMean,
    );
    const id = Number(info.lastInsertRowid);
    stmt(
      db,
      `INSERT INTO model_blobs (model_id, user_ids, item_ids, user_factors, item_factors, user_bias, item_bias,
         user_items_indptr, user_items_indices) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      id,
      encodeIds(model.userIds),
      encodeIds(model.itemIds),
      bytes(model.userFactors),
      bytes(model.itemFactors),
      model.userBias ? bytes(model.userBias) : null,
      model.itemBias ? bytes(model.itemBias) : null,
      bytes(options.userItems.indptr),
      bytes(model.nItems <= 0x10000 ? new Uint16Array(options.userItems.indices) : options.userItems.indices),
    );
    if (options.activate) activateInTx(db, id, 'activate');
    return id;
  });
  return run.immediate();
}

function activateInTx(db: Db, id: number, kind: 'activate' | 'rollback'): void {
  stmt(db, `UPDATE models SET status = 'ready' WHERE status = 'active'`).run();
  stmt(db, `UPDATE models SET status = 'active', activated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?`).run(id);
  stmt(db, 'INSERT INTO model_activations (model_id, kind) VALUES (?, ?)').run(id, kind);
}

function modelNotFound(id: number): RidgerecError {
  return notFound(`model ${id} does not exist; \`ridgerec models list\` shows the saved models`, 'model_not_found', { id });
}

/**
 * Makes `id` the active model; the previously active one goes back to 'ready'. notFound for an
 * unknown id; a retired model can be activated explicitly. Activating the active model is a no-op.
 */
export function activateModel(db: Db, id: number): void {
  db.transaction(() => {
    const row = stmt(db, 'SELECT status FROM models WHERE id = ?').get(id) as { status: ModelStatus } | undefined;
    if (!row) throw modelNotFound(id);
    if (row.status === 'active') return;
    activateInTx(db, id, 'activate');
  }).immediate();
}

/** The activation stack: replay the history, 'activate' pushes, 'rollback' pops. */
function activationStack(db: Db): number[] {
  const rows = stmt(db, 'SELECT model_id, kind FROM model_activations ORDER BY id').all() as {
    model_id: number;
    kind: 'activate' | 'rollback';
  }[];
  const stack: number[] = [];
  for (const r of rows) {
    if (r.kind === 'activate') stack.push(r.model_id);
    else {
      stack.pop();
      if (stack.at(-1) !== r.model_id) stack.push(r.model_id); // history edited by hand: trust the row
    }
  }
  return stack;
}

/**
 * Re-activates the previously active model (the one activated before the current one, by the
 * activation history; repeated rollbacks keep walking back). Returns its id. Errors when there is
 * nothing to roll back to.
 */
export function rollbackModel(db: Db): number {
  return db
    .transaction((): number => {
      const stack = activationStack(db);
      const target = stack.at(-2);
      if (target === undefined) {
        throw new RidgerecError('no previously active model to roll back to', {
          code: 'no_previous_model',
          status: 409,
          exitCode: 2,
        });
      }
      activateInTx(db, target, 'rollback');
      return target;
    })
    .immediate();
}

/** The active model's id, or null. One indexed lookup: cheap enough to poll. */
export function activeModelId(db: Db): number | null {
  const row = stmt(db, `SELECT id FROM models WHERE status = 'active'`).get() as { id: number } | undefined;
  return row ? row.id : null;
}

/** How many models are saved (any status). */
export function countModels(db: Db): number {
  return (stmt(db, 'SELECT count(*) AS n FROM models').get() as { n: number }).n;
}

function summaryOf(r: ModelRow): ModelSummary {
  return {
    id: r.id,
    createdAt: r.created_at,
    activatedAt: r.activated_at,
    feedback: r.feedback,
    status: r.status,
    params: JSON.parse(r.params) as TrainParams,
    metrics: JSON.parse(r.metrics) as Record<string, unknown>,
    reason: r.reason,
    nUsers: r.n_users,
    nItems: r.n_items,
    factors: r.factors,
  };
}

/** Every saved model, oldest first, without the arrays. */
export function listModels(db: Db): ModelSummary[] {
  return (stmt(db, `SELECT ${SUMMARY_COLUMNS} FROM models ORDER BY id`).all() as ModelRow[]).map(summaryOf);
}

export function getModelSummary(db: Db, id: number): ModelSummary {
  const row = stmt(db, `SELECT ${SUMMARY_COLUMNS} FROM models WHERE id = ?`).get(id) as ModelRow | undefined;
  if (!row) throw modelNotFound(id);
  return summaryOf(row);
}

/**
 * Memory-mapped I/O while loadModel reads the blobs: SQLite then copies blob pages straight from
 * the mapping instead of a read() per 4 KB overflow page (measured: about a quarter off the load
 * of a 140k-user model). Capped by SQLite's compile-time SQLITE_MAX_MMAP_SIZE; restored after.
 */
const LOAD_MMAP_BYTES = 2 ** 31 - 1;

/** Loads a model with its arrays; notFound if absent. */
export function loadModel(db: Db, id: number): StoredModel {
  const prevMmap = db.memory || db.inTransaction ? null : Number(db.pragma('mmap_size', { simple: true }));
  if (prevMmap !== null && prevMmap < LOAD_MMAP_BYTES) db.pragma(`mmap_size = ${LOAD_MMAP_BYTES}`);
  try {
    return readModel(db, id);
  } finally {
    if (prevMmap !== null && prevMmap < LOAD_MMAP_BYTES) db.pragma(`mmap_size = ${prevMmap}`);
  }
}

function readModel(db: Db, id: number): StoredModel {
  // One read transaction, so the row and its blobs are a consistent snapshot.
  return db.transaction((): StoredModel => {
    const row = stmt(db, `SELECT ${SUMMARY_COLUMNS} FROM models WHERE id = ?`).get(id) as ModelRow | undefined;
    if (!row) throw modelNotFound(id);
    const b = stmt(db, 'SELECT * FROM model_blobs WHERE model_id = ?').get(id) as BlobRow | undefined;
    if (!b) throw new RidgerecError(`stored model ${id} has no arrays (model_blobs row missing)`, { code: 'model_corrupt' });
    const { n_users: nUsers, n_items: nItems, factors: k } = row;
    const userIds = decodeIds(b.user_ids, nUsers, 'user_ids', id);
    const itemIds = decodeIds(b.item_ids, nItems, 'item_ids', id);
    const indptr = view(Int32Array, b.user_items_indptr, 'userItems.indptr', nUsers + 1);
    return {
      id: row.id,
      createdAt: row.created_at,
      activatedAt: row.activated_at,
      status: row.status,
      metrics: JSON.parse(row.metrics) as Record<string, unknown>,
      params: JSON.parse(row.params) as TrainParams,
      factors: k,
      nUsers,
      nItems,
      userIds,
      itemIds,
      userFactors: view(Float32Array, b.user_factors, 'userFactors', nUsers * k),
      itemFactors: view(Float32Array, b.item_factors, 'itemFactors', nItems * k),
      userBias: b.user_bias ? view(Float32Array, b.user_bias, 'userBias', nUsers) : null,
      itemBias: b.item_bias ? view(Float32Array, b.item_bias, 'itemBias', nItems) : null,
      globalMean: row.global_mean,
      userItems: { indptr, indices: userItemIndices(b.user_items_indices, indptr[nUsers] ?? 0) },
    };
  })();
}

/**
 * userItems.indices from its blob: Uint16 (2 bytes an entry, catalogs of at most 65,536 items) is
 * returned as a Uint16Array view without widening — a 20M-entry copy to Int32 cost ~45 ms of every
 * load — or Int32 (4 bytes an entry).
 */
function userItemIndices(buf: Buffer, nnz: number): Int32Array | Uint16Array {
  if (nnz > 0 && buf.byteLength === nnz * 2) {
    return buf.byteOffset % 2 === 0
      ? new Uint16Array(buf.buffer, buf.byteOffset, nnz)
      : new Uint16Array(Uint8Array.from(buf).buffer, 0, nnz);
  }
  return view(Int32Array, buf, 'userItems.indices', nnz);
}

/** The active model with its arrays, or null when none is active. */
export function loadActiveModel(db: Db): StoredModel | null {
  const id = activeModelId(db);
  return id === null ? null : loadModel(db, id);
}

/**
 * Merges `metrics` into the model's stored metrics (keys given here win; others are kept).
 * notFound for an unknown id.
 */
export function updateModelMetrics(db: Db, id: number, metrics: Record<string, unknown>): void {
  db.transaction(() => {
    const row = stmt(db, 'SELECT metrics FROM models WHERE id = ?').get(id) as { metrics: string } | undefined;
    if (!row) throw modelNotFound(id);
    const merged = { ...(JSON.parse(row.metrics) as Record<string, unknown>), ...metrics };
    stmt(db, 'UPDATE models SET metrics = ? WHERE id = ?').run(JSON.stringify(merged), id);
  }).immediate();
}
