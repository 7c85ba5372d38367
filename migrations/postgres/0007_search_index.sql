-- Keyword search (`q=`): trigram GIN indexes (pg_trgm) on the lowered group (namespace), name
-- and version, the very expressions the search tests with `LIKE '%term%'`, so a term of three
-- characters or more finds its components through the indexes instead of reading every
-- component. pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: any role that
-- may create in the database may install it. Where it is missing or may not be installed, the
-- migration still succeeds without the indexes (a NOTICE says why), and search keeps scanning
-- as before; installing pg_trgm (`CREATE EXTENSION pg_trgm`) and creating these three indexes
-- by hand later speeds it up without a restart. Expand-only: indexes older nodes need not know.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'arca: pg_trgm unavailable (%), keyword search scans without an index', SQLERRM;
END
$$;

-- The operator class is named with the schema pg_trgm lives in, which may be off the path.
DO $$
DECLARE
    trgm_schema TEXT;
BEGIN
    SELECT n.nspname INTO trgm_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    IF trgm_schema IS NOT NULL THEN
        EXECUTE format('CREATE INDEX IF NOT EXISTS components_namespace_trgm ON components USING gin (LOWER(namespace) %I.gin_trgm_ops)', trgm_schema);
        EXECUTE format('CREATE INDEX IF NOT EXISTS components_name_trgm ON components USING gin (LOWER(name) %I.gin_trgm_ops)', trgm_schema);
        EXECUTE format('CREATE INDEX IF NOT EXISTS components_version_trgm ON components USING gin (LOWER(version) %I.gin_trgm_ops)', trgm_schema);
    END IF;
END
$$;
