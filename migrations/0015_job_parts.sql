-- Large documents in parallel: past a threshold, the parse stage (by page range) and the embed stage (by
-- chunk ordinal range) fan out into parts, one queue message each. A part carries its own lease, so many
-- invocations work on one job at once; the job waits in a parts stage, and the part that completes last
-- joins them in the same transaction that advances the job.
SET LOCAL ROLE docintake_owner;

ALTER TABLE upload_jobs DROP CONSTRAINT upload_jobs_stage_check;
ALTER TABLE upload_jobs ADD CONSTRAINT upload_jobs_stage_check
    CHECK (stage IN ('awaiting_upload', 'upload_validated', 'parsing', 'parsing_parts', 'parsed',
                     'chunking', 'chunked', 'embedding', 'embedding_parts', 'embedded', 'done'));

CREATE TABLE job_parts (
    job_id           uuid NOT NULL,
    user_id          uuid NOT NULL,
    step             text NOT NULL CHECK (step IN ('parse', 'embed')),
    part             integer NOT NULL CHECK (part >= 0),
    -- Inclusive: pages (1-based) for parse, chunk ordinals for embed.
    first_item       integer NOT NULL,
    last_item        integer NOT NULL CHECK (last_item >= first_item),
    state            text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'in_progress', 'done')),
    attempts         integer NOT NULL DEFAULT 0,
    lease_owner      text,
    lease_expires_at timestamptz,
    heartbeat_at     timestamptz,
    -- Counts and codes only (pages, chunks, warnings), never document text: the parts' text is in S3.
    result           jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    PRIMARY KEY (job_id, step, part),
    FOREIGN KEY (job_id, user_id) REFERENCES upload_jobs (id, user_id) ON DELETE CASCADE
);

ALTER TABLE job_parts ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_parts FORCE ROW LEVEL SECURITY;
CREATE POLICY job_parts_own ON job_parts FOR ALL TO docintake_worker
    USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());
-- Operators see every job's parts (ranges, states, leases; no content); the sweeper also frees the leases of
-- parts whose invocation died, to send their messages again.
CREATE POLICY job_parts_ops ON job_parts FOR SELECT TO docintake_ops USING (true);
CREATE POLICY job_parts_sweeper ON job_parts FOR ALL TO docintake_sweeper USING (true) WITH CHECK (true);

GRANT SELECT, INSERT, UPDATE, DELETE ON job_parts TO docintake_worker;
GRANT SELECT ON job_parts TO docintake_ops, docintake_sweeper;
GRANT UPDATE (state, lease_owner, lease_expires_at, updated_at) ON job_parts TO docintake_sweeper;
