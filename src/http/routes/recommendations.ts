import { describeFilters } from '../../model/rules.js';
import { parseAnonymousBody } from '../validation.js';
import type { RouteContext } from './context.js';

export function register({ app, recommender, json, decorate }: RouteContext): void {
  // POST /v1/recommendations {"ratings":[{"item","value"}],"limit":10,"exclude":[],"category":[…],
  // "excludeCategory":[…],"include":[…],"where":"…","maxPerCategory":N}: a fold-in for
  // a visitor with no account. Read-only, so it stays open even when an API key is set.
  app.post('/v1/recommendations', json, (req, res) => {
    const { ratings, ...options } = parseAnonymousBody(req.body);
    const r = recommender.recommendAnonymous(ratings, options);
    const { limit: _limit, ...filters } = options;
    res.json({ source: r.source, model: r.model, items: decorate(r.items), filters: describeFilters(filters) });
  });
}
