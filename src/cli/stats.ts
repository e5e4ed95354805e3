import type { Command } from 'commander';
import { openStore } from '../store/store.js';
import { activeModelId, countModels } from '../model/registry.js';
import { ratingStats } from '../ratings/store.js';
import { dbConfig, printJson, runCommand, withDbOption, withJsonOption } from './common.js';

/** `ridgerec stats`: what the database holds. */
export function register(program: Command): void {
  const cmd = program.command('stats').description('count users, items and ratings, and the rating range');
  withJsonOption(withDbOption(cmd)).action((opts: { db?: string; json?: boolean }) =>
    runCommand(() => {
      const store = openStore(dbConfig(opts).db);
      const db = store.db;
      let stats;
      try {
        stats = { ...ratingStats(db), models: countModels(db), activeModel: activeModelId(db) };
      } finally {
        db.close();
      }
      if (opts.json) {
        printJson(stats);
        return;
      }
      const num = (v: number | null) => (v === null ? '-' : String(Math.round(v * 10000) / 10000));
      process.stdout.write(
        `users    ${stats.users}\nitems    ${stats.items}\nratings  ${stats.ratings}\n` +
          `values   min ${num(stats.minValue)}, max ${num(stats.maxValue)}, mean ${num(stats.meanValue)}\n` +
          `models   ${stats.models} (active: ${stats.activeModel ?? 'none'})\n`,
      );
    }),
  );
}
