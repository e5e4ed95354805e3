/**
 * `ridgerec models list|activate ID|rollback|export ID FILE|import FILE|import-spark DIR [--json]`: what the model
 * store holds, and which model the server answers with. A running `ridgerec serve` picks an
 * activation up at its next poll (RIDGEREC_POLL_MS, 2 s by default).
 */
import { readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { invalidInput } from '../errors.js';
import { openStore } from '../store/store.js';
import { activateModel, activeModelId, listModels, rollbackModel, type ModelRecord } from '../model/registry.js';
import { importSparkModel } from '../spark/import.js';
import { intArg, dbConfig, printJson, runCommand, withDbOption, withJsonOption } from './common.js';

interface Flags {
  db?: string;
  json?: boolean;
}

function metricText(m: Record<string, unknown>): string {
  const shown = Object.entries(m)
    .filter(([k, v]) => typeof v === 'number' && !k.startsWith('train') && k !== 'ratings')
    .map(([k, v]) => `${k}=${Number((v as number).toFixed(4))}`);
  return shown.join(' ') || '-';
}

function table(models: ModelRecord[]): string {
  if (models.length === 0) return 'no models yet; run `ridgerec train`\n';
  const rows = [['id', 'status', 'feedback', 'created', 'factors', 'λ', 'users', 'items', 'metrics', 'reason']];
  for (const m of models) {
    rows.push([
      String(m.id),
      m.status === 'active' ? 'active *' : m.status,
      m.feedback,
      m.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      String(m.factors),
      String(m.params.lambda),
      String(m.nUsers),
      String(m.nItems),
      metricText(m.metrics),
      m.reason ?? '',
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, c) => cell.padEnd(widths[c]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export function register(program: Command): void {
  const models = program.command('models').description('list saved models, activate one, or roll back to the previous one');

  withJsonOption(withDbOption(models.command('list').description('list every saved model, oldest first'))).action((opts: Flags) =>
    runCommand(() => {
      const store = openStore(dbConfig(opts).db);
      const db = store.db;
      try {
        const all = listModels(db);
        if (opts.json) printJson({ models: all, activeModel: activeModelId(db) });
        else process.stdout.write(table(all));
      } finally {
        db.close();
      }
    }),
  );

  withJsonOption(
    withDbOption(models.command('activate').description('make model ID the active model').argument('<id>', 'model id', intArg('ID', 1))),
  ).action((id: number, opts: Flags) =>
    runCommand(() => {
      const store = openStore(dbConfig(opts).db);
      const db = store.db;
      try {
        const previous = activeModelId(db);
        activateModel(db, id);
        if (opts.json) printJson({ activated: id, previous });
        else if (previous === id) process.stdout.write(`model ${id} is already the active model\n`);
        else process.stdout.write(`model ${id} is now the active model${previous === null ? '' : ` (was ${previous})`}\n`);
      } finally {
        db.close();
      }
    }),
  );

  withJsonOption(
    withDbOption(models.command('rollback').description('re-activate the model that was active before the current one')),
  ).action((opts: Flags) =>
    runCommand(() => {
      const store = openStore(dbConfig(opts).db);
      const db = store.db;
      try {
        const previous = activeModelId(db);
        const id = rollbackModel(db);
        if (opts.json) printJson({ activated: id, previous });
        else process.stdout.write(`rolled back: model ${id} is now the active model${previous === null ? '' : ` (was ${previous})`}\n`);
      } finally {
        db.close();
      }
    }),
  );

  withJsonOption(
    withDbOption(
      models
        .command('export')
        .description('write saved model ID as a portable model file (the exact bytes the registry stores)')
        .argument('<id>', 'model id', intArg('ID', 1))
        .argument('<file>', 'where to write the model file'),
    ),
  ).action((id: number, file: string, opts: Flags) =>
    runCommand(async () => {
      const store = openStore(dbConfig(opts).db);
      try {
        const bytes = store.exportModel(id);
        await writeFileAtomic(file, bytes);
        if (opts.json) printJson({ model: id, file: resolve(file), bytes: bytes.length });
        else process.stdout.write(`wrote model ${id} to ${file} (${bytes.length} bytes)\n`);
      } finally {
        store.close();
      }
    }),
  );

  withJsonOption(
    withDbOption(
      models
        .command('import')
        .description('save a model file (from `models export` or Model.save) as a new model, byte for byte')
        .argument('<file>', 'the model file')
        .option('--activate', 'make it the active model'),
    ),
  ).action((file: string, opts: Flags & { activate?: boolean }) =>
    runCommand(() => {
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch (e) {
        throw invalidInput(`cannot read model file ${file}: ${(e as Error).message}`);
      }
      const store = openStore(dbConfig(opts).db);
      try {
        const id = store.importModel(bytes, { activate: opts.activate === true });
        const r = store.getModel(id);
        if (opts.json)
          printJson({ model: id, activated: opts.activate === true, feedback: r.feedback, nUsers: r.nUsers, nItems: r.nItems });
        else
          process.stdout.write(
            `imported ${file} as model ${id} (${r.feedback}, ${r.nUsers} users × ${r.nItems} items)` +
              `${opts.activate ? '; it is now the active model' : `; not activated (ridgerec models activate ${id})`}\n`,
          );
      } finally {
        store.close();
      }
    }),
  );
  registerImportSpark(models);
}

function registerImportSpark(models: Command): void {
  withJsonOption(
    withDbOption(
      models
        .command('import-spark')
        .description("save a model written by Spark MLlib's ALSModel.save (scripts/spark/train_als.py) as a new model")
        .argument('<dir>', 'the directory ALSModel.save wrote (metadata/, userFactors/, itemFactors/, and the id maps)')
        .option('--activate', 'make it the active model'),
    ),
  ).action((dir: string, opts: Flags & { activate?: boolean }) =>
    runCommand(async () => {
      const started = performance.now();
      const store = openStore(dbConfig(opts).db);
      try {
        const { id, model } = await importSparkModel(store, dir, { activate: opts.activate === true });
        const seconds = Math.round(performance.now() - started) / 1000;
        const p = model.params;
        if (opts.json)
          printJson({
            model: id,
            activated: opts.activate === true,
            feedback: p.feedback,
            factors: model.factors,
            nUsers: model.nUsers,
            nItems: model.nItems,
            ratings: model.userItems.indices.length,
            params: p,
            seconds,
          });
        else
          process.stdout.write(
            `imported Spark model ${dir} as model ${id} (${p.feedback}, rank ${model.factors}, regParam ${p.lambda}` +
              `${p.feedback === 'implicit' ? `, alpha ${p.alpha}` : ''}; ${model.nUsers} users × ${model.nItems} items) in ${seconds} s` +
              `${opts.activate ? '; it is now the active model' : `; not activated (ridgerec models activate ${id})`}\n`,
          );
      } finally {
        store.close();
      }
    }),
  );
}

/** Writes a file through a temporary sibling and a rename, so a reader never sees half of it. */
async function writeFileAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw invalidInput(`cannot write ${file}: ${(e as Error).message}`);
  }
}
