-- Uploads that deduplicated onto a stored blob and have not recorded their asset yet: while
-- any holds it (and the hold has not lapsed: a node that died mid-upload), no node frees the
-- bytes. Expand-only: older nodes ignore both columns.
ALTER TABLE blobs ADD COLUMN held BIGINT NOT NULL DEFAULT 0;
ALTER TABLE blobs ADD COLUMN held_until_ms BIGINT;
