-- Users and items: dense integer ids for the engine, the client's string ids at the boundary.
CREATE TABLE users (
  id          INTEGER PRIMARY KEY,
  external_id TEXT NOT NULL UNIQUE
);

CREATE TABLE items (
  id          INTEGER PRIMARY KEY,
  external_id TEXT NOT NULL UNIQUE,
  title       TEXT,
  metadata    TEXT CHECK (metadata IS NULL OR json_valid(metadata))
);

-- One row per (user, item); an upsert keeps the latest value. WITHOUT ROWID clusters the table on
-- its primary key, so a full scan yields ratings in (user_id, item_id) order with no sort: the
-- training matrix is built in one streaming pass.
CREATE TABLE ratings (
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  item_id    INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
  value      REAL    NOT NULL,
  updated_at INTEGER NOT NULL, -- unix seconds: the source's timestamp when it has one, else import time
  PRIMARY KEY (user_id, item_id)
) WITHOUT ROWID;
