-- Fitted models. One row per model with everything a listing needs; the big arrays live in
-- model_blobs so `models list` and the server's 2-second "which model is active?" poll never read
-- them. AUTOINCREMENT: a model id is never reused, so a cached id always means the same factors.
CREATE TABLE models (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  -- when this model was last made active (NULL: never)
  activated_at TEXT,
  feedback     TEXT    NOT NULL CHECK (feedback IN ('explicit', 'implicit')),
  status       TEXT    NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'active', 'retired')),
  -- the full TrainParams (camelCase keys), so the model can be refitted or folded into as trained
  params       TEXT    NOT NULL CHECK (json_valid(params)),
  -- evaluation results, e.g. {"rmse":0.91,"ndcg@10":0.12}
  metrics      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metrics)),
  -- why a candidate was retired (e.g. by the retrain script: "rmse 0.95 worse than active 0.91")
  reason       TEXT,
  n_users      INTEGER NOT NULL CHECK (n_users >= 0),
  n_items      INTEGER NOT NULL CHECK (n_items >= 0),
  factors      INTEGER NOT NULL CHECK (factors >= 1),
  global_mean  REAL    NOT NULL DEFAULT 0
);

-- Exactly one active model: a second row with status 'active' violates this index.
CREATE UNIQUE INDEX models_one_active ON models (status) WHERE status = 'active';

-- The arrays, as raw little-endian bytes of the typed arrays: Float32 factors and biases; the CSR
-- of each training user's items with Int32 indptr and item indices stored as Uint16 when the
-- catalog has at most 65,536 items, else Int32. The id maps as JSON text: one string of the ids
-- joined by newlines, or a JSON array of strings when an id contains a newline (any string
-- round-trips exactly either way).
CREATE TABLE model_blobs (
  model_id           INTEGER PRIMARY KEY REFERENCES models (id) ON DELETE CASCADE,
  user_ids           TEXT NOT NULL CHECK (json_valid(user_ids)),
  item_ids           TEXT NOT NULL CHECK (json_valid(item_ids)),
  user_factors       BLOB NOT NULL,
  item_factors       BLOB NOT NULL,
  user_bias          BLOB,
  item_bias          BLOB,
  user_items_indptr  BLOB NOT NULL,
  user_items_indices BLOB NOT NULL
);

-- Activation history, oldest first: 'activate' pushes a model, 'rollback' pops back to the one
-- underneath. Replaying it gives the stack `models rollback` walks.
CREATE TABLE model_activations (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  model_id     INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  kind         TEXT    NOT NULL CHECK (kind IN ('activate', 'rollback')),
  activated_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
