/**
 * The SQLite backend as one object: ratings (import, add, delete, read), the item catalogue, and
 * the model registry. `openStore(path)` opens (creating and migrating) the database; everything else
 * in ridgerec that needs storage takes this object or a narrow interface it satisfies (the
 * serving core's ServingStore).
 */
import { openDatabase, writeTransaction, type Db, type WriteOptions } from '../db/connection.js';
import { fit, type Rating } from '../model/fit.js';
import type { Model } from '../model/model.js';
import {
  activateModel,
  activeModelId,
  backfillModelChecksums,
  exportModelFile,
  getModel,
  importModelFile,
  listModels,
  loadModel,
  rollbackModel,
  saveModel,
  updateModelMetrics,
  upgradeLegacyModels,
  type LoadedModel,
  type ModelRecord,
  type SaveOptions,
} from '../model/registry.js';
import {
  catalogueVersion,
  getItem,
  listItems,
  loadCatalogueItems,
  writeItems,
  type CatalogItem,
  type ItemPage,
  type ItemPatch,
  type ItemQuery,
  type ItemWrite,
} from '../ratings/catalogue.js';
import { importRatingsFile, type ImportOptions, type ImportResult } from '../ratings/import.js';
import type { RatingMatrix } from '../ratings/matrix.js';
import {
  deleteUser,
  itemTitles,
  loadMatrix,
  ratingStats,
  upsertItems,
  upsertRatings,
  userRatings,
  type RatingInput,
  type RatingStats,
  type UpsertCounts,
} from '../ratings/store.js';
import type { FitOptions, FitParams } from '../model/fit.js';

/** Writes items and reads the catalogue version around the write, in one transaction. */
export function writeItemsVersioned(
  db: Db,
  changes: readonly { id: string; patch: ItemPatch }[],
  replace: boolean,
  options: WriteOptions = {},
): ItemWrite {
  // writeItems' own transaction becomes a savepoint inside this one.
  return writeTransaction(
    db,
    (): ItemWrite => {
      const from = catalogueVersion(db);
      const items = writeItems(db, changes, replace);
      return { items, from, to: catalogueVersion(db) };
    },
    options,
  );
}

/** Every item the catalogue says something of, and the version they are at (one read transaction). */
export function loadCatalogue(db: Db): { version: number; items: CatalogItem[] } {
  return db.transaction(() => ({ version: catalogueVersion(db), items: loadCatalogueItems(db) }))();
}

export type { ItemPage, ItemWrite } from '../ratings/catalogue.js';

/** A snapshot of every stored rating: the matrix `fit` trains on, also iterable as {user, item, value}. */
export type RatingSnapshot = RatingMatrix & Iterable<Rating>;

export interface Store {
  /** The database file ('' for an in-memory store). */
  readonly path: string;

  /** Imports a ratings file (csv, tsv, MovieLens …) as one transaction; see ImportOptions. */
  importRatings(file: string, options?: ImportOptions): Promise<ImportResult>;
  /**
   * Upserts ratings in one transaction, all or nothing; InvalidInput names a bad field (a value
   * outside LIMITS.minRatingValue..maxRatingValue, an id with a lone surrogate). Ids are stored in
   * NFC. Busy when another connection holds the write lock past `options.lockTimeoutMs` (default 5 s).
   */
  addRatings(ratings: readonly RatingInput[], options?: WriteOptions): UpsertCounts;
  /** Deletes a user's ratings; false when the user had none. Busy as for addRatings. */
  deleteUser(user: string, options?: WriteOptions): boolean;
  /** A user's ratings ([] for an unknown user). */
  userRatings(user: string): { item: string; value: number }[];
  /** Every rating, read in one transaction. */
  ratings(): RatingSnapshot;
  /** Counts and the value range. */
  stats(): RatingStats;
  /** Creates or updates catalogue items (title, metadata). */
  upsertItems(items: readonly { id: string; title?: string | null; metadata?: unknown }[]): number;
  /** Display titles of the given items (ids without a title are absent). */
  itemTitles(ids: readonly string[]): Map<string, string>;
  /** The stored item, or undefined for an id the database has never seen. */
  getItem(id: string): CatalogItem | undefined;
  /** Upserts items in one transaction: `replace` resets absent fields to their defaults (PUT), else keeps them (PATCH). */
  writeItems(changes: readonly { id: string; patch: ItemPatch }[], replace: boolean, options?: WriteOptions): ItemWrite;
  /** A page of items in id order, optionally in one category and/or of one activeness. */
  listItems(query: ItemQuery): ItemPage;
  /** The catalogue's change counter (bumped by every item change, by any process). */
  catalogueVersion(): number;
  /** Every item the catalogue says something of, with the version read in the same transaction. */
  loadCatalogue(): { version: number; items: CatalogItem[] };

  /** Fits a model on every stored rating (a shorthand for fit(store.ratings(), …)). */
  fit(params?: FitParams, options?: FitOptions): Promise<Model>;

  /** Saves a model in the registry; returns its id. */
  saveModel(model: Model, options?: SaveOptions): number;
  /** Makes a saved model the active one. */
  activate(id: number): void;
  /** Re-activates the previously active model; returns its id. */
  rollback(): number;
  /** Every saved model's record, oldest first. */
  list(): ModelRecord[];
  /** One saved model's record. */
  getModel(id: number): ModelRecord;
  /** A saved model with its record. */
  loadModel(id: number): LoadedModel;
  /** The active model's id, or null. */
  activeModelId(): number | null;
  /** The active model with its record, or null. */
  activeModel(): LoadedModel | null;
  /** Merges metrics into a saved model's record. */
  updateModelMetrics(id: number, metrics: Record<string, unknown>): void;
  /** The model file of a saved model, byte for byte as stored. */
  exportModel(id: number): Buffer;
  /** Stores a model file as it is; returns the new model's id. */
  importModel(bytes: Uint8Array, options?: Omit<SaveOptions, 'metrics'>): number;

  close(): void;
}

/** The Store with its better-sqlite3 connection, for the modules of ridgerec that work on SQL directly. */
export interface SqliteStore extends Store {
  readonly db: Db;
}

/** Adds iteration over {user, item, value} to a rating matrix. */
function snapshot(m: RatingMatrix): RatingSnapshot {
  return {
    ...m,
    *[Symbol.iterator](): Iterator<Rating> {
      const { indptr, indices, values } = m.byUser;
      for (let u = 0; u < m.nUsers; u++) {
        const user = m.userIds[u]!;
        for (let e = indptr[u]!; e < indptr[u + 1]!; e++) yield { user, item: m.itemIds[indices[e]!]!, value: values[e]! };
      }
    },
  };
}

/**
 * A Store over an open connection (migrated); legacy model blobs are converted on the way in, and
 * model files stored before checksums existed get theirs.
 */
export function storeFromDb(db: Db, path = ''): SqliteStore {
  upgradeLegacyModels(db);
  backfillModelChecksums(db);
  return {
    path,
    db,
    importRatings: (file, options) => importRatingsFile(db, file, options),
    addRatings: (ratings, options) => upsertRatings(db, ratings, options),
    deleteUser: (user, options) => deleteUser(db, user, options),
    userRatings: (user) => userRatings(db, user),
    ratings: () => snapshot(loadMatrix(db)),
    stats: () => ratingStats(db),
    upsertItems: (items) => upsertItems(db, items),
    itemTitles: (ids) => itemTitles(db, ids),
    getItem: (id) => getItem(db, id),
    writeItems: (changes, replace, options) => writeItemsVersioned(db, changes, replace, options),
    listItems: (query) => listItems(db, query),
    catalogueVersion: () => catalogueVersion(db),
    loadCatalogue: () => loadCatalogue(db),
    fit: (params, options) => fit(loadMatrix(db), params, options),
    saveModel: (model, options) => saveModel(db, model, options),
    activate: (id) => activateModel(db, id),
    rollback: () => rollbackModel(db),
    list: () => listModels(db),
    getModel: (id) => getModel(db, id),
    loadModel: (id) => loadModel(db, id),
    activeModelId: () => activeModelId(db),
    activeModel: () => {
      const id = activeModelId(db);
      return id === null ? null : loadModel(db, id);
    },
    updateModelMetrics: (id, metrics) => updateModelMetrics(db, id, metrics),
    exportModel: (id) => exportModelFile(db, id),
    importModel: (bytes, options) => importModelFile(db, bytes, options),
    close: () => db.close(),
  };
}

/**
 * Opens the SQLite store at `path` (created with its folder if missing; ':memory:' for a
 * throwaway one), applying pending migrations. WAL, foreign keys, a busy timeout.
 */
export function openStore(path: string): SqliteStore {
  const db = openDatabase(path);
  try {
    return storeFromDb(db, path === ':memory:' ? '' : path);
  } catch (e) {
    db.close();
    throw e;
  }
}
