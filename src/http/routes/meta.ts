import type { Registry } from 'prom-client';
import { openApiDocument } from '../openapi.js';
import type { RouteContext } from './context.js';

export function register({ app }: RouteContext, registry: Registry): void {
  // GET /metrics → Prometheus text exposition.
  app.get('/metrics', async (_req, res) => {
    const text = await registry.metrics();
    res.type(registry.contentType).send(text);
  });

  // GET /openapi.json → the OpenAPI 3 description of every route.
  const doc = openApiDocument();
  app.get('/openapi.json', (_req, res) => {
    res.json(doc);
  });
}
