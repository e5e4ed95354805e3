import { describeFilters } from '../../model/rules.js';
import { parseFilters, parseIdParam, parseLimit } from '../validation.js';
import type { RouteContext } from './context.js';

export function register({ app, recommender, decorate }: RouteContext): void {
  // GET /v1/items/:item/similar?limit=10 (+ the rules of the recommendation routes) → cosine
  // neighbours; unknown item → 404 unknown_item.
  app.get('/v1/items/:item/similar', (req, res) => {
    const item = parseIdParam('item', req.params.item);
    const limit = parseLimit(req.query.limit as never);
    const filters = parseFilters(req.query as never);
    const r = recommender.similarItems(item, { ...filters, limit });
    res.json({ item: r.item, model: r.model, items: decorate(r.items), filters: describeFilters(filters) });
  });
}
