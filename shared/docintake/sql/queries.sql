-- Named queries. Each starts with a `-- name: x` line; parameters are %(name)s.
-- Every query runs inside Database.transaction(user_id): RLS scopes it to that user.

-- name: insert_document
INSERT INTO documents (id, user_id, filename, content_type, size_bytes, sha256_declared, s3_key, supersedes)
VALUES (%(id)s, %(user_id)s, %(filename)s, %(content_type)s, %(size_bytes)s, %(sha256)s, %(s3_key)s,
        %(supersedes)s)
RETURNING *;

-- name: find_duplicate_document
-- The user's live copy of a file, by its declared hash: processing or ready, or waiting for an upload whose
-- URL has not expired (failed, deleted and expired copies don't count). The current version first, then a
-- ready one, then the newest.
SELECT d.id, d.status
FROM documents d
WHERE d.user_id = app_user_id() AND d.sha256_declared = %(sha256)s
  AND (d.status IN ('processing', 'ready')
       OR (d.status = 'pending_upload' AND d.created_at > now() - make_interval(secs => %(upload_window)s)))
ORDER BY EXISTS (SELECT 1 FROM documents n WHERE n.supersedes = d.id AND n.user_id = d.user_id
                 AND n.status = 'ready'),
         d.status = 'ready' DESC, d.created_at DESC, d.id
LIMIT 1;

-- name: document_successor
-- The document a new upload would supersede, with its live successor if it has one (ready, processing,
-- or waiting for an upload whose URL has not expired): versions form a chain, one successor each.
SELECT d.id, d.status, n.id AS successor_id, n.status AS successor_status
FROM documents d
LEFT JOIN LATERAL (
    SELECT s.id, s.status FROM documents s
    WHERE s.supersedes = d.id AND s.user_id = d.user_id
      AND (s.status IN ('processing', 'ready')
           OR (s.status = 'pending_upload' AND s.created_at > now() - make_interval(secs => %(upload_window)s)))
    ORDER BY s.status = 'ready' DESC, s.created_at DESC
    LIMIT 1
) n ON true
WHERE d.id = %(document_id)s AND d.user_id = app_user_id();

-- name: set_document_type
-- What the document is (docintake.document_types.classify), written by the chunk stage.
UPDATE documents SET document_type = %(document_type)s, updated_at = now()
WHERE id = %(document_id)s
RETURNING id;

-- name: upsert_document_fields
-- The document's policy fields (docintake.fields), written by the chunk stage beside its chunks: a re-chunk
-- replaces them. jsonb and text[] as DocumentFields serializes them (migration 0016).
INSERT INTO document_fields (document_id, user_id, document_type, document_type_confidence, fields, coverages,
                             evidence, extractor, notes, extracted_at)
VALUES (%(document_id)s, %(user_id)s, %(document_type)s, %(document_type_confidence)s, %(fields)s, %(coverages)s,
        %(evidence)s, %(extractor)s, %(notes)s, now())
ON CONFLICT (document_id) DO UPDATE
SET document_type = EXCLUDED.document_type, document_type_confidence = EXCLUDED.document_type_confidence,
    fields = EXCLUDED.fields, coverages = EXCLUDED.coverages, evidence = EXCLUDED.evidence,
    extractor = EXCLUDED.extractor, notes = EXCLUDED.notes, extracted_at = EXCLUDED.extracted_at;

-- name: get_document_fields
-- The document (any of the user's, through RLS) and its fields; the fields' columns are NULL until the chunk
-- stage has written them.
SELECT d.id AS document_id, d.status, f.document_type, f.document_type_confidence, f.fields, f.coverages,
       f.evidence, f.extractor, f.notes, f.extracted_at
FROM documents d
LEFT JOIN document_fields f ON f.document_id = d.id AND f.user_id = d.user_id
WHERE d.id = %(document_id)s;

-- name: lock_user_uploads
-- Serializes one user's upload requests, so two at once cannot both pass the in-flight limit.
SELECT pg_advisory_xact_lock(hashtextextended('docintake.uploads:' || %(user_id)s::text, 0));

-- name: count_active_jobs
SELECT count(*) AS n FROM upload_jobs
WHERE user_id = app_user_id() AND state IN ('queued', 'in_progress', 'retrying');

-- name: insert_job
INSERT INTO upload_jobs (id, document_id, user_id, correlation_id)
VALUES (%(id)s, %(document_id)s, %(user_id)s, %(correlation_id)s)
RETURNING *;

-- name: document_job_by_key
-- The newest job of the document stored under an upload key.
SELECT d.id AS document_id, d.user_id, d.content_type, d.size_bytes, d.sha256_declared, d.s3_key, d.status,
       d.s3_version_id, j.id AS job_id, j.stage, j.state, j.correlation_id, j.next_message_sent_at, j.updated_at
FROM documents d
JOIN upload_jobs j ON j.document_id = d.id
WHERE d.id = %(document_id)s AND d.s3_key = %(s3_key)s
ORDER BY j.created_at DESC
LIMIT 1;

-- name: get_job
SELECT j.*, d.content_type, d.s3_key, d.status AS document_status
FROM upload_jobs j JOIN documents d ON d.id = j.document_id
WHERE j.id = %(job_id)s AND j.document_id = %(document_id)s;

-- name: mark_validated
-- awaiting_upload -> upload_validated, once: a duplicate S3 event finds no row to update.
UPDATE upload_jobs
SET stage = 'upload_validated', state = 'queued', heartbeat_at = now(), updated_at = now(),
    next_message_sent_at = NULL
WHERE id = %(job_id)s AND stage = 'awaiting_upload' AND state = 'queued'
RETURNING *;

-- name: reject_upload
-- awaiting_upload -> failed, once, and only if no other delivery validated or rejected it first.
UPDATE upload_jobs
SET state = 'failed', last_error_code = %(code)s, last_error_message = %(message)s, updated_at = now(),
    finished_at = now()
WHERE id = %(job_id)s AND stage = 'awaiting_upload' AND state = 'queued'
RETURNING *;

-- name: claim_job
-- Takes the lease if the job waits at the stage before this one, or sits in this one with an
-- expired or released lease (a crashed or retrying attempt). Anything else returns no row.
WITH claimed AS (
    UPDATE upload_jobs
    SET stage = %(working_stage)s, state = 'in_progress', attempts = attempts + 1,
        lease_owner = %(lease_owner)s, lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
        heartbeat_at = now(), next_retry_at = NULL, updated_at = now()
    WHERE id = %(job_id)s AND document_id = %(document_id)s
      AND state NOT IN ('failed', 'done')
      AND (stage = %(ready_stage)s
           OR (stage = %(working_stage)s AND (lease_expires_at IS NULL OR lease_expires_at < now())))
    RETURNING *
)
SELECT claimed.*, d.content_type, d.s3_key, d.s3_version_id, d.filename
FROM claimed JOIN documents d ON d.id = claimed.document_id;

-- name: heartbeat
UPDATE upload_jobs
SET heartbeat_at = now(), lease_expires_at = now() + make_interval(secs => %(lease_seconds)s), updated_at = now()
WHERE id = %(job_id)s AND lease_owner = %(lease_owner)s AND state = 'in_progress'
RETURNING id;

-- name: complete_stage
-- Fencing: only the lease holder advances the job; a zombie whose lease was taken over gets no row.
UPDATE upload_jobs
SET stage = %(completed_stage)s, state = %(state)s, lease_owner = NULL, lease_expires_at = NULL,
    heartbeat_at = now(), next_message_sent_at = NULL, last_error_code = NULL, last_error_message = NULL,
    updated_at = now(), finished_at = CASE WHEN %(state)s = 'done' THEN now() END
WHERE id = %(job_id)s AND stage = %(working_stage)s AND lease_owner = %(lease_owner)s AND state = 'in_progress'
RETURNING *;

-- name: mark_message_sent
UPDATE upload_jobs SET next_message_sent_at = now()
WHERE id = %(job_id)s AND stage = %(stage)s
RETURNING id;

-- name: record_failure
-- state is failed, retrying or dead_lettered. Releases the lease so the next attempt can claim.
-- Only while the job is still in the failing stage under our lease: a stale invocation must not fail a
-- job that another one (or a replay, a retry, a deletion) has since taken over.
UPDATE upload_jobs
SET state = %(state)s, last_error_code = %(code)s, last_error_message = %(message)s,
    lease_owner = NULL, lease_expires_at = NULL, next_retry_at = %(next_retry_at)s, updated_at = now(),
    finished_at = CASE WHEN %(state)s IN ('failed', 'dead_lettered') THEN now() END
WHERE id = %(job_id)s AND stage = %(stage)s AND state = 'in_progress' AND lease_owner = %(lease_owner)s
RETURNING *;

-- name: set_document_status
UPDATE documents SET status = %(status)s, updated_at = now()
WHERE id = %(document_id)s
RETURNING id;

-- name: set_document_verified
UPDATE documents
SET sha256_verified = %(sha256)s, s3_version_id = %(version_id)s, status = 'processing', updated_at = now()
WHERE id = %(document_id)s
RETURNING id;

-- name: set_document_pages
UPDATE documents SET page_count = %(page_count)s, ocr_pages = %(ocr_pages)s, ocr_confidence = %(ocr_confidence)s,
       parse_warnings = %(warnings)s, updated_at = now()
WHERE id = %(document_id)s
RETURNING id;

-- name: delete_document_chunks
DELETE FROM document_chunks WHERE document_id = %(document_id)s;

-- name: create_chunk_staging
-- COPY FROM is refused on tables under RLS, so rows are copied into a temporary table and then
-- inserted with INSERT ... SELECT, where the policies' WITH CHECK applies to every row.
CREATE TEMP TABLE chunk_staging (LIKE document_chunks INCLUDING DEFAULTS) ON COMMIT DROP;

-- name: copy_chunk_staging
COPY chunk_staging (id, document_id, user_id, ordinal, content, heading_path, page_start, page_end,
                    char_count, content_hash, sections)
FROM STDIN WITH (FORMAT BINARY);

-- name: insert_chunks_from_staging
INSERT INTO document_chunks (id, document_id, user_id, ordinal, content, heading_path, page_start, page_end,
                             char_count, content_hash, sections)
SELECT id, document_id, user_id, ordinal, content, heading_path, page_start, page_end, char_count, content_hash,
       sections
FROM chunk_staging
ORDER BY ordinal;

-- name: ensure_vector_table
-- The model's own table of vectors (migration 0012), created on its first use.
SELECT ensure_vector_table(%(model)s, %(dimensions)s) AS table_name;

-- name: vector_table
SELECT table_name, ann_index FROM embedding_models WHERE model = %(model)s AND dimensions = %(dimensions)s;

-- name: vector_tables
SELECT model, dimensions, table_name FROM embedding_models ORDER BY created_at, model;

-- name: chunks_to_embed
-- Chunks of the document without a vector in the model's table ({vectors}, formatted in by vectors.py).
SELECT c.id, c.ordinal, c.content, c.heading_path, c.sections
FROM document_chunks c
WHERE c.document_id = %(document_id)s
  AND (%(first)s::int IS NULL OR c.ordinal BETWEEN %(first)s AND %(last)s)
  AND NOT EXISTS (SELECT 1 FROM {vectors} v WHERE v.chunk_id = c.id)
ORDER BY c.ordinal;

-- name: first_chunk
-- The document's opening chunk: its first words are carried into the others' embedded text.
SELECT content FROM document_chunks WHERE document_id = %(document_id)s ORDER BY ordinal LIMIT 1;

-- name: create_vector_staging
-- COPY FROM is refused on tables under RLS: vectors are copied here, then inserted under the policies.
CREATE TEMP TABLE vector_staging (chunk_id uuid, document_id uuid, user_id uuid, embedding vector)
ON COMMIT DROP;

-- name: copy_vector_staging
COPY vector_staging (chunk_id, document_id, user_id, embedding) FROM STDIN WITH (FORMAT BINARY);

-- name: insert_vectors_from_staging
-- A batch written twice (a retried attempt) keeps the first copy: the vectors are the same.
INSERT INTO {vectors} (chunk_id, document_id, user_id, embedding)
SELECT chunk_id, document_id, user_id, embedding FROM vector_staging
ON CONFLICT (chunk_id) DO NOTHING;

-- name: count_unembedded_chunks
SELECT count(*) AS n FROM document_chunks c
WHERE c.document_id = %(document_id)s AND NOT EXISTS (SELECT 1 FROM {vectors} v WHERE v.chunk_id = c.id);

-- name: active_model
SELECT model, dimensions FROM user_search_models WHERE user_id = app_user_id();

-- name: lock_search_model
-- Taken by the embed stage's last transaction and by a switch: one waits for the other, so a document
-- finishing during a switch has vectors of the model the user searches after it.
SELECT model, dimensions FROM user_search_models WHERE user_id = app_user_id() FOR UPDATE;

-- name: adopt_search_model
-- A user's first vectors: their model becomes the one they search with.
INSERT INTO user_search_models (user_id, model, dimensions) VALUES (app_user_id(), %(model)s, %(dimensions)s)
ON CONFLICT (user_id) DO NOTHING;

-- name: switch_search_model
INSERT INTO user_search_models (user_id, model, dimensions) VALUES (app_user_id(), %(model)s, %(dimensions)s)
ON CONFLICT (user_id) DO UPDATE SET model = excluded.model, dimensions = excluded.dimensions, switched_at = now();

-- name: user_unembedded_chunks
-- Chunks of the user's ready documents without a vector in the model's table: 0 means they can switch.
SELECT count(*) AS n
FROM document_chunks c JOIN documents d ON d.id = c.document_id AND d.user_id = c.user_id
WHERE c.user_id = app_user_id() AND d.status = 'ready'
  AND NOT EXISTS (SELECT 1 FROM {vectors} v WHERE v.chunk_id = c.id);

-- name: users_with_documents
-- Admin (every user): the users with a ready document, or one user.
SELECT DISTINCT user_id FROM documents
WHERE status = 'ready' AND (%(user_id)s::uuid IS NULL OR user_id = %(user_id)s::uuid)
ORDER BY user_id;

-- name: delete_vectors_of_switched_users
-- Admin: a finalized re-embed drops the other models' vectors of the users searching with the new one.
DELETE FROM {vectors} v USING user_search_models u
WHERE v.user_id = u.user_id AND u.model = %(model)s AND u.dimensions = %(dimensions)s;

-- name: unused_vector_tables
-- Admin: models no user searches with; finalize drops the empty ones.
SELECT m.model, m.dimensions, m.table_name FROM embedding_models m
WHERE NOT EXISTS (SELECT 1 FROM user_search_models u WHERE u.model = m.model AND u.dimensions = m.dimensions);

-- name: delete_vector_table_row
DELETE FROM embedding_models WHERE model = %(model)s AND dimensions = %(dimensions)s;

-- name: mark_ann_index
UPDATE embedding_models SET ann_index = %(ann_index)s WHERE model = %(model)s AND dimensions = %(dimensions)s;

-- name: insert_event
INSERT INTO events (event_type, job_id, document_id, user_id, stage, correlation_id, function_name,
                    invocation_id, details)
VALUES (%(event_type)s, %(job_id)s, %(document_id)s, %(user_id)s, %(stage)s, %(correlation_id)s,
        %(function_name)s, %(invocation_id)s, %(details)s);

-- name: document_status
SELECT d.id AS document_id, d.filename, d.status, d.page_count, j.stage, j.state, j.last_error_code,
       j.created_at, j.finished_at,
       (SELECT count(*) FROM document_chunks c WHERE c.document_id = d.id) AS chunk_count,
       document_vector_count(d.id) AS embedded_count
FROM documents d
JOIN LATERAL (SELECT * FROM upload_jobs WHERE document_id = d.id ORDER BY created_at DESC LIMIT 1) j ON true
WHERE d.id = %(document_id)s;

-- name: documents_to_reembed
-- Admin (every user, or one): ready documents with chunks lacking a vector in the model's table, with
-- their newest job (the events' parent).
SELECT d.id AS document_id, d.user_id,
       (SELECT j.id FROM upload_jobs j WHERE j.document_id = d.id ORDER BY j.created_at DESC LIMIT 1) AS job_id
FROM documents d
WHERE d.status = 'ready'
  AND (%(user_id)s::uuid IS NULL OR d.user_id = %(user_id)s::uuid)
  AND EXISTS (SELECT 1 FROM document_chunks c WHERE c.document_id = d.id
              AND NOT EXISTS (SELECT 1 FROM {vectors} v WHERE v.chunk_id = c.id))
ORDER BY d.created_at;

-- name: claim_stale_job
-- Sweeper (role docintake_sweeper, every user): one job nobody has touched for longer than any SQS
-- redelivery could take, locked so concurrent sweepers each take a different one. A job under a live
-- invocation has a fresh heartbeat (claims and heartbeats set it) and is never picked. Jobs this run
-- could not handle are skipped, so one bad row cannot stall the rest. leases_expired: every lease belongs
-- to a stack that no longer runs (the local stack's reconciliation at start), so none is live.
SELECT j.id, j.document_id, j.user_id, j.stage, j.state, j.attempts, j.correlation_id, j.heartbeat_at,
       j.created_at
FROM upload_jobs j
WHERE j.state IN ('queued', 'in_progress', 'retrying')
  AND coalesce(j.heartbeat_at, j.created_at) < now() - make_interval(secs => least(%(stale_after)s, %(upload_after)s))
  AND ((j.stage = 'awaiting_upload'
        AND coalesce(j.heartbeat_at, j.created_at) < now() - make_interval(secs => %(upload_after)s))
    OR (j.stage NOT IN ('awaiting_upload', 'done')
        AND j.heartbeat_at < now() - make_interval(secs => %(stale_after)s)
        AND (%(leases_expired)s OR j.lease_expires_at IS NULL OR j.lease_expires_at < now())
        -- A job in a parts stage has no lease of its own: its parts' leases say whether it is alive.
        AND (%(leases_expired)s OR NOT EXISTS (SELECT 1 FROM job_parts p
                                              WHERE p.job_id = j.id AND p.lease_expires_at > now()))))
  AND j.id <> ALL(%(skip)s::uuid[])
ORDER BY coalesce(j.heartbeat_at, j.created_at)
LIMIT 1
FOR UPDATE OF j SKIP LOCKED;

-- name: mark_swept
-- The stage's message was sent again: the job waits for it, with a fresh heartbeat. A rescue counts as
-- an attempt, so repeated rescues of a job that keeps crashing reach the sweeper's limit.
UPDATE upload_jobs
SET state = CASE WHEN state = 'in_progress' THEN 'queued' ELSE state END, attempts = attempts + 1,
    lease_owner = NULL,
    lease_expires_at = NULL, next_retry_at = NULL, heartbeat_at = now(), next_message_sent_at = now(),
    updated_at = now()
WHERE id = %(job_id)s
RETURNING id;

-- name: touch_job
UPDATE upload_jobs SET heartbeat_at = now(), attempts = attempts + 1, updated_at = now()
WHERE id = %(job_id)s RETURNING id;

-- name: give_up_job
-- The sweeper's last word on a job it has rescued too often: dead-lettered (a stage that crashes every
-- time) or failed (an upload whose validation never completes), with the code, for the user to see.
UPDATE upload_jobs
SET state = %(state)s, last_error_code = %(code)s, last_error_message = %(message)s, lease_owner = NULL,
    lease_expires_at = NULL, updated_at = now(), finished_at = now()
WHERE id = %(job_id)s AND state IN ('queued', 'in_progress', 'retrying')
RETURNING id;

-- name: expire_upload
UPDATE upload_jobs
SET state = 'expired', last_error_code = 'upload_expired',
    last_error_message = 'the upload URL expired before a file arrived', updated_at = now(), finished_at = now()
WHERE id = %(job_id)s AND stage = 'awaiting_upload' AND state = 'queued'
RETURNING id;

-- name: expire_document
UPDATE documents SET status = 'expired', updated_at = now()
WHERE id = %(document_id)s AND status = 'pending_upload'
RETURNING id;

-- name: replay_job
-- An operator replays a dead letter: the job waits for the replayed message again. Finished jobs
-- (done, failed, expired) are left alone; the replayed message then finds nothing to do.
-- Never a job a live invocation holds: only dead-lettered ones, or waiting ones without a live lease.
UPDATE upload_jobs
SET state = 'queued', attempts = 0, lease_owner = NULL, lease_expires_at = NULL, next_retry_at = NULL,
    heartbeat_at = now(), finished_at = NULL, updated_at = now()
WHERE id = %(job_id)s
  AND (state = 'dead_lettered'
       OR (state IN ('retrying', 'in_progress', 'queued') AND (lease_expires_at IS NULL OR lease_expires_at < now())))
RETURNING id, document_id, user_id, stage, state, correlation_id;

-- name: fail_document
UPDATE documents SET status = 'failed', updated_at = now()
WHERE id = %(document_id)s AND status IN ('processing', 'pending_upload')
RETURNING id;

-- name: reopen_document
UPDATE documents SET status = 'processing', updated_at = now()
WHERE id = %(document_id)s AND status = 'failed'
RETURNING id;

-- name: ops_job
SELECT j.id AS job_id, j.document_id, j.user_id, j.stage, j.state, j.attempts, j.last_error_code,
       j.last_error_message, j.correlation_id, j.created_at, j.updated_at, j.finished_at, j.heartbeat_at,
       j.next_retry_at, d.content_type, d.size_bytes, d.status AS document_status
FROM upload_jobs j JOIN documents d ON d.id = j.document_id AND d.user_id = j.user_id
WHERE j.id = %(job_id)s;

-- name: ops_jobs_of_documents
SELECT DISTINCT ON (j.document_id) j.id AS job_id, j.document_id, j.user_id, j.stage, j.state,
       j.last_error_code, j.attempts
FROM upload_jobs j
WHERE j.document_id = ANY(%(document_ids)s::uuid[])
ORDER BY j.document_id, j.created_at DESC;

-- name: ops_ready_documents
-- The local stack's reconciliation (sweeper role): every ready document, to check its files are still in S3.
SELECT d.id AS document_id, d.user_id FROM documents d WHERE d.status = 'ready' ORDER BY d.id;

-- name: ops_list_jobs
SELECT j.id AS job_id, j.document_id, j.user_id, j.stage, j.state, j.attempts, j.last_error_code,
       j.created_at, j.updated_at, j.finished_at
FROM upload_jobs j
WHERE (%(state)s::text IS NULL OR j.state = %(state)s::text)
  AND (%(user_id)s::uuid IS NULL OR j.user_id = %(user_id)s::uuid)
ORDER BY j.created_at DESC
LIMIT %(limit)s;

-- name: ops_job_events
SELECT id, occurred_at, event_type, stage, function_name, invocation_id, details
FROM events
WHERE job_id = %(job_id)s
ORDER BY id;

-- name: lock_document
SELECT id, user_id, status FROM documents WHERE id = %(document_id)s FOR UPDATE;

-- name: cancel_document_jobs
-- Deletion first stops the document's jobs: a claim, heartbeat or completion needs a live state.
UPDATE upload_jobs
SET state = 'failed', last_error_code = 'document_deleted', last_error_message = 'the document was deleted',
    lease_owner = NULL, lease_expires_at = NULL, updated_at = now(), finished_at = coalesce(finished_at, now())
WHERE document_id = %(document_id)s AND state NOT IN ('done', 'failed', 'expired')
RETURNING id;

-- name: delete_document
DELETE FROM documents WHERE id = %(document_id)s RETURNING id;

-- name: document_exists
SELECT 1 AS found FROM documents WHERE id = %(document_id)s;

-- name: list_documents
-- The caller's documents, newest first, one page after the cursor (created_at, id), with the newest job.
SELECT d.id AS document_id, d.filename, d.content_type, d.size_bytes, d.status, d.page_count, d.created_at,
       d.ocr_pages, d.ocr_confidence, d.parse_warnings, d.document_type, d.supersedes,
       (SELECT n.id FROM documents n WHERE n.supersedes = d.id AND n.user_id = d.user_id AND n.status = 'ready'
        ORDER BY n.created_at DESC LIMIT 1) AS superseded_by,
       greatest(d.updated_at, j.updated_at) AS updated_at, j.stage, j.state, j.last_error_code, j.finished_at,
       (SELECT count(*) FROM document_chunks c WHERE c.document_id = d.id) AS chunk_count,
       document_vector_count(d.id) AS embedded_count
FROM documents d
JOIN LATERAL (SELECT * FROM upload_jobs WHERE document_id = d.id ORDER BY created_at DESC LIMIT 1) j ON true
WHERE d.user_id = app_user_id()
  AND (%(after_created)s::timestamptz IS NULL
       OR (d.created_at, d.id) < (%(after_created)s::timestamptz, %(after_id)s::uuid))
ORDER BY d.created_at DESC, d.id DESC
LIMIT %(limit)s;

-- name: get_document_view
-- superseded_by: the newest READY document that supersedes this one (the version search uses instead).
SELECT d.id AS document_id, d.filename, d.content_type, d.size_bytes, d.status, d.page_count, d.created_at,
       d.ocr_pages, d.ocr_confidence, d.parse_warnings, d.document_type, d.supersedes,
       (SELECT n.id FROM documents n WHERE n.supersedes = d.id AND n.user_id = d.user_id AND n.status = 'ready'
        ORDER BY n.created_at DESC LIMIT 1) AS superseded_by,
       greatest(d.updated_at, j.updated_at) AS updated_at, j.stage, j.state, j.last_error_code, j.finished_at,
       (SELECT count(*) FROM document_chunks c WHERE c.document_id = d.id) AS chunk_count,
       document_vector_count(d.id) AS embedded_count
FROM documents d
JOIN LATERAL (SELECT * FROM upload_jobs WHERE document_id = d.id ORDER BY created_at DESC LIMIT 1) j ON true
WHERE d.id = %(document_id)s;

-- name: lock_latest_job
SELECT j.id, j.document_id, j.user_id, j.stage, j.state, j.last_error_code, j.correlation_id
FROM upload_jobs j
WHERE j.document_id = %(document_id)s
ORDER BY j.created_at DESC
LIMIT 1
FOR UPDATE;

-- name: resume_job
-- A user's retry: back to the last completed stage, queued, with a fresh heartbeat and the error cleared.
UPDATE upload_jobs
SET stage = %(stage)s, state = 'queued', attempts = 0, last_error_code = NULL, last_error_message = NULL,
    lease_owner = NULL, lease_expires_at = NULL, next_retry_at = NULL, heartbeat_at = now(),
    next_message_sent_at = NULL, finished_at = NULL, updated_at = now()
WHERE id = %(job_id)s AND state IN ('failed', 'dead_lettered')
RETURNING id;

-- name: delete_job_parts
-- A stage fans out from a clean slate: a user's retry re-plans its parts (a stale part's invocation then
-- finds no lease of its own and stops). Its own statement: a CTE's DELETE would run after the INSERT.
DELETE FROM job_parts WHERE job_id = %(job_id)s AND step = %(step)s;

-- name: insert_job_parts
INSERT INTO job_parts (job_id, user_id, step, part, first_item, last_item)
SELECT %(job_id)s, %(user_id)s, %(step)s, r.n - 1, r.first_item, r.last_item
FROM unnest(%(firsts)s::int[], %(lasts)s::int[]) WITH ORDINALITY AS r(first_item, last_item, n);

-- name: claim_part
-- Takes a part's lease if its job waits in the parts stage (a dead-lettered one too: its other parts
-- finish, and the replayed part then joins them) and no live invocation holds the part.
WITH job AS (
    UPDATE upload_jobs
    SET state = CASE WHEN state IN ('queued', 'retrying') THEN 'in_progress' ELSE state END,
        heartbeat_at = now(), next_retry_at = NULL, updated_at = now()
    WHERE id = %(job_id)s AND document_id = %(document_id)s AND stage = %(parts_stage)s
      AND state IN ('queued', 'in_progress', 'retrying', 'dead_lettered')
      AND EXISTS (SELECT 1 FROM job_parts p
                  WHERE p.job_id = %(job_id)s AND p.step = %(step)s AND p.part = %(part)s AND p.state <> 'done'
                    AND (p.lease_expires_at IS NULL OR p.lease_expires_at < now()))
    RETURNING id
), claimed AS (
    UPDATE job_parts p
    SET state = 'in_progress', attempts = p.attempts + 1, lease_owner = %(lease_owner)s,
        lease_expires_at = now() + make_interval(secs => %(lease_seconds)s), heartbeat_at = now(),
        updated_at = now()
    FROM job
    WHERE p.job_id = job.id AND p.step = %(step)s AND p.part = %(part)s AND p.state <> 'done'
      AND (p.lease_expires_at IS NULL OR p.lease_expires_at < now())
    RETURNING p.*
)
SELECT claimed.*, d.content_type, d.s3_key, d.s3_version_id, d.filename
FROM claimed JOIN documents d ON d.id = %(document_id)s;

-- name: get_part
SELECT j.stage, j.state, j.next_message_sent_at, j.updated_at, p.state AS part_state, p.lease_expires_at
FROM upload_jobs j
LEFT JOIN job_parts p ON p.job_id = j.id AND p.step = %(step)s AND p.part = %(part)s
WHERE j.id = %(job_id)s AND j.document_id = %(document_id)s;

-- name: heartbeat_part
-- The job first (as every path that touches both locks them: claims, completions, a deletion's cascade),
-- and only while it can still move on: a part of a failed or deleted job gets no row and stops.
WITH job AS (
    UPDATE upload_jobs SET heartbeat_at = now()
    WHERE id = %(job_id)s AND state NOT IN ('failed', 'done', 'expired')
    RETURNING id
)
UPDATE job_parts p
SET heartbeat_at = now(), lease_expires_at = now() + make_interval(secs => %(lease_seconds)s), updated_at = now()
FROM job
WHERE p.job_id = job.id AND p.step = %(step)s AND p.part = %(part)s AND p.lease_owner = %(lease_owner)s
  AND p.state = 'in_progress'
RETURNING p.part;

-- name: lock_job
-- Serialises the parts' completions on their job, so exactly one of them sees the last part done.
SELECT id, stage, state FROM upload_jobs WHERE id = %(job_id)s FOR UPDATE;

-- name: complete_part
-- Fencing, as complete_stage: only the part's lease holder marks it done.
UPDATE job_parts
SET state = 'done', lease_owner = NULL, lease_expires_at = NULL, updated_at = now(), finished_at = now()
WHERE job_id = %(job_id)s AND step = %(step)s AND part = %(part)s AND lease_owner = %(lease_owner)s
  AND state = 'in_progress'
RETURNING part;

-- name: parts_remaining
SELECT count(*) FILTER (WHERE state <> 'done') AS remaining, count(*) AS parts
FROM job_parts WHERE job_id = %(job_id)s AND step = %(step)s;

-- name: part_results
SELECT part, first_item, last_item, result FROM job_parts
WHERE job_id = %(job_id)s AND step = %(step)s ORDER BY part;

-- name: complete_parts
-- The last part is in: the job leaves the parts stage, as complete_stage would have moved it.
UPDATE upload_jobs
SET stage = %(completed_stage)s, state = %(state)s, lease_owner = NULL, lease_expires_at = NULL,
    heartbeat_at = now(), next_message_sent_at = NULL, last_error_code = NULL, last_error_message = NULL,
    next_retry_at = NULL, updated_at = now(), finished_at = CASE WHEN %(state)s = 'done' THEN now() END
WHERE id = %(job_id)s AND stage = %(parts_stage)s AND state NOT IN ('failed', 'done', 'expired')
RETURNING *;

-- name: release_part
-- A part that ran short of time hands the rest to a fresh message: free its lease, keep what it did.
UPDATE job_parts SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
WHERE job_id = %(job_id)s AND step = %(step)s AND part = %(part)s AND lease_owner = %(lease_owner)s
  AND state = 'in_progress'
RETURNING part;

-- name: record_part_failure
-- As record_failure, for a part: the part's lease is freed and the job (which no invocation leases while
-- in its parts stage) takes the state. A retrying part leaves a dead-lettered job dead-lettered.
WITH part AS (
    UPDATE job_parts SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
    WHERE job_id = %(job_id)s AND step = %(step)s AND part = %(part)s AND lease_owner = %(lease_owner)s
      AND state = 'in_progress'
    RETURNING job_id
)
UPDATE upload_jobs j
SET state = CASE WHEN j.state = 'dead_lettered' AND %(state)s = 'retrying' THEN j.state ELSE %(state)s END,
    last_error_code = %(code)s, last_error_message = %(message)s, next_retry_at = %(next_retry_at)s,
    updated_at = now(), finished_at = CASE WHEN %(state)s IN ('failed', 'dead_lettered') THEN now() END
FROM part
WHERE j.id = part.job_id AND j.stage = %(stage)s AND j.state NOT IN ('failed', 'done', 'expired')
RETURNING j.*;

-- name: parts_to_send
-- The sweeper's rescue of a job in a parts stage: its parts not done and not under a live lease (with
-- leases_expired, none is live), released so the messages sent for them can claim them.
UPDATE job_parts
SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
WHERE job_id = %(job_id)s AND step = %(step)s AND state <> 'done'
  AND (%(leases_expired)s OR lease_expires_at IS NULL OR lease_expires_at < now())
RETURNING part;

-- name: unsent_parts
-- Parts whose message may be lost: not done, and not under a live lease (whose invocation has it).
SELECT part FROM job_parts
WHERE job_id = %(job_id)s AND step = %(step)s AND state <> 'done'
  AND (lease_expires_at IS NULL OR lease_expires_at < now())
ORDER BY part;

-- name: set_part_result
UPDATE job_parts SET result = %(result)s
WHERE job_id = %(job_id)s AND step = %(step)s AND part = %(part)s;

-- name: document_chunk_span
SELECT count(*) AS chunks, coalesce(max(ordinal), -1) AS last_ordinal
FROM document_chunks WHERE document_id = %(document_id)s;

-- name: ops_users_with_ready_documents
-- `docintake fields reextract --all`, as docintake_ops (documents' metadata across users, never content or
-- fields): whose documents to visit, each user's then listed and re-extracted as the worker under RLS. With a
-- document id, its owner whatever its status (the worker reports a document not ready as skipped).
SELECT DISTINCT user_id FROM documents
WHERE CASE WHEN %(document_id)s::uuid IS NULL THEN status = 'ready' ELSE id = %(document_id)s::uuid END
ORDER BY user_id;

-- name: documents_to_reextract
-- The user's ready documents (through RLS) whose policy fields are missing, or (unless missing_only) extracted
-- before extracted_before (NULL: whenever); with a document id, only that one, whatever its status.
SELECT d.id AS document_id, d.status, f.extracted_at
FROM documents d
LEFT JOIN document_fields f ON f.document_id = d.id AND f.user_id = d.user_id
WHERE d.user_id = app_user_id()
  AND CASE WHEN %(document_id)s::uuid IS NULL THEN d.status = 'ready' ELSE d.id = %(document_id)s::uuid END
  AND (f.document_id IS NULL
       OR (NOT %(missing_only)s::boolean
           AND (%(extracted_before)s::timestamptz IS NULL OR f.extracted_at < %(extracted_before)s::timestamptz)))
ORDER BY d.created_at, d.id;

-- name: document_for_fields
-- The document (through RLS) and its newest job, whose stage message names the fields row it re-extracts.
SELECT d.id AS document_id, d.status, j.id AS job_id, j.correlation_id
FROM documents d
LEFT JOIN LATERAL (SELECT id, correlation_id FROM upload_jobs WHERE document_id = d.id
                   ORDER BY created_at DESC LIMIT 1) j ON true
WHERE d.id = %(document_id)s;

-- name: document_chunk_ids
SELECT id FROM document_chunks WHERE document_id = %(document_id)s;
