/**
 * `ridgerec serve [--port N | PORT] [--host ADDRESS] [--db PATH]`: serves the HTTP API over the
 * database, polls the model store (every RIDGEREC_POLL_MS, 2 s by default) and swaps in a newly
 * activated model, and shuts down gracefully on SIGTERM/SIGINT (stops accepting, lets requests in
 * flight finish, then closes the recommender and the database). `start` (npm start) reuses
 * serverConfig/startServer/serveUntilSignal, so both read the port, host, API key and log level
 * the same way (src/config.ts).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { pino, type Logger } from 'pino';
import { DEFAULT_RATE_LIMIT, DEFAULTS, loadConfig, type Config } from '../config.js';
import { invalidInput } from '../errors.js';
import { createApp } from '../http/app.js';
import { isLoopbackHost, type RateLimitSettings } from '../http/auth.js';
import { createRecommender, type Recommender } from '../serving/recommender.js';
import { dashboardStore, type TuneProgress } from '../store/dashboard.js';
import { openStore, type SqliteStore, type Store } from '../store/store.js';
import { runCommand, withDbOption } from './common.js';

/** After SIGTERM, connections still open after this long are cut. */
export const SHUTDOWN_GRACE_MS = 10_000;

export interface ServerHandle {
  readonly server: Server;
  readonly recommender: Recommender;
  readonly url: string;
  /** Stops accepting, waits for requests in flight (up to the grace period), stops the recommender. */
  close(): Promise<void>;
}

export interface StartServerOptions {
  readonly store: Store;
  readonly port: number;
  readonly host: string;
  /** null/empty: no key (writes open on loopback; read-only elsewhere unless allowOpenWrites). */
  readonly apiKey?: string | null;
  /** Accept keyless writes on a non-loopback address too. */
  readonly allowOpenWrites?: boolean;
  /** Writes per client per window; 0 off; null/absent: off on loopback, DEFAULT_RATE_LIMIT elsewhere. */
  readonly rateLimit?: number | null;
  readonly rateLimitWindowMs?: number;
  readonly logger?: Logger;
  readonly pollMs?: number;
  /** The serving core's write deadline and live-user cap (src/config.ts); defaults when absent. */
  readonly writeDeadlineMs?: number;
  readonly maxLiveUsers?: number;
  /** A background tuning run's progress, shown by the dashboard (start's demo tune). */
  readonly tuneProgress?: () => TuneProgress | null;
}

/** How a server treats writes, decided from its bind address, API key and --allow-open-writes. */
export interface WritePolicy {
  /** Every write route answers 403 writes_disabled. */
  readonly readOnly: boolean;
  /** The per-client write limit, or null for none. */
  readonly rateLimit: RateLimitSettings | null;
  /** What the operator should read at start (null: nothing to say). */
  readonly warning: string | null;
}

export function writePolicy(
  options: Pick<StartServerOptions, 'host' | 'apiKey' | 'allowOpenWrites' | 'rateLimit' | 'rateLimitWindowMs'>,
): WritePolicy {
  const loopback = isLoopbackHost(options.host);
  const keyed = options.apiKey !== undefined && options.apiKey !== null && options.apiKey !== '';
  const readOnly = !loopback && !keyed && !options.allowOpenWrites;
  const limit = options.rateLimit ?? (loopback ? 0 : DEFAULT_RATE_LIMIT);
  const rateLimit = limit > 0 ? { limit, windowMs: options.rateLimitWindowMs ?? DEFAULTS.rateLimitWindowMs } : null;
  let warning: string | null = null;
  if (readOnly) {
    warning =
      `warning: listening on ${options.host} (not loopback) without RIDGEREC_API_KEY: the server is read-only, ` +
      'every write route answers 403 writes_disabled; set RIDGEREC_API_KEY to accept writes with that key, ' +
      'or pass --allow-open-writes to accept them from anyone';
  } else if (!loopback && !keyed) {
    warning = `warning: listening on ${options.host} (not loopback) without RIDGEREC_API_KEY and with --allow-open-writes: anyone who can reach it can write`;
  }
  return { readOnly, rateLimit, warning };
}

/** The flags `serve` and `start` share; port and host as typed (src/config.ts checks them). */
export interface ServeFlags {
  db?: string;
  port?: string;
  host?: string;
  allowOpenWrites?: boolean;
}

/** The configuration of a server command: --port, then the positional PORT, then $PORT; --host, then $HOST. */
export function serverConfig(opts: ServeFlags, portArgument?: string, env?: NodeJS.ProcessEnv): Config {
  return loadConfig({ db: opts.db, port: opts.port, portArgument, host: opts.host, allowOpenWrites: opts.allowOpenWrites }, env);
}

/**
 * The server's logger: pino JSON lines on stdout at the configured level, written asynchronously
 * (sonic-boom): a line is handed to the kernel as soon as the previous write completes, so under
 * load many lines go out in one write instead of one blocking write per request. pino flushes
 * what is pending when the process exits.
 */
export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({ level: config.logLevel }, pino.destination({ dest: 1, sync: false }));
}

/** Adds --port and --host, described with their defaults and environment variables. */
export function withServerOptions(cmd: Command): Command {
  return cmd
    .option('--port <n>', `port to listen on, 0..65535 (default: $PORT or ${DEFAULTS.port})`)
    .option('--host <address>', `address to bind (default: $HOST or ${DEFAULTS.host})`)
    .option(
      '--allow-open-writes',
      'accept writes without RIDGEREC_API_KEY on a non-loopback address (else such a server is read-only; $RIDGEREC_ALLOW_OPEN_WRITES)',
    );
}

/** Opens the configured store and serves it until SIGTERM/SIGINT; `prepare` runs first (start's demo and training). */
export async function serveConfigured(
  config: Config,
  banner: (handle: ServerHandle, store: SqliteStore) => string,
  prepare?: (store: SqliteStore) => Promise<void>,
  extras: { tuneProgress?: () => TuneProgress | null; afterListen?: (handle: ServerHandle, store: SqliteStore) => void } = {},
): Promise<void> {
  const store = openStore(config.db);
  const logger = createLogger(config);
  let handle: ServerHandle;
  try {
    await prepare?.(store);
    handle = await startServer({
      store,
      port: config.port,
      host: config.host,
      apiKey: config.apiKey,
      allowOpenWrites: config.allowOpenWrites,
      rateLimit: config.rateLimit,
      rateLimitWindowMs: config.rateLimitWindowMs,
      logger,
      pollMs: config.pollMs,
      writeDeadlineMs: config.writeDeadlineMs,
      maxLiveUsers: config.maxLiveUsers,
      ...(extras.tuneProgress ? { tuneProgress: extras.tuneProgress } : {}),
    });
  } catch (e) {
    store.close();
    throw e;
  }
  const { warning } = writePolicy(config);
  if (warning !== null) process.stderr.write(`ridgerec: ${warning}\n`);
  process.stdout.write(banner(handle, store));
  extras.afterListen?.(handle, store);
  await serveUntilSignal(handle, store, logger);
}

export async function startServer(options: StartServerOptions): Promise<ServerHandle> {
  const logger = options.logger ?? createLogger(DEFAULTS);
  const recommender = createRecommender({
    store: options.store,
    onSwap: (from, to) => logger.info({ from, to }, `model swapped: ${from ?? 'none'} → ${to ?? 'none'}`),
    ...(options.writeDeadlineMs === undefined ? {} : { writeDeadlineMs: options.writeDeadlineMs }),
    ...(options.maxLiveUsers === undefined ? {} : { maxLiveUsers: options.maxLiveUsers }),
  });
  recommender.startPolling(options.pollMs ?? DEFAULTS.pollMs);
  const policy = writePolicy(options);
  const db = (options.store as Partial<SqliteStore>).db;
  const app = createApp({
    recommender,
    apiKey: options.apiKey ?? null,
    readOnly: policy.readOnly,
    rateLimit: policy.rateLimit,
    logger,
    ...(db ? { dashboard: dashboardStore(db, options.tuneProgress ? { tuneProgress: options.tuneProgress } : {}) } : {}),
  });
  const server = app.listen(options.port, options.host);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (e) {
    await recommender.close();
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE')
      throw invalidInput(`port ${options.port} on ${options.host} is already in use; pick another with --port`);
    if (err.code === 'EACCES') throw invalidInput(`no permission to listen on port ${options.port}; use a port above 1023`);
    throw e;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await new Promise<void>((resolve) => {
        // close() stops accepting and (Node ≥ 19) drops idle keep-alive sockets; requests in
        // flight finish. Anything still open after the grace period is cut.
        const timer = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
      await recommender.close();
    })();
    return closing;
  };
  return { server, recommender, url, close };
}

/**
 * Runs until SIGTERM or SIGINT, then closes the server (requests in flight finish), the
 * recommender and the database, and exits 0.
 */
export function serveUntilSignal(handle: ServerHandle, store: Store, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      logger.info({ signal }, `${signal}: finishing requests in flight, then exiting`);
      void handle
        .close()
        .then(() => {
          store.close();
          logger.info('stopped');
          logger.flush();
          resolve();
        })
        .catch((e: unknown) => {
          logger.error({ err: e }, 'error while shutting down');
          process.exitCode = 1;
          resolve();
        });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .description('serve the HTTP API (hot-reloads newly activated models; RIDGEREC_API_KEY guards writes)')
    .argument('[PORT]', `port to listen on (default: $PORT or ${DEFAULTS.port}; --port wins)`);
  withDbOption(withServerOptions(cmd)).action((positional: string | undefined, opts: ServeFlags) =>
    runCommand(async () => {
      const config = serverConfig(opts, positional);
      const seconds = config.pollMs / 1000;
      await serveConfigured(config, (handle) => {
        const model = handle.recommender.modelId();
        return `ridgerec listening on ${handle.url} (model ${model ?? `none yet: run \`ridgerec train\`; the server picks it up within ${seconds} s`})\n`;
      });
    }),
  );
}
