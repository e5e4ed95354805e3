/**
 * A WebAssembly SIMD (f32x4) scoring kernel, assembled here byte by byte (no toolchain, no
 * dependency), specialised for one model's k and catalog size so every stride is a constant.
 *
 * Layout in the module's memory (bytes):
 *   [0, qBytes)        item factors re-laid as blocks of 4 items: Qt[(b·k + f)·4 + lane] = Q[(4b+lane)·k + f]
 *   [biasAt, …)        item biases (zeros for implicit models), padded to nPad
 *   [pAt, …)           up to 8 user vectors of k floats
 *   [outAt, …)         8 score rows of nPad floats
 * With items four to a vector, s_{4b..4b+3} = bias_{4b..} + Σ_f splat(p_f) · Qt_{b,f}: no horizontal
 * sums, one multiply-add per four items. Accumulation is in float32 (the JS kernel accumulates in
 * float64); scores agree to ~1e-6 relative.
 */

import { topK } from './top-k.js';

const V128 = 0x7b;
const I32 = 0x7f;
const F32 = 0x7d;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, 'utf8')];

// Instructions used below.
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const i32c = (v: number) => [0x41, ...sleb(v)];
const i32add = [0x6a];
const i32sub = [0x6b];
const simd = (op: number) => [0xfd, ...uleb(op)];
const memarg = (align: number, offset: number) => [...uleb(align), ...uleb(offset)];
const v128load = (offset: number) => [...simd(0x00), ...memarg(4, offset)];
const v128splat32 = (offset: number) => [...simd(0x09), ...memarg(2, offset)];
const v128store = (offset: number) => [...simd(0x0b), ...memarg(4, offset)];
const f32x4add = simd(0xe4);
const f32x4mul = simd(0xe6);
const loop = [0x03, 0x40];
const end = [0x0b];
const brIf = (depth: number) => [0x0d, ...uleb(depth)];
const ret = [0x0f];
const i32eqz = [0x45];
const i32shl = [0x74];
const f32load = (offset: number) => [0x2a, ...memarg(2, offset)];
const i32store = [0x36, ...memarg(2, 0)];
const f32ge = [0x60];
const f32x4splat = simd(0x13);
const f32x4ge = simd(0x46);
const v128anyTrue = simd(0x53);
const ifVoid = [0x04, 0x40];

/** ptr += delta */
const bump = (local: number, delta: number) => [...get(local), ...i32c(delta), ...i32add, ...set(local)];
/** counter -= 1; loop again while it is not zero */
const countDown = (local: number) => [...get(local), ...i32c(1), ...i32sub, ...set(local), ...get(local), ...brIf(0)];

function funcBody(locals: [number, number][], code: number[]): number[] {
  const body = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...code, ...end];
  return [...uleb(body.length), ...body];
}

/**
 * score1(qt, bias, p, out, n8): one user, eight items per outer step (two f32x4 accumulators that
 * share the splatted p_f).
 *   out[i] = bias[i] + Σ_f p[f]·Q[i·k + f]
 */
function score1Body(k: number): number[] {
  const [qt, bias, p, out, n8] = [0, 1, 2, 3, 4];
  const [f, pf, qa] = [5, 6, 7];
  const [acc0, acc1, s] = [8, 9, 10];
  const kb = k * 16; // bytes of one 4-item block
  const code = [
    ...get(n8),
    ...i32eqz,
    ...ifVoid,
    ...ret,
    ...end,
    ...loop,
    ...get(bias),
    ...v128load(0),
    ...set(acc0),
    ...get(bias),
    ...v128load(16),
    ...set(acc1),
    ...get(qt),
    ...set(qa),
    ...get(p),
    ...set(pf),
    ...i32c(k),
    ...set(f),
    ...loop,
    ...get(pf),
    ...v128splat32(0),
    ...set(s),
    ...get(acc0),
    ...get(s),
    ...get(qa),
    ...v128load(0),
    ...f32x4mul,
    ...f32x4add,
    ...set(acc0),
    ...get(acc1),
    ...get(s),
    ...get(qa),
    ...v128load(kb),
    ...f32x4mul,
    ...f32x4add,
    ...set(acc1),
    ...bump(qa, 16),
    ...bump(pf, 4),
    ...countDown(f),
    ...end,
    ...get(out),
    ...get(acc0),
    ...v128store(0),
    ...get(out),
    ...get(acc1),
    ...v128store(16),
    ...bump(out, 32),
    ...bump(bias, 32),
    ...bump(qt, 2 * kb),
    ...countDown(n8),
    ...end,
  ];
  return funcBody(
    [
      [3, I32],
      [3, V128],
    ],
    code,
  );
}

/**
 * score8(qt, bias, p, out, n4): eight users (rows of k floats at p) against four items per outer
 * step; each Qt vector is loaded once for the eight users.
 *   out[j·nPad + i] = bias[i] + Σ_f p[j·k + f]·Q[i·k + f]
 */
function score8Body(k: number, nPad: number): number[] {
  const [qt, bias, p, out, n4] = [0, 1, 2, 3, 4];
  const [f, pf, qa] = [5, 6, 7];
  const acc = (j: number) => 8 + j;
  const q = 16;
  const code: number[] = [...get(n4), ...i32eqz, ...ifVoid, ...ret, ...end, ...loop];
  code.push(...get(bias), ...v128load(0), ...set(acc(0)));
  for (let j = 1; j < 8; j++) code.push(...get(acc(0)), ...set(acc(j)));
  code.push(...get(qt), ...set(qa), ...get(p), ...set(pf), ...i32c(k), ...set(f), ...loop);
  code.push(...get(qa), ...v128load(0), ...set(q));
  for (let j = 0; j < 8; j++) {
    code.push(...get(acc(j)), ...get(pf), ...v128splat32(j * k * 4), ...get(q), ...f32x4mul, ...f32x4add, ...set(acc(j)));
  }
  code.push(...bump(qa, 16), ...bump(pf, 4), ...countDown(f), ...end);
  for (let j = 0; j < 8; j++) code.push(...get(out), ...get(acc(j)), ...v128store(j * nPad * 4));
  code.push(...bump(out, 16), ...bump(bias, 16), ...bump(qt, k * 16), ...countDown(n4), ...end);
  return funcBody(
    [
      [3, I32],
      [9, V128],
    ],
    code,
  );
}

/**
 * collect(out, n4, thr, dst) → m: writes to dst the indices i (ascending) of every score with
 * out[i] ≥ thr and returns how many. Four scores per compare; only a block with some lane ≥ thr
 * is looked at lane by lane. NaN is never ≥ thr.
 */
function collectBody(): number[] {
  const [out, n4, thr, dst] = [0, 1, 2, 3];
  const [m, idx, t] = [4, 5, 6];
  const code: number[] = [
    ...get(thr),
    ...f32x4splat,
    ...set(t),
    ...i32c(0),
    ...set(m),
    ...i32c(0),
    ...set(idx),
    ...get(n4),
    ...i32eqz,
    ...ifVoid,
    ...i32c(0),
    ...ret,
    ...end,
    ...loop,
    ...get(out),
    ...v128load(0),
    ...get(t),
    ...f32x4ge,
    ...v128anyTrue,
    ...ifVoid,
  ];
  for (let lane = 0; lane < 4; lane++) {
    code.push(
      ...get(out),
      ...f32load(lane * 4),
      ...get(thr),
      ...f32ge,
      ...ifVoid,
      ...get(dst),
      ...get(m),
      ...i32c(2),
      ...i32shl,
      ...i32add,
      ...get(idx),
      ...i32c(lane),
      ...i32add,
      ...i32store,
      ...bump(m, 1),
      ...end,
    );
  }
  code.push(...end, ...bump(out, 16), ...bump(idx, 4), ...countDown(n4), ...end, ...get(m));
  return funcBody(
    [
      [2, I32],
      [1, V128],
    ],
    code,
  );
}

function assemble(k: number, nPad: number): Uint8Array {
  const fnType = [0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), 0x00];
  const collectType = [0x60, ...vec([[I32], [I32], [F32], [I32]]), ...vec([[I32]])];
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([fnType, collectType])),
    ...section(2, vec([[...name('env'), ...name('mem'), 0x02, 0x00, 0x00]])),
    ...section(3, vec([[0x00], [0x00], [0x01]])),
    ...section(
      7,
      vec([
        [...name('score1'), 0x00, 0x00],
        [...name('score8'), 0x00, 0x01],
        [...name('collect'), 0x00, 0x02],
      ]),
    ),
    ...section(10, vec([score1Body(k), score8Body(k, nPad), collectBody()])),
  ];
  return Uint8Array.from(bytes);
}

export interface SimdScorer {
  readonly k: number;
  readonly nItems: number;
  /** out[i] = bias[i] + u·q_i for every item; returns a view of nItems scores valid until the next call. */
  scoreOne(u: ArrayLike<number>): Float32Array;
  /**
   * Scores up to 8 users (rows `users[j]` of the row-major p) at once; returns 8 views of nItems
   * scores, valid until the next call.
   */
  scoreEight(p: Float32Array, users: ArrayLike<number>): Float32Array[];
  /**
   * The best n of score row `row` (0 for scoreOne) of the last call, exactly topK(row, n): NaN
   * never selected, descending, ties by lower index. Callers may write NaN into the row first to
   * drop items. See topOfRow for how it avoids a heap pass over the whole catalog.
   */
  top(row: number, n: number): { indices: Int32Array; scores: Float64Array };
}

/** The few WebAssembly JS-API members used here (the project's lib settings do not declare them). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Prefix of the catalog whose top n sets the threshold of the filtering pass. */
const SAMPLE = 4096;

/**
 * Exact top-n without a heap pass over every score. The top n of a prefix of the catalog gives
 * a threshold t (its n-th best score): at least n items score ≥ t, so the overall top n are all
 * among {i : s_i ≥ t}. The SIMD `collect` finds those candidates (typically a few hundred of
 * 27,000), in ascending index order, and topK ranks them: ties still go to the lower index.
 */
function topOfRow(
  scores: Float32Array,
  n: number,
  collectAbove: (thr: number) => number,
  dst: Int32Array,
): { indices: Int32Array; scores: Float64Array } {
  const nItems = scores.length;
  if (nItems <= 2 * SAMPLE || n > SAMPLE / 8) return topK(scores, n);
  const pre = topK(scores.subarray(0, SAMPLE), n);
  if (pre.indices.length < n) return topK(scores, n); // the prefix is mostly NaN (dropped items)
  const m = collectAbove(pre.scores[n - 1]!);
  let c = m;
  while (c > 0 && dst[c - 1]! >= nItems) c--; // padding lanes past the catalog
  const cand = new Float32Array(c);
  for (let j = 0; j < c; j++) cand[j] = scores[dst[j]!]!;
  const top = topK(cand, n);
  const indices = new Int32Array(top.indices.length);
  for (let j = 0; j < indices.length; j++) indices[j] = dst[top.indices[j]!]!;
  return { indices, scores: top.scores };
}

let simdSupported: boolean | null = null;

/** True when this runtime validates a module using f32x4 instructions (Node ≥ 16 does). */
export function wasmSimdSupported(): boolean {
  if (simdSupported === null) {
    let ok: boolean;
    try {
      ok = wasm.validate(assemble(4, 8));
    } catch {
      ok = false;
    }
    simdSupported = ok;
  }
  return simdSupported;
}

/**
 * Builds a scorer over a copy of the item factors (k must be ≥ 1); null when WebAssembly SIMD is
 * unavailable, in which case callers keep the JavaScript kernel.
 */
export function createSimdScorer(itemFactors: Float32Array, itemBias: Float32Array | null, k: number, nItems: number): SimdScorer | null {
  if (!(k >= 1) || !wasmSimdSupported()) return null;
  const nPad = Math.max(8, Math.ceil(nItems / 8) * 8);
  const qBytes = nPad * k * 4;
  const biasAt = qBytes;
  const pAt = biasAt + nPad * 4;
  const outAt = pAt + 8 * k * 4;
  const dstAt = outAt + 8 * nPad * 4;
  const total = dstAt + nPad * 4;
  const memory = new wasm.Memory({ initial: Math.ceil(total / 65536) });
  const instance = new wasm.Instance(new wasm.Module(assemble(k, nPad)), { env: { mem: memory } });
  const score1 = instance.exports.score1 as (qt: number, bias: number, p: number, out: number, n8: number) => void;
  const score8 = instance.exports.score8 as (qt: number, bias: number, p: number, out: number, n4: number) => void;
  const collect = instance.exports.collect as (out: number, n4: number, thr: number, dst: number) => number;
  const buf = memory.buffer;
  const qt = new Float32Array(buf, 0, nPad * k);
  // Qt[(b·k + f)·4 + lane] = Q[(4b + lane)·k + f]
  for (let i = 0; i < nItems; i++) {
    const base = (i >> 2) * k * 4 + (i & 3);
    const src = i * k;
    for (let f = 0; f < k; f++) qt[base + f * 4] = itemFactors[src + f]!;
  }
  if (itemBias !== null) new Float32Array(buf, biasAt, nPad).set(itemBias.subarray(0, nItems));
  const pView = new Float32Array(buf, pAt, 8 * k);
  const outs = Array.from({ length: 8 }, (_, j) => new Float32Array(buf, outAt + j * nPad * 4, nItems));
  const dst = new Int32Array(buf, dstAt, nPad);
  return {
    k,
    nItems,
    scoreOne(u) {
      for (let f = 0; f < k; f++) pView[f] = u[f]!;
      score1(0, biasAt, pAt, outAt, nPad / 8);
      return outs[0]!;
    },
    scoreEight(p, users) {
      const m = Math.min(8, users.length);
      for (let j = 0; j < 8; j++) {
        if (j < m) pView.set(p.subarray(users[j]! * k, users[j]! * k + k), j * k);
        else pView.fill(0, j * k, (j + 1) * k);
      }
      score8(0, biasAt, pAt, outAt, nPad / 4);
      return outs;
    },
    top(row, n) {
      const scores = outs[row]!;
      return topOfRow(scores, n, (thr) => collect(outAt + row * nPad * 4, nPad / 4, thr, dstAt), dst);
    },
  };
}
