import { describeFilters } from '../../model/rules.js';
import { parseBool, parseExplainCount, parseFilters, parseIdParam, parseLimit } from '../validation.js';
import type { RouteContext } from './context.js';

export function register({ app, recommender, auth, decorate }: RouteContext): void {
  // GET /v1/users/:user/recommendations?limit=10&includeRated=false&category=a,b&excludeCategory=c
  //   &include=…&exclude=a,b&where=brand:acme,price<50&maxPerCategory=2&explain=3
  // explain=N adds to every item "because": the top N of the user's rated items behind its score.
  app.get('/v1/users/:user/recommendations', (req, res) => {
    const user = parseIdParam('user', req.params.user);
    const limit = parseLimit(req.query.limit as never);
    const filters = parseFilters(req.query as never);
    const includeRated = parseBool('includeRated', req.query.includeRated as never);
    const explain = parseExplainCount('explain', req.query.explain as never);
    const r = recommender.recommend(user, { ...filters, limit, includeRated, ...(explain === undefined ? {} : { explain }) });
    res.locals.source = r.source;
    res.json({ user: r.user, model: r.model, source: r.source, items: decorate(r.items), filters: describeFilters(filters) });
  });

  // DELETE /v1/users/:user → 204 whether or not the user had ratings (DELETE is idempotent).
  app.delete('/v1/users/:user', auth, (req, res) => {
    const user = parseIdParam('user', req.params.user);
    recommender.deleteUser(user);
    res.status(204).end();
  });
}
