/** Assertion helpers shared by the tests. */
import { expect } from 'vitest';
import { RidgerecError } from '../../src/errors.js';

/** Awaits `p`, expects it to reject with a RidgerecError, and returns that error for more checks. */
export async function failure(p: Promise<unknown>): Promise<RidgerecError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RidgerecError);
    return e as RidgerecError;
  }
  throw new Error('expected a failure');
}
