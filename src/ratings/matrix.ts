/**
 * The rating matrix the trainer consumes: the same ratings twice, compressed sparse rows by user
 * and by item, plus the maps from dense indices (0..n-1) back to the client's string ids.
 * Typed arrays only; the big arrays live on SharedArrayBuffer so training workers read them
 * without a copy.
 */
export interface Csr {
  /** rows + 1 offsets: row r's entries are [indptr[r], indptr[r+1]). */
  readonly indptr: Int32Array;
  /** column index of each entry, ascending within a row. */
  readonly indices: Int32Array;
  /** value of each entry (a star rating, or an implicit weight such as a play count). */
  readonly values: Float32Array;
}

export interface RatingMatrix {
  readonly nUsers: number;
  readonly nItems: number;
  readonly nnz: number;
  /** rows = users, columns = items. */
  readonly byUser: Csr;
  /** rows = items, columns = users (the transpose of byUser). */
  readonly byItem: Csr;
  /** dense user index → external id. */
  readonly userIds: readonly string[];
  /** dense item index → external id. */
  readonly itemIds: readonly string[];
}

function shared<T extends Int32Array | Float32Array>(
  Ctor: { new (buf: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number },
  length: number,
): T {
  return new Ctor(new SharedArrayBuffer(Math.max(1, length) * Ctor.BYTES_PER_ELEMENT));
}

export function sharedInt32(length: number): Int32Array {
  return shared(Int32Array, length).subarray(0, length);
}

export function sharedFloat32(length: number): Float32Array {
  return shared(Float32Array, length).subarray(0, length);
}

/**
 * Transposes a CSR (rows × cols) into CSR (cols × rows) by counting sort: O(nnz + cols), and the
 * rows of the result come out with ascending column indices because the input rows are scanned in
 * order.
 */
export function transposeCsr(a: Csr, nCols: number): Csr {
  const nRows = a.indptr.length - 1;
  const nnz = a.indices.length;
  const indptr = sharedInt32(nCols + 1);
  for (let e = 0; e < nnz; e++) indptr[a.indices[e]! + 1]!++;
  for (let c = 0; c < nCols; c++) indptr[c + 1]! += indptr[c]!;
  const next = indptr.slice(0, nCols);
  const indices = sharedInt32(nnz);
  const values = sharedFloat32(nnz);
  for (let r = 0; r < nRows; r++) {
    for (let e = a.indptr[r]!, end = a.indptr[r + 1]!; e < end; e++) {
      const c = a.indices[e]!;
      const at = next[c]!++;
      indices[at] = r;
      values[at] = a.values[e]!;
    }
  }
  return { indptr, indices, values };
}

/**
 * Builds a RatingMatrix from (user, item, value) triples with string ids, in any order. A repeated
 * (user, item) pair keeps its last value, as the ratings store's upsert does. Dense indices follow
 * first appearance. For tests, files (`evaluate --train FILE`) and anything small enough to hold
 * as triples; the database path streams instead (src/ratings/store.ts).
 */
export function matrixFromTriples(triples: Iterable<readonly [string, string, number]>): RatingMatrix {
  const userIndex = new Map<string, number>();
  const itemIndex = new Map<string, number>();
  const userIds: string[] = [];
  const itemIds: string[] = [];
  const us: number[] = [];
  const is: number[] = [];
  const vs: number[] = [];
  for (const [u, i, v] of triples) {
    let ui = userIndex.get(u);
    if (ui === undefined) {
      ui = userIds.length;
      userIndex.set(u, ui);
      userIds.push(u);
    }
    let ii = itemIndex.get(i);
    if (ii === undefined) {
      ii = itemIds.length;
      itemIndex.set(i, ii);
      itemIds.push(i);
    }
    us.push(ui);
    is.push(ii);
    vs.push(v);
  }
  const m = matrixFromCoo(Int32Array.from(us), Int32Array.from(is), Float32Array.from(vs), userIds, itemIds);
  return m;
}

/**
 * Builds a RatingMatrix from COO arrays of dense indices (any order, duplicates allowed: the last
 * one wins). userIds/itemIds give the external id of each dense index.
 */
export function matrixFromCoo(
  users: Int32Array,
  items: Int32Array,
  values: Float32Array,
  userIds: readonly string[],
  itemIds: readonly string[],
): RatingMatrix {
  const nUsers = userIds.length;
  const nItems = itemIds.length;
  const n = users.length;
  // Stable counting sort by user, then by item inside each user row via the transpose twice.
  const rowCount = new Int32Array(nUsers + 1);
  for (let e = 0; e < n; e++) rowCount[users[e]! + 1]!++;
  for (let u = 0; u < nUsers; u++) rowCount[u + 1]! += rowCount[u]!;
  const next = rowCount.slice(0, nUsers);
  const tmpIdx = new Int32Array(n);
  const tmpVal = new Float32Array(n);
  for (let e = 0; e < n; e++) {
    const at = next[users[e]!]!++;
    tmpIdx[at] = items[e]!;
    tmpVal[at] = values[e]!;
  }
  // Transpose (sorts by item, stable in user order), then transpose back (sorts columns in each
  // user row), dropping duplicates (same user, same item: keep the last in input order).
  const byItemDup = transposeCsr({ indptr: rowCount, indices: tmpIdx, values: tmpVal }, nItems);
  const byUserSorted = transposeCsr(byItemDup, nUsers);
  // Last-wins dedup: within a user row, equal item indices are adjacent and in input order
  // (both counting sorts are stable), so keep the last of each run.
  const keepIdx = sharedInt32(n);
  const keepVal = sharedFloat32(n);
  const indptr = sharedInt32(nUsers + 1);
  let w = 0;
  for (let u = 0; u < nUsers; u++) {
    const start = byUserSorted.indptr[u]!;
    const end = byUserSorted.indptr[u + 1]!;
    for (let e = start; e < end; e++) {
      const c = byUserSorted.indices[e]!;
      if (e + 1 < end && byUserSorted.indices[e + 1] === c) continue;
      keepIdx[w] = c;
      keepVal[w] = byUserSorted.values[e]!;
      w++;
    }
    indptr[u + 1] = w;
  }
  const byUser: Csr = {
    indptr,
    indices: w === n ? keepIdx : copyShared(keepIdx, w),
    values: w === n ? keepVal : copyShared(keepVal, w),
  };
  return {
    nUsers,
    nItems,
    nnz: w,
    byUser,
    byItem: transposeCsr(byUser, nItems),
    userIds,
    itemIds,
  };
}

function copyShared<T extends Int32Array | Float32Array>(a: T, length: number): T {
  const out = (a instanceof Int32Array ? sharedInt32(length) : sharedFloat32(length)) as T;
  out.set(a.subarray(0, length) as never);
  return out;
}
