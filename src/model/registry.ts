/**
 * The model registry (migrations 0002 and 0004): every saved model is one `models` row (what a
 * listing needs: status, params, metrics, sizes) and one portable model file in `model_files`
 * (src/model/model-file.ts), the same bytes Model.save writes. Exactly one model is active (a
 * partial unique index plus transactions); an activation history lets `rollback` return to the
 * previously active model. Listing reads only the small rows; loadModel reads the file and
 * Model.load takes views over it without copying. Every file carries the SHA-256 of its bytes
 * (migration 0006), checked whenever it is read back: a flipped byte is a refusal, never garbage.
 */
import { createHash } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { withMmap, type Db } from '../db/connection.js';
import { Conflict, ModelFitError, RidgerecError, invalidInput, notFound } from '../errors.js';
import type { Feedback, TrainParams } from '../training/params.js';
import { Model, type ModelInfo } from './model.js';

export type ModelStatus = 'ready' | 'active' | 'retired';

/**
 * A saved model's metadata: the model's own info (without the iteration history) plus where it
 * stands in the registry. The one shape for listings, the CLI's JSON and GET /v1/model.
 */
export interface ModelRecord extends Omit<ModelInfo, 'history' | 'ratings'> {
  readonly id: number;
  readonly activatedAt: string | null;
  readonly status: ModelStatus;
  /** Why a candidate was retired or activated (the retrain gate's verdict), else null. */
  readonly reason: string | null;
}

/** A model loaded from the registry with its record. */
export interface LoadedModel {
  readonly record: ModelRecord;
  readonly model: Model;
}

export interface SaveOptions {
  /** Metrics merged over the model's own (keys given here win); the saved file carries the merge. */
  readonly metrics?: Readonly<Record<string, unknown>>;
  /** 'ready' (default) or 'retired' (a candidate kept for the record, see `reason`). */
  readonly status?: 'ready' | 'retired';
  readonly reason?: string;
  /** Activate the new model in the same transaction. */
  readonly activate?: boolean;
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
}

const RECORD_COLUMNS = 'id, created_at, activated_at, feedback, status, params, metrics, reason, n_users, n_items, factors';

/** Prepared statements cached per connection (the server polls activeModelId every 2 s). */
const statementCache = new WeakMap<Db, Map<string, Statement>>();
function stmt(db: Db, sql: string): Statement {
  let m = statementCache.get(db);
  if (!m) statementCache.set(db, (m = new Map()));
  let s = m.get(sql);
  if (!s) m.set(sql, (s = db.prepare(sql)));
  return s;
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

/** What the registry refuses to store beyond what the Model constructor already checks. */
function validate(model: Model): void {
  const ix = model.userItems.indices;
  const nItems = model.nItems;
  for (let e = 0; e < ix.length; e++) {
    const i = ix[e]!;
    if (!(i >= 0 && i < nItems)) throw invalidInput(`cannot save model: userItems.indices[${e}] = ${i} is outside 0..${nItems - 1}`);
  }
  checkFinite(model.userFactors, 'user factors');
  checkFinite(model.itemFactors, 'item factors');
  checkFinite(model.userBias, 'user biases');
  checkFinite(model.itemBias, 'item biases');
}

/**
 * Saves a model in one transaction (the `models` row and its file, or nothing) and returns its id.
 * status 'ready' by default; activate: true activates it in the same transaction.
 */
export function saveModel(db: Db, model: Model, options: SaveOptions = {}): number {
  const status = options.status ?? 'ready';
  if (status !== 'ready' && status !== 'retired')
    throw invalidInput(`cannot save model: status must be ready or retired, got ${String(status)}`);
  if (status === 'retired' && options.activate) throw invalidInput('cannot save model: a retired model cannot be activated on save');
  const saved = options.metrics === undefined ? model : model.withMetrics({ ...model.metrics, ...options.metrics });
  validate(saved);
  const file = saved.toBuffer();
  const run = db.transaction((): number => {
    const info = stmt(
      db,
      `INSERT INTO models (created_at, feedback, status, params, metrics, reason, n_users, n_items, factors, global_mean, file_sha256)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      saved.createdAt,
      saved.params.feedback,
      status,
      JSON.stringify(saved.params),
      JSON.stringify(saved.metrics),
      options.reason ?? null,
      saved.nUsers,
      saved.nItems,
      saved.factors,
      saved.globalMean,
      sha256(file),
    );
    const id = Number(info.lastInsertRowid);
    stmt(db, 'INSERT INTO model_files (model_id, bytes) VALUES (?, ?)').run(id, file);
    if (options.activate) activateInTx(db, id, 'activate');
    return id;
  });
  return run.immediate();
}

/**
 * Stores a model file as it is (after checking that it loads) and returns the new model's id: the
 * stored bytes, and so `models export` of it, are identical to `bytes`.
 */
export function importModelFile(db: Db, bytes: Uint8Array, options: Omit<SaveOptions, 'metrics'> = {}): number {
  const model = Model.load(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return saveModel(db, model, options);
}

/** SHA-256 of a model file's bytes, as 64 lowercase hex digits (the models.file_sha256 column). */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The refusal for a model file whose bytes no longer hash to the stored checksum. */
export function modelCorrupt(id: number): RidgerecError {
  return new RidgerecError(`stored model ${id} is corrupt (checksum mismatch)`, { code: 'model_corrupt', details: { id } });
}

/** A model's file and its recorded checksum (one read transaction when the caller holds one). */
function readModelFile(db: Db, id: number): { bytes: Buffer; sha256: string | null } | undefined {
  const sum = stmt(db, 'SELECT file_sha256 FROM models WHERE id = ?').get(id) as { file_sha256: string | null } | undefined;
  const row = stmt(db, 'SELECT bytes FROM model_files WHERE model_id = ?').get(id) as { bytes: Buffer } | undefined;
  return row === undefined ? undefined : { bytes: row.bytes, sha256: sum?.file_sha256 ?? null };
}

/**
 * The model file of a saved model, exactly as stored, after checking it against its SHA-256
 * (model_corrupt on a mismatch). A file stored before migration 0006 whose checksum has not been
 * computed yet (NULL until backfillModelChecksums runs) is returned unchecked.
 */
export function exportModelFile(db: Db, id: number): Buffer {
  const file = db.transaction(() => readModelFile(db, id))();
  if (file) {
    if (file.sha256 !== null && sha256(file.bytes) !== file.sha256) throw modelCorrupt(id);
    return file.bytes;
  }
  getModel(db, id); // notFound for an unknown id
  throw new RidgerecError(`stored model ${id} has no model file (model_files row missing)`, { code: 'model_corrupt' });
}

/**
 * Computes the checksum of every model file stored before migration 0006 (file_sha256 NULL), one
 * transaction per model; returns how many it filled in. The store runs it at every open: with
 * nothing to do it reads only the small `models` rows.
 */
export function backfillModelChecksums(db: Db): number {
  const ids = (db.prepare('SELECT id FROM models WHERE file_sha256 IS NULL ORDER BY id').all() as { id: number }[]).map((r) => r.id);
  let filled = 0;
  for (const id of ids) {
    db.transaction(() => {
      const row = db.prepare('SELECT bytes FROM model_files WHERE model_id = ?').get(id) as { bytes: Buffer } | undefined;
      if (!row) return; // no file (yet): a legacy model converts first, or doctor reports it
      db.prepare('UPDATE models SET file_sha256 = ? WHERE id = ? AND file_sha256 IS NULL').run(sha256(row.bytes), id);
      filled++;
    }).immediate();
  }
  return filled;
}

/** One model file's verdict from verifyModelFiles. */
export interface ModelFileCheck {
  readonly id: number;
  readonly ok: boolean;
  /** "ok (…)", or what is wrong, e.g. "stored model 3 is corrupt (checksum mismatch)". */
  readonly message: string;
}

/**
 * Checks every saved model's file against its checksum (one file in memory at a time), oldest
 * first: a model without a file, a file without a checksum and a mismatch are problems.
 */
export function verifyModelFiles(db: Db): ModelFileCheck[] {
  const ids = (stmt(db, 'SELECT id FROM models ORDER BY id').all() as { id: number }[]).map((r) => r.id);
  return ids.map((id): ModelFileCheck => {
    const file = db.transaction(() => readModelFile(db, id))();
    if (!file) return { id, ok: false, message: `stored model ${id} has no model file (model_files row missing)` };
    if (file.sha256 === null)
      return { id, ok: false, message: `stored model ${id} has no checksum yet (any ridgerec command computes it)` };
    if (sha256(file.bytes) !== file.sha256) return { id, ok: false, message: modelCorrupt(id).message };
    return { id, ok: true, message: `checksum ok (sha256 ${file.sha256.slice(0, 12)}…, ${file.bytes.byteLength} bytes)` };
  });
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
        throw new Conflict('no previously active model to roll back to', { code: 'no_previous_model' });
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

function recordOf(r: ModelRow): ModelRecord {
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
export function listModels(db: Db): ModelRecord[] {
  return (stmt(db, `SELECT ${RECORD_COLUMNS} FROM models ORDER BY id`).all() as ModelRow[]).map(recordOf);
}

/** One saved model's record; notFound for an unknown id. */
export function getModel(db: Db, id: number): ModelRecord {
  const row = stmt(db, `SELECT ${RECORD_COLUMNS} FROM models WHERE id = ?`).get(id) as ModelRow | undefined;
  if (!row) throw modelNotFound(id);
  return recordOf(row);
}

/** Loads a saved model with its record; notFound if absent. */
export function loadModel(db: Db, id: number): LoadedModel {
  // One read transaction, so the row and its file are a consistent snapshot.
  const { record, bytes } = withMmap(db, () => db.transaction(() => ({ record: getModel(db, id), bytes: exportModelFile(db, id) }))());
  let model: Model;
  try {
    model = Model.load(bytes);
  } catch (e) {
    throw new RidgerecError(`stored model ${id} is corrupt: ${(e as Error).message}`, { code: 'model_corrupt', cause: e });
  }
  return { record, model };
}

/** The active model with its record, or null when none is active. */
export function loadActiveModel(db: Db): LoadedModel | null {
  const id = activeModelId(db);
  return id === null ? null : loadModel(db, id);
}

/**
 * Merges `metrics` into the model's stored record (keys given here win; others are kept); the
 * model file keeps the metrics it was saved with. notFound for an unknown id.
 */
export function updateModelMetrics(db: Db, id: number, metrics: Record<string, unknown>): void {
  db.transaction(() => {
    const row = stmt(db, 'SELECT metrics FROM models WHERE id = ?').get(id) as { metrics: string } | undefined;
    if (!row) throw modelNotFound(id);
    const merged = { ...(JSON.parse(row.metrics) as Record<string, unknown>), ...metrics };
    stmt(db, 'UPDATE models SET metrics = ? WHERE id = ?').run(JSON.stringify(merged), id);
  }).immediate();
}

// ---- models saved before model_files (migration 0004) ------------------------------------------

interface LegacyBlobRow {
  model_id: number;
  user_ids: string;
  item_ids: string;
  user_factors: Buffer;
  item_factors: Buffer;
  user_bias: Buffer | null;
  item_bias: Buffer | null;
  user_items_indptr: Buffer;
  user_items_indices: Buffer;
}

function legacyArray<T extends Float32Array | Int32Array | Uint16Array>(
  Ctor: { new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number },
  buf: Buffer,
): T {
  return new Ctor(Uint8Array.from(buf).buffer);
}

function legacyIds(text: string, n: number): string[] {
  const v = JSON.parse(text) as unknown;
  return typeof v === 'string' ? (n === 0 ? [] : v.split('\n')) : (v as string[]);
}

/**
 * Converts models whose arrays are still in model_blobs (the layout before migration 0004: raw
 * typed-array bytes per column, id maps as JSON) into model files, one transaction per model, and
 * empties their model_blobs rows. Returns how many it converted.
 */
export function upgradeLegacyModels(db: Db): number {
  const ids = (db.prepare('SELECT model_id FROM model_blobs ORDER BY model_id').all() as { model_id: number }[]).map((r) => r.model_id);
  for (const id of ids) {
    db.transaction(() => {
      const b = db.prepare('SELECT * FROM model_blobs WHERE model_id = ?').get(id) as LegacyBlobRow;
      const r = db.prepare(`SELECT ${RECORD_COLUMNS}, global_mean FROM models WHERE id = ?`).get(id) as ModelRow & { global_mean: number };
      const nnzBytes = b.user_items_indices.byteLength;
      const indptr = legacyArray(Int32Array, b.user_items_indptr);
      const nnz = indptr[r.n_users] ?? 0;
      const model = new Model({
        params: JSON.parse(r.params) as TrainParams,
        factors: r.factors,
        nUsers: r.n_users,
        nItems: r.n_items,
        globalMean: r.global_mean,
        metrics: JSON.parse(r.metrics) as Record<string, unknown>,
        history: [],
        createdAt: r.created_at,
        userIds: legacyIds(b.user_ids, r.n_users),
        itemIds: legacyIds(b.item_ids, r.n_items),
        userFactors: legacyArray(Float32Array, b.user_factors),
        itemFactors: legacyArray(Float32Array, b.item_factors),
        userBias: b.user_bias ? legacyArray(Float32Array, b.user_bias) : null,
        itemBias: b.item_bias ? legacyArray(Float32Array, b.item_bias) : null,
        userItems: {
          indptr,
          indices:
            nnz > 0 && nnzBytes === nnz * 2
              ? legacyArray(Uint16Array, b.user_items_indices)
              : legacyArray(Int32Array, b.user_items_indices),
        },
      });
      const file = model.toBuffer();
      db.prepare('INSERT OR REPLACE INTO model_files (model_id, bytes) VALUES (?, ?)').run(id, file);
      db.prepare('UPDATE models SET file_sha256 = ? WHERE id = ?').run(sha256(file), id);
      db.prepare('DELETE FROM model_blobs WHERE model_id = ?').run(id);
    }).immediate();
  }
  return ids.length;
}
