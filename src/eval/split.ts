/**
 * Held-out splits for evaluation. A split yields a train RatingMatrix (what the model is fitted
 * on) and a TestSet whose pairs are expressed in the train matrix's dense index space, so the
 * metrics can look factors up directly; a user or item the training data never saw is -1.
 */
import { invalidInput } from '../errors.js';
import { sharedFloat32, sharedInt32, transposeCsr, type RatingMatrix } from '../ratings/matrix.js';
import { mulberry32 } from '../training/random.js';

/** Test pairs in the TRAIN matrix's index space; -1 where the user/item id is unseen in training. */
export interface TestSet {
  /** train user index of each test pair, or -1 (user unseen in training). */
  readonly users: Int32Array;
  /** train item index of each test pair, or -1 (item unseen in training). */
  readonly items: Int32Array;
  readonly values: Float32Array;
  /** external user id of each test pair (so unseen ones can still be named). */
  readonly userIds: readonly string[];
  /** external item id of each test pair. */
  readonly itemIds: readonly string[];
}

/**
 * Seeded per-user holdout: for each user with ≥2 ratings, round(fraction·n) (at least 1, at most
 * n−1) of their ratings go to test, chosen uniformly by a partial Fisher–Yates shuffle driven by
 * mulberry32(seed). Same matrix + fraction + seed → same split. Users with one rating keep it in
 * train. The train matrix is re-indexed to the users and items that still have a training rating
 * (an item whose every rating was held out is not in it, so its test pairs carry item -1);
 * relative order of the remaining ids is preserved.
 */
export function holdoutSplit(matrix: RatingMatrix, fraction: number, seed: number): { train: RatingMatrix; test: TestSet } {
  if (!(Number.isFinite(fraction) && fraction > 0 && fraction < 1)) {
    throw invalidInput(`holdout fraction must be a number > 0 and < 1, got ${fraction}`);
  }
  if (!Number.isSafeInteger(seed)) throw invalidInput(`seed must be an integer, got ${seed}`);
  const { indptr } = matrix.byUser;
  const rand = mulberry32(seed);
  const inTest = new Uint8Array(matrix.nnz);
  let perm = new Int32Array(16);
  for (let u = 0; u < matrix.nUsers; u++) {
    const start = indptr[u]!;
    const n = indptr[u + 1]! - start;
    if (n < 2) continue;
    const m = Math.min(n - 1, Math.max(1, Math.round(fraction * n)));
    if (perm.length < n) perm = new Int32Array(n * 2);
    for (let j = 0; j < n; j++) perm[j] = j;
    // Partial Fisher–Yates: positions 0..m-1 end up a uniform m-subset of 0..n-1.
    for (let j = 0; j < m; j++) {
      const r = j + Math.floor(rand() * (n - j));
      const t = perm[j]!;
      perm[j] = perm[r]!;
      perm[r] = t;
      inTest[start + perm[j]!] = 1;
    }
  }
  return splitByMask(matrix, inTest);
}

/**
 * Splits a matrix by a per-entry mask (entries in byUser order; 1 = test), for holdoutSplit and
 * the tuner's K folds. The train matrix keeps only the users and items with a training rating,
 * re-indexed in their original order; test pairs are in that index space, with -1 for a user or
 * item the training part lacks.
 */
export function splitByMask(matrix: RatingMatrix, inTest: Uint8Array): { train: RatingMatrix; test: TestSet } {
  if (inTest.length !== matrix.nnz) throw new Error(`mask length ${inTest.length} != nnz ${matrix.nnz}`);
  const { indptr, indices, values } = matrix.byUser;
  // Which users/items keep at least one training rating → their new dense index.
  const userMap = new Int32Array(matrix.nUsers).fill(-1);
  const itemMap = new Int32Array(matrix.nItems).fill(-1);
  let nTest = 0;
  for (let u = 0; u < matrix.nUsers; u++) {
    for (let e = indptr[u]!, end = indptr[u + 1]!; e < end; e++) {
      if (inTest[e] === 0) {
        userMap[u] = 0;
        itemMap[indices[e]!] = 0;
      } else nTest++;
    }
  }
  const trainUserIds: string[] = [];
  for (let u = 0; u < matrix.nUsers; u++) {
    if (userMap[u] === 0) {
      userMap[u] = trainUserIds.length;
      trainUserIds.push(matrix.userIds[u]!);
    }
  }
  const trainItemIds: string[] = [];
  for (let i = 0; i < matrix.nItems; i++) {
    if (itemMap[i] === 0) {
      itemMap[i] = trainItemIds.length;
      trainItemIds.push(matrix.itemIds[i]!);
    }
  }

  // The train part straight into CSR by user: rows are filtered in order and both maps preserve
  // order, so each row stays ascending and duplicate-free (a RatingMatrix invariant); the by-item
  // CSR is its transpose. Equal to matrixFromCoo over the same triples, in one pass instead of four.
  const nTrain = matrix.nnz - nTest;
  const nTrainUsers = trainUserIds.length;
  const trIndptr = sharedInt32(nTrainUsers + 1);
  const trIndices = sharedInt32(nTrain);
  const trValues = sharedFloat32(nTrain);
  const su = new Int32Array(nTest);
  const si = new Int32Array(nTest);
  const sv = new Float32Array(nTest);
  const sUserIds: string[] = new Array<string>(nTest);
  const sItemIds: string[] = new Array<string>(nTest);
  let a = 0;
  let b = 0;
  for (let u = 0; u < matrix.nUsers; u++) {
    for (let e = indptr[u]!, end = indptr[u + 1]!; e < end; e++) {
      const i = indices[e]!;
      if (inTest[e] === 0) {
        trIndices[a] = itemMap[i]!;
        trValues[a] = values[e]!;
        a++;
      } else {
        su[b] = userMap[u]!;
        si[b] = itemMap[i]!;
        sv[b] = values[e]!;
        sUserIds[b] = matrix.userIds[u]!;
        sItemIds[b] = matrix.itemIds[i]!;
        b++;
      }
    }
    const tu = userMap[u]!;
    if (tu >= 0) trIndptr[tu + 1] = a;
  }
  const byUser = { indptr: trIndptr, indices: trIndices, values: trValues };
  return {
    train: {
      nUsers: nTrainUsers,
      nItems: trainItemIds.length,
      nnz: nTrain,
      byUser,
      byItem: transposeCsr(byUser, trainItemIds.length),
      userIds: trainUserIds,
      itemIds: trainItemIds,
    },
    test: { users: su, items: si, values: sv, userIds: sUserIds, itemIds: sItemIds },
  };
}

/**
 * Maps external-id triples (e.g. a test file) onto a train matrix: each pair keeps its order and
 * value, with the train index of its user and item, or -1 for an id the train matrix lacks.
 */
export function alignTestSet(train: RatingMatrix, triples: Iterable<readonly [string, string, number]>): TestSet {
  const userIndex = new Map<string, number>();
  train.userIds.forEach((id, i) => userIndex.set(id, i));
  const itemIndex = new Map<string, number>();
  train.itemIds.forEach((id, i) => itemIndex.set(id, i));
  const users: number[] = [];
  const items: number[] = [];
  const vals: number[] = [];
  const userIds: string[] = [];
  const itemIds: string[] = [];
  for (const [u, i, v] of triples) {
    users.push(userIndex.get(u) ?? -1);
    items.push(itemIndex.get(i) ?? -1);
    vals.push(v);
    userIds.push(u);
    itemIds.push(i);
  }
  return {
    users: Int32Array.from(users),
    items: Int32Array.from(items),
    values: Float32Array.from(vals),
    userIds,
    itemIds,
  };
}
