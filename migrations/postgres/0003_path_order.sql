-- Directory listings seek through a repository's paths in byte order (where `a/` sorts right
-- before `a0`), whatever collation the database was created with.
CREATE INDEX assets_repo_path_bytes ON assets (repository_id, path COLLATE "C");
