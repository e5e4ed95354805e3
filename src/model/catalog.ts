/**
 * The item catalogue in memory: each item's title, categories, flat metadata and whether it is
 * active (may be recommended). The Model needs none of it to score; the rules (filters) and the
 * HTTP answers (titles) read it. An item the catalogue does not hold is active, untitled and in no
 * category.
 *
 * A Catalog is mutable (the serving core applies each item write to it, so a change takes effect
 * on the very next request) and versioned: every change bumps `version`, and `viewFor` keeps the
 * dense per-model arrays the filters use until the version moves.
 */
import type { CatalogItem, MetadataValue } from '../ratings/catalogue.js';

export type { CatalogItem, MetadataValue } from '../ratings/catalogue.js';

/** A catalogue laid over one model's dense item indices (built per model and catalogue version). */
export interface CatalogView {
  readonly version: number;
  /** 1 when dense item i may be recommended. */
  readonly active: Uint8Array;
  /** Dense item i's categories (empty when none). */
  readonly categories: readonly (readonly string[])[];
  /** Dense item i's metadata (undefined when none). */
  readonly metadata: readonly (Readonly<Record<string, MetadataValue>> | undefined)[];
  /** category → the dense items in it, ascending. */
  readonly byCategory: ReadonlyMap<string, Int32Array>;
}

const NO_CATEGORIES: readonly string[] = Object.freeze([]);

export class Catalog {
  #items = new Map<string, CatalogItem>();
  #version = 0;
  #views = new WeakMap<readonly string[], CatalogView>();

  constructor(items: Iterable<CatalogItem> = []) {
    for (const it of items) this.#items.set(it.id, it);
  }

  /** Bumped by every change. */
  get version(): number {
    return this.#version;
  }

  get size(): number {
    return this.#items.size;
  }

  get(id: string): CatalogItem | undefined {
    return this.#items.get(id);
  }

  title(id: string): string | undefined {
    return this.#items.get(id)?.title ?? undefined;
  }

  /** Adds or replaces items (as stored: callers merge partial updates first). */
  set(...items: CatalogItem[]): void {
    for (const it of items) this.#items.set(it.id, it);
    this.#version++;
  }

  /** Replaces the whole catalogue (e.g. after an import by another process). */
  replace(items: Iterable<CatalogItem>): void {
    this.#items = new Map();
    for (const it of items) this.#items.set(it.id, it);
    this.#version++;
  }

  values(): IterableIterator<CatalogItem> {
    return this.#items.values();
  }

  /** The catalogue over a model's item ids; cached until the next change. */
  viewFor(itemIds: readonly string[]): CatalogView {
    const cached = this.#views.get(itemIds);
    if (cached !== undefined && cached.version === this.#version) return cached;
    const n = itemIds.length;
    const active = new Uint8Array(n).fill(1);
    const categories: (readonly string[])[] = new Array(n);
    const metadata: (Readonly<Record<string, MetadataValue>> | undefined)[] = new Array(n);
    const lists = new Map<string, number[]>();
    for (let i = 0; i < n; i++) {
      const it = this.#items.get(itemIds[i]!);
      if (it === undefined) {
        categories[i] = NO_CATEGORIES;
        continue;
      }
      if (!it.active) active[i] = 0;
      categories[i] = it.categories;
      metadata[i] = it.metadata;
      for (const c of it.categories) {
        let l = lists.get(c);
        if (!l) lists.set(c, (l = []));
        l.push(i);
      }
    }
    const byCategory = new Map<string, Int32Array>();
    for (const [c, l] of lists) byCategory.set(c, Int32Array.from(l));
    const view: CatalogView = { version: this.#version, active, categories, metadata, byCategory };
    this.#views.set(itemIds, view);
    return view;
  }
}
