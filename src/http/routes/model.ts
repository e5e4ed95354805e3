import { noModel } from '../../errors.js';
import type { RouteContext } from './context.js';

export function register({ app, recommender, auth }: RouteContext): void {
  // GET /v1/model → the model in use; 503 no_model when none is active.
  app.get('/v1/model', (_req, res) => {
    const m = recommender.modelInfo();
    if (m === null) throw noModel();
    res.json({
      id: m.id,
      createdAt: m.createdAt,
      activatedAt: m.activatedAt,
      feedback: m.feedback,
      params: m.params,
      metrics: m.metrics,
      users: m.nUsers,
      items: m.nItems,
    });
  });

  // POST /v1/admin/reload → {"model":id}: reload the active model now instead of waiting for the poll.
  app.post('/v1/admin/reload', auth, (_req, res) => {
    const id = recommender.reload();
    if (id === null) throw noModel();
    res.json({ model: id });
  });
}
