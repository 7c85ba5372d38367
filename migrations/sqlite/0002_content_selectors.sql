-- The content selectors that repository-content-selector privileges name (CSEL expressions).
CREATE TABLE content_selectors (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    expression  TEXT NOT NULL
);
