import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connection.js';
import { Model } from '../../src/model/model.js';
import { activeModelId, saveModel } from '../../src/model/registry.js';
import { openStore } from '../../src/store/store.js';
import { DEFAULT_PARAMS } from '../../src/training/params.js';
import { runInProcess } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { sparkFactorsOf, writeSparkModel } from '../spark/spark-layout.js';

let dir: string;
let cleanup: () => void;
let dbPath: string;

function tinyModel(lambda: number): Model {
  return new Model({
    params: { ...DEFAULT_PARAMS.explicit, factors: 1, lambda },
    factors: 1,
    nUsers: 1,
    nItems: 2,
    globalMean: 3,
    metrics: {},
    history: [],
    createdAt: new Date().toISOString(),
    userIds: ['alice'],
    itemIds: ['a', 'b'],
    userFactors: Float32Array.from([1]),
    itemFactors: Float32Array.from([0.5, -0.5]),
    userBias: Float32Array.from([0]),
    itemBias: Float32Array.from([0, 0]),
    userItems: { indptr: Int32Array.from([0, 1]), indices: Int32Array.from([0]) },
  });
}

beforeEach(() => {
  ({ dir, cleanup } = tempDir('ridgerec-models-cli-'));
  dbPath = join(dir, 'r.db');
  // Three models: 1 active, 2 ready (with metrics), 3 retired with a reason.
  const db = openDatabase(dbPath);
  saveModel(db, tinyModel(0.1), { activate: true });
  saveModel(db, tinyModel(0.2), { metrics: { rmse: 0.91234567 } });
  saveModel(db, tinyModel(0.3), { status: 'retired', reason: 'rmse 0.95 worse than active 0.91' });
  db.close();
});
afterEach(() => cleanup());

function active(): number | null {
  const db = openDatabase(dbPath);
  try {
    return activeModelId(db);
  } finally {
    db.close();
  }
}

describe('ridgerec models', () => {
  it('list --json: every model oldest first, and the active id', async () => {
    const r = await runInProcess(['models', 'list', '--db', dbPath, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      models: { id: number; status: string; reason: string | null; metrics: object; params: { lambda: number } }[];
      activeModel: number;
    };
    expect(out.activeModel).toBe(1);
    expect(out.models.map((m) => [m.id, m.status, m.params.lambda])).toEqual([
      [1, 'active', 0.1],
      [2, 'ready', 0.2],
      [3, 'retired', 0.3],
    ]);
    expect(out.models[1]!.metrics).toEqual({ rmse: 0.91234567 });
    expect(out.models[2]!.reason).toBe('rmse 0.95 worse than active 0.91');
  });

  it('list (human): a table with the active marker, metrics and reason', async () => {
    const r = await runInProcess(['models', 'list', '--db', dbPath]);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^id +status +feedback +created +factors +λ +users +items +metrics +reason$/);
    expect(lines[1]).toMatch(/^1 +active \* +explicit /);
    expect(lines[2]).toMatch(/rmse=0\.9123/);
    expect(lines[3]).toMatch(/retired .*rmse 0\.95 worse than active 0\.91$/);
  });

  it('activate ID and rollback walk the activation history; the JSON names both ids', async () => {
    let r = await runInProcess(['models', 'activate', '3', '--db', dbPath, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ activated: 3, previous: 1 });
    expect(active()).toBe(3);
    r = await runInProcess(['models', 'activate', '2', '--db', dbPath]);
    expect(r.stdout).toBe('model 2 is now the active model (was 3)\n');
    r = await runInProcess(['models', 'rollback', '--db', dbPath, '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ activated: 3, previous: 2 });
    r = await runInProcess(['models', 'rollback', '--db', dbPath]);
    expect(r.stdout).toBe('rolled back: model 1 is now the active model (was 3)\n');
    expect(active()).toBe(1);
    r = await runInProcess(['models', 'rollback', '--db', dbPath]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('ridgerec: no previously active model to roll back to\n');
    expect(active()).toBe(1);
  });

  it('exits 2 for an unknown or malformed id, changing nothing', async () => {
    let r = await runInProcess(['models', 'activate', '99', '--db', dbPath]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/model 99 does not exist/);
    r = await runInProcess(['models', 'activate', 'two', '--db', dbPath]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ID must be an integer/);
    r = await runInProcess(['models', 'activate', '--db', dbPath]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing required argument 'id'/);
    expect(active()).toBe(1);
  });

  it('list on a fresh database says there are no models', async () => {
    const r = await runInProcess(['models', 'list', '--db', join(dir, 'empty.db')]);
    expect(r.stdout).toMatch(/no models yet/);
    const j = await runInProcess(['models', 'list', '--db', join(dir, 'empty.db'), '--json']);
    expect(JSON.parse(j.stdout)).toEqual({ models: [], activeModel: null });
  });

  it('export ID FILE writes the stored bytes; import FILE into another database is byte-identical and answers the same', async () => {
    const file = join(dir, 'm2.ridgerec');
    const ex = await runInProcess(['models', 'export', '2', file, '--db', dbPath, '--json']);
    expect(ex.code).toBe(0);
    expect(JSON.parse(ex.stdout)).toMatchObject({ model: 2, bytes: readFileSync(file).length });
    expect(Model.load(file).params.lambda).toBe(0.2);

    const other = join(dir, 'other.db');
    const im = await runInProcess(['models', 'import', file, '--db', other, '--activate', '--json']);
    expect(im.code).toBe(0);
    expect(JSON.parse(im.stdout)).toMatchObject({ model: 1, activated: true, feedback: 'explicit', nUsers: 1, nItems: 2 });
    const again = join(dir, 'again.ridgerec');
    expect((await runInProcess(['models', 'export', '1', again, '--db', other])).code).toBe(0);
    expect(readFileSync(again).equals(readFileSync(file))).toBe(true);
    const a = openStore(dbPath);
    const b = openStore(other);
    try {
      expect(b.activeModel()!.model.recommend('alice', { includeRated: true })).toEqual(
        a.loadModel(2).model.recommend('alice', { includeRated: true }),
      );
    } finally {
      a.close();
      b.close();
    }
  });

  it('import refuses a file that is not a model file (exit 2) and saves nothing; export of an unknown id exits 2', async () => {
    const bad = join(dir, 'bad.ridgerec');
    writeFileSync(bad, 'not a model');
    const r = await runInProcess(['models', 'import', bad, '--db', dbPath]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a valid ridgerec model file/);
    const missing = await runInProcess(['models', 'import', join(dir, 'absent.ridgerec'), '--db', dbPath]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read model file/);
    const list = JSON.parse((await runInProcess(['models', 'list', '--db', dbPath, '--json'])).stdout) as { models: unknown[] };
    expect(list.models).toHaveLength(3);
    const unknown = await runInProcess(['models', 'export', '99', join(dir, 'x.ridgerec'), '--db', dbPath]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/model 99 does not exist/);
  });
});

describe('ridgerec models import-spark', () => {
  /** A Spark ALSModel directory of an implicit model over alice, bob and three items, with the id maps. */
  function sparkDir(name: string): { path: string; model: Model } {
    const model = new Model({
      params: { ...DEFAULT_PARAMS.implicit, factors: 2, lambdaScaling: 'count', lambda: 0.5 },
      factors: 2,
      nUsers: 2,
      nItems: 3,
      globalMean: 0,
      metrics: {},
      history: [],
      createdAt: new Date().toISOString(),
      userIds: ['0', '1'],
      itemIds: ['0', '1', '2'],
      userFactors: Float32Array.from([1, 0, 0, 1]),
      itemFactors: Float32Array.from([0.9, 0.1, 0.2, 0.8, 0.5, 0.5]),
      userBias: null,
      itemBias: null,
      userItems: { indptr: Int32Array.from([0, 0, 0]), indices: new Int32Array(0) },
    });
    const path = join(dir, name);
    writeSparkModel(path, { ...sparkFactorsOf(model), parts: 2, paramMap: { implicitPrefs: true, alpha: 2, regParam: 0.5, maxIter: 7 } });
    return { path, model };
  }

  it('saves the Spark model, not active unless --activate, and prints one JSON object', async () => {
    const { path } = sparkDir('als');
    const r = await runInProcess(['models', 'import-spark', path, '--db', dbPath, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      model: number;
      activated: boolean;
      feedback: string;
      factors: number;
      nUsers: number;
      nItems: number;
      params: Record<string, unknown>;
    };
    expect(out).toMatchObject({ model: 4, activated: false, feedback: 'implicit', factors: 2, nUsers: 2, nItems: 3 });
    expect(out.params).toMatchObject({ lambda: 0.5, lambdaScaling: 'count', alpha: 2, iterations: 7, solver: 'cholesky' });
    expect(active()).toBe(1);
    const again = await runInProcess(['models', 'import-spark', path, '--activate', '--db', dbPath]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(
      /imported Spark model .* as model 5 \(implicit, rank 2, regParam 0.5, alpha 2; 2 users × 3 items\).*it is now the active model/,
    );
    expect(active()).toBe(5);
    const store = openStore(dbPath);
    try {
      // user 0 = (1, 0): item 0 scores 0.9, item 2 0.5, item 1 0.2 (no rated items in this store for "0").
      expect(
        store
          .activeModel()!
          .model.recommend('0', { limit: 3 })
          .items.map((x) => x.item),
      ).toEqual(['0', '2', '1']);
    } finally {
      store.close();
    }
  });

  it('refuses a directory that is not a Spark model (exit 2) and saves nothing', async () => {
    const r = await runInProcess(['models', 'import-spark', join(dir, 'nothing-here'), '--db', dbPath]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no such directory');
    const { path } = sparkDir('broken');
    writeFileSync(join(path, 'metadata', 'part-00000'), JSON.stringify({ class: 'org.apache.spark.ml.recommendation.ALSModel', rank: 3 }));
    const bad = await runInProcess(['models', 'import-spark', path, '--db', dbPath]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/userFactors\/part-00000-\S+: row 0 \(id \d\): features has 2 values but metadata\/part-00000 says rank 3/);
    const list = JSON.parse((await runInProcess(['models', 'list', '--db', dbPath, '--json'])).stdout) as { models: unknown[] };
    expect(list.models).toHaveLength(3);
  });
});
