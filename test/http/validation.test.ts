import { describe, expect, it } from 'vitest';
import { httpStatus } from '../../src/http/errors.js';
import { RidgerecError } from '../../src/errors.js';
import {
  formatPath,
  parseAnonymousBody,
  parseBool,
  parseFilters,
  parseIdParam,
  parseLimit,
  parseRatingsBody,
} from '../../src/http/validation.js';

function rejects(fn: () => unknown): RidgerecError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RidgerecError);
    const err = e as RidgerecError;
    expect(httpStatus(err)).toBe(400);
    expect(err.code).toBe('invalid_input');
    return err;
  }
  throw new Error('expected a 400');
}

describe('formatPath', () => {
  it('writes array indices in brackets and fields with dots', () => {
    expect(formatPath(['ratings', 3, 'value'])).toBe('ratings[3].value');
    expect(formatPath([])).toBe('body');
    expect(formatPath(['limit'])).toBe('limit');
  });
});

describe('parseLimit', () => {
  it('defaults to 10 and accepts 1..1000', () => {
    expect(parseLimit(undefined)).toBe(10);
    expect(parseLimit('1')).toBe(1);
    expect(parseLimit('1000')).toBe(1000);
  });
  it.each(['0', '1001', '-1', '2.5', 'abc', '', ' 5', '1e2', '99999999999'])('rejects %j naming the range', (raw) => {
    expect(rejects(() => parseLimit(raw)).message).toMatch(/^limit: must be an integer in 1\.\.1000/);
  });
  it('rejects a repeated parameter', () => {
    expect(rejects(() => parseLimit(['1', '2'])).message).toMatch(/^limit: must be given once/);
  });
});

describe('parseFilters (exclude) / parseBool / parseIdParam', () => {
  it('splits on commas and drops empty segments', () => {
    expect(parseFilters({}).exclude).toBeUndefined();
    expect(parseFilters({ exclude: 'a,b,,c ' }).exclude).toEqual(['a', 'b', 'c']);
  });
  it('rejects an over-long excluded id by its position', () => {
    expect(rejects(() => parseFilters({ exclude: `a,${'x'.repeat(257)}` })).message).toMatch(/^exclude\[1\]: must be at most 256/);
  });
  it('accepts only true and false', () => {
    expect(parseBool('includeRated', undefined)).toBe(false);
    expect(parseBool('includeRated', 'true')).toBe(true);
    expect(parseBool('includeRated', 'false')).toBe(false);
    expect(rejects(() => parseBool('includeRated', 'yes')).message).toMatch(/^includeRated: must be true or false/);
  });
  it('limits path ids to 256 characters', () => {
    expect(parseIdParam('user', 'x'.repeat(256))).toHaveLength(256);
    expect(rejects(() => parseIdParam('user', 'x'.repeat(257))).message).toMatch(/^user: must be at most 256/);
  });
});

describe('parseRatingsBody', () => {
  it('accepts one rating or a batch', () => {
    expect(parseRatingsBody({ user: 'u', item: 'i', value: 4 })).toEqual([{ user: 'u', item: 'i', value: 4 }]);
    expect(
      parseRatingsBody({
        ratings: [
          { user: 'u', item: 'i', value: 0 },
          { user: 'v', item: 'j', value: -1.5 },
        ],
      }),
    ).toHaveLength(2);
  });
  it('names the index and the field of the first bad element and lists all of them', () => {
    const ok = { user: 'u', item: 'i', value: 1 };
    const err = rejects(() =>
      parseRatingsBody({ ratings: [ok, ok, ok, { user: 'u', item: 'i', value: 'x' }, { user: '', item: 'i', value: 1 }] }),
    );
    expect(err.message).toBe('ratings[3].value: must be a finite number (and 1 more problem)');
    expect(err.details).toEqual({
      issues: [
        { path: 'ratings[3].value', message: 'must be a finite number' },
        { path: 'ratings[4].user', message: 'must be a non-empty string' },
      ],
    });
  });
  it('rejects Infinity (what JSON.parse makes of 1e400), missing fields, long ids, non-objects', () => {
    expect(rejects(() => parseRatingsBody(JSON.parse('{"user":"u","item":"i","value":1e400}'))).message).toBe(
      'value: must be a finite number',
    );
    expect(rejects(() => parseRatingsBody({ user: 'u', value: 1 })).message).toBe('item: is required');
    expect(rejects(() => parseRatingsBody({ user: 'u'.repeat(257), item: 'i', value: 1 })).message).toBe(
      'user: must be at most 256 characters',
    );
    expect(rejects(() => parseRatingsBody(undefined)).message).toMatch(/needs a JSON body/);
    expect(rejects(() => parseRatingsBody([1])).message).toMatch(/must be a JSON object/);
    expect(rejects(() => parseRatingsBody({ ratings: [] })).message).toBe('ratings: must hold at least one rating');
  });
  it('accepts an optional integer timestamp and drops unknown fields', () => {
    expect(parseRatingsBody({ user: 'u', item: 'i', value: 4, timestamp: 1700000000, extra: 1 })).toEqual([
      { user: 'u', item: 'i', value: 4, timestamp: 1700000000 },
    ]);
    expect(rejects(() => parseRatingsBody({ ratings: [{ user: 'u', item: 'i', value: 4, timestamp: 1.5 }] })).message).toBe(
      'ratings[0].timestamp: must be an integer (unix seconds)',
    );
    expect(rejects(() => parseRatingsBody({ user: 'u', item: 'i', value: 4, timestamp: -1 })).message).toMatch(/^timestamp: /);
  });

  it('caps a batch at 10,000 ratings', () => {
    const r = { user: 'u', item: 'i', value: 1 };
    expect(parseRatingsBody({ ratings: new Array(10_000).fill(r) })).toHaveLength(10_000);
    expect(rejects(() => parseRatingsBody({ ratings: new Array(10_001).fill(r) })).message).toMatch(/^ratings: must hold at most 10000/);
  });
  it('bounds the details of a batch that is wrong everywhere', () => {
    const err = rejects(() => parseRatingsBody({ ratings: new Array(500).fill({ user: 1, item: 'i', value: 1 }) }));
    expect((err.details as { issues: unknown[] }).issues).toHaveLength(100);
    expect((err.details as { truncated: number }).truncated).toBe(400);
  });
});

describe('parseAnonymousBody', () => {
  it('fills limit and exclude defaults', () => {
    expect(parseAnonymousBody({ ratings: [{ item: '50', value: 5 }] })).toEqual({
      ratings: [{ item: '50', value: 5 }],
      limit: 10,
      exclude: [],
    });
  });
  it('validates limit and exclude', () => {
    expect(rejects(() => parseAnonymousBody({ ratings: [], limit: 0 })).message).toMatch(/^limit: must be an integer in 1\.\.1000/);
    expect(rejects(() => parseAnonymousBody({ ratings: [], limit: 2.5 })).message).toMatch(/^limit: /);
    expect(rejects(() => parseAnonymousBody({ ratings: [], exclude: 'a' })).message).toBe('exclude: must be an array of item ids');
    expect(rejects(() => parseAnonymousBody({ ratings: [{ item: 'a' }] })).message).toBe('ratings[0].value: is required');
    expect(rejects(() => parseAnonymousBody({})).message).toBe('ratings: is required');
  });
});
