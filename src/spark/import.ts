/**
 * Reads a model written by Spark MLlib's `ALSModel.save(path)` and turns it into a ridgerec Model.
 * The layout, exactly as Spark writes it (org.apache.spark.ml.recommendation.ALSModel.ALSModelWriter):
 *
 *   DIR/metadata/part-00000   one JSON line: {"class":"org.apache.spark.ml.recommendation.ALSModel",
 *                             "timestamp","sparkVersion","uid","paramMap":{…},"defaultParamMap":{…},"rank":R}
 *   DIR/userFactors/part-*.parquet   snappy Parquet: id int, features array<float> (three-level LIST)
 *   DIR/itemFactors/part-*.parquet
 *   _SUCCESS and .crc files beside them (ignored; a missing _SUCCESS means the write did not finish)
 *
 * plus, from `ridgerec export` via scripts/spark/train_als.py, the id maps DIR/users.parquet and
 * DIR/items.parquet (id int, external string) and DIR/ridgerec.json (the training parameters in
 * ridgerec's terms, since an ALSModel's own paramMap keeps only its column names). Without id
 * maps the integer ids are the external ids.
 *
 * Scores: Spark predicts r̂_ui = x_u·y_i for explicit and implicit models alike (no biases, no
 * global mean). The imported model therefore has μ = 0 and zero biases (an explicit model) or none
 * (implicit), so every ridgerec score equals Spark's prediction and the top-N equals Spark's
 * recommendForUserSubset with the user's rated items removed. The rated items come from the
 * store's ratings at import time.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { invalidInput } from '../errors.js';
import type { RatingMatrix } from '../ratings/matrix.js';
import { Model } from '../model/model.js';
import type { UserItems } from '../model/model-file.js';
import { DEFAULT_PARAMS, resolveParams, type Feedback, type TrainParams } from '../training/params.js';
import { readFactorFile, readIdMap } from './parquet.js';

export const ALS_MODEL_CLASS = 'org.apache.spark.ml.recommendation.ALSModel';

/** Spark's own ALS defaults (org.apache.spark.ml.recommendation.ALSParams), used when nothing says otherwise. */
export const SPARK_ALS_DEFAULTS = { implicitPrefs: false, alpha: 1.0, regParam: 0.1, maxIter: 10 } as const;

/** What the metadata file and the sidecar say about the model. */
export interface SparkModelMetadata {
  readonly rank: number;
  readonly implicitPrefs: boolean;
  readonly alpha: number;
  readonly regParam: number;
  readonly maxIter: number;
  readonly sparkVersion: string | null;
  readonly uid: string | null;
  readonly timestamp: number | null;
  /** Where implicitPrefs/alpha/regParam/maxIter came from. */
  readonly paramsFrom: 'metadata' | 'ridgerec.json' | 'spark defaults';
}

export interface ReadSparkOptions {
  /**
   * The ratings the user's rated items are taken from (excluded from their recommendations):
   * normally the store's ratings at import time. Without it the model excludes nothing.
   */
  readonly ratings?: Pick<RatingMatrix, 'nUsers' | 'byUser' | 'userIds' | 'itemIds'>;
}

interface Factors {
  /** Spark id → row, in ascending id order */
  readonly ids: Int32Array;
  readonly values: Float32Array;
}

function rel(dir: string, path: string): string {
  return path.startsWith(dir) ? path.slice(dir.length).replace(/^\/+/, '') : path;
}

/** Reads and checks metadata/part-00000 (plus ridgerec.json when the paramMap lacks the training parameters). */
export function readSparkMetadata(dir: string): SparkModelMetadata {
  const metaDir = join(dir, 'metadata');
  const file = join(metaDir, 'part-00000');
  if (!existsSync(file)) {
    throw invalidInput(`${dir}: missing metadata/part-00000: not a model directory written by Spark's ALSModel.save`);
  }
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.trim() !== '');
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(line ?? '') as Record<string, unknown>;
  } catch (e) {
    throw invalidInput(`${file}: line 1 is not JSON (${(e as Error).message})`);
  }
  if (meta.class !== ALS_MODEL_CLASS) {
    throw invalidInput(`${file}: class is ${JSON.stringify(meta.class)}, expected "${ALS_MODEL_CLASS}"`);
  }
  const rank = meta.rank;
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 1 || rank > 1024) {
    throw invalidInput(`${file}: rank must be an integer in 1..1024, got ${JSON.stringify(rank)}`);
  }
  const params = { ...(meta.defaultParamMap as object | undefined), ...(meta.paramMap as object | undefined) } as Record<string, unknown>;
  let from: SparkModelMetadata['paramsFrom'] = 'metadata';
  let source: Record<string, unknown> = params;
  if (params.implicitPrefs === undefined && params.regParam === undefined) {
    // An ALSModel's paramMap holds only its column names; train_als.py writes the rest beside it.
    const side = join(dir, 'ridgerec.json');
    if (existsSync(side)) {
      try {
        source = JSON.parse(readFileSync(side, 'utf8')) as Record<string, unknown>;
      } catch (e) {
        throw invalidInput(`${side}: not JSON (${(e as Error).message})`);
      }
      source = (source.spark as Record<string, unknown> | undefined) ?? {};
      from = 'ridgerec.json';
    } else {
      source = {};
      from = 'spark defaults';
    }
  }
  const where = from === 'metadata' ? `${file} paramMap` : from === 'ridgerec.json' ? join(dir, 'ridgerec.json') : 'Spark defaults';
  const num = (key: 'alpha' | 'regParam' | 'maxIter'): number => {
    const v = source[key] ?? SPARK_ALS_DEFAULTS[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw invalidInput(`${where}: ${key} must be a number >= 0, got ${JSON.stringify(v)}`);
    return v;
  };
  const implicit = source.implicitPrefs ?? SPARK_ALS_DEFAULTS.implicitPrefs;
  if (typeof implicit !== 'boolean') throw invalidInput(`${where}: implicitPrefs must be true or false, got ${JSON.stringify(implicit)}`);
  return {
    rank,
    implicitPrefs: implicit,
    alpha: num('alpha'),
    regParam: num('regParam'),
    maxIter: Math.max(1, Math.round(num('maxIter'))),
    sparkVersion: typeof meta.sparkVersion === 'string' ? meta.sparkVersion : null,
    uid: typeof meta.uid === 'string' ? meta.uid : null,
    timestamp: typeof meta.timestamp === 'number' ? meta.timestamp : null,
    paramsFrom: from,
  };
}

/** The Parquet part files of a factors directory, in name order; _SUCCESS, .crc and hidden files skipped. */
function partFiles(dir: string, sub: string): string[] {
  const d = join(dir, sub);
  if (!existsSync(d) || !statSync(d).isDirectory()) throw invalidInput(`${dir}: missing ${sub}/ (the model's factors)`);
  const names = readdirSync(d);
  if (!names.includes('_SUCCESS')) {
    throw invalidInput(`${d}: no _SUCCESS file: Spark did not finish writing ${sub}/ (parts may be missing); save the model again`);
  }
  const parts = names.filter((n) => !n.startsWith('.') && !n.startsWith('_') && !n.endsWith('.crc')).sort();
  if (parts.length === 0) throw invalidInput(`${d}: no part files`);
  return parts.map((n) => join(d, n));
}

/** Reads one side's factors: every part, each row checked against the rank; sorted by id. */
async function readFactors(dir: string, sub: 'userFactors' | 'itemFactors', rank: number): Promise<Factors> {
  const files = partFiles(dir, sub);
  const chunks: { ids: Int32Array; feats: Float32Array }[] = [];
  const seen = new Map<number, string>(); // id → "file row r" of its first occurrence
  let total = 0;
  for (const path of files) {
    const name = rel(dir, path);
    const { ids, features } = await readFactorFile(path);
    const feats = new Float32Array(ids.length * rank);
    for (let r = 0; r < ids.length; r++) {
      const id = ids[r]!;
      const f = features[r];
      if (f === null || f === undefined) throw invalidInput(`${name}: row ${r} (id ${id}): features is null`);
      if (f.length !== rank) {
        throw invalidInput(
          `${name}: row ${r} (id ${id}): features has ${f.length} values but metadata/part-00000 says rank ${rank}` +
            (r === 0 && total === 0 ? ' (the rank in the metadata disagrees with the factors)' : ''),
        );
      }
      const at = `${name} row ${r}`;
      const first = seen.get(id);
      if (first !== undefined) throw invalidInput(`${name}: row ${r}: id ${id} appears twice (first at ${first})`);
      seen.set(id, at);
      for (let j = 0; j < rank; j++) {
        const v = f[j]!;
        if (!Number.isFinite(v)) throw invalidInput(`${name}: row ${r} (id ${id}): feature ${j} is ${v}`);
        feats[r * rank + j] = v;
      }
    }
    total += ids.length;
    chunks.push({ ids, feats });
  }
  // Rows in ascending Spark id: the dense order of the export.
  const ids = new Int32Array(total);
  const src = new Int32Array(total); // row within its part file
  const srcChunk = new Int32Array(total); // which part file
  let n = 0;
  chunks.forEach((c, ci) => {
    for (let r = 0; r < c.ids.length; r++, n++) {
      ids[n] = c.ids[r]!;
      src[n] = r;
      srcChunk[n] = ci;
    }
  });
  const order = Array.from({ length: total }, (_, i) => i).sort((a, b) => ids[a]! - ids[b]!);
  const outIds = new Int32Array(total);
  const values = new Float32Array(total * rank);
  order.forEach((p, row) => {
    outIds[row] = ids[p]!;
    const c = chunks[srcChunk[p]!]!;
    values.set(c.feats.subarray(src[p]! * rank, (src[p]! + 1) * rank), row * rank);
  });
  return { ids: outIds, values };
}

/** The external id of each factor row, through an id map file or (no map) the integer itself. */
async function externalIds(dir: string, mapName: 'users.parquet' | 'items.parquet', side: string, f: Factors): Promise<string[]> {
  const path = join(dir, mapName);
  const out = new Array<string>(f.ids.length);
  if (!existsSync(path)) {
    for (let r = 0; r < f.ids.length; r++) out[r] = String(f.ids[r]);
    return out;
  }
  const map = await readIdMap(path);
  const byId = new Map<number, string>();
  for (let r = 0; r < map.ids.length; r++) {
    const id = map.ids[r]!;
    const ext = map.external[r];
    if (ext === null || ext === undefined || ext === '') throw invalidInput(`${mapName}: row ${r} (id ${id}): external id is empty`);
    if (byId.has(id)) throw invalidInput(`${mapName}: row ${r}: id ${id} appears twice`);
    byId.set(id, ext);
  }
  for (let r = 0; r < f.ids.length; r++) {
    const ext = byId.get(f.ids[r]!);
    if (ext === undefined) {
      throw invalidInput(
        `${side}: id ${f.ids[r]} (row ${r} in id order) is not in ${mapName}: the model and the id maps come from different exports`,
      );
    }
    out[r] = ext;
  }
  if (byId.size !== f.ids.length) {
    const have = new Set(f.ids);
    const missing = [...byId.keys()].filter((id) => !have.has(id)).slice(0, 5);
    throw invalidInput(
      `${side}: ${byId.size - f.ids.length} of the ${byId.size} ids in ${mapName} have no factors (e.g. ${missing.join(', ')}): ` +
        'part files are missing, or the maps come from another export',
    );
  }
  return out;
}

/** Each model user's rated items (model item indices, ascending) from a rating matrix. */
export function ratedItems(
  userIds: readonly string[],
  itemIds: readonly string[],
  ratings: ReadSparkOptions['ratings'],
): UserItems & { values: Float32Array } {
  const indptr = new Int32Array(userIds.length + 1);
  if (!ratings) return { indptr, indices: new Int32Array(0), values: new Float32Array(0) };
  const itemOf = new Map<string, number>();
  itemIds.forEach((id, i) => itemOf.set(id, i));
  const storeItem = Int32Array.from(ratings.itemIds, (id) => itemOf.get(id) ?? -1);
  const storeUser = new Map<string, number>();
  ratings.userIds.forEach((id, u) => storeUser.set(id, u));
  const { indptr: sp, indices: si, values: sv } = ratings.byUser;
  const rows: { idx: Int32Array; val: Float32Array }[] = new Array(userIds.length);
  let nnz = 0;
  for (let u = 0; u < userIds.length; u++) {
    const su = storeUser.get(userIds[u]!);
    const idx: number[] = [];
    const pairs: [number, number][] = [];
    if (su !== undefined) {
      for (let e = sp[su]!; e < sp[su + 1]!; e++) {
        const i = storeItem[si[e]!]!;
        if (i >= 0) pairs.push([i, sv[e]!]);
      }
      pairs.sort((a, b) => a[0] - b[0]);
      for (const [i] of pairs) idx.push(i);
    }
    rows[u] = { idx: Int32Array.from(idx), val: Float32Array.from(pairs, (p) => p[1]) };
    nnz += idx.length;
    indptr[u + 1] = nnz;
  }
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  rows.forEach((r, u) => {
    indices.set(r.idx, indptr[u]!);
    values.set(r.val, indptr[u]!);
  });
  return { indptr, indices, values };
}

/** ridgerec's parameters for a Spark model: Spark's λ is always count-scaled (ALS-WR). */
export function paramsFromSpark(m: SparkModelMetadata): TrainParams {
  const feedback: Feedback = m.implicitPrefs ? 'implicit' : 'explicit';
  return resolveParams({
    feedback,
    factors: m.rank,
    lambda: m.regParam,
    lambdaScaling: 'count',
    alpha: m.implicitPrefs ? m.alpha : DEFAULT_PARAMS.explicit.alpha,
    iterations: m.maxIter,
    solver: 'cholesky',
  });
}

/**
 * Reads a Spark ALSModel directory into a Model (not saved). Refuses, naming the file and row, a
 * factor of the wrong length, an id twice, a rank that disagrees with the metadata, ids absent from
 * the id maps, and missing parts.
 */
export async function readSparkModel(dir: string, options: ReadSparkOptions = {}): Promise<Model> {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw invalidInput(`${dir}: no such directory`);
  const meta = readSparkMetadata(root);
  const users = await readFactors(root, 'userFactors', meta.rank);
  const items = await readFactors(root, 'itemFactors', meta.rank);
  const hasUsers = existsSync(join(root, 'users.parquet'));
  const hasItems = existsSync(join(root, 'items.parquet'));
  if (hasUsers !== hasItems) {
    throw invalidInput(
      `${dir}: ${hasUsers ? 'items.parquet' : 'users.parquet'} is missing: copy both id maps of the export beside the model`,
    );
  }
  const userIds = await externalIds(root, 'users.parquet', 'userFactors', users);
  const itemIds = await externalIds(root, 'items.parquet', 'itemFactors', items);
  const params = paramsFromSpark(meta);
  const userItems = ratedItems(userIds, itemIds, options.ratings);
  const explicit = params.feedback === 'explicit';
  return new Model({
    params,
    factors: meta.rank,
    nUsers: userIds.length,
    nItems: itemIds.length,
    // Spark has no global mean or biases: μ = 0 and b = 0 make μ + b_u + b_i + p_u·q_i = p_u·q_i.
    globalMean: 0,
    userBias: explicit ? new Float32Array(userIds.length) : null,
    itemBias: explicit ? new Float32Array(itemIds.length) : null,
    metrics: {
      source: 'spark',
      sparkDir: root,
      sparkVersion: meta.sparkVersion,
      sparkUid: meta.uid,
      sparkParamsFrom: meta.paramsFrom,
      ratings: userItems.indices.length,
    },
    history: [],
    createdAt: meta.timestamp !== null ? new Date(meta.timestamp).toISOString() : new Date().toISOString(),
    userIds,
    itemIds,
    userFactors: users.values,
    itemFactors: items.values,
    userItems,
  });
}

/**
 * A Spark-imported model (no biases) laid out in a rating matrix's index space (its users and items, in its order),
 * so the evaluation code, which looks factors up by the matrix's indices, can score it. Users or
 * items of the matrix the model does not know get zero factors (they score 0).
 */
export function modelOnMatrix(model: Model, matrix: RatingMatrix): Model {
  const k = model.factors;
  const userFactors = new Float32Array(matrix.nUsers * k);
  const itemFactors = new Float32Array(matrix.nItems * k);
  let unknownUsers = 0;
  let unknownItems = 0;
  matrix.userIds.forEach((id, u) => {
    const m = model.userIndex(id);
    if (m === undefined) unknownUsers++;
    else userFactors.set(model.userFactors.subarray(m * k, (m + 1) * k), u * k);
  });
  matrix.itemIds.forEach((id, i) => {
    const m = model.itemIndex(id);
    if (m === undefined) unknownItems++;
    else itemFactors.set(model.itemFactors.subarray(m * k, (m + 1) * k), i * k);
  });
  const explicit = model.params.feedback === 'explicit';
  return new Model({
    params: model.params,
    factors: k,
    nUsers: matrix.nUsers,
    nItems: matrix.nItems,
    globalMean: model.globalMean,
    userBias: explicit ? new Float32Array(matrix.nUsers) : null,
    itemBias: explicit ? new Float32Array(matrix.nItems) : null,
    metrics: { ...model.metrics, unknownUsers, unknownItems },
    history: model.history,
    createdAt: model.createdAt,
    userIds: matrix.userIds,
    itemIds: matrix.itemIds,
    userFactors,
    itemFactors,
    userItems: { indptr: matrix.byUser.indptr, indices: matrix.byUser.indices, values: matrix.byUser.values },
  });
}

/** What importSparkModel needs of a store: its ratings (for the rated items) and the registry. */
export interface SparkImportStore {
  ratings(): Pick<RatingMatrix, 'nUsers' | 'byUser' | 'userIds' | 'itemIds'>;
  saveModel(model: Model, options?: { activate?: boolean; metrics?: Record<string, unknown> }): number;
}

/**
 * Reads a Spark ALSModel directory (readSparkModel, with the store's ratings as each user's rated
 * items) and saves it in the store's registry, active only when `activate`. Returns the new id.
 */
export async function importSparkModel(
  store: SparkImportStore,
  dir: string,
  options: { activate?: boolean } = {},
): Promise<{ id: number; model: Model }> {
  const model = await readSparkModel(dir, { ratings: store.ratings() });
  const id = store.saveModel(model, { activate: options.activate === true });
  return { id, model };
}

/**
 * `retrain --candidate spark:DIR`: the Spark model in DIR as a candidate of the quality gate. The
 * holdout its training left out is read from DIR/export.json (the export's manifest, which
 * train_als.py copies beside the model) when the export was made with --holdout.
 */
export function sparkCandidate(dir: string): {
  readonly label: string;
  readonly holdout: { readonly fraction: number; readonly seed: number; readonly totalRatings?: number } | null;
  load(ratings: RatingMatrix): Promise<Model>;
} {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw invalidInput(`--candidate spark:${dir}: no such directory`);
  readSparkMetadata(root); // refuse a directory that is not a Spark model before any work
  let holdout: { fraction: number; seed: number; totalRatings?: number } | null = null;
  const manifest = join(root, 'export.json');
  if (existsSync(manifest)) {
    let m: { holdout?: { fraction?: unknown; seed?: unknown; totalRatings?: unknown } | null };
    try {
      m = JSON.parse(readFileSync(manifest, 'utf8')) as typeof m;
    } catch (e) {
      throw invalidInput(`${manifest}: not JSON (${(e as Error).message})`);
    }
    const h = m.holdout;
    if (h && typeof h.fraction === 'number' && typeof h.seed === 'number') {
      holdout = { fraction: h.fraction, seed: h.seed, ...(typeof h.totalRatings === 'number' ? { totalRatings: h.totalRatings } : {}) };
    }
  }
  return { label: `Spark model ${dir}`, holdout, load: (ratings) => readSparkModel(root, { ratings }) };
}
