import { parseAnonymousBody } from '../validation.js';
import type { RouteContext } from './context.js';

export function register({ app, recommender, json, decorate }: RouteContext): void {
  // POST /v1/recommendations {"ratings":[{"item","value"}],"limit":10,"exclude":[]}: a fold-in for
  // a visitor with no account. Read-only, so it stays open even when an API key is set.
  app.post('/v1/recommendations', json, (req, res) => {
    const body = parseAnonymousBody(req.body);
    const r = recommender.recommendAnonymous(body.ratings, { limit: body.limit, exclude: body.exclude });
    res.json({ source: r.source, model: r.model, items: decorate(r.items) });
  });
}
