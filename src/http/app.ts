/**
 * createApp(deps) builds the Express 5 app without listening: the CLI (`serve`, `start`) listens,
 * the tests drive it in-process with supertest. Layering: the app talks to the serving core
 * (Recommender) only; everything about models, fold-in and storage happens behind it.
 */
import { randomUUID } from 'node:crypto';
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { DEFAULTS, type LogLevel } from '../config.js';
import { writeGuard } from './auth.js';
import type { DashboardStore } from '../store/dashboard.js';
import { errorHandler, notFoundHandler, requireDecodablePath } from './errors.js';
import { createMetrics, type HttpMetrics } from './metrics.js';
import type { RouteContext } from './routes/context.js';
import { dashboardStatic, register as registerDashboard } from './routes/dashboard.js';
import { register as registerHealth } from './routes/health.js';
import { register as registerMeta } from './routes/meta.js';
import { BODY_LIMIT, createRouter, decorator, titlesOf, type RouterDeps } from './router.js';

export interface AppDeps extends RouterDeps {
  /** Request logs go here (one line per request, see requestObserver); default: pino at `logLevel` on stdout. */
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
 * helmet's security headers. The Content-Security-Policy lets the dashboard at / load scripts,
 * styles, images and data from this origin only: no inline code, no other origin, no framing.
 * upgrade-insecure-requests is left out: the server speaks plain HTTP unless a proxy adds TLS,
 * and the directive would send a plain-HTTP dashboard's requests to https.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        scriptSrcAttr: ["'none'"],
      },
    },
  });
}

/**
 * The headers securityHeaders() sets, computed once by running helmet against a recording
 * response: they depend on nothing in the request, so each response gets them with one loop
 * instead of helmet's chain of a dozen middlewares.
 */
export function securityHeaderList(): readonly (readonly [string, string])[] {
  const headers: [string, string][] = [];
  const recorder = {
    setHeader: (name: string, value: unknown) => void headers.push([name, String(value)]),
    removeHeader: () => {},
  };
  let done = false;
  securityHeaders()({} as Request, recorder as unknown as Response, () => (done = true));
  if (!done) throw new Error('helmet did not finish synchronously; its headers cannot be precomputed');
  return headers;
}

/**
 * The request observer, one middleware and one listener per request: sets the request id
 * (a sane incoming X-Request-Id from a proxy, else a fresh UUID; echoed back) and the security
 * headers, then when the response is done records the metrics and logs one line:
 *   {"req":{"id","method","url","remoteAddress"},"res":{"statusCode"},"responseTime":ms,"msg":"request completed"}
 * at info (warn for 4xx, error for 5xx; "request aborted" when the client went away first).
 * Headers are never logged, so neither is a credential (Authorization, Cookie).
 */
export function requestObserver(logger: Logger, metrics: Pick<HttpMetrics, 'record'>): RequestHandler {
  const headers = securityHeaderList();
  return (req, res, next) => {
    const start = performance.now();
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    (req as Request & { id?: string }).id = id;
    res.setHeader('X-Request-Id', id);
    for (const [name, value] of headers) res.setHeader(name, value);
    res.once('close', () => {
      const ms = performance.now() - start;
      const status = res.statusCode;
      metrics.record(req, status, ms / 1000, res.locals.source);
      const finished = res.writableFinished;
      const level = status >= 500 ? 'error' : status >= 400 || !finished ? 'warn' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        {
          req: { id, method: req.method, url: req.originalUrl, remoteAddress: req.socket.remoteAddress },
          res: { statusCode: status },
          responseTime: Math.round(ms * 1000) / 1000,
        },
        finished ? 'request completed' : 'request aborted',
      );
    });
    next();
  };
}

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

  app.use(requestObserver(logger, metrics));

  app.use(requireDecodablePath);
  app.use(dashboardStatic());

  const ctx: RouteContext = {
    app,
    recommender: deps.recommender,
    auth: writeGuard(deps),
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
