/**
 * The dashboard in a real browser (headless Debian Chromium through playwright-core):
 *   - a fresh `npm start` (the real CLI in a child process, empty database): every view loads with
 *     no console error, no failed request and no 4xx/5xx, and the background λ tune's curve appears;
 *   - a demo-shop server started here on a free port: the Overview's model id, one loss point per
 *     iteration, the λ curve after a small `tune`, Try it for demo-1, a hiking basket, deactivating
 *     a product, activate/rollback, the API-key prompt, keyboard navigation, 360 px without sideways
 *     scrolling, axe (no serious or critical violations) and screenshots of every view at 1280×800
 *     and 390×844 in screenshots/dashboard/.
 * Skipped, saying so, where no Chromium binary is found (see chromium.ts).
 */
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { pino } from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDatabase } from '../../src/cli/start.js';
import { startServer, type ServerHandle } from '../../src/cli/serve.js';
import { openDatabase, type Db } from '../../src/db/connection.js';
import { fit } from '../../src/model/fit.js';
import { saveModel } from '../../src/model/registry.js';
import { loadMatrix } from '../../src/ratings/store.js';
import { storeFromDb } from '../../src/store/store.js';
import { runCli, startCli, type RunningCli } from '../cli/spawn-cli.js';
import { tempDir, type TempDir } from '../helpers/temp.js';
import { CHROMIUM, launch, openView, screenshotPath, SCREENSHOTS, watch, type Problems } from './chromium.js';

const VIEWS = ['overview', 'training', 'try', 'catalogue', 'models'] as const;
const silent = pino({ level: 'silent' });

type Doc = { document: { activeElement: { textContent: string | null } | null; documentElement: { scrollWidth: number } } };
type Win = {
  dashboard: { charts: Record<string, { data: (number | null)[][]; series: unknown[]; bands?: unknown[] }> };
};

const suite = describe.skipIf(CHROMIUM === null);

/** Waits (polling every 50 ms) until check() holds; fails after timeoutMs. */
async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

suite('dashboard on a fresh `npm start`', () => {
  let tmp: TempDir;
  let cli: RunningCli;
  let browser: Browser;

  beforeAll(async () => {
    tmp = tempDir('ridgerec-browser-start-');
    [cli, browser] = await Promise.all([startCli(['start', '--port', '0', '--db', join(tmp.dir, 'fresh.db')], {}, 60_000), launch()]);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await cli?.stop();
    tmp.cleanup();
  });

  it('loads every view with no console error, no failed request and no 4xx/5xx; the background λ curve appears', async () => {
    expect(cli.stdout()).toContain(`dashboard: open ${cli.url}/ in a browser`);
    await until(() => /tuning λ in the background/.test(cli.stdout()), 10_000);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const problems = watch(page);
    for (const view of VIEWS) await openView(page, cli.url, view);
    // The Training view waits for the background tune and then draws its curve.
    await openView(page, cli.url, 'training');
    await page.waitForFunction(() => (globalThis as unknown as Win).dashboard.charts.lambda !== undefined, null, { timeout: 120_000 });
    const lambdas = await page.evaluate(() => (globalThis as unknown as Win).dashboard.charts.lambda!.data[0]);
    expect(lambdas).toEqual([1, 3, 10, 20, 40]);
    await until(() => /background tune finished: best ndcg@10/.test(cli.stdout()), 10_000);
    await page.reload();
    await openView(page, cli.url, 'overview');
    expect(problems.list).toEqual([]);
  }, 180_000);
});

suite('dashboard against a demo-shop server', () => {
  let tmp: TempDir;
  let db: Db;
  let dbPath: string;
  let handle: ServerHandle;
  let keyed: ServerHandle;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: Problems;
  let base: string;
  let first: number;
  let second: number;
  let iterations: number;

  beforeAll(async () => {
    tmp = tempDir('ridgerec-browser-');
    dbPath = join(tmp.dir, 'shop.db');
    db = openDatabase(dbPath);
    const [report, b] = await Promise.all([prepareDatabase(db), launch()]);
    browser = b;
    first = report.model;
    iterations = report.trained!.iterations;
    // A second, different model to activate and roll back.
    second = saveModel(db, await fit(loadMatrix(db), { feedback: 'implicit', factors: 16, lambda: 5, iterations: 5, seed: 3, threads: 1 }));
    const store = storeFromDb(db);
    handle = await startServer({ store, port: 0, host: '127.0.0.1', logger: silent, pollMs: 60_000 });
    keyed = await startServer({ store, port: 0, host: '127.0.0.1', logger: silent, pollMs: 60_000, apiKey: 'k3y' });
    base = handle.url;
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    problems = watch(page);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await handle?.close();
    await keyed?.close();
    if (db?.open) db.close();
    tmp?.cleanup();
  });

  it('Overview shows the active model id', async () => {
    await openView(page, base, 'overview');
    expect(await page.textContent('#overview-model-id')).toBe(String(first));
    expect(await page.textContent('#model-badge')).toBe(`model ${first}`);
    expect(problems.list).toEqual([]);
  });

  it('Training draws one loss point per iteration, then the λ curve after a small tune', async () => {
    await openView(page, base, 'training');
    const loss = await page.evaluate(() => (globalThis as unknown as Win).dashboard.charts.loss!.data);
    expect(loss[0]).toEqual(Array.from({ length: iterations }, (_, i) => i + 1));
    expect(loss).toHaveLength(4); // iterations, data loss, λ·penalty, J(w)
    for (let i = 0; i < iterations; i++) {
      expect(loss[1]![i]! + loss[2]![i]!).toBeCloseTo(loss[3]![i]!, 3);
      expect(loss[2]![i]).toBeGreaterThan(0);
    }
    expect(await page.getAttribute('figure:has(canvas)', 'data-points')).toBe(String(iterations));
    expect(await page.textContent('#lambda-empty')).toContain('npx ridgerec tune');

    const tune = await runCli([
      'tune',
      '--db',
      dbPath,
      '--feedback',
      'implicit',
      '--grid',
      'lambda=5,20,60 factors=8,16',
      '--folds',
      '2',
      '--iterations',
      '4',
      '--jobs',
      '2',
    ]);
    expect(tune.code, tune.stderr).toBe(0);
    await openView(page, base, 'overview');
    await openView(page, base, 'training');
    const lambda = await page.evaluate(() => {
      const u = (globalThis as unknown as Win).dashboard.charts.lambda!;
      return { data: u.data, series: u.series.length, bands: u.bands?.length ?? 0 };
    });
    expect(lambda.data[0]).toEqual([5, 20, 60]);
    // x, 2 factor lines, 2×(mean+std, mean−std) band edges, the chosen point.
    expect(lambda.series).toBe(1 + 2 + 4 + 1);
    expect(lambda.bands).toBe(2);
    for (const line of [1, 2]) expect(lambda.data[line]!.every((v) => typeof v === 'number' && v > 0 && v < 1)).toBe(true);
    expect(lambda.data[3]!.every((v, i) => v! >= lambda.data[1]![i]!)).toBe(true); // mean + std ≥ mean
    const chosen = lambda.data.at(-1)!.filter((v) => v !== null);
    expect(chosen).toHaveLength(1);
    expect(Math.max(...lambda.data[1]!.map(Number), ...lambda.data[2]!.map(Number))).toBeCloseTo(chosen[0]!, 12);
    const train = await page.evaluate(() => (globalThis as unknown as Win).dashboard.charts.train!.data);
    expect(train[0]).toEqual([5, 20, 60]);
    expect(train.slice(1, 3).every((s) => s.every((v) => typeof v === 'number' && v > 0))).toBe(true);
    expect(problems.list).toEqual([]);
  }, 90_000);

  /** The items of a result list: id, title, "because" items. */
  async function results(selector: string): Promise<{ item: string; title: string; because: number }[]> {
    return page.$$eval(`${selector} li.rec`, (lis) =>
      lis.map((li) => ({
        item: (li as unknown as { dataset: Record<string, string> }).dataset.item!,
        title: li.querySelector('.title')?.textContent ?? '',
        because: li.querySelectorAll('.because-item').length,
      })),
    );
  }

  it('Try it: demo-1 gets 10 titled products, mostly gaming, each with "because" items', async () => {
    await openView(page, base, 'try');
    const recs = await results('#user-results');
    expect(recs).toHaveLength(10);
    for (const r of recs) {
      expect(r.title).not.toBe('');
      expect(r.title).not.toBe(r.item);
      expect(r.because).toBeGreaterThan(0);
    }
    expect(recs.filter((r) => r.item.startsWith('gaming-')).length).toBeGreaterThanOrEqual(7);
    expect(await page.textContent('#user-results pre')).toBe(`curl -s '${base}/v1/users/demo-1/recommendations?limit=10&explain=3'`);
    expect(problems.list).toEqual([]);
  });

  it('Try it: three hiking products clicked into a basket give hiking recommendations', async () => {
    await openView(page, base, 'try');
    await page.selectOption('#basket-category', 'hiking');
    await page.waitForSelector('#basket-products li button');
    const buttons = await page.$$('#basket-products li button');
    for (const b of buttons.slice(0, 3)) await b.click();
    await page.waitForSelector('#basket-results[data-size="3"] li.rec');
    const recs = await results('#basket-results');
    expect(recs).toHaveLength(10);
    const basket = await page.$$eval('#basket-items li[data-item]', (lis) =>
      lis.map((li) => (li as unknown as { dataset: Record<string, string> }).dataset.item!),
    );
    expect(basket).toHaveLength(3);
    expect(basket.every((i) => i.startsWith('hiking-'))).toBe(true);
    expect(recs.some((r) => basket.includes(r.item))).toBe(false);
    expect(recs.filter((r) => r.item.startsWith('hiking-')).length).toBeGreaterThanOrEqual(8);
    expect(await page.textContent('#basket-results pre')).toMatch(
      /^curl -s -X POST '.*\/v1\/recommendations' -H 'Content-Type: application\/json' -d '\{"ratings":\[/,
    );
    expect(problems.list).toEqual([]);
  });

  it('Catalogue: deactivating a product removes it from the next Try-it result', async () => {
    await openView(page, base, 'try');
    const before = await results('#user-results');
    const top = before[0]!.item;
    await openView(page, base, 'catalogue');
    await page.fill('input[name="q"]', top);
    await page.click('form[role="search"] button[type="submit"]');
    await page.waitForSelector(`tr[data-item="${top}"]`);
    expect(Number(await page.textContent(`tr[data-item="${top}"] td.num`))).toBeGreaterThan(0); // its rating count
    await page.click(`tr[data-item="${top}"] button:has-text("Deactivate")`);
    await page.waitForSelector(`tr[data-item="${top}"][data-active="false"]`);
    await openView(page, base, 'try');
    const after = await results('#user-results');
    expect(after).toHaveLength(10);
    expect(after.map((r) => r.item)).not.toContain(top);
    expect(after[0]!.item).toBe(before[1]!.item);
    // Put it back for the other tests.
    const back = await page.request.patch(`${base}/v1/items/${top}`, { data: { active: true } });
    expect(back.status()).toBe(200);
    expect(problems.list).toEqual([]);
  });

  it('Models: activate and roll back switch the model shown on Overview', async () => {
    await openView(page, base, 'models');
    await page.click(`button[aria-label="Activate model ${second}"]`);
    await page.waitForSelector(`text=Model ${second} is active now`);
    await openView(page, base, 'overview');
    expect(await page.textContent('#overview-model-id')).toBe(String(second));
    await openView(page, base, 'models');
    await page.click('#rollback');
    await page.waitForSelector(`text=Model ${first} is active now`);
    await openView(page, base, 'overview');
    expect(await page.textContent('#overview-model-id')).toBe(String(first));
    expect(problems.list).toEqual([]);
  });

  it('asks for the API key once when the server has one, and sends it as a Bearer token', async () => {
    const p = await context.newPage();
    const probs = watch(p);
    const auth: (string | undefined)[] = [];
    p.on('request', (r) => {
      if (r.method() === 'PATCH') auth.push(r.headers().authorization);
    });
    await openView(p, keyed.url, 'catalogue');
    await p.fill('input[name="q"]', 'hiking-001');
    await p.click('form[role="search"] button[type="submit"]');
    await p.click('tr[data-item="hiking-001"] button:has-text("Deactivate")');
    await p.waitForSelector('#key-dialog[open]');
    await p.fill('#key-input', 'k3y');
    await p.press('#key-input', 'Enter');
    await p.waitForSelector('tr[data-item="hiking-001"][data-active="false"]');
    await p.click('tr[data-item="hiking-001"] button:has-text("Activate")');
    await p.waitForSelector('tr[data-item="hiking-001"][data-active="true"]');
    expect(await p.isVisible('#key-dialog')).toBe(false);
    expect(auth).toEqual(['Bearer k3y', 'Bearer k3y']);
    expect(await p.textContent('#catalogue-results ~ div pre')).toContain('-H "Authorization: Bearer $RIDGEREC_API_KEY"');
    expect(probs.list).toEqual([]);
    await p.close();
  });

  it("works under helmet's default Content-Security-Policy too (no inline script or style, nothing from elsewhere)", async () => {
    // helmet() 8's default policy, put on every response in place of the dashboard's own.
    const helmetDefault =
      "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';" +
      "img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';" +
      'upgrade-insecure-requests';
    const p = await context.newPage();
    const probs = watch(p);
    let rewritten = 0;
    await p.route('**/*', async (route) => {
      const response = await route.fetch();
      rewritten++;
      await route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': helmetDefault } });
    });
    for (const view of VIEWS) await openView(p, base, view);
    await openView(p, base, 'training');
    expect(await p.evaluate(() => Object.keys((globalThis as unknown as Win).dashboard.charts).sort())).toEqual([
      'lambda',
      'loss',
      'train',
    ]);
    expect(rewritten).toBeGreaterThan(10);
    expect(probs.list).toEqual([]);
    await p.close();
  });

  it('is keyboard-navigable: skip link, then the views in order; Enter opens one', async () => {
    const p = await context.newPage();
    await openView(p, base, 'overview');
    await p.keyboard.press('Tab');
    expect(await p.evaluate(() => (globalThis as unknown as Doc).document.activeElement?.textContent)).toBe('Skip to content');
    const names: string[] = [];
    for (let i = 0; i < 5; i++) {
      await p.keyboard.press('Tab');
      names.push((await p.evaluate(() => (globalThis as unknown as Doc).document.activeElement?.textContent)) ?? '');
    }
    expect(names).toEqual(['Overview', 'Training', 'Try it', 'Catalogue', 'Models']);
    await p.keyboard.press('Shift+Tab'); // back to Catalogue
    await p.keyboard.press('Enter');
    await p.waitForFunction(
      () => (globalThis as unknown as { dashboard: { view: string; ready: boolean } }).dashboard.view === 'catalogue',
    );
    expect(await p.getAttribute('a[data-view="catalogue"]', 'aria-current')).toBe('page');
    await p.close();
  });

  it('every view: no serious or critical axe violation, no sideways scrolling at 360 px, screenshots at 1280×800 and 390×844', async () => {
    const p = await context.newPage();
    const probs = watch(p);
    for (const [w, hgt] of [
      [1280, 800],
      [390, 844],
      [360, 740],
    ] as const) {
      await p.setViewportSize({ width: w, height: hgt });
      for (const view of VIEWS) {
        await openView(p, base, view);
        if (w === 360) {
          const overflow = await p.evaluate(() => (globalThis as unknown as Doc).document.documentElement.scrollWidth);
          expect(overflow, `${view} at 360 px`).toBeLessThanOrEqual(360);
          continue;
        }
        await p.screenshot({ path: screenshotPath(`${view}-${w}x${hgt}`), fullPage: true });
        if (w === 1280 || view === 'training') {
          const axe = await new AxeBuilder({ page: p }).analyze();
          const bad = axe.violations
            .filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
          expect(bad, `${view} at ${w}×${hgt}`).toEqual([]);
        }
      }
    }
    console.log(`dashboard screenshots: ${SCREENSHOTS}`);
    expect(probs.list).toEqual([]);
    await p.close();
  }, 120_000);
});
