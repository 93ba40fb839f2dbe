-- A user deletes their own document through the API role: the document row goes (its jobs, chunks and
-- buffered vectors with it, by the composite foreign keys' ON DELETE CASCADE), events stay as the
-- audit trail (ids, counts and codes only). First the jobs are cancelled, so in-flight work stops.
SET LOCAL ROLE docintake_owner;

GRANT DELETE ON documents TO docintake_api;
GRANT UPDATE (status, updated_at) ON documents TO docintake_api;
GRANT UPDATE (state, last_error_code, last_error_message, lease_owner, lease_expires_at, updated_at, finished_at)
    ON upload_jobs TO docintake_api;
