/**
 * createApp(deps) builds the Express 5 app without listening: the CLI (`serve`, `start`) listens,
 * the tests drive it in-process with supertest. Layering: the app talks to the serving core
 * (Recommender) only; everything about models, fold-in and storage happens behind it.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import { pino, type Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Registry } from 'prom-client';
import { DEFAULTS, type LogLevel } from '../config.js';
import type { DashboardStore } from '../store/dashboard.js';
import { requireApiKey } from './auth.js';
import { errorHandler, notFoundHandler, requireDecodablePath } from './errors.js';
import { createMetrics } from './metrics.js';
import type { RouteContext } from './routes/context.js';
import { dashboardStatic, register as registerDashboard } from './routes/dashboard.js';
import { register as registerHealth } from './routes/health.js';
import { register as registerMeta } from './routes/meta.js';
import { BODY_LIMIT, createRouter, decorator, titlesOf, type RouterDeps } from './router.js';

export interface AppDeps extends RouterDeps {
  /** Request logs go here (pino-http); default: pino at `logLevel` on stdout. */
  readonly logger?: Logger;
  /** Level of the default logger (the server passes the configured LOG_LEVEL); default info. */
  readonly logLevel?: LogLevel;
  /** Metrics registry; default: a fresh one per app. */
  readonly registry?: Registry;
  /** What the dashboard at / reads from SQLite (src/store/dashboard.ts); without it its data routes answer 503. */
  readonly dashboard?: DashboardStore;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * The standalone server's app: the API router at the root, plus /health, /metrics,
 * /openapi.json, the dashboard at /, request logs, the 404 fallback and the error handler.
 */
export function createApp(deps: AppDeps): Express {
  const logger = deps.logger ?? pino({ level: deps.logLevel ?? DEFAULTS.logLevel });
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

  app.use(requireDecodablePath);
  app.use(dashboardStatic());

  const ctx: RouteContext = {
    app,
    recommender: deps.recommender,
    auth: requireApiKey(deps.apiKey),
    json: express.json({ limit: BODY_LIMIT }),
    decorate: decorator(deps),
    titles: titlesOf(deps),
  };
  registerHealth(ctx);
  registerDashboard(ctx, { registry: metrics.registry, store: deps.dashboard, keyRequired: !!deps.apiKey });
  app.use(createRouter(deps));
  registerMeta(ctx, metrics.registry);

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
