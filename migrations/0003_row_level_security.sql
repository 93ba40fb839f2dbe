-- Row-level security: every table holding user data, FORCED so the owner is bound too.
SET LOCAL ROLE docintake_owner;

ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE documents FORCE ROW LEVEL SECURITY;
ALTER TABLE upload_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_jobs FORCE ROW LEVEL SECURITY;
ALTER TABLE document_chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE document_chunks FORCE ROW LEVEL SECURITY;
ALTER TABLE chunk_embedding_buffer ENABLE ROW LEVEL SECURITY;
ALTER TABLE chunk_embedding_buffer FORCE ROW LEVEL SECURITY;
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;

-- The api and worker roles see and write only the rows of the transaction's user.
CREATE POLICY documents_own ON documents FOR ALL TO docintake_api, docintake_worker
    USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());
CREATE POLICY upload_jobs_own ON upload_jobs FOR ALL TO docintake_api, docintake_worker
    USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());
CREATE POLICY document_chunks_own ON document_chunks FOR ALL TO docintake_api, docintake_worker
    USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());
CREATE POLICY chunk_embedding_buffer_own ON chunk_embedding_buffer FOR ALL TO docintake_worker
    USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());
-- Events are append-only: read your own, append your own or (no user context) a system event.
CREATE POLICY events_read_own ON events FOR SELECT TO docintake_api, docintake_worker
    USING (user_id = app_user_id());
CREATE POLICY events_append ON events FOR INSERT TO docintake_api, docintake_worker
    WITH CHECK (user_id IS NOT DISTINCT FROM app_user_id());

-- Operators read job metadata and events across users; no policy gives them chunks or buffers,
-- and they write nothing here (replaying dead letters gets its own narrow path).
CREATE POLICY documents_ops ON documents FOR SELECT TO docintake_ops USING (true);
CREATE POLICY upload_jobs_ops ON upload_jobs FOR SELECT TO docintake_ops USING (true);
CREATE POLICY events_ops ON events FOR SELECT TO docintake_ops USING (true);

-- Each role gets the statements its code runs, no more.
-- API: issues upload tickets and reads status and its own chunks.
GRANT SELECT, INSERT ON documents, upload_jobs TO docintake_api;
GRANT SELECT ON document_chunks TO docintake_api;
GRANT SELECT, INSERT ON events TO docintake_api;
-- Worker: advances jobs and writes what the stages produce.
GRANT SELECT, UPDATE ON documents, upload_jobs TO docintake_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON document_chunks TO docintake_worker;
GRANT SELECT, INSERT, DELETE ON chunk_embedding_buffer TO docintake_worker;
GRANT SELECT, INSERT ON events TO docintake_worker;
-- Ops: metadata columns only; no filename (it can carry personal data), no content.
GRANT SELECT (id, user_id, content_type, size_bytes, status, page_count, created_at, updated_at)
    ON documents TO docintake_ops;
GRANT SELECT ON upload_jobs, events TO docintake_ops;
