-- The sweeper and operators' dead-letter replay: one narrow role that can see every user's jobs and move
-- them on, without ever reading document content, filenames or vectors.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'docintake_sweeper') THEN
        CREATE ROLE docintake_sweeper LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO docintake_sweeper;

SET LOCAL ROLE docintake_owner;

-- An upload never made before its URL expired ends as expired, not as a job waiting forever.
ALTER TABLE documents DROP CONSTRAINT documents_status_check;
ALTER TABLE documents ADD CONSTRAINT documents_status_check
    CHECK (status IN ('pending_upload', 'processing', 'ready', 'failed', 'deleted', 'expired'));
ALTER TABLE upload_jobs DROP CONSTRAINT upload_jobs_state_check;
ALTER TABLE upload_jobs ADD CONSTRAINT upload_jobs_state_check
    CHECK (state IN ('queued', 'in_progress', 'retrying', 'failed', 'dead_lettered', 'done', 'expired'));
-- The sweeper's scan: waiting uploads by age.
CREATE INDEX upload_jobs_awaiting_created ON upload_jobs (created_at)
    WHERE stage = 'awaiting_upload' AND state = 'queued';

-- Across users, and only these tables: no policy on document_chunks or chunk_embedding_buffer.
CREATE POLICY documents_sweeper ON documents FOR ALL TO docintake_sweeper USING (true) WITH CHECK (true);
CREATE POLICY upload_jobs_sweeper ON upload_jobs FOR ALL TO docintake_sweeper USING (true) WITH CHECK (true);
CREATE POLICY events_sweeper_read ON events FOR SELECT TO docintake_sweeper USING (true);
CREATE POLICY events_sweeper_append ON events FOR INSERT TO docintake_sweeper WITH CHECK (true);

-- Columns, not tables: the upload key to check the object exists, never the filename.
GRANT SELECT (id, user_id, content_type, size_bytes, s3_key, status, created_at, updated_at)
    ON documents TO docintake_sweeper;
GRANT UPDATE (status, updated_at) ON documents TO docintake_sweeper;
GRANT SELECT ON upload_jobs TO docintake_sweeper;
GRANT UPDATE (state, lease_owner, lease_expires_at, heartbeat_at, next_retry_at, last_error_code,
              last_error_message, updated_at, finished_at, next_message_sent_at)
    ON upload_jobs TO docintake_sweeper;
GRANT SELECT, INSERT ON events TO docintake_sweeper;
