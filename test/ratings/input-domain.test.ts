/**
 * The input domain of the store, whichever way a rating or an id comes in. Before, a rating of
 * 1e308 was stored (and imported), after which every training diverged; an id holding a lone
 * UTF-16 surrogate was stored as U+FFFD and could never be read back; "é" composed and decomposed
 * were two users.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { InvalidInput } from '../../src/errors.js';
import { canonicalId, nfcId } from '../../src/ratings/ids.js';
import { importItemsFile } from '../../src/ratings/import-items.js';
import { openStore, type SqliteStore } from '../../src/store/store.js';
import { tempDir, type TempDir } from '../helpers/temp.js';

const COMPOSED = 'Jos\u00e9'; // é as one code point, U+00E9
const DECOMPOSED = 'Jose\u0301'; // e + combining acute accent, U+0065 U+0301
const LONE = 'user\ud800';

let dir: TempDir;
let store: SqliteStore;
beforeEach(() => {
  dir = tempDir();
  store = openStore(join(dir.dir, 'test.db'));
});
afterEach(() => {
  store.close();
  dir.cleanup();
});

function invalid(f: () => unknown): InvalidInput {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInput);
    return e as InvalidInput;
  }
  throw new Error('expected InvalidInput');
}

const count = () => store.stats().ratings;

describe('rating values outside the allowed range', () => {
  it('Store.addRatings refuses 1e308 and -2e6 naming the field and the range, and stores nothing of the batch', () => {
    store.addRatings([{ user: 'a', item: 'x', value: 1 }]);
    for (const value of [1e308, -2e6, LIMITS.maxRatingValue * (1 + 1e-12)]) {
      const e = invalid(() =>
        store.addRatings([
          { user: 'b', item: 'x', value: 3 },
          { user: 'b', item: 'y', value },
        ]),
      );
      expect(e.message).toBe(`ratings[1].value must be within -1000000..1000000, got ${String(value)}`);
    }
    expect(count()).toBe(1);
    // The bounds themselves are allowed.
    store.addRatings([
      { user: 'c', item: 'x', value: LIMITS.minRatingValue },
      { user: 'c', item: 'y', value: LIMITS.maxRatingValue },
    ]);
    expect(count()).toBe(3);
  });

  it('Store.importRatings refuses a file with a huge value with FILE:LINE, importing nothing', async () => {
    const file = join(dir.dir, 'huge.tsv');
    writeFileSync(file, '1\t10\t4\n2\t20\t3\n3\t30\t1e308\n');
    await expect(store.importRatings(file)).rejects.toThrow(`${file}:3: value "1e308" is outside the allowed range -1000000..1000000`);
    expect(count()).toBe(0);
    // --skip-invalid skips it like any bad row.
    const r = await store.importRatings(file, { skipInvalid: true });
    expect(r).toMatchObject({ rows: 2, rejected: 1, rejectedLines: [3] });
  });
});

describe('ids: valid UTF-16, stored in NFC', () => {
  it('canonicalId: NFC for the decomposed form, the same string when already NFC, InvalidInput for a lone surrogate', () => {
    expect(canonicalId(DECOMPOSED)).toBe(COMPOSED);
    expect(canonicalId(COMPOSED)).toBe(COMPOSED);
    expect(canonicalId('plain-ascii_42')).toBe('plain-ascii_42');
    expect(nfcId(LONE)).toBeNull();
    expect(nfcId('\udc00x')).toBeNull();
    expect(nfcId('\ud83d\ude00')).toBe('\ud83d\ude00'); // a valid pair (😀) is fine
    expect(invalid(() => canonicalId(LONE, 'ratings[0].user')).message).toBe(
      'ratings[0].user is not valid UTF-16 (it holds a lone surrogate)',
    );
  });

  it('Store.addRatings refuses a lone surrogate in a user or item id and stores nothing', () => {
    expect(invalid(() => store.addRatings([{ user: LONE, item: 'x', value: 1 }])).message).toMatch(
      /^ratings\[0\]\.user is not valid UTF-16/,
    );
    expect(
      invalid(() =>
        store.addRatings([
          { user: 'a', item: 'x', value: 1 },
          { user: 'a', item: 'y\udfff', value: 1 },
        ]),
      ).message,
    ).toMatch(/^ratings\[1\]\.item is not valid UTF-16/);
    expect(store.stats()).toMatchObject({ users: 0, items: 0, ratings: 0 });
  });

  it('the composed and decomposed forms of an id are the same user and the same item, on every library call', () => {
    store.addRatings([{ user: COMPOSED, item: `caf\u00e9`, value: 4 }]);
    store.addRatings([{ user: DECOMPOSED, item: 'cafe\u0301', value: 5 }]);
    expect(store.stats()).toMatchObject({ users: 1, items: 1, ratings: 1 });
    expect(store.userRatings(DECOMPOSED)).toEqual([{ item: 'caf\u00e9', value: 5 }]);
    expect(store.userRatings(COMPOSED)).toEqual([{ item: 'caf\u00e9', value: 5 }]);
    store.writeItems([{ id: 'cafe\u0301', patch: { title: 'Café' } }], false);
    expect(store.getItem('caf\u00e9')?.title).toBe('Café');
    expect(store.deleteUser(DECOMPOSED)).toBe(true);
    expect(store.userRatings(COMPOSED)).toEqual([]);
  });

  it('an item file with decomposed ids writes the NFC ids', () => {
    const file = join(dir.dir, 'items.jsonl');
    writeFileSync(file, `${JSON.stringify({ id: 'cafe\u0301', title: 'Café' })}\n`);
    importItemsFile(store.db, file);
    expect(store.getItem('caf\u00e9')).toMatchObject({ id: 'caf\u00e9', title: 'Café' });
    expect(store.db.prepare('SELECT external_id FROM items').pluck().all()).toEqual(['caf\u00e9']);
  });
});
