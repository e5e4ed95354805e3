import { describeFilters } from '../../model/rules.js';
import { parseAnonymousBody } from '../validation.js';
import type { RouteContext } from './context.js';

export function register({ app, recommender, json, decorate }: RouteContext): void {
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
