import type { CatalogItem } from '../../ratings/catalogue.js';
import { parseIdParam, parseItemBody, parseItemQuery } from '../validation.js';
import type { RouteContext } from './context.js';

/** The JSON of a stored item: the id under "item", like every other answer of the API. */
export function itemJson(it: CatalogItem): Record<string, unknown> {
  return { item: it.id, title: it.title, categories: it.categories, metadata: it.metadata, active: it.active };
}

/**
 * The item catalogue. Writes take effect on the very next recommendation request (the recommender
 * updates its catalogue in memory; no retrain, no reload). /v1/items/:item matches one path
 * segment, so /v1/items/:item/similar (routes/items.ts) is not shadowed by these routes.
 */
export function register({ app, recommender, auth, json }: RouteContext): void {
  // GET /v1/items?category=&active=true|false&limit=100&after=<cursor> → {items:[…], next}: pages in
  // id order; pass `next` as `after` for the following page (null: the last page).
  app.get('/v1/items', (req, res) => {
    const q = parseItemQuery(req.query as never);
    const page = recommender.listItems(q);
    res.json({ items: page.items.map(itemJson), next: page.next });
  });

  // GET /v1/items/:item → the stored item; 404 unknown_item for an id the database has never seen.
  app.get('/v1/items/:item', (req, res) => {
    res.json(itemJson(recommender.getItem(parseIdParam('item', req.params.item))));
  });

  // PUT /v1/items/:item {title, categories, metadata, active} → 200 with the stored item; absent
  // fields are reset to their defaults (no title, no categories, no metadata, active).
  app.put('/v1/items/:item', auth, json, async (req, res) => {
    const item = parseIdParam('item', req.params.item);
    const fields = parseItemBody(req.body);
    res.json(itemJson(await recommender.putItem(item, fields)));
  });

  // PATCH /v1/items/:item {"active": false} → 200 with the stored item; absent fields are kept.
  app.patch('/v1/items/:item', auth, json, async (req, res) => {
    const item = parseIdParam('item', req.params.item);
    const patch = parseItemBody(req.body);
    res.json(itemJson(await recommender.patchItem(item, patch)));
  });
}
