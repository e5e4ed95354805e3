import type { Response } from 'express';
import { describeFilters } from '../../model/rules.js';
import { parseAnonymousBody, parseBool, parseExplainCount, parseFilters, parseIdParam, parseLimit } from '../validation.js';
import type { RouteContext } from './context.js';

/** Serialised default answers kept per router (≈ 400 bytes each for a top 10). */
export const ANSWER_CACHE_ENTRIES = 20_000;

/**
 * The serialised answers of the default request (`?limit=N` or nothing: no rules, no explain),
 * per user and limit, valid while the recommender's answersVersion() is unchanged: a swap, a
 * catalogue change or a rating write empties it. The precomputed top-N then costs one Map lookup
 * and one write per request instead of scoring, decorating and JSON.stringify. Bounded: past
 * ANSWER_CACHE_ENTRIES the oldest entry goes.
 */
class AnswerCache {
  private readonly entries = new Map<string, Answer>();
  private version = -1;

  get(version: number, key: string): Answer | undefined {
    if (version !== this.version) {
      this.entries.clear();
      this.version = version;
      return undefined;
    }
    return this.entries.get(key);
  }

  set(version: number, key: string, body: Answer): void {
    if (version !== this.version) return; // something changed while computing it
    if (this.entries.size >= ANSWER_CACHE_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, body);
  }
}

/**
 * A serialised answer. Kept as a string, not a Buffer: Node writes the headers and a string body
 * in one write, while a Buffer body costs a second chunk (writev).
 */
interface Answer {
  readonly json: string;
  readonly bytes: number;
  /** The answer's source (model, fold-in, popular), counted by the metrics on every send. */
  readonly source: string;
}

function answer(value: { readonly source: string } & Record<string, unknown>): Answer {
  const json = JSON.stringify(value);
  return { json, bytes: Buffer.byteLength(json), source: value.source };
}

/** A JSON answer already serialised: what res.json would send, without serialising it again. */
function sendJson(res: Response, body: Answer): void {
  res.locals.source = body.source;
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', body.bytes);
  res.end(body.json, 'utf8');
}

/** True when the query asks for nothing but (optionally) `limit`. */
function isDefaultQuery(query: Record<string, unknown>): boolean {
  for (const key in query) if (key !== 'limit') return false;
  return true;
}

export function register({ app, recommender, json, decorate }: RouteContext): void {
  const cache = new AnswerCache();

  // GET /v1/users/:user/recommendations?limit=10&includeRated=false&category=a,b&excludeCategory=c
  //   &include=…&exclude=a,b&where=brand:acme,price<50&maxPerCategory=2&explain=3
  // explain=N adds to every item "because": the top N of the user's rated items behind its score.
  app.get('/v1/users/:user/recommendations', (req, res) => {
    const user = parseIdParam('user', req.params.user);
    const query = req.query as Record<string, unknown>;
    const limit = parseLimit(query.limit as never);
    const version = isDefaultQuery(query) ? recommender.answersVersion?.() : undefined;
    const key = `${limit}:${user}`;
    if (version !== undefined) {
      const hit = cache.get(version, key);
      if (hit !== undefined) {
        sendJson(res, hit);
        return;
      }
    }
    const filters = parseFilters(query as never);
    const includeRated = parseBool('includeRated', query.includeRated as never);
    const explain = parseExplainCount('explain', query.explain as never);
    const r = recommender.recommend(user, { ...filters, limit, includeRated, ...(explain === undefined ? {} : { explain }) });
    const body = answer({ user: r.user, model: r.model, source: r.source, items: decorate(r.items), filters: describeFilters(filters) });
    if (version !== undefined) cache.set(version, key, body);
    sendJson(res, body);
  });

  // POST /v1/recommendations {"ratings":[{"item","value"}],"limit":10,"exclude":[],"category":[…],
  // "excludeCategory":[…],"include":[…],"where":"…","maxPerCategory":N,"explain":N}: a fold-in for
  // a visitor with no account; "explain": N adds each item's "because" (the top N posted items
  // behind its score). Read-only, so it stays open even when an API key is set.
  app.post('/v1/recommendations', json, (req, res) => {
    const { ratings, explain, ...options } = parseAnonymousBody(req.body);
    const r = recommender.recommendAnonymous(ratings, explain === undefined ? options : { ...options, explain });
    const { limit: _limit, ...filters } = options;
    res.locals.source = r.source;
    res.json({ source: r.source, model: r.model, items: decorate(r.items), filters: describeFilters(filters) });
  });
}
