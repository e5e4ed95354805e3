/**
 * Parquet reading and writing for the Spark interchange (hyparquet and hyparquet-writer: pure
 * JavaScript, snappy built in, nested LIST columns in both directions).
 *
 * The physical schemas are the ones Spark itself writes (ParquetSchemaConverter, standard — not
 * legacy — list layout), so Spark reads what ridgerec writes and ridgerec reads what Spark writes:
 *
 *   ratings:      required int32 user_id; required int32 item_id; required float value; required int64 ts
 *   id maps:      required int32 id; optional binary external (UTF8)
 *   ALS factors:  required int32 id;
 *                 optional group features (LIST) { repeated group list { required float element; } }
 *
 * (a Dataset[(Int, Array[Float])] has a non-nullable id and a nullable array of non-nullable
 * floats: `array<float>` with containsNull = false.)
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { parquetMetadata, parquetRead, parquetSchema } from 'hyparquet';
import type { FileMetaData, SchemaElement, SchemaTree } from 'hyparquet';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import { invalidInput } from '../errors.js';

/** The key under which Spark stores a file's Catalyst schema (read back by Spark as the column types). */
const SPARK_ROW_METADATA = 'org.apache.spark.sql.parquet.row.metadata';

function sparkRowMetadata(fields: readonly { name: string; type: unknown; nullable: boolean }[]): { key: string; value: string } {
  return {
    key: SPARK_ROW_METADATA,
    value: JSON.stringify({ type: 'struct', fields: fields.map((f) => ({ ...f, metadata: {} })) }),
  };
}

export const RATINGS_SCHEMA: SchemaElement[] = [
  { name: 'spark_schema', num_children: 4 },
  { name: 'user_id', type: 'INT32', repetition_type: 'REQUIRED' },
  { name: 'item_id', type: 'INT32', repetition_type: 'REQUIRED' },
  { name: 'value', type: 'FLOAT', repetition_type: 'REQUIRED' },
  { name: 'ts', type: 'INT64', repetition_type: 'REQUIRED' },
];

const RATINGS_SPARK = sparkRowMetadata([
  { name: 'user_id', type: 'integer', nullable: false },
  { name: 'item_id', type: 'integer', nullable: false },
  { name: 'value', type: 'float', nullable: false },
  { name: 'ts', type: 'long', nullable: false },
]);

export const ID_MAP_SCHEMA: SchemaElement[] = [
  { name: 'spark_schema', num_children: 2 },
  { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
  { name: 'external', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
];

const ID_MAP_SPARK = sparkRowMetadata([
  { name: 'id', type: 'integer', nullable: false },
  { name: 'external', type: 'string', nullable: true },
]);

/** Spark's physical schema of ALSModel's userFactors / itemFactors. */
export const FACTORS_SCHEMA: SchemaElement[] = [
  { name: 'spark_schema', num_children: 2 },
  { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
  { name: 'features', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
];

const FACTORS_SPARK = sparkRowMetadata([
  { name: 'id', type: 'integer', nullable: false },
  { name: 'features', type: { type: 'array', elementType: 'float', containsNull: false }, nullable: true },
]);

/**
 * A file writer for hyparquet-writer that appends to a file descriptor whenever its buffer passes
 * 4 MiB, so a file of any size is written with bounded memory.
 */
function fdWriter(path: string): ByteWriter & { close(): void } {
  const fd = openSync(path, 'w');
  const w = new ByteWriter() as ByteWriter & { close(): void };
  const FLUSH_AT = 4 << 20;
  let closed = false;
  const flush = (): void => {
    if (w.index > 0) writeSync(fd, new Uint8Array(w.buffer, 0, w.index));
    w.index = 0;
  };
  const ensure = w.ensure.bind(w);
  w.ensure = (size: number): void => {
    if (w.index > FLUSH_AT) flush();
    ensure(size);
  };
  w.finish = (): void => {
    flush();
    if (!closed) closeSync(fd);
    closed = true;
  };
  w.close = (): void => {
    if (!closed) closeSync(fd);
    closed = true;
  };
  w.getBuffer = () => {
    throw new Error('fdWriter streams to a file');
  };
  return w;
}

/** Streams ratings into one Parquet file, one row group per `add` call. */
export class RatingsParquetWriter {
  readonly #out: ReturnType<typeof fdWriter>;
  readonly #writer: ParquetWriter;
  rows = 0;

  constructor(path: string) {
    this.#out = fdWriter(path);
    this.#writer = new ParquetWriter({
      writer: this.#out,
      schema: RATINGS_SCHEMA,
      codec: 'SNAPPY',
      statistics: false,
      kvMetadata: [RATINGS_SPARK],
      createdBy: 'ridgerec',
    });
  }

  /** Appends n rows (the first n entries of each array) as one row group. */
  add(users: Int32Array, items: Int32Array, values: Float32Array, ts: BigInt64Array, n: number): void {
    if (n === 0) return;
    void this.#writer.write({
      columnData: [
        { name: 'user_id', data: users.subarray(0, n) },
        { name: 'item_id', data: items.subarray(0, n) },
        { name: 'value', data: values.subarray(0, n) },
        { name: 'ts', data: ts.subarray(0, n) },
      ],
      rowGroupSize: n,
    });
    this.rows += n;
  }

  finish(): void {
    void this.#writer.finish();
  }

  /** Closes the file after a failure (the caller removes it). */
  abort(): void {
    this.#out.close();
  }
}

/** Writes an id map: row r is (r, ids[r]). */
export function writeIdMap(path: string, ids: readonly string[]): void {
  const out = fdWriter(path);
  try {
    const w = new ParquetWriter({
      writer: out,
      schema: ID_MAP_SCHEMA,
      statistics: false,
      kvMetadata: [ID_MAP_SPARK],
      createdBy: 'ridgerec',
    });
    const id = new Int32Array(ids.length);
    for (let r = 0; r < ids.length; r++) id[r] = r;
    void w.write({
      columnData: [
        { name: 'id', data: id },
        { name: 'external', data: ids as string[] },
      ],
      rowGroupSize: 1 << 20,
    });
    void w.finish();
  } finally {
    out.close();
  }
}

/**
 * Writes factor rows in Spark's ALSModel layout (FACTORS_SCHEMA, snappy) to one part file:
 * ids[r] with features[r·k, (r+1)·k).
 */
export function writeFactorFile(path: string, ids: Int32Array, features: Float32Array, k: number): void {
  const out = fdWriter(path);
  try {
    const w = new ParquetWriter({
      writer: out,
      schema: FACTORS_SCHEMA,
      codec: 'SNAPPY',
      kvMetadata: [FACTORS_SPARK],
      createdBy: 'ridgerec',
    });
    const rows: number[][] = new Array(ids.length);
    for (let r = 0; r < ids.length; r++) rows[r] = Array.from(features.subarray(r * k, (r + 1) * k));
    void w.write({
      columnData: [
        { name: 'id', data: ids },
        { name: 'features', data: rows },
      ],
      rowGroupSize: 1 << 20,
    });
    void w.finish();
  } finally {
    out.close();
  }
}

function readBytes(path: string): ArrayBuffer {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** A Parquet file's footer; a file that is not Parquet is refused naming it. */
export function readMetadata(path: string, file: ArrayBuffer): FileMetaData {
  try {
    return parquetMetadata(file);
  } catch (e) {
    throw invalidInput(`${path}: not a readable Parquet file (${(e as Error).message})`);
  }
}

/** The given columns of every row, as arrays in the order of `columns`. */
async function readRows(file: ArrayBuffer, metadata: FileMetaData, columns: string[]): Promise<unknown[][]> {
  let rows: unknown[][] = [];
  await parquetRead({ file, metadata, columns, rowFormat: 'array', onComplete: (r: unknown[][]) => (rows = r) });
  return rows;
}

function child(tree: SchemaTree, name: string): SchemaTree | undefined {
  return tree.children.find((c) => c.element.name === name);
}

function isInt32(t: SchemaTree | undefined): boolean {
  return t !== undefined && t.children.length === 0 && t.element.type === 'INT32';
}

/**
 * Reads a factors part file: `id int` and `features array<float>` (three-level LIST; the legacy
 * two-level form is refused). Returns the ids and the feature lists as they are (lengths checked
 * by the caller, which knows the rank).
 */
export async function readFactorFile(path: string): Promise<{ ids: Int32Array; features: (ArrayLike<number> | null)[] }> {
  const file = readBytes(path);
  const metadata = readMetadata(path, file);
  const tree = parquetSchema(metadata);
  const id = child(tree, 'id');
  const features = child(tree, 'features');
  if (!isInt32(id)) throw invalidInput(`${path}: no int32 column "id" (columns: ${tree.children.map((c) => c.element.name).join(', ')})`);
  const list = features?.children.length === 1 ? features.children[0] : undefined;
  const element = list?.children.length === 1 ? list.children[0] : undefined;
  if (
    !features ||
    features.element.converted_type !== 'LIST' ||
    list?.element.repetition_type !== 'REPEATED' ||
    !element ||
    element.children.length > 0 ||
    element.element.type !== 'FLOAT'
  ) {
    throw invalidInput(
      `${path}: column "features" must be array<float> in Parquet's three-level LIST encoding ` +
        '(optional group features (LIST) { repeated group list { float element; } }), as Spark writes it',
    );
  }
  const rows = await readRows(file, metadata, ['id', 'features']);
  const ids = new Int32Array(rows.length);
  const feats = new Array<ArrayLike<number> | null>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    ids[r] = rows[r]![0] as number;
    feats[r] = (rows[r]![1] as ArrayLike<number> | null | undefined) ?? null;
  }
  return { ids, features: feats };
}

/** Reads an id map written by writeIdMap (or by Spark with the same columns). */
export async function readIdMap(path: string): Promise<{ ids: Int32Array; external: (string | null)[] }> {
  const file = readBytes(path);
  const metadata = readMetadata(path, file);
  const tree = parquetSchema(metadata);
  const ext = child(tree, 'external');
  if (!isInt32(child(tree, 'id')) || !ext || ext.element.type !== 'BYTE_ARRAY') {
    throw invalidInput(`${path}: an id map needs columns "id int" and "external string"`);
  }
  const rows = await readRows(file, metadata, ['id', 'external']);
  return {
    ids: Int32Array.from(rows, (r) => r[0] as number),
    external: rows.map((r) => (r[1] as string | null | undefined) ?? null),
  };
}

/** Reads a ratings file (tests, and checking an export). */
export async function readRatingsFile(
  path: string,
): Promise<{ users: Int32Array; items: Int32Array; values: Float32Array; ts: BigInt64Array }> {
  const file = readBytes(path);
  const metadata = readMetadata(path, file);
  const rows = await readRows(file, metadata, ['user_id', 'item_id', 'value', 'ts']);
  return {
    users: Int32Array.from(rows, (r) => r[0] as number),
    items: Int32Array.from(rows, (r) => r[1] as number),
    values: Float32Array.from(rows, (r) => r[2] as number),
    ts: BigInt64Array.from(rows, (r) => r[3] as bigint),
  };
}
