-- What `arca import nexus` copied into this Arca, per source and repository: the asset's
-- path (docker: image:tag) and the checksum it had at the source. Kept here rather than in a
-- file beside the importer so that an interrupted run resumes from any machine, a cluster
-- shares it, and a later run can tell deletions at the source from assets Arca's own users
-- added. Expand-only: a new table older nodes never read.
CREATE TABLE import_progress (
    source      TEXT NOT NULL,
    repository  TEXT NOT NULL,
    path        TEXT NOT NULL,
    checksum    TEXT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    PRIMARY KEY (source, repository, path)
);
