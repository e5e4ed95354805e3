import { describe, expect, it } from 'vitest';
import { DEMO_CATEGORIES, demoCategoryOf, demoItems, generateDemoShop } from '../../src/demo/shop.js';

describe('the demo shop', () => {
  const shop = generateDemoShop();

  it('has 500 named products in 20 categories with unique ids and titles', () => {
    expect(DEMO_CATEGORIES).toHaveLength(20);
    expect(shop.items).toHaveLength(500);
    expect(new Set(shop.items.map((i) => i.id)).size).toBe(500);
    expect(new Set(shop.items.map((i) => i.title)).size).toBe(500);
    expect(shop.items[0]).toEqual({
      id: 'hiking-001',
      title: 'Trail Backpack',
      categories: ['hiking'],
      metadata: { category: 'hiking', categoryName: 'Hiking', price: expect.any(Number) },
    });
    for (const it of shop.items) {
      expect(it.id).toMatch(/^[a-z]+-\d{3}$/);
      expect(demoCategoryOf(it.id)).toBe(it.metadata.category);
      expect(it.categories).toEqual([it.metadata.category]);
      expect(it.metadata.price).toBeGreaterThan(0);
    }
    expect(demoItems()).toEqual(shop.items);
  });

  it('has users demo-1 … demo-2000 with 1–3 distinct favourite categories', () => {
    expect(shop.users).toHaveLength(2000);
    expect(shop.users[0]!.id).toBe('demo-1');
    expect(shop.users[1999]!.id).toBe('demo-2000');
    const sizes = [0, 0, 0, 0];
    for (const u of shop.users) {
      expect(new Set(u.favourites).size).toBe(u.favourites.length);
      sizes[u.favourites.length]!++;
    }
    expect(sizes[0]).toBe(0);
    for (const n of [1, 2, 3]) expect(sizes[n]).toBeGreaterThan(500);
  });

  it('plants the tastes: about 85% of purchases fall in a favourite category', () => {
    const fav = new Map(shop.users.map((u) => [u.id, new Set(u.favourites)]));
    let inFav = 0;
    let total = 0;
    let badCounts = 0;
    for (const p of shop.purchases) {
      if (!(Number.isInteger(p.value) && p.value >= 1)) badCounts++;
      total += p.value;
      if (fav.get(p.user)!.has(demoCategoryOf(p.item)!)) inFav += p.value;
    }
    expect(badCounts).toBe(0);
    // 85% by design plus the random share that lands in a favourite by chance (~2/20 of 15%).
    expect(inFav / total).toBeGreaterThan(0.85);
    expect(inFav / total).toBeLessThan(0.9);
    expect(total).toBeGreaterThan(40_000);
    expect(shop.purchases.length).toBeGreaterThan(30_000);
    // One row per (user, item).
    expect(new Set(shop.purchases.map((p) => `${p.user}\u0000${p.item}`)).size).toBe(shop.purchases.length);
  });

  it('is deterministic for a seed and different for another', () => {
    expect(generateDemoShop()).toEqual(shop);
    const other = generateDemoShop({ seed: 43 });
    expect(other.purchases).not.toEqual(shop.purchases);
    expect(other.items).toEqual(shop.items);
  });

  it('rejects nonsense options with a message naming them', () => {
    expect(() => generateDemoShop({ users: 0 })).toThrow(/users must be a positive integer/);
    expect(() => generateDemoShop({ focus: 2 })).toThrow(/focus must be in \[0, 1\]/);
    expect(() => generateDemoShop({ purchases: [5, 2] })).toThrow(/purchases must be integers/);
  });
});
