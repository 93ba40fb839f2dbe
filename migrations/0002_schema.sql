-- Tables of the design card: documents, upload_jobs, document_chunks, chunk_embedding_buffer, events.
SET LOCAL ROLE docintake_owner;

-- The user of the current transaction, set with set_config('app.user_id', id, true).
-- NULLIF: once a transaction-local setting has been used, it reads '' (not NULL) afterwards.
CREATE FUNCTION app_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog
    AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
REVOKE ALL ON FUNCTION app_user_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_user_id() TO docintake_api, docintake_worker, docintake_ops;

CREATE TABLE documents (
    id                uuid PRIMARY KEY,
    user_id           uuid NOT NULL,
    filename          text NOT NULL,
    content_type      text NOT NULL,
    size_bytes        bigint NOT NULL CHECK (size_bytes > 0),
    sha256_declared   text NOT NULL CHECK (sha256_declared ~ '^[0-9a-f]{64}$'),
    sha256_verified   text CHECK (sha256_verified ~ '^[0-9a-f]{64}$'),
    s3_key            text NOT NULL UNIQUE,
    s3_version_id     text,
    status            text NOT NULL DEFAULT 'pending_upload'
                      CHECK (status IN ('pending_upload', 'processing', 'ready', 'failed', 'deleted')),
    page_count        integer,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- Rows of other tables reference (id, user_id): foreign-key checks bypass RLS, so a plain
    -- reference to id would let a row of one user point at another user's document.
    UNIQUE (id, user_id)
);
CREATE INDEX documents_user_created ON documents (user_id, created_at DESC);

CREATE TABLE upload_jobs (
    id                 uuid PRIMARY KEY,
    document_id        uuid NOT NULL,
    user_id            uuid NOT NULL,
    stage              text NOT NULL DEFAULT 'awaiting_upload'
                       CHECK (stage IN ('awaiting_upload', 'upload_validated', 'parsing', 'parsed',
                                        'chunking', 'chunked', 'embedding', 'embedded', 'done')),
    state              text NOT NULL DEFAULT 'queued'
                       CHECK (state IN ('queued', 'in_progress', 'retrying', 'failed', 'dead_lettered', 'done')),
    attempts           integer NOT NULL DEFAULT 0,
    lease_owner        text,
    lease_expires_at   timestamptz,
    heartbeat_at       timestamptz,
    next_retry_at      timestamptz,
    last_error_code    text,
    last_error_message text,
    correlation_id     text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    -- Set once the next stage's message is sent; NULL after a commit whose send may have been lost.
    next_message_sent_at timestamptz,
    FOREIGN KEY (document_id, user_id) REFERENCES documents (id, user_id) ON DELETE CASCADE,
    UNIQUE (id, user_id)
);
CREATE INDEX upload_jobs_document ON upload_jobs (document_id);
CREATE INDEX upload_jobs_user_created ON upload_jobs (user_id, created_at DESC);
CREATE INDEX upload_jobs_active_heartbeat ON upload_jobs (heartbeat_at) WHERE state IN ('in_progress', 'retrying', 'queued');

CREATE TABLE document_chunks (
    id                   uuid PRIMARY KEY,
    document_id          uuid NOT NULL,
    user_id              uuid NOT NULL,
    ordinal              integer NOT NULL CHECK (ordinal >= 0),
    content              text NOT NULL,
    heading_path         text[] NOT NULL DEFAULT '{}',
    page_start           integer NOT NULL CHECK (page_start >= 1),
    page_end             integer NOT NULL CHECK (page_end >= page_start),
    char_count           integer NOT NULL,
    content_hash         text NOT NULL,
    -- Dimension-free so models of different sizes can coexist; indexes cast per model.
    embedding            vector,
    embedding_model      text,
    embedding_dimensions integer,
    created_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (document_id, ordinal),
    UNIQUE (id, user_id),
    FOREIGN KEY (document_id, user_id) REFERENCES documents (id, user_id) ON DELETE CASCADE,
    CHECK ((embedding IS NULL) = (embedding_model IS NULL))
);
-- Per-user search is exact over the user's rows (pgvector 0.6 has no iterative index scans).
CREATE INDEX document_chunks_user ON document_chunks (user_id, document_id);

CREATE TABLE chunk_embedding_buffer (
    chunk_id             uuid NOT NULL,
    document_id          uuid NOT NULL,
    user_id              uuid NOT NULL,
    job_id               uuid NOT NULL,
    embedding_model      text NOT NULL,
    embedding_dimensions integer NOT NULL,
    embedding            vector NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chunk_id, embedding_model),
    FOREIGN KEY (chunk_id, user_id) REFERENCES document_chunks (id, user_id) ON DELETE CASCADE,
    FOREIGN KEY (document_id, user_id) REFERENCES documents (id, user_id) ON DELETE CASCADE,
    FOREIGN KEY (job_id, user_id) REFERENCES upload_jobs (id, user_id) ON DELETE CASCADE
);
CREATE INDEX chunk_embedding_buffer_document ON chunk_embedding_buffer (document_id, embedding_model);

CREATE TABLE events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    event_type      text NOT NULL,
    job_id          uuid,
    document_id     uuid,
    -- NULL for system events (e.g. an S3 key outside uploads/) that belong to no user.
    user_id         uuid,
    stage           text,
    correlation_id  text,
    function_name   text,
    invocation_id   text,
    -- ids, counts and codes only: never document text.
    details         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_document ON events (document_id, id);
CREATE INDEX events_correlation ON events (correlation_id);
