/**
 * The package as a user gets it. `npm pack` (which runs `prepare`, i.e. the build), then
 * `npm install --omit=dev <tarball>` into a new project in a temp dir, from the npm cache where it
 * can (--prefer-offline). Then, in that project, with none of ridgerec's devDependencies (no tsx,
 * no vitest, no TypeScript sources):
 *   (a) an ESM script imports { fit, Model } from 'ridgerec', fits MovieLens 100K u1.base,
 *       recommends, saves, loads and gets identical results — the same as the sources give;
 *   (b) tsc (strict, NodeNext, library checking on) accepts a file that uses the public types,
 *       and the types are real (expected errors are errors, not `any`);
 *   (c) `npx ridgerec import` + `npx ridgerec retrain --json` run from the installed bin;
 *   (d) the README's "Use it as a library" example runs as written.
 *
 * better-sqlite3's native addon: a real install compiles it from source (≈ 2.5 min on two cores,
 * no prebuilt binary offline), which is better-sqlite3's business, not this package's. The install
 * here skips install scripts and copies the addon the repository's own `npm ci` built, when the
 * versions match; otherwise it runs `npm rebuild better-sqlite3` (the slow, compiling path).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fit } from '../../src/index.js';
import { tempDir, type TempDir } from '../helpers/temp.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ML_DIR = join(ROOT, '../shared/data/ml-100k');
const U1_BASE = join(ML_DIR, 'u1.base');
const U_DATA = join(ML_DIR, 'u.data');
const haveMl = existsSync(U1_BASE) && existsSync(U_DATA);
if (!haveMl) console.log(`package test: skipping the MovieLens 100K parts (a, c): ${ML_DIR} is absent`);

/** Generous: the install and the builds share two cores with the rest of the suite. */
const SLOW = 240_000;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/** The environment for child processes: no npm lifecycle variables that would point npm back at the repository. */
function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_package_|npm_lifecycle_|npm_config_local_prefix$|INIT_CWD$|NODE_OPTIONS$|VITEST)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function run(cmd: string, args: readonly string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  const started = performance.now();
  const child = spawn(cmd, args, { cwd, env: childEnv(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 }));
  });
}

/** Runs and fails with the command's output when it does not exit 0. */
async function ok(cmd: string, args: readonly string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  const r = await run(cmd, args, cwd, extraEnv);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

function readTsv(file: string): { user: string; item: string; value: number }[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [user, item, value] = line.split('\t');
      return { user: user!, item: item!, value: Number(value) };
    });
}

/** Every .js file under dir. */
function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.js'))
    .map((e) => join(e.parentPath, e.name));
}

/** Bare specifiers of the import statements and dynamic imports of an ES module (not those in comments). */
function bareImports(source: string): string[] {
  const found = new Set<string>();
  const patterns = [
    /^\s*(?:import|export)\s+(?:type\s+)?(?:[\w$]+\s*,\s*)?(?:\{[^}]*\}|\*(?:\s+as\s+[\w$]+)?|[\w$]+)\s+from\s+['"]([^'"]+)['"]/gm,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) if (!m[1]!.startsWith('.')) found.add(m[1]!);
  return [...found];
}

/** The fenced code block that follows `marker` in the README. */
function readmeBlock(readme: string, marker: string): string {
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no ${marker}`);
  const m = /```(?:js|javascript|mjs)\n([\s\S]*?)\n```/.exec(readme.slice(at));
  if (!m) throw new Error(`no fenced js block after ${marker} in README.md`);
  return m[1]!;
}

/** A MovieLens-format file (user \t item \t stars \t time) for the README example when ML-100K is absent: two taste groups. */
function syntheticMovieLens(file: string): void {
  let s = 12345;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const lines: string[] = [];
  for (let u = 1; u <= 120; u++) {
    for (let i = 1; i <= 80; i++) {
      if (rand() > 0.35) continue;
      const likes = u % 2 === i % 2;
      const stars = Math.min(5, Math.max(1, (likes ? 4 : 2) + Math.round(rand() * 2 - 1)));
      lines.push(`${u}\t${i}\t${stars}\t${880000000 + lines.length}`);
    }
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

const FIT_SCRIPT = `
import { fit, Model } from 'ridgerec';
import { readFileSync } from 'node:fs';

const ratings = readFileSync(process.env.U1_BASE, 'utf8').trim().split('\\n').map((line) => {
  const [user, item, value] = line.split('\\t');
  return { user, item, value: Number(value) };
});
const users = JSON.parse(process.env.USERS);
const model = await fit(ratings, { factors: 16, iterations: 5, threads: 2, seed: 7 });
const answers = (m) => ({
  recs: m.recommendBatch(users, { limit: 10 }),
  similar: m.similarItems('50', { limit: 10 }),
  basket: m.recommendFor([{ item: '50', value: 5 }, { item: '181', value: 5 }], { limit: 10 }),
  vector: Array.from(m.userVector(users[0])),
});
const fitted = answers(model);
await model.save(process.env.MODEL_FILE);
const loaded = Model.load(process.env.MODEL_FILE);
console.log(JSON.stringify({ info: { feedback: model.info.feedback, nUsers: model.info.nUsers, nItems: model.info.nItems, factors: model.info.factors }, fitted, loaded: answers(loaded) }));
`;

const TYPES_FILE = `
import express from 'express';
import {
  createRecommender,
  createRouter,
  fit,
  Model,
  openStore,
  readModelFileHeader,
  NotFound,
  type IterationStats,
  type ModelFileHeader,
  type ModelInfo,
  type ModelRecord,
  type Rating,
  type Recommendation,
  type Recommender,
  type RouterDeps,
  type ScoredItem,
  type SimilarItems,
  type Store,
  type TrainParams,
} from 'ridgerec';

const ratings: Rating[] = [
  { user: 'ann', item: 'dune', value: 5 },
  { user: 'bob', item: 'dune', value: 4 },
  { user: 'bob', item: 'emma', value: 2 },
];
const params: Partial<TrainParams> = { feedback: 'explicit', factors: 4, iterations: 2 };
const seen: number[] = [];
const model: Model = await fit(ratings, params, { onIteration: (s: IterationStats) => seen.push(s.loss) });
const rec: Recommendation = model.recommend('ann', { limit: 3, exclude: ['emma'], includeRated: false });
const top: ScoredItem | undefined = rec.items[0];
const similar: SimilarItems = model.similarItems('dune', { limit: 2 });
const info: ModelInfo = model.info;
const vector: Float32Array | null = model.userVector('ann');
await model.save('model.ridgerec');
const again: Model = Model.load('model.ridgerec');
const header: ModelFileHeader = readModelFileHeader(model.toBuffer());

const store: Store = openStore(':memory:');
const id: number = store.saveModel(again, { activate: true });
const records: ModelRecord[] = store.list();
const recommender: Recommender = createRecommender({ store });
const deps: RouterDeps = { recommender, apiKey: 'secret' };
const app = express();
app.use('/recs', createRouter(deps));

try {
  model.similarItems('nope');
} catch (e) {
  if (e instanceof NotFound) console.log(e.code.toUpperCase());
}

// The types are real, not any: each of these must be an error.
// @ts-expect-error limit is a number
model.recommend('ann', { limit: '3' });
// @ts-expect-error a rating's value is a number
void fit([{ user: 'ann', item: 'dune', value: '5' }]);
// @ts-expect-error createRouter needs a recommender
createRouter({ apiKey: 'secret' });
// @ts-expect-error the store has no such method
store.dropEverything();
// @ts-expect-error factors is a number
const wrong: Partial<TrainParams> = { factors: 'many' };

export { top, similar, info, vector, header, id, records, wrong, seen };
`;

describe('the packed and installed package', () => {
  let tmp: TempDir;
  let app: string;
  let tarballFiles: string[];
  let pkg: { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    const started = performance.now();
    tmp = tempDir('ridgerec-package-');
    pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const packDir = join(tmp.dir, 'pack');
    mkdirSync(packDir);
    const pack = await ok('npm', ['pack', '--json', '--pack-destination', packDir], ROOT);
    timings.pack = pack.seconds;
    const packed = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    tarballFiles = packed[0]!.files.map((f) => f.path);
    const tarball = join(packDir, packed[0]!.filename);

    app = join(tmp.dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'ridgerec-consumer', private: true, type: 'module' }, null, 2));
    const install = await ok(
      'npm',
      ['install', '--omit=dev', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', tarball],
      app,
    );
    timings.install = install.seconds;

    // better-sqlite3's addon (see the header comment).
    const theirs = join(app, 'node_modules/better-sqlite3');
    const ours = join(ROOT, 'node_modules/better-sqlite3');
    const version = (dir: string) => (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    const addon = 'build/Release/better_sqlite3.node';
    const nativeStarted = performance.now();
    if (existsSync(join(ours, addon)) && version(theirs) === version(ours)) {
      mkdirSync(join(theirs, 'build/Release'), { recursive: true });
      copyFileSync(join(ours, addon), join(theirs, addon));
    } else {
      console.log(`package test: compiling better-sqlite3 ${version(theirs)} (the repository has another version)`);
      await ok('npm', ['rebuild', 'better-sqlite3', '--foreground-scripts=false'], app);
    }
    timings.native = (performance.now() - nativeStarted) / 1000;
    timings.setup = (performance.now() - started) / 1000;
  }, SLOW);

  afterAll(() => {
    const fmt = Object.entries(timings)
      .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
      .join(', ');
    console.log(`package test timings: ${fmt}`);
    tmp?.cleanup();
  });

  it('the tarball holds package.json, README, bin, dist (code, declarations, workers) and migrations, and no sources, tests or scripts', () => {
    for (const f of ['package.json', 'README.md', 'bin/ridgerec.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js']) {
      expect(tarballFiles).toContain(f);
    }
    // Worker entry points are loaded by URL at run time, so nothing else would notice they are missing.
    for (const f of ['dist/training/worker.js', 'dist/serving/precompute-worker.js', 'dist/eval/tune-worker.js']) {
      expect(tarballFiles).toContain(f);
    }
    const migrations = readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql'));
    expect(migrations.length).toBeGreaterThan(0);
    for (const f of migrations) expect(tarballFiles).toContain(`migrations/${f}`);
    const strays = tarballFiles.filter((f) => /^(src|test|scripts|\.ci|node_modules)\//.test(f) || /(^|\/)tsconfig.*\.json$/.test(f));
    expect(strays).toEqual([]);
  });

  it('the installed package needs only its dependencies and Node: no compiled module imports a devDependency', () => {
    const installed = join(app, 'node_modules/ridgerec');
    const allowed = new Set([...Object.keys(pkg.dependencies), ...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    const offenders: string[] = [];
    const files = jsFiles(join(installed, 'dist'));
    expect(files.length).toBeGreaterThan(20);
    for (const file of [...files, join(installed, 'bin/ridgerec.js')]) {
      for (const spec of bareImports(readFileSync(file, 'utf8'))) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!allowed.has(name)) offenders.push(`${relative(installed, file)}: ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
    // ...and the project really has none of them: a stray import would have failed above, not been masked.
    for (const dev of ['tsx', 'vitest', 'typescript', 'supertest', 'autocannon']) {
      expect(existsSync(join(app, 'node_modules', dev)), `node_modules/${dev} in the installed project`).toBe(false);
    }
    expect(existsSync(join(installed, 'src'))).toBe(false);
  });

  it.skipIf(!haveMl)(
    "(a) import { fit, Model } from 'ridgerec': fits ML-100K u1.base, and save → load gives identical results, the same as the sources'",
    async () => {
      const script = join(app, 'fit-ml100k.mjs');
      writeFileSync(script, FIT_SCRIPT);
      const users = ['1', '2', '3', '100', '943'];
      const r = await ok(process.execPath, [script], app, {
        U1_BASE,
        USERS: JSON.stringify(users),
        MODEL_FILE: join(app, 'ml100k.ridgerec'),
      });
      timings.fitScript = r.seconds;
      const out = JSON.parse(r.stdout) as {
        info: { feedback: string; nUsers: number; nItems: number; factors: number };
        fitted: { recs: { user: string; source: string; items: { item: string; score: number }[] }[]; vector: number[] };
        loaded: unknown;
      };
      expect(out.info).toEqual({ feedback: 'explicit', nUsers: 943, nItems: 1650, factors: 16 });
      expect(out.loaded).toEqual(out.fitted);

      const ratings = readTsv(U1_BASE);
      const rated = new Set(ratings.filter((x) => x.user === '1').map((x) => x.item));
      expect(out.fitted.recs.map((x) => x.user)).toEqual(users);
      for (const rec of out.fitted.recs) {
        expect(rec.source).toBe('model');
        expect(rec.items).toHaveLength(10);
      }
      expect(out.fitted.recs[0]!.items.filter((x) => rated.has(x.item))).toEqual([]);
      expect(out.fitted.vector).toHaveLength(16);

      // The tarball carries the current code: the sources, fitted the same way, give the same answers.
      const here = await fit(ratings, { factors: 16, iterations: 5, threads: 2, seed: 7 });
      expect(here.recommendBatch(users, { limit: 10 })).toEqual(out.fitted.recs);
    },
    SLOW,
  );

  it(
    '(b) tsc --noEmit (strict, NodeNext, declaration files checked) accepts a program using the public types, and rejects misuse',
    async () => {
      writeFileSync(join(app, 'use-types.ts'), TYPES_FILE);
      writeFileSync(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            noEmit: true,
            skipLibCheck: false,
          },
          files: ['use-types.ts'],
        }),
      );
      const r = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'], app);
      timings.tsc = r.seconds;
      expect(r.stdout + r.stderr).toBe('');
      expect(r.code).toBe(0);
    },
    SLOW,
  );

  it.skipIf(!haveMl)(
    '(c) npx ridgerec import + retrain --json run from the installed bin (no tsx) and exit 0 with the documented JSON',
    async () => {
      const db = join(tmp.dir, 'ml100k.db');
      const imported = await ok('npx', ['--no', '--', 'ridgerec', 'import', U1_BASE, '--db', db, '--json'], app);
      expect(JSON.parse(imported.stdout)).toMatchObject({ rows: 80000, inserted: 80000, users: 943, items: 1650 });

      const r = await run('npx', ['--no', '--', 'ridgerec', 'retrain', '--db', db, '--json', '--iterations', '3', '--factors', '8'], app);
      timings.retrain = r.seconds;
      expect(r.stderr).toMatch(/^retrain: /m);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      const out = JSON.parse(lines[0]!) as Record<string, unknown> & { metrics: { candidate: Record<string, number>; active: unknown } };
      expect(Object.keys(out).sort()).toEqual(['activated', 'active', 'candidate', 'metrics', 'reason', 'seconds']);
      expect(out).toMatchObject({ active: null, activated: true, reason: expect.any(String), seconds: expect.any(Number) });
      expect(Number.isInteger(out.candidate)).toBe(true);
      expect(out.metrics.active).toBeNull();
      expect(out.metrics.candidate.rmse).toBeGreaterThan(0.5);
      expect(out.metrics.candidate.rmse).toBeLessThan(1.2);

      const list = await ok('npx', ['--no', '--', 'ridgerec', 'models', 'list', '--db', db, '--json'], app);
      const models = (JSON.parse(list.stdout) as { models: { id: number; status: string; params: { factors: number } }[] }).models;
      expect(models.map((m) => [m.id, m.status, m.params.factors])).toEqual([[out.candidate, 'active', 8]]);
    },
    SLOW,
  );

  it(
    "(d) the README's library example runs as written against the installed package",
    async () => {
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
      const example = join(app, 'readme-example.mjs');
      writeFileSync(example, readmeBlock(readme, '<!-- library-example -->'));
      const data = haveMl ? U_DATA : join(tmp.dir, 'synthetic-u.data');
      if (!haveMl) syntheticMovieLens(data);

      const r = await ok(process.execPath, [example], app, { ML100K: data, PORT: '0' });
      timings.readmeExample = r.seconds;
      const steps = new Map<string, Record<string, unknown>>();
      for (const line of r.stdout.trim().split('\n')) {
        const o = JSON.parse(line) as { step: string };
        steps.set(o.step, o);
      }
      expect([...steps.keys()]).toEqual(['info', 'recommend', 'similar', 'load', 'http']);

      const ratings = readTsv(data);
      expect(steps.get('info')).toEqual({
        step: 'info',
        feedback: 'explicit',
        users: new Set(ratings.map((x) => x.user)).size,
        items: new Set(ratings.map((x) => x.item)).size,
      });
      const recs = steps.get('recommend') as { user: string; source: string; items: { item: string; score: number }[] };
      expect(recs.user).toBe('1');
      expect(recs.source).toBe('model');
      expect(recs.items).toHaveLength(5);
      const rated = new Set(ratings.filter((x) => x.user === '1').map((x) => x.item));
      expect(recs.items.filter((x) => rated.has(x.item))).toEqual([]);
      const scores = recs.items.map((x) => x.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));

      const similar = steps.get('similar') as { item: string; items: { item: string }[] };
      expect(similar.item).toBe('50');
      expect(similar.items).toHaveLength(5);
      expect(similar.items.map((x) => x.item)).not.toContain('50');
      // Star Wars' neighbours include The Empire Strikes Back (172) and Return of the Jedi (181).
      if (haveMl) expect(similar.items.map((x) => x.item)).toEqual(expect.arrayContaining(['172', '181']));

      expect(steps.get('load')).toEqual({ step: 'load', same: true });
      const http = steps.get('http') as {
        status: number;
        body: { user: string; source: string; model: number; items: { item: string }[] };
      };
      expect(http.status).toBe(200);
      expect(http.body).toMatchObject({ user: '1', source: 'model', model: 1 });
      expect(http.body.items.map((x) => x.item)).toEqual(recs.items.slice(0, 3).map((x) => x.item));
    },
    SLOW,
  );
});
