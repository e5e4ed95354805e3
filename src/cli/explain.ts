import type { Command } from 'commander';
import { DEFAULT_EXPLAIN_TOP, explanationView, MAX_EXPLAIN, type ExplanationView } from '../serving/explanations.js';
import { intArg, printJson, runCommand, withDbOption, withJsonOption, withRecommender } from './common.js';

/** Renders an explanation: a header, the contributions as an aligned table, then rest and bias lines. */
export function explanationText(e: ExplanationView): string {
  const name = e.title === undefined ? e.item : `${e.item} (${e.title})`;
  const out = [`why ${name} for ${e.user} · model ${e.model} · score ${e.score.toFixed(4)}`];
  const rows = e.contributions.map((c, j) => [String(j + 1), c.item, c.title ?? '-', c.contribution.toFixed(4)] as const);
  const w0 = Math.max(1, ...rows.map((r) => r[0].length));
  const w1 = Math.max(4, ...rows.map((r) => r[1].length));
  const w2 = Math.max(5, ...rows.map((r) => r[2].length));
  const w3 = Math.max(12, ...rows.map((r) => r[3].length));
  out.push(`${'#'.padStart(w0)}  ${'item'.padEnd(w1)}  ${'title'.padEnd(w2)}  ${'contribution'.padStart(w3)}`);
  for (const r of rows) out.push(`${r[0].padStart(w0)}  ${r[1].padEnd(w1)}  ${r[2].padEnd(w2)}  ${r[3].padStart(w3)}`);
  out.push(`rest  ${e.rest.toFixed(4)} (the rated items not listed)`);
  if (e.bias) out.push(`bias  global ${e.bias.global.toFixed(4)} · user ${e.bias.user.toFixed(4)} · item ${e.bias.item.toFixed(4)}`);
  return `${out.join('\n')}\n`;
}

export function register(program: Command): void {
  const cmd = program
    .command('explain')
    .description(
      "why the active model scores an item as it does for a user: the score decomposed over the user's rated items " +
        '(explicit models add the bias terms)',
    )
    .argument('<user>', 'the user id')
    .argument('<item>', 'the item id')
    .option(
      '--top <n>',
      `how many rated items to list (1..${MAX_EXPLAIN}); the others are summed as rest`,
      intArg('--top', 1, MAX_EXPLAIN),
      DEFAULT_EXPLAIN_TOP,
    );
  withJsonOption(withDbOption(cmd)).action((user: string, item: string, opts: { db?: string; json?: boolean; top: number }) =>
    runCommand(async () => {
      await withRecommender(opts, (rec) => {
        const view = explanationView(rec.explain(user, item, { top: opts.top }), (ids) => rec.itemTitles(ids));
        if (opts.json) printJson(view);
        else process.stdout.write(explanationText(view));
      });
    }),
  );
}
