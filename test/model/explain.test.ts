/**
 * Explanations decompose the re-solved score over the user's rated items: the parts (listed
 * contributions + rest, plus the bias terms of an explicit model) sum to the score, and the score
 * is that of the fold-in solve (the same ridge problem) — for a trained user, a folded-in user and
 * an anonymous basket alike.
 */
import { describe, expect, it } from 'vitest';
import { fit, Model, NotFound, type Explanation, type Rating } from '../../src/index.js';
import { mulberry32 } from '../../src/training/random.js';

function randomRatings(seed: number, stars: boolean): Rating[] {
  const rand = mulberry32(seed);
  const out: Rating[] = [];
  for (let u = 0; u < 40; u++) {
    for (let i = 0; i < 30; i++) {
      if (rand() < 0.3) out.push({ user: `u${u}`, item: `i${i}`, value: stars ? 1 + Math.floor(rand() * 5) : 1 + Math.floor(rand() * 4) });
    }
  }
  return out;
}

const relClose = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(b)));

function partsSum(e: Explanation): number {
  const listed = e.contributions.reduce((s, c) => s + c.contribution, 0);
  const bias = e.bias ? e.bias.global + e.bias.user + e.bias.item : 0;
  return listed + e.rest + bias;
}

/** The score of the fold-in solve of these ratings for item i. */
function foldInScore(m: Model, ratings: { item: string; value: number }[], item: string): number {
  const f = m.foldIn(ratings)!;
  const q = m.itemVector(item)!;
  let dot = 0;
  for (let t = 0; t < m.factors; t++) dot += f.factors[t]! * q[t]!;
  if (m.feedback === 'implicit') return dot;
  return m.globalMean + f.bias + m.itemBias![m.itemIndex(item)!]! + dot;
}

for (const feedback of ['implicit', 'explicit'] as const) {
  describe(`explain (${feedback})`, async () => {
    const ratings = randomRatings(7, feedback === 'explicit');
    const params =
      feedback === 'implicit'
        ? ({ feedback, factors: 6, lambda: 2, alpha: 3, iterations: 8, threads: 1 } as const)
        : ({ feedback, factors: 6, lambda: 0.1, iterations: 8, threads: 1 } as const);
    const model = await fit(ratings, params);
    const mine = (u: string) => ratings.filter((r) => r.user === u).map(({ item, value }) => ({ item, value }));

    it('a trained user: the parts sum to the score, which is the fold-in score of their ratings', () => {
      for (const u of ['u0', 'u7', 'u19']) {
        for (const item of ['i0', 'i3', 'i29']) {
          const e = model.explain(u, item, { top: 3 });
          expect(e.contributions.length).toBeLessThanOrEqual(3);
          relClose(partsSum(e), e.score);
          relClose(e.score, foldInScore(model, mine(u), item));
          for (let j = 1; j < e.contributions.length; j++)
            expect(e.contributions[j]!.contribution).toBeLessThanOrEqual(e.contributions[j - 1]!.contribution);
          expect(e.bias === undefined).toBe(feedback === 'implicit');
        }
      }
    });

    it('a folded-in user and an anonymous basket: the same identity with the given ratings', () => {
      const basket = [
        { item: 'i1', value: 4 },
        { item: 'i2', value: 1 },
        { item: 'i8', value: 3 },
        { item: 'unknown', value: 5 },
      ];
      const e = model.explain('visitor', 'i5', { ratings: basket, top: 10 });
      expect(e.contributions.map((c) => c.item).sort()).toEqual(['i1', 'i2', 'i8']);
      expect(e.rest).toBe(0);
      relClose(partsSum(e), e.score);
      relClose(e.score, foldInScore(model, basket, 'i5'));
    });

    it('one factorization explains many items; the trained user matches explainer() item by item', () => {
      const ex = model.explainer('u3');
      for (const item of ['i4', 'i9']) expect(ex.explain('u3', model.itemIndex(item)!, 2)).toEqual(model.explain('u3', item, { top: 2 }));
    });

    it('survives the model file; unknown users and items are NotFound', () => {
      const again = Model.load(model.toBuffer());
      expect(again.explain('u5', 'i6')).toEqual(model.explain('u5', 'i6'));
      expect(() => model.explain('nobody', 'i1')).toThrow(NotFound);
      expect(() => model.explain('u1', 'nope')).toThrow(NotFound);
    });
  });
}

describe('explain on a known answer', () => {
  it('the top contribution to a horror film for a user who rated only horror films is a horror film', async () => {
    const ratings: Rating[] = [];
    const horror = ['h0', 'h1', 'h2', 'h3', 'h4'];
    const comedy = ['c0', 'c1', 'c2', 'c3', 'c4'];
    for (let u = 0; u < 20; u++) {
      const films = u % 2 === 0 ? horror : comedy;
      for (const f of films) if (!(u < 2 && f.endsWith('4'))) ratings.push({ user: `u${u}`, item: f, value: 1 });
    }
    ratings.push({ user: 'mixed', item: 'h0', value: 1 }, { user: 'mixed', item: 'c0', value: 1 });
    const model = await fit(ratings, { feedback: 'implicit', factors: 4, lambda: 0.5, alpha: 5, iterations: 15, threads: 1 });
    const e = model.explain('u0', 'h4', { top: 1 });
    expect(horror).toContain(e.contributions[0]!.item);
  });
});
