/**
 * `ridgerec serve [--port N | PORT] [--host 127.0.0.1] [--db PATH]`: serves the HTTP API over the
 * database, polls the model store every 2 s and swaps in a newly activated model, and shuts down
 * gracefully on SIGTERM/SIGINT (stops accepting, lets requests in flight finish, then closes the
 * recommender and the database). `start` (npm start) reuses startServer/serveUntilSignal.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { pino, type Logger } from 'pino';
import { invalidInput } from '../errors.js';
import { createApp } from '../http/app.js';
import { createRecommender, type Recommender } from '../serving/recommender.js';
import type { Store } from '../store/store.js';
import { intArg, openFromFlags, runCommand, withDbOption } from './common.js';

export const DEFAULT_PORT = 3000;
export const DEFAULT_HOST = '127.0.0.1';
/** How often the server asks the model store for a newly activated model. */
export const POLL_MS = 2000;
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
  /** RIDGEREC_API_KEY; null/empty leaves the write routes open. */
  readonly apiKey?: string | null;
  readonly logger?: Logger;
  readonly pollMs?: number;
}

/** The port: --port, else the positional PORT, else $PORT, else 3000 (each checked, 0..65535). */
export function resolvePort(flag: number | undefined, positional: string | undefined, env: NodeJS.ProcessEnv = process.env): number {
  if (flag !== undefined) return flag;
  const raw = positional ?? env.PORT;
  if (raw === undefined || raw === '') return DEFAULT_PORT;
  const what = positional !== undefined ? 'PORT argument' : 'PORT environment variable';
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) throw invalidInput(`the ${what} must be an integer in 0..65535, got "${raw}"`);
  return Number(raw);
}

export function defaultLogger(): Logger {
  return pino({ level: process.env.LOG_LEVEL ?? 'info' });
}

export async function startServer(options: StartServerOptions): Promise<ServerHandle> {
  const logger = options.logger ?? defaultLogger();
  const recommender = createRecommender({
    store: options.store,
    onSwap: (from, to) => logger.info({ from, to }, `model swapped: ${from ?? 'none'} → ${to ?? 'none'}`),
  });
  recommender.startPolling(options.pollMs ?? POLL_MS);
  const app = createApp({
    recommender,
    apiKey: options.apiKey ?? null,
    logger,
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

export interface ServeFlags {
  db?: string;
  port?: number;
  host?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .description('serve the HTTP API (hot-reloads newly activated models every 2 s; RIDGEREC_API_KEY guards writes)')
    .argument('[PORT]', `port to listen on (default: $PORT or ${DEFAULT_PORT})`)
    .option('--port <n>', 'port to listen on (wins over PORT)', intArg('--port', 0, 65535))
    .option('--host <address>', `address to bind (default: ${DEFAULT_HOST})`, DEFAULT_HOST);
  withDbOption(cmd).action((positional: string | undefined, opts: ServeFlags) =>
    runCommand(async () => {
      const port = resolvePort(opts.port, positional);
      const host = opts.host ?? DEFAULT_HOST;
      const store = openFromFlags(opts);
      const logger = defaultLogger();
      let handle: ServerHandle;
      try {
        handle = await startServer({ store, port, host, apiKey: process.env.RIDGEREC_API_KEY ?? null, logger });
      } catch (e) {
        store.close();
        throw e;
      }
      const model = handle.recommender.modelId();
      process.stdout.write(
        `ridgerec listening on ${handle.url} (model ${model ?? 'none yet: run `ridgerec train`; the server picks it up within 2 s'})\n`,
      );
      await serveUntilSignal(handle, store, logger);
    }),
  );
}
