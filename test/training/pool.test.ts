import { describe, expect, it } from 'vitest';
import { ModelFitError } from '../../src/errors.js';
import { fitFactors } from '../../src/training/fit.js';
import { resolveParams } from '../../src/training/params.js';
import { balancedChunks } from '../../src/training/pool.js';
import { denseIdMatrix, mulberry32 } from './helpers.js';

describe('balancedChunks', () => {
  it('cuts rows into contiguous ranges of about equal work (ratings + a per-row cost)', () => {
    // Skewed rows: row r has about 200/(r+1) ratings.
    const rand = mulberry32(4);
    const t: [number, number, number][] = [];
    for (let u = 0; u < 300; u++) {
      const n = Math.max(1, Math.round(200 / (u + 1)));
      for (let i = 0; i < n; i++) t.push([u, Math.floor(rand() * 400), 1]);
    }
    const m = denseIdMatrix(300, 400, t);
    const rowCost = 2;
    const b = balancedChunks(m.byUser, 8, rowCost);
    expect(b[0]).toBe(0);
    expect(b[b.length - 1]).toBe(300);
    for (let c = 1; c < b.length; c++) expect(b[c]!).toBeGreaterThan(b[c - 1]!);
    const ip = m.byUser.indptr;
    const cost = (r0: number, r1: number) => ip[r1]! - ip[r0]! + rowCost * (r1 - r0);
    const total = cost(0, 300);
    let maxRow = 0;
    for (let r = 0; r < 300; r++) maxRow = Math.max(maxRow, cost(r, r + 1));
    expect(b.length - 1).toBeLessThanOrEqual(8);
    for (let c = 1; c < b.length; c++) expect(cost(b[c - 1]!, b[c]!)).toBeLessThanOrEqual(total / 8 + maxRow);
  });

  it('never makes more chunks than rows', () => {
    const m = denseIdMatrix(3, 2, [
      [0, 0, 1],
      [1, 1, 1],
      [2, 0, 1],
    ]);
    expect(Array.from(balancedChunks(m.byUser, 64, 1))).toEqual([0, 1, 2, 3]);
  });
});

describe('the worker pool', () => {
  it('more threads than rows still trains, and a failure in the workers ends the fit with ModelFitError', async () => {
    const m = denseIdMatrix(3, 3, [
      [0, 0, 4],
      [1, 1, 2],
      [2, 2, 3],
      [0, 1, 1],
    ]);
    const ok = await fitFactors(m, resolveParams({ feedback: 'explicit', factors: 2, iterations: 2, threads: 4 }));
    const one = await fitFactors(m, resolveParams({ feedback: 'explicit', factors: 2, iterations: 2, threads: 1 }));
    expect(ok.userFactors).toEqual(one.userFactors);
    const bad = denseIdMatrix(3, 3, [
      [0, 0, 4],
      [1, 1, Number.NaN],
      [2, 2, 3],
    ]);
    await expect(fitFactors(bad, resolveParams({ feedback: 'implicit', factors: 2, iterations: 2, threads: 2 }))).rejects.toBeInstanceOf(
      ModelFitError,
    );
  });
});
