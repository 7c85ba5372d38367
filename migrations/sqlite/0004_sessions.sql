-- Sign-out voids the sessions and registry tokens signed before it (see users.not_before_ms).
ALTER TABLE users ADD COLUMN sessions_after_ms BIGINT NOT NULL DEFAULT 0;
