/**
 * `ridgerec start` (what `npm start` runs): the whole job on a fresh machine.
 *   1. open the database (RIDGEREC_DB or ./data/ridgerec.db; creates it and applies migrations),
 *   2. if it holds no ratings, generate and load the demo shop (src/demo); a demo loaded before items
 *      had categories gets them,
 *   3. if no model is active, train one with the default parameters and activate it,
 *   4. serve exactly like `serve` (--port / $PORT / 3000, --host / $HOST / 127.0.0.1; src/config.ts),
 *   5. on the demo shop with no tuning result yet, tune λ in the background (src/demo/tune.ts), so
 *      the dashboard's validation curve is there out of the box.
 * Idempotent: a second run finds the ratings and the active model and goes straight to serving.
 */
import type { Command } from 'commander';
import type { Db } from '../db/connection.js';
import { addDemoCategories, loadDemoShop, type DemoLoadResult } from '../demo/load.js';
import { generateDemoShop } from '../demo/shop.js';
import { startBackgroundTune, type BackgroundTune } from '../demo/tune.js';
import { latestTuningResult } from '../model/tuning-store.js';
import { activeModelId, saveModel } from '../model/registry.js';
import { loadMatrix, ratingStats, userRatings } from '../ratings/store.js';
import { fit } from '../model/fit.js';
import { detectFeedback, resolveParams, type Feedback, type TrainParams } from '../training/params.js';
import { runCommand, withDbOption } from './common.js';
import { serveConfigured, serverConfig, withServerOptions, type ServeFlags } from './serve.js';

export interface TrainedReport {
  readonly id: number;
  readonly feedback: Feedback;
  readonly factors: number;
  readonly iterations: number;
  readonly users: number;
  readonly items: number;
  readonly ratings: number;
  readonly seconds: number;
}

export interface PrepareReport {
  /** What was loaded, or null when the database already had ratings. */
  readonly demo: DemoLoadResult | null;
  /** The model trained now, or null when one was already active. */
  readonly trained: TrainedReport | null;
  /** The active model after preparing. */
  readonly model: number;
}

export interface PrepareOptions {
  /** Progress lines for a human. */
  readonly say?: (line: string) => void;
  /** Overrides of the default training parameters (tests use fewer threads/iterations). */
  readonly params?: Partial<Omit<TrainParams, 'feedback'>>;
}

/** True when the database holds the demo shop (its first user has purchases). */
function isDemo(db: Db): boolean {
  return userRatings(db, 'demo-1').length > 0;
}

/** Steps 1–3 above: load the demo shop into an empty database, train when no model is active. */
export async function prepareDatabase(db: Db, options: PrepareOptions = {}): Promise<PrepareReport> {
  const say = options.say ?? (() => {});
  let demo: DemoLoadResult | null = null;
  if (ratingStats(db).ratings === 0) {
    demo = loadDemoShop(db, generateDemoShop());
    say(
      `loaded the demo shop: ${demo.items} products in 20 categories, ${demo.users} users (demo-1 … demo-${demo.users}), ` +
        `${demo.purchases} purchases as ${demo.ratings} (user, product, count) ratings in ${demo.seconds.toFixed(2)} s`,
    );
  } else if (isDemo(db)) {
    const n = addDemoCategories(db);
    if (n > 0) say(`gave ${n} demo products their category in the item catalogue (the category rules read it)`);
  }
  let model = activeModelId(db);
  let trained: TrainedReport | null = null;
  if (model === null) {
    const t0 = performance.now();
    const matrix = loadMatrix(db);
    // The demo shop is purchase counts: implicit feedback. Anything else: guess from the values.
    const feedback: Feedback = demo !== null || isDemo(db) ? 'implicit' : detectFeedback(matrix.byUser.values);
    const params = resolveParams({ ...options.params, feedback });
    say(
      `no active model: training ${feedback} ALS (k=${params.factors}, λ=${params.lambda}, ${params.iterations} iterations) ` +
        `on ${matrix.nnz} ratings from ${matrix.nUsers} users × ${matrix.nItems} items …`,
    );
    const result = await fit(matrix, params);
    model = saveModel(db, result, { activate: true });
    const seconds = (performance.now() - t0) / 1000;
    trained = {
      id: model,
      feedback,
      factors: params.factors,
      iterations: params.iterations,
      users: matrix.nUsers,
      items: matrix.nItems,
      ratings: matrix.nnz,
      seconds,
    };
    say(`trained and activated model ${model} in ${seconds.toFixed(2)} s`);
  }
  return { demo, trained, model };
}

export function register(program: Command): void {
  const cmd = program
    .command('start')
    .description('npm start: create the database, load the demo shop if it has no ratings, train if no model is active, serve');
  withDbOption(withServerOptions(cmd)).action((opts: ServeFlags) =>
    runCommand(async () => {
      const config = serverConfig(opts);
      const say = (line: string) => process.stdout.write(`ridgerec: ${line}\n`);
      let tune: BackgroundTune | null = null;
      await serveConfigured(
        config,
        (handle, store) => {
          const user = isDemo(store.db) ? 'demo-1' : 'USER';
          return (
            `ridgerec listening on ${handle.url} (model ${handle.recommender.modelId() ?? 'none'})\n` +
            `  dashboard: open ${handle.url}/ in a browser\n` +
            `  try: curl '${handle.url}/v1/users/${user}/recommendations?limit=5'\n`
          );
        },
        async (store) => {
          const report = await prepareDatabase(store.db, { say });
          if (report.demo === null && report.trained === null) say(`database ready (model ${report.model} active)`);
        },
        {
          tuneProgress: () => tune?.progress() ?? null,
          // The demo shop with no tuning result yet: tune λ in the background so the dashboard's
          // validation curve is there out of the box (src/demo/tune.ts).
          afterListen: (_handle, store) => {
            if (config.db !== ':memory:' && isDemo(store.db) && latestTuningResult(store.db) === null) {
              tune = startBackgroundTune({ db: config.db, say });
            }
          },
        },
      );
    }),
  );
}
