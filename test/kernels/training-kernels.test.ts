import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requestedKernels } from '../../src/kernels/select.js';
import { kernelsModule, kernelsUnavailableReason, kernelsWasmPath } from '../../src/kernels/wasm.js';
import { matrixFromCoo, type RatingMatrix } from '../../src/ratings/matrix.js';
import { fitFactors } from '../../src/training/fit.js';
import { GRAM_CHUNK } from '../../src/training/linalg.js';
import { resolveParams } from '../../src/training/params.js';
import { mulberry32 } from '../../src/training/random.js';
import {
  gramChunkCount,
  jsSolver,
  reduceGram,
  type SharedState,
  type Side,
  type SolveConfig,
  sideArrays,
} from '../../src/training/solve-side.js';
import { BLOCK_ENTRIES, createWasmState, wasmSolver, writeGram32 } from '../../src/training/wasm-side.js';

/** max |a − b| / max |b|: the error relative to the reference's scale. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let t = 0; t < b.length; t++) {
    diff = Math.max(diff, Math.abs(a[t]! - b[t]!));
    scale = Math.max(scale, Math.abs(b[t]!));
  }
  return scale === 0 ? diff : diff / scale;
}

/**
 * Users with 0 ratings (user 0), 1 rating (user 1), every item (user 2), `longRow` ratings (user
 * 3, when nItems allows) and a random ~10% of the items for the rest; values 1..5.
 */
function problem(seed: number, nUsers: number, nItems: number): RatingMatrix {
  const rand = mulberry32(seed);
  const u: number[] = [];
  const i: number[] = [];
  const v: number[] = [];
  for (let a = 1; a < nUsers; a++) {
    for (let b = 0; b < nItems; b++) {
      const keep = a === 1 ? b === 7 % nItems : a === 2 || rand() < 0.1;
      if (keep) {
        u.push(a);
        i.push(b);
        v.push(1 + Math.floor(rand() * 5));
      }
    }
  }
  return matrixFromCoo(
    Int32Array.from(u),
    Int32Array.from(i),
    Float32Array.from(v),
    Array.from({ length: nUsers }, (_, a) => `u${a}`),
    Array.from({ length: nItems }, (_, b) => `i${b}`),
  );
}

function config(d: number, explicit: boolean, cholesky: boolean): SolveConfig {
  return {
    d,
    explicit,
    lambda: explicit ? 0.1 : 2,
    countScaling: explicit,
    alpha: explicit ? 0 : 1.5,
    cholesky,
    cgSteps: 3,
    globalMean: explicit ? 3 : 0,
  };
}

/** The same random factors in a plain state (for the TypeScript solver) and in the kernels' shared memory. */
function twinStates(m: RatingMatrix, cfg: SolveConfig, seed: number) {
  const { d, explicit } = cfg;
  const w = createWasmState(m, d, explicit, 1);
  const rand = mulberry32(seed);
  for (const a of [w.state.users, w.state.items]) for (let t = 0; t < a.length; t++) a[t] = (rand() * 2 - 1) * 0.3;
  const maxRows = Math.max(m.nUsers, m.nItems);
  const plain: SharedState = {
    byUser: m.byUser,
    byItem: m.byItem,
    users: w.state.users.slice(),
    items: w.state.items.slice(),
    feat: new Float32Array(w.state.feat.length),
    featBias: new Float32Array(w.state.featBias.length),
    gram: new Float64Array(d * d),
    gramParts: new Float64Array(Math.ceil(maxRows / GRAM_CHUNK) * d * d),
    stats: new Float64Array(2 * maxRows),
  };
  if (explicit) {
    // The fixed side (items) with its bias slot set to 1, and its biases apart (fit's halfSweep).
    for (const st of [plain, w.state]) {
      st.feat.set(st.items);
      for (let j = 0; j < m.nItems; j++) {
        st.featBias[j] = st.items[j * d + d - 1]!;
        st.feat[j * d + d - 1] = 1;
      }
    }
  }
  return { plain, wasm: w.state, layout: w.layout };
}

const haveKernels = kernelsModule() !== null;

describe('the kernels build', () => {
  it('dist/kernels/kernels.wasm is what assembly/ compiles to now (run `npm run build` when this fails)', () => {
    expect(kernelsUnavailableReason()).toBe('');
    const dir = mkdtempSync(join(tmpdir(), 'ridgerec-asc-'));
    try {
      const out = join(dir, 'kernels.wasm');
      const asc = join(process.cwd(), 'node_modules', 'assemblyscript', 'bin', 'asc.js');
      execFileSync(process.execPath, [asc, '--config', 'asconfig.json', '--target', 'release', '--outFile', out], { stdio: 'pipe' });
      expect(Buffer.compare(readFileSync(out), readFileSync(kernelsWasmPath()))).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('RIDGEREC_KERNELS', () => {
  it('js forces the TypeScript kernels, unset/auto/wasm ask for WebAssembly, anything else is refused naming the variable', () => {
    expect(requestedKernels('js')).toBe('js');
    expect(requestedKernels(' JS ')).toBe('js');
    expect(requestedKernels(undefined)).toBe('wasm');
    expect(requestedKernels('auto')).toBe('wasm');
    expect(requestedKernels('wasm')).toBe('wasm');
    expect(() => requestedKernels('simd')).toThrow(/RIDGEREC_KERNELS must be js, wasm or auto, got "simd"/);
  });
});

describe.skipIf(!haveKernels)('training kernels against the TypeScript reference (1e-4 relative)', () => {
  for (const k of [1, 3, 8, 64, 65, 128]) {
    for (const explicit of [false, true]) {
      for (const cholesky of [false, true]) {
        const name = `${explicit ? 'explicit' : 'implicit'} ${cholesky ? 'cholesky' : 'cg'}, k=${k}`;
        it(`one half-sweep per side: factors, penalties and data loss (${name}; rows with 0, 1, all and ~10% of the items)`, () => {
          const m = problem(100 + k, 60, 90);
          const d = explicit ? k + 1 : k;
          const cfg = config(d, explicit, cholesky);
          const { plain, wasm, layout } = twinStates(m, cfg, 7 * k);
          const js = jsSolver(plain, cfg);
          const wk = wasmSolver(kernelsModule(), layout, wasm, cfg, 0)!;
          for (const side of ['users', 'items'] as Side[]) {
            if (!explicit) {
              // G = FᵀF of the fixed side: the kernel's partial Grams against the reference's.
              const n = gramChunkCount(plain, side);
              for (let c = 0; c < n; c++) {
                js.partialGram(side, c);
                wk.partialGram(side, c);
              }
              reduceGram(plain, n, d);
              reduceGram(wasm, n, d);
              expect(relErr(wasm.gram, plain.gram)).toBeLessThan(1e-5);
              writeGram32(layout, wasm.gram);
            }
            const rows = side === 'users' ? m.nUsers : m.nItems;
            expect(wk.solve(side, 0, rows, true)).toBe(-1);
            expect(js.solve(side, 0, rows, true)).toBe(-1);
            const out = sideArrays(wasm, side, explicit).out;
            const ref = sideArrays(plain, side, explicit).out;
            expect(relErr(out, ref)).toBeLessThan(1e-4);
            // The row with no rating is exactly zero; the one-rating row is a real solve.
            if (side === 'users') {
              expect(Array.from(out.subarray(0, d)).every((x) => x === 0)).toBe(true);
              expect(out.subarray(d, 2 * d).some((x) => x !== 0)).toBe(true);
            }
            const pen = (st: SharedState) => Array.from({ length: rows }, (_, r) => st.stats[2 * r + 1]!);
            const loss = (st: SharedState) => Array.from({ length: rows }, (_, r) => st.stats[2 * r]!);
            expect(relErr(pen(wasm), pen(plain))).toBeLessThan(1e-4);
            expect(relErr(loss(wasm), loss(plain))).toBeLessThan(1e-4);
            // The next half-sweep starts from the same factors on both sides.
            ref.set(out);
            if (explicit) {
              for (const st of [plain, wasm]) {
                const fixed = side === 'users' ? st.users : st.items;
                st.feat.set(fixed);
                for (let j = 0; j < rows; j++) {
                  st.featBias[j] = fixed[j * d + d - 1]!;
                  st.feat[j * d + d - 1] = 1;
                }
              }
            }
          }
        });
      }
    }
  }

  it(`a row longer than a block (${BLOCK_ENTRIES} entries) is copied and solved on its own`, () => {
    const nItems = BLOCK_ENTRIES + 5000;
    const rand = mulberry32(9);
    const u: number[] = [];
    const i: number[] = [];
    for (let b = 0; b < nItems; b++) {
      u.push(1);
      i.push(b);
      if (rand() < 0.5) {
        u.push(0);
        i.push(b);
      }
    }
    const m = matrixFromCoo(
      Int32Array.from(u),
      Int32Array.from(i),
      Float32Array.from(u, () => 1 + Math.floor(rand() * 3)),
      ['a', 'b', 'c'],
      Array.from({ length: nItems }, (_, b) => `i${b}`),
    );
    const cfg = config(4, false, false);
    const { plain, wasm, layout } = twinStates(m, cfg, 3);
    const js = jsSolver(plain, cfg);
    const wk = wasmSolver(kernelsModule(), layout, wasm, cfg, 0)!;
    const n = gramChunkCount(plain, 'users');
    for (let c = 0; c < n; c++) {
      js.partialGram('users', c);
      wk.partialGram('users', c);
    }
    reduceGram(plain, n, 4);
    reduceGram(wasm, n, 4);
    writeGram32(layout, wasm.gram);
    js.solve('users', 0, 3, true);
    wk.solve('users', 0, 3, true);
    expect(relErr(wasm.users, plain.users)).toBeLessThan(1e-4);
    expect(Array.from(wasm.users.subarray(8, 12))).toEqual([0, 0, 0, 0]);
  });

  it('fit on the kernels: the same seed and thread count give the same bits, 1 and 2 threads agree, and JS agrees to 1e-4 after one sweep', async () => {
    const m = problem(5, 200, 150);
    for (const feedback of ['implicit', 'explicit'] as const) {
      for (const solver of ['cg', 'cholesky'] as const) {
        const p = { feedback, factors: 16, iterations: 3, solver, seed: 3, lambda: feedback === 'implicit' ? 2 : 0.1 } as const;
        const one = await fitFactors(m, resolveParams({ ...p, threads: 1 }), { kernels: 'wasm' });
        const again = await fitFactors(m, resolveParams({ ...p, threads: 1 }), { kernels: 'wasm' });
        const two = await fitFactors(m, resolveParams({ ...p, threads: 2 }), { kernels: 'wasm' });
        expect(again.userFactors).toEqual(one.userFactors);
        expect(again.itemFactors).toEqual(one.itemFactors);
        expect(relErr(two.userFactors, one.userFactors)).toBeLessThan(1e-5);
        expect(relErr(two.itemFactors, one.itemFactors)).toBeLessThan(1e-5);
        const w1 = await fitFactors(m, resolveParams({ ...p, iterations: 1, threads: 1 }), { kernels: 'wasm' });
        const j1 = await fitFactors(m, resolveParams({ ...p, iterations: 1, threads: 1 }), { kernels: 'js' });
        expect(relErr(w1.itemFactors, j1.itemFactors)).toBeLessThan(1e-4);
        expect(Math.abs(w1.history[0]!.loss - j1.history[0]!.loss) / j1.history[0]!.loss).toBeLessThan(1e-4);
      }
    }
  });
});
