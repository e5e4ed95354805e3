-- The item catalogue: each item's categories (a JSON array of strings) and whether it may be
-- recommended. Existing items keep their title and metadata and become active, in no category.
ALTER TABLE items ADD COLUMN categories TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(categories) AND json_type(categories) = 'array');
ALTER TABLE items ADD COLUMN active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1));

-- A counter bumped by every change to what the catalogue says of an item, so a server notices
-- changes made by another process (an import-items run) at its next poll. Items created by a
-- ratings import (no title, no categories, no metadata, active) say nothing and do not bump it.
CREATE TABLE catalogue_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
INSERT INTO catalogue_version (id, version) VALUES (1, 0);

CREATE TRIGGER items_catalogue_insert AFTER INSERT ON items
  WHEN NEW.title IS NOT NULL OR NEW.metadata IS NOT NULL OR NEW.categories <> '[]' OR NEW.active = 0
BEGIN
  UPDATE catalogue_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER items_catalogue_update AFTER UPDATE OF title, metadata, categories, active ON items
BEGIN
  UPDATE catalogue_version SET version = version + 1 WHERE id = 1;
END;
