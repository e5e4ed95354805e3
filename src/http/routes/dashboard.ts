/**
 * The dashboard at `/`: static HTML + ES modules + CSS from the package's `dashboard/` folder and
 * uPlot from node_modules (no CDN, no font, works offline), plus the JSON it reads:
 *
 *   GET  /v1/dashboard/overview        active model, data summary, serving stats, precompute, tune
 *   GET  /v1/dashboard/items?q=        catalogue search by id/title/category with rating counts
 *   GET  /v1/dashboard/users?q=        users by id substring with rating counts
 *   GET  /v1/dashboard/categories      categories with their item counts
 *   GET  /v1/model/iterations          the active model's loss per ALS iteration (data loss, λ·penalty)
 *   GET  /v1/tuning                    the newest tuning result with its λ curves (200 + null when none)
 *   GET  /v1/models                    every saved model (the registry)
 *   POST /v1/models/:id/activate       activate a model (API key), swapped in at once
 *   POST /v1/models/rollback           re-activate the previous model (API key)
 *
 * Static files: `/` renders index.html with the asset prefix `assets/<hash>/`, where the hash
 * covers every asset's bytes, so assets are cached as immutable and index.html is revalidated
 * (no-cache). Every dashboard response carries a strict Content-Security-Policy: scripts, styles,
 * images, fonts and fetches from 'self' only; no inline script or style.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler, type Response } from 'express';
import type { Registry } from 'prom-client';
import { invalidInput, noModel, Unavailable } from '../../errors.js';
import type { ModelRecord } from '../../model/registry.js';
import type { TuningRecord } from '../../model/tuning-store.js';
import type { ServingRecommender } from '../../serving/recommender.js';
import type { DashboardStore } from '../../store/dashboard.js';
import type { Feedback, TrainParams } from '../../training/params.js';
import { parseBool } from '../validation.js';
import type { RouteContext } from './context.js';

/** The dashboard folder shipped in the package (beside src/ and dist/). */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../../dashboard/', import.meta.url));

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The `tune` command the Training view suggests when no tuning result is stored. */
export const TUNE_HINT = 'npx ridgerec tune --db data/ridgerec.db --grid "lambda=1,3,10,20,40 factors=16,64" --folds 3';

/** The serving stats' window: rates and quantiles over (at most) the last minute. */
export const SERVING_WINDOW_MS = 60_000;

export interface DashboardDeps {
  /** The app's metrics registry (requests, latencies, recommendation sources). */
  readonly registry: Registry;
  /** Storage reads and registry writes; without it the data, tuning and model routes answer 503. */
  readonly store?: DashboardStore | undefined;
  /** Whether write routes need the API key (the page asks for it once). */
  readonly keyRequired: boolean;
}

// ---------------------------------------------------------------------------------------------
// Static files

interface Assets {
  readonly hash: string;
  readonly index: string;
}

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

/** uPlot's ESM build and stylesheet, from node_modules. */
export function uplotDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
}

function loadAssets(): Assets {
  const h = createHash('sha256');
  for (const file of walk(DASHBOARD_DIR)) h.update(relative(DASHBOARD_DIR, file).split(sep).join('/')).update(readFileSync(file));
  for (const name of ['uPlot.esm.js', 'uPlot.min.css']) h.update(name).update(readFileSync(join(uplotDir(), name)));
  const hash = h.digest('hex').slice(0, 12);
  const index = readFileSync(join(DASHBOARD_DIR, 'index.html'), 'utf8').replaceAll('{{assets}}', `assets/${hash}`);
  return { hash, index };
}

function securityHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
}

/** `/` (index.html) and `/assets/<hash>/…` (the dashboard's files, uPlot under vendor/). */
export function dashboardStatic(): express.Router {
  const router = express.Router();
  let assets: Assets;
  try {
    assets = loadAssets();
  } catch (e) {
    // A copy without the dashboard's files (or uPlot) still serves the API; / says what is missing.
    const why = `the dashboard's files cannot be read (${(e as Error).message}); reinstall ridgerec`;
    router.get('/', (_req, _res, next) => next(new Unavailable(why, { code: 'dashboard_unavailable' })));
    return router;
  }
  const { hash, index } = assets;
  const page: RequestHandler = (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (req.path !== '/' && req.path !== '/index.html') return next();
    securityHeaders(res);
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').send(index);
  };
  router.use(page);
  const immutable = {
    index: false,
    redirect: false,
    fallthrough: true,
    etag: true,
    setHeaders(res: Response) {
      securityHeaders(res);
      res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    },
  };
  router.use(`/assets/${hash}/vendor`, express.static(uplotDir(), immutable));
  router.use(`/assets/${hash}`, express.static(DASHBOARD_DIR, immutable));
  return router;
}

// ---------------------------------------------------------------------------------------------
// Serving stats from the app's own metrics

interface Totals {
  readonly t: number;
  readonly requests: number;
  readonly serverErrors: number;
  readonly clientErrors: number;
  /** cumulative latency bucket counts by upper bound (seconds), ascending; +Inf last */
  readonly buckets: readonly [number, number][];
  readonly sources: Readonly<Record<string, number>>;
}

/** Requests the serving stats count: the API's, not the dashboard's own reads or static files. */
function counted(route: string, status: number): boolean {
  if (route.startsWith('/v1/dashboard/') || route === '/metrics' || route === '/openapi.json') return false;
  return route !== 'unmatched' || status >= 400;
}

type MetricValues = { values: { labels: Record<string, string | number>; value: number; metricName?: string }[] };

async function readTotals(registry: Registry): Promise<Totals> {
  const get = async (name: string): Promise<MetricValues['values']> => {
    const m = registry.getSingleMetric(name) as { get(): Promise<MetricValues> | MetricValues } | undefined;
    return m ? (await m.get()).values : [];
  };
  let requests = 0;
  let serverErrors = 0;
  let clientErrors = 0;
  for (const v of await get('ridgerec_http_requests_total')) {
    const status = Number(v.labels.status);
    if (!counted(String(v.labels.route), status)) continue;
    requests += v.value;
    if (status >= 500) serverErrors += v.value;
    else if (status >= 400) clientErrors += v.value;
  }
  const buckets = new Map<number, number>();
  for (const v of await get('ridgerec_http_request_duration_seconds')) {
    if (v.metricName !== 'ridgerec_http_request_duration_seconds_bucket') continue;
    if (!counted(String(v.labels.route), 0)) continue;
    const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + v.value);
  }
  const sources: Record<string, number> = { model: 0, 'fold-in': 0, popular: 0 };
  for (const v of await get('ridgerec_recommendations_total')) {
    const s = String(v.labels.source);
    sources[s] = (sources[s] ?? 0) + v.value;
  }
  return { t: Date.now(), requests, serverErrors, clientErrors, buckets: [...buckets].sort((a, b) => a[0] - b[0]), sources };
}

/**
 * The q-quantile of the latencies counted in cumulative buckets (Prometheus' histogram_quantile):
 * find the first bucket whose cumulative count reaches q·total and interpolate linearly inside
 * it; the +Inf bucket answers its lower bound. null when there were no requests.
 */
export function bucketQuantile(q: number, buckets: readonly [number, number][]): number | null {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      const inBucket = count - prevCount;
      return inBucket <= 0 ? le : prevLe + (le - prevLe) * ((rank - prevCount) / inBucket);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

/** The serving stats over the window ending now: differences of the metric totals. */
export class ServingWindow {
  readonly #registry: Registry;
  readonly #started = Date.now();
  #snapshots: Totals[] = [];

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  async stats(): Promise<Record<string, unknown>> {
    const now = await readTotals(this.#registry);
    this.#snapshots = this.#snapshots.filter((s) => now.t - s.t <= SERVING_WINDOW_MS);
    // The oldest snapshot inside the window, else the app's start (all counters at zero).
    const base: Totals = this.#snapshots[0] ?? {
      t: this.#started,
      requests: 0,
      serverErrors: 0,
      clientErrors: 0,
      buckets: [],
      sources: {},
    };
    if (this.#snapshots.length === 0 || now.t - this.#snapshots.at(-1)!.t >= 1000) this.#snapshots.push(now);
    const seconds = Math.max(0.001, (now.t - base.t) / 1000);
    const requests = now.requests - base.requests;
    const before = new Map(base.buckets);
    const window: [number, number][] = now.buckets.map(([le, c]) => [le, c - (before.get(le) ?? 0)]);
    const ms = (x: number | null) => (x === null ? null : Math.round(x * 1e6) / 1e3);
    const sources = Object.fromEntries(Object.entries(now.sources).map(([k, v]) => [k, v - (base.sources[k] ?? 0)]));
    return {
      windowSeconds: Math.round(seconds * 10) / 10,
      requests,
      requestsPerSecond: Math.round((requests / seconds) * 100) / 100,
      p50Ms: ms(bucketQuantile(0.5, window)),
      p99Ms: ms(bucketQuantile(0.99, window)),
      errorRate: requests > 0 ? (now.serverErrors - base.serverErrors) / requests : 0,
      clientErrorRate: requests > 0 ? (now.clientErrors - base.clientErrors) / requests : 0,
      sources,
      totalRequests: now.requests,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Tuning curves

/** Hyperparameter names as the tune results store them (flag names). */
type FlagParams = Readonly<Record<string, number | string>>;

interface StoredPoint {
  readonly params: FlagParams;
  readonly metric: number | null;
  readonly std: number | null;
  readonly trainLoss: number | null;
  readonly trainRmse?: number | null;
  readonly folds?: readonly (number | null)[];
  readonly error?: string;
}

export interface CurvePoint {
  readonly lambda: number;
  readonly metric: number;
  readonly std: number;
  readonly trainLoss: number | null;
  readonly trainRmse: number | null;
  /** index in the record's results */
  readonly index: number;
}

function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Index of the stored best point in `results` (its params equal bestParams on every grid key), or -1. */
export function bestIndex(rec: Pick<TuningRecord, 'bestParams' | 'results'>): number {
  const best = rec.bestParams as TrainParams;
  const results = rec.results as StoredPoint[];
  return results.findIndex((r) =>
    Object.entries(r.params ?? {}).every(([k, v]) => {
      const mine = (best as unknown as Record<string, unknown>)[k] ?? Object.entries(best).find(([bk]) => flagName(bk) === k)?.[1];
      return mine === v;
    }),
  );
}

/**
 * One curve per factors value, one point per λ: when the grid has other dimensions, the best of
 * them by the validation metric (as `tune --report` draws it). Failed points are left out.
 */
export function tuningCurves(rec: Pick<TuningRecord, 'results' | 'higherIsBetter'>): { factors: number; points: CurvePoint[] }[] {
  const groups = new Map<number, Map<number, CurvePoint>>();
  (rec.results as StoredPoint[]).forEach((r, index) => {
    if (r.metric === null || !Number.isFinite(r.metric)) return;
    const factors = Number(r.params.factors);
    const lambda = Number(r.params.lambda);
    let g = groups.get(factors);
    if (!g) groups.set(factors, (g = new Map()));
    const cur = g.get(lambda);
    if (!cur || (rec.higherIsBetter ? r.metric > cur.metric : r.metric < cur.metric)) {
      g.set(lambda, { lambda, metric: r.metric, std: r.std ?? 0, trainLoss: r.trainLoss, trainRmse: r.trainRmse ?? null, index });
    }
  });
  return [...groups]
    .sort((a, b) => a[0] - b[0])
    .map(([factors, g]) => ({ factors, points: [...g.values()].sort((a, b) => a.lambda - b.lambda) }));
}

// ---------------------------------------------------------------------------------------------
// Query parsing

function queryString(name: string, raw: unknown, max = 256): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string')
    throw invalidInput(`${name}: give it once, as a string`, { issues: [{ path: name, message: 'must be a string' }] });
  if (raw.length > max)
    throw invalidInput(`${name}: must be at most ${max} characters`, {
      issues: [{ path: name, message: `must be at most ${max} characters` }],
    });
  return raw;
}

function queryInt(name: string, raw: unknown, min: number, max: number, fallback: number): number {
  const s = queryString(name, raw, 16);
  if (s === undefined) return fallback;
  const v = Number(s);
  if (!/^\d+$/.test(s) || v < min || v > max) {
    const message = `must be an integer in ${min}..${max}, got "${s}"`;
    throw invalidInput(`${name}: ${message}`, { issues: [{ path: name, message }] });
  }
  return v;
}

function pathModelId(raw: unknown): number {
  const s = String(raw);
  const v = Number(s);
  if (!/^\d{1,15}$/.test(s) || v < 1) {
    const message = `must be a positive integer model id, got "${s.slice(0, 40)}"`;
    throw invalidInput(`id: ${message}`, { issues: [{ path: 'id', message }] });
  }
  return v;
}

function needStore(store: DashboardStore | undefined): DashboardStore {
  if (!store) {
    throw new Unavailable('this server was created without a SQLite store (createApp without `dashboard`), so it cannot read this', {
      code: 'unavailable',
    });
  }
  return store;
}

/** The registry record as GET /v1/model shows it (users/items instead of nUsers/nItems). */
function modelJson(m: ModelRecord): Record<string, unknown> {
  return {
    id: m.id,
    status: m.status,
    createdAt: m.createdAt,
    activatedAt: m.activatedAt,
    feedback: m.feedback,
    factors: m.factors,
    params: m.params,
    metrics: m.metrics,
    reason: m.reason,
    users: m.nUsers,
    items: m.nItems,
  };
}

function tuningJson(rec: TuningRecord): Record<string, unknown> {
  const results = rec.results as StoredPoint[];
  return {
    id: rec.id,
    createdAt: rec.createdAt,
    feedback: rec.feedback,
    metric: rec.metric,
    higherIsBetter: rec.higherIsBetter,
    bestValue: rec.bestValue,
    bestParams: rec.bestParams,
    bestIndex: bestIndex(rec),
    grid: rec.grid,
    source: rec.source,
    folds: results.find((r) => Array.isArray(r.folds) && r.folds.length > 0)?.folds?.length ?? 1,
    results: rec.results,
    curves: tuningCurves(rec),
  };
}

// ---------------------------------------------------------------------------------------------
// Routes

export function register({ app, recommender, auth }: RouteContext, deps: DashboardDeps): void {
  const { store } = deps;
  const serving = new ServingWindow(deps.registry);
  const servingStats = (): ServingRecommender['stats'] | null => {
    const r = recommender as Partial<ServingRecommender>;
    return typeof r.stats === 'function' ? r.stats.bind(recommender) : null;
  };

  // GET /v1/dashboard/overview → {model, data, serving, precompute, tuning, auth}: what the
  // Overview view shows; never a 503 (model is null before the first one).
  app.get('/v1/dashboard/overview', async (_req, res) => {
    const m = recommender.modelInfo();
    const stats = servingStats()?.() ?? null;
    res.json({
      model:
        m === null
          ? null
          : {
              id: m.id,
              kind: `${m.feedback} ALS`,
              feedback: m.feedback,
              createdAt: m.createdAt,
              activatedAt: m.activatedAt,
              factors: m.factors,
              params: m.params,
              metrics: m.metrics,
              trainSeconds: typeof m.metrics.trainSeconds === 'number' ? m.metrics.trainSeconds : null,
              users: m.nUsers,
              items: m.nItems,
            },
      data: store ? store.ratingSummary() : null,
      serving: await serving.stats(),
      precompute: stats
        ? {
            status: stats.precompute,
            precomputedAnswers: stats.precomputedAnswers,
            liveAnswers: stats.liveAnswers,
            popularAnswers: stats.popularAnswers,
          }
        : null,
      tuning: store ? store.tuneProgress() : null,
      auth: { keyRequired: deps.keyRequired },
    });
  });

  // GET /v1/dashboard/items?q=&category=&active=&limit=20&offset=0 → {items:[{item,title,categories,
  // metadata,active,ratings}],total}: items whose id, title or a category contains q (any case).
  app.get('/v1/dashboard/items', (req, res) => {
    const s = needStore(store);
    const q = queryString('q', req.query.q) ?? '';
    const category = queryString('category', req.query.category);
    const active = req.query.active === undefined ? undefined : parseBool('active', req.query.active as never);
    const limit = queryInt('limit', req.query.limit, 1, 200, 20);
    const offset = queryInt('offset', req.query.offset, 0, 1_000_000_000, 0);
    const r = s.searchItems({ q: q.trim(), category: category === '' ? undefined : category, active, limit, offset });
    res.json({
      items: r.items.map((it) => ({
        item: it.id,
        title: it.title,
        categories: it.categories,
        metadata: it.metadata,
        active: it.active,
        ratings: it.ratings,
      })),
      total: r.total,
    });
  });

  // GET /v1/dashboard/users?q=&limit=20 → {users:[{user, ratings}]}: ids containing q, shortest first.
  app.get('/v1/dashboard/users', (req, res) => {
    const s = needStore(store);
    const q = (queryString('q', req.query.q) ?? '').trim();
    const limit = queryInt('limit', req.query.limit, 1, 200, 20);
    res.json({ users: s.searchUsers(q, limit) });
  });

  // GET /v1/dashboard/categories → {categories:[{category, items, active}]}.
  app.get('/v1/dashboard/categories', (_req, res) => {
    res.json({ categories: needStore(store).categories() });
  });

  // GET /v1/model/iterations → {model, feedback, params, iterations:[{iteration,loss,dataLoss,penalty,seconds}]}:
  // J(w) = dataLoss + penalty after each ALS sweep (penalty = λ·Σ scaled squared norms).
  app.get('/v1/model/iterations', (_req, res) => {
    const m = recommender.modelInfo();
    if (m === null) throw noModel();
    const iterations = needStore(store).modelHistory(m.id);
    res.json({ model: m.id, feedback: m.feedback, params: m.params, iterations });
  });

  // GET /v1/tuning?feedback=explicit|implicit → {tuning: {…, curves, bestIndex} | null, running, howTo}:
  // the newest tuning result (by default for the active model's feedback kind when there is one).
  app.get('/v1/tuning', (req, res) => {
    const s = needStore(store);
    const raw = queryString('feedback', req.query.feedback);
    if (raw !== undefined && raw !== 'explicit' && raw !== 'implicit') {
      const message = `must be explicit or implicit, got "${raw.slice(0, 40)}"`;
      throw invalidInput(`feedback: ${message}`, { issues: [{ path: 'feedback', message }] });
    }
    const active = recommender.modelInfo()?.feedback;
    const feedback = raw as Feedback | undefined;
    const rec = feedback !== undefined ? s.latestTuning(feedback) : ((active && s.latestTuning(active)) ?? s.latestTuning());
    res.json({ tuning: rec ? tuningJson(rec) : null, running: s.tuneProgress(), howTo: TUNE_HINT });
  });

  // GET /v1/models → {models:[…], activeModel}: every saved model, oldest first.
  app.get('/v1/models', (_req, res) => {
    const s = needStore(store);
    res.json({ models: s.models().map(modelJson), activeModel: s.activeModelId() });
  });

  // POST /v1/models/rollback → {activated, previous}: the model active before the current one.
  app.post('/v1/models/rollback', auth, (_req, res) => {
    const s = needStore(store);
    const previous = s.activeModelId();
    const activated = s.rollback();
    recommender.reload();
    res.json({ activated, previous });
  });

  // POST /v1/models/:id/activate → {activated, previous}; the server swaps it in before answering.
  app.post('/v1/models/:id/activate', auth, (req, res) => {
    const s = needStore(store);
    const id = pathModelId(req.params.id);
    const previous = s.activeModelId();
    s.activate(id);
    recommender.reload();
    res.json({ activated: id, previous });
  });
}
