-- A user retries their own failed job from its last completed stage (POST /documents/{id}/retry).
SET LOCAL ROLE docintake_owner;

GRANT UPDATE (stage, next_retry_at, heartbeat_at, next_message_sent_at) ON upload_jobs TO docintake_api;
