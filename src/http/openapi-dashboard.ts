/**
 * The OpenAPI paths and schemas of the dashboard's JSON routes (src/http/routes/dashboard.ts),
 * spread into the document of src/http/openapi.ts.
 */
const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});
const json = (schema: unknown) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const bearer = [{ bearerAuth: [] }];
const q = (name: string, description: string, schema: unknown = { type: 'string' }) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});
const badQuery = errorResponse('A bad query parameter (code invalid_input; the message names it)');
const noStore = errorResponse('The app was created without a SQLite store (createApp without `dashboard`) (code unavailable)');

export const dashboardSchemas = {
  IterationStats: {
    type: 'object',
    required: ['iteration', 'loss', 'dataLoss', 'penalty', 'seconds'],
    properties: {
      iteration: { type: 'integer', minimum: 1 },
      loss: { type: 'number', description: 'J(w) = dataLoss + penalty after the sweep.' },
      dataLoss: { type: 'number', description: 'Σ (confidence-weighted) squared error over the data.' },
      penalty: { type: 'number', description: 'λ · Σ (count-scaled) squared factor (and bias) norms.' },
      seconds: { type: 'number' },
    },
  },
  ModelSummary: {
    type: 'object',
    required: ['id', 'status', 'createdAt', 'feedback', 'factors', 'params', 'metrics', 'users', 'items'],
    properties: {
      id: { type: 'integer' },
      status: { type: 'string', enum: ['ready', 'active', 'retired'] },
      createdAt: { type: 'string' },
      activatedAt: { type: ['string', 'null'] },
      feedback: { type: 'string', enum: ['explicit', 'implicit'] },
      factors: { type: 'integer' },
      params: { type: 'object' },
      metrics: { type: 'object' },
      reason: { type: ['string', 'null'], description: 'Why a candidate was retired or activated (the retrain gate), else null.' },
      users: { type: 'integer' },
      items: { type: 'integer' },
    },
  },
  TuneProgress: {
    type: ['object', 'null'],
    description: 'The background tune `npm start` runs on a fresh demo shop; null when none ran in this server.',
    properties: {
      state: { type: 'string', enum: ['running', 'done', 'failed'] },
      done: { type: 'integer', description: 'Grid points finished.' },
      total: { type: 'integer' },
      grid: { type: 'string' },
      startedAt: { type: 'string' },
      error: { type: ['string', 'null'] },
    },
  },
  Activation: {
    type: 'object',
    required: ['activated', 'previous'],
    properties: { activated: { type: 'integer' }, previous: { type: ['integer', 'null'] } },
  },
};

export function dashboardPaths(): Record<string, unknown> {
  return {
    '/v1/dashboard/overview': {
      get: {
        summary: 'What the dashboard Overview shows: the active model, the data, serving stats, precompute and tune status',
        responses: {
          200: {
            description: 'Always 200 (model is null before the first one)',
            content: json({
              type: 'object',
              required: ['model', 'data', 'serving', 'precompute', 'tuning', 'auth'],
              properties: {
                model: {
                  type: ['object', 'null'],
                  description:
                    'The model in use: id, kind, feedback, createdAt, activatedAt, factors, params, metrics, trainSeconds, users, items.',
                },
                data: {
                  type: ['object', 'null'],
                  description:
                    'users, items, ratings, minValue, maxValue, meanValue and distribution: [{from, to, count}] (each value when there are at most 20, else 10 equal bins). Cached for 30 s.',
                },
                serving: {
                  type: 'object',
                  description:
                    "Over the last minute (or since start): requests, requestsPerSecond, p50Ms and p99Ms (interpolated in the latency histogram's buckets), errorRate (5xx share), clientErrorRate (4xx share), sources {model, fold-in, popular} (recommendation answers), windowSeconds, totalRequests. The dashboard's own reads, /metrics and static files are not counted.",
                },
                precompute: {
                  type: ['object', 'null'],
                  description: 'status (off|running|ready|failed), precomputedAnswers, liveAnswers, popularAnswers.',
                },
                tuning: ref('TuneProgress'),
                auth: {
                  type: 'object',
                  properties: { keyRequired: { type: 'boolean', description: 'Whether the write routes need the API key.' } },
                },
              },
            }),
          },
        },
      },
    },
    '/v1/dashboard/items': {
      get: {
        summary: 'Search the catalogue by id, title or category (case-insensitive substring), with each item’s rating count',
        parameters: [
          q('q', 'Substring of the id, title or a category name; empty matches all.', { type: 'string', maxLength: 256 }),
          q('category', 'Only items in exactly this category.'),
          q('active', 'true or false: only active or inactive items.', { type: 'string', enum: ['true', 'false'] }),
          q('limit', 'Page size (1..200).', { type: 'integer', minimum: 1, maximum: 200, default: 20 }),
          q('offset', 'Items to skip (id order).', { type: 'integer', minimum: 0, default: 0 }),
        ],
        responses: {
          200: {
            description: 'A page of matching items in id order and how many match in all',
            content: json({
              type: 'object',
              required: ['items', 'total'],
              properties: {
                items: {
                  type: 'array',
                  items: {
                    allOf: [
                      ref('CatalogItem'),
                      { type: 'object', properties: { ratings: { type: 'integer', description: 'Stored ratings (cached for 30 s).' } } },
                    ],
                  },
                },
                total: { type: 'integer' },
              },
            }),
          },
          400: badQuery,
          503: noStore,
        },
      },
    },
    '/v1/dashboard/users': {
      get: {
        summary: 'Users whose id contains q, shortest ids first, with their rating counts',
        parameters: [
          q('q', 'Substring of the user id.', { type: 'string', maxLength: 256 }),
          q('limit', '1..200', { type: 'integer', minimum: 1, maximum: 200, default: 20 }),
        ],
        responses: {
          200: {
            description: 'Matching users',
            content: json({
              type: 'object',
              properties: {
                users: { type: 'array', items: { type: 'object', properties: { user: { type: 'string' }, ratings: { type: 'integer' } } } },
              },
            }),
          },
          400: badQuery,
          503: noStore,
        },
      },
    },
    '/v1/dashboard/categories': {
      get: {
        summary: 'Every category of the catalogue with its number of items (and of active items)',
        responses: {
          200: {
            description: 'Categories by name',
            content: json({
              type: 'object',
              properties: {
                categories: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: { category: { type: 'string' }, items: { type: 'integer' }, active: { type: 'integer' } },
                  },
                },
              },
            }),
          },
          503: noStore,
        },
      },
    },
    '/v1/model/iterations': {
      get: {
        summary: "The active model's objective after each ALS iteration, split into data loss and λ·penalty",
        responses: {
          200: {
            description: 'From the model file’s header (empty for a model imported without history)',
            content: json({
              type: 'object',
              required: ['model', 'feedback', 'params', 'iterations'],
              properties: {
                model: { type: 'integer' },
                feedback: { type: 'string', enum: ['explicit', 'implicit'] },
                params: { type: 'object' },
                iterations: { type: 'array', items: ref('IterationStats') },
              },
            }),
          },
          503: errorResponse('No model is active yet (code no_model), or no store (code unavailable)'),
        },
      },
    },
    '/v1/tuning': {
      get: {
        summary: 'The newest `ridgerec tune` result with its λ curves (for the active model’s feedback kind by default)',
        parameters: [
          q('feedback', 'explicit or implicit: the newest result for that kind.', { type: 'string', enum: ['explicit', 'implicit'] }),
        ],
        responses: {
          200: {
            description: 'tuning is null when nothing was tuned yet; howTo then says how to make one',
            content: json({
              type: 'object',
              required: ['tuning', 'running', 'howTo'],
              properties: {
                tuning: {
                  type: ['object', 'null'],
                  description:
                    'id, createdAt, feedback, metric, higherIsBetter, bestValue, bestParams, bestIndex (into results), grid, source, folds, results (as `tune --json`: params, metric, std over folds, trainLoss, trainRmse, folds, metrics, seconds, error) and curves: [{factors, points: [{lambda, metric, std, trainLoss, trainRmse, index}]}] — one curve per factor count, one point per λ (the best of any other grid dimension).',
                },
                running: ref('TuneProgress'),
                howTo: { type: 'string', description: 'A `ridgerec tune` command line.' },
              },
            }),
          },
          400: badQuery,
          503: noStore,
        },
      },
    },
    '/v1/models': {
      get: {
        summary: 'Every saved model of the registry, oldest first, with its metrics',
        responses: {
          200: {
            description: 'The registry',
            content: json({
              type: 'object',
              required: ['models', 'activeModel'],
              properties: { models: { type: 'array', items: ref('ModelSummary') }, activeModel: { type: ['integer', 'null'] } },
            }),
          },
          503: noStore,
        },
      },
    },
    '/v1/models/rollback': {
      post: {
        summary: 'Re-activate the model that was active before the current one (swapped in before the answer)',
        security: bearer,
        responses: {
          200: { description: 'Rolled back', content: json(ref('Activation')) },
          401: errorResponse('Missing or wrong API key (code unauthorized)'),
          409: errorResponse('Nothing to roll back to'),
          503: noStore,
        },
      },
    },
    '/v1/models/{id}/activate': {
      post: {
        summary: 'Make a saved model the active one (swapped in before the answer)',
        security: bearer,
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }],
        responses: {
          200: { description: 'Activated', content: json(ref('Activation')) },
          400: errorResponse('The id is not a positive integer'),
          401: errorResponse('Missing or wrong API key (code unauthorized)'),
          404: errorResponse('No such model (code model_not_found)'),
          503: noStore,
        },
      },
    },
  };
}
