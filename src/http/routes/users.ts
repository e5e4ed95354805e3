import { parseIdParam } from '../validation.js';
import type { RouteContext } from './context.js';

export function register({ app, recommender, auth }: RouteContext): void {
  // GET /v1/users/:user/recommendations lives in routes/recommendations.ts.

  // DELETE /v1/users/:user → 204 whether or not the user had ratings (DELETE is idempotent).
  app.delete('/v1/users/:user', auth, async (req, res) => {
    const user = parseIdParam('user', req.params.user);
    await recommender.deleteUser(user);
    res.status(204).end();
  });
}
