/**
 * createRouter({ recommender, apiKey }): the HTTP API (recommendations, similar items, fold-in,
 * ratings, users, the item catalogue, the model) as an Express Router, so an application mounts it where it likes:
 *
 *   app.use('/recs', createRouter({ recommender, apiKey: 'the-write-key' }));
 *
 * Errors raised by its routes are answered by its own error handler with the API's JSON error
 * shape; paths it does not know fall through to the host app. The standalone server (createApp)
 * mounts it at the root.
 */
import express, { type Router } from 'express';
import { pino, type Logger } from 'pino';
import { DEFAULTS } from '../config.js';
import { titledContributions } from '../serving/explanations.js';
import type { ExplainedItem, Recommender } from '../serving/recommender.js';
import { writeGuard, type RateLimitSettings } from './auth.js';
import { errorHandler, requireDecodablePath } from './errors.js';
import type { OutputItem, RouteContext } from './routes/context.js';
import { register as registerCatalogue } from './routes/catalogue.js';
import { register as registerExplanations } from './routes/explanations.js';
import { register as registerItems } from './routes/items.js';
import { register as registerModel } from './routes/model.js';
import { register as registerRatings } from './routes/ratings.js';
import { register as registerRecommendations } from './routes/recommendations.js';
import { register as registerUsers } from './routes/users.js';

/** Request bodies above this are a 413 payload_too_large. */
export const BODY_LIMIT = '1mb';

export interface RouterDeps {
  readonly recommender: Recommender;
  /** When set, the write routes (POST ratings, PUT/PATCH items, DELETE users, reload) need it as a Bearer token. */
  readonly apiKey?: string | null;
  /**
   * Refuse every write route with 403 writes_disabled (the server sets it when it listens on a
   * non-loopback address without an API key and without --allow-open-writes).
   */
  readonly readOnly?: boolean;
  /** Per-client limit on the write routes (429 rate_limited); absent/null or limit 0: none. */
  readonly rateLimit?: RateLimitSettings | null;
  /** Display titles for response items; default: the recommender's (its catalogue in memory). */
  readonly itemTitles?: (ids: readonly string[]) => ReadonlyMap<string, string>;
  /** Where unexpected errors are logged (default: pino at info on stdout). */
  readonly logger?: Logger;
}

/** The titles source: deps.itemTitles, else the recommender's (its store's items table). */
export function titlesOf(deps: RouterDeps): (ids: readonly string[]) => ReadonlyMap<string, string> {
  return deps.itemTitles ?? ((ids: readonly string[]) => deps.recommender.itemTitles(ids));
}

/**
 * Adds "title" (when the store has one) to each scored item and to each rated item of its
 * "because" (when the request asked for explanations); one titles look-up for the whole answer.
 */
export function decorator(deps: RouterDeps): (items: readonly ExplainedItem[]) => OutputItem[] {
  const titles = titlesOf(deps);
  return (items) => {
    if (items.length === 0) return [];
    const ids = new Set<string>();
    for (const x of items) {
      ids.add(x.item);
      for (const c of x.because ?? []) ids.add(c.item);
    }
    const map = titles([...ids]);
    return items.map((x) => {
      const title = map.get(x.item);
      const out: OutputItem = title === undefined ? { item: x.item, score: x.score } : { item: x.item, score: x.score, title };
      return x.because === undefined ? out : { ...out, because: titledContributions(x.because, map) };
    });
  };
}

export function createRouter(deps: RouterDeps): Router {
  const router = express.Router();
  router.use(requireDecodablePath);
  const ctx: RouteContext = {
    app: router,
    recommender: deps.recommender,
    auth: writeGuard(deps),
    json: express.json({ limit: BODY_LIMIT }),
    decorate: decorator(deps),
    titles: titlesOf(deps),
  };
  // The most requested route first: Express tries the routes in order.
  registerRecommendations(ctx);
  registerUsers(ctx);
  registerExplanations(ctx);
  registerItems(ctx);
  registerCatalogue(ctx);
  registerRatings(ctx);
  registerModel(ctx);
  router.use(errorHandler(deps.logger ?? pino({ level: DEFAULTS.logLevel })));
  return router;
}
