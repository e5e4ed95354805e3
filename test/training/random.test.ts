import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/training/random.js';

describe('mulberry32', () => {
  it('is deterministic, in [0, 1), and roughly uniform', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    expect(mulberry32(8)()).not.toBe(mulberry32(7)());
  });
});
