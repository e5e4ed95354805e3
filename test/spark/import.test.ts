/**
 * models import-spark: Spark's ALSModel.save layout (written here with the Parquet library, from
 * factors ridgerec fitted) read back into a Model that recommends exactly as the original; every
 * refusal on a corrupt directory names the file and the row.
 */
import { appendFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetMetadata, parquetSchema } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fit } from '../../src/model/fit.js';
import type { Model } from '../../src/model/model.js';
import { importSparkModel, readSparkModel } from '../../src/spark/import.js';
import { writeFactorFile, writeIdMap } from '../../src/spark/parquet.js';
import { openStore, type SqliteStore } from '../../src/store/store.js';
import { mulberry32 } from '../../src/training/random.js';
import { tempDir } from '../helpers/temp.js';
import { sparkFactorsOf, writeSparkModel } from './spark-layout.js';

let dir: string;
let cleanup: () => void;
let store: SqliteStore;
let implicitModel: Model;
let explicitModel: Model;

/** Seeded ratings: 60 users × 40 items, two taste groups, 1–5 stars (numeric ids, as an export's). */
function ratings(): { user: string; item: string; value: number }[] {
  const rand = mulberry32(3);
  const out: { user: string; item: string; value: number }[] = [];
  for (let u = 0; u < 60; u++) {
    for (let i = 0; i < 40; i++) {
      if (rand() < 0.35) {
        const likes = u % 2 === i % 2;
        out.push({ user: String(u), item: String(i), value: likes ? 4 + Math.round(rand()) : 1 + Math.round(rand() * 2) });
      }
    }
  }
  return out;
}

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('ridgerec-spark-import-'));
  store = openStore(join(dir, 'r.db'));
  const rs = ratings();
  store.addRatings(rs);
  implicitModel = await fit(rs, {
    feedback: 'implicit',
    factors: 8,
    lambda: 2,
    lambdaScaling: 'count',
    iterations: 6,
    seed: 1,
    threads: 1,
  });
  explicitModel = await fit(rs, { feedback: 'explicit', factors: 6, lambda: 0.1, iterations: 6, seed: 1, threads: 1 });
});
afterAll(() => {
  store.close();
  cleanup();
});

function fixture(name: string, model: Model, extra: Partial<Parameters<typeof writeSparkModel>[1]> = {}): string {
  const d = join(dir, name);
  writeSparkModel(d, {
    ...sparkFactorsOf(model),
    paramMap: { implicitPrefs: model.params.feedback === 'implicit', alpha: model.params.alpha, regParam: model.params.lambda, maxIter: 6 },
    ...extra,
  });
  return d;
}

describe('the fixture is in Spark’s layout', () => {
  it('writes several snappy part files with the three-level LIST schema, _SUCCESS and .crc files', () => {
    const d = fixture('layout', implicitModel, { parts: 3 });
    const names = readdirSync(join(d, 'userFactors')).sort();
    expect(names.filter((n) => n.endsWith('.snappy.parquet'))).toHaveLength(3);
    expect(names).toContain('_SUCCESS');
    expect(names.filter((n) => n.endsWith('.crc'))).toHaveLength(4);
    const bytes = readFileSync(
      join(
        d,
        'userFactors',
        names.find((n) => n.endsWith('.snappy.parquet'))!,
      ),
    );
    const meta = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const tree = parquetSchema(meta);
    const id = tree.children[0]!;
    const features = tree.children[1]!;
    expect([id.element.name, id.element.type, id.element.repetition_type]).toEqual(['id', 'INT32', 'REQUIRED']);
    expect([features.element.name, features.element.repetition_type, features.element.converted_type]).toEqual([
      'features',
      'OPTIONAL',
      'LIST',
    ]);
    const list = features.children[0]!;
    expect([list.element.name, list.element.repetition_type]).toEqual(['list', 'REPEATED']);
    const element = list.children[0]!;
    expect([element.element.name, element.element.type, element.element.repetition_type]).toEqual(['element', 'FLOAT', 'REQUIRED']);
    for (const rg of meta.row_groups) for (const c of rg.columns) expect(c.meta_data?.codec).toBe('SNAPPY');
  });
});

describe('readSparkModel', () => {
  it('an implicit model fitted by ridgerec comes back with the same recommendations and scores', async () => {
    const d = fixture('implicit', implicitModel);
    const imported = await readSparkModel(d, { ratings: store.ratings() });
    expect(imported.params).toMatchObject({ feedback: 'implicit', factors: 8, lambda: 2, lambdaScaling: 'count', alpha: 1, iterations: 6 });
    expect(imported.userBias).toBeNull();
    expect(imported.nUsers).toBe(implicitModel.nUsers);
    for (const user of ['0', '1', '17', '42', '59']) {
      expect(imported.recommend(user, { limit: 10 })).toEqual(implicitModel.recommend(user, { limit: 10 }));
    }
    expect(imported.similarItems('3', { limit: 5 })).toEqual(implicitModel.similarItems('3', { limit: 5 }));
  });

  it('an explicit model (biases carried as two extra factor columns, as Spark has none) scores as the original', async () => {
    const d = fixture('explicit', explicitModel);
    const imported = await readSparkModel(d, { ratings: store.ratings() });
    expect(imported.params.feedback).toBe('explicit');
    expect(imported.factors).toBe(explicitModel.factors + 2);
    expect(imported.globalMean).toBe(0);
    expect(Array.from(imported.itemBias!).every((b) => b === 0)).toBe(true);
    for (const user of ['0', '5', '33']) {
      const a = imported.recommend(user, { limit: 8 });
      const b = explicitModel.recommend(user, { limit: 8 });
      expect(a.items.map((x) => x.item)).toEqual(b.items.map((x) => x.item));
      a.items.forEach((x, r) => expect(x.score).toBeCloseTo(b.items[r]!.score, 3));
    }
  });

  it('excludes each user’s rated items taken from the ratings given at import', async () => {
    const d = fixture('rated', implicitModel);
    const imported = await readSparkModel(d, { ratings: store.ratings() });
    const rated = new Set(store.userRatings('4').map((r) => r.item));
    const recs = imported.recommend('4', { limit: 40 }).items.map((x) => x.item);
    expect(recs.some((i) => rated.has(i))).toBe(false);
    expect(recs.length).toBe(40 - rated.size);
    const none = await readSparkModel(d);
    expect(none.recommend('4', { limit: 40 }).items).toHaveLength(40);
  });

  it('maps ids back through the id maps when they are beside the model', async () => {
    const d = fixture('maps', implicitModel);
    // Spark ids are the rows of the maps; the external ids are names.
    writeIdMap(
      join(d, 'users.parquet'),
      Array.from({ length: 60 }, (_, u) => `user-${u}`),
    );
    writeIdMap(
      join(d, 'items.parquet'),
      Array.from({ length: 40 }, (_, i) => `item-${i}`),
    );
    const imported = await readSparkModel(d);
    expect(imported.userIds[0]).toBe('user-0');
    const orig = implicitModel.recommend('7', { limit: 3, includeRated: true }).items;
    const got = imported.recommend('user-7', { limit: 3, includeRated: true }).items;
    expect(got.map((x) => x.item)).toEqual(orig.map((x) => `item-${x.item}`));
  });

  it('reads the parameters from ridgerec.json when the paramMap has only column names (a real ALSModel)', async () => {
    const d = join(dir, 'sidecar');
    writeSparkModel(d, { ...sparkFactorsOf(implicitModel) });
    writeFileSync(join(d, 'ridgerec.json'), JSON.stringify({ spark: { implicitPrefs: true, alpha: 3, regParam: 0.5, maxIter: 12 } }));
    const m = await readSparkModel(d);
    expect(m.params).toMatchObject({ feedback: 'implicit', alpha: 3, lambda: 0.5, iterations: 12, lambdaScaling: 'count' });
    rmSync(join(d, 'ridgerec.json'));
    const defaults = await readSparkModel(d);
    expect(defaults.params).toMatchObject({ feedback: 'explicit', lambda: 0.1, iterations: 10 });
    expect(defaults.metrics.sparkParamsFrom).toBe('spark defaults');
  });
});

describe('importSparkModel', () => {
  it('registers the model, not active unless asked', async () => {
    const d = fixture('register', implicitModel);
    const before = store.activeModelId();
    const { id } = await importSparkModel(store, d);
    expect(store.getModel(id).status).toBe('ready');
    expect(store.activeModelId()).toBe(before);
    const { id: id2 } = await importSparkModel(store, d, { activate: true });
    expect(store.activeModelId()).toBe(id2);
    const loaded = store.loadModel(id2).model;
    expect(loaded.recommend('9', { limit: 5 })).toEqual(implicitModel.recommend('9', { limit: 5 }));
  });
});

describe('refusals name the file and the row', () => {
  const base = (name: string) => fixture(name, implicitModel, { parts: 2 });
  const partsOf = (d: string, side: string) =>
    readdirSync(join(d, side))
      .filter((n) => n.endsWith('.parquet'))
      .sort()
      .map((n) => join(d, side, n));

  async function refusal(d: string): Promise<string> {
    const models = store.list().length;
    const err = await importSparkModel(store, d).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).not.toBeNull();
    expect(err!.name).toBe('InvalidInput');
    expect(store.list().length).toBe(models); // nothing saved
    return err!.message;
  }

  it('a factor of the wrong length', async () => {
    const d = base('short');
    const part = partsOf(d, 'itemFactors')[1]!;
    const ids = Int32Array.from([100, 101]);
    const feats = new Float32Array(8 * 2);
    writeFactorFile(part, ids, feats, 8);
    // Rewrite with one row one value short: a 7-wide second row is written as its own file.
    const bad = Int32Array.from([102]);
    writeFactorFile(join(d, 'itemFactors', 'part-00009-x-c000.snappy.parquet'), bad, new Float32Array(7), 7);
    const msg = await refusal(d);
    expect(msg).toContain('itemFactors/part-00009-x-c000.snappy.parquet: row 0 (id 102): features has 7 values');
  });

  it('an id twice', async () => {
    const d = base('twice');
    const [p0, p1] = partsOf(d, 'userFactors');
    writeFactorFile(p1!, Int32Array.from([5, 6]), new Float32Array(16), 8);
    writeFactorFile(p0!, Int32Array.from([1, 6]), new Float32Array(16), 8);
    const msg = await refusal(d);
    expect(msg).toMatch(/userFactors\/part-00001-\S+: row 1: id 6 appears twice \(first at userFactors\/part-00000-\S+ row 1\)/);
  });

  it('a rank that disagrees with the metadata', async () => {
    const d = base('rank');
    const file = join(d, 'metadata', 'part-00000');
    const meta = JSON.parse(readFileSync(file, 'utf8')) as { rank: number };
    meta.rank = 10;
    writeFileSync(file, JSON.stringify(meta));
    const msg = await refusal(d);
    expect(msg).toMatch(/userFactors\/part-00000-\S+: row 0 \(id \d+\): features has 8 values but metadata\/part-00000 says rank 10/);
  });

  it('ids absent from the maps', async () => {
    const d = base('absent');
    writeIdMap(
      join(d, 'users.parquet'),
      Array.from({ length: 59 }, (_, u) => `u${u}`),
    );
    writeIdMap(
      join(d, 'items.parquet'),
      Array.from({ length: 40 }, (_, i) => `i${i}`),
    );
    const msg = await refusal(d);
    expect(msg).toContain('userFactors: id 59 (row 59 in id order) is not in users.parquet');
  });

  it('missing parts: a part file gone (ids in the maps without factors) or no _SUCCESS', async () => {
    const d = base('missing');
    writeIdMap(
      join(d, 'users.parquet'),
      Array.from({ length: 60 }, (_, u) => `u${u}`),
    );
    writeIdMap(
      join(d, 'items.parquet'),
      Array.from({ length: 40 }, (_, i) => `i${i}`),
    );
    rmSync(partsOf(d, 'userFactors')[1]!);
    expect(await refusal(d)).toMatch(/userFactors: 30 of the 60 ids in users\.parquet have no factors .*part files are missing/);
    const d2 = base('unfinished');
    rmSync(join(d2, 'itemFactors', '_SUCCESS'));
    expect(await refusal(d2)).toMatch(/itemFactors: no _SUCCESS file/);
    const d3 = base('nofactors');
    rmSync(join(d3, 'userFactors'), { recursive: true });
    expect(await refusal(d3)).toContain('missing userFactors/');
  });

  it('metadata that is missing, of another class, or not JSON', async () => {
    const d = base('meta');
    const file = join(d, 'metadata', 'part-00000');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('recommendation.ALSModel', 'classification.LogisticRegressionModel'));
    expect(await refusal(d)).toMatch(/metadata\/part-00000: class is "org.apache.spark.ml.classification.LogisticRegressionModel"/);
    writeFileSync(file, '{oops');
    expect(await refusal(d)).toMatch(/metadata\/part-00000: line 1 is not JSON/);
    rmSync(file);
    expect(await refusal(d)).toContain('missing metadata/part-00000');
  });

  it('a non-finite feature, and a file that is not Parquet', async () => {
    const d = base('nan');
    const [p0] = partsOf(d, 'itemFactors');
    const f = new Float32Array(16);
    f[9] = NaN;
    writeFactorFile(p0!, Int32Array.from([0, 1]), f, 8);
    expect(await refusal(d)).toMatch(/itemFactors\/part-00000-\S+: row 1 \(id 1\): feature 1 is NaN/);
    const d2 = base('garbage');
    const [q0] = partsOf(d2, 'userFactors');
    appendFileSync(q0!, 'trailing garbage');
    expect(await refusal(d2)).toMatch(/userFactors\/part-00000-\S+: not a readable Parquet file/);
  });
});
