/**
 * ridgerec's public API: everything an application imports from 'ridgerec'.
 *
 * ```ts
 * import { fit, Model, openStore, createRecommender, createRouter } from 'ridgerec';
 * ```
 *
 * The Model needs no database; the Store is the SQLite backend; the Recommender serves the active
 * model of a Store with hot swaps and fold-in; the Router is the HTTP API for an Express app.
 */
import { openStore as openSqliteStore, type Store } from './store/store.js';

/**
 * Fits an ALS model (explicit: biases and weighted λ; implicit: confidence 1 + α·r with conjugate
 * gradient) and returns a {@link Model}. `ratings` is an iterable of `{ user, item, value }` with
 * string ids, or a RatingMatrix; `params` any subset of the training parameters (feedback is
 * detected from the values when absent).
 *
 * @example
 * ```ts
 * const model = await fit(
 *   [{ user: 'ann', item: 'dune', value: 5 }, { user: 'bob', item: 'dune', value: 4 }, { user: 'bob', item: 'emma', value: 2 }],
 *   { feedback: 'explicit', factors: 8, lambda: 0.1 },
 *   { onIteration: (s) => console.log(s.iteration, s.loss) },
 * );
 * ```
 */
export { fit } from './model/fit.js';
export type { Rating, FitOptions, FitParams } from './model/fit.js';

/**
 * A fitted model: recommend, recommendBatch, similarItems, recommendFor (fold-in of an ad-hoc
 * list), userVector, itemVector, info, save and Model.load. Needs no database.
 *
 * @example
 * ```ts
 * const { items } = model.recommend('ann', { limit: 5, exclude: ['emma'] });
 * const similar = model.similarItems('dune', { limit: 5 }).items;
 * const basket = model.recommendFor([{ item: 'dune', value: 5 }], { limit: 5 });
 * await model.save('model.ridgerec');
 * const again = Model.load('model.ridgerec');
 * ```
 */
export { Model, DEFAULT_LIMIT } from './model/model.js';
export type {
  ScoredItem,
  Source,
  RecommendOptions,
  Recommendation,
  SimilarItems,
  AnonymousRecommendation,
  ItemRating,
  FoldedInUser,
  ModelInfo,
  ModelData,
} from './model/model.js';

/**
 * The model file's layout, for tools that read it without ridgerec: magic, version, the JSON
 * header type and the array names.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * const header = readModelFileHeader(readFileSync('model.ridgerec'));
 * console.log(header.feedback, header.nUsers, header.arrays.userFactors);
 * ```
 */
/**
 * An explanation: a score decomposed over the user's rated items (Hu, Koren & Volinsky 2008, §5).
 *
 * @example
 * ```ts
 * const why = model.explain('ann', 'dune', { top: 3 });
 * // { user, item, score, contributions: [{ item, contribution }], rest, bias? }
 * ```
 */
export type { Explanation, Contribution, Explainer } from './model/explain.js';

/**
 * The item catalogue in memory (titles, categories, metadata, active) and the rules a
 * recommendation can apply: category, excludeCategory, include, exclude, where, maxPerCategory.
 *
 * @example
 * ```ts
 * const catalog = new Catalog([{ id: 'dune', title: 'Dune', categories: ['sci-fi'], metadata: { price: 9 }, active: true }]);
 * model.useCatalog(catalog);
 * model.recommend('ann', { limit: 10, category: ['sci-fi'], where: 'price<20', maxPerCategory: 3 });
 * ```
 */
export { Catalog } from './model/catalog.js';
export type { CatalogItem, MetadataValue, CatalogView } from './model/catalog.js';
export { parseWhere, describeFilters } from './model/rules.js';
export type { ItemFilters, Condition, WhereOp } from './model/rules.js';

export { readModelFileHeader, FORMAT_NAME, FORMAT_VERSION, MAGIC, ARRAY_NAMES } from './model/model-file.js';
export type { ModelFileHeader, ArrayEntry, ArrayName } from './model/model-file.js';

/**
 * The SQLite store: ratings (import, add, delete, read), item titles and the model registry
 * (saveModel, activate, rollback, list, loadModel, exportModel, importModel).
 *
 * @example
 * ```ts
 * const store = openStore('./data/shop.db');
 * await store.importRatings('ratings.csv');
 * const model = await fit(store.ratings());
 * const id = store.saveModel(model, { activate: true });
 * store.close();
 * ```
 */
export const openStore: (path: string) => Store = openSqliteStore;
export type { Store, RatingSnapshot } from './store/store.js';
export type { ModelRecord, LoadedModel, ModelStatus, SaveOptions } from './model/registry.js';
export type { RatingInput, RatingStats, UpsertCounts } from './ratings/store.js';
export type { ImportOptions, ImportResult, RatingFormat } from './ratings/import.js';

/**
 * The live serving core over a store: the active model in memory, fold-in for users who rated
 * since training, the popularity fallback, hot swaps when another process activates a model, and
 * the item catalogue in memory (item writes take effect on the next request).
 *
 * @example
 * ```ts
 * const recommender = createRecommender({ store });
 * recommender.startPolling(2000);
 * const { source, items } = recommender.recommend('ann', { limit: 10 });
 * await recommender.close();
 * ```
 */
export { createRecommender } from './serving/recommender.js';
export type { Recommender, ServingRecommender, RecommenderOptions, ServingStore, ServingTuning } from './serving/recommender.js';

/**
 * The HTTP API as an Express Router, to mount in your own app; createApp is the standalone server
 * (router + /health, /metrics, /openapi.json, logs and error handling), not listening.
 *
 * @example
 * ```ts
 * import express from 'express';
 * const app = express();
 * app.use('/recs', createRouter({ recommender, apiKey: 'the-write-key' }));
 * app.listen(3000);
 * ```
 */
export { createRouter } from './http/router.js';
export type { RouterDeps } from './http/router.js';
export { createApp } from './http/app.js';
export type { AppDeps } from './http/app.js';

/**
 * Models trained by Apache Spark MLlib's ALS: `readSparkModel(dir, { ratings })` reads the
 * directory `ALSModel.save` wrote (metadata/, userFactors/, itemFactors/ as snappy Parquet, and the
 * id maps of `ridgerec export ratings` beside them) into a {@link Model} that scores exactly as
 * Spark predicts (u·v, no biases); `importSparkModel(store, dir, { activate })` does that with the
 * store's ratings as each user's rated items and saves it in the store's registry.
 *
 * @example
 * ```ts
 * const store = openStore('./data/shop.db');
 * const { id, model } = await importSparkModel(store, '/data/als-model', { activate: true });
 * console.log(id, model.info.factors, model.recommend('ann', { limit: 5 }).items);
 * ```
 */
export { importSparkModel, readSparkModel } from './spark/import.js';
export type { ReadSparkOptions, SparkImportStore } from './spark/import.js';

/**
 * Training parameters: their defaults and validation, and the feedback guess `fit` uses.
 *
 * @example
 * ```ts
 * const params = resolveParams({ feedback: 'implicit', factors: 128 }); // defaults filled, validated
 * ```
 */
export { resolveParams, detectFeedback, DEFAULT_PARAMS, PARAM_LIMITS } from './training/params.js';
export type { TrainParams, Feedback, Solver, LambdaScaling, IterationStats } from './training/params.js';

/**
 * Building a rating matrix yourself (e.g. to fit several models on one snapshot).
 *
 * @example
 * ```ts
 * const matrix = matrixFromTriples([['ann', 'dune', 5], ['bob', 'emma', 3]]);
 * const model = await fit(matrix, { feedback: 'explicit' });
 * ```
 */
export { matrixFromTriples } from './ratings/matrix.js';
export type { RatingMatrix, Csr } from './ratings/matrix.js';

/**
 * The errors ridgerec raises on purpose: bad input (InvalidInput), an unknown id (NotFound), no
 * model yet (Unavailable), the database's write lock held by another process past the write's
 * deadline (Busy, an Unavailable with `retryAfterSeconds`), a state conflict (Conflict), a failed
 * fit that says how to fix it (ModelFitError). All extend RidgerecError and carry a snake_case `code`.
 *
 * @example
 * ```ts
 * try { model.similarItems('no-such-item'); }
 * catch (e) { if (e instanceof NotFound) console.log(e.code); } // 'unknown_item'
 * ```
 */
export {
  RidgerecError,
  InvalidInput,
  NotFound,
  Unavailable,
  Busy,
  Conflict,
  Unauthorized,
  ModelFitError,
  MigrationError,
  isRidgerecError,
} from './errors.js';
