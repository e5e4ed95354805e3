import type { Command } from 'commander';
import { openDatabase } from '../db/connection.js';
import { migrate } from '../db/migrate.js';
import { dbConfig, printJson, runCommand, withDbOption, withJsonOption } from './common.js';

export function register(program: Command): void {
  const cmd = program.command('migrate').description('apply pending database migrations');
  withJsonOption(withDbOption(cmd)).action((opts: { db?: string; json?: boolean }) =>
    runCommand(() => {
      const db = openDatabase(dbConfig(opts).db, { migrate: false });
      let result;
      try {
        const { applied, current } = migrate(db);
        result = { applied, current };
      } finally {
        db.close();
      }
      if (opts.json) printJson(result);
      else if (result.applied.length === 0) process.stdout.write(`up to date at ${result.current ?? '(none)'}\n`);
      else process.stdout.write(`applied ${result.applied.join(', ')}; now at ${result.current}\n`);
    }),
  );
}
