/**
 * `ridgerec export ratings DIR [--format parquet|csv] [--holdout F] [--seed S] [--db PATH] [--json]`:
 * the stored ratings with dense integer ids and the id maps, for training elsewhere (Spark's ALS:
 * scripts/spark/train_als.py). src/spark/export.ts does the work.
 */
import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { openStore } from '../store/store.js';
import { exportRatings, type ExportFormat } from '../spark/export.js';
import { dbConfig, floatArg, intArg, printJson, runCommand, withDbOption, withJsonOption } from './common.js';

interface Flags {
  db?: string;
  json?: boolean;
  format: ExportFormat;
  holdout?: number;
  seed?: number;
}

export function register(program: Command): void {
  const exp = program.command('export').description('export data for other tools (Spark)');
  const cmd = exp
    .command('ratings')
    .description('write the ratings (dense int ids) and the id maps as Parquet into DIR, for Spark ALS')
    .argument('<dir>', 'output directory (created; files of a previous export are replaced)')
    .addOption(new Option('--format <format>', 'format of the ratings file').choices(['parquet', 'csv']).default('parquet'))
    .option(
      '--holdout <fraction>',
      "leave out the test part of retrain's per-user holdout with this fraction (for `retrain --candidate spark:DIR`)",
      floatArg('--holdout', 0, 1, true, true),
    )
    .option('--seed <n>', 'seed of that holdout (default 0, as retrain)', intArg('--seed', 0, 0xffff_ffff));
  withJsonOption(withDbOption(cmd)).action((dir: string, opts: Flags) =>
    runCommand(async () => {
      const started = performance.now();
      const store = openStore(dbConfig(opts).db);
      try {
        const m = await exportRatings(store.db, dir, {
          format: opts.format,
          ...(opts.holdout === undefined ? {} : { holdout: opts.holdout, seed: opts.seed ?? 0 }),
        });
        const seconds = Math.round(performance.now() - started) / 1000;
        if (opts.json) printJson({ dir: resolve(dir), ...m, seconds });
        else
          process.stdout.write(
            `exported ${m.ratings} ratings (${m.users} users × ${m.items} items) to ${dir} as ${m.files.join(', ')}` +
              `${m.holdout ? ` (holdout ${m.holdout.fraction} seed ${m.holdout.seed}: ${m.holdout.heldOut} ratings left out)` : ''} in ${seconds} s\n`,
          );
      } finally {
        store.close();
      }
    }),
  );
}
