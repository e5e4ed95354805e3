/**
 * One contract for the Model, run for every way of obtaining one: fitted, loaded from a file, loaded
 * from its bytes, and loaded from the SQLite store's registry. Each must give the same answers.
 * The fixture has a known answer: two taste groups (items 0..3 and 4..7); every user rates the
 * items of their group except the one with their own number, so user u's best unrated item is u
 * (users 0..7; user 8 rates both groups and is left out of the group checks).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fit, Model, NotFound, openStore, type Rating } from '../../src/index.js';

const N = 8;
const group = (i: number) => (i < N / 2 ? 0 : 1);

function ratings(): Rating[] {
  const out: Rating[] = [];
  for (let u = 0; u < N; u++) {
    for (let i = 0; i < N; i++) {
      if (i === u) continue;
      // Liked: the user's own group (value 1). The other group is simply unrated (implicit feedback).
      if (group(i) === group(u)) out.push({ user: `u${u}`, item: `i${i}`, value: 1 });
    }
  }
  out.push({ user: 'u8', item: 'i0', value: 1 }, { user: 'u8', item: 'i4', value: 1 });
  return out;
}

const params = { feedback: 'implicit', factors: 4, lambda: 0.1, alpha: 10, iterations: 20, threads: 1, seed: 3 } as const;
const dir = mkdtempSync(join(tmpdir(), 'ridgerec-contract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fitted: Promise<Model> | null = null;
const fittedModel = () => (fitted ??= fit(ratings(), params));

const paths: [string, () => Promise<Model>][] = [
  ['fitted', fittedModel],
  [
    'loaded from a file',
    async () => {
      const file = join(dir, 'm.ridgerec');
      await (await fittedModel()).save(file);
      return Model.load(file);
    },
  ],
  ['loaded from its bytes', async () => Model.load(Uint8Array.from((await fittedModel()).toBuffer()))],
  [
    'loaded from the store',
    async () => {
      const store = openStore(join(dir, 'store.db'));
      const id = store.saveModel(await fittedModel(), { activate: true });
      const { record, model } = store.activeModel()!;
      expect(record.id).toBe(id);
      store.close();
      return model;
    },
  ],
];

for (const [how, make] of paths) {
  describe(`Model contract: ${how}`, () => {
    it('describes itself', async () => {
      const m = await make();
      expect(m.info).toMatchObject({ feedback: 'implicit', factors: 4, nUsers: N + 1, nItems: N, ratings: ratings().length });
      expect(m.info.params).toMatchObject({ lambda: 0.1, alpha: 10, iterations: 20 });
      expect(m.info.history).toHaveLength(20);
      expect(m.info.metrics).toMatchObject({ ratings: ratings().length });
    });

    it("recommends each user's withheld item first, rated items excluded", async () => {
      const m = await make();
      for (let u = 0; u < N; u++) {
        const r = m.recommend(`u${u}`, { limit: 3 });
        expect(r).toMatchObject({ user: `u${u}`, source: 'model' });
        expect(r.items[0]!.item).toBe(`i${u}`);
        const rated = new Set(
          ratings()
            .filter((x) => x.user === `u${u}`)
            .map((x) => x.item),
        );
        for (const it of r.items) expect(rated.has(it.item)).toBe(false);
      }
    });

    it('honours limit, exclude and includeRated; scores are descending', async () => {
      const m = await make();
      const all = m.recommend('u0', { limit: 100 }).items;
      expect(all.map((x) => x.item).sort()).toEqual(['i0', 'i4', 'i5', 'i6', 'i7']);
      for (let j = 1; j < all.length; j++) expect(all[j]!.score).toBeLessThanOrEqual(all[j - 1]!.score);
      expect(m.recommend('u0').items).toHaveLength(5); // default limit 10, 5 unrated items
      expect(m.recommend('u0', { limit: 2, exclude: ['i0', 'unknown'] }).items.map((x) => x.item)).not.toContain('i0');
      const withRated = m.recommend('u0', { limit: 8, includeRated: true }).items.map((x) => x.item);
      expect(withRated.slice(0, 4).sort()).toEqual(['i0', 'i1', 'i2', 'i3']);
      expect(() => m.recommend('u0', { limit: 0 })).toThrow(/limit must be an integer >= 1/);
    });

    it('answers an unknown user with the popular items', async () => {
      const m = await make();
      const r = m.recommend('stranger', { limit: 2 });
      expect(r.source).toBe('popular');
      expect(r.items.map((x) => x.item)).toEqual(['i0', 'i4']); // rated by 4 users each (u8 included), lowest index first
    });

    it('recommendBatch equals recommend per user', async () => {
      const m = await make();
      // More than one group of eight, unknown users among them, and every option.
      const users = ['u1', 'stranger', ...Array.from({ length: 9 }, (_, u) => `u${u}`), 'u5', 'u0', 'nobody', 'u8', 'u3'];
      for (const opts of [{ limit: 3 }, { limit: 8, includeRated: true }, { limit: 2, exclude: ['i0', 'i4', 'i7'] }]) {
        expect(m.recommendBatch(users, opts)).toEqual(users.map((u) => m.recommend(u, opts)));
      }
      expect(m.useSimd(false).recommendBatch(users, { limit: 3 })).toEqual(users.map((u) => m.recommend(u, { limit: 3 })));
      m.useSimd(true);
    });

    it('similarItems: same-group items first, never the item itself; unknown → NotFound', async () => {
      const m = await make();
      const s = m.similarItems('i1', { limit: 3 });
      expect(s.item).toBe('i1');
      expect(s.items.map((x) => x.item).sort()).toEqual(['i0', 'i2', 'i3']);
      for (const x of s.items) expect(Math.abs(x.score)).toBeLessThanOrEqual(1);
      expect(() => m.similarItems('nope')).toThrow(NotFound);
    });

    it('recommendFor folds an ad-hoc basket in without changing the model', async () => {
      const m = await make();
      const before = m.userFactors.slice();
      const r = m.recommendFor(
        [
          { item: 'i4', value: 1 },
          { item: 'i5', value: 1 },
          { item: 'i6', value: 1 },
          { item: 'ghost', value: 1 },
        ],
        { limit: 1 },
      );
      expect(r).toEqual({ source: 'fold-in', items: [expect.objectContaining({ item: 'i7' })] });
      expect(m.userFactors).toEqual(before);
      expect(m.nUsers).toBe(N + 1);
      expect(m.recommendFor([{ item: 'ghost', value: 1 }], { limit: 1 }).source).toBe('popular');
      expect(() => m.recommendFor([{ item: 'i4', value: Number.NaN }])).toThrow(/finite number/);
    });

    it('userVector and itemVector are copies of k factors; null when unknown', async () => {
      const m = await make();
      const v = m.userVector('u2')!;
      expect(v).toHaveLength(4);
      v[0] = 1e9;
      expect(m.userVector('u2')![0]).not.toBe(1e9);
      expect(m.itemVector('i3')).toHaveLength(4);
      expect(m.userVector('stranger')).toBeNull();
      expect(m.itemVector('nope')).toBeNull();
    });

    it('answers exactly as the fitted model does', async () => {
      const m = await make();
      const f = await fittedModel();
      for (const u of ['u0', 'u3', 'u6', 'u8']) expect(m.recommend(u, { limit: 8 })).toEqual(f.recommend(u, { limit: 8 }));
      expect(m.similarItems('i5', { limit: 7 })).toEqual(f.similarItems('i5', { limit: 7 }));
      expect(m.toBuffer().equals(f.toBuffer())).toBe(true);
    });
  });
}

describe('Model with explicit feedback', () => {
  it('scores known users as μ + b_u + b_i + p_u·q_i and round-trips through a file', async () => {
    const stars: Rating[] = [];
    for (let u = 0; u < 6; u++)
      for (let i = 0; i < 6; i++) if ((u + i) % 3 !== 0) stars.push({ user: `u${u}`, item: `i${i}`, value: 1 + ((u * i) % 5) });
    const m = await fit(stars, { feedback: 'explicit', factors: 3, iterations: 10, threads: 1 });
    const u = m.userIndex('u1')!;
    const top = m.recommend('u1', { limit: 1, includeRated: true }).items[0]!;
    const i = m.itemIndex(top.item)!;
    let dot = 0;
    for (let f = 0; f < 3; f++) dot += m.userFactors[u * 3 + f]! * m.itemFactors[i * 3 + f]!;
    expect(top.score).toBeCloseTo(m.globalMean + m.userBias![u]! + m.itemBias![i]! + dot, 3);
    const again = Model.load(m.toBuffer());
    expect(again.recommend('u1', { limit: 6 })).toEqual(m.recommend('u1', { limit: 6 }));
    expect(again.userBias).toEqual(m.userBias);
    expect(again.globalMean).toBe(m.globalMean);
  });

  it('fit rejects bad ratings naming the entry', async () => {
    await expect(fit([{ user: 'a', item: 'b', value: Number.POSITIVE_INFINITY }])).rejects.toThrow(
      /ratings\[0\]\.value must be a finite number/,
    );
    await expect(fit([{ user: '', item: 'b', value: 1 }])).rejects.toThrow(/ratings\[0\]\.user must be a non-empty string/);
  });
});
