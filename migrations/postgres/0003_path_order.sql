-- Directory listings seek through a repository's paths in byte order (where `a/` sorts right
-- before `a0`), whatever collation the database was created with.
CREATE INDEX assets_repo_path_bytes ON assets (repository_id, path COLLATE "C");
-- A repository's components by id (listing pages), its assets by component, exact names any
-- case, and SHA-512 lookups: each measured at hundreds of ms to seconds on a million assets
-- without its index.
CREATE INDEX components_repository ON components (repository_id, id);
CREATE INDEX components_lower_name ON components (LOWER(name));
CREATE INDEX assets_repository_component ON assets (repository_id, component_id);
CREATE INDEX assets_sha512 ON assets (sha512);
