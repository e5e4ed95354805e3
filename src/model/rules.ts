/**
 * Business rules on a recommendation: which items may appear (category, excludeCategory, include,
 * exclude, where on metadata, and never an inactive item) and how many may share a category
 * (maxPerCategory). A list is filled to `limit` whenever that many items pass: selection widens
 * its look at the ranked catalogue until it has enough or nothing is left.
 *
 * The `where` grammar: conditions separated by commas, all of which must hold.
 *   condition := key op value      key := [A-Za-z0-9_.-]+
 *   op        := ':' (equals) | '!:' (differs) | '<' | '<=' | '>' | '>='
 *   value     := any text without a comma; for <, <=, >, >= a number. For ':' and '!:' the value
 *                matches a string equal to it, a number equal to it read as a number, or a
 *                boolean written true/false.
 * An item without the key fails every condition on it except '!:'.
 *   where=brand:acme,price<50      where=price>=10,price<=20,inStock:true
 */
import { invalidInput } from '../errors.js';
import { topK } from '../kernels/top-k.js';
import type { CatalogView, MetadataValue } from './catalog.js';

export type WhereOp = ':' | '!:' | '<' | '<=' | '>' | '>=';

export interface Condition {
  readonly key: string;
  readonly op: WhereOp;
  readonly value: string;
}

/** The rules a recommendation route, the CLI and Model.recommend accept. */
export interface ItemFilters {
  /** Only items in any of these categories. */
  readonly category?: readonly string[];
  /** No item in any of these categories. */
  readonly excludeCategory?: readonly string[];
  /** Only these items (a candidate list), in score order. */
  readonly include?: readonly string[];
  /** Never these items. */
  readonly exclude?: readonly string[];
  /** Metadata conditions: the grammar above, or already parsed. */
  readonly where?: string | readonly Condition[];
  /** No more than this many items sharing a category. */
  readonly maxPerCategory?: number;
}

/** A comma-separated list: segments trimmed, empty ones dropped ("a, b,,c" → [a, b, c]). */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

const CONDITION = /^([A-Za-z0-9_.-]+)(!:|<=|>=|:|<|>)(.*)$/s;

/** Parses a `where` expression; InvalidInput names the condition and what is wrong with it. */
export function parseWhere(text: string): Condition[] {
  if (text.trim() === '') return [];
  return text.split(',').map((part, n) => {
    const m = CONDITION.exec(part.trim());
    if (!m) {
      throw invalidInput(
        `where: condition ${n + 1} "${part}" is not key:value, key!:value, key<n, key<=n, key>n or key>=n (keys: letters, digits, _ . -)`,
        { field: 'where' },
      );
    }
    const [, key, op, value] = m as unknown as [string, string, WhereOp, string];
    if ((op === '<' || op === '<=' || op === '>' || op === '>=') && !(value.trim() !== '' && Number.isFinite(Number(value)))) {
      throw invalidInput(`where: condition ${n + 1} "${part}" compares ${key} with "${value}", which is not a number`, { field: 'where' });
    }
    return { key, op, value };
  });
}

function matches(v: MetadataValue | undefined, c: Condition): boolean {
  if (v === undefined) return c.op === '!:';
  switch (c.op) {
    case ':':
    case '!:': {
      const eq =
        typeof v === 'number'
          ? c.value.trim() !== '' && Number(c.value) === v
          : typeof v === 'boolean'
            ? c.value === String(v)
            : v === c.value;
      return c.op === ':' ? eq : !eq;
    }
    default: {
      if (typeof v !== 'number') return false;
      const x = Number(c.value);
      return c.op === '<' ? v < x : c.op === '<=' ? v <= x : c.op === '>' ? v > x : v >= x;
    }
  }
}

/** What the answer reports under "filters": the rules applied, as given (normalised). */
export function describeFilters(f: ItemFilters): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (f.category?.length) out.category = [...f.category];
  if (f.excludeCategory?.length) out.excludeCategory = [...f.excludeCategory];
  if (f.include !== undefined) out.include = [...f.include];
  if (f.exclude?.length) out.exclude = [...f.exclude];
  const where = typeof f.where === 'string' ? parseWhere(f.where) : f.where;
  if (where?.length) out.where = where.map((c) => `${c.key}${c.op}${c.value}`);
  if (f.maxPerCategory !== undefined) out.maxPerCategory = f.maxPerCategory;
  out.activeOnly = true;
  return out;
}

/** The filters made ready for one model and catalogue: a candidate test and the category cap. */
export interface CompiledRules {
  /** True when dense item i may appear (active, in the categories, passes where, not excluded …). */
  allowed(i: number): boolean;
  /** The mask behind `allowed`, or null when every item is allowed. */
  readonly mask: Uint8Array | null;
  /** The allowed items, ascending, when a mask narrows them (null: no mask). */
  readonly candidates: Int32Array | null;
  /** The cap per category, or 0 for none. */
  readonly maxPerCategory: number;
  readonly view: CatalogView | null;
  /** True when no rule narrows the candidates beyond activeness and the user's own rated items. */
  readonly unfiltered: boolean;
}

/**
 * Compiles filters against a model's item index and an optional catalogue view. Rules that need the
 * catalogue (category, excludeCategory, where, maxPerCategory) without one are InvalidInput.
 */
export function compileRules(
  f: ItemFilters,
  nItems: number,
  indexOf: (id: string) => number | undefined,
  view: CatalogView | null,
): CompiledRules {
  const where = typeof f.where === 'string' ? parseWhere(f.where) : (f.where ?? []);
  const cap = f.maxPerCategory ?? 0;
  if (f.maxPerCategory !== undefined && !(Number.isInteger(cap) && cap >= 1)) {
    throw invalidInput(`maxPerCategory must be an integer >= 1, got ${String(f.maxPerCategory)}`, { field: 'maxPerCategory' });
  }
  const needsCatalog = (f.category?.length ?? 0) > 0 || (f.excludeCategory?.length ?? 0) > 0 || where.length > 0 || cap > 0;
  if (needsCatalog && view === null) {
    throw invalidInput('category, excludeCategory, where and maxPerCategory need an item catalogue (categories and metadata)', {
      field: 'catalog',
    });
  }
  let mask: Uint8Array | null = view !== null && view.active.includes(0) ? view.active.slice() : null;
  const narrow = (keep: (i: number) => boolean) => {
    mask ??= new Uint8Array(nItems).fill(1);
    for (let i = 0; i < nItems; i++) if (mask[i] && !keep(i)) mask[i] = 0;
  };
  if (f.include !== undefined) {
    const only = new Uint8Array(nItems);
    for (const id of f.include) {
      const i = indexOf(id);
      if (i !== undefined) only[i] = 1;
    }
    narrow((i) => only[i] === 1);
  }
  if (f.category?.length && view) {
    const only = new Uint8Array(nItems);
    for (const c of f.category) for (const i of view.byCategory.get(c) ?? []) only[i] = 1;
    narrow((i) => only[i] === 1);
  }
  if (f.excludeCategory?.length && view) {
    const drop = new Uint8Array(nItems);
    for (const c of f.excludeCategory) for (const i of view.byCategory.get(c) ?? []) drop[i] = 1;
    narrow((i) => drop[i] === 0);
  }
  if (where.length > 0 && view) narrow((i) => where.every((c) => matches(view.metadata[i]?.[c.key], c)));
  if (f.exclude?.length) {
    mask ??= new Uint8Array(nItems).fill(1);
    for (const id of f.exclude) {
      const i = indexOf(id);
      if (i !== undefined) mask[i] = 0;
    }
  }
  const m: Uint8Array | null = mask;
  let candidates: Int32Array | null = null;
  if (m !== null) {
    let n = 0;
    for (let i = 0; i < nItems; i++) n += m[i]!;
    candidates = new Int32Array(n);
    for (let i = 0, j = 0; i < nItems; i++) if (m[i]) candidates[j++] = i;
  }
  return {
    allowed: m === null ? () => true : (i) => m[i] === 1,
    mask: m,
    candidates,
    maxPerCategory: cap,
    view,
    unfiltered: f.include === undefined && !needsCatalog,
  };
}

/** Accepts items in rank order while every one of their categories is under the cap. */
export class CategoryCap {
  #counts = new Map<string, number>();
  constructor(
    private readonly rules: CompiledRules,
    private readonly limit: number,
  ) {}

  /** Accepts dense item i if it passes the rules and the caps (counting it), else false. */
  take(i: number): boolean {
    if (!this.rules.allowed(i)) return false;
    const cap = this.rules.maxPerCategory;
    if (cap === 0) return true;
    const cats = this.rules.view!.categories[i]!;
    for (const c of cats) if ((this.#counts.get(c) ?? 0) >= cap) return false;
    for (const c of cats) this.#counts.set(c, (this.#counts.get(c) ?? 0) + 1);
    return true;
  }

  get wanted(): number {
    return this.limit;
  }
}

/**
 * The best `limit` items of a score row (NaN: not a candidate) under the rules: the top of the
 * row is taken in widening slices (limit·4, then ×4) until `limit` items pass the category caps
 * or the row is exhausted. Returns dense indices and their scores, best first. With `items`, row
 * position j holds the score of item items[j] (a row over the candidates only).
 */
export function selectTop(
  scores: Float32Array,
  limit: number,
  rules: CompiledRules,
  items: Int32Array | null = null,
): { indices: number[]; scores: number[] } {
  const itemAt = items === null ? (j: number) => j : (j: number) => items[j]!;
  if (items === null && rules.mask !== null) for (let i = 0; i < scores.length; i++) if (rules.mask[i] === 0) scores[i] = NaN;
  if (rules.maxPerCategory === 0) {
    const t = topK(scores, limit);
    return { indices: Array.from(t.indices, itemAt), scores: Array.from(t.scores) };
  }
  let finite = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i] === scores[i]) finite++;
  let look = Math.min(finite, limit * 4);
  for (;;) {
    const t = topK(scores, look);
    const cap = new CategoryCap(rules, limit);
    const out = { indices: [] as number[], scores: [] as number[] };
    for (let j = 0; j < t.indices.length && out.indices.length < limit; j++) {
      const i = itemAt(t.indices[j]!);
      if (cap.take(i)) {
        out.indices.push(i);
        out.scores.push(t.scores[j]!);
      }
    }
    if (out.indices.length === limit || look >= finite) return out;
    look = Math.min(finite, look * 4);
  }
}
