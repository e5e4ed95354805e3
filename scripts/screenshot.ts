/**
 * `npm run screenshot`: regenerates the README's dashboard pictures (docs/dashboard.png, the
 * Training view; docs/dashboard-try.png, Try it) from a fresh demo shop in a temporary database:
 * train as `npm start` does, run the demo's λ tune, serve on a free port, and photograph the
 * views in headless Chromium (Debian's `chromium`, or CHROMIUM_PATH) at 1280×800.
 */
import { mkdirSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { prepareDatabase } from '../src/cli/start.js';
import { startServer } from '../src/cli/serve.js';
import { openDatabase } from '../src/db/connection.js';
import { startBackgroundTune } from '../src/demo/tune.js';
import { storeFromDb } from '../src/store/store.js';
import { CHROMIUM, launch, openView, SKIP_REASON } from '../test/browser/chromium.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = join(ROOT, 'docs');

async function main(): Promise<void> {
  if (CHROMIUM === null) throw new Error(SKIP_REASON.replace('browser tests skipped', 'cannot take screenshots'));
  const dir = mkdtempSync(join(tmpdir(), 'ridgerec-screenshot-'));
  const path = join(dir, 'shop.db');
  const db = openDatabase(path);
  try {
    await prepareDatabase(db, { say: (l) => console.log(l) });
    const tune = startBackgroundTune({ db: path, cli: ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')], say: (l) => console.log(l) });
    // The tune's child process does not keep this process alive by itself (a server does that).
    const keepAlive = setInterval(() => {}, 1000);
    const done = await tune.finished.finally(() => clearInterval(keepAlive));
    if (done.state !== 'done') throw new Error(`the tune failed: ${done.error}`);
    const server = await startServer({ store: storeFromDb(db), port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }) });
    const browser = await launch();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      mkdirSync(OUT, { recursive: true });
      for (const [view, file] of [
        ['training', 'dashboard.png'],
        ['try', 'dashboard-try.png'],
      ] as const) {
        await openView(page, server.url, view);
        await page.screenshot({ path: join(OUT, file), fullPage: view === 'training' });
        console.log(`wrote docs/${file}`);
      }
    } finally {
      await browser.close();
      await server.close();
    }
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
