import { describe, expect, it } from 'vitest';
import { ModelFitError } from '../../src/errors.js';
import {
  argBest,
  expandGrid,
  parseGrid,
  parseMetric,
  runGrid,
  sampleStd,
  tuneToJson,
  type Fold,
  type FoldOutcome,
  type PointEvaluator,
} from '../../src/eval/tune.js';
import { matrixFromTriples } from '../../src/ratings/matrix.js';
import { mulberry32 } from '../../src/training/random.js';
import { resolveParams, type TrainParams } from '../../src/training/params.js';

/** Three dummy folds: the fake evaluator only reads their names. */
const folds: Fold[] = [0, 1, 2].map((f) => {
  const m = matrixFromTriples([
    ['u', 'i', 1],
    ['u', 'j', 2],
  ]);
  return {
    name: `fold ${f}`,
    train: m,
    test: { users: new Int32Array(1), items: new Int32Array(1), values: new Float32Array(1), userIds: ['u'], itemIds: ['i'] },
  };
});

/**
 * A known validation surface: rmse = 0.9 + (log10 λ − c)² / 10 + 0.01·fold, with c = 0 for 8
 * factors and c = 1 for 16 factors, minus 0.02 for 16 factors; training loss grows with λ. So the
 * arg-best is factors 16, λ 10 (rmse 0.88 + 0.01 mean fold offset = 0.89).
 */
const fake: PointEvaluator = async (fold, p) => {
  const f = Number(fold.name.split(' ')[1]);
  const c = p.factors === 16 ? 1 : 0;
  const rmse = 0.9 + (Math.log10(p.lambda) - c) ** 2 / 10 + 0.01 * f - (p.factors === 16 ? 0.02 : 0);
  return { metrics: { rmse, 'ndcg@10': 1 - rmse }, trainLoss: 0.5 + p.lambda / 100, seconds: 0.001 } satisfies FoldOutcome;
};

const base = resolveParams({ feedback: 'explicit', threads: 1 });
const grid = parseGrid('factors=8,16 lambda=0.1,1,10,100');
const points = expandGrid(grid, base);

describe('runGrid', () => {
  it('returns mean ± sample std per point and the arg-best point', async () => {
    const progress: number[] = [];
    const r = await runGrid(folds, points, {
      metric: parseMetric('rmse', 'explicit'),
      evaluate: fake,
      onProgress: (d) => progress.push(d),
    });
    expect(progress).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(r.results).toHaveLength(8);
    expect(r.folds).toBe(3);
    // arg-best by brute force over the results
    const metrics = r.results.map((x) => x.metric);
    expect(r.bestIndex).toBe(metrics.indexOf(Math.min(...metrics)));
    expect(r.best.params.factors).toBe(16);
    expect(r.best.params.lambda).toBe(10);
    expect(r.best.metric).toBeCloseTo(0.89, 12);
    // folds 0.88, 0.89, 0.90 → sample std 0.01
    expect(r.best.folds).toHaveLength(3);
    expect(r.best.std).toBeCloseTo(0.01, 12);
    expect(r.best.trainLoss).toBeCloseTo(0.6, 12);
    expect(r.best.trainRmse).toBeCloseTo(Math.sqrt(0.6), 12);
    expect(r.best.metrics['ndcg@10']).toBeCloseTo(1 - 0.89, 12);
  });

  it('follows the metric direction: higher ndcg wins', async () => {
    const r = await runGrid(folds, points, { metric: parseMetric('ndcg@10', 'explicit'), evaluate: fake });
    const metrics = r.results.map((x) => x.metric);
    expect(r.bestIndex).toBe(metrics.indexOf(Math.max(...metrics)));
    expect(r.best.params.factors).toBe(16);
    expect(r.best.params.lambda).toBe(10);
  });

  it('records a failing point with its error and never picks it', async () => {
    const failing: PointEvaluator = async (fold, p) => {
      if (p.lambda === 10) throw new ModelFitError('factors became NaN; raise --lambda');
      return fake(fold, p, 10);
    };
    const r = await runGrid(folds, points, { metric: parseMetric('rmse', 'explicit'), evaluate: failing });
    const failed = r.results.filter((x) => x.error !== null);
    expect(failed).toHaveLength(2);
    expect(failed[0]!.error).toMatch(/raise --lambda/);
    expect(r.best.params.lambda).not.toBe(10);
    const json = tuneToJson(r) as { results: { metric: number | null; error?: string }[] };
    expect(json.results.filter((x) => x.metric === null)).toHaveLength(2);
  });

  it('throws the fit error when every point fails', async () => {
    const failing: PointEvaluator = async () => {
      throw new ModelFitError('factors became NaN; raise --lambda');
    };
    await expect(runGrid(folds, points, { metric: parseMetric('rmse', 'explicit'), evaluate: failing })).rejects.toThrow(/raise --lambda/);
  });

  it('--json shape: best.params under flag names equals the arg-best result', async () => {
    const r = await runGrid(folds, points, { metric: parseMetric('rmse', 'explicit'), evaluate: fake });
    const json = tuneToJson(r) as {
      best: { params: Record<string, unknown>; metric: number };
      results: { params: Record<string, unknown>; metric: number; std: number; trainLoss: number }[];
    };
    expect(Object.keys(json)).toEqual(expect.arrayContaining(['best', 'results']));
    expect(json.best.params).toMatchObject({ lambda: 10, factors: 16, 'lambda-scaling': 'count' });
    const best = json.results.reduce((a, b) => (b.metric < a.metric ? b : a));
    expect(json.best.params).toEqual(best.params);
    expect(json.best.metric).toBe(best.metric);
    for (const x of json.results) expect(x).toEqual(expect.objectContaining({ std: expect.any(Number), trainLoss: expect.any(Number) }));
  });
});

describe('argBest and std', () => {
  it('skips NaN, breaks ties by order, and says -1 when nothing is finite', () => {
    expect(argBest([{ metric: NaN }, { metric: 0.5 }, { metric: 0.5 }, { metric: 0.7 }], false)).toBe(1);
    expect(argBest([{ metric: NaN }, { metric: 0.5 }, { metric: 0.7 }], true)).toBe(2);
    expect(argBest([{ metric: NaN }], true)).toBe(-1);
  });
  it('sample std', () => {
    expect(sampleStd([1])).toBe(0);
    expect(sampleStd([1, 2, 3, 4])).toBeCloseTo(Math.sqrt(5 / 3), 12);
  });
});

/** A small explicit data set with known structure: a rank-2 pattern plus seeded noise. */
function lowRank(seed: number, nUsers = 50, nItems = 30): [string, string, number][] {
  const rand = mulberry32(seed);
  const U = Array.from({ length: nUsers }, () => [rand() * 2 - 1, rand() * 2 - 1]);
  const V = Array.from({ length: nItems }, () => [rand() * 2 - 1, rand() * 2 - 1]);
  const out: [string, string, number][] = [];
  for (let u = 0; u < nUsers; u++) {
    for (let i = 0; i < nItems; i++) {
      if (rand() < 0.5) continue;
      const v = 3 + 1.5 * (U[u]![0]! * V[i]![0]! + U[u]![1]! * V[i]![1]!) + (rand() - 0.5) * 0.6;
      out.push([`u${u}`, `i${i}`, Math.min(5, Math.max(1, Math.round(v)))]);
    }
  }
  return out;
}

describe('runGrid with the real trainer', () => {
  it('finds a finite best, the U-curve shape holds at the extremes, and workers agree with the sequential run', async () => {
    const { kFoldSplit } = await import('../../src/eval/tune.js');
    const m = matrixFromTriples(lowRank(11));
    const f = kFoldSplit(m, 3, 1);
    const b: TrainParams = resolveParams({ feedback: 'explicit', threads: 1, iterations: 5, factors: 4 });
    const pts = expandGrid(parseGrid('factors=2,4 lambda=0.001,0.1,100'), b);
    const metric = parseMetric('rmse', 'explicit');
    const seq = await runGrid(f, pts, { metric, jobs: 1 });
    // λ = 100 with count scaling shrinks everything to the mean: worse than a moderate λ.
    for (const factors of [2, 4]) {
      const at = (l: number) => seq.results.find((x) => x.params.factors === factors && x.params.lambda === l)!;
      expect(at(100).metric).toBeGreaterThan(at(0.1).metric);
      // a heavy penalty costs training fit (small λ are within ALS's convergence noise of each other)
      expect(at(0.001).trainLoss).toBeLessThan(at(100).trainLoss);
      expect(at(0.1).trainLoss).toBeLessThan(at(100).trainLoss);
    }
    expect(Number.isFinite(seq.best.metric)).toBe(true);
    const par = await runGrid(f, pts, { metric, jobs: 2 });
    expect(par.bestIndex).toBe(seq.bestIndex);
    par.results.forEach((x, i) => {
      expect(x.metric).toBeCloseTo(seq.results[i]!.metric, 6);
      expect(x.params.threads).toBe(1);
    });
  });
});
