/**
 * Request validation for the HTTP API: zod schemas for the JSON bodies and small parsers for the
 * query strings. Everything that fails here becomes a RidgerecError `invalid_input` (400) whose
 * message names the field (and the index inside a batch), e.g. "ratings[3].value: must be a finite
 * number", and whose details list every problem found. Nothing is stored when validation fails:
 * the handlers validate the whole request before calling the recommender.
 */
import { z } from 'zod';
import { LIMITS } from '../config.js';
import { invalidInput, type RidgerecError } from '../errors.js';
import { parseWhere, splitList, type ItemFilters } from '../model/rules.js';
import { checkItemPatch, type ItemPatch, type ItemQuery } from '../ratings/catalogue.js';
import { idProblem, nfcId } from '../ratings/ids.js';
import { MAX_EXPLAIN } from '../serving/explanations.js';

export const MAX_ID_LENGTH = 256;
export const MAX_LIMIT = LIMITS.maxLimit;
export const DEFAULT_LIMIT = LIMITS.defaultLimit;
/** At most this many ratings in one POST /v1/ratings (and in one anonymous fold-in). */
export const MAX_BATCH = 10_000;
/** At most this many ids in an exclude list. */
export const MAX_EXCLUDE = 10_000;
/** GET /v1/items: items in a page when `limit` is not given. */
export const DEFAULT_ITEM_PAGE = 100;
/** Item fields: a title's length, categories per item, metadata keys per item. */
export const MAX_TITLE_LENGTH = 1000;
export const MAX_CATEGORIES = 100;
export const MAX_METADATA_KEYS = 100;

export interface Issue {
  /** Where the problem is, e.g. "ratings[3].value" or "limit". */
  readonly path: string;
  readonly message: string;
}

/** ["ratings", 3, "value"] → "ratings[3].value". */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? 'body' : out;
}

/** One 400 for a list of issues: the message names the first one, details list them all. */
export function issuesError(issues: readonly Issue[]): RidgerecError {
  const first = issues[0] ?? { path: 'body', message: 'is invalid' };
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  return invalidInput(`${first.path}: ${first.message}${more}`, { issues });
}

/** Converts a ZodError into our 400, paths formatted as "ratings[3].value". */
export function zodError(error: z.ZodError): RidgerecError {
  // Keep the details bounded: a 10,000-element batch with every element wrong is still one answer.
  const issues = error.issues.slice(0, 100).map((i) => ({ path: formatPath(i.path), message: i.message }));
  const err = issuesError(issues);
  if (error.issues.length > issues.length) {
    (err.details as { truncated?: number }).truncated = error.issues.length - issues.length;
  }
  return err;
}

/** "is required" for a missing field, else the type message. */
const required = (message: string) => (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : message);

/** A user or item id: 1..MAX_ID_LENGTH characters of valid UTF-16, returned in NFC (src/ratings/ids.ts). */
const id = () =>
  z
    .string({ error: required('must be a string') })
    .min(1, { error: 'must be a non-empty string' })
    .max(MAX_ID_LENGTH, { error: `must be at most ${MAX_ID_LENGTH} characters` })
    .refine((s) => idProblem(s) === null, { error: 'must be valid UTF-16 (it holds a lone surrogate)' })
    .transform((s) => nfcId(s)!);

// z.number() in zod 4 rejects NaN and ±Infinity (JSON.parse turns 1e400 into Infinity).
const finite = z.number({ error: required('must be a finite number') }).refine(Number.isFinite, { error: 'must be a finite number' });

const { minRatingValue, maxRatingValue } = LIMITS;
/** A rating value: finite and within LIMITS.minRatingValue..maxRatingValue. */
const ratingValue = finite.refine((v) => v >= minRatingValue && v <= maxRatingValue, {
  error: (issue) => `must be a number in ${minRatingValue}..${maxRatingValue}, got ${String(issue.input)}`,
});

const limitField = z
  .number({ error: `must be an integer in 1..${MAX_LIMIT}` })
  .int({ error: `must be an integer in 1..${MAX_LIMIT}` })
  .min(1, { error: `must be an integer in 1..${MAX_LIMIT}` })
  .max(MAX_LIMIT, { error: `must be an integer in 1..${MAX_LIMIT}` });

/** `explain` (and the explanation route's `top`): how many rated items to list, 1..MAX_EXPLAIN. */
const explainField = z
  .number({ error: `must be an integer in 1..${MAX_EXPLAIN}` })
  .int({ error: `must be an integer in 1..${MAX_EXPLAIN}` })
  .min(1, { error: `must be an integer in 1..${MAX_EXPLAIN}` })
  .max(MAX_EXPLAIN, { error: `must be an integer in 1..${MAX_EXPLAIN}` });

const excludeField = z
  .array(id(), { error: 'must be an array of item ids' })
  .max(MAX_EXCLUDE, { error: `must hold at most ${MAX_EXCLUDE} item ids` });

export const ratingSchema = z.object(
  {
    user: id(),
    item: id(),
    value: ratingValue,
    /** Optional unix seconds of the event (default: now), e.g. when replaying history. */
    timestamp: z
      .number({ error: 'must be an integer (unix seconds)' })
      .int({ error: 'must be an integer (unix seconds)' })
      .min(0, { error: 'must be an integer (unix seconds) >= 0' })
      .max(Number.MAX_SAFE_INTEGER, { error: 'must be an integer (unix seconds)' })
      .optional(),
  },
  { error: 'must be an object {"user","item","value"}' },
);

export const ratingsBatchSchema = z.object({
  ratings: z
    .array(ratingSchema, { error: required('must be an array of {"user","item","value"}') })
    .min(1, { error: 'must hold at least one rating' })
    .max(MAX_BATCH, { error: `must hold at most ${MAX_BATCH} ratings per request; split the batch` }),
});

export const anonymousSchema = z.object({
  ratings: z
    .array(z.object({ item: id(), value: ratingValue }, { error: 'must be an object {"item","value"}' }), {
      error: required('must be an array of {"item","value"}'),
    })
    .max(MAX_BATCH, { error: `must hold at most ${MAX_BATCH} ratings` }),
  limit: limitField.optional(),
  exclude: excludeField.optional(),
  category: z.array(id(), { error: 'must be an array of categories' }).max(MAX_EXCLUDE).optional(),
  excludeCategory: z.array(id(), { error: 'must be an array of categories' }).max(MAX_EXCLUDE).optional(),
  include: excludeField.optional(),
  where: z.string({ error: 'must be a string such as "brand:acme,price<50"' }).max(4096).optional(),
  maxPerCategory: z
    .number({ error: 'must be an integer >= 1' })
    .int({ error: 'must be an integer >= 1' })
    .min(1, { error: 'must be an integer >= 1' })
    .optional(),
  explain: explainField.optional(),
});

export interface RatingBody {
  readonly user: string;
  readonly item: string;
  readonly value: number;
  readonly timestamp?: number | undefined;
}

function requireObject(body: unknown): Record<string, unknown> {
  if (body === undefined) {
    throw invalidInput('the request needs a JSON body (Content-Type: application/json)', {
      issues: [{ path: 'body', message: 'is missing' }],
    });
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidInput('the request body must be a JSON object', { issues: [{ path: 'body', message: 'must be a JSON object' }] });
  }
  return body as Record<string, unknown>;
}

/** POST /v1/ratings: one {"user","item","value"} or {"ratings":[…]}; returns the list. */
export function parseRatingsBody(body: unknown): RatingBody[] {
  const obj = requireObject(body);
  if ('ratings' in obj) {
    const r = ratingsBatchSchema.safeParse(obj);
    if (!r.success) throw zodError(r.error);
    return r.data.ratings;
  }
  const r = ratingSchema.safeParse(obj);
  if (!r.success) throw zodError(r.error);
  return [r.data];
}

export interface AnonymousBody extends ItemFilters {
  readonly ratings: { item: string; value: number }[];
  readonly limit: number;
  readonly exclude: string[];
  /** Present when the body asks for `because` lists. */
  readonly explain?: number;
}

/** POST /v1/recommendations. */
export function parseAnonymousBody(body: unknown): AnonymousBody {
  const r = anonymousSchema.safeParse(requireObject(body));
  if (!r.success) throw zodError(r.error);
  const { ratings, limit, exclude, where, explain, ...rules } = r.data;
  return {
    ...rules,
    ratings,
    limit: limit ?? DEFAULT_LIMIT,
    exclude: exclude ?? [],
    ...(explain === undefined ? {} : { explain }),
    ...(where === undefined ? {} : { where: parseWhere(where) }),
  };
}

type QueryValue = string | readonly unknown[] | Record<string, unknown> | undefined;

function single(name: string, raw: QueryValue): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw issuesError([{ path: name, message: 'must be given once, as a plain value' }]);
  return raw;
}

/** ?limit=: an integer in 1..MAX_LIMIT, default DEFAULT_LIMIT. */
export function parseLimit(raw: QueryValue, fallback: number = DEFAULT_LIMIT): number {
  const s = single('limit', raw);
  if (s === undefined) return fallback;
  const v = Number(s);
  if (!/^\d{1,7}$/.test(s) || v < 1 || v > MAX_LIMIT) {
    throw issuesError([{ path: 'limit', message: `must be an integer in 1..${MAX_LIMIT}, got "${s.slice(0, 40)}"` }]);
  }
  return v;
}

/** ?top= / ?explain=: an integer in 1..MAX_EXPLAIN, undefined when absent. */
export function parseExplainCount(name: 'top' | 'explain', raw: QueryValue): number | undefined {
  const s = single(name, raw);
  if (s === undefined) return undefined;
  const v = Number(s);
  if (!/^\d{1,7}$/.test(s) || v < 1 || v > MAX_EXPLAIN) {
    throw issuesError([{ path: name, message: `must be an integer in 1..${MAX_EXPLAIN}, got "${s.slice(0, 40)}"` }]);
  }
  return v;
}

/**
 * A comma-separated list of non-empty values (empty segments ignored), or undefined when absent;
 * at most MAX_EXCLUDE of them (`what` names them in the message), each at most MAX_ID_LENGTH long.
 */
function parseList(name: string, raw: QueryValue, what: string): string[] | undefined {
  const s = single(name, raw);
  if (s === undefined) return undefined;
  const ids = splitList(s);
  if (ids.length > MAX_EXCLUDE) throw issuesError([{ path: name, message: `must hold at most ${MAX_EXCLUDE} ${what}` }]);
  const long = ids.findIndex((x) => x.length > MAX_ID_LENGTH);
  if (long >= 0) throw issuesError([{ path: `${name}[${long}]`, message: `must be at most ${MAX_ID_LENGTH} characters` }]);
  const out = ids.map(nfcId);
  const bad = out.indexOf(null);
  if (bad >= 0) throw issuesError([{ path: `${name}[${bad}]`, message: 'must be valid UTF-16 (it holds a lone surrogate)' }]);
  return out as string[];
}

/**
 * The rules of a recommendation route's query: category=a,b, excludeCategory=c, include=id1,id2,
 * exclude=…, where=brand:acme,price<50, maxPerCategory=N. The where grammar is checked here, so a
 * bad expression is a 400 naming the condition.
 */
export function parseFilters(query: Record<string, QueryValue>): ItemFilters {
  const out: { -readonly [K in keyof ItemFilters]: ItemFilters[K] } = {};
  const category = parseList('category', query.category, 'categories');
  if (category !== undefined) out.category = category;
  const excludeCategory = parseList('excludeCategory', query.excludeCategory, 'categories');
  if (excludeCategory !== undefined) out.excludeCategory = excludeCategory;
  const include = parseList('include', query.include, 'item ids');
  if (include !== undefined) out.include = include;
  const exclude = parseList('exclude', query.exclude, 'item ids');
  if (exclude !== undefined) out.exclude = exclude;
  const where = single('where', query.where);
  if (where !== undefined) out.where = parseWhere(where);
  const cap = single('maxPerCategory', query.maxPerCategory);
  if (cap !== undefined) {
    if (!/^\d{1,7}$/.test(cap) || Number(cap) < 1) {
      throw issuesError([{ path: 'maxPerCategory', message: `must be an integer >= 1, got "${cap.slice(0, 40)}"` }]);
    }
    out.maxPerCategory = Number(cap);
  }
  return out;
}

/** ?includeRated=true|false, default false. */
export function parseBool(name: string, raw: QueryValue, fallback = false): boolean {
  const s = single(name, raw);
  if (s === undefined) return fallback;
  if (s === 'true') return true;
  if (s === 'false') return false;
  throw issuesError([{ path: name, message: `must be true or false, got "${s.slice(0, 40)}"` }]);
}

/** A :user or :item path segment: at most MAX_ID_LENGTH characters (non-empty by routing), valid UTF-16, returned in NFC. */
export function parseIdParam(name: string, raw: unknown): string {
  if (typeof raw !== 'string' || raw === '') throw issuesError([{ path: name, message: 'must be a non-empty string' }]);
  if (raw.length > MAX_ID_LENGTH) throw issuesError([{ path: name, message: `must be at most ${MAX_ID_LENGTH} characters` }]);
  const nfc = nfcId(raw);
  if (nfc === null) throw issuesError([{ path: name, message: 'must be valid UTF-16 (it holds a lone surrogate)' }]);
  return nfc;
}

const ITEM_FIELDS = ['title', 'categories', 'metadata', 'active'];

const categoryName = z
  .string({ error: 'must be a string' })
  .min(1, { error: 'must be a non-empty string' })
  .max(MAX_ID_LENGTH, { error: `must be at most ${MAX_ID_LENGTH} characters` })
  .refine((c) => !c.includes(','), { error: 'must not contain a comma (category lists are comma-separated in queries)' });

const metadataValue = z.union([z.string(), z.number().refine(Number.isFinite), z.boolean()], {
  error: 'must be a string, a finite number or a boolean',
});

/** PUT and PATCH /v1/items/:item: every field optional (PUT resets an absent one, PATCH keeps it). */
export const itemBodySchema = z.object({
  title: z
    .string({ error: 'must be a string or null' })
    .max(MAX_TITLE_LENGTH, { error: `must be at most ${MAX_TITLE_LENGTH} characters` })
    .nullable()
    .optional(),
  categories: z
    .array(categoryName, { error: 'must be an array of category names' })
    .max(MAX_CATEGORIES, { error: `must hold at most ${MAX_CATEGORIES} categories` })
    .optional(),
  metadata: z
    .record(z.string(), metadataValue, { error: 'must be a flat JSON object of string, number or boolean values' })
    .refine((m) => Object.keys(m).length <= MAX_METADATA_KEYS, { error: `must hold at most ${MAX_METADATA_KEYS} keys` })
    .optional(),
  active: z.boolean({ error: 'must be true or false' }).optional(),
});

/** The body of PUT or PATCH /v1/items/:item as the fields it gives; an unknown field is a 400 naming it. */
export function parseItemBody(body: unknown): ItemPatch {
  const obj = requireObject(body);
  const unknown = Object.keys(obj).filter((k) => !ITEM_FIELDS.includes(k));
  if (unknown.length > 0) {
    throw issuesError(unknown.map((k) => ({ path: k, message: `is not an item field (${ITEM_FIELDS.join(', ')})` })));
  }
  const r = itemBodySchema.safeParse(obj);
  if (!r.success) throw zodError(r.error);
  return checkItemPatch(obj);
}

/** GET /v1/items?category=&active=&limit=&after=. */
export function parseItemQuery(query: Record<string, QueryValue>): ItemQuery {
  const out: { -readonly [K in keyof ItemQuery]: ItemQuery[K] } = { limit: parseLimit(query.limit, DEFAULT_ITEM_PAGE) };
  const category = single('category', query.category);
  if (category !== undefined) {
    if (category === '' || category.length > MAX_ID_LENGTH) {
      throw issuesError([{ path: 'category', message: `must be one category name of 1..${MAX_ID_LENGTH} characters` }]);
    }
    out.category = category;
  }
  if (query.active !== undefined) out.active = parseBool('active', query.active);
  const after = single('after', query.after);
  if (after !== undefined) {
    if (after === '' || after.length > MAX_ID_LENGTH) {
      throw issuesError([{ path: 'after', message: `must be the "next" cursor of the previous page (an item id)` }]);
    }
    out.after = after;
  }
  return out;
}
