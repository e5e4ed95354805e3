/**
 * `npm run bench -- <case> [args]`: benchmarks that print their figures as JSON lines.
 * Each case lives in scripts/bench/<case>.ts and exports `run(args: string[]): Promise<void>`.
 */
const cases = ['import', 'train', 'retrain', 'serve', 'soak', 'topn', 'busy', 'live'] as const;
const [name, ...args] = process.argv.slice(2);
if (!name || !(cases as readonly string[]).includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${cases.join('|')}> [args]\n`);
  process.exit(2);
}
const mod = (await import(`./bench/${name}.ts`)) as { run(args: string[]): Promise<void> };
await mod.run(args);
