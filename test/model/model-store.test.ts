import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/db/connection.js';
import { RidgerecError, ModelFitError } from '../../src/errors.js';
import {
  activateModel,
  activeModelId,
  getModelSummary,
  listModels,
  loadActiveModel,
  loadModel,
  rollbackModel,
  saveModel,
  updateModelMetrics,
} from '../../src/model/model-store.js';
import type { FactorModel } from '../../src/model/factor-model.js';
import { sharedInt32 } from '../../src/ratings/matrix.js';
import { DEFAULT_PARAMS, type Feedback } from '../../src/training/params.js';
import { mulberry32 } from '../../src/training/random.js';
import { tempDir, type TempDir } from '../helpers/temp.js';

// Ids that would break naive encodings: separators, quotes, newlines, NUL, non-BMP, a lone surrogate.
const NASTY = ['plain', 'comma,tab\tsemi;', 'new\nline', 'quote"\'back\\slash', 'nul\u0000byte', '🎬 émoji', 'lone\ud800', '', ' '];

function randomModel(seed: number, feedback: Feedback, nUsers = 7, nItems = 9, k = 3) {
  const rand = mulberry32(seed);
  const f32 = (n: number) => Float32Array.from({ length: n }, () => rand() * 2 - 1);
  const model: FactorModel = {
    params: { ...DEFAULT_PARAMS[feedback], factors: k, seed },
    factors: k,
    nUsers,
    nItems,
    userIds: Array.from({ length: nUsers }, (_, u) => `${NASTY[u % NASTY.length]}#u${u}`),
    itemIds: Array.from({ length: nItems }, (_, i) => (i < NASTY.length ? NASTY[i]! : `item${i}`)),
    userFactors: f32(nUsers * k),
    itemFactors: f32(nItems * k),
    userBias: feedback === 'explicit' ? f32(nUsers) : null,
    itemBias: feedback === 'explicit' ? f32(nItems) : null,
    globalMean: feedback === 'explicit' ? 3.5 : 0,
  };
  // userItems: user u rated items u % nItems and (u + 2) % nItems (ascending); on a SharedArrayBuffer like the matrix.
  const indptr = sharedInt32(nUsers + 1);
  const idx: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    const a = u % nItems;
    const b = (u + 2) % nItems;
    idx.push(...(a === b ? [a] : [Math.min(a, b), Math.max(a, b)]));
    indptr[u + 1] = idx.length;
  }
  const indices = sharedInt32(idx.length);
  indices.set(idx);
  return { model, userItems: { indptr, indices } };
}

const bytesOf = (a: Float32Array | Int32Array | null) => (a ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : null);

let tmp: TempDir;
let db: Db;
beforeEach(() => {
  tmp = tempDir('ridgerec-models-');
  db = openDatabase(join(tmp.dir, 'm.db'));
});
afterEach(() => {
  db.close();
  tmp.cleanup();
});

describe('model store', () => {
  it.each(['explicit', 'implicit'] as const)('round-trips a %s model byte for byte, ids exactly', (feedback) => {
    const { model, userItems } = randomModel(1, feedback);
    const id = saveModel(db, model, { userItems, metrics: { rmse: 0.9, note: 'x' } });
    const back = loadModel(db, id);
    expect(back.id).toBe(id);
    expect(back.status).toBe('ready');
    expect(back.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(back.metrics).toEqual({ rmse: 0.9, note: 'x' });
    expect(back.params).toEqual(model.params);
    expect(back.userIds).toEqual(model.userIds);
    expect(back.itemIds).toEqual(model.itemIds);
    expect([back.nUsers, back.nItems, back.factors, back.globalMean]).toEqual([7, 9, 3, model.globalMean]);
    expect(bytesOf(back.userFactors)!.equals(bytesOf(model.userFactors)!)).toBe(true);
    expect(bytesOf(back.itemFactors)!.equals(bytesOf(model.itemFactors)!)).toBe(true);
    expect(bytesOf(back.userBias)?.equals(bytesOf(model.userBias)!) ?? null).toBe(feedback === 'explicit' ? true : null);
    expect(bytesOf(back.itemBias)?.equals(bytesOf(model.itemBias)!) ?? null).toBe(feedback === 'explicit' ? true : null);
    expect(Array.from(back.userItems.indptr)).toEqual(Array.from(userItems.indptr));
    expect(Array.from(back.userItems.indices)).toEqual(Array.from(userItems.indices));
    expect(back.userFactors).toBeInstanceOf(Float32Array);
    // a small catalog loads as a Uint16Array view over the stored bytes (no widening copy)
    expect(back.userItems.indices).toBeInstanceOf(Uint16Array);
  });

  it("loadModel leaves the connection's mmap_size as it found it, also inside a transaction", () => {
    const { model, userItems } = randomModel(5, 'explicit');
    const id = saveModel(db, model, { userItems });
    const before = db.pragma('mmap_size', { simple: true });
    expect(loadModel(db, id).nUsers).toBe(7);
    expect(db.pragma('mmap_size', { simple: true })).toBe(before);
    const inTx = db.transaction(() => loadModel(db, id))();
    expect(bytesOf(inTx.itemFactors)!.equals(bytesOf(model.itemFactors)!)).toBe(true);
    expect(db.pragma('mmap_size', { simple: true })).toBe(before);
  });

  it('round-trips id maps in both encodings: newline-free ids (joined string) and ids with newlines (array)', () => {
    for (const itemIds of [
      ['a', '', 'b c', '"q"', '[x]', '\\'],
      ['', 'line\nbreak', 'x'],
    ]) {
      const model: FactorModel = { ...randomModel(6, 'implicit', 1, itemIds.length, 1).model, userIds: [''], itemIds };
      const userItems = { indptr: Int32Array.from([0, 0]), indices: new Int32Array(0) };
      const id = saveModel(db, model, { userItems });
      const back = loadModel(db, id);
      expect(back.itemIds).toEqual(itemIds);
      expect(back.userIds).toEqual(['']);
      const raw = db.prepare('SELECT item_ids FROM model_blobs WHERE model_id = ?').get(id) as { item_ids: string };
      expect(raw.item_ids.startsWith(itemIds.some((x) => x.includes('\n')) ? '[' : '"')).toBe(true);
    }
  });

  it('saves and loads an empty model (no users, no items)', () => {
    const { model } = randomModel(2, 'implicit', 0, 0, 2);
    const id = saveModel(db, model, { userItems: { indptr: new Int32Array(1), indices: new Int32Array(0) } });
    const back = loadModel(db, id);
    expect([back.nUsers, back.nItems, back.userFactors.length, back.userItems.indptr.length]).toEqual([0, 0, 0, 1]);
  });

  it('strips extra fields (a FitResult history) from the stored params and lists without the arrays', () => {
    const { model, userItems } = randomModel(3, 'explicit');
    const fit = { ...model, history: [{ iteration: 1, loss: 1, dataLoss: 1, penalty: 0, seconds: 0 }], seconds: 1 };
    const id = saveModel(db, fit, { userItems, status: 'retired', reason: 'worse rmse' });
    const [s] = listModels(db);
    expect(s).toEqual({
      id,
      createdAt: expect.any(String),
      activatedAt: null,
      feedback: 'explicit',
      status: 'retired',
      params: model.params,
      metrics: {},
      reason: 'worse rmse',
      nUsers: 7,
      nItems: 9,
      factors: 3,
    });
    expect(getModelSummary(db, id)).toEqual(s);
  });

  it('exactly one active: the partial unique index rejects a second active row', () => {
    const m1 = randomModel(1, 'explicit');
    const m2 = randomModel(2, 'explicit');
    const a = saveModel(db, m1.model, { userItems: m1.userItems, activate: true });
    const b = saveModel(db, m2.model, { userItems: m2.userItems });
    expect(activeModelId(db)).toBe(a);
    expect(() => db.prepare(`UPDATE models SET status = 'active' WHERE id = ?`).run(b)).toThrow(/UNIQUE constraint failed/);
    expect(db.prepare(`SELECT count(*) AS n FROM models WHERE status = 'active'`).get()).toEqual({ n: 1 });
  });

  it('activate moves the previous active back to ready; rollback walks the history back', () => {
    const ids = [1, 2, 3].map((s) => saveModel(db, randomModel(s, 'implicit').model, { userItems: randomModel(s, 'implicit').userItems }));
    const [a, b, c] = ids as [number, number, number];
    expect(activeModelId(db)).toBeNull();
    expect(loadActiveModel(db)).toBeNull();
    expect(() => rollbackModel(db)).toThrow(/no previously active model/);
    activateModel(db, a);
    expect(() => rollbackModel(db)).toThrow(/no previously active model/);
    activateModel(db, b);
    activateModel(db, b); // no-op: already active
    activateModel(db, c);
    expect(listModels(db).map((m) => m.status)).toEqual(['ready', 'ready', 'active']);
    expect(getModelSummary(db, c).activatedAt).not.toBeNull();
    expect(loadActiveModel(db)?.id).toBe(c);
    expect(rollbackModel(db)).toBe(b);
    expect(activeModelId(db)).toBe(b);
    expect(rollbackModel(db)).toBe(a);
    expect(activeModelId(db)).toBe(a);
    expect(() => rollbackModel(db)).toThrow(RidgerecError);
    expect(activeModelId(db)).toBe(a);
    // A new activation after rollbacks: rollback returns to what was active before it.
    activateModel(db, c);
    expect(rollbackModel(db)).toBe(a);
  });

  it('a retired model can be activated explicitly; an unknown id is notFound and changes nothing', () => {
    const a = saveModel(db, randomModel(1, 'explicit').model, { userItems: randomModel(1, 'explicit').userItems, activate: true });
    const r = saveModel(db, randomModel(2, 'explicit').model, {
      userItems: randomModel(2, 'explicit').userItems,
      status: 'retired',
      reason: 'r',
    });
    let err: unknown;
    try {
      activateModel(db, 999);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RidgerecError);
    expect((err as RidgerecError).status).toBe(404);
    expect((err as RidgerecError).message).toMatch(/model 999 does not exist/);
    expect(activeModelId(db)).toBe(a);
    activateModel(db, r);
    expect(activeModelId(db)).toBe(r);
    expect(getModelSummary(db, a).status).toBe('ready');
    expect(() => loadModel(db, 999)).toThrow(/model 999 does not exist/);
    expect(() => getModelSummary(db, 999)).toThrow(/model 999 does not exist/);
  });

  it('a save that fails mid-transaction leaves nothing behind and the active model untouched', () => {
    const a = saveModel(db, randomModel(1, 'explicit').model, { userItems: randomModel(1, 'explicit').userItems, activate: true });
    // Force a failure after the models row is inserted, on the blob insert.
    db.exec(`CREATE TRIGGER fail_blobs BEFORE INSERT ON model_blobs BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`);
    const { model, userItems } = randomModel(2, 'explicit');
    expect(() => saveModel(db, model, { userItems, activate: true })).toThrow(/disk on fire/);
    expect(listModels(db).map((m) => m.id)).toEqual([a]);
    expect(db.prepare('SELECT count(*) AS n FROM model_blobs').get()).toEqual({ n: 1 });
    expect(db.prepare('SELECT count(*) AS n FROM model_activations').get()).toEqual({ n: 1 });
    expect(activeModelId(db)).toBe(a);
  });

  it('refuses inconsistent or non-finite models before writing anything', () => {
    const { model, userItems } = randomModel(1, 'explicit');
    expect(() => saveModel(db, { ...model, userFactors: new Float32Array(3) }, { userItems })).toThrow(/userFactors has 3 entries/);
    expect(() => saveModel(db, { ...model, userBias: null }, { userItems })).toThrow(/explicit model needs userBias/);
    expect(() => saveModel(db, model, { userItems: { indptr: new Int32Array(2), indices: new Int32Array(0) } })).toThrow(/indptr/);
    const nan = Float32Array.from(model.itemFactors);
    nan[4] = NaN;
    expect(() => saveModel(db, { ...model, itemFactors: nan }, { userItems })).toThrow(ModelFitError);
    expect(() => saveModel(db, { ...model, itemFactors: nan }, { userItems })).toThrow(/--lambda/);
    expect(() => saveModel(db, model, { userItems, status: 'retired', activate: true })).toThrow(/retired/);
    expect(listModels(db)).toEqual([]);
  });

  it('updateModelMetrics merges into the stored metrics', () => {
    const { model, userItems } = randomModel(1, 'explicit');
    const id = saveModel(db, model, { userItems, metrics: { rmse: 1, mae: 0.8 } });
    updateModelMetrics(db, id, { rmse: 0.9, 'ndcg@10': 0.1 });
    expect(getModelSummary(db, id).metrics).toEqual({ rmse: 0.9, mae: 0.8, 'ndcg@10': 0.1 });
    expect(() => updateModelMetrics(db, 42, {})).toThrow(/model 42 does not exist/);
  });

  it('ids are never reused', () => {
    const { model, userItems } = randomModel(1, 'implicit');
    const a = saveModel(db, model, { userItems });
    db.prepare('DELETE FROM models WHERE id = ?').run(a);
    const b = saveModel(db, model, { userItems });
    expect(b).toBeGreaterThan(a);
    expect(db.prepare('SELECT count(*) AS n FROM model_blobs').get()).toEqual({ n: 1 });
  });
});

describe('model store: userItems encoding', () => {
  it('round-trips userItems for a catalog above 65,536 items (Int32 path) and rejects out-of-range items', () => {
    const nItems = 70_000;
    const model: FactorModel = {
      params: { ...DEFAULT_PARAMS.implicit, factors: 1 },
      factors: 1,
      nUsers: 2,
      nItems,
      userIds: ['a', 'b'],
      itemIds: Array.from({ length: nItems }, (_, i) => `i${i}`),
      userFactors: Float32Array.from([1, 2]),
      itemFactors: new Float32Array(nItems),
      userBias: null,
      itemBias: null,
      globalMean: 0,
    };
    const userItems = { indptr: Int32Array.from([0, 2, 3]), indices: Int32Array.from([5, 69_999, 65_536]) };
    const id = saveModel(db, model, { userItems });
    const blob = db.prepare('SELECT length(user_items_indices) AS n FROM model_blobs WHERE model_id = ?').get(id) as { n: number };
    expect(blob.n).toBe(12);
    expect(Array.from(loadModel(db, id).userItems.indices)).toEqual([5, 69_999, 65_536]);
    const bad = { indptr: Int32Array.from([0, 2, 3]), indices: Int32Array.from([5, 70_000, 1]) };
    expect(() => saveModel(db, model, { userItems: bad })).toThrow(/userItems.indices\[1\] = 70000 is outside 0..69999/);
  });

  it('stores userItems of a small catalog as 2 bytes an entry', () => {
    const { model, userItems } = randomModel(4, 'implicit');
    const id = saveModel(db, model, { userItems });
    const blob = db.prepare('SELECT length(user_items_indices) AS n FROM model_blobs WHERE model_id = ?').get(id) as { n: number };
    expect(blob.n).toBe(userItems.indices.length * 2);
    expect(Array.from(loadModel(db, id).userItems.indices)).toEqual(Array.from(userItems.indices));
  });
});
