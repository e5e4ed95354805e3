/**
 * Integrity from the command line: `ridgerec doctor` (one verdict line per check, exit 1 on any
 * problem, --json), `serve` with only a corrupt model (exit 1, one line), and a damaged database
 * file (truncated, or not SQLite at all): one line from every command, never a stack trace.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flipStoredByte, truncateFile } from '../helpers/corrupt.js';
import { fixtureDb, trainModel, type Fixture } from '../http/fixture.js';
import { runCli } from './spawn-cli.js';

describe('ridgerec doctor', () => {
  let fx: Fixture;
  beforeEach(() => {
    fx = fixtureDb();
  });
  afterEach(() => fx.cleanup());

  it('prints one ok verdict per check and exits 0 on a sound database', async () => {
    const a = await trainModel(fx.db, { seed: 1 });
    const b = await trainModel(fx.db, { seed: 2 });
    const r = await runCli(['doctor', '--db', fx.path]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('ok   database: integrity_check ok');
    expect(lines[1]).toMatch(/^ok {3}migrations: history intact \(at 0006_model_checksums\.sql\)$/);
    expect(lines[2]).toMatch(new RegExp(`^ok {3}model ${a}: checksum ok \\(sha256 [0-9a-f]{12}…, \\d+ bytes\\)$`));
    expect(lines[3]).toMatch(new RegExp(`^ok {3}model ${b}: checksum ok`));
    expect(lines[4]).toBe(`doctor: ${fx.path} is sound (2 models verified)`);
  });

  it('names the corrupt model, still verifies the others, and exits 1 (also as --json)', async () => {
    const a = await trainModel(fx.db, { seed: 1 });
    const b = await trainModel(fx.db, { seed: 2 });
    flipStoredByte(fx.db, a);
    const r = await runCli(['doctor', '--db', fx.path]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAIL model ${a}: stored model ${a} is corrupt (checksum mismatch)\n`);
    expect(r.stdout).toMatch(new RegExp(`ok {3}model ${b}: checksum ok`));
    expect(r.stdout).toContain(`doctor: 1 problem in ${fx.path}`);
    const j = await runCli(['doctor', '--db', fx.path, '--json']);
    expect(j.code).toBe(1);
    const report = JSON.parse(j.stdout) as {
      ok: boolean;
      problems: number;
      checks: { check: string; id?: number; ok: boolean; message: string }[];
    };
    expect(report.ok).toBe(false);
    expect(report.problems).toBe(1);
    expect(report.checks.filter((c) => c.check === 'model')).toEqual([
      { check: 'model', id: a, ok: false, message: `stored model ${a} is corrupt (checksum mismatch)` },
      { check: 'model', id: b, ok: true, message: expect.stringMatching(/^checksum ok/) },
    ]);
  });

  it('exits 1 with one verdict line for a file that is missing or not SQLite', async () => {
    const missing = await runCli(['doctor', '--db', join(fx.dir, 'nothing.db')]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain(`FAIL database: no database at ${join(fx.dir, 'nothing.db')}`);
    const junk = join(fx.dir, 'junk.db');
    writeFileSync(junk, 'these bytes are not a SQLite database, not even close to one');
    const notDb = await runCli(['doctor', '--db', junk]);
    expect(notDb.code).toBe(1);
    expect(notDb.stdout).toMatch(/^FAIL database: the database file is not a SQLite database/);
    expect(notDb.stderr).toBe('');
  });
});

describe('a damaged database or model from every command', () => {
  let fx: Fixture;
  beforeEach(() => {
    fx = fixtureDb();
  });
  afterEach(() => fx.cleanup());

  it('serve with only a corrupt model exits 1 printing the one checksum line', async () => {
    const id = await trainModel(fx.db);
    flipStoredByte(fx.db, id);
    fx.db.close();
    const r = await runCli(['serve', '--port', '0', '--db', fx.path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ridgerec: stored model ${id} is corrupt (checksum mismatch)\n`);
    expect(r.stdout).not.toContain('listening');
  });

  it('a truncated database: one line, exit 1, no stack trace, from every command and from serve', async () => {
    await trainModel(fx.db);
    // Make the file big enough that half of it loses pages the commands need.
    fx.db.exec('CREATE TABLE filler (n INTEGER, pad BLOB)');
    const filler = fx.db.prepare('INSERT INTO filler (n, pad) VALUES (?, ?)');
    fx.db.transaction(() => {
      for (let n = 0; n < 400; n++) filler.run(n, Buffer.alloc(4096, n));
    })();
    fx.db.close();
    truncateFile(fx.path, 0.5);
    for (const args of [
      ['stats'],
      ['models', 'list'],
      ['recommend', 'a1'],
      ['train'],
      ['migrate'],
      ['retrain'],
      ['serve', '--port', '0'],
      ['doctor'],
    ]) {
      const r = await runCli([...args, '--db', fx.path]);
      const out = args[0] === 'doctor' ? r.stdout : r.stderr;
      expect(r.code, args.join(' ')).toBe(1);
      expect(out, args.join(' ')).toMatch(/the database file is corrupt \(SQLite: database disk image is malformed\)/);
      expect(r.stderr, args.join(' ')).not.toMatch(/\n\s+at /);
      expect(r.stderr.trim().split('\n').length, args.join(' ')).toBeLessThanOrEqual(1);
    }
  }, 60_000);

  it('a file that is not a database: one line, exit 1', async () => {
    const junk = join(fx.dir, 'junk.db');
    writeFileSync(junk, Buffer.alloc(8192, 7));
    for (const args of [['stats'], ['serve', '--port', '0']]) {
      const r = await runCli([...args, '--db', junk]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^ridgerec: the database file is not a SQLite database \(SQLite: file is not a database\); .*\n$/);
    }
  });
});
