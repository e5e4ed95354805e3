import type { Command } from 'commander';
import { openDb } from '../db/connection.js';
import { dbConfig, printJson, runCommand, withDbOption, withJsonOption } from './common.js';

export function register(program: Command): void {
  const cmd = program.command('migrate').description('apply pending database migrations');
  withJsonOption(withDbOption(cmd)).action((opts: { db?: string; json?: boolean }) =>
    runCommand(() => {
      const { db, migrations } = openDb(dbConfig(opts).db);
      db.close();
      const result = { applied: migrations?.applied ?? [], current: migrations?.current ?? null };
      if (opts.json) printJson(result);
      else if (result.applied.length === 0) process.stdout.write(`up to date at ${result.current ?? '(none)'}\n`);
      else process.stdout.write(`applied ${result.applied.join(', ')}; now at ${result.current}\n`);
    }),
  );
}
