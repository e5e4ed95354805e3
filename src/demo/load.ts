/**
 * Writes the generated demo shop into a database: the catalogue through the catalogue code
 * (title, the category as the item's category, metadata {category, categoryName, price}) first,
 * then the purchases through the ratings store, each in one transaction.
 */
import type { Db } from '../db/connection.js';
import { writeItems } from '../ratings/catalogue.js';
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
