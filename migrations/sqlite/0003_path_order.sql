-- SQLite compares text bytewise already: the (repository_id, path) index serves directory
-- listings. Kept so both databases have the same migrations.
SELECT 1;
