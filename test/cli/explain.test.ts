/**
 * `ridgerec explain USER ITEM [--top N] [--json]` in-process over the tiny two-taste shop of
 * test/http/fixture.ts (a real SQLite file, a real trained model, titled items): the table, the
 * JSON (the HTTP answer's shape and values) and the exit codes.
 */
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { createRecommender } from '../../src/serving/recommender.js';
import { storeFromDb } from '../../src/store/store.js';
import { fixtureDb, trainModel, type Fixture } from '../http/fixture.js';
import { runInProcess } from '../helpers/cli.js';

describe('ridgerec explain', () => {
  let fx: Fixture;
  let modelId: number;
  beforeAll(async () => {
    fx = fixtureDb();
    modelId = await trainModel(fx.db);
  });
  afterAll(() => fx.cleanup());

  it('--json prints what GET …/recommendations/:item/explanation answers', async () => {
    const { code, stdout, stderr } = await runInProcess(['explain', 'a1', 'x4', '--top', '3', '--json', '--db', fx.path]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const body = JSON.parse(stdout) as { contributions: unknown[]; model: number };
    const rec = createRecommender({ store: storeFromDb(fx.db), precompute: false });
    try {
      const app = createApp({ recommender: rec, logger: pino({ level: 'silent' }) });
      const http = await request(app).get('/v1/users/a1/recommendations/x4/explanation?top=3');
      expect(body).toEqual(http.body);
    } finally {
      await rec.close();
    }
    expect(body.model).toBe(modelId);
    expect(body.contributions).toHaveLength(3);
  });

  it('prints a table of item, title and contribution, then the rest and bias lines', async () => {
    const { code, stdout } = await runInProcess(['explain', 'a1', 'x4', '--db', fx.path]);
    expect(code).toBe(0);
    const json = JSON.parse((await runInProcess(['explain', 'a1', 'x4', '--json', '--db', fx.path])).stdout) as {
      score: number;
      contributions: { item: string; title: string; contribution: number }[];
      rest: number;
      bias: { global: number; user: number; item: number };
    };
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`why x4 (Title x4) for a1 · model ${modelId} · score ${json.score.toFixed(4)}`);
    expect(lines[1]).toMatch(/^#\s+item\s+title\s+contribution$/);
    expect(lines).toHaveLength(2 + 5 + 2); // default --top 5
    json.contributions.forEach((c, j) => {
      expect(lines[2 + j]!.split(/\s{2,}/).map((s) => s.trim())).toEqual([String(j + 1), c.item, c.title, c.contribution.toFixed(4)]);
    });
    expect(lines[7]).toBe(`rest  ${json.rest.toFixed(4)} (the rated items not listed)`);
    expect(lines[8]).toBe(
      `bias  global ${json.bias.global.toFixed(4)} · user ${json.bias.user.toFixed(4)} · item ${json.bias.item.toFixed(4)}`,
    );
  });

  it('exits 2 with a clear message for an unknown item, a user without ratings or a bad --top', async () => {
    const item = await runInProcess(['explain', 'a1', 'nope', '--db', fx.path]);
    expect(item.code).toBe(2);
    expect(item.stdout).toBe('');
    expect(item.stderr).toBe(`ridgerec: item "nope" is not in model ${modelId}\n`);
    const user = await runInProcess(['explain', 'ghost', 'x1', '--db', fx.path]);
    expect(user.code).toBe(2);
    expect(user.stderr).toBe(`ridgerec: user "ghost" is not in model ${modelId} and has no ratings: nothing to explain with\n`);
    for (const top of ['0', '51', 'x']) {
      const bad = await runInProcess(['explain', 'a1', 'x4', '--top', top, '--db', fx.path]);
      expect(bad.code, top).toBe(2);
      expect(bad.stderr).toContain(`--top must be an integer in 1..50, got "${top}"`);
    }
  });
});
