/**
 * Loads the kernels module (assembly/kernels.ts compiled by `npm run build` to
 * dist/kernels/kernels.wasm) and instantiates it over a shared WebAssembly.Memory. The module
 * imports its memory (`env.memory`, shared, SIMD + threads), keeps no state and allocates nothing,
 * so one compiled module serves every thread and every memory: training workers instantiate it
 * over the memory the factors live in, the scorer over its own.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { requestedKernels } from './select.js';

/** The few WebAssembly JS-API members used here (the project's lib settings do not declare them). */
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
}
export type WasmModule = object;
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Memory: new (descriptor: { initial: number; maximum: number; shared: true }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { readonly exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** Bytes per WebAssembly page. */
export const PAGE = 65536;

/**
 * Where the build puts the module: beside this file in dist/kernels/, or, when ridgerec runs from
 * its TypeScript sources (vitest, tsx), in the checkout's dist/kernels/.
 */
export function kernelsWasmPath(): string {
  const fromSource = import.meta.url.endsWith('.ts');
  return fileURLToPath(new URL(fromSource ? '../../dist/kernels/kernels.wasm' : './kernels.wasm', import.meta.url));
}

let compiled: WasmModule | null | undefined;
let unavailable = '';

/**
 * The compiled kernels module, or null when this runtime cannot run it (no WebAssembly SIMD or
 * shared memory) or the build output is missing; `kernelsUnavailableReason()` then says which.
 */
export function kernelsModule(): WasmModule | null {
  if (compiled !== undefined) return compiled;
  compiled = null;
  if (!wasm) {
    unavailable = 'this runtime has no WebAssembly';
    return null;
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(kernelsWasmPath());
  } catch {
    unavailable = `${kernelsWasmPath()} is missing; run \`npm run build\``;
    return null;
  }
  try {
    if (!wasm.validate(bytes)) {
      unavailable = 'this runtime does not validate the kernels (WebAssembly SIMD and shared memory are needed)';
      return null;
    }
    compiled = new wasm.Module(bytes);
  } catch (e) {
    unavailable = `the kernels module did not compile: ${(e as Error).message}`;
  }
  return compiled;
}

/** Why kernelsModule() is null ('' when it is not). */
export function kernelsUnavailableReason(): string {
  kernelsModule();
  return unavailable;
}

/** True when the WebAssembly kernels should run: RIDGEREC_KERNELS does not say js and the module loads. */
export function useWasmKernels(): boolean {
  return requestedKernels() === 'wasm' && kernelsModule() !== null;
}

/** A shared memory of at least `bytes` bytes (its maximum is its size: it never grows). */
export function sharedMemory(bytes: number): WasmMemory {
  if (!wasm) throw new Error('WebAssembly is unavailable');
  const pages = Math.max(1, Math.ceil(bytes / PAGE));
  if (pages > 65536) throw new RangeError(`the kernels need ${bytes} bytes of WebAssembly memory; the limit is 4 GiB`);
  return new wasm.Memory({ initial: pages, maximum: pages, shared: true });
}

/** The exported kernels (see assembly/kernels.ts for each one's formula). Addresses are byte offsets. */
export interface KernelExports {
  cgRows(
    nRows: number,
    indptr: number,
    base: number,
    idx: number,
    vals: number,
    fixed: number,
    fixedBias: number,
    out: number,
    stats: number,
    gram: number,
    d: number,
    explicit: number,
    lambda: number,
    countScaling: number,
    alpha: number,
    mu: number,
    cgSteps: number,
    computeLoss: number,
    scratch: number,
    cap: number,
  ): void;
  choleskyRows(
    nRows: number,
    indptr: number,
    base: number,
    idx: number,
    vals: number,
    fixed: number,
    fixedBias: number,
    out: number,
    stats: number,
    gram32: number,
    gram64: number,
    d: number,
    explicit: number,
    lambda: number,
    countScaling: number,
    alpha: number,
    mu: number,
    computeLoss: number,
    scratch: number,
    cap: number,
  ): number;
  gramRows(f: number, r0: number, r1: number, d: number, G: number, idx: number, T: number, U: number): void;
  score1(qt: number, bias: number, p: number, out: number, n8: number, k: number): void;
  collect(out: number, n4: number, thr: number, dst: number): number;
  topnTile(
    qi: number,
    qf: number,
    bias: number,
    nItems: number,
    k: number,
    kp: number,
    blk0: number,
    blk1: number,
    p8: number,
    uf: number,
    st: number,
    hk: number,
    n: number,
  ): void;
  heapDrain(hk: number, size: number, outS: number, outI: number): void;
}

/** Instantiates the kernels over `memory`; null when the module is unavailable. */
export function instantiateKernels(memory: WasmMemory, module: WasmModule | null = kernelsModule()): KernelExports | null {
  if (!wasm || module === null) return null;
  return new wasm.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
}

/** A bump allocator over byte offsets, 16-byte aligned (v128 loads and stores). */
export class Arena {
  private top: number;
  constructor(start = 16) {
    this.top = start;
  }
  alloc(bytes: number): number {
    const at = Math.ceil(this.top / 16) * 16;
    this.top = at + Math.max(0, bytes);
    return at;
  }
  get size(): number {
    return this.top;
  }
}
