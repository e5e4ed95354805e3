/**
 * Worker for runGrid's parallel mode: holds the folds (shared typed arrays, see tune.ts) and
 * evaluates one (grid point, fold) task per message with evaluateOnFold.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isRidgerecError } from '../errors.js';
import { evaluateOnFold, type Fold, type WorkerReply, type WorkerTask } from './tune.js';

const { folds } = workerData as { folds: Fold[] };
const port = parentPort!;

port.on('message', (task: WorkerTask) => {
  evaluateOnFold(folds[task.fold]!, task.params, task.at).then(
    (outcome) => port.postMessage({ type: 'done', id: task.id, outcome } satisfies WorkerReply),
    (e: unknown) =>
      port.postMessage({
        type: 'failed',
        id: task.id,
        message: isRidgerecError(e) ? e.message : ((e as Error)?.stack ?? String(e)),
        expected: isRidgerecError(e),
      } satisfies WorkerReply),
  );
});
