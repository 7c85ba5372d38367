-- The last collection of each blob store (blobs and bytes the blob GC freed, how long it
-- took) and of each docker repository (what its garbage collection deleted, and the bytes of
-- unreachable blobs it kept for the grace): listed with the blob stores as their reclaimable
-- space. Expand-only: a new table older nodes never read.
CREATE TABLE gc_runs (
    scope        TEXT PRIMARY KEY,
    blob_store   TEXT NOT NULL,
    finished_ms  BIGINT NOT NULL,
    duration_ms  BIGINT NOT NULL,
    items        BIGINT NOT NULL,
    bytes        BIGINT NOT NULL,
    pending_bytes BIGINT NOT NULL DEFAULT 0
);
