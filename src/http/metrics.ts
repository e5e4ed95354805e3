/**
 * Prometheus metrics on a per-app Registry (tests build many apps; the global registry would
 * collide): requests by method, route pattern and status; latency histograms by route;
 * recommendation answers by source; the active model id and its age, read from the recommender
 * at scrape time.
 */
import type { Request, RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Recommender } from '../serving/recommender.js';

export interface HttpMetrics {
  readonly registry: Registry;
  /** Counts the request and observes its latency when the response finishes. */
  readonly middleware: RequestHandler;
  /**
   * Counts one finished request and observes its latency, in seconds (what the middleware does;
   * the app's request observer calls it from its own finish handler).
   */
  record(req: Request, status: number, seconds: number, source?: unknown): void;
}

/**
 * The route label: the matched route's pattern (e.g. /v1/users/:user/recommendations), never the
 * raw URL, so a million users are one series. Unmatched requests share the label "unmatched".
 */
export function routeLabel(req: Request): string {
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof pattern !== 'string') return 'unmatched';
  return `${req.baseUrl}${pattern}`;
}

export function createMetrics(recommender: Recommender, registry: Registry = new Registry(), defaults = true): HttpMetrics {
  if (defaults) collectDefaultMetrics({ register: registry, prefix: 'ridgerec_' });
  const requests = new Counter({
    name: 'ridgerec_http_requests_total',
    help: 'HTTP requests by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'ridgerec_http_request_duration_seconds',
    help: 'HTTP request latency in seconds by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  new Gauge({
    name: 'ridgerec_model_id',
    help: 'id of the model being served (-1 when none is active)',
    registers: [registry],
    collect() {
      this.set(recommender.modelId() ?? -1);
    },
  });
  new Gauge({
    name: 'ridgerec_model_age_seconds',
    help: 'seconds since the served model was created (-1 when none is active)',
    registers: [registry],
    collect() {
      const info = recommender.modelInfo();
      const created = info ? Date.parse(info.createdAt) : Number.NaN;
      this.set(Number.isFinite(created) ? Math.max(0, (Date.now() - created) / 1000) : -1);
    },
  });

  const sources = new Counter({
    name: 'ridgerec_recommendations_total',
    help: 'recommendation answers by source (model, fold-in, popular)',
    labelNames: ['source'] as const,
    registers: [registry],
  });

  // The labelled children, resolved once per (method, route[, status]): prom-client hashes the
  // label object on every inc/observe otherwise. Route labels are patterns, so this stays small.
  const counters = new Map<string, Counter.Internal>();
  const timers = new Map<string, Histogram.Internal<'method' | 'route'>>();
  const record = (req: Request, status: number, seconds: number, source?: unknown): void => {
    const route = routeLabel(req);
    const key = `${req.method} ${route}`;
    let timer = timers.get(key);
    if (timer === undefined) timers.set(key, (timer = latency.labels(req.method, route)));
    const statusKey = `${key} ${status}`;
    let counter = counters.get(statusKey);
    if (counter === undefined) counters.set(statusKey, (counter = requests.labels(req.method, route, String(status))));
    counter.inc();
    timer.observe(seconds);
    // The recommendation routes put their answer's source in res.locals.source.
    if (typeof source === 'string') sources.inc({ source });
  };

  const middleware: RequestHandler = (req, res, next) => {
    const start = performance.now();
    res.once('finish', () => record(req, res.statusCode, (performance.now() - start) / 1000, res.locals.source));
    next();
  };
  return { registry, middleware, record };
}
