import { availableParallelism } from 'node:os';
import { cliMessage } from '../../src/cli/common.js';
import { InvalidInput } from '../../src/errors.js';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PARAMS, detectFeedback, resolveParams } from '../../src/training/params.js';

describe('resolveParams', () => {
  it('fills the defaults of each feedback kind', () => {
    const e = resolveParams({ feedback: 'explicit' });
    expect(e).toEqual(DEFAULT_PARAMS.explicit);
    expect(e).toMatchObject({ factors: 64, iterations: 15, cgSteps: 3, seed: 0, lambdaScaling: 'count', threads: availableParallelism() });
    const i = resolveParams({ feedback: 'implicit' });
    expect(i).toMatchObject({ factors: 64, lambdaScaling: 'none', solver: 'cg' });
    expect(Object.isFrozen(i)).toBe(true);
  });

  it('keeps given values and ignores undefined ones', () => {
    const p = resolveParams({ feedback: 'implicit', factors: 8, lambda: 0, alpha: 40, threads: 3, seed: 9, solver: undefined });
    expect(p).toMatchObject({ factors: 8, lambda: 0, alpha: 40, threads: 3, seed: 9, solver: DEFAULT_PARAMS.implicit.solver });
  });

  const bad: [Record<string, unknown>, string][] = [
    [{ lambda: -1 }, '--lambda must be a number >= 0, got -1'],
    [{ lambda: Number.NaN }, '--lambda must be a number >= 0, got NaN'],
    [{ alpha: Infinity }, '--alpha must be a number >= 0, got Infinity'],
    [{ factors: 0 }, '--factors must be an integer in 1..1024, got 0'],
    [{ factors: 2.5 }, '--factors must be an integer in 1..1024, got 2.5'],
    [{ iterations: 0 }, '--iterations must be an integer in 1..10000, got 0'],
    [{ cgSteps: 0 }, '--cg-steps must be an integer in 1..1000, got 0'],
    [{ threads: 0 }, '--threads must be an integer in 1..256, got 0'],
    [{ seed: -1 }, '--seed must be an integer in 0..4294967295, got -1'],
    [{ solver: 'lu' }, '--solver must be one of cg, cholesky, got lu'],
    [{ lambdaScaling: 'sqrt' }, '--lambda-scaling must be one of count, none, got sqrt'],
    [{ feedback: 'stars' }, '--feedback must be one of explicit, implicit, got stars'],
    [{ factors: '8' }, '--factors must be an integer in 1..1024, got 8'],
  ];
  for (const [partial, message] of bad) {
    it(`rejects ${JSON.stringify(partial)} naming the flag`, () => {
      let caught: unknown;
      try {
        resolveParams({ feedback: 'explicit', ...partial } as never);
      } catch (e) {
        caught = e;
      }
      // The core names the parameter; the CLI shows the same message with the flag's name.
      expect(caught).toBeInstanceOf(InvalidInput);
      expect(caught).toMatchObject({ code: 'invalid_input' });
      expect((caught as InvalidInput).message).not.toMatch(/--/);
      expect(cliMessage(caught as InvalidInput)).toBe(message);
    });
  }
});

describe('detectFeedback', () => {
  it('star ratings are explicit', () => {
    expect(detectFeedback(Float32Array.of(1, 2, 3, 4, 5, 5, 3))).toBe('explicit');
    expect(detectFeedback(Float32Array.of(0.5, 1, 1.5, 4.5, 5))).toBe('explicit');
    expect(detectFeedback(Float32Array.of(1, 10, 7))).toBe('explicit');
  });
  it('counts, large or many distinct values, and all-ones flags are implicit', () => {
    expect(detectFeedback(Float32Array.of(1, 1, 1, 1))).toBe('implicit');
    expect(detectFeedback(Float32Array.of(1, 3, 250))).toBe('implicit');
    expect(detectFeedback(Float32Array.from({ length: 100 }, (_, i) => i / 10))).toBe('implicit');
    expect(detectFeedback(Float32Array.of(-1, 2))).toBe('implicit');
    expect(detectFeedback(new Float32Array(0))).toBe('implicit');
  });
});
