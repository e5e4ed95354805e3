import type { Command } from 'commander';
import { LIMITS } from '../config.js';
import {
  intArg,
  filtersFromFlags,
  printJson,
  runCommand,
  withDbOption,
  withFilterOptions,
  withJsonOption,
  withRecommender,
  type FilterFlags,
} from './common.js';
import { itemsTable } from './recommend.js';

export function register(program: Command): void {
  const cmd = program
    .command('similar')
    .description("items most similar to an item (cosine similarity of the active model's item factors)")
    .argument('<item>', 'the item id')
    .option('--limit <n>', `how many items (1..${LIMITS.maxLimit})`, intArg('--limit', 1, LIMITS.maxLimit), LIMITS.defaultLimit);
  withJsonOption(withDbOption(withFilterOptions(cmd))).action(
    (item: string, opts: FilterFlags & { db?: string; json?: boolean; limit: number }) =>
      runCommand(async () => {
        await withRecommender(opts, (rec) => {
          const result = rec.similarItems(item, { ...filtersFromFlags(opts), limit: opts.limit });
          if (opts.json) printJson(result);
          else {
            process.stdout.write(`items similar to ${result.item} · model ${result.model}\n`);
            process.stdout.write(result.items.length > 0 ? itemsTable(result.items) : '(no items)\n');
          }
        });
      }),
  );
}
