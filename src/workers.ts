/**
 * Starting a worker_threads Worker on one of ridgerec's own modules, whether ridgerec runs from
 * dist/ (plain JavaScript) or from its TypeScript sources under vitest/tsx. Training, tuning and
 * the serving precompute all start their workers here.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** True when this module (and so every module of ridgerec) runs from src/*.ts rather than dist/. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');

/**
 * Starts a worker on `entry`, the compiled file's URL beside the caller
 * (`new URL('./worker.js', import.meta.url)`). From dist/ that file is run as is. From the sources
 * the sibling .ts file is run instead: Node 20 does not apply `--import` hooks to a worker's entry,
 * so the entry becomes a tiny ESM bootstrap that registers tsx's ESM API (a devDependency) and then
 * imports the .ts file. That bootstrap registers tsx itself, so the worker gets an empty execArgv
 * (not the parent's tsx loader flags, which would load tsx a second time) unless `options` says
 * otherwise.
 */
export function spawnWorker(entry: URL, options: WorkerOptions = {}): Worker {
  if (!FROM_SOURCE) return new Worker(entry, options);
  const source = new URL(entry.href.replace(/\.js$/, '.ts'));
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `(await import(${JSON.stringify(tsxApi)})).register(); await import(${JSON.stringify(source.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { execArgv: [], ...options });
}
