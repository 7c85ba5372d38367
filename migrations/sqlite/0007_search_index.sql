-- Keyword search (`q=`): a trigram full-text index over each component's group (namespace),
-- name and version, so a term of three characters or more finds its components through the
-- index instead of testing `LOWER(col) LIKE '%term%'` on every component (about a second on a
-- million). The index holds no copy of the text (external content: `components` is read
-- back); triggers keep it in step with every insert, change and delete, whichever node (of
-- this version or an older one) writes. Expand-only: a new table and triggers older nodes
-- never read.
CREATE VIRTUAL TABLE components_fts USING fts5(
    namespace, name, version,
    content = 'components', content_rowid = 'id',
    tokenize = 'trigram'
);

CREATE TRIGGER components_fts_insert AFTER INSERT ON components BEGIN
    INSERT INTO components_fts (rowid, namespace, name, version)
    VALUES (new.id, new.namespace, new.name, new.version);
END;

-- Repository deletes cascade to components, and fire this too.
CREATE TRIGGER components_fts_delete AFTER DELETE ON components BEGIN
    INSERT INTO components_fts (components_fts, rowid, namespace, name, version)
    VALUES ('delete', old.id, old.namespace, old.name, old.version);
END;

-- Only the indexed columns: an upload updating a component's attributes leaves the index be.
CREATE TRIGGER components_fts_update AFTER UPDATE OF id, namespace, name, version ON components BEGIN
    INSERT INTO components_fts (components_fts, rowid, namespace, name, version)
    VALUES ('delete', old.id, old.namespace, old.name, old.version);
    INSERT INTO components_fts (rowid, namespace, name, version)
    VALUES (new.id, new.namespace, new.name, new.version);
END;

-- The components already there.
INSERT INTO components_fts (components_fts) VALUES ('rebuild');
