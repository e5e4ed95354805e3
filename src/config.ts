import { resolve } from 'node:path';

/** Where the database lives unless RIDGEREC_DB or --db says otherwise. */
export const DEFAULT_DB_PATH = './data/ridgerec.db';

/**
 * The database path: the --db flag, else RIDGEREC_DB, else ./data/ridgerec.db (relative to the
 * working directory). ':memory:' is passed through.
 */
export function resolveDbPath(flag?: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const raw = flag ?? env.RIDGEREC_DB ?? DEFAULT_DB_PATH;
  if (raw === '') return resolve(DEFAULT_DB_PATH);
  return raw === ':memory:' ? raw : resolve(raw);
}
