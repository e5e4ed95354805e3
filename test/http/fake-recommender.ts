/**
 * An in-memory Recommender for the HTTP-only tests (error mapping, validation, auth): it records
 * what the routes pass in, so a test can assert that a rejected request reached nothing. The
 * end-to-end tests use the real recommender over a real SQLite database instead.
 */
import { noModel, notFound } from '../../src/errors.js';
import { DEFAULT_PARAMS } from '../../src/training/params.js';
import type { ModelRecord } from '../../src/model/registry.js';
import type { CatalogItem, ItemPatch, Recommender, RecommendOptions, ScoredItem } from '../../src/serving/recommender.js';

export interface FakeCalls {
  recommend: { user: string; options: RecommendOptions }[];
  addRatings: unknown[][];
  deleteUser: string[];
  reload: number;
  /** PUT (replace) and PATCH item writes, in order. */
  writeItem: { item: string; fields: ItemPatch; replace: boolean }[];
  explain: { user: string; item: string; top: number | undefined }[];
}

export function fakeRecommender(
  options: { model?: number | null; throwOnRecommend?: Error; titles?: (ids: readonly string[]) => ReadonlyMap<string, string> } = {},
): Recommender & { calls: FakeCalls } {
  let model = options.model === undefined ? 7 : options.model;
  const calls: FakeCalls = { recommend: [], addRatings: [], deleteUser: [], reload: 0, writeItem: [], explain: [] };
  // The catalogue: the three items, untitled and active, in id order.
  const catalogue = new Map<string, CatalogItem>(
    ['a', 'b', 'c'].map((id) => [id, { id, title: null, categories: [], metadata: {}, active: true }]),
  );
  const write = (item: string, fields: ItemPatch, replace: boolean): CatalogItem => {
    calls.writeItem.push({ item, fields, replace });
    const old = replace ? undefined : catalogue.get(item);
    const stored: CatalogItem = {
      id: item,
      title: fields.title !== undefined ? fields.title : (old?.title ?? null),
      categories: fields.categories ?? old?.categories ?? [],
      metadata: fields.metadata ?? old?.metadata ?? {},
      active: fields.active ?? old?.active ?? true,
    };
    catalogue.set(item, stored);
    return stored;
  };
  const items: ScoredItem[] = [
    { item: 'a', score: 3 },
    { item: 'b', score: 2 },
    { item: 'c', score: 1 },
  ];
  const info = (): ModelRecord | null =>
    model === null
      ? null
      : {
          id: model,
          createdAt: '2024-01-01T00:00:00.000Z',
          activatedAt: '2024-01-01T00:00:01.000Z',
          feedback: 'explicit',
          status: 'active',
          params: { ...DEFAULT_PARAMS.explicit, factors: 2 },
          metrics: { rmse: 0.9 },
          reason: null,
          factors: 2,
          nUsers: 2,
          nItems: 3,
        };
  const need = (): number => {
    if (model === null) throw noModel();
    return model;
  };
  return {
    calls,
    modelId: () => model,
    modelInfo: info,
    itemTitles: (ids) => (options.titles ? options.titles(ids) : new Map()),
    recommend(user, opts) {
      if (options.throwOnRecommend) throw options.throwOnRecommend;
      calls.recommend.push({ user, options: opts });
      return { user, model: need(), source: 'model', items: items.slice(0, opts.limit) };
    },
    similarItems(item, opts) {
      const m = need();
      if (!items.some((x) => x.item === item)) throw notFound(`item ${item} is unknown to model ${m}`, 'unknown_item');
      return { item, model: m, items: items.filter((x) => x.item !== item).slice(0, opts.limit) };
    },
    recommendAnonymous(_ratings, opts) {
      return { source: 'fold-in', model: need(), items: items.slice(0, opts.limit) };
    },
    explain(user, item, opts = {}) {
      const m = need();
      if (!items.some((x) => x.item === item)) throw notFound(`item ${item} is unknown to model ${m}`, 'unknown_item');
      calls.explain.push({ user, item, top: opts.top });
      // a's score 3 = 2 (from b) + 0.75 (from c) + 0.25 (the rest).
      const contributions = [
        { item: 'b', contribution: 2 },
        { item: 'c', contribution: 0.75 },
      ].slice(0, opts.top ?? 5);
      return { user, item, score: 3, contributions, rest: 3 - contributions.reduce((s, c) => s + c.contribution, 0), model: m };
    },
    addRatings(ratings) {
      calls.addRatings.push([...ratings]);
      return Promise.resolve({ accepted: ratings.length });
    },
    deleteUser(user) {
      calls.deleteUser.push(user);
      return Promise.resolve(true);
    },
    reload() {
      calls.reload++;
      return model;
    },
    getItem(item) {
      const found = catalogue.get(item);
      if (found === undefined) throw notFound(`item "${item}" is unknown`, 'unknown_item', { item });
      return found;
    },
    putItem: (item, fields) => Promise.resolve(write(item, fields, true)),
    patchItem: (item, patch) => Promise.resolve(write(item, patch, false)),
    listItems(q) {
      const all = [...catalogue.values()]
        .filter((it) => (q.after === undefined || it.id > q.after) && (q.active === undefined || it.active === q.active))
        .filter((it) => q.category === undefined || it.categories.includes(q.category))
        .sort((x, y) => (x.id < y.id ? -1 : 1));
      const items = all.slice(0, q.limit);
      return { items, next: all.length > q.limit ? items.at(-1)!.id : null };
    },
    poll: () => false,
    startPolling() {},
    async close() {
      model = null;
    },
  };
}
