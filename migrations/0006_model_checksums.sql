-- The SHA-256 of each model's file (model_files.bytes), as 64 lowercase hex digits. It lives in the
-- small `models` row, not beside the blob, so finding the rows without one never reads a blob.
-- saveModel writes it with the file; loadModel and exportModelFile refuse a file whose bytes no
-- longer hash to it ("stored model N is corrupt (checksum mismatch)"); `ridgerec doctor` verifies
-- every one. SQLite cannot hash, so models stored before this migration get theirs at the store's
-- first open afterwards (src/model/registry.ts, backfillModelChecksums); until then it is NULL.
ALTER TABLE models ADD COLUMN file_sha256 TEXT
  CHECK (file_sha256 IS NULL OR (length(file_sha256) = 64 AND file_sha256 NOT GLOB '*[^0-9a-f]*'));
