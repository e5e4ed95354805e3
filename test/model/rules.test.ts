/**
 * Rules on recommendations (src/model/rules.ts) through Model: filters keep lists full whenever
 * enough items pass, category caps hold, inactive items never appear, bad `where` is InvalidInput.
 */
import { describe, expect, it } from 'vitest';
import { InvalidInput, fit, type Rating } from '../../src/index.js';
import { Catalog, type CatalogItem } from '../../src/model/catalog.js';
import { compileRules, parseWhere, describeFilters } from '../../src/model/rules.js';
import { mulberry32 } from '../../src/training/random.js';

const CATS = ['red', 'green', 'blue'];
const N_ITEMS = 60;

function ratings(): Rating[] {
  const rand = mulberry32(11);
  const out: Rating[] = [];
  for (let u = 0; u < 80; u++)
    for (let i = 0; i < N_ITEMS; i++) if (rand() < 0.2) out.push({ user: `u${u}`, item: `i${i}`, value: 1 + Math.floor(rand() * 3) });
  return out;
}

function catalog(): Catalog {
  const items: CatalogItem[] = [];
  for (let i = 0; i < N_ITEMS; i++) {
    items.push({
      id: `i${i}`,
      title: `Item ${i}`,
      categories: i % 10 === 0 ? [CATS[i % 3]!, CATS[(i + 1) % 3]!] : [CATS[i % 3]!],
      metadata: { price: i, brand: i % 2 === 0 ? 'acme' : 'other', inStock: i % 4 !== 0 },
      active: true,
    });
  }
  return new Catalog(items);
}

const model = await fit(ratings(), { feedback: 'implicit', factors: 6, lambda: 1, iterations: 6, threads: 1 });
const cat = catalog();
const inCat = (id: string, c: string) => cat.get(id)!.categories.includes(c);

describe('rules through Model.recommend', () => {
  it('category: every item is in the category and the list is full', () => {
    const r = model.recommend('u1', { limit: 12, category: ['red'], catalog: cat });
    expect(r.items).toHaveLength(12);
    for (const x of r.items) expect(inCat(x.item, 'red')).toBe(true);
    const two = model.recommend('u1', { limit: 30, category: ['red', 'blue'], excludeCategory: ['green'], catalog: cat });
    for (const x of two.items) expect((inCat(x.item, 'red') || inCat(x.item, 'blue')) && !inCat(x.item, 'green')).toBe(true);
  });

  it('equals the unfiltered ranking restricted to the passing items', () => {
    const all = model.recommend('u2', { limit: N_ITEMS, catalog: cat }).items.filter((x) => inCat(x.item, 'blue'));
    expect(model.recommend('u2', { limit: 5, category: ['blue'], catalog: cat }).items).toEqual(all.slice(0, 5));
  });

  it('a rule that leaves few candidates scores just those, with the same answer as scoring the catalog', () => {
    const rare = new Catalog([...cat.values()].map((it, i) => ({ ...it, categories: i % 10 === 0 ? ['rare'] : it.categories })));
    for (const u of ['u0', 'u6', 'stranger']) {
      const all = model.recommend(u, { limit: N_ITEMS, catalog: rare }).items.filter((x) => rare.get(x.item)!.categories.includes('rare'));
      const only = model.recommend(u, { limit: 4, category: ['rare'], catalog: rare }).items;
      expect(only.map((x) => x.item)).toEqual(all.slice(0, 4).map((x) => x.item));
      only.forEach((x, j) => expect(x.score).toBeCloseTo(all[j]!.score, 3));
    }
    const folded = model.recommendFor([{ item: 'i10', value: 3 }], { limit: 10, category: ['rare'], catalog: rare }).items;
    expect(folded.map((x) => x.item)).not.toContain('i10'); // rated items stay out on this path too
    expect(folded).toHaveLength(5);
  });

  it('maxPerCategory: no category holds more than N items, and the list is still full when possible', () => {
    // Items taken in score order while every one of their categories is under the cap.
    const capped = (c: Catalog, limit: number) => {
      const r = model.recommend('u3', { limit, maxPerCategory: 2, catalog: c });
      const counts = new Map<string, number>();
      for (const x of r.items) for (const k of c.get(x.item)!.categories) counts.set(k, (counts.get(k) ?? 0) + 1);
      for (const n of counts.values()) expect(n).toBeLessThanOrEqual(2);
      return r.items;
    };
    capped(cat, 6);
    // One category per item: three categories × 2 fill a list of 6 exactly, and no more fit.
    const single = new Catalog([...cat.values()].map((it) => ({ ...it, categories: it.categories.slice(0, 1) })));
    expect(capped(single, 6)).toHaveLength(6);
    expect(capped(single, 10)).toHaveLength(6);
  });

  it('include: only listed items, in score order; where filters metadata', () => {
    const include = ['i5', 'i7', 'i9', 'i11', 'unknown'];
    const r = model.recommend('u4', { limit: 10, include, includeRated: true });
    expect(r.items.map((x) => x.item).sort()).toEqual(['i11', 'i5', 'i7', 'i9']);
    for (let j = 1; j < r.items.length; j++) expect(r.items[j]!.score).toBeLessThanOrEqual(r.items[j - 1]!.score);
    const w = model.recommend('u4', { limit: 50, where: 'brand:acme,price<30,inStock:true', catalog: cat, includeRated: true });
    expect(w.items.length).toBeGreaterThan(0);
    for (const x of w.items) {
      const m = cat.get(x.item)!.metadata;
      expect(m.brand === 'acme' && (m.price as number) < 30 && m.inStock === true).toBe(true);
    }
  });

  it('an inactive item never appears, from any source; making it active brings it back', () => {
    const top = model.recommend('u5', { limit: 1, catalog: cat }).items[0]!.item;
    const c = catalog();
    c.set({ ...c.get(top)!, active: false });
    model.useCatalog(c);
    try {
      expect(model.recommend('u5', { limit: 20 }).items.map((x) => x.item)).not.toContain(top);
      expect(model.recommend('stranger', { limit: N_ITEMS }).items.map((x) => x.item)).not.toContain(top);
      expect(model.similarItems('i1', { limit: N_ITEMS - 1 }).items.map((x) => x.item)).not.toContain(top);
      expect(model.recommendFor([{ item: 'i2', value: 3 }], { limit: N_ITEMS }).items.map((x) => x.item)).not.toContain(top);
      c.set({ ...c.get(top)!, active: true });
      expect(model.recommend('u5', { limit: 1 }).items[0]!.item).toBe(top);
    } finally {
      model.useCatalog(null);
    }
  });

  it('compiled rules are reused for the same rules and catalogue version, and rebuilt after a change', () => {
    const c = catalog();
    const a = model.rules({ category: ['red'], catalog: c });
    expect(model.rules({ category: ['red'], catalog: c })).toBe(a);
    expect(model.rules({ category: ['blue'], catalog: c })).not.toBe(a);
    c.set({ ...c.get('i0')!, categories: ['blue'] });
    const b = model.rules({ category: ['red'], catalog: c });
    expect(b).not.toBe(a);
    const i0 = model.itemIndex('i0')!;
    expect(b.allowed(i0)).toBe(false);
    expect(a.allowed(i0)).toBe(true);
  });

  it('the popularity fallback honours the filters', () => {
    const r = model.recommend('stranger', { limit: 5, category: ['green'], catalog: cat });
    expect(r.source).toBe('popular');
    expect(r.items).toHaveLength(5);
    for (const x of r.items) expect(inCat(x.item, 'green')).toBe(true);
  });

  it('similar items under rules', () => {
    const s = model.similarItems('i3', { limit: 4, category: ['red'], catalog: cat });
    expect(s.items).toHaveLength(4);
    for (const x of s.items) expect(inCat(x.item, 'red') && x.item !== 'i3').toBe(true);
  });
});

describe('where grammar and rule errors', () => {
  it('parses conditions and reports each bad one by number', () => {
    expect(parseWhere('brand:acme,price<50,rating>=4.5,color!:red')).toEqual([
      { key: 'brand', op: ':', value: 'acme' },
      { key: 'price', op: '<', value: '50' },
      { key: 'rating', op: '>=', value: '4.5' },
      { key: 'color', op: '!:', value: 'red' },
    ]);
    expect(() => parseWhere('brand=acme')).toThrow(/where: condition 1 "brand=acme" is not key:value/);
    expect(() => parseWhere('brand:acme,price<cheap')).toThrow(
      /condition 2 "price<cheap" compares price with "cheap", which is not a number/,
    );
    expect(() => parseWhere('a:b,,c:d')).toThrow(InvalidInput);
  });

  it('category rules without a catalogue, and a bad cap, are InvalidInput', () => {
    expect(() => model.recommend('u1', { category: ['red'] })).toThrow(/need an item catalogue/);
    expect(() => compileRules({ maxPerCategory: 0 }, 3, () => undefined, cat.viewFor(['i0', 'i1', 'i2']))).toThrow(
      /maxPerCategory must be an integer >= 1/,
    );
  });

  it('describeFilters states what was applied', () => {
    expect(describeFilters({ category: ['a'], where: 'price<5', maxPerCategory: 2, exclude: [] })).toEqual({
      category: ['a'],
      where: ['price<5'],
      maxPerCategory: 2,
      activeOnly: true,
    });
  });
});
