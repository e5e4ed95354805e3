import type { RouteContext } from './context.js';

export function register({ app, recommender }: RouteContext): void {
  // GET /health → {"status":"ok","model":id|null}. Always 200 while the process serves requests;
  // "model": null tells a load balancer there is nothing to recommend with yet.
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', model: recommender.modelId() });
  });
}
