/**
 * Headless Chromium for the browser tests: Debian's `chromium` package (no browser download),
 * driven by playwright-core. `CHROMIUM_PATH` names another binary. Where none is found the browser
 * tests skip, saying so, and the rest of `npm test` runs as usual.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium', '/snap/bin/chromium'];

/** The Chromium binary to drive, or null. */
export function findChromium(): string | null {
  const given = process.env.CHROMIUM_PATH;
  if (given) return existsSync(given) ? given : null;
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export const CHROMIUM = findChromium();
export const SKIP_REASON =
  "browser tests skipped: no Chromium found (install Debian's: `apt-get install -y chromium`, or set CHROMIUM_PATH); .ci/run installs it";
if (CHROMIUM === null) console.warn(SKIP_REASON);

/** Where the screenshots go (gitignored): screenshots/dashboard/ at the repository root. */
export const SCREENSHOTS = fileURLToPath(new URL('../../screenshots/dashboard/', import.meta.url));

export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return join(SCREENSHOTS, `${name}.png`);
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM!,
    headless: true,
    // Root (CI, containers) cannot use Chromium's sandbox.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}

/** Everything that went wrong on a page: console errors, page errors, failed requests, 4xx/5xx. */
export interface Problems {
  readonly list: string[];
}

export function watch(page: Page): Problems {
  const list: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') list.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => list.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => list.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    if (r.status() >= 400) list.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  return { list };
}

/** Opens a view by its hash and waits until it has rendered (window.dashboard.ready). */
export async function openView(page: Page, base: string, view: string): Promise<void> {
  if (page.url().startsWith(base)) {
    await page.evaluate((v) => ((globalThis as unknown as { location: { hash: string } }).location.hash = v), view);
  } else {
    await page.goto(`${base}/#${view}`);
  }
  await page.waitForFunction(
    (v) =>
      (globalThis as unknown as { dashboard?: { view: string; ready: boolean } }).dashboard?.view === v &&
      (globalThis as unknown as { dashboard: { ready: boolean } }).dashboard.ready,
    view,
    {
      timeout: 20_000,
    },
  );
}
