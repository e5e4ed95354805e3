import { Command } from 'commander';
import { VERSION } from '../version.js';
import { register as registerMigrate } from './migrate.js';
import { register as registerImport } from './import.js';
import { register as registerImportItems } from './import-items.js';
import { register as registerStats } from './stats.js';
import { register as registerServe } from './serve.js';
import { register as registerStart } from './start.js';
import { register as registerTrain } from './train.js';
import { register as registerEvaluate } from './evaluate.js';
import { register as registerModels } from './models.js';
import { register as registerRecommend } from './recommend.js';
import { register as registerSimilar } from './similar.js';
import { register as registerExplain } from './explain.js';
import { register as registerTune } from './tune.js';
import { register as registerRetrain } from './retrain.js';
import { register as registerDoctor } from './doctor.js';
import { register as registerExport } from './export.js';

/** Builds the `ridgerec` program; each command lives in its own file and only wires src/ pieces. */
export function buildProgram(): Command {
  const program = new Command('ridgerec')
    .description('ridgerec: collaborative-filtering recommendations (ALS with L2 penalties) over SQLite')
    .version(VERSION)
    .showHelpAfterError();
  program.exitOverride((err) => {
    // commander's own usage errors (unknown flag, bad value) are input errors: exit 2.
    if (err.exitCode === 0) process.exit(0);
    process.exit(2);
  });
  registerMigrate(program);
  registerImport(program);
  registerImportItems(program);
  registerStats(program);
  registerServe(program);
  registerStart(program);
  registerTrain(program);
  registerEvaluate(program);
  registerModels(program);
  registerRecommend(program);
  registerSimilar(program);
  registerExplain(program);
  registerTune(program);
  registerRetrain(program);
  registerDoctor(program);
  registerExport(program);
  return program;
}
