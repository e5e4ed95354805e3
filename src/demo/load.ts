/**
 * Writes the generated demo shop into a database: the catalogue through the catalogue code
 * (title, the category as the item's category, metadata {category, categoryName, price}) first,
 * then the purchases through the ratings store, each in one transaction.
 */
import type { Db } from '../db/connection.js';
import { getItem, writeItems } from '../ratings/catalogue.js';
import { upsertRatings } from '../ratings/store.js';
import { generateDemoShop, type DemoShop } from './shop.js';

export interface DemoLoadResult {
  readonly items: number;
  readonly users: number;
  /** (user, item) rows written. */
  readonly ratings: number;
  /** Purchases those rows add up to (Σ counts). */
  readonly purchases: number;
  readonly seconds: number;
}

export function loadDemoShop(db: Db, shop: DemoShop = generateDemoShop()): DemoLoadResult {
  const t0 = performance.now();
  writeItems(
    db,
    shop.items.map((it) => ({ id: it.id, patch: { title: it.title, categories: it.categories, metadata: it.metadata } })),
    true,
  );
  upsertRatings(db, shop.purchases);
  let purchases = 0;
  for (const p of shop.purchases) purchases += p.value;
  return {
    items: shop.items.length,
    users: shop.users.length,
    ratings: shop.purchases.length,
    purchases,
    seconds: (performance.now() - t0) / 1000,
  };
}

/**
 * Gives the demo shop's products their categories when none of them has any (a demo loaded before
 * items had categories), keeping everything else; returns the number of items written. Once any
 * product has a category the catalogue is the user's to edit, and this writes nothing.
 */
export function addDemoCategories(db: Db, shop: DemoShop = generateDemoShop()): number {
  const missing = shop.items.filter((it) => getItem(db, it.id)?.categories.length === 0);
  if (missing.length < shop.items.length) return 0;
  writeItems(
    db,
    missing.map((it) => ({ id: it.id, patch: { categories: it.categories } })),
    false,
  );
  return missing.length;
}
