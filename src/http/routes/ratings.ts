import { parseRatingsBody } from '../validation.js';
import type { RouteContext } from './context.js';

export function register({ app, recommender, auth, json }: RouteContext): void {
  // POST /v1/ratings {"user","item","value"} | {"ratings":[…]} (≤ 10,000) → 201 {"accepted":N}.
  // The whole batch is validated first; one bad element is a 400 and nothing is stored. The
  // recommender stores it in one transaction and re-folds the affected users.
  // While another process holds the database's write lock the write retries without blocking the
  // event loop, then answers 503 busy with Retry-After (nothing stored).
  app.post('/v1/ratings', auth, json, async (req, res) => {
    const ratings = parseRatingsBody(req.body);
    const { accepted } = await recommender.addRatings(ratings);
    res.status(201).json({ accepted });
  });
}
