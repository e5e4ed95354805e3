/**
 * Integrity at rest: every stored model carries the SHA-256 of its model file (migration 0006);
 * a file whose bytes changed under it — a flipped byte of the right length, which the model-file
 * parser alone accepts and serves as garbage — is refused with "stored model N is corrupt
 * (checksum mismatch)"; models stored before the migration get their checksum at the next open.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Model } from '../../src/model/model.js';
import { backfillModelChecksums, exportModelFile, loadModel, saveModel, sha256, verifyModelFiles } from '../../src/model/registry.js';
import { storeFromDb } from '../../src/store/store.js';
import { flipStoredByte } from '../helpers/corrupt.js';
import { fixtureDb, trainModel, type Fixture } from '../http/fixture.js';

describe('stored model checksums', () => {
  let fx: Fixture;
  beforeEach(() => {
    fx = fixtureDb();
  });
  afterEach(() => fx.cleanup());

  it('saveModel records the SHA-256 of the stored file', async () => {
    const id = await trainModel(fx.db);
    const row = fx.db
      .prepare('SELECT m.file_sha256 AS sum, f.bytes FROM models m JOIN model_files f ON f.model_id = m.id WHERE m.id = ?')
      .get(id) as {
      sum: string;
      bytes: Buffer;
    };
    expect(row.sum).toMatch(/^[0-9a-f]{64}$/);
    expect(row.sum).toBe(sha256(row.bytes));
    expect(() => fx.db.prepare('UPDATE models SET file_sha256 = ? WHERE id = ?').run('not hex', id)).toThrow(/CHECK constraint/);
  });

  it('refuses a model file with one flipped byte, which the parser alone would serve as garbage', async () => {
    const id = await trainModel(fx.db);
    const flipped = flipStoredByte(fx.db, id);
    // The original failure: the bytes still parse as a model file of the right shape.
    expect(() => Model.load(flipped)).not.toThrow();
    expect(() => loadModel(fx.db, id)).toThrow(new RegExp(`^stored model ${id} is corrupt \\(checksum mismatch\\)$`));
    let code: unknown;
    try {
      exportModelFile(fx.db, id);
    } catch (e) {
      code = (e as { code?: unknown }).code;
    }
    expect(code).toBe('model_corrupt');
    expect(verifyModelFiles(fx.db)).toEqual([{ id, ok: false, message: `stored model ${id} is corrupt (checksum mismatch)` }]);
  });

  it('fills in the checksum of models stored before migration 0006 when the store is opened', async () => {
    const a = await trainModel(fx.db, { seed: 1 });
    const b = await trainModel(fx.db, { seed: 2 });
    const before = (fx.db.prepare('SELECT file_sha256 FROM models WHERE id = ?').get(a) as { file_sha256: string }).file_sha256;
    fx.db.prepare('UPDATE models SET file_sha256 = NULL').run();
    expect(verifyModelFiles(fx.db).map((c) => c.ok)).toEqual([false, false]);
    expect(verifyModelFiles(fx.db)[0]!.message).toMatch(/has no checksum yet/);
    storeFromDb(fx.db);
    expect((fx.db.prepare('SELECT file_sha256 FROM models WHERE id = ?').get(a) as { file_sha256: string }).file_sha256).toBe(before);
    expect(verifyModelFiles(fx.db).map((c) => [c.id, c.ok])).toEqual([
      [a, true],
      [b, true],
    ]);
    expect(backfillModelChecksums(fx.db)).toBe(0); // nothing left to do
    expect(loadModel(fx.db, b).record.id).toBe(b);
  });

  it('saving a new model leaves the earlier ones verifiable', async () => {
    await trainModel(fx.db, { seed: 1 });
    const model = loadModel(fx.db, 1).model;
    const id = saveModel(fx.db, model);
    expect(verifyModelFiles(fx.db).every((c) => c.ok)).toBe(true);
    expect(exportModelFile(fx.db, id).equals(model.toBuffer())).toBe(true);
  });
});
