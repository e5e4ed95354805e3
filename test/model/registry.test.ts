import { exitCode } from '../../src/cli/common.js';
import { httpStatus } from '../../src/http/errors.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/db/connection.js';
import { ModelFitError, RidgerecError } from '../../src/errors.js';
import { FORMAT_VERSION, readModelFileHeader } from '../../src/model/model-file.js';
import { Model, type ModelData } from '../../src/model/model.js';
import {
  activateModel,
  activeModelId,
  countModels,
  exportModelFile,
  getModel,
  importModelFile,
  listModels,
  loadActiveModel,
  loadModel,
  rollbackModel,
  saveModel,
  updateModelMetrics,
  upgradeLegacyModels,
} from '../../src/model/registry.js';
import { sharedInt32 } from '../../src/ratings/matrix.js';
import { DEFAULT_PARAMS, type Feedback } from '../../src/training/params.js';
import { mulberry32 } from '../../src/training/random.js';
import { tempDir, type TempDir } from '../helpers/temp.js';

// Ids that would break naive encodings: separators, quotes, newlines, NUL, non-BMP, non-ASCII, empty, blank.
const NASTY = ['plain', 'comma,tab\tsemi;', 'new\nline', 'quote"\'back\\slash', 'nul\u0000byte', '🎬 émoji', 'ünï', '', ' '];

const CREATED = '2024-05-06T07:08:09.123Z';

/** The arrays and metadata of a seeded random model (userItems on SharedArrayBuffers, like the matrix). */
function randomData(seed: number, feedback: Feedback, nUsers = 7, nItems = 9, k = 3): ModelData {
  const rand = mulberry32(seed);
  const f32 = (n: number) => Float32Array.from({ length: n }, () => rand() * 2 - 1);
  // userItems: user u rated items u % nItems and (u + 2) % nItems (ascending).
  const indptr = sharedInt32(nUsers + 1);
  const idx: number[] = [];
  for (let u = 0; u < nUsers && nItems > 0; u++) {
    const a = u % nItems;
    const b = (u + 2) % nItems;
    idx.push(...(a === b ? [a] : [Math.min(a, b), Math.max(a, b)]));
    indptr[u + 1] = idx.length;
  }
  const indices = sharedInt32(idx.length);
  indices.set(idx);
  return {
    params: { ...DEFAULT_PARAMS[feedback], factors: k, seed },
    factors: k,
    nUsers,
    nItems,
    globalMean: feedback === 'explicit' ? 3.5 : 0,
    metrics: {},
    history: [],
    createdAt: CREATED,
    userIds: Array.from({ length: nUsers }, (_, u) => `${NASTY[u % NASTY.length]}#u${u}`),
    itemIds: Array.from({ length: nItems }, (_, i) => (i < NASTY.length ? NASTY[i]! : `item${i}`)),
    userFactors: f32(nUsers * k),
    itemFactors: f32(nItems * k),
    userBias: feedback === 'explicit' ? f32(nUsers) : null,
    itemBias: feedback === 'explicit' ? f32(nItems) : null,
    userItems: { indptr, indices },
  };
}

const randomModel = (seed: number, feedback: Feedback, nUsers?: number, nItems?: number, k?: number): Model =>
  new Model(randomData(seed, feedback, nUsers, nItems, k));

const bytesOf = (a: Float32Array | Int32Array | Uint16Array | null) => (a ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : null);

/** Every array and id of `back` equals `want`'s exactly (floats bit for bit). */
function expectSameArrays(back: Model, want: ModelData): void {
  expect(back.userIds).toEqual(want.userIds);
  expect(back.itemIds).toEqual(want.itemIds);
  expect([back.nUsers, back.nItems, back.factors, back.globalMean]).toEqual([want.nUsers, want.nItems, want.factors, want.globalMean]);
  expect(bytesOf(back.userFactors)!.equals(bytesOf(want.userFactors)!)).toBe(true);
  expect(bytesOf(back.itemFactors)!.equals(bytesOf(want.itemFactors)!)).toBe(true);
  expect(bytesOf(back.userBias)?.equals(bytesOf(want.userBias)!) ?? null).toBe(want.userBias ? true : null);
  expect(bytesOf(back.itemBias)?.equals(bytesOf(want.itemBias)!) ?? null).toBe(want.itemBias ? true : null);
  expect(Array.from(back.userItems.indptr)).toEqual(Array.from(want.userItems.indptr));
  expect(Array.from(back.userItems.indices)).toEqual(Array.from(want.userItems.indices));
}

function caught(f: () => unknown): RidgerecError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RidgerecError);
    return e as RidgerecError;
  }
  throw new Error('expected a failure');
}

const count = (db: Db, table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

let tmp: TempDir;
let db: Db;
const others: Db[] = [];
beforeEach(() => {
  tmp = tempDir('ridgerec-models-');
  db = openDatabase(join(tmp.dir, 'm.db'));
});
afterEach(() => {
  for (const o of others.splice(0)) o.close();
  db.close();
  tmp.cleanup();
});

/** Another (migrated) database file in the same temp dir, closed after the test. */
function otherDb(name: string): Db {
  const o = openDatabase(join(tmp.dir, name));
  others.push(o);
  return o;
}

describe('model registry', () => {
  it.each(['explicit', 'implicit'] as const)('round-trips a %s model byte for byte, ids exactly', (feedback) => {
    const data = randomData(1, feedback);
    const id = saveModel(db, new Model(data), { metrics: { rmse: 0.9, note: 'x' } });
    const { record, model: back } = loadModel(db, id);
    expect(record.id).toBe(id);
    expect(record.status).toBe('ready');
    expect(record.activatedAt).toBeNull();
    expect(record.createdAt).toBe(CREATED);
    expect(record.metrics).toEqual({ rmse: 0.9, note: 'x' });
    expect(record.params).toEqual(data.params);
    expect(record.feedback).toBe(feedback);
    expect([record.nUsers, record.nItems, record.factors]).toEqual([7, 9, 3]);
    expect(back.metrics).toEqual({ rmse: 0.9, note: 'x' });
    expect(back.params).toEqual(data.params);
    expect(back.createdAt).toBe(CREATED);
    expectSameArrays(back, data);
    expect(back.userFactors).toBeInstanceOf(Float32Array);
    // a small catalog loads as a Uint16Array view over the stored file (no widening copy)
    expect(back.userItems.indices).toBeInstanceOf(Uint16Array);
    expect(back.userItems.indices.buffer).toBe(back.toBuffer().buffer);
    expect(back.userFactors.buffer).toBe(back.toBuffer().buffer);
    // the loaded model scores like the saved one
    const original = new Model(data);
    for (const user of data.userIds) expect(back.recommend(user, { limit: 4 })).toEqual(original.recommend(user, { limit: 4 }));
  });

  it('stores whole ratings in 0..255 as uint8 (format version 2) and any other ratings as float32 (version 1), reading back the same values', () => {
    const data = randomData(8, 'explicit');
    const nnz = data.userItems.indices.length;
    const stars = Float32Array.from({ length: nnz }, (_, e) => 1 + (e % 5));
    const odd = Float32Array.from(stars, (v, e) => (e === nnz - 1 ? 2.5 : v));
    const big = Float32Array.from(stars, (v, e) => (e === 0 ? 256 : v));
    const sizes: number[] = [];
    for (const [values, version] of [
      [stars, 2],
      [odd, 1],
      [big, 1],
    ] as const) {
      const file = new Model({ ...data, userItems: { ...data.userItems, values } }).toBuffer();
      const header = readModelFileHeader(file);
      expect([header.version, file.readUInt32LE(8)]).toEqual([version, version]);
      expect(header.arrays.userItemsValues!.dtype).toBe(version === 2 ? 'uint8' : 'float32');
      const back = Model.load(file);
      expect(back.userItems.values).toBeInstanceOf(Float32Array);
      expect(Array.from(back.userItems.values!)).toEqual(Array.from(values));
      sizes.push(file.length);
    }
    expect(sizes[0]).toBeLessThan(sizes[1]!);
  });

  it("loadModel leaves the connection's mmap_size as it found it, also inside a transaction", () => {
    const data = randomData(5, 'explicit');
    const id = saveModel(db, new Model(data));
    const before = db.pragma('mmap_size', { simple: true });
    expect(loadModel(db, id).model.nUsers).toBe(7);
    expect(db.pragma('mmap_size', { simple: true })).toBe(before);
    const inTx = db.transaction(() => loadModel(db, id))();
    expect(bytesOf(inTx.model.itemFactors)!.equals(bytesOf(data.itemFactors)!)).toBe(true);
    expect(db.pragma('mmap_size', { simple: true })).toBe(before);
  });

  it('round-trips id lists exactly, with and without newlines, empty and non-ASCII ids', () => {
    for (const itemIds of [
      ['a', '', 'b c', '"q"', '[x]', '\\'],
      ['', 'line\nbreak', 'x'],
      ['ä', '日本', '🎬', ''],
    ]) {
      const base = randomData(6, 'implicit', 1, itemIds.length, 1);
      const data: ModelData = {
        ...base,
        userIds: [''],
        itemIds,
        userItems: { indptr: Int32Array.from([0, 0]), indices: new Int32Array(0) },
      };
      const id = saveModel(db, new Model(data));
      const { model: back } = loadModel(db, id);
      expect(back.itemIds).toEqual(itemIds);
      expect(back.userIds).toEqual(['']);
      expect(back.itemIndex(itemIds[1]!)).toBe(1);
    }
  });

  it('saves and loads an empty model (no users, no items)', () => {
    const id = saveModel(db, randomModel(2, 'implicit', 0, 0, 2));
    const { record, model: back } = loadModel(db, id);
    expect([record.nUsers, record.nItems, record.factors]).toEqual([0, 0, 2]);
    expect([back.nUsers, back.nItems, back.userFactors.length, back.userItems.indptr.length, back.userItems.indices.length]).toEqual([
      0, 0, 0, 1, 0,
    ]);
  });

  it('lists records without the arrays or the history; the loaded model keeps its history', () => {
    const data = randomData(3, 'explicit');
    const history = [{ iteration: 1, loss: 1, dataLoss: 1, penalty: 0, seconds: 0 }];
    const id = saveModel(db, new Model({ ...data, history }), { status: 'retired', reason: 'worse rmse' });
    const [s] = listModels(db);
    expect(s).toEqual({
      id,
      createdAt: CREATED,
      activatedAt: null,
      feedback: 'explicit',
      status: 'retired',
      params: data.params,
      metrics: {},
      reason: 'worse rmse',
      nUsers: 7,
      nItems: 9,
      factors: 3,
    });
    expect(getModel(db, id)).toEqual(s);
    const loaded = loadModel(db, id);
    expect(loaded.record).toEqual(s);
    expect(loaded.model.history).toEqual(history);
    expect(countModels(db)).toBe(1);
  });

  it('exactly one active: the partial unique index rejects a second active row', () => {
    const a = saveModel(db, randomModel(1, 'explicit'), { activate: true });
    const b = saveModel(db, randomModel(2, 'explicit'));
    expect(activeModelId(db)).toBe(a);
    expect(() => db.prepare(`UPDATE models SET status = 'active' WHERE id = ?`).run(b)).toThrow(/UNIQUE constraint failed/);
    expect(db.prepare(`SELECT count(*) AS n FROM models WHERE status = 'active'`).get()).toEqual({ n: 1 });
    // saving another model with activate: true moves the marker in the same transaction
    const c = saveModel(db, randomModel(3, 'explicit'), { activate: true });
    expect(listModels(db).map((m) => [m.id, m.status])).toEqual([
      [a, 'ready'],
      [b, 'ready'],
      [c, 'active'],
    ]);
  });

  it('activate moves the previous active back to ready; rollback walks the history back', () => {
    const [a, b, c] = [1, 2, 3].map((s) => saveModel(db, randomModel(s, 'implicit'))) as [number, number, number];
    expect(activeModelId(db)).toBeNull();
    expect(loadActiveModel(db)).toBeNull();
    expect(() => rollbackModel(db)).toThrow(/no previously active model/);
    activateModel(db, a);
    expect(() => rollbackModel(db)).toThrow(/no previously active model/);
    activateModel(db, b);
    activateModel(db, b); // no-op: already active
    activateModel(db, c);
    expect(listModels(db).map((m) => m.status)).toEqual(['ready', 'ready', 'active']);
    expect(getModel(db, c).activatedAt).not.toBeNull();
    const active = loadActiveModel(db);
    expect(active?.record.id).toBe(c);
    expect(active?.record.status).toBe('active');
    expect(bytesOf(active!.model.userFactors)!.equals(bytesOf(randomModel(3, 'implicit').userFactors)!)).toBe(true);
    expect(rollbackModel(db)).toBe(b);
    expect(activeModelId(db)).toBe(b);
    expect(rollbackModel(db)).toBe(a);
    expect(activeModelId(db)).toBe(a);
    const err = caught(() => rollbackModel(db));
    expect([err.code, httpStatus(err), exitCode(err)]).toEqual(['no_previous_model', 409, 2]);
    expect(activeModelId(db)).toBe(a);
    // A new activation after rollbacks: rollback returns to what was active before it.
    activateModel(db, c);
    expect(rollbackModel(db)).toBe(a);
  });

  it('a retired model can be activated explicitly; an unknown id is notFound and changes nothing', () => {
    const a = saveModel(db, randomModel(1, 'explicit'), { activate: true });
    const r = saveModel(db, randomModel(2, 'explicit'), { status: 'retired', reason: 'r' });
    const err = caught(() => activateModel(db, 999));
    expect(httpStatus(err)).toBe(404);
    expect(err.code).toBe('model_not_found');
    expect(err.message).toMatch(/model 999 does not exist/);
    expect(activeModelId(db)).toBe(a);
    activateModel(db, r);
    expect(activeModelId(db)).toBe(r);
    expect(getModel(db, a).status).toBe('ready');
    expect(() => loadModel(db, 999)).toThrow(/model 999 does not exist/);
    expect(() => getModel(db, 999)).toThrow(/model 999 does not exist/);
    expect(() => exportModelFile(db, 999)).toThrow(/model 999 does not exist/);
  });

  it('a save that fails mid-transaction leaves nothing behind and the active model untouched', () => {
    const a = saveModel(db, randomModel(1, 'explicit'), { activate: true });
    // Force a failure after the models row is inserted, on the file insert.
    db.exec(`CREATE TRIGGER fail_files BEFORE INSERT ON model_files BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`);
    expect(() => saveModel(db, randomModel(2, 'explicit'), { activate: true })).toThrow(/disk on fire/);
    expect(listModels(db).map((m) => m.id)).toEqual([a]);
    expect(count(db, 'model_files')).toBe(1);
    expect(count(db, 'model_activations')).toBe(1);
    expect(activeModelId(db)).toBe(a);
  });

  it('refuses inconsistent or non-finite models before writing anything', () => {
    const data = randomData(1, 'explicit');
    const model = new Model(data);
    expect(() => new Model({ ...data, userFactors: new Float32Array(3) })).toThrow(/userFactors has 3 entries/);
    expect(() => new Model({ ...data, userBias: null })).toThrow(/explicit model needs userBias/);
    expect(() => new Model({ ...data, userItems: { indptr: new Int32Array(2), indices: new Int32Array(0) } })).toThrow(/indptr/);
    expect(() => new Model({ ...data, globalMean: NaN })).toThrow(/globalMean must be finite/);
    for (const bad of [NaN, Infinity, -Infinity]) {
      const itemFactors = Float32Array.from(data.itemFactors);
      itemFactors[4] = bad;
      const poisoned = new Model({ ...data, itemFactors });
      expect(() => saveModel(db, poisoned)).toThrow(ModelFitError);
      expect(() => saveModel(db, poisoned)).toThrow(/item factors contain NaN\/Infinity \(entry 4\).*--lambda/);
    }
    const userBias = Float32Array.from(data.userBias!);
    userBias[6] = NaN;
    expect(() => saveModel(db, new Model({ ...data, userBias }))).toThrow(/user biases contain NaN/);
    expect(() => saveModel(db, model, { status: 'retired', activate: true })).toThrow(/retired/);
    expect(() => saveModel(db, model, { status: 'active' as 'ready' })).toThrow(/status must be ready or retired/);
    expect(listModels(db)).toEqual([]);
    expect(count(db, 'model_files')).toBe(0);
  });

  it('saveModel merges the metrics option over the model’s own into the record and the file', () => {
    const data = { ...randomData(1, 'explicit'), metrics: { rmse: 1, mae: 0.8 } };
    const id = saveModel(db, new Model(data), { metrics: { rmse: 0.7, extra: true } });
    const { record, model } = loadModel(db, id);
    expect(record.metrics).toEqual({ rmse: 0.7, mae: 0.8, extra: true });
    expect(model.metrics).toEqual({ rmse: 0.7, mae: 0.8, extra: true });
  });

  it('updateModelMetrics merges into the stored record; the stored file keeps its metrics', () => {
    const id = saveModel(db, randomModel(1, 'explicit'), { metrics: { rmse: 1, mae: 0.8 } });
    const file = Buffer.from(exportModelFile(db, id));
    updateModelMetrics(db, id, { rmse: 0.9, 'ndcg@10': 0.1 });
    expect(getModel(db, id).metrics).toEqual({ rmse: 0.9, mae: 0.8, 'ndcg@10': 0.1 });
    const loaded = loadModel(db, id);
    expect(loaded.record.metrics).toEqual({ rmse: 0.9, mae: 0.8, 'ndcg@10': 0.1 });
    expect(loaded.model.metrics).toEqual({ rmse: 1, mae: 0.8 });
    expect(exportModelFile(db, id).equals(file)).toBe(true);
    expect(() => updateModelMetrics(db, 42, {})).toThrow(/model 42 does not exist/);
  });

  it('ids are never reused; deleting a model deletes its file', () => {
    const model = randomModel(1, 'implicit');
    const a = saveModel(db, model);
    db.prepare('DELETE FROM models WHERE id = ?').run(a);
    expect(count(db, 'model_files')).toBe(0);
    const b = saveModel(db, model);
    expect(b).toBeGreaterThan(a);
    expect(count(db, 'model_files')).toBe(1);
    expect(countModels(db)).toBe(1);
  });

  it('a stored file that is corrupt or missing fails loadModel with model_corrupt, not a crash', () => {
    const model = randomModel(1, 'explicit');
    const id = saveModel(db, model, { activate: true });
    const file = model.toBuffer();
    db.prepare('UPDATE model_files SET bytes = ? WHERE model_id = ?').run(file.subarray(0, file.length - 10), id);
    let err = caught(() => loadModel(db, id));
    expect(err.code).toBe('model_corrupt');
    expect(err.message).toBe(`stored model ${id} is corrupt (checksum mismatch)`);
    expect(() => loadActiveModel(db)).toThrow(/is corrupt/);
    // Without a checksum (a file stored before migration 0006, not yet backfilled) the parser still refuses it.
    db.prepare('UPDATE models SET file_sha256 = NULL WHERE id = ?').run(id);
    err = caught(() => loadModel(db, id));
    expect(err.message).toMatch(new RegExp(`^stored model ${id} is corrupt: .*truncated`));
    db.prepare('UPDATE model_files SET bytes = ? WHERE model_id = ?').run(Buffer.from('not a model at all'), id);
    expect(caught(() => loadModel(db, id)).message).toMatch(/is corrupt: not a valid ridgerec model file/);
    db.prepare('DELETE FROM model_files WHERE model_id = ?').run(id);
    err = caught(() => loadModel(db, id));
    expect(err.code).toBe('model_corrupt');
    expect(err.message).toMatch(/has no model file/);
    expect(caught(() => exportModelFile(db, id)).code).toBe('model_corrupt');
    // the record is still listed
    expect(getModel(db, id).status).toBe('active');
  });
});

describe('model registry: userItems encoding', () => {
  it('round-trips userItems for a catalog above 65,536 items (Int32 path) and rejects out-of-range items', () => {
    const nItems = 70_000;
    const data: ModelData = {
      params: { ...DEFAULT_PARAMS.implicit, factors: 1 },
      factors: 1,
      nUsers: 2,
      nItems,
      globalMean: 0,
      metrics: {},
      history: [],
      createdAt: CREATED,
      userIds: ['a', 'b'],
      itemIds: Array.from({ length: nItems }, (_, i) => `i${i}`),
      userFactors: Float32Array.from([1, 2]),
      itemFactors: new Float32Array(nItems),
      userBias: null,
      itemBias: null,
      userItems: { indptr: Int32Array.from([0, 2, 3]), indices: Int32Array.from([5, 69_999, 65_536]) },
    };
    const id = saveModel(db, new Model(data));
    expect(readModelFileHeader(exportModelFile(db, id)).arrays.userItemsIndices).toMatchObject({ dtype: 'int32', length: 3 });
    const back = loadModel(db, id).model;
    expect(back.userItems.indices).toBeInstanceOf(Int32Array);
    expect(Array.from(back.userItems.indices)).toEqual([5, 69_999, 65_536]);
    const bad = { indptr: Int32Array.from([0, 2, 3]), indices: Int32Array.from([5, 70_000, 1]) };
    expect(() => saveModel(db, new Model({ ...data, userItems: bad }))).toThrow(/userItems.indices\[1\] = 70000 is outside 0..69999/);
    const negative = { indptr: Int32Array.from([0, 2, 3]), indices: Int32Array.from([5, -1, 1]) };
    expect(() => saveModel(db, new Model({ ...data, userItems: negative }))).toThrow(/userItems.indices\[1\] = -1 is outside/);
    expect(countModels(db)).toBe(1);
  });

  it('stores userItems of a small catalog as 2 bytes an entry, and refuses an index past it before narrowing', () => {
    const data = randomData(4, 'implicit');
    const id = saveModel(db, new Model(data));
    const entry = readModelFileHeader(exportModelFile(db, id)).arrays.userItemsIndices;
    expect(entry).toMatchObject({ dtype: 'uint16', length: data.userItems.indices.length });
    expect(Array.from(loadModel(db, id).model.userItems.indices)).toEqual(Array.from(data.userItems.indices));
    // 65,536 + 3 would wrap to item 3 as a Uint16: the registry refuses it instead.
    const indices = Int32Array.from(data.userItems.indices);
    indices[0] = 65_536 + 3;
    expect(() => saveModel(db, new Model({ ...data, userItems: { indptr: data.userItems.indptr, indices } }))).toThrow(
      /userItems.indices\[0\] = 65539 is outside 0..8/,
    );
  });
});

describe('model registry: export and import of model files', () => {
  it('exportModelFile is exactly model.toBuffer(); importing it elsewhere gives identical bytes and recommendations', async () => {
    const data = randomData(11, 'explicit', 12, 9, 4);
    const model = new Model({
      ...data,
      metrics: { rmse: 0.8 },
      history: [{ iteration: 1, loss: 2, dataLoss: 1.5, penalty: 0.5, seconds: 0.1 }],
    });
    const id = saveModel(db, model, { activate: true });
    const file = exportModelFile(db, id);
    expect(Buffer.isBuffer(file)).toBe(true);
    expect(file.equals(model.toBuffer())).toBe(true);
    expect(loadModel(db, id).model.toBuffer().equals(file)).toBe(true);
    // Model.save writes the same bytes
    const path = join(tmp.dir, 'm.ridgerec');
    await model.save(path);
    expect(readFileSync(path).equals(file)).toBe(true);

    const db2 = otherDb('other.db');
    saveModel(db2, randomModel(99, 'implicit')); // so the imported model gets another id
    const id2 = importModelFile(db2, readFileSync(path), { activate: true });
    expect(id2).toBe(2);
    expect(exportModelFile(db2, id2).equals(file)).toBe(true);
    const { record, model: imported } = loadModel(db2, id2);
    expect(record).toMatchObject({
      id: id2,
      status: 'active',
      feedback: 'explicit',
      createdAt: CREATED,
      metrics: { rmse: 0.8 },
      reason: null,
    });
    expect(activeModelId(db2)).toBe(id2);
    expect(imported.history).toEqual(model.history);
    expectSameArrays(imported, data);
    for (const user of [...data.userIds, 'nobody']) {
      for (const options of [{ limit: 5 }, { limit: 9, includeRated: true }, { limit: 3, exclude: [data.itemIds[0]!] }]) {
        const want = model.recommend(user, options);
        expect(want.items.length).toBeGreaterThan(0);
        expect(imported.recommend(user, options)).toEqual(want);
      }
    }
    expect(imported.similarItems(data.itemIds[2]!, { limit: 4 })).toEqual(model.similarItems(data.itemIds[2]!, { limit: 4 }));
    const basket = [
      { item: data.itemIds[0]!, value: 5 },
      { item: data.itemIds[3]!, value: 1 },
    ];
    expect(imported.recommendFor(basket, { limit: 4 })).toEqual(model.recommendFor(basket, { limit: 4 }));
  });

  it('importModelFile keeps the status it is given and refuses bytes that are not a model file, saving nothing', () => {
    const model = randomModel(12, 'implicit');
    const id = importModelFile(db, model.toBuffer(), { status: 'retired', reason: 'imported for the record' });
    expect(getModel(db, id)).toMatchObject({ status: 'retired', reason: 'imported for the record', feedback: 'implicit' });
    expect(activeModelId(db)).toBeNull();
    // an unaligned copy of the bytes (a view at an odd offset) imports to the same stored bytes
    const shifted = new Uint8Array(model.toBuffer().length + 1);
    shifted.set(model.toBuffer(), 1);
    const id2 = importModelFile(db, shifted.subarray(1));
    expect(exportModelFile(db, id2).equals(model.toBuffer())).toBe(true);
    expectSameArrays(loadModel(db, id2).model, model);
    const err = caught(() => importModelFile(db, Buffer.from('{"format":"ridgerec-model"}')));
    expect(err.message).toMatch(/not a valid ridgerec model file/);
    expect(exitCode(err)).toBe(2);
    expect(() => importModelFile(db, model.toBuffer().subarray(0, 100))).toThrow(/truncated/);
    expect(countModels(db)).toBe(2);
  });
});

describe('Model.load refuses files it cannot read', () => {
  const file = () => Buffer.from(randomModel(21, 'explicit').toBuffer()); // a private copy to damage

  it('a truncated file, cut in the arrays or in the header, from bytes or from a path', () => {
    const whole = file();
    expect(Model.load(whole).nUsers).toBe(7);
    let err = caught(() => Model.load(whole.subarray(0, whole.length - 1)));
    expect(err.message).toMatch(/truncated/);
    expect(err.message).toContain(`it has ${whole.length - 1} bytes, its header says ${whole.length}`);
    expect(err.code).toBe('model_file_truncated');
    err = caught(() => Model.load(whole.subarray(0, 40)));
    expect(err.message).toMatch(/not a valid ridgerec model file: truncated/);
    const path = join(tmp.dir, 'cut.ridgerec');
    writeFileSync(path, whole.subarray(0, Math.floor(whole.length / 2)));
    expect(() => Model.load(path)).toThrow(/truncated/);
  });

  it('a foreign file (wrong magic)', () => {
    const foreign = file();
    foreign.write('NOTRIDGE', 0, 'latin1');
    const err = caught(() => Model.load(foreign));
    expect(err.message).toMatch(/not a valid ridgerec model file/);
    expect(err.message).toContain('RIDGEREC');
    expect(err.code).toBe('model_file_invalid');
    expect(() => Model.load(Buffer.from('PK\u0003\u0004'))).toThrow(/not a valid ridgerec model file.*RIDGEREC/);
    expect(() => Model.load(new Uint8Array(0))).toThrow(/RIDGEREC/);
  });

  it('a file of a newer format version', () => {
    const newer = file();
    expect(newer.readUInt32LE(8)).toBeLessThanOrEqual(FORMAT_VERSION);
    newer.writeUInt32LE(FORMAT_VERSION + 1, 8);
    const err = caught(() => Model.load(newer));
    expect(err.message).toMatch(/newer/);
    expect(err.message).toContain(`version ${FORMAT_VERSION + 1} is newer than this ridgerec reads (${FORMAT_VERSION})`);
    expect(err.code).toBe('model_file_too_new');
  });
});

// ---- models saved before model_files (the migration 0002 layout) -----------------------------

/** Writes a model in the legacy layout (before migration 0004): a `models` row plus a `model_blobs` row of raw typed-array bytes. */
function insertLegacy(target: Db, d: ModelData, status: 'ready' | 'active' = 'ready'): number {
  const raw = (a: Float32Array | Int32Array | Uint16Array | null) => (a ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : null);
  // the legacy id encoding: one JSON string of the ids joined by '\n', or a JSON array when an id has a newline
  const ids = (list: readonly string[]) => JSON.stringify(list.some((x) => x.includes('\n')) ? list : list.join('\n'));
  const info = target
    .prepare(
      `INSERT INTO models (created_at, activated_at, feedback, status, params, metrics, n_users, n_items, factors, global_mean)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      d.createdAt,
      status === 'active' ? d.createdAt : null,
      d.params.feedback,
      status,
      JSON.stringify(d.params),
      JSON.stringify(d.metrics),
      d.nUsers,
      d.nItems,
      d.factors,
      d.globalMean,
    );
  const id = Number(info.lastInsertRowid);
  const indices = d.nItems <= 65_536 ? Uint16Array.from(d.userItems.indices) : Int32Array.from(d.userItems.indices);
  target
    .prepare(
      `INSERT INTO model_blobs (model_id, user_ids, item_ids, user_factors, item_factors, user_bias, item_bias, user_items_indptr, user_items_indices)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      id,
      ids(d.userIds),
      ids(d.itemIds),
      raw(d.userFactors),
      raw(d.itemFactors),
      raw(d.userBias),
      raw(d.itemBias),
      raw(Int32Array.from(d.userItems.indptr)),
      raw(indices),
    );
  if (status === 'active') target.prepare(`INSERT INTO model_activations (model_id, kind) VALUES (?, 'activate')`).run(id);
  return id;
}

describe('upgradeLegacyModels', () => {
  it('converts model_blobs rows into loadable model files with identical arrays and ids, and drops the rows', () => {
    const newlineFree = (u: string) => u.replace(/\n/g, ' ');
    const base = { ...randomData(31, 'explicit'), metrics: { rmse: 0.93 } };
    const explicit: ModelData = { ...base, userIds: base.userIds.map(newlineFree), itemIds: base.itemIds.map(newlineFree) };
    const implicit = randomData(32, 'implicit', 5, 11, 2); // ids with newlines: the JSON-array encoding
    expect(implicit.itemIds.some((x) => x.includes('\n'))).toBe(true);
    const a = insertLegacy(db, explicit, 'active');
    const b = insertLegacy(db, implicit);
    const raw = db.prepare('SELECT user_ids, item_ids, length(user_items_indices) AS n FROM model_blobs WHERE model_id = ?');
    expect((raw.get(a) as { user_ids: string }).user_ids.startsWith('"')).toBe(true);
    expect((raw.get(b) as { item_ids: string }).item_ids.startsWith('[')).toBe(true);
    expect((raw.get(a) as { n: number }).n).toBe(explicit.userItems.indices.length * 2);
    // before the upgrade the registry knows the models but has no file for them
    expect(caught(() => loadModel(db, a)).message).toMatch(/has no model file/);

    expect(upgradeLegacyModels(db)).toBe(2);
    expect(count(db, 'model_blobs')).toBe(0);
    expect(count(db, 'model_files')).toBe(2);
    const la = loadActiveModel(db)!;
    expect(la.record).toMatchObject({ id: a, status: 'active', createdAt: CREATED, metrics: { rmse: 0.93 }, feedback: 'explicit' });
    expectSameArrays(la.model, explicit);
    expect(la.model.params).toEqual(explicit.params);
    expect(la.model.metrics).toEqual({ rmse: 0.93 });
    expect(la.model.createdAt).toBe(CREATED);
    expect(la.model.history).toEqual([]);
    expect(la.model.userItems.indices).toBeInstanceOf(Uint16Array);
    const lb = loadModel(db, b).model;
    expectSameArrays(lb, implicit);
    expect(lb.userBias).toBeNull();
    // the converted file scores like a model saved the new way
    const fresh = new Model(explicit);
    for (const user of explicit.userIds) expect(la.model.recommend(user, { limit: 5 })).toEqual(fresh.recommend(user, { limit: 5 }));
    expect(exportModelFile(db, a).equals(fresh.toBuffer())).toBe(true);
    // nothing left to do the second time; activation history still works
    expect(upgradeLegacyModels(db)).toBe(0);
    activateModel(db, b);
    expect(rollbackModel(db)).toBe(a);
  });

  it('converts a large-catalog model (Int32 indices), an empty one, and a one-user model whose id is empty', () => {
    const nItems = 70_000;
    const large: ModelData = {
      ...randomData(33, 'implicit', 3, 0, 1),
      nItems,
      itemIds: Array.from({ length: nItems }, (_, i) => `i${i}`),
      itemFactors: Float32Array.from({ length: nItems }, (_, i) => i / nItems),
      userItems: { indptr: Int32Array.from([0, 2, 2, 3]), indices: Int32Array.from([1, 69_999, 65_536]) },
    };
    const empty = randomData(34, 'explicit', 0, 0, 2);
    const lone: ModelData = { ...randomData(35, 'implicit', 1, 2, 1), userIds: [''] };
    const ids = [insertLegacy(db, large), insertLegacy(db, empty), insertLegacy(db, lone)];
    expect(upgradeLegacyModels(db)).toBe(3);
    expect(count(db, 'model_blobs')).toBe(0);
    const back = ids.map((id) => loadModel(db, id).model);
    expectSameArrays(back[0]!, large);
    expect(back[0]!.userItems.indices).toBeInstanceOf(Int32Array);
    expectSameArrays(back[1]!, empty);
    expectSameArrays(back[2]!, lone);
    expect(back[2]!.userIds).toEqual(['']);
  });
});
