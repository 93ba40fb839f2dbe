-- Vectors move out of document_chunks into one table per embedding model (name and dimension), keyed by
-- chunk. A re-embed writes the new model's vectors beside the old ones instead of overwriting them, so a
-- bad model can be rolled back; each vector is written once (no buffer row, no UPDATE of the chunk row);
-- each table's column has the model's exact dimension. Each user searches one model at a time
-- (user_search_models) and is switched when all of their documents have the new one.
-- The HNSW index goes: per-user search is exact and never used it (docs/decisions.md says when an
-- approximate index becomes worth it; `docintake vectors index` creates one on request).
SET LOCAL ROLE docintake_owner;

-- The models that have vectors, with their tables. Model names are configuration, not user data.
CREATE TABLE embedding_models (
    model       text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
    dimensions  integer NOT NULL CHECK (dimensions BETWEEN 1 AND 16000),
    table_name  text NOT NULL UNIQUE,
    -- An approximate (HNSW) index exists on the table: search then turns on pgvector's iterative scans.
    ann_index   boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, dimensions)
);
GRANT SELECT ON embedding_models TO docintake_api, docintake_worker, docintake_ops;

-- The table of a model's vectors, created (as the owner, with its row-level security) the first time the
-- model writes one. SECURITY DEFINER so the embed worker, which may not create tables, can call it; the
-- name is derived here, never taken from the caller, and every identifier goes through format('%I').
-- search_path ends with pg_temp and every table is schema-qualified: PostgreSQL searches pg_temp first
-- unless it is listed, and a caller's temporary table named embedding_models would stand in for the registry.
CREATE FUNCTION ensure_vector_table(p_model text, p_dimensions integer) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    name text;
BEGIN
    SELECT table_name INTO name FROM public.embedding_models WHERE model = p_model AND dimensions = p_dimensions;
    IF name IS NOT NULL THEN
        RETURN name;
    END IF;
    IF p_dimensions IS NULL OR p_dimensions < 1 OR p_dimensions > 16000 THEN
        RAISE EXCEPTION 'dimensions out of range: %', p_dimensions USING ERRCODE = '22023';
    END IF;
    -- One creator at a time; a second caller finds the row the first one made.
    PERFORM pg_advisory_xact_lock(hashtext('docintake.vector_table'));
    SELECT table_name INTO name FROM public.embedding_models WHERE model = p_model AND dimensions = p_dimensions;
    IF name IS NOT NULL THEN
        RETURN name;
    END IF;
    -- A worker could otherwise create tables without end; finalize drops the models no one uses.
    IF (SELECT count(*) FROM public.embedding_models) >= 32 THEN
        RAISE EXCEPTION 'too many embedding models (32); finalize a re-embed first' USING ERRCODE = '54000';
    END IF;
    -- Readable and unique: a slug of the name, a hash of the exact name (two names can share a slug),
    -- the dimension. At most 14 + 30 + 1 + 8 + 1 + 5 = 59 characters, under PostgreSQL's 63.
    name := format('chunk_vectors_%s_%s_%s',
                   left(trim(BOTH '_' FROM regexp_replace(lower(p_model), '[^a-z0-9]+', '_', 'g')), 30),
                   left(md5(p_model), 8), p_dimensions);
    EXECUTE format(
        'CREATE TABLE public.%I ('
        '  chunk_id uuid PRIMARY KEY,'
        '  document_id uuid NOT NULL,'
        '  user_id uuid NOT NULL,'
        '  embedding vector(%s) NOT NULL,'
        '  FOREIGN KEY (chunk_id, user_id) REFERENCES public.document_chunks (id, user_id) ON DELETE CASCADE)',
        name, p_dimensions);
    -- Kept in the row: fetched with every distance (0005 measured the TOAST fetch at 34 ms → 7 ms p95).
    EXECUTE format('ALTER TABLE public.%I ALTER COLUMN embedding SET STORAGE MAIN', name);
    EXECUTE format('CREATE INDEX %I ON public.%I (user_id, document_id)', name || '_user', name);
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', name);
    EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', name);
    EXECUTE format('CREATE POLICY own ON public.%I FOR ALL TO docintake_api, docintake_worker'
                   ' USING (user_id = public.app_user_id()) WITH CHECK (user_id = public.app_user_id())', name);
    EXECUTE format('GRANT SELECT ON public.%I TO docintake_api', name);
    EXECUTE format('GRANT SELECT, INSERT, DELETE ON public.%I TO docintake_worker', name);
    INSERT INTO public.embedding_models (model, dimensions, table_name) VALUES (p_model, p_dimensions, name);
    RETURN name;
END
$$;
REVOKE ALL ON FUNCTION ensure_vector_table(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ensure_vector_table(text, integer) TO docintake_worker;

-- The model each user searches with: the query is embedded once, with this model.
CREATE TABLE user_search_models (
    user_id     uuid PRIMARY KEY,
    model       text NOT NULL,
    dimensions  integer NOT NULL,
    switched_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (model, dimensions) REFERENCES embedding_models (model, dimensions)
);
ALTER TABLE user_search_models ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_search_models FORCE ROW LEVEL SECURITY;
CREATE POLICY user_search_models_own ON user_search_models FOR ALL TO docintake_api, docintake_worker
    USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());
CREATE POLICY user_search_models_ops ON user_search_models FOR SELECT TO docintake_ops USING (true);
GRANT SELECT ON user_search_models TO docintake_api, docintake_ops;
GRANT SELECT, INSERT, UPDATE ON user_search_models TO docintake_worker;

-- How many of a document's chunks have a vector, of the model that has most: a status count ("120 of 200
-- embedded") without naming a table in a static query. The caller's RLS applies (SECURITY INVOKER).
CREATE FUNCTION document_vector_count(p_document uuid) RETURNS bigint
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    best bigint := 0;
    n bigint;
    t text;
BEGIN
    FOR t IN SELECT table_name FROM public.embedding_models LOOP
        EXECUTE format('SELECT count(*) FROM public.%I WHERE document_id = $1', t) INTO n USING p_document;
        best := greatest(best, n);
    END LOOP;
    RETURN best;
END
$$;
REVOKE ALL ON FUNCTION document_vector_count(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION document_vector_count(uuid) TO docintake_api, docintake_worker;

-- Existing vectors into their models' tables, each user onto the model most of their chunks have. The owner
-- is bound by FORCE ROW LEVEL SECURITY like everyone (0003) and no policy lets it read all users' rows,
-- so the copy lifts FORCE for the tables it touches, inside this migration's transaction only.
DO $$
DECLARE
    m record;
    t text;
BEGIN
    ALTER TABLE document_chunks NO FORCE ROW LEVEL SECURITY;
    ALTER TABLE user_search_models NO FORCE ROW LEVEL SECURITY;
    -- The dimension is read from each vector, not from embedding_dimensions, which nothing constrained.
    FOR m IN SELECT DISTINCT embedding_model AS model, vector_dims(embedding) AS dimensions
             FROM document_chunks WHERE embedding IS NOT NULL LOOP
        t := ensure_vector_table(m.model, m.dimensions);
        EXECUTE format('ALTER TABLE public.%I NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('INSERT INTO public.%I (chunk_id, document_id, user_id, embedding)'
                       ' SELECT id, document_id, user_id, embedding::vector(%s) FROM document_chunks'
                       ' WHERE embedding_model = $1 AND vector_dims(embedding) = $2', t, m.dimensions)
            USING m.model, m.dimensions;
        EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', t);
    END LOOP;
    -- A user whose chunks were on two models (a re-embed under way) searches the one most of them have;
    -- the others' documents come back to vector search once `docintake reembed` gives them that model.
    INSERT INTO user_search_models (user_id, model, dimensions)
    SELECT DISTINCT ON (user_id) user_id, embedding_model, vector_dims(embedding)
    FROM document_chunks WHERE embedding IS NOT NULL
    GROUP BY user_id, embedding_model, vector_dims(embedding)
    ORDER BY user_id, count(*) DESC, embedding_model;
    ALTER TABLE user_search_models FORCE ROW LEVEL SECURITY;
    ALTER TABLE document_chunks FORCE ROW LEVEL SECURITY;
END
$$;

-- The old storage goes: the unused HNSW indexes (any model's), the buffer, the columns.
DO $$
DECLARE
    i text;
BEGIN
    FOR i IN SELECT indexname FROM pg_indexes
             WHERE schemaname = 'public' AND tablename = 'document_chunks' AND indexname LIKE 'document_chunks_hnsw_%' LOOP
        EXECUTE format('DROP INDEX public.%I', i);
    END LOOP;
END
$$;
DROP TABLE chunk_embedding_buffer;
ALTER TABLE document_chunks DROP COLUMN embedding, DROP COLUMN embedding_model, DROP COLUMN embedding_dimensions;
