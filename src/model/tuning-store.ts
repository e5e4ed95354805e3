import type { Db } from '../db/connection.js';
import { notFound } from '../errors.js';
import type { Feedback, TrainParams } from '../training/params.js';

/**
 * The best hyperparameters a `ridgerec tune` run found, as stored by migration 0003. Append-only:
 * the newest row for a feedback kind is the one `train --tuned` and `retrain --tune` use.
 */
export interface TuningRecord {
  readonly id: number;
  readonly createdAt: string;
  readonly feedback: Feedback;
  /** 'rmse', 'ndcg@10', … */
  readonly metric: string;
  readonly higherIsBetter: boolean;
  /** the best point's mean validation metric over the folds */
  readonly bestValue: number;
  readonly bestParams: TrainParams;
  /** the grid as given, flag names → values */
  readonly grid: Readonly<Record<string, readonly (number | string)[]>>;
  /** where the folds came from */
  readonly source: string;
  /** every grid point's summary (the `results` array of `tune --json`) */
  readonly results: readonly unknown[];
}

export type NewTuningRecord = Omit<TuningRecord, 'id' | 'createdAt'>;

interface Row {
  id: number;
  created_at: string;
  feedback: Feedback;
  metric: string;
  higher_is_better: number;
  best_value: number;
  best_params: string;
  grid: string;
  source: string;
  results: string;
}

function fromRow(r: Row): TuningRecord {
  return {
    id: r.id,
    createdAt: r.created_at,
    feedback: r.feedback,
    metric: r.metric,
    higherIsBetter: r.higher_is_better === 1,
    bestValue: r.best_value,
    bestParams: JSON.parse(r.best_params) as TrainParams,
    grid: JSON.parse(r.grid) as Record<string, (number | string)[]>,
    source: r.source,
    results: JSON.parse(r.results) as unknown[],
  };
}

/** Stores a tuning result (one INSERT, atomic by itself); returns its id. */
export function saveTuningResult(db: Db, rec: NewTuningRecord): number {
  const info = db
    .prepare(
      `INSERT INTO tuning_results (feedback, metric, higher_is_better, best_value, best_params, grid, source, results)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      rec.feedback,
      rec.metric,
      rec.higherIsBetter ? 1 : 0,
      rec.bestValue,
      JSON.stringify(rec.bestParams),
      JSON.stringify(rec.grid),
      rec.source,
      JSON.stringify(rec.results),
    );
  return Number(info.lastInsertRowid);
}

/** The newest tuning result (for `feedback` when given), or null when there is none. */
export function latestTuningResult(db: Db, feedback?: Feedback): TuningRecord | null {
  const row = (
    feedback === undefined
      ? db.prepare('SELECT * FROM tuning_results ORDER BY id DESC LIMIT 1').get()
      : db.prepare('SELECT * FROM tuning_results WHERE feedback = ? ORDER BY id DESC LIMIT 1').get(feedback)
  ) as Row | undefined;
  return row ? fromRow(row) : null;
}

/**
 * The newest tuning result, or a clear error saying how to get one: `train --tuned` and
 * `retrain --tune` fail with exit 2 when nothing was tuned yet.
 */
export function requireTuningResult(db: Db, feedback?: Feedback): TuningRecord {
  const rec = latestTuningResult(db, feedback);
  if (!rec) {
    throw notFound(
      `no tuning result${feedback ? ` for ${feedback} feedback` : ''} is stored in this database; ` +
        'run `ridgerec tune --db … --grid "lambda=…"` first (or drop --tuned/--tune)',
      'no_tuning_result',
    );
  }
  return rec;
}
