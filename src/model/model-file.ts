/**
 * The portable model file: one self-describing byte string that Model.save writes, Model.load
 * reads and the model registry stores as its blob. It is data, not code: any tool that reads
 * little-endian arrays can load it from this layout.
 *
 *   offset 0   8 bytes   magic "RIDGEREC"
 *   offset 8   uint32    format version (the oldest that reads the file, see below)
 *   offset 12  uint32    H, the byte length of the JSON header
 *   offset 16  H bytes   JSON header (UTF-8), see ModelFileHeader
 *   then       arrays, each starting at a multiple of 64 bytes from the start of the file, at the
 *              offsets the header's `arrays` table gives; zero bytes pad the header and the gaps.
 *
 * Every array is little-endian and 64-byte aligned, so a loader takes typed-array views over one
 * read buffer without copying. Arrays (n = nUsers, m = nItems, k = factors, e = header.nnz):
 *   userFactors        float32 n·k   row-major: user u's factors at [u·k, (u+1)·k)
 *   itemFactors        float32 m·k
 *   userBias, itemBias float32 n, m  explicit models only
 *   userIdOffsets      int32   n+1   user u's id is the UTF-8 bytes [off[u], off[u+1]) of userIdBytes
 *   userIdBytes        uint8
 *   itemIdOffsets      int32   m+1
 *   itemIdBytes        uint8
 *   userItemsIndptr    int32   n+1   each training user's rated items (CSR without values):
 *   userItemsIndices   uint16 when m ≤ 65,536, else int32; e entries, ascending within a row
 *   userItemsValues    uint8 when every rating is a whole number in 0..255 (star ratings: a
 *                      quarter of the float32 bytes), else float32; e entries: the rating of each
 *                      of those entries (optional: explanations of a known user need it)
 *
 * The version in the prefix and the header is the oldest format that reads the file: 2 when the
 * values are uint8 (version 1 readers know only float32 values), else 1.
 */
import { invalidInput } from '../errors.js';
import type { IterationStats, TrainParams } from '../training/params.js';

export const MAGIC = 'RIDGEREC';
export const FORMAT_NAME = 'ridgerec-model';
/** The newest format version this code reads and writes. */
export const FORMAT_VERSION = 2;
const PREFIX_BYTES = 16;
const ALIGN = 64;

export type ArrayDtype = 'float32' | 'int32' | 'uint16' | 'uint8';
type TypedArray = Float32Array | Int32Array | Uint16Array | Uint8Array;

export interface ArrayEntry {
  readonly dtype: ArrayDtype;
  /** Byte offset from the start of the file (a multiple of 64). */
  readonly offset: number;
  /** Number of elements. */
  readonly length: number;
}

export const ARRAY_NAMES = [
  'userFactors',
  'itemFactors',
  'userBias',
  'itemBias',
  'userIdOffsets',
  'userIdBytes',
  'itemIdOffsets',
  'itemIdBytes',
  'userItemsIndptr',
  'userItemsIndices',
  'userItemsValues',
] as const;
export type ArrayName = (typeof ARRAY_NAMES)[number];

/** The JSON header. Arrays absent from `arrays` (the biases of an implicit model) are null. */
export interface ModelFileHeader {
  readonly format: typeof FORMAT_NAME;
  readonly version: number;
  readonly feedback: TrainParams['feedback'];
  readonly params: TrainParams;
  readonly factors: number;
  readonly nUsers: number;
  readonly nItems: number;
  /** Entries of userItemsIndices: the training ratings. */
  readonly nnz: number;
  /** Element type of the factors and biases. */
  readonly dtype: 'float32';
  /** μ, the mean training rating of an explicit model (0 for implicit). */
  readonly globalMean: number;
  readonly metrics: Readonly<Record<string, unknown>>;
  /** Loss per ALS iteration, as training reported it (empty for imported models). */
  readonly history: readonly IterationStats[];
  readonly createdAt: string;
  /** Total bytes of the file: a shorter buffer is truncated. */
  readonly byteLength: number;
  readonly arrays: Readonly<Partial<Record<ArrayName, ArrayEntry>>>;
}

/** What goes into a file besides the header fields derived from it. */
export interface ModelFileContents {
  readonly params: TrainParams;
  readonly factors: number;
  readonly nUsers: number;
  readonly nItems: number;
  readonly globalMean: number;
  readonly metrics: Readonly<Record<string, unknown>>;
  readonly history: readonly IterationStats[];
  readonly createdAt: string;
  readonly userIds: readonly string[];
  readonly itemIds: readonly string[];
  readonly userFactors: Float32Array;
  readonly itemFactors: Float32Array;
  readonly userBias: Float32Array | null;
  readonly itemBias: Float32Array | null;
  readonly userItems: UserItems;
}

/** Each training user's rated items as CSR: values are optional (models imported from elsewhere may lack them). */
export interface UserItems {
  readonly indptr: Int32Array;
  readonly indices: Int32Array | Uint16Array;
  readonly values?: Float32Array | null;
}

const align = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

function dtypeOf(a: TypedArray): ArrayDtype {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint16Array) return 'uint16';
  return 'uint8';
}

type ArrayCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray; readonly BYTES_PER_ELEMENT: number };
const CTOR: Record<ArrayDtype, ArrayCtor> = { float32: Float32Array, int32: Int32Array, uint16: Uint16Array, uint8: Uint8Array };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The ratings as uint8 when every one is a whole number in 0..255 (the values are exact in both
 * types, so the file reads back the same float32 values), else as they are.
 */
function compactValues(values: Float32Array): Float32Array | Uint8Array {
  for (let e = 0; e < values.length; e++) {
    const v = values[e]!;
    if (!(v >= 0 && v <= 255 && v === Math.floor(v))) return values;
  }
  return Uint8Array.from(values);
}

/**
 * Id list → (int32 byte offsets, UTF-8 bytes). All-ASCII ids (the usual case) are joined and
 * written once as Latin-1, their character offsets being their byte offsets; otherwise each id is
 * encoded alone.
 */
function encodeIds(ids: readonly string[]): { offsets: Int32Array; bytes: Uint8Array } {
  const offsets = new Int32Array(ids.length + 1);
  const joined = ids.join('');
  // UTF-8 takes one byte per character exactly when every character is ASCII.
  if (Buffer.byteLength(joined, 'utf8') === joined.length) {
    for (let j = 0, at = 0; j < ids.length; j++) offsets[j + 1] = at += ids[j]!.length;
    return { offsets, bytes: Buffer.from(joined, 'latin1') };
  }
  const parts: Buffer[] = new Array(ids.length);
  let total = 0;
  for (let j = 0; j < ids.length; j++) {
    // UTF-8 cannot hold a lone surrogate (Buffer.from would turn it into U+FFFD and merge ids).
    if (LONE_SURROGATE.test(ids[j]!))
      throw invalidInput(`id ${JSON.stringify(ids[j])} (entry ${j}) is not valid UTF-16: it has a lone surrogate`);
    const b = Buffer.from(ids[j]!, 'utf8');
    parts[j] = b;
    total += b.length;
    offsets[j + 1] = total;
  }
  if (total > 0x7fffffff) throw invalidInput(`the ids take ${total} bytes of UTF-8, more than a model file holds (2 GiB)`);
  return { offsets, bytes: Buffer.concat(parts, total) };
}

/**
 * (offsets, bytes) → id list. All-ASCII bytes (the usual case) are decoded once as Latin-1 and
 * sliced by the offsets, which are then character offsets too; otherwise each id is decoded alone.
 */
function decodeIds(offsets: Int32Array, bytes: Uint8Array, what: string): string[] {
  const n = offsets.length - 1;
  if (offsets[0] !== 0 || offsets[n] !== bytes.length) throw corrupt(`${what} offsets do not span its bytes`);
  for (let j = 0; j < n; j++) if (offsets[j + 1]! < offsets[j]!) throw corrupt(`${what} offsets decrease at entry ${j}`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ids = new Array<string>(n);
  let ascii = true;
  for (let b = 0; b < bytes.length; b++) {
    if (bytes[b]! > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    const text = buf.toString('latin1');
    for (let j = 0; j < n; j++) ids[j] = text.slice(offsets[j], offsets[j + 1]);
  } else {
    for (let j = 0; j < n; j++) ids[j] = buf.toString('utf8', offsets[j], offsets[j + 1]);
  }
  return ids;
}

function corrupt(message: string): Error {
  return invalidInput(`not a valid ridgerec model file: ${message}`, undefined, 'model_file_invalid');
}

/** Writes the file into one Buffer. */
export function encodeModelFile(c: ModelFileContents): Buffer {
  const users = encodeIds(c.userIds);
  const items = encodeIds(c.itemIds);
  const indices = c.userItems.indices;
  const values = c.userItems.values;
  if (values && values.length !== indices.length)
    throw invalidInput(`userItems.values has ${values.length} entries for ${indices.length} indices`);
  for (let e = 0; e < indices.length; e++) {
    const i = indices[e]!;
    if (!(i >= 0 && i < c.nItems)) throw invalidInput(`userItems.indices[${e}] = ${i} is outside 0..${c.nItems - 1}`);
  }
  const arrays: [ArrayName, TypedArray | null][] = [
    ['userFactors', c.userFactors],
    ['itemFactors', c.itemFactors],
    ['userBias', c.userBias],
    ['itemBias', c.itemBias],
    ['userIdOffsets', users.offsets],
    ['userIdBytes', users.bytes],
    ['itemIdOffsets', items.offsets],
    ['itemIdBytes', items.bytes],
    ['userItemsIndptr', c.userItems.indptr],
    ['userItemsIndices', c.nItems <= 0x10000 && !(indices instanceof Uint16Array) ? Uint16Array.from(indices) : indices],
    ['userItemsValues', values ? compactValues(values) : null],
  ];
  const version = arrays.at(-1)![1] instanceof Uint8Array ? 2 : 1;
  const base = {
    format: FORMAT_NAME,
    version,
    feedback: c.params.feedback,
    params: c.params,
    factors: c.factors,
    nUsers: c.nUsers,
    nItems: c.nItems,
    nnz: indices.length,
    dtype: 'float32' as const,
    globalMean: c.globalMean,
    metrics: c.metrics,
    history: c.history,
    createdAt: c.createdAt,
  };
  // The header holds the array offsets, which depend on the header's own length: lay the arrays
  // out after a header with room to spare (offsets padded to 12 digits), then pad the JSON with
  // spaces to exactly that room.
  const table: Partial<Record<ArrayName, ArrayEntry>> = {};
  const draftArrays: Partial<Record<ArrayName, ArrayEntry>> = {};
  for (const [name, a] of arrays) if (a) draftArrays[name] = { dtype: dtypeOf(a), offset: 1e11, length: a.length };
  const draft = Buffer.byteLength(JSON.stringify({ ...base, byteLength: 1e11, arrays: draftArrays }), 'utf8');
  let at = align(PREFIX_BYTES + draft);
  const headerRoom = at - PREFIX_BYTES;
  for (const [name, a] of arrays) {
    if (!a) continue;
    table[name] = { dtype: dtypeOf(a), offset: at, length: a.length };
    at = align(at + a.byteLength);
  }
  const last = arrays.filter(([, a]) => a !== null).at(-1)!;
  const byteLength = table[last[0]]!.offset + last[1]!.byteLength;
  const json = JSON.stringify({ ...base, byteLength, arrays: table });
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  if (jsonBytes > headerRoom) throw new Error(`model file header grew past its room (${jsonBytes} > ${headerRoom})`);
  const out = Buffer.alloc(byteLength);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(version, 8);
  out.writeUInt32LE(jsonBytes, 12);
  out.write(json, PREFIX_BYTES, 'utf8');
  for (const [name, a] of arrays) {
    if (!a) continue;
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), table[name]!.offset);
  }
  return out;
}

/** Ratings stored as uint8 (compactValues) back to the float32 the model computes with. */
function floatValues(values: Float32Array | Uint8Array | null): Float32Array | null {
  return values instanceof Uint8Array ? Float32Array.from(values) : values;
}

export interface DecodedModelFile {
  readonly header: ModelFileHeader;
  readonly userIds: string[];
  readonly itemIds: string[];
  readonly userFactors: Float32Array;
  readonly itemFactors: Float32Array;
  readonly userBias: Float32Array | null;
  readonly itemBias: Float32Array | null;
  readonly userItems: UserItems;
}

/** Reads just the header (for listings and checks); refuses a foreign, newer or truncated file. */
export function readModelFileHeader(bytes: Uint8Array): ModelFileHeader {
  if (bytes.length < PREFIX_BYTES || Buffer.from(bytes.buffer, bytes.byteOffset, 8).toString('latin1') !== MAGIC) {
    throw corrupt(`it does not start with "${MAGIC}" (${bytes.length} bytes; is it a ridgerec model file?)`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version > FORMAT_VERSION) {
    throw invalidInput(
      `model file format version ${version} is newer than this ridgerec reads (${FORMAT_VERSION}); upgrade ridgerec to load it`,
      { version },
      'model_file_too_new',
    );
  }
  if (version < 1) throw corrupt(`format version ${version} is not valid`);
  const h = dv.getUint32(12, true);
  if (PREFIX_BYTES + h > bytes.length) throw corrupt(`truncated: the header needs ${PREFIX_BYTES + h} bytes, the file has ${bytes.length}`);
  let header: ModelFileHeader;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + PREFIX_BYTES, h).toString('utf8')) as ModelFileHeader;
  } catch (e) {
    throw corrupt(`the header is not JSON (${(e as Error).message})`);
  }
  if (header.format !== FORMAT_NAME) throw corrupt(`header format is ${JSON.stringify(header.format)}, expected "${FORMAT_NAME}"`);
  if (header.version !== version) throw corrupt(`header version ${header.version} disagrees with the prefix's ${version}`);
  if (bytes.length < header.byteLength) {
    throw invalidInput(
      `model file is truncated: it has ${bytes.length} bytes, its header says ${header.byteLength}`,
      { bytes: bytes.length, expected: header.byteLength },
      'model_file_truncated',
    );
  }
  return header;
}

/**
 * Decodes a model file. The numeric arrays are views over `bytes` (no copy) when `bytes` is 4-byte
 * aligned in its ArrayBuffer, which a Buffer read from a file or from SQLite is; otherwise the file
 * is copied once.
 */
export function decodeModelFile(input: Uint8Array): DecodedModelFile {
  const header = readModelFileHeader(input);
  const bytes = input.byteOffset % 4 === 0 ? input : Uint8Array.from(input);
  const { nUsers: n, nItems: m, factors: k, nnz } = header;
  const explicit = header.feedback === 'explicit';
  const expected: Record<ArrayName, [ArrayDtype[], number] | null> = {
    userFactors: [['float32'], n * k],
    itemFactors: [['float32'], m * k],
    userBias: explicit ? [['float32'], n] : null,
    itemBias: explicit ? [['float32'], m] : null,
    userIdOffsets: [['int32'], n + 1],
    userIdBytes: [['uint8'], -1],
    itemIdOffsets: [['int32'], m + 1],
    itemIdBytes: [['uint8'], -1],
    userItemsIndptr: [['int32'], n + 1],
    userItemsIndices: [['uint16', 'int32'], nnz],
    userItemsValues: header.arrays?.userItemsValues ? [['float32', 'uint8'], nnz] : null,
  };
  const get = (name: ArrayName): TypedArray | null => {
    const e = header.arrays?.[name];
    const want = expected[name];
    if (!want) return null;
    if (!e) throw corrupt(`the header lists no ${name} array`);
    if (!want[0].includes(e.dtype)) throw corrupt(`${name} has dtype ${e.dtype}, expected ${want[0].join(' or ')}`);
    if (want[1] >= 0 && e.length !== want[1]) throw corrupt(`${name} has ${e.length} entries, expected ${want[1]}`);
    const Ctor = CTOR[e.dtype];
    const end = e.offset + e.length * Ctor.BYTES_PER_ELEMENT;
    if (!Number.isSafeInteger(e.offset) || e.offset % ALIGN !== 0 || e.offset < PREFIX_BYTES || end > bytes.length) {
      throw corrupt(`${name} at offset ${e.offset} (${e.length} entries) lies outside the file's ${bytes.length} bytes`);
    }
    return new Ctor(bytes.buffer, bytes.byteOffset + e.offset, e.length);
  };
  const userIds = decodeIds(get('userIdOffsets') as Int32Array, get('userIdBytes') as Uint8Array, 'userIds');
  const itemIds = decodeIds(get('itemIdOffsets') as Int32Array, get('itemIdBytes') as Uint8Array, 'itemIds');
  const indptr = get('userItemsIndptr') as Int32Array;
  const indices = get('userItemsIndices') as Int32Array | Uint16Array;
  if (indptr[0] !== 0 || indptr[n] !== nnz) throw corrupt('userItemsIndptr does not span userItemsIndices');
  return {
    header,
    userIds,
    itemIds,
    userFactors: get('userFactors') as Float32Array,
    itemFactors: get('itemFactors') as Float32Array,
    userBias: get('userBias') as Float32Array | null,
    itemBias: get('itemBias') as Float32Array | null,
    userItems: { indptr, indices, values: floatValues(get('userItemsValues') as Float32Array | Uint8Array | null) },
  };
}
