import type { Command } from 'commander';
import { importItemsFile, ITEM_FORMATS, type ItemFormat } from '../ratings/import-items.js';
import { ratingFileSize } from '../ratings/import.js';
import { openStore } from '../store/store.js';
import { choiceArg, dbConfig, reportImport, runCommand, withDbOption, withJsonOption } from './common.js';

interface ImportItemsFlags {
  db?: string;
  json?: boolean;
  format: ItemFormat;
  skipInvalid?: boolean;
}

/** `ridgerec import-items FILE`: the item catalogue from a file, one transaction (src/ratings/import-items.ts). */
export function register(program: Command): void {
  const cmd = program
    .command('import-items')
    .description(
      'import the item catalogue (titles, categories, metadata, active) from a file as one transaction; an upsert that sets ' +
        'the fields the file carries and keeps the others. A running server picks the change up at its next poll',
    )
    .argument(
      '<file>',
      'item file: MovieLens u.item (with u.genre beside it), movies.csv, a CSV with item,title,categories,… columns, or JSON lines',
    )
    .option('--format <format>', `file format: ${ITEM_FORMATS.join('|')}`, choiceArg('--format', ITEM_FORMATS), 'auto')
    .option('--skip-invalid', 'import the valid lines and report the rejected ones instead of failing');
  withJsonOption(withDbOption(cmd)).action((file: string, opts: ImportItemsFlags) =>
    runCommand(() => {
      ratingFileSize(file); // a missing file fails before the database is touched
      const store = openStore(dbConfig(opts).db);
      const problems: string[] = [];
      let result;
      try {
        result = importItemsFile(store.db, file, {
          format: opts.format,
          skipInvalid: opts.skipInvalid ?? false,
          onInvalid: (line, problem) => {
            if (problems.length < 10) problems.push(`${file}:${line}: ${problem}`);
          },
        });
      } finally {
        store.close();
      }
      reportImport(
        opts,
        result,
        problems,
        'line',
        { format: result.format },
        {},
        (seconds) =>
          `imported ${result.rows} items from ${file} (${result.format}): ${result.inserted} new, ${result.updated} updated; ${seconds} s\n`,
      );
    }),
  );
}
