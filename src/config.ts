/**
 * The runtime configuration: one typed, validated, frozen object, built once per process from the
 * command-line flags and the environment by loadConfig. Nothing else in ridgerec reads
 * `process.env`; the modules that need a setting get it from the Config (or as an argument).
 *
 *   setting    flag                  environment         default
 *   db         --db PATH             RIDGEREC_DB         ./data/ridgerec.db (resolved against the cwd)
 *   port       --port N, [PORT]      PORT                3000 (0..65535; 0 picks a free port)
 *   host       --host ADDRESS        HOST                127.0.0.1
 *   apiKey     -                     RIDGEREC_API_KEY    none (writes open on loopback, read-only elsewhere)
 *   allowOpenWrites --allow-open-writes RIDGEREC_ALLOW_OPEN_WRITES  false (1|true|yes|0|false|no)
 *   rateLimit  -                     RIDGEREC_RATE_LIMIT  writes per window per client; 0 off;
 *                                                        default off on loopback, 600 elsewhere
 *   rateLimitWindowMs -              RIDGEREC_RATE_LIMIT_WINDOW_MS  60000 (1000..86400000)
 *   logLevel   -                     LOG_LEVEL           info (fatal|error|warn|info|debug|trace|silent, any case)
 *   pollMs     -                     RIDGEREC_POLL_MS    2000 (100..3600000)
 *   writeDeadlineMs -                RIDGEREC_WRITE_DEADLINE_MS  2000 (0..60000)
 *   maxLiveUsers    -                RIDGEREC_MAX_LIVE_USERS     60000 (1000..100000000)
 *
 * A flag wins over the environment (and `serve`'s positional PORT sits between --port and $PORT);
 * an environment variable set to the empty string counts as unset. A bad value is an InvalidInput
 * that names where it came from and what is allowed:
 * `the PORT environment variable must be an integer in 0..65535, got "70000"`.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { invalidInput } from './errors.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Sizes of answers, the same for every deployment (the HTTP contract and its OpenAPI document
 * state them): a recommendation or similar-items list holds `defaultLimit` items unless `limit`
 * asks for 1..`maxLimit`.
 */
export const LIMITS = Object.freeze({
  defaultLimit: 10,
  maxLimit: 1000,
  /**
   * The range every stored rating value must lie in (HTTP, `ridgerec import`, the library's
   * Store.addRatings): a finite value far outside any rating scale (1e308) makes the normal
   * equations overflow to Infinity and every later training diverge.
   */
  minRatingValue: -1e6,
  maxRatingValue: 1e6,
});

/** An integer in min..max, from a string of digits (environment, flags) or a number (callers). */
function integer(min: number, max: number) {
  const error = `must be an integer in ${min}..${max}`;
  return z
    .union([z.number({ error }), z.string({ error }).regex(/^\d+$/, { error }).transform(Number)], { error })
    .pipe(z.number().int({ error }).min(min, { error }).max(max, { error }));
}

const booleanError = 'must be one of 1, true, yes, 0, false, no (any case)';
const boolean = z.union(
  [
    z.boolean({ error: booleanError }),
    z
      .string({ error: booleanError })
      .transform((v) => v.toLowerCase())
      .pipe(z.enum(['1', 'true', 'yes', '0', 'false', 'no'], { error: booleanError }))
      .transform((v) => v === '1' || v === 'true' || v === 'yes'),
  ],
  { error: booleanError },
);

/** Writes per window per client when RIDGEREC_RATE_LIMIT is unset and the server is not on loopback. */
export const DEFAULT_RATE_LIMIT = 600;

const logLevelError = `must be one of ${LOG_LEVELS.join(', ')} (any case)`;

/** The settings with their rules and defaults (the only place a default is written). */
const ConfigSchema = z.object({
  db: z.string({ error: 'must be a file path' }).min(1, { error: 'must be a non-empty file path' }).default('./data/ridgerec.db'),
  port: integer(0, 65535).default(3000),
  host: z
    .string({ error: 'must be a host name or an IP address' })
    .regex(/^[^\s/]+$/, { error: 'must be a host name or an IP address' })
    .default('127.0.0.1'),
  apiKey: z.string().nullable().default(null),
  logLevel: z
    .string({ error: logLevelError })
    .transform((level) => level.toLowerCase())
    .pipe(z.enum(LOG_LEVELS, { error: logLevelError }))
    .default('info'),
  pollMs: integer(100, 3_600_000).default(2000),
  writeDeadlineMs: integer(0, 60_000).default(2000),
  maxLiveUsers: integer(1000, 100_000_000).default(60_000),
  allowOpenWrites: boolean.default(false),
  /** null: decided by the bind address (off on loopback, DEFAULT_RATE_LIMIT elsewhere). */
  rateLimit: integer(0, 1_000_000).nullable().default(null),
  rateLimitWindowMs: integer(1000, 86_400_000).default(60_000),
});

type Setting = keyof z.input<typeof ConfigSchema>;

/** Where each setting can come from: its flag and its environment variable. */
const SOURCES: Readonly<Record<Setting, { readonly flag?: string; readonly env: string }>> = {
  db: { flag: '--db', env: 'RIDGEREC_DB' },
  port: { flag: '--port', env: 'PORT' },
  host: { flag: '--host', env: 'HOST' },
  apiKey: { env: 'RIDGEREC_API_KEY' },
  logLevel: { env: 'LOG_LEVEL' },
  pollMs: { env: 'RIDGEREC_POLL_MS' },
  writeDeadlineMs: { env: 'RIDGEREC_WRITE_DEADLINE_MS' },
  maxLiveUsers: { env: 'RIDGEREC_MAX_LIVE_USERS' },
  allowOpenWrites: { flag: '--allow-open-writes', env: 'RIDGEREC_ALLOW_OPEN_WRITES' },
  rateLimit: { env: 'RIDGEREC_RATE_LIMIT' },
  rateLimitWindowMs: { env: 'RIDGEREC_RATE_LIMIT_WINDOW_MS' },
};

export interface Config {
  /** The SQLite database: an absolute path, or ':memory:'. */
  readonly db: string;
  readonly port: number;
  readonly host: string;
  /** Guards the HTTP write routes when set; null leaves them open. */
  readonly apiKey: string | null;
  /** pino level of the server's logs. */
  readonly logLevel: LogLevel;
  /** How often a server asks the store for a newly activated model, in milliseconds. */
  readonly pollMs: number;
  /**
   * How long a write from the HTTP API (ratings, user deletes, item writes) keeps retrying while
   * another connection holds the database's write lock before it answers 503 busy. The event loop
   * never waits: attempts are spaced with timers.
   */
  readonly writeDeadlineMs: number;
  /**
   * Users the serving core remembers (changed through the API, or folded in), least recently
   * used dropped first. The default, 60,000, is ~50 MB: an entry measures ~875 bytes of heap and
   * ArrayBuffers with k = 64 and its fold-in cached (`npm run bench -- live`), plus 4 bytes per
   * rated item.
   */
  readonly maxLiveUsers: number;
  /** Accept writes without an API key even on a non-loopback address (else such a server is read-only). */
  readonly allowOpenWrites: boolean;
  /** Write requests allowed per client per window; 0 turns the limit off; null: decided by the bind address. */
  readonly rateLimit: number | null;
  /** The rate limit's window in milliseconds. */
  readonly rateLimitWindowMs: number;
  readonly limits: typeof LIMITS;
}

/** The command-line flags that feed the configuration (undefined: not given). */
export interface ConfigFlags {
  readonly db?: string | undefined;
  readonly port?: string | number | undefined;
  /** `serve`'s positional PORT: below --port, above $PORT. */
  readonly portArgument?: string | undefined;
  readonly host?: string | undefined;
  /** --allow-open-writes (true when given). */
  readonly allowOpenWrites?: boolean | undefined;
}

/** The defaults (the database path as written, before it is resolved against the working directory). */
export const DEFAULTS: Omit<Config, 'limits'> = Object.freeze(ConfigSchema.parse({}));

/**
 * Builds the configuration from `flags` and `env` (default: this process's environment), once per
 * process: the CLI calls it at the start of each command. Throws InvalidInput naming the flag,
 * argument or environment variable of the first bad value and the allowed values.
 */
export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Partial<Record<Setting, unknown>> = {};
  const from: Partial<Record<Setting, string>> = {};
  const pick = (setting: Setting, value: unknown, label: string): void => {
    if (value === undefined || setting in raw) return;
    raw[setting] = value;
    from[setting] = label;
  };
  for (const setting of Object.keys(SOURCES) as Setting[]) {
    const { flag, env: name } = SOURCES[setting];
    if (flag !== undefined) pick(setting, flags[setting as keyof ConfigFlags], flag);
    if (setting === 'port') pick(setting, flags.portArgument, 'the PORT argument');
    const value = env[name];
    if (value !== undefined && value !== '') pick(setting, value, `the ${name} environment variable`);
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const setting = issue.path[0] as Setting;
    const value = raw[setting];
    const shown = typeof value === 'string' ? `"${value.length > 60 ? `${value.slice(0, 60)}…` : value}"` : String(value);
    throw invalidInput(`${from[setting] ?? setting} ${issue.message}, got ${shown}`, { setting, source: from[setting] });
  }
  const c = parsed.data;
  return Object.freeze({
    ...c,
    db: c.db === ':memory:' ? c.db : resolve(c.db),
    limits: LIMITS,
  });
}

export { kernelsSetting } from './env.js';
