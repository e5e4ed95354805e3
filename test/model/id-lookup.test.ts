import { describe, expect, it } from 'vitest';
import { createIdLookup } from '../../src/model/id-lookup.js';
import { mulberry32 } from '../../src/training/random.js';

describe('createIdLookup', () => {
  it('agrees with a Map on random ids, awkward ids and misses', () => {
    const rand = mulberry32(9);
    const ids = ['', ' ', 'a', 'A', 'new\nline', 'nul\u0000', '🎬 émoji', 'lone\ud800', '196', '0196'];
    for (let i = 0; i < 5000; i++) ids.push(`${Math.floor(rand() * 1e9).toString(36)}-${i}`);
    const lookup = createIdLookup(ids);
    const map = new Map(ids.map((id, i) => [id, i]));
    expect(lookup.size).toBe(ids.length);
    for (const id of ids) expect(lookup.get(id)).toBe(map.get(id));
    for (const miss of ['b', 'x-1', '196 ', 'new\r\nline', '\ud800', 'lone']) {
      expect(lookup.get(miss)).toBeUndefined();
      expect(lookup.has(miss)).toBe(false);
    }
    expect(createIdLookup([]).get('')).toBeUndefined();
    expect(createIdLookup(['dup', 'dup']).get('dup')).toBe(0);
  });
});
