-- The sweeper finds an upload's object by listing its prefix (uploads/{user}/{document}/), so it no longer
-- reads the key, which ends in the file's name. It counts its own rescues in `attempts` (claims count
-- there too), so a job that crashes its stage every time ends dead-lettered instead of looping.
SET LOCAL ROLE docintake_owner;

REVOKE SELECT (s3_key) ON documents FROM docintake_sweeper;
GRANT UPDATE (attempts) ON upload_jobs TO docintake_sweeper, docintake_api;

-- The sweeper's scan, in the order it takes jobs.
DROP INDEX upload_jobs_awaiting_created;
CREATE INDEX upload_jobs_sweep_order ON upload_jobs ((coalesce(heartbeat_at, created_at)))
    WHERE state IN ('queued', 'in_progress', 'retrying');
