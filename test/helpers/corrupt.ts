/** Damage done on purpose, for the integrity tests: a flipped byte in a stored model, a truncated file. */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Db } from '../../src/db/connection.js';
import { readModelFileHeader } from '../../src/model/model-file.js';

/**
 * Flips the sign/exponent byte of the first item factor in a stored model file, keeping its length:
 * the file still parses, so only the checksum can tell.
 */
export function flipStoredByte(db: Db, id: number): Buffer {
  const { bytes } = db.prepare('SELECT bytes FROM model_files WHERE model_id = ?').get(id) as { bytes: Buffer };
  const flipped = Buffer.from(bytes);
  const at = readModelFileHeader(bytes).arrays.itemFactors!.offset + 3;
  flipped[at] = flipped[at]! ^ 0x40;
  db.prepare('UPDATE model_files SET bytes = ? WHERE model_id = ?').run(flipped, id);
  return flipped;
}

/** Keeps the first `fraction` of a file's bytes (a copy cut short, a full disk). */
export function truncateFile(path: string, fraction: number): void {
  const bytes = readFileSync(path);
  writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length * fraction)));
}
