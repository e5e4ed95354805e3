/**
 * createApp(deps) builds the Express 5 app without listening: the CLI (`serve`, `start`) listens,
 * the tests drive it in-process with supertest. Layering: the app talks to the serving core
 * (Recommender) only; everything about models, folds and storage happens behind it.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import { pino, type Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Registry } from 'prom-client';
import type { Recommender, ScoredItem } from '../serving/recommender.js';
import { requireApiKey } from './auth.js';
import { errorHandler, notFoundHandler } from './errors.js';
import { createMetrics } from './metrics.js';
import type { OutputItem, RouteContext } from './routes/context.js';
import { register as registerHealth } from './routes/health.js';
import { register as registerItems } from './routes/items.js';
import { register as registerMeta } from './routes/meta.js';
import { register as registerModel } from './routes/model.js';
import { register as registerRatings } from './routes/ratings.js';
import { register as registerRecommendations } from './routes/recommendations.js';
import { register as registerUsers } from './routes/users.js';

/** Request bodies above this are a 413 payload_too_large. */
export const BODY_LIMIT = '1mb';

/** Looks up display titles for item ids (ids without a title are simply absent from the map). */
export type ItemTitles = (ids: readonly string[]) => ReadonlyMap<string, string>;

export interface AppDeps {
  readonly recommender: Recommender;
  /** When set (RIDGEREC_API_KEY), POST/DELETE routes except POST /v1/recommendations need it as a Bearer token. */
  readonly apiKey?: string | null;
  /** Request logs go here (pino-http); default: pino at info on stdout. */
  readonly logger?: Logger;
  /** Metrics registry; default: a fresh one per app. */
  readonly registry?: Registry;
  /** Adds "title" to response items when given (e.g. from the items table). */
  readonly itemTitles?: ItemTitles;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function createApp(deps: AppDeps): Express {
  const logger = deps.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const metrics = createMetrics(deps.recommender, deps.registry);
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('etag', false);

  app.use(metrics.middleware);
  app.use(
    pinoHttp({
      logger,
      // Honour a sane incoming X-Request-Id (from a proxy), else mint one; echo it back.
      genReqId(req: IncomingMessage, res: ServerResponse) {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Never log credentials: the API key travels in Authorization.
      serializers: {
        req(req: { headers?: Record<string, unknown> }) {
          if (req.headers?.authorization !== undefined) req.headers = { ...req.headers, authorization: '[redacted]' };
          if (req.headers?.cookie !== undefined) req.headers = { ...req.headers, cookie: '[redacted]' };
          return req;
        },
      },
      customLogLevel(_req, res, err) {
        if (err !== undefined || res.statusCode >= 500) return 'error';
        return res.statusCode >= 400 ? 'warn' : 'info';
      },
    }),
  );

  const titles = deps.itemTitles;
  const decorate = (items: readonly ScoredItem[]): OutputItem[] => {
    if (titles === undefined || items.length === 0) return items.map((x) => ({ item: x.item, score: x.score }));
    const map = titles(items.map((x) => x.item));
    return items.map((x) => {
      const title = map.get(x.item);
      return title === undefined ? { item: x.item, score: x.score } : { item: x.item, score: x.score, title };
    });
  };

  const ctx: RouteContext = {
    app,
    recommender: deps.recommender,
    auth: requireApiKey(deps.apiKey),
    json: express.json({ limit: BODY_LIMIT }),
    decorate,
  };
  registerHealth(ctx);
  registerUsers(ctx);
  registerItems(ctx);
  registerRecommendations(ctx);
  registerRatings(ctx);
  registerModel(ctx);
  registerMeta(ctx, metrics.registry);

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
