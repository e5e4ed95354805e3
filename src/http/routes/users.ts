import { parseBool, parseExclude, parseIdParam, parseLimit } from '../validation.js';
import type { RouteContext } from './context.js';

export function register({ app, recommender, auth, decorate }: RouteContext): void {
  // GET /v1/users/:user/recommendations?limit=10&exclude=a,b&includeRated=false
  app.get('/v1/users/:user/recommendations', (req, res) => {
    const user = parseIdParam('user', req.params.user);
    const limit = parseLimit(req.query.limit as never);
    const exclude = parseExclude(req.query.exclude as never);
    const includeRated = parseBool('includeRated', req.query.includeRated as never);
    const r = recommender.recommend(user, { limit, exclude, includeRated });
    res.json({ user: r.user, model: r.model, source: r.source, items: decorate(r.items) });
  });

  // DELETE /v1/users/:user → 204 whether or not the user had ratings (DELETE is idempotent).
  app.delete('/v1/users/:user', auth, (req, res) => {
    const user = parseIdParam('user', req.params.user);
    recommender.deleteUser(user);
    res.status(204).end();
  });
}
