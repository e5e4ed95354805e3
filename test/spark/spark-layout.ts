/**
 * Writes model directories in the exact layout of Spark MLlib's ALSModel.save (no Spark on these
 * machines), and a small JavaScript stand-in for scripts/spark/train_als.py.
 *
 *   DIR/metadata/part-00000, .part-00000.crc, _SUCCESS, ._SUCCESS.crc
 *   DIR/userFactors/part-0000N-<uuid>-c000.snappy.parquet (+ .crc each), _SUCCESS, ._SUCCESS.crc
 *   DIR/itemFactors/…
 *
 * The factor files use Spark's physical schema (src/spark/parquet.ts FACTORS_SCHEMA: required
 * int32 id; optional group features (LIST) { repeated group list { required float element } }),
 * snappy-compressed, rows spread over several part files in a shuffled order as Spark's
 * partitions leave them.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fit } from '../../src/model/fit.js';
import type { Model } from '../../src/model/model.js';
import { mulberry32 } from '../../src/training/random.js';
import { readRatingsFile, writeFactorFile } from '../../src/spark/parquet.js';

/** A Hadoop checksum file's bytes: the "crc\0" magic, bytes per checksum, one CRC (content ignored by ridgerec). */
function crcBytes(): Buffer {
  const b = Buffer.alloc(12);
  b.write('crc\0', 0, 'latin1');
  b.writeUInt32BE(512, 4);
  return b;
}

function success(dir: string): void {
  writeFileSync(join(dir, '_SUCCESS'), '');
  writeFileSync(join(dir, '._SUCCESS.crc'), crcBytes());
}

export interface SideFactors {
  /** Spark's integer id of each row */
  readonly ids: Int32Array;
  /** row-major, ids.length × rank */
  readonly factors: Float32Array;
}

export interface SparkModelSpec {
  readonly rank: number;
  readonly users: SideFactors;
  readonly items: SideFactors;
  /** ALSModel paramMap entries (an ALSModel's own holds only column names; the layout also has the training ones) */
  readonly paramMap?: Record<string, unknown>;
  /** Part files per side (default 3). */
  readonly parts?: number;
  readonly seed?: number;
  readonly sparkVersion?: string;
}

/** Writes one side's part files: rows shuffled, dealt into `parts` files. */
function writeSide(dir: string, side: SideFactors, rank: number, parts: number, rand: () => number): void {
  mkdirSync(dir, { recursive: true });
  const n = side.ids.length;
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const uuid = 'a3f1c2d4-5b6e-4f70-8a91-0b2c3d4e5f60';
  for (let p = 0; p < parts; p++) {
    const rows = order.filter((_, r) => r % parts === p);
    const ids = Int32Array.from(rows, (r) => side.ids[r]!);
    const feats = new Float32Array(rows.length * rank);
    rows.forEach((r, q) => feats.set(side.factors.subarray(r * rank, (r + 1) * rank), q * rank));
    const name = `part-${String(p).padStart(5, '0')}-${uuid}-c000.snappy.parquet`;
    writeFactorFile(join(dir, name), ids, feats, rank);
    writeFileSync(join(dir, `.${name}.crc`), crcBytes());
  }
  success(dir);
}

/** Writes a whole ALSModel directory. */
export function writeSparkModel(dir: string, spec: SparkModelSpec): void {
  const rand = mulberry32(spec.seed ?? 7);
  const parts = spec.parts ?? 3;
  const meta = join(dir, 'metadata');
  mkdirSync(meta, { recursive: true });
  const line = {
    class: 'org.apache.spark.ml.recommendation.ALSModel',
    timestamp: Date.now(),
    sparkVersion: spec.sparkVersion ?? '3.5.1',
    uid: 'ALS_4b1e0f6c2a7d',
    paramMap: { userCol: 'user_id', itemCol: 'item_id', predictionCol: 'prediction', coldStartStrategy: 'drop', ...spec.paramMap },
    defaultParamMap: { blockSize: 4096, predictionCol: 'prediction', coldStartStrategy: 'nan', userCol: 'user', itemCol: 'item' },
    rank: spec.rank,
  };
  writeFileSync(join(meta, 'part-00000'), `${JSON.stringify(line)}\n`);
  writeFileSync(join(meta, '.part-00000.crc'), crcBytes());
  success(meta);
  writeSide(join(dir, 'userFactors'), spec.users, spec.rank, parts, rand);
  writeSide(join(dir, 'itemFactors'), spec.items, spec.rank, parts, rand);
}

/**
 * A ridgerec model's factors as Spark would hold them (ids = the integers its string ids spell, or
 * row numbers). Spark's prediction is u·v with no bias: an explicit model's μ + b_u + b_i is
 * carried by two extra columns, u' = [p_u, μ + b_u, 1], v' = [q_i, 1, b_i], so u'·v' = r̂_ui exactly
 * (up to float32 rounding of the sum); implicit models are written as they are.
 */
export function sparkFactorsOf(model: Model, ids: 'numeric' | 'rows' = 'numeric'): Pick<SparkModelSpec, 'rank' | 'users' | 'items'> {
  const k = model.factors;
  const explicit = model.userBias !== null;
  const rank = explicit ? k + 2 : k;
  const side = (names: readonly string[], f: Float32Array, bias: Float32Array | null, user: boolean): SideFactors => {
    const n = names.length;
    const out = new Float32Array(n * rank);
    for (let r = 0; r < n; r++) {
      out.set(f.subarray(r * k, (r + 1) * k), r * rank);
      if (explicit) {
        out[r * rank + k] = user ? model.globalMean + bias![r]! : 1;
        out[r * rank + k + 1] = user ? 1 : bias![r]!;
      }
    }
    return { ids: Int32Array.from(names, (id, r) => (ids === 'numeric' ? Number(id) : r)), factors: out };
  };
  return {
    rank,
    users: side(model.userIds, model.userFactors, model.userBias, true),
    items: side(model.itemIds, model.itemFactors, model.itemBias, false),
  };
}

export interface StandInOptions {
  readonly feedback: 'explicit' | 'implicit';
  readonly factors: number;
  readonly lambda: number;
  readonly alpha?: number;
  readonly iterations: number;
  readonly parts?: number;
}

/**
 * The stand-in for `spark-submit scripts/spark/train_als.py EXPORT OUT`: reads the export's
 * ratings.parquet, fits with ridgerec's own `fit` using Spark's λ semantics (count-scaled: λ·n per
 * row), writes the factors in ALSModel's layout keyed by the export's integer ids, and copies the
 * id maps and the export's manifest beside the model, as train_als.py does.
 */
export async function standInTrain(exportDir: string, outDir: string, o: StandInOptions): Promise<Model> {
  const r = await readRatingsFile(join(exportDir, 'ratings.parquet'));
  const triples: [string, string, number][] = new Array(r.users.length);
  for (let e = 0; e < r.users.length; e++) triples[e] = [String(r.users[e]), String(r.items[e]), r.values[e]!];
  const model = await fit(
    triples.map(([user, item, value]) => ({ user, item, value })),
    {
      feedback: o.feedback,
      factors: o.factors,
      lambda: o.lambda,
      lambdaScaling: 'count',
      alpha: o.alpha ?? (o.feedback === 'implicit' ? 1 : 0),
      iterations: o.iterations,
      seed: 1,
      threads: 1,
    },
  );
  writeSparkModel(outDir, {
    ...sparkFactorsOf(model),
    parts: o.parts ?? 4,
    paramMap: { implicitPrefs: o.feedback === 'implicit', alpha: o.alpha ?? 1, regParam: o.lambda, maxIter: o.iterations },
  });
  for (const f of ['users.parquet', 'items.parquet', 'export.json']) {
    if (existsSync(join(exportDir, f))) copyFileSync(join(exportDir, f), join(outDir, f));
  }
  return model;
}
