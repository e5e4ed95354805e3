import type { Csr } from '../ratings/matrix.js';
import type { FactorModel } from '../training/params.js';

export type { FactorModel, FitResult } from '../training/params.js';

export type ModelStatus = 'ready' | 'active' | 'retired';

/** A model as the model store keeps it. */
export interface StoredModel extends FactorModel {
  readonly id: number;
  readonly createdAt: string;
  /** When it was last activated (null if never). */
  readonly activatedAt: string | null;
  readonly status: ModelStatus;
  readonly metrics: Readonly<Record<string, unknown>>;
  /**
   * Each training user's rated items (indptr + item indices, values dropped), for exclusion at
   * serving time. Indices are a Uint16Array view straight over the stored bytes when the catalog has
   * at most 65,536 items (no widening copy on load), else an Int32Array.
   */
  readonly userItems: { readonly indptr: Csr['indptr']; readonly indices: Int32Array | Uint16Array };
}
