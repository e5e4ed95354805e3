import { basename } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { openStore } from '../store/store.js';
import { importRatingsFile, RATING_FORMATS, ratingFileSize, type ImportResult, type RatingFormat } from '../ratings/import.js';
import { choiceArg, dbConfig, reportImport, runCommand, withDbOption, withJsonOption } from './common.js';

interface ImportFlags {
  db?: string;
  json?: boolean;
  format: RatingFormat;
  userCol?: string;
  itemCol?: string;
  valueCol?: string;
  skipInvalid?: boolean;
}

const MB = 1024 * 1024;

/** `ridgerec import FILE`: one transaction, all or nothing (see src/ratings/import.ts). */
export function register(program: Command): void {
  const cmd = program
    .command('import')
    .description('import ratings from a file as one transaction (upsert: the last value for a user/item pair wins)')
    .argument('<file>', 'ratings file (MovieLens u.data, ratings.dat, CSV with a header, or TSV)')
    .option('--format <format>', `file format: ${RATING_FORMATS.join('|')}`, choiceArg('--format', RATING_FORMATS), 'auto')
    .option('--user-col <name>', 'csv: the user id column (default userId or user)')
    .option('--item-col <name>', 'csv: the item id column (default movieId or item)')
    .option('--value-col <name>', 'csv: the rating column (default rating or value)')
    .option('--skip-invalid', 'import the valid rows and report the rejected ones instead of failing');
  withJsonOption(withDbOption(cmd)).action((file: string, opts: ImportFlags) =>
    runCommand(async () => {
      const total = ratingFileSize(file); // a missing file fails before the database is touched
      const store = openStore(dbConfig(opts).db);
      const db = store.db;
      const bar = process.stderr.isTTY
        ? new cliProgress.SingleBar(
            {
              stream: process.stderr,
              format: `importing ${basename(file)} {bar} {percentage}% | {readMB}/{totalMB} MB | {eta_formatted}`,
              hideCursor: true,
              clearOnComplete: true,
            },
            cliProgress.Presets.shades_classic,
          )
        : null;
      const mb = (bytes: number) => (bytes / MB).toFixed(1);
      bar?.start(total, 0, { readMB: mb(0), totalMB: mb(total) });
      const problems: string[] = [];
      let result: ImportResult;
      try {
        result = await importRatingsFile(db, file, {
          format: opts.format,
          userCol: opts.userCol,
          itemCol: opts.itemCol,
          valueCol: opts.valueCol,
          skipInvalid: opts.skipInvalid ?? false,
          onInvalid: (line, problem) => {
            if (problems.length < 10) problems.push(`${file}:${line}: ${problem}`);
          },
          onProgress: bar ? (read) => bar.update(read, { readMB: mb(read) }) : undefined,
        });
      } finally {
        bar?.stop();
        db.close();
      }
      reportImport(
        opts,
        result,
        problems,
        'row',
        {},
        { users: result.users, items: result.items },
        (seconds) =>
          `imported ${result.rows} ratings from ${file} (${result.format}): ${result.inserted} new, ` +
          `${result.updated} updated; ${result.users} users, ${result.items} items in the file; ${seconds} s\n`,
      );
    }),
  );
}
