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

  const middleware: RequestHandler = (req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      const route = routeLabel(req);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      requests.inc({ method: req.method, route, status: String(res.statusCode) });
      latency.observe({ method: req.method, route }, seconds);
      // The recommendation routes put their answer's source in res.locals.source.
      const source: unknown = res.locals.source;
      if (typeof source === 'string') sources.inc({ source });
    });
    next();
  };
  return { registry, middleware };
}
