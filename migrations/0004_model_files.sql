-- Each model's arrays as one portable model file (the bytes Model.save writes; the layout is in
-- src/model/model-file.ts and the README). `models export` writes these bytes unchanged and
-- `models import` stores a file as it is, so a model moves between databases byte for byte.
-- Models saved before this table existed keep their arrays in model_blobs until the store's
-- first open converts them (src/model/registry.ts, upgradeLegacyModels).
CREATE TABLE model_files (
  model_id INTEGER PRIMARY KEY REFERENCES models (id) ON DELETE CASCADE,
  bytes    BLOB    NOT NULL
);
