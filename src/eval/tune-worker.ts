/**
 * Worker of the tuner's parallel mode: holds the folds (shared typed arrays, see tune.ts) and
 * evaluates one (grid point, fold) task per message with evaluateOnFold.
 */
import { workerData } from 'node:worker_threads';
import { serveTasks } from '../workers.js';
import { evaluateOnFold, type Fold, type WorkerTask } from './tune.js';

const { folds } = workerData as { folds: Fold[] };

serveTasks<WorkerTask, Awaited<ReturnType<typeof evaluateOnFold>>>((task) => evaluateOnFold(folds[task.fold]!, task.params, task.at));
