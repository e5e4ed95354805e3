/**
 * The OpenAPI 3.1 document served at GET /openapi.json. Written by hand next to the routes; a
 * test checks that every route the app registers is described here and nothing else is.
 */
import { LIMITS } from '../config.js';
import { DEFAULT_EXPLAIN_TOP, MAX_EXPLAIN } from '../serving/explanations.js';
import { VERSION } from '../version.js';
import { dashboardPaths, dashboardSchemas } from './openapi-dashboard.js';
import {
  DEFAULT_ITEM_PAGE,
  DEFAULT_LIMIT,
  MAX_BATCH,
  MAX_CATEGORIES,
  MAX_ID_LENGTH,
  MAX_LIMIT,
  MAX_METADATA_KEYS,
  MAX_TITLE_LENGTH,
} from './validation.js';

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const limitParam = {
  name: 'limit',
  in: 'query',
  required: false,
  description: `How many items to return (integer 1..${MAX_LIMIT}).`,
  schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
};

const explainParam = {
  name: 'explain',
  in: 'query',
  required: false,
  description: `Add "because" to every item: the top N (1..${MAX_EXPLAIN}) of the user's rated items behind its score.`,
  schema: { type: 'integer', minimum: 1, maximum: MAX_EXPLAIN },
};

const bearer = [{ bearerAuth: [] }];

/** The answer of a write route while another process holds the database's write lock past the write deadline. */
const busyResponse = {
  description:
    'Another process (an import, a training run) held the database write lock past the write deadline ' +
    '(RIDGEREC_WRITE_DEADLINE_MS); nothing was stored (code busy). Retry after the Retry-After header.',
  headers: { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } } },
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
};

/** What the guard of every write route can answer besides the route's own responses. */
const writeGuardResponses = {
  401: errorResponse('Missing or wrong API key (code unauthorized)'),
  403: errorResponse(
    'Writes are disabled: the server listens on a non-loopback address without RIDGEREC_API_KEY and without --allow-open-writes (code writes_disabled)',
  ),
  429: {
    ...errorResponse('Too many write requests from this client within the rate-limit window (code rate_limited)'),
    headers: { 'Retry-After': { description: 'Seconds until the window resets', schema: { type: 'integer', minimum: 1 } } },
  },
};

const itemPath = { name: 'item', in: 'path', required: true, schema: { type: 'string', maxLength: MAX_ID_LENGTH } };

/** The rules every recommendation route takes in its query (POST /v1/recommendations: in its body). */
const filterParams = [
  { name: 'category', description: 'Comma-separated categories: only items in any of them.' },
  { name: 'excludeCategory', description: 'Comma-separated categories: no item in any of them.' },
  { name: 'include', description: 'Comma-separated item ids: only these (a candidate list), in score order.' },
  { name: 'exclude', description: 'Comma-separated item ids to leave out.' },
  {
    name: 'where',
    description:
      'Metadata conditions, all of which must hold: key:value, key!:value, key<n, key<=n, key>n, key>=n, comma-separated ' +
      '(e.g. brand:acme,price<50). A malformed condition is a 400 naming it.',
  },
  { name: 'maxPerCategory', description: 'No more than this many items sharing a category.', schema: { type: 'integer', minimum: 1 } },
].map((p) => ({ in: 'query', required: false, schema: { type: 'string' }, ...p }));

const filtersField = {
  type: 'object',
  description: 'The rules applied (as given, normalised); activeOnly is always true: inactive items are never returned.',
};

const json = (schema: unknown) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'ridgerec',
      version: VERSION,
      description:
        'Collaborative-filtering recommendations (ALS with L2 penalties). JSON everywhere; errors are ' +
        '{"error":{"code","message","details"}}. When the server has RIDGEREC_API_KEY set, every POST, PUT, PATCH and ' +
        'DELETE route except POST /v1/recommendations needs "Authorization: Bearer <key>".',
    },
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', examples: ['invalid_input'] },
                message: { type: 'string' },
                details: {},
              },
            },
          },
        },
        ScoredItem: {
          type: 'object',
          required: ['item', 'score'],
          properties: {
            item: { type: 'string' },
            score: { type: 'number' },
            title: { type: 'string', description: 'The item title, when the items table has one.' },
            because: {
              type: 'array',
              items: ref('Contribution'),
              description: 'With explain=N: the N rated items contributing most to the score, largest first (empty for popular items).',
            },
          },
        },
        Contribution: {
          type: 'object',
          required: ['item', 'contribution'],
          properties: {
            item: { type: 'string', description: 'A rated item.' },
            title: { type: 'string', description: 'Its title, when the items table has one.' },
            contribution: { type: 'number', description: "This rated item's share of the score." },
          },
        },
        Source: { type: 'string', enum: ['model', 'fold-in', 'popular'] },
        CatalogItem: {
          type: 'object',
          required: ['item', 'title', 'categories', 'metadata', 'active'],
          properties: {
            item: { type: 'string' },
            title: { type: ['string', 'null'] },
            categories: { type: 'array', items: { type: 'string' } },
            metadata: {
              type: 'object',
              description: 'A flat object of string, number or boolean values.',
              additionalProperties: { type: ['string', 'number', 'boolean'] },
            },
            active: { type: 'boolean', description: 'Inactive items are never recommended.' },
          },
        },
        ItemFields: {
          type: 'object',
          additionalProperties: false,
          properties: {
            title: { type: ['string', 'null'], maxLength: MAX_TITLE_LENGTH },
            categories: {
              type: 'array',
              maxItems: MAX_CATEGORIES,
              items: { type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH, pattern: '^[^,]*$' },
            },
            metadata: {
              type: 'object',
              maxProperties: MAX_METADATA_KEYS,
              additionalProperties: { type: ['string', 'number', 'boolean'] },
            },
            active: { type: 'boolean' },
          },
        },
        Rating: {
          type: 'object',
          required: ['user', 'item', 'value'],
          properties: {
            user: { type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH },
            item: { type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH },
            value: {
              type: 'number',
              minimum: LIMITS.minRatingValue,
              maximum: LIMITS.maxRatingValue,
              description: 'A star rating or an implicit count, within the allowed range (src/config.ts LIMITS).',
            },
            timestamp: { type: 'integer', minimum: 0, description: 'Unix seconds of the event (default: now).' },
          },
        },
        ...dashboardSchemas,
      },
    },
    paths: {
      '/health': {
        get: {
          summary: 'Liveness and the id of the model in use',
          responses: {
            200: {
              description: 'Serving',
              content: json({
                type: 'object',
                required: ['status', 'model'],
                properties: { status: { const: 'ok' }, model: { type: ['integer', 'null'] } },
              }),
            },
          },
        },
      },
      '/v1/users/{user}/recommendations': {
        get: {
          summary: "Top-N items for a user (model factors, a fold-in of the user's ratings, or popular items)",
          parameters: [
            { name: 'user', in: 'path', required: true, schema: { type: 'string', maxLength: MAX_ID_LENGTH } },
            limitParam,
            ...filterParams,
            {
              name: 'includeRated',
              in: 'query',
              required: false,
              description: 'Also return items the user already rated.',
              schema: { type: 'boolean', default: false },
            },
            explainParam,
          ],
          responses: {
            200: {
              description: 'Recommendations',
              content: json({
                type: 'object',
                required: ['user', 'model', 'source', 'items', 'filters'],
                properties: {
                  user: { type: 'string' },
                  model: { type: 'integer' },
                  source: ref('Source'),
                  items: { type: 'array', items: ref('ScoredItem') },
                  filters: filtersField,
                },
              }),
            },
            400: errorResponse('Bad limit, includeRated, explain or rule, e.g. a malformed where (code invalid_input)'),
            503: errorResponse('No model is active yet (code no_model)'),
          },
        },
      },
      '/v1/users/{user}/recommendations/{item}/explanation': {
        get: {
          summary:
            "Why an item scores as it does for a user: the score decomposed over the user's rated items " +
            '(Hu, Koren & Volinsky 2008, §5 for implicit models; explicit models add the bias terms apart)',
          parameters: [
            { name: 'user', in: 'path', required: true, schema: { type: 'string', maxLength: MAX_ID_LENGTH } },
            { name: 'item', in: 'path', required: true, schema: { type: 'string', maxLength: MAX_ID_LENGTH } },
            {
              name: 'top',
              in: 'query',
              required: false,
              description: `How many contributions to list (integer 1..${MAX_EXPLAIN}); the others are summed in "rest".`,
              schema: { type: 'integer', minimum: 1, maximum: MAX_EXPLAIN, default: DEFAULT_EXPLAIN_TOP },
            },
          ],
          responses: {
            200: {
              description: 'The explanation: the listed contributions + rest (+ the bias terms of an explicit model) sum to score',
              content: json({
                type: 'object',
                required: ['user', 'item', 'score', 'contributions', 'rest', 'model'],
                properties: {
                  user: { type: 'string' },
                  item: { type: 'string' },
                  title: { type: 'string', description: 'The explained item title, when the items table has one.' },
                  score: {
                    type: 'number',
                    description:
                      "The score of the user's vector solved from these ratings (for a user the model was trained on, close to the recommendation score).",
                  },
                  contributions: { type: 'array', items: ref('Contribution') },
                  rest: { type: 'number', description: 'The sum of the contributions not listed.' },
                  bias: {
                    type: 'object',
                    description: 'Explicit models: the bias terms of the score (global mean, user bias, item bias).',
                    required: ['global', 'user', 'item'],
                    properties: { global: { type: 'number' }, user: { type: 'number' }, item: { type: 'number' } },
                  },
                  model: { type: 'integer' },
                },
              }),
            },
            400: errorResponse('Bad top (code invalid_input)'),
            404: errorResponse('The model does not know the item (code unknown_item), or the user has no ratings (code unknown_user)'),
            503: errorResponse('No model is active yet (code no_model)'),
          },
        },
      },
      '/v1/users/{user}': {
        delete: {
          summary: "Delete a user's ratings and forget any folded-in vector",
          security: bearer,
          parameters: [{ name: 'user', in: 'path', required: true, schema: { type: 'string', maxLength: MAX_ID_LENGTH } }],
          responses: {
            204: { description: 'Deleted (also when the user had no ratings)' },
            400: errorResponse('The id holds a lone UTF-16 surrogate (code invalid_input) or bad percent-encoding (code invalid_path)'),
            503: busyResponse,
            ...writeGuardResponses,
          },
        },
      },
      '/v1/items/{item}/similar': {
        get: {
          summary: 'Items whose factors are closest to this one (cosine similarity in [-1, 1])',
          parameters: [itemPath, limitParam, ...filterParams],
          responses: {
            200: {
              description: 'Similar items',
              content: json({
                type: 'object',
                required: ['item', 'model', 'items', 'filters'],
                properties: {
                  item: { type: 'string' },
                  model: { type: 'integer' },
                  items: { type: 'array', items: ref('ScoredItem') },
                  filters: filtersField,
                },
              }),
            },
            400: errorResponse('Bad limit or rule (code invalid_input)'),
            404: errorResponse('The model does not know this item (code unknown_item)'),
            503: errorResponse('No model is active yet (code no_model)'),
          },
        },
      },
      '/v1/items': {
        get: {
          summary: 'A page of the item catalogue in id order; pass "next" as "after" for the following page',
          parameters: [
            { name: 'category', in: 'query', required: false, description: 'Only items in this category.', schema: { type: 'string' } },
            {
              name: 'active',
              in: 'query',
              required: false,
              description: 'Only active (true) or inactive (false) items.',
              schema: { type: 'boolean' },
            },
            {
              name: 'limit',
              in: 'query',
              required: false,
              description: `Items in the page (integer 1..${MAX_LIMIT}).`,
              schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_ITEM_PAGE },
            },
            {
              name: 'after',
              in: 'query',
              required: false,
              description: 'The "next" cursor of the previous page.',
              schema: { type: 'string' },
            },
          ],
          responses: {
            200: {
              description: 'A page of items',
              content: json({
                type: 'object',
                required: ['items', 'next'],
                properties: { items: { type: 'array', items: ref('CatalogItem') }, next: { type: ['string', 'null'] } },
              }),
            },
            400: errorResponse('Bad category, active, limit or after (code invalid_input)'),
          },
        },
      },
      '/v1/items/{item}': {
        get: {
          summary: 'One item of the catalogue',
          parameters: [itemPath],
          responses: {
            200: { description: 'The stored item', content: json(ref('CatalogItem')) },
            404: errorResponse('The database has never seen this item (code unknown_item)'),
          },
        },
        put: {
          summary: 'Create or replace an item; absent fields take their defaults (no title, no categories, no metadata, active)',
          security: bearer,
          parameters: [itemPath],
          requestBody: { required: true, content: json(ref('ItemFields')) },
          responses: {
            200: { description: 'The stored item; the next recommendation request sees it', content: json(ref('CatalogItem')) },
            400: errorResponse('An invalid field (the message names it; code invalid_input)'),
            503: busyResponse,
            ...writeGuardResponses,
          },
        },
        patch: {
          summary: 'Change some fields of an item (e.g. {"active": false}); absent fields are kept',
          security: bearer,
          parameters: [itemPath],
          requestBody: { required: true, content: json(ref('ItemFields')) },
          responses: {
            200: { description: 'The stored item; the next recommendation request sees it', content: json(ref('CatalogItem')) },
            400: errorResponse('An invalid field (the message names it; code invalid_input)'),
            503: busyResponse,
            ...writeGuardResponses,
          },
        },
      },
      '/v1/recommendations': {
        post: {
          summary: 'Recommendations for an anonymous visitor from an ad-hoc list of ratings (fold-in)',
          requestBody: {
            required: true,
            content: json({
              type: 'object',
              required: ['ratings'],
              properties: {
                ratings: {
                  type: 'array',
                  maxItems: MAX_BATCH,
                  items: {
                    type: 'object',
                    required: ['item', 'value'],
                    properties: {
                      item: { type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH },
                      value: { type: 'number', minimum: LIMITS.minRatingValue, maximum: LIMITS.maxRatingValue },
                    },
                  },
                },
                limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
                exclude: { type: 'array', items: { type: 'string' } },
                category: { type: 'array', items: { type: 'string' } },
                excludeCategory: { type: 'array', items: { type: 'string' } },
                include: { type: 'array', items: { type: 'string' } },
                where: { type: 'string', examples: ['brand:acme,price<50'] },
                maxPerCategory: { type: 'integer', minimum: 1 },
                explain: {
                  type: 'integer',
                  minimum: 1,
                  maximum: MAX_EXPLAIN,
                  description: 'Add "because" to every item: the top N posted items behind its score.',
                },
              },
            }),
          },
          responses: {
            200: {
              description: 'Recommendations (unknown item ids are ignored; none known → popular items)',
              content: json({
                type: 'object',
                required: ['source', 'model', 'items', 'filters'],
                properties: {
                  source: ref('Source'),
                  model: { type: 'integer' },
                  items: { type: 'array', items: ref('ScoredItem') },
                  filters: filtersField,
                },
              }),
            },
            400: errorResponse('Invalid body (codes invalid_input, invalid_json)'),
            413: errorResponse('Body over 1 MB (code payload_too_large)'),
            503: errorResponse('No model is active yet (code no_model)'),
          },
        },
      },
      '/v1/ratings': {
        post: {
          summary: 'Store ratings (one, or up to 10,000 at once, all or nothing); affected users are re-folded at once',
          security: bearer,
          requestBody: {
            required: true,
            content: json({
              oneOf: [
                ref('Rating'),
                {
                  type: 'object',
                  required: ['ratings'],
                  properties: { ratings: { type: 'array', minItems: 1, maxItems: MAX_BATCH, items: ref('Rating') } },
                },
              ],
            }),
          },
          responses: {
            201: {
              description: 'Stored',
              content: json({ type: 'object', required: ['accepted'], properties: { accepted: { type: 'integer' } } }),
            },
            400: errorResponse(
              `An invalid element (the message names its index and field: a value outside ${LIMITS.minRatingValue}..${LIMITS.maxRatingValue}, ` +
                'an id with a lone UTF-16 surrogate, …); nothing was stored (code invalid_input)',
            ),
            ...writeGuardResponses,
            413: errorResponse('Body over 1 MB (code payload_too_large)'),
            503: busyResponse,
          },
        },
      },
      '/v1/model': {
        get: {
          summary: 'The model in use',
          responses: {
            200: {
              description: 'The active model',
              content: json({
                type: 'object',
                required: ['id', 'createdAt', 'feedback', 'params', 'metrics', 'users', 'items'],
                properties: {
                  id: { type: 'integer' },
                  createdAt: { type: 'string' },
                  activatedAt: { type: ['string', 'null'] },
                  feedback: { type: 'string', enum: ['explicit', 'implicit'] },
                  params: { type: 'object' },
                  metrics: { type: 'object' },
                  users: { type: 'integer' },
                  items: { type: 'integer' },
                },
              }),
            },
            503: errorResponse('No model is active yet (code no_model)'),
          },
        },
      },
      '/v1/admin/reload': {
        post: {
          summary: 'Reload the active model now (the server also polls for a new one, every 2 s by default)',
          security: bearer,
          responses: {
            200: {
              description: 'Reloaded',
              content: json({ type: 'object', required: ['model'], properties: { model: { type: 'integer' } } }),
            },
            ...writeGuardResponses,
            500: errorResponse("The active model's stored file fails its checksum (code model_corrupt); the previous model keeps serving"),
            503: errorResponse('No model is active (code no_model)'),
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics: requests by route and status, latency histograms, active model id and age',
          responses: {
            200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } },
          },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This document',
          responses: { 200: { description: 'OpenAPI 3.1 document', content: json({ type: 'object' }) } },
        },
      },
      ...dashboardPaths(),
    },
  };
}
