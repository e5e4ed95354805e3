import { Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import type { Csr } from '../../src/ratings/matrix.js';
import { gram } from '../../src/training/linalg.js';
import { createScratch, GATHER_MIN_ROW, type SideArrays, type SolveConfig, solveRows } from '../../src/training/solve-side.js';
import { maxAbsDiff, mulberry32, randomStore, referenceSolve, toMatrix } from './helpers.js';

/** A CSR of `rows` rows over `cols` columns, each row a random subset (row 2 left empty). */
function randomCsr(rand: () => number, rows: number, cols: number, lo: number, hi: number): Csr {
  const indptr = [0];
  const indices: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < rows; r++) {
    if (r !== 2) {
      for (let c = 0; c < cols; c++) {
        if (rand() < 0.5) {
          indices.push(c);
          values.push(lo + Math.floor(rand() * (hi - lo + 1)));
        }
      }
    }
    indptr.push(indices.length);
  }
  return { indptr: Int32Array.from(indptr), indices: Int32Array.from(indices), values: Float32Array.from(values) };
}

interface Case {
  explicit: boolean;
  countScaling: boolean;
}

/** The normal equations of row r, built the slow, obvious way with ml-matrix, and solved. */
function reference(side: SideArrays, cfg: SolveConfig, nFixed: number, r: number): number[] {
  const { d } = cfg;
  const F = toMatrix(side.fixed, nFixed, d);
  const { indptr, indices, values } = side.csr;
  const n = indptr[r + 1]! - indptr[r]!;
  const lam = cfg.countScaling ? cfg.lambda * n : cfg.lambda;
  let A = cfg.explicit ? Matrix.zeros(d, d) : F.transpose().mmul(F);
  A = A.add(Matrix.eye(d, d).mul(lam));
  const b = Matrix.zeros(d, 1);
  for (let e = indptr[r]!; e < indptr[r + 1]!; e++) {
    const j = indices[e]!;
    const v = values[e]!;
    const f = F.getRowVector(j);
    const w = cfg.explicit ? 1 : cfg.alpha * v; // A += w f fᵀ
    const ct = cfg.explicit ? v - cfg.globalMean - side.fixedBias[j]! : 1 + cfg.alpha * v; // b += c t f
    A = A.add(f.transpose().mmul(f).mul(w));
    b.add(f.transpose().mul(ct));
  }
  return referenceSolve(A, b.getColumn(0));
}

describe('solveRows: per-row solutions match an ml-matrix solve of the normal equations', () => {
  const cases: Case[] = [
    { explicit: true, countScaling: true },
    { explicit: true, countScaling: false },
    { explicit: false, countScaling: false },
    { explicit: false, countScaling: true },
  ];
  for (const c of cases) {
    for (const cholesky of [true, false]) {
      const name = `${c.explicit ? 'explicit with bias' : 'implicit with confidence'}, λ scaling ${c.countScaling ? 'count' : 'none'}, ${cholesky ? 'cholesky' : 'cg to convergence'}`;
      it(name, () => {
        const rand = mulberry32(c.explicit ? 11 : 12);
        const k = 6;
        const d = c.explicit ? k + 1 : k;
        const nFixed = 15;
        const rows = 6;
        const fixed = randomStore(rand, nFixed, d, 0.8);
        if (c.explicit) for (let j = 0; j < nFixed; j++) fixed[j * d + k] = 1; // the constant-1 bias column
        const G = new Float64Array(d * d);
        if (!c.explicit) gram(fixed, nFixed, d, G);
        const side: SideArrays = {
          csr: c.explicit ? randomCsr(rand, rows, nFixed, 1, 5) : randomCsr(rand, rows, nFixed, 1, 20),
          fixed,
          fixedBias: randomStore(rand, nFixed, 1, 0.5),
          out: randomStore(rand, rows, d, 0.1), // CG warm start
          gram: G,
          stats: new Float64Array(2 * rows),
        };
        const cfg: SolveConfig = {
          d,
          explicit: c.explicit,
          lambda: 0.3,
          countScaling: c.countScaling,
          alpha: c.explicit ? 0 : 0.7,
          cholesky,
          cgSteps: cholesky ? 3 : 200,
          globalMean: c.explicit ? 3.2 : 0,
        };
        expect(solveRows(side, cfg, 0, rows, true, createScratch(d))).toBe(-1);
        for (let r = 0; r < rows; r++) {
          const got = side.out.subarray(r * d, (r + 1) * d);
          if (side.csr.indptr[r + 1] === side.csr.indptr[r]) {
            expect(Array.from(got)).toEqual(new Array(d).fill(0)); // no ratings → zeros
            continue;
          }
          const want = reference(side, cfg, nFixed, r);
          // float32 storage: agreement to ~1e-6 relative
          expect(maxAbsDiff(got, want)).toBeLessThan(1e-5 * Math.max(1, ...want.map(Math.abs)));
        }
      });
    }
  }

  for (const explicit of [true, false]) {
    it(`cg on rows long enough to be gathered (>= ${GATHER_MIN_ROW} entries) matches the ml-matrix solve (${explicit ? 'explicit' : 'implicit'})`, () => {
      const rand = mulberry32(21);
      const k = 5;
      const d = explicit ? k + 1 : k;
      const nFixed = GATHER_MIN_ROW + 200;
      const fixed = randomStore(rand, nFixed, d, 0.3);
      if (explicit) for (let j = 0; j < nFixed; j++) fixed[j * d + k] = 1;
      const G = new Float64Array(d * d);
      if (!explicit) gram(fixed, nFixed, d, G);
      // Row 0 rates almost everything (gathered), row 1 a few columns (not gathered).
      const r0 = Array.from({ length: nFixed }, (_, j) => j).filter((j) => j % 9 !== 4);
      const r1 = [3, 50, 77];
      const indices = Int32Array.from([...r0, ...r1]);
      const values = Float32Array.from(indices, () => 1 + Math.floor(rand() * 5));
      const side: SideArrays = {
        csr: { indptr: Int32Array.of(0, r0.length, r0.length + r1.length), indices, values },
        fixed,
        fixedBias: randomStore(rand, nFixed, 1, 0.5),
        out: new Float32Array(2 * d),
        gram: G,
        stats: new Float64Array(4),
      };
      const cfg: SolveConfig = {
        d,
        explicit,
        lambda: 0.2,
        countScaling: explicit,
        alpha: explicit ? 0 : 0.4,
        cholesky: false,
        cgSteps: 100,
        globalMean: explicit ? 3 : 0,
      };
      expect(r0.length).toBeGreaterThanOrEqual(GATHER_MIN_ROW);
      solveRows(side, cfg, 0, 2, true, createScratch(d, 4)); // a small scratch must grow
      for (const r of [0, 1]) {
        const want = reference(side, cfg, nFixed, r);
        expect(maxAbsDiff(side.out.subarray(r * d, (r + 1) * d), want)).toBeLessThan(1e-5 * Math.max(1, ...want.map(Math.abs)));
      }
    });
  }

  it("reports each row's data loss and penalty at the stored solution", () => {
    const rand = mulberry32(3);
    const k = 3;
    const nFixed = 8;
    const fixed = randomStore(rand, nFixed, k);
    const G = new Float64Array(k * k);
    gram(fixed, nFixed, k, G);
    const csr = randomCsr(rand, 4, nFixed, 1, 3);
    const side: SideArrays = {
      csr,
      fixed,
      fixedBias: new Float32Array(0),
      out: new Float32Array(4 * k),
      gram: G,
      stats: new Float64Array(8),
    };
    const cfg: SolveConfig = {
      d: k,
      explicit: false,
      lambda: 0.2,
      countScaling: false,
      alpha: 2,
      cholesky: true,
      cgSteps: 3,
      globalMean: 0,
    };
    solveRows(side, cfg, 0, 4, true, createScratch(k));
    for (let r = 0; r < 4; r++) {
      // Σ over EVERY column of c (p − s)², c = 1 + α v and p = 1 where observed, c = 1 and p = 0 elsewhere.
      let want = 0;
      let norm = 0;
      for (let t = 0; t < k; t++) norm += side.out[r * k + t]! ** 2;
      for (let j = 0; j < nFixed; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += side.out[r * k + t]! * fixed[j * k + t]!;
        let c = 1;
        let p = 0;
        for (let e = csr.indptr[r]!; e < csr.indptr[r + 1]!; e++) {
          if (csr.indices[e] === j) {
            c = 1 + 2 * csr.values[e]!;
            p = 1;
          }
        }
        want += c * (p - s) ** 2;
      }
      if (csr.indptr[r + 1] === csr.indptr[r]) want = 0; // an empty row has zero factors: its own term is 0
      expect(side.stats[2 * r]).toBeCloseTo(want, 9);
      expect(side.stats[2 * r + 1]).toBeCloseTo(0.2 * norm, 12);
    }
  });
});
