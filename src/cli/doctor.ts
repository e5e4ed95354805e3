/**
 * `ridgerec doctor [--db PATH] [--json]`: checks a database without trusting it. One verdict line
 * per check, then a summary; exit 0 when everything is sound, 1 on any problem:
 *   database    the file exists and is a SQLite database; `PRAGMA integrity_check` says ok
 *   migrations  the migration history is intact (pending ones are applied, as every command does,
 *               and model files stored before checksums get theirs)
 *   model N     each saved model's file hashes to its stored SHA-256
 * --json prints {"db","ok","problems","checks":[{"check","id"?,"ok","message"}]} instead.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { openDatabase, type Db } from '../db/connection.js';
import { migrate } from '../db/migrate.js';
import { databaseFaultMessage, isRidgerecError } from '../errors.js';
import { backfillModelChecksums, upgradeLegacyModels, verifyModelFiles } from '../model/registry.js';
import { dbConfig, printJson, runCommand, withDbOption, withJsonOption } from './common.js';

export interface DoctorCheck {
  readonly check: 'database' | 'migrations' | 'model';
  /** The model id, for a model check. */
  readonly id?: number;
  readonly ok: boolean;
  readonly message: string;
}

export interface DoctorReport {
  readonly db: string;
  readonly ok: boolean;
  readonly problems: number;
  readonly checks: DoctorCheck[];
}

/** Why a step failed, in one line (SQLite's damage, a RidgerecError's message, else the error's message). */
function reason(e: unknown): string {
  return (
    databaseFaultMessage(e)?.replace('; `ridgerec doctor` checks it', '') ??
    (isRidgerecError(e) ? e.message : `${(e as Error)?.message ?? String(e)}`)
  );
}

function report(path: string, checks: DoctorCheck[]): DoctorReport {
  const problems = checks.filter((c) => !c.ok).length;
  return { db: path, ok: problems === 0, problems, checks };
}

/** Runs every check on the database at `path` (never creates it); stops at the first check the rest depend on. */
export function diagnose(path: string): DoctorReport {
  const checks: DoctorCheck[] = [];
  if (path !== ':memory:' && !existsSync(path)) {
    checks.push({ check: 'database', ok: false, message: `no database at ${path}` });
    return report(path, checks);
  }
  let db: Db;
  try {
    db = openDatabase(path, { migrate: false });
  } catch (e) {
    checks.push({ check: 'database', ok: false, message: reason(e) });
    return report(path, checks);
  }
  try {
    try {
      const rows = db.pragma('integrity_check') as { integrity_check: string }[];
      const found = rows.map((r) => r.integrity_check).filter((m) => m !== 'ok');
      checks.push(
        found.length === 0
          ? { check: 'database', ok: true, message: 'integrity_check ok' }
          : {
              check: 'database',
              ok: false,
              message: `integrity_check found ${found.length} problem${found.length === 1 ? '' : 's'}, first: ${found[0]}`,
            },
      );
      if (found.length > 0) return report(path, checks);
    } catch (e) {
      checks.push({ check: 'database', ok: false, message: reason(e) });
      return report(path, checks);
    }
    try {
      const { applied, current } = migrate(db);
      upgradeLegacyModels(db);
      backfillModelChecksums(db);
      checks.push({
        check: 'migrations',
        ok: true,
        message: `history intact (at ${current ?? 'none'}${applied.length > 0 ? `; applied ${applied.join(', ')} now` : ''})`,
      });
    } catch (e) {
      checks.push({ check: 'migrations', ok: false, message: reason(e) });
      return report(path, checks);
    }
    try {
      for (const m of verifyModelFiles(db)) checks.push({ check: 'model', id: m.id, ok: m.ok, message: m.message });
    } catch (e) {
      checks.push({ check: 'model', ok: false, message: reason(e) });
    }
    return report(path, checks);
  } finally {
    db.close();
  }
}

function label(c: DoctorCheck): string {
  return c.check === 'model' && c.id !== undefined ? `model ${c.id}` : c.check;
}

export function register(program: Command): void {
  const cmd = program
    .command('doctor')
    .description(
      'check the database: SQLite integrity_check, the migrations, and every stored model against its checksum (exit 1 on any problem)',
    );
  withJsonOption(withDbOption(cmd)).action((opts: { db?: string; json?: boolean }) =>
    runCommand(() => {
      const r = diagnose(dbConfig(opts).db);
      if (opts.json) printJson(r);
      else {
        for (const c of r.checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${label(c)}: ${c.message}\n`);
        const models = r.checks.filter((c) => c.check === 'model').length;
        process.stdout.write(
          r.ok
            ? `doctor: ${r.db} is sound (${models} model${models === 1 ? '' : 's'} verified)\n`
            : `doctor: ${r.problems} problem${r.problems === 1 ? '' : 's'} in ${r.db}\n`,
        );
      }
      if (!r.ok) process.exitCode = 1;
    }),
  );
}
