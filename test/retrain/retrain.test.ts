import { join } from 'node:path';
import { storeFromDb } from '../../src/store/store.js';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/db/connection.js';
import { RidgerecError } from '../../src/errors.js';
import { activeModelId, getModel, listModels, loadActiveModel, loadModel } from '../../src/model/registry.js';
import { fit } from '../../src/model/fit.js';
import { loadMatrix } from '../../src/ratings/store.js';
import { saveTuningResult } from '../../src/model/tuning-store.js';
import { retrain } from '../../src/retrain/retrain.js';
import { createRecommender } from '../../src/serving/recommender.js';
import { resolveParams } from '../../src/training/params.js';
import { tempDir } from '../helpers/temp.js';
import { activeModel, BAD, blockImplicit, GOOD, lowRankRatings, seed } from './fixture.js';

const open: Db[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const db of open.splice(0)) db.close();
  for (const c of cleanups.splice(0)) c();
});

function fileDb(): { db: Db; path: string } {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const path = join(t.dir, 'r.db');
  const db = openDatabase(path);
  open.push(db);
  return { db, path };
}

describe('retrain quality gate (explicit: rmse, lower is better)', () => {
  it('activates a better candidate, refitted on all ratings, and the old model goes back to ready', async () => {
    const { db } = fileDb();
    seed(db, lowRankRatings(1));
    const old = await activeModel(db, { feedback: 'explicit', ...BAD });
    const lines: string[] = [];
    const r = await retrain(db, { overrides: { ...GOOD }, onProgress: (l) => lines.push(l) });
    expect(r.activated).toBe(true);
    expect(r.active).toBe(old);
    expect(r.candidate).not.toBe(old);
    expect(activeModelId(db)).toBe(r.candidate);
    expect(r.metrics.candidate.rmse!).toBeLessThan(r.metrics.active!.rmse!);
    expect(r.reason).toMatch(/not worse by more than 0\.005/);
    // Refit on ALL ratings: the active model knows every user and item of the database.
    const m = loadActiveModel(db)!.model;
    expect(m.nUsers).toBe(80);
    expect(m.params.lambda).toBe(GOOD.lambda);
    const s = getModel(db, r.candidate);
    expect(s.metrics).toMatchObject({ rmse: r.metrics.candidate.rmse, holdout: 0.1, seed: 0, gate: 'rmse', comparedWith: old });
    expect(String(s.metrics.split)).toMatch(/per-user holdout 0\.1 seed 0: \d+ train \/ \d+ test ratings/);
    expect(getModel(db, old).status).toBe('ready');
    expect(lines.some((l) => /candidate iteration 1\/8/.test(l))).toBe(true);
    expect(lines.some((l) => /active iteration 1\/8/.test(l))).toBe(true);
  });

  it('keeps the active model when the candidate is worse, saving the candidate as retired with the reason', async () => {
    const { db } = fileDb();
    seed(db, lowRankRatings(2));
    const old = await activeModel(db, { feedback: 'explicit', ...GOOD });
    const before = listModels(db).length;
    const r = await retrain(db, { overrides: { ...BAD } });
    expect(r.activated).toBe(false);
    expect(r.active).toBe(old);
    expect(activeModelId(db)).toBe(old);
    expect(r.metrics.candidate.rmse!).toBeGreaterThan(r.metrics.active!.rmse! + 0.005);
    const s = getModel(db, r.candidate);
    expect(s.status).toBe('retired');
    expect(s.reason).toMatch(/worse than active model \d+'s .* by .* > --max-regression 0\.005/);
    expect(s.reason).toBe(r.reason);
    expect(s.metrics.rmse).toBe(r.metrics.candidate.rmse);
    expect(s.params.lambda).toBe(1000);
    expect(listModels(db)).toHaveLength(before + 1);
  });

  it('--max-regression is an absolute tolerance in the metric direction', async () => {
    const { db } = fileDb();
    seed(db, lowRankRatings(3));
    await activeModel(db, { feedback: 'explicit', ...GOOD });
    const r = await retrain(db, { overrides: { ...BAD }, maxRegression: 10 });
    const gap = r.metrics.candidate.rmse! - r.metrics.active!.rmse!;
    expect(gap).toBeGreaterThan(0.005); // worse…
    expect(r.activated).toBe(true); // …but within the tolerance
    expect(activeModelId(db)).toBe(r.candidate);
  });

  it('activates when nothing is active (metrics.active null), with default hyperparameters', async () => {
    const { db } = fileDb();
    seed(db, lowRankRatings(4));
    const r = await retrain(db, { overrides: { threads: 1, iterations: 3, factors: 4 } });
    expect(r.active).toBeNull();
    expect(r.activated).toBe(true);
    expect(r.metrics.active).toBeNull();
    expect(r.reason).toMatch(/no model was active/);
    expect(activeModelId(db)).toBe(r.candidate);
    expect(loadActiveModel(db)!.model.params).toMatchObject({
      feedback: 'explicit',
      lambda: resolveParams({ feedback: 'explicit' }).lambda,
    });
  });

  it('the same split and seed give the same verdict and metrics (deterministic)', async () => {
    const { db } = fileDb();
    seed(db, lowRankRatings(5));
    await activeModel(db, { feedback: 'explicit', ...GOOD });
    const a = await retrain(db, { overrides: { ...BAD } });
    const b = await retrain(db, { overrides: { ...BAD } });
    expect(b.metrics).toEqual(a.metrics);
    expect(b.activated).toBe(false);
  });

  it('--tune starts from the newest tuning result; flags still win; none stored → a clear error', async () => {
    const { db } = fileDb();
    seed(db, lowRankRatings(6));
    await expect(retrain(db, { tune: true })).rejects.toThrow(/no tuning result.*ridgerec tune/);
    expect(activeModelId(db)).toBeNull();
    const best = resolveParams({ feedback: 'explicit', factors: 3, lambda: 0.07, iterations: 4, threads: 1 });
    saveTuningResult(db, {
      feedback: 'explicit',
      metric: 'rmse',
      higherIsBetter: false,
      bestValue: 0.9,
      bestParams: best,
      grid: { lambda: [0.07] },
      source: 'test',
      results: [],
    });
    const r = await retrain(db, { tune: true, overrides: { iterations: 5 } });
    expect(r.activated).toBe(true);
    const p = loadActiveModel(db)!.model.params;
    expect(p.factors).toBe(3);
    expect(p.lambda).toBe(0.07);
    expect(p.iterations).toBe(5);
    expect(r.detail.base).toMatch(/tuning result 1/);
  });

  it('--ranking-users must be an integer >= 0 and is refused before anything is trained or saved', async () => {
    const { db } = fileDb();
    seed(db, blockImplicit(7));
    await expect(retrain(db, { rankingUsers: -1 })).rejects.toThrow(/--ranking-users must be an integer >= 0 \(0 = every user\), got -1/);
    await expect(retrain(db, { rankingUsers: 2.5 })).rejects.toThrow(/--ranking-users/);
    expect(listModels(db)).toHaveLength(0);
  });

  it('fails without touching anything on an empty database', async () => {
    const { db } = fileDb();
    await expect(retrain(db, {})).rejects.toBeInstanceOf(RidgerecError);
    expect(listModels(db)).toHaveLength(0);
  });
});

describe('retrain quality gate (implicit: ndcg@10, higher is better)', () => {
  it('compares ndcg@10 and keeps a worse implicit candidate', async () => {
    const { db } = fileDb();
    seed(db, blockImplicit(7));
    const old = await activeModel(db, { feedback: 'implicit', factors: 4, lambda: 0.1, alpha: 0, iterations: 8, threads: 1 });
    const r = await retrain(db, { overrides: { factors: 4, lambda: 1e5, alpha: 0, iterations: 8, threads: 1 } });
    expect(r.detail.metric).toBe('ndcg@10');
    expect(r.metrics.candidate).not.toHaveProperty('rmse');
    expect(r.metrics.candidate['ndcg@10']!).toBeLessThan(r.metrics.active!['ndcg@10']! - 0.005);
    expect(r.activated).toBe(false);
    expect(activeModelId(db)).toBe(old);
  });

  it('ranks a seeded sample of --ranking-users holdout users, the same for the candidate and the active model', async () => {
    const { db } = fileDb();
    seed(db, blockImplicit(7));
    await activeModel(db, { feedback: 'implicit', factors: 4, lambda: 0.1, alpha: 0, iterations: 8, threads: 1 });
    const lines: string[] = [];
    const overrides = { factors: 4, lambda: 0.2, alpha: 0, iterations: 8, threads: 1 };
    const sampled = await retrain(db, { rankingUsers: 5, overrides, onProgress: (l) => lines.push(l) });
    expect(lines.some((l) => /ranking metrics over [1-5] users, a seeded sample of at most 5\)/.test(l))).toBe(true);
    const all = await retrain(db, { rankingUsers: 0, overrides });
    expect(sampled.metrics.candidate['ndcg@10']).not.toBe(all.metrics.candidate['ndcg@10']);
    const again = await retrain(db, { rankingUsers: 5, overrides });
    expect(again.metrics.candidate['ndcg@10']).toBe(sampled.metrics.candidate['ndcg@10']);
  });

  it('gates on ndcg at the cut-off `at` when given', async () => {
    const { db } = fileDb();
    seed(db, blockImplicit(7));
    await activeModel(db, { feedback: 'implicit', factors: 4, lambda: 0.1, alpha: 0, iterations: 8, threads: 1 });
    const r = await retrain(db, { at: 3, overrides: { factors: 4, lambda: 1e5, alpha: 0, iterations: 8, threads: 1 } });
    expect(r.detail.metric).toBe('ndcg@3');
    expect(Object.keys(r.metrics.candidate)).toEqual(['precision@3', 'recall@3', 'ndcg@3', 'map@3', 'coverage@3']);
    expect(r.reason).toMatch(/^candidate ndcg@3 /);
    expect(getModel(db, r.candidate).metrics).toMatchObject({ gate: 'ndcg@3' });
  });
});

describe('the refit while the candidate is evaluated (two threads or more)', () => {
  it("with nothing active: the refit runs during the candidate's evaluation and equals a plain fit on all ratings; the metrics equal one thread's", async () => {
    const { db } = fileDb();
    seed(db, lowRankRatings(5));
    const lines: string[] = [];
    const two = await retrain(db, { overrides: { ...GOOD, threads: 2 }, onProgress: (l) => lines.push(l) });
    const started = lines.findIndex((l) => /refitting the candidate on all ratings while it is evaluated/.test(l));
    expect(started).toBeGreaterThan(lines.findIndex((l) => /candidate iteration 8\/8/.test(l)));
    expect(started).toBeLessThan(lines.findIndex((l) => /candidate fitted in/.test(l)));
    expect(lines.some((l) => /final iteration 8\/8/.test(l))).toBe(true);
    const served = loadModel(db, two.candidate).model;
    const plain = await fit(loadMatrix(db), { feedback: 'explicit', ...GOOD, threads: 2 });
    expect(served.nUsers).toBe(plain.nUsers);
    expect(Array.from(served.userFactors)).toEqual(Array.from(plain.userFactors));
    expect(Array.from(served.itemFactors)).toEqual(Array.from(plain.itemFactors));
    const { db: db1 } = fileDb();
    seed(db1, lowRankRatings(5));
    const one = await retrain(db1, { overrides: { ...GOOD, threads: 1 } });
    expect(two.metrics.candidate.rmse).toBeCloseTo(one.metrics.candidate.rmse!, 5);
    expect(two.metrics.candidate['ndcg@10']).toBeCloseTo(one.metrics.candidate['ndcg@10']!, 5);
  });

  it('with other hyperparameters active, or one thread: the refit waits for the gate', async () => {
    const { db } = fileDb();
    seed(db, lowRankRatings(6));
    await activeModel(db, { feedback: 'explicit', ...BAD });
    const lines: string[] = [];
    const r = await retrain(db, { overrides: { ...GOOD, threads: 2 }, onProgress: (l) => lines.push(l) });
    expect(r.activated).toBe(true);
    const refit = lines.findIndex((l) => /refitting the candidate on all ratings$/.test(l));
    expect(refit).toBeGreaterThan(lines.findIndex((l) => /not worse by more than/.test(l)));
    const { db: db1 } = fileDb();
    seed(db1, lowRankRatings(6));
    const single: string[] = [];
    await retrain(db1, { overrides: { ...GOOD, threads: 1 }, onProgress: (l) => single.push(l) });
    expect(single.some((l) => /while it is evaluated/.test(l))).toBe(false);
    expect(single.some((l) => /refitting the candidate on all ratings$/.test(l))).toBe(true);
  });

  it('a failing candidate fit starts no refit and leaves no model saved', async () => {
    const { db } = fileDb();
    seed(db, lowRankRatings(7));
    const before = listModels(db).length;
    const lines: string[] = [];
    await expect(
      retrain(db, {
        overrides: { ...GOOD, solver: 'cholesky', lambda: 0, lambdaScaling: 'none', factors: 60, threads: 2 },
        onProgress: (l) => lines.push(l),
      }),
    ).rejects.toThrow(/positive definite|NaN|diverged/);
    expect(lines.some((l) => /refitting/.test(l))).toBe(false);
    expect(listModels(db).length).toBe(before);
    expect(activeModelId(db)).toBeNull();
  });
});

describe('a running server observes the swap', () => {
  it('serves throughout the retrain with no failed request and hot-swaps on poll', async () => {
    const { db, path } = fileDb();
    seed(db, lowRankRatings(8));
    const old = await activeModel(db, { feedback: 'explicit', ...BAD });
    const serverDb = openDatabase(path);
    open.push(serverDb);
    const swaps: [number | null, number | null][] = [];
    const rec = createRecommender({ store: storeFromDb(serverDb), onSwap: (a, b) => swaps.push([a, b]) });
    try {
      expect(rec.modelId()).toBe(old);
      let served = 0;
      let failed = 0;
      const seenModels = new Set<number>();
      // A request stream while the retrain runs (threads: 2 puts the solves on workers, so this
      // event loop keeps serving), polling the model store as the server does.
      const timer = setInterval(() => {
        try {
          rec.poll();
          const out = rec.recommend(`u${served % 80}`, { limit: 5 });
          seenModels.add(out.model);
          expect(out.items).toHaveLength(5);
          served++;
        } catch {
          failed++;
        }
      }, 2);
      const r = await retrain(db, { overrides: { ...GOOD, threads: 2 } });
      await new Promise((res) => setTimeout(res, 30));
      clearInterval(timer);
      expect(r.activated).toBe(true);
      rec.poll();
      expect(rec.modelId()).toBe(r.candidate);
      expect(rec.recommend('u1', { limit: 3 }).model).toBe(r.candidate);
      expect(failed).toBe(0);
      expect(served).toBeGreaterThan(0);
      expect(seenModels.has(old)).toBe(true);
      expect(swaps).toContainEqual([old, r.candidate]);
    } finally {
      await rec.close();
    }
  });
});
