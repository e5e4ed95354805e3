import { Command } from 'commander';
import { storeFromDb } from '../../src/store/store.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { register as registerRecommend } from '../../src/cli/recommend.js';
import { register as registerSimilar } from '../../src/cli/similar.js';
import { createRecommender } from '../../src/serving/recommender.js';
import { tempDb, type TempDb } from '../helpers/temp.js';
import { install, randomFixture } from './helpers.js';

/** Runs `ridgerec <args>` in-process with only these two commands; returns stdout, stderr, exit code. */
async function run(args: string[]): Promise<{ out: string; err: string; code: number }> {
  const program = new Command('ridgerec').exitOverride().configureOutput({ writeErr: () => {} });
  registerRecommend(program);
  registerSimilar(program);
  let out = '';
  let err = '';
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'ridgerec', ...args]);
  } catch (e) {
    err += (e as Error).message;
    process.exitCode = 2;
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { out, err, code };
}

describe('ridgerec recommend / similar', () => {
  let t: TempDb;
  let id: number;
  beforeEach(() => {
    t = tempDb();
    id = install(t.db, randomFixture(61, 'explicit'));
  });
  afterEach(() => t.cleanup());

  it('recommend --json prints the HTTP body shape', async () => {
    const { out, code } = await run(['recommend', 'u2', '--limit', '4', '--json', '--db', t.path]);
    expect(code).toBe(0);
    const body = JSON.parse(out) as unknown;
    expect(Object.keys(body as object)).toEqual(['user', 'model', 'source', 'items']);
    const expected = createRecommender({ store: storeFromDb(t.db), precompute: false }).recommend('u2', { limit: 4 });
    expect(body).toEqual(expected);
    expect(body).toMatchObject({ user: 'u2', model: id, source: 'model' });
    expect(expected.items).toHaveLength(4);
    for (const it of expected.items) expect(Object.keys(it)).toEqual(['item', 'score']);
  });

  it('recommend for a stranger says popular; without --json it prints a table', async () => {
    const json = JSON.parse((await run(['recommend', 'stranger', '--json', '--db', t.path])).out) as { source: string; items: unknown[] };
    expect(json.source).toBe('popular');
    expect(json.items).toHaveLength(10);
    const { out, code } = await run(['recommend', 'u2', '--limit', '3', '--db', t.path]);
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe(`user u2 · model ${id} · source model`);
    expect(lines[1]).toMatch(/^#\s+item\s+score$/);
    expect(lines).toHaveLength(5);
    expect(lines[2]).toMatch(/^1\s+i\d+\s+-?\d+\.\d{4}$/);
  });

  it('similar --json prints {item, model, items}; an unknown item exits 2 with a message', async () => {
    const { out, code } = await run(['similar', 'i5', '--limit', '3', '--json', '--db', t.path]);
    expect(code).toBe(0);
    const body = JSON.parse(out) as { item: string; model: number; items: { item: string; score: number }[] };
    expect(Object.keys(body)).toEqual(['item', 'model', 'items']);
    expect(body).toMatchObject({ item: 'i5', model: id });
    expect(body.items).toHaveLength(3);
    expect(body.items.map((x) => x.item)).not.toContain('i5');
    const bad = await run(['similar', 'nope', '--db', t.path]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/item "nope" is not in model/);
  });

  it('rejects a bad --limit and reports a missing model with exit code 2', async () => {
    const bad = await run(['recommend', 'u1', '--limit', '0', '--db', t.path]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--limit must be an integer in 1\.\.1000/);
    const empty = tempDb();
    try {
      const r = await run(['recommend', 'u1', '--db', empty.path]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/no model is active/);
    } finally {
      empty.cleanup();
    }
  });

  it('recommend and similar take the rule flags; a bad --where exits 2 naming the condition', async () => {
    const rec = createRecommender({ store: storeFromDb(t.db), precompute: false });
    const all = rec.recommend('u2', { limit: 6 }).items.map((x) => x.item);
    const include = [all[4]!, all[1]!, all[3]!];
    const r = JSON.parse((await run(['recommend', 'u2', '--include', include.join(','), '--json', '--db', t.path])).out) as {
      items: { item: string }[];
    };
    expect(r.items.map((x) => x.item)).toEqual([all[1], all[3], all[4]]);
    const ex = JSON.parse(
      (await run(['recommend', 'u2', '--limit', '3', '--exclude', `${all[0]},${all[2]}`, '--json', '--db', t.path])).out,
    ) as {
      items: { item: string }[];
    };
    expect(ex.items.map((x) => x.item)).toEqual([all[1], all[3], all[4]]);
    const sim = JSON.parse((await run(['similar', all[0]!, '--include', include.join(','), '--json', '--db', t.path])).out) as {
      items: { item: string }[];
    };
    expect(sim.items.map((x) => x.item).sort()).toEqual([...include].sort());
    const bad = await run(['recommend', 'u2', '--where', 'price<cheap', '--db', t.path]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/where: condition 1 "price<cheap"/);
    await rec.close();
  });
});
