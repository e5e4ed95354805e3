import { describe, expect, it } from 'vitest';
import { exitCode } from '../../src/cli/common.js';
import { httpStatus } from '../../src/http/errors.js';
import { RidgerecError } from '../../src/errors.js';
import {
  expandGrid,
  gridParamNames,
  gridSize,
  gridToJson,
  paramsToFlags,
  parseGrid,
  parseMetric,
  toFlagName,
  toParamKey,
} from '../../src/eval/tune.js';
import { resolveParams } from '../../src/training/params.js';

function errorOf(f: () => unknown): RidgerecError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RidgerecError);
    return e as RidgerecError;
  }
  throw new Error('expected an error');
}

describe('grid parsing', () => {
  it('parses flag-named dimensions with number and string values', () => {
    const g = parseGrid('  lambda=0.01,0.03,0.1  factors=16,32 lambda-scaling=count,none ');
    expect(g.dims.map((d) => d.name)).toEqual(['lambda', 'factors', 'lambda-scaling']);
    expect(g.dims.map((d) => d.key)).toEqual(['lambda', 'factors', 'lambdaScaling']);
    expect(g.dims[0]!.values).toEqual([0.01, 0.03, 0.1]);
    expect(g.dims[2]!.values).toEqual(['count', 'none']);
    expect(gridSize(g)).toBe(12);
    expect(gridToJson(g)).toEqual({ lambda: [0.01, 0.03, 0.1], factors: [16, 32], 'lambda-scaling': ['count', 'none'] });
  });

  it('accepts camelCase names and normalises them to flag names', () => {
    expect(parseGrid('cgSteps=2,3').dims[0]!.name).toBe('cg-steps');
    expect(toFlagName('lambdaScaling')).toBe('lambda-scaling');
    expect(toParamKey('cg-steps')).toBe('cgSteps');
  });

  it('offers every hyperparameter but feedback and threads', () => {
    const names = gridParamNames().map((n) => n.name);
    expect(names).toEqual(
      expect.arrayContaining(['factors', 'lambda', 'lambda-scaling', 'alpha', 'iterations', 'solver', 'cg-steps', 'seed']),
    );
    expect(names).not.toContain('threads');
    expect(names).not.toContain('feedback');
  });

  it.each([
    ['lambda=abc', /--grid: lambda value "abc" is not a number/],
    ['lambda=0.1,abc', /--grid: lambda value "abc" is not a number/],
    ['factors=16,1e999', /factors value "1e999" is not a number/],
    ['foo=1,2', /--grid: unknown parameter "foo" \(parameters: .*lambda/],
    ['threads=1,2', /unknown parameter "threads"/],
    ['lambda=', /--grid: lambda has an empty list of values/],
    ['lambda=,', /--grid: lambda has an empty list of values/],
    ['lambda=0.1,,1', /--grid: lambda has an empty value/],
    ['lambda', /"lambda" must look like name=v1,v2/],
    ['=1,2', /must look like name=v1,v2/],
    ['', /--grid is empty/],
    ['   ', /--grid is empty/],
    ['lambda=1 lambda=2', /"lambda" is given twice/],
    ['lambda=1,1', /lambda lists a value twice/],
  ])('rejects %j with exit 2 and a message naming it', (spec, message) => {
    const e = errorOf(() => parseGrid(spec));
    expect(exitCode(e)).toBe(2);
    expect(httpStatus(e)).toBe(400);
    expect(e.message).toMatch(message);
  });
});

describe('grid expansion', () => {
  const base = resolveParams({ feedback: 'explicit', threads: 1, iterations: 7 });

  it('yields the cartesian product, first dimension slowest, over the base params', () => {
    const pts = expandGrid(parseGrid('factors=8,16 lambda=0.1,1,10'), base);
    expect(pts.map((p) => [p.factors, p.lambda])).toEqual([
      [8, 0.1],
      [8, 1],
      [8, 10],
      [16, 0.1],
      [16, 1],
      [16, 10],
    ]);
    for (const p of pts) {
      expect(p.iterations).toBe(7); // from the base (train flags), not overridden by the grid
      expect(p.feedback).toBe('explicit');
      expect(p.threads).toBe(1);
    }
  });

  it('validates each point with resolveParams and names the point', () => {
    const e = errorOf(() => expandGrid(parseGrid('factors=8 lambda=0.1,-1'), base));
    expect(exitCode(e)).toBe(2);
    expect(e.message).toMatch(/--grid factors=8 lambda=-1: lambda must be a number >= 0, got -1/);
    expect(errorOf(() => expandGrid(parseGrid('factors=8.5'), base)).message).toMatch(/factors=8.5: factors must be an integer/);
    expect(errorOf(() => expandGrid(parseGrid('solver=lu'), base)).message).toMatch(/solver=lu: solver must be one of/);
  });

  it('shows params under flag names, without threads', () => {
    const flags = paramsToFlags(base);
    expect(flags).toMatchObject({ feedback: 'explicit', lambda: base.lambda, 'lambda-scaling': 'count', 'cg-steps': base.cgSteps });
    expect(flags).not.toHaveProperty('threads');
  });
});

describe('metric choice', () => {
  it('defaults to rmse for explicit and ndcg@10 for implicit, with directions', () => {
    expect(parseMetric(undefined, 'explicit')).toEqual({ name: 'rmse', higherIsBetter: false, at: 10 });
    expect(parseMetric(undefined, 'implicit')).toEqual({ name: 'ndcg@10', higherIsBetter: true, at: 10 });
    expect(parseMetric('map@5', 'implicit')).toEqual({ name: 'map@5', higherIsBetter: true, at: 5 });
    expect(parseMetric('mae', 'explicit').higherIsBetter).toBe(false);
  });

  it('rejects unknown metrics and rating metrics for implicit feedback', () => {
    expect(errorOf(() => parseMetric('auc', 'explicit')).message).toMatch(/--metric must be one of/);
    expect(errorOf(() => parseMetric('ndcg@0', 'explicit')).message).toMatch(/--metric/);
    expect(errorOf(() => parseMetric('rmse', 'implicit')).message).toMatch(/--metric rmse needs explicit feedback/);
  });
});
