import { describe, expect, it } from 'vitest';
import { exitCode } from '../../src/cli/common.js';
import { openDatabase } from '../../src/db/connection.js';
import { RidgerecError } from '../../src/errors.js';
import { latestTuningResult, requireTuningResult, saveTuningResult, type NewTuningRecord } from '../../src/model/tuning-store.js';
import { resolveParams } from '../../src/training/params.js';

function record(over: Partial<NewTuningRecord> = {}): NewTuningRecord {
  return {
    feedback: 'explicit',
    metric: 'rmse',
    higherIsBetter: false,
    bestValue: 0.91,
    bestParams: resolveParams({ feedback: 'explicit', lambda: 0.07, factors: 32, threads: 1 }),
    grid: { lambda: [0.03, 0.07], factors: [32] },
    source: 'files u%d.base/u%d.test, 5 folds',
    results: [{ params: { lambda: 0.03 }, metric: 0.92 }],
    ...over,
  };
}

describe('tuning store (migration 0003)', () => {
  it('round-trips a result and returns the newest per feedback', () => {
    const db = openDatabase(':memory:');
    expect(latestTuningResult(db)).toBeNull();
    const a = saveTuningResult(db, record());
    const b = saveTuningResult(
      db,
      record({
        feedback: 'implicit',
        metric: 'ndcg@10',
        higherIsBetter: true,
        bestValue: 0.31,
        bestParams: resolveParams({ feedback: 'implicit', alpha: 0, threads: 1 }),
      }),
    );
    const c = saveTuningResult(
      db,
      record({ bestValue: 0.905, bestParams: resolveParams({ feedback: 'explicit', lambda: 0.05, threads: 1 }) }),
    );
    expect([a, b, c]).toEqual([1, 2, 3]);
    const latest = latestTuningResult(db)!;
    expect(latest.id).toBe(c);
    expect(latest.bestValue).toBe(0.905);
    expect(latest.bestParams.lambda).toBe(0.05);
    expect(latest.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    const imp = latestTuningResult(db, 'implicit')!;
    expect(imp.id).toBe(b);
    expect(imp.higherIsBetter).toBe(true);
    expect(imp.bestParams).toEqual(resolveParams({ feedback: 'implicit', alpha: 0, threads: 1 }));
    expect(latestTuningResult(db, 'explicit')!.grid).toEqual({ lambda: [0.03, 0.07], factors: [32] });
    expect(latestTuningResult(db, 'explicit')!.results).toEqual([{ params: { lambda: 0.03 }, metric: 0.92 }]);
    db.close();
  });

  it('requireTuningResult explains how to get one when none exists', () => {
    const db = openDatabase(':memory:');
    saveTuningResult(db, record());
    expect(requireTuningResult(db, 'explicit').id).toBe(1);
    let err: unknown;
    try {
      requireTuningResult(db, 'implicit');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RidgerecError);
    expect(exitCode(err as RidgerecError)).toBe(2);
    expect((err as RidgerecError).message).toMatch(/no tuning result for implicit feedback.*ridgerec tune/);
    db.close();
  });

  it('the schema refuses malformed rows', () => {
    const db = openDatabase(':memory:');
    expect(() =>
      db
        .prepare(
          "INSERT INTO tuning_results (feedback, metric, higher_is_better, best_value, best_params, grid, source, results) VALUES ('both','rmse',0,1,'{}','{}','s','[]')",
        )
        .run(),
    ).toThrow(/CHECK/);
    expect(() =>
      db
        .prepare(
          "INSERT INTO tuning_results (feedback, metric, higher_is_better, best_value, best_params, grid, source, results) VALUES ('explicit','rmse',0,1,'{oops','{}','s','[]')",
        )
        .run(),
    ).toThrow(/CHECK/);
    db.close();
  });
});
