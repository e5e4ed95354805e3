/**
 * Worker of loadMatrixParallel (store.ts): reads the upper half of the ratings (user_id > mid) on
 * its own read-only connection, in the same snapshot as the calling thread's half.
 *
 * Task 'begin' opens a read transaction and makes its first read, which fixes its snapshot (the
 * caller holds the write lock meanwhile, so no commit can fall between the two halves' snapshots);
 * it answers the row count the snapshot sees. Task 'scan' walks the rows in DESCENDING primary-key
 * order and writes them from the END of the shared arrays downward, so the upper half ends up in
 * ascending order right after the lower half with no copy and no count beforehand; it answers
 * how many rows it wrote and each user's (id, first entry) in descending user order, then ends the
 * transaction.
 */
import Database from 'better-sqlite3';
import { workerData } from 'node:worker_threads';
import { serveTasks } from '../workers.js';

export interface LoadWorkerInit {
  readonly path: string;
}

export type LoadTask =
  | { readonly kind: 'begin' }
  | {
      readonly kind: 'scan';
      /** Rows with user_id > mid are this worker's. */
      readonly mid: number;
      readonly indices: Int32Array;
      readonly values: Float32Array;
      /** itemSeen[item id] = 1 for every item met (shared with the caller's half). */
      readonly itemSeen: Uint8Array;
    };

export interface LoadReply {
  /** begin: the ratings in the snapshot; scan: the rows written. */
  readonly rows: number;
  /** scan: (user id, first entry) per user, in descending user id order. */
  readonly users?: Int32Array;
}

const { path } = workerData as LoadWorkerInit;
const db = new Database(path, { readonly: true, fileMustExist: true });

let scan: {
  indices: Int32Array;
  values: Float32Array;
  itemSeen: Uint8Array;
  e: number;
  users: number[];
  lastUser: number;
  lastItem: number;
} | null = null;

db.aggregate('ridgerec_load_ratings_desc', {
  start: 0,
  deterministic: false,
  directOnly: true,
  step: ((_total: number, user: number, item: number, value: number): void => {
    const st = scan!;
    if (st.e === 0) throw new Error('the ratings table grew during loadMatrix');
    if (user !== st.lastUser) {
      if (user > st.lastUser) throw new Error('loadMatrix: ratings did not arrive in descending user order');
      if (st.lastUser !== Infinity) st.users.push(st.lastUser, st.e);
      st.lastUser = user;
    } else if (item >= st.lastItem) throw new Error('loadMatrix: ratings did not arrive in descending item order');
    if (item >= st.itemSeen.length) throw new Error(`loadMatrix: rating for item id ${item}, which the items table does not have`);
    st.lastItem = item;
    const e = --st.e;
    st.indices[e] = item;
    st.values[e] = value;
    st.itemSeen[item] = 1;
  }) as unknown as (total: number, next: number) => void,
  result: () => 0,
});

serveTasks<LoadTask, LoadReply>((task) => {
  if (task.kind === 'begin') {
    db.prepare('BEGIN').run();
    return { rows: db.prepare<[], number>('SELECT count(*) FROM ratings').pluck().get()! };
  }
  try {
    const st = {
      indices: task.indices,
      values: task.values,
      itemSeen: task.itemSeen,
      e: task.indices.length,
      users: [] as number[],
      lastUser: Infinity,
      lastItem: 0,
    };
    scan = st;
    db.prepare(
      'SELECT ridgerec_load_ratings_desc(user_id, item_id, value) FROM (SELECT user_id, item_id, value FROM ratings WHERE user_id > ? ORDER BY user_id DESC, item_id DESC)',
    ).get(task.mid);
    if (st.lastUser !== Infinity) st.users.push(st.lastUser, st.e);
    return { rows: task.indices.length - st.e, users: Int32Array.from(st.users) };
  } finally {
    scan = null;
    db.prepare('COMMIT').run();
  }
});
