import { DEFAULT_EXPLAIN_TOP, explanationView } from '../../serving/explanations.js';
import { parseExplainCount, parseIdParam } from '../validation.js';
import type { RouteContext } from './context.js';

export function register({ app, recommender, titles }: RouteContext): void {
  // GET /v1/users/:user/recommendations/:item/explanation?top=5 → the user's score for the item
  // decomposed over their rated items: {"user","item","title"?,"score","contributions":[{"item",
  // "title","contribution"}],"rest","bias"? (explicit: {global,user,item}),"model"}; the listed
  // contributions + rest (+ the bias terms) sum to score. Unknown item → 404 unknown_item; a user
  // with no ratings → 404 unknown_user.
  app.get('/v1/users/:user/recommendations/:item/explanation', (req, res) => {
    const user = parseIdParam('user', req.params.user);
    const item = parseIdParam('item', req.params.item);
    const top = parseExplainCount('top', req.query.top as never) ?? DEFAULT_EXPLAIN_TOP;
    res.json(explanationView(recommender.explain(user, item, { top }), titles));
  });
}
