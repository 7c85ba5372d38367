-- Arca's metadata schema (SQLite). Keep in step with ../postgres/0001_initial.sql:
-- a test checks that both give the same tables and columns.
-- Times are unix milliseconds; JSON is TEXT.

CREATE TABLE blob_stores (
    name        TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    path        TEXT NOT NULL,
    soft_quota  TEXT,
    attributes  TEXT NOT NULL DEFAULT '{}',
    created_ms  BIGINT NOT NULL
);

CREATE TABLE repositories (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    format       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    online       BOOLEAN NOT NULL,
    blob_store   TEXT NOT NULL REFERENCES blob_stores(name),
    write_policy TEXT,
    strict_content_type_validation BOOLEAN NOT NULL,
    attributes   TEXT NOT NULL DEFAULT '{}',
    created_ms   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_id    BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    member_name TEXT NOT NULL REFERENCES repositories(name) ON DELETE CASCADE,
    PRIMARY KEY (group_id, position)
);
CREATE INDEX group_members_member ON group_members(member_name);

CREATE TABLE blobs (
    digest      TEXT NOT NULL,
    store       TEXT NOT NULL REFERENCES blob_stores(name),
    size        BIGINT NOT NULL,
    refcount    BIGINT NOT NULL,
    created_ms  BIGINT NOT NULL,
    -- When refcount last dropped to zero; the GC frees the blob after a grace period.
    zero_since_ms BIGINT,
    PRIMARY KEY (store, digest)
);
CREATE INDEX blobs_unreferenced ON blobs(zero_since_ms) WHERE refcount = 0;

CREATE TABLE components (
    id            INTEGER PRIMARY KEY,
    repository_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    namespace     TEXT NOT NULL,
    name          TEXT NOT NULL,
    version       TEXT NOT NULL,
    attributes    TEXT NOT NULL DEFAULT '{}',
    created_ms    BIGINT NOT NULL,
    UNIQUE (repository_id, namespace, name, version)
);
CREATE INDEX components_name ON components(name);

CREATE TABLE assets (
    id            INTEGER PRIMARY KEY,
    repository_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    component_id  BIGINT REFERENCES components(id) ON DELETE SET NULL,
    path          TEXT NOT NULL,
    blob_store    TEXT NOT NULL,
    blob_digest   TEXT NOT NULL,
    size          BIGINT NOT NULL,
    content_type  TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    sha1          TEXT NOT NULL,
    md5           TEXT NOT NULL,
    sha512        TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    last_modified_ms   BIGINT NOT NULL,
    -- When a proxy last confirmed this copy with its remote (= last_modified_ms when hosted).
    last_verified_ms   BIGINT NOT NULL,
    last_downloaded_ms BIGINT,
    uploader      TEXT,
    uploader_ip   TEXT,
    attributes    TEXT NOT NULL DEFAULT '{}',
    UNIQUE (repository_id, path)
);
CREATE INDEX assets_component ON assets(component_id);
CREATE INDEX assets_sha256 ON assets(sha256);
CREATE INDEX assets_sha1 ON assets(sha1);
CREATE INDEX assets_md5 ON assets(md5);
CREATE INDEX assets_blob ON assets(blob_store, blob_digest);

CREATE TABLE users (
    user_id      TEXT PRIMARY KEY,
    first_name   TEXT NOT NULL,
    last_name    TEXT NOT NULL,
    email        TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    status       TEXT NOT NULL,
    source       TEXT NOT NULL,
    roles        TEXT NOT NULL DEFAULT '[]',
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until_ms BIGINT,
    created_ms   BIGINT NOT NULL,
    password_changed_ms BIGINT NOT NULL
);

CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    source      TEXT NOT NULL,
    read_only   BOOLEAN NOT NULL,
    privileges  TEXT NOT NULL DEFAULT '[]',
    roles       TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE privileges (
    name        TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    description TEXT NOT NULL,
    read_only   BOOLEAN NOT NULL,
    attributes  TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT,
    last_used_ms BIGINT
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tasks (
    id           TEXT PRIMARY KEY,
    type_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    schedule     TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    attributes   TEXT NOT NULL DEFAULT '{}',
    last_run_ms  BIGINT,
    last_result  TEXT,
    next_run_ms  BIGINT,
    lease_owner  TEXT,
    lease_until_ms BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE cleanup_policies (
    name       TEXT PRIMARY KEY,
    format     TEXT NOT NULL,
    notes      TEXT NOT NULL,
    criteria   TEXT NOT NULL DEFAULT '{}',
    created_ms BIGINT NOT NULL
);

CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY,
    ts_ms      BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    remote_ip  TEXT,
    domain     TEXT NOT NULL,
    type       TEXT NOT NULL,
    context    TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_ts ON audit_events(ts_ms);
