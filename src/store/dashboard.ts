/**
 * What the dashboard (src/http/routes/dashboard.ts, served at /) reads from SQLite beyond what the
 * serving core keeps in memory: a summary of the ratings, catalogue search with rating counts,
 * user look-up, the model registry (with each model's per-iteration loss, read from the model
 * file's JSON header only) and the newest tuning result.
 *
 * Aggregates over every rating (counts, the value distribution, ratings per item) are full scans
 * of the ratings table: each is cached for SUMMARY_TTL_MS, so a dashboard refreshing every few
 * seconds costs one scan per half minute at most (≈ 10 ms per 100k ratings).
 */
import type { Db } from '../db/connection.js';
import { invalidInput, notFound, RidgerecError } from '../errors.js';
import { MAGIC, type ModelFileHeader } from '../model/model-file.js';
import { activateModel, activeModelId, listModels, rollbackModel, type ModelRecord } from '../model/registry.js';
import { latestTuningResult, type TuningRecord } from '../model/tuning-store.js';
import { ITEM_COLUMNS, itemOf, type CatalogItem, type ItemRow } from '../ratings/catalogue.js';
import type { Feedback, IterationStats } from '../training/params.js';

/** How long the whole-table aggregates are reused. */
export const SUMMARY_TTL_MS = 30_000;
/** Up to this many distinct values the distribution lists each value; above, it is binned. */
export const MAX_DISTINCT_VALUES = 20;
/** Number of equal-width bins of a binned distribution. */
export const DISTRIBUTION_BINS = 10;

export interface RatingSummary {
  readonly users: number;
  readonly items: number;
  readonly ratings: number;
  readonly minValue: number | null;
  readonly maxValue: number | null;
  readonly meanValue: number | null;
  /** [from, to] ranges (from === to: one exact value) with their rating counts, ascending. */
  readonly distribution: readonly { readonly from: number; readonly to: number; readonly count: number }[];
}

export interface ItemSearch {
  /** Case-insensitive substring of the id, the title or a category; '' matches everything. */
  readonly q: string;
  /** Exactly this category. */
  readonly category?: string | undefined;
  readonly active?: boolean | undefined;
  readonly limit: number;
  readonly offset: number;
}

export interface FoundItem extends CatalogItem {
  /** Stored ratings of the item. */
  readonly ratings: number;
}

/** A background tuning run's progress, as the dashboard shows it. */
export interface TuneProgress {
  readonly state: 'running' | 'done' | 'failed';
  readonly done: number;
  readonly total: number;
  readonly grid: string;
  readonly startedAt: string;
  readonly error: string | null;
}

export interface DashboardStore {
  ratingSummary(): RatingSummary;
  searchItems(q: ItemSearch): { items: FoundItem[]; total: number };
  searchUsers(q: string, limit: number): { user: string; ratings: number }[];
  categories(): { category: string; items: number; active: number }[];
  models(): ModelRecord[];
  activeModelId(): number | null;
  activate(id: number): void;
  rollback(): number;
  /** The model's loss per ALS iteration, from its file's header ([] for imported models). */
  modelHistory(id: number): readonly IterationStats[];
  latestTuning(feedback?: Feedback): TuningRecord | null;
  /** The background tuning run started with the server (npm start on the demo shop), or null. */
  tuneProgress(): TuneProgress | null;
}

/** SQL LIKE pattern for a substring, with %, _ and the escape character escaped. */
function likePattern(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function cached<T>(compute: () => T, ttlMs: number): () => T {
  let at = -Infinity;
  let value: T;
  return () => {
    const now = Date.now();
    if (now - at > ttlMs) {
      value = compute();
      at = now;
    }
    return value;
  };
}

/** The dashboard's reads over an open, migrated connection. */
export function dashboardStore(db: Db, options: { tuneProgress?: () => TuneProgress | null } = {}): DashboardStore {
  const summary = cached((): RatingSummary => {
    const [users, items, ratings, minValue, maxValue, meanValue] = db
      .prepare<[], [number, number, number, number | null, number | null, number | null]>(
        `SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM items), count(*), min(value), max(value), avg(value) FROM ratings`,
      )
      .raw(true)
      .get()!;
    let distribution: { from: number; to: number; count: number }[] = [];
    if (ratings > 0 && minValue !== null && maxValue !== null) {
      const exact = db
        .prepare<[number], [number, number]>('SELECT value, count(*) FROM ratings GROUP BY value ORDER BY value LIMIT ?')
        .raw(true)
        .all(MAX_DISTINCT_VALUES + 1);
      if (exact.length <= MAX_DISTINCT_VALUES) {
        distribution = exact.map(([v, count]) => ({ from: v, to: v, count }));
      } else {
        // bin b = min(⌊(v − min) / width⌋, BINS − 1), width = (max − min) / BINS
        const width = (maxValue - minValue) / DISTRIBUTION_BINS;
        const rows = db
          .prepare<[number, number, number], [number, number]>(
            'SELECT min(CAST((value - ?) / ? AS INTEGER), ?) AS b, count(*) FROM ratings GROUP BY b ORDER BY b',
          )
          .raw(true)
          .all(minValue, width, DISTRIBUTION_BINS - 1);
        distribution = rows.map(([b, count]) => ({ from: minValue + b * width, to: minValue + (b + 1) * width, count }));
      }
    }
    return { users, items, ratings, minValue, maxValue, meanValue, distribution };
  }, SUMMARY_TTL_MS);

  const itemCounts = cached((): Map<string, number> => {
    const rows = db
      .prepare<[], [string, number]>(
        'SELECT i.external_id, c.n FROM (SELECT item_id, count(*) AS n FROM ratings GROUP BY item_id) c JOIN items i ON i.id = c.item_id',
      )
      .raw(true)
      .all();
    return new Map(rows);
  }, SUMMARY_TTL_MS);

  /** Header histories by model id: a model file never changes once stored. */
  const histories = new Map<number, readonly IterationStats[]>();

  return {
    ratingSummary: summary,

    searchItems(q) {
      const where: string[] = [];
      const args: Record<string, unknown> = {};
      if (q.q !== '') {
        where.push(
          `(lower(external_id) LIKE @q ESCAPE '\\' OR lower(coalesce(title, '')) LIKE @q ESCAPE '\\' OR lower(categories) LIKE @q ESCAPE '\\')`,
        );
        args.q = likePattern(q.q);
      }
      if (q.category !== undefined) {
        where.push('EXISTS (SELECT 1 FROM json_each(items.categories) c WHERE c.value = @category)');
        args.category = q.category;
      }
      if (q.active !== undefined) {
        where.push('active = @active');
        args.active = q.active ? 1 : 0;
      }
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const total = (db.prepare(`SELECT count(*) AS n FROM items ${clause}`).get(args) as { n: number }).n;
      const rows = db
        .prepare(`SELECT ${ITEM_COLUMNS} FROM items ${clause} ORDER BY external_id LIMIT @limit OFFSET @offset`)
        .all({ ...args, limit: q.limit, offset: q.offset }) as ItemRow[];
      const counts = itemCounts();
      return {
        total,
        items: rows.map((r) => ({ ...itemOf(r), ratings: counts.get(r.external_id) ?? 0 })),
      };
    },

    searchUsers(q, limit) {
      // Users by id substring, the most active first (a user's ratings are contiguous in the primary key).
      return db
        .prepare<[string, number], { user: string; ratings: number }>(
          `SELECT u.external_id AS user, (SELECT count(*) FROM ratings r WHERE r.user_id = u.id) AS ratings
             FROM users u WHERE lower(u.external_id) LIKE ? ESCAPE '\\'
            ORDER BY length(u.external_id), u.external_id LIMIT ?`,
        )
        .all(likePattern(q), limit);
    },

    categories() {
      return db
        .prepare<[], { category: string; items: number; active: number }>(
          `SELECT c.value AS category, count(*) AS items, sum(items.active) AS active
             FROM items, json_each(items.categories) c GROUP BY c.value ORDER BY c.value`,
        )
        .all();
    },

    models: () => listModels(db),
    activeModelId: () => activeModelId(db),
    activate: (id) => activateModel(db, id),
    rollback: () => rollbackModel(db),

    modelHistory(id) {
      const known = histories.get(id);
      if (known) return known;
      if (!Number.isSafeInteger(id) || id < 1) throw invalidInput(`model id must be a positive integer, got ${id}`);
      // The 16-byte prefix says how long the JSON header is; read just that much of the blob.
      const prefix = db.prepare('SELECT substr(bytes, 1, 16) AS b FROM model_files WHERE model_id = ?').get(id) as
        { b: Buffer } | undefined;
      if (!prefix) throw notFound(`model ${id} does not exist; GET /v1/models lists the saved models`, 'model_not_found', { id });
      const h = prefix.b.length >= 16 ? prefix.b.readUInt32LE(12) : 0;
      const head = (db.prepare('SELECT substr(bytes, 1, ?) AS b FROM model_files WHERE model_id = ?').get(16 + h, id) as { b: Buffer }).b;
      if (head.length < 16 + h || head.toString('latin1', 0, 8) !== MAGIC) {
        throw new RidgerecError(`stored model ${id} is not a readable model file`, { code: 'model_corrupt' });
      }
      const header = JSON.parse(head.toString('utf8', 16, 16 + h)) as Partial<ModelFileHeader>;
      const history = Array.isArray(header.history) ? header.history : [];
      histories.set(id, history);
      return history;
    },

    latestTuning: (feedback) => latestTuningResult(db, feedback),
    tuneProgress: () => options.tuneProgress?.() ?? null,
  };
}
