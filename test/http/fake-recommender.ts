/**
 * An in-memory Recommender for the HTTP-only tests (error mapping, validation, auth): it records
 * what the routes pass in, so a test can assert that a rejected request reached nothing. The
 * end-to-end tests use the real recommender over a real SQLite database instead.
 */
import { noModel, notFound } from '../../src/errors.js';
import { DEFAULT_PARAMS } from '../../src/training/params.js';
import type { ModelRecord } from '../../src/model/registry.js';
import type { Recommender, RecommendOptions, ScoredItem } from '../../src/serving/recommender.js';

export interface FakeCalls {
  recommend: { user: string; options: RecommendOptions }[];
  addRatings: unknown[][];
  deleteUser: string[];
  reload: number;
  explain: { user: string; item: string; top: number | undefined }[];
}

export function fakeRecommender(
  options: { model?: number | null; throwOnRecommend?: Error; titles?: (ids: readonly string[]) => ReadonlyMap<string, string> } = {},
): Recommender & { calls: FakeCalls } {
  let model = options.model === undefined ? 7 : options.model;
  const calls: FakeCalls = { recommend: [], addRatings: [], deleteUser: [], reload: 0, explain: [] };
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
      return { accepted: ratings.length };
    },
    deleteUser(user) {
      calls.deleteUser.push(user);
      return true;
    },
    reload() {
      calls.reload++;
      return model;
    },
    poll: () => false,
    startPolling() {},
    async close() {
      model = null;
    },
  };
}
