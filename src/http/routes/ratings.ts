import { parseRatingsBody } from '../validation.js';
import type { RouteContext } from './context.js';

export function register({ app, recommender, auth, json }: RouteContext): void {
  // POST /v1/ratings {"user","item","value"} | {"ratings":[…]} (≤ 10,000) → 201 {"accepted":N}.
  // The whole batch is validated first; one bad element is a 400 and nothing is stored. The
  // recommender stores it in one transaction and re-folds the affected users.
  app.post('/v1/ratings', auth, json, (req, res) => {
    const ratings = parseRatingsBody(req.body);
    const { accepted } = recommender.addRatings(ratings);
    res.status(201).json({ accepted });
  });
}
