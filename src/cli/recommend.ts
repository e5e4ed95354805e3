import type { Command } from 'commander';
import { LIMITS } from '../config.js';
import type { ScoredItem } from '../serving/recommender.js';
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

/** Renders ranked items as a small aligned table. */
export function itemsTable(items: readonly ScoredItem[]): string {
  const rows = items.map((it, j) => [String(j + 1), it.item, it.score.toFixed(4)] as const);
  const w0 = Math.max(1, ...rows.map((r) => r[0].length));
  const w1 = Math.max(4, ...rows.map((r) => r[1].length));
  const lines = [`${'#'.padStart(w0)}  ${'item'.padEnd(w1)}  score`];
  for (const r of rows) lines.push(`${r[0].padStart(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`);
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  const cmd = program
    .command('recommend')
    .description("top-N recommendations for a user from the active model (fold-in or popular items for users it hasn't seen)")
    .argument('<user>', 'the user id')
    .option('--limit <n>', `how many items (1..${LIMITS.maxLimit})`, intArg('--limit', 1, LIMITS.maxLimit), LIMITS.defaultLimit);
  withJsonOption(withDbOption(withFilterOptions(cmd))).action(
    (user: string, opts: FilterFlags & { db?: string; json?: boolean; limit: number }) =>
      runCommand(async () => {
        await withRecommender(opts, (rec) => {
          const result = rec.recommend(user, { ...filtersFromFlags(opts), limit: opts.limit });
          if (opts.json) printJson(result);
          else {
            process.stdout.write(`user ${result.user} · model ${result.model} · source ${result.source}\n`);
            process.stdout.write(result.items.length > 0 ? itemsTable(result.items) : '(no items)\n');
          }
        });
      }),
  );
}
