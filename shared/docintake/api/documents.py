"""A user's own documents (DocumentsFunction): list, status, policy fields, retry and delete."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel

from docintake.api import ApiError
from docintake.context import Context
from docintake.db import Database, one, run
from docintake.events import append_event
from docintake.fields.model import DocumentFields, FieldName
from docintake.messages import StageMessage
from docintake.queues import send_stage_message
from docintake.status import RESUME_FROM, Cursor, DocumentView, cursor_after, document_view, explain, page_params
from docintake.storage import delete_prefix, document_prefixes
from docintake.vocabulary import DocumentStatus, ErrorCode, JobState


class DocumentList(BaseModel):
    documents: list[DocumentView]
    next_cursor: str | None


def list_documents(db: Database, user_id: UUID, *, limit: int = 20, cursor: str | None = None) -> DocumentList:
    """The caller's documents, newest first; ``next_cursor`` fetches the next page."""
    if not 1 <= limit <= 100:
        raise ApiError(400, ErrorCode.INVALID_REQUEST, "limit must be between 1 and 100")
    try:
        after = Cursor.decode(cursor) if cursor else None
    except (ValueError, TypeError):
        raise ApiError(400, ErrorCode.INVALID_REQUEST, "cursor is not one this API returned") from None
    with db.transaction(user_id) as conn:
        rows = run(conn, "list_documents", page_params(limit, after))
    more = len(rows) > limit
    rows = rows[:limit]
    return DocumentList(
        documents=[document_view(row) for row in rows],
        next_cursor=cursor_after(rows).encode() if more and rows else None,
    )


def get_document(db: Database, user_id: UUID, document_id: UUID) -> DocumentView:
    with db.transaction(user_id) as conn:
        row = one(conn, "get_document_view", {"document_id": document_id})
    if row is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, "no such document")
    return document_view(row)


class StoredDocumentFields(DocumentFields):
    """GET /documents/{id}/fields: what the chunk stage extracted (docintake.fields), with the document's id."""

    document_id: UUID


def get_document_fields(db: Database, user_id: UUID, document_id: UUID) -> StoredDocumentFields:
    """The document's policy fields; 404 for a document the caller does not have, 409 ``fields_not_ready`` for
    one the chunk stage has not reached yet (or that failed before it), or a ready one without fields."""
    with db.transaction(user_id) as conn:
        row = one(conn, "get_document_fields", {"document_id": document_id})
    if row is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, "no such document")
    if row["document_type"] is None and row["status"] == DocumentStatus.READY:
        # Ready before migration 0016, or its row removed: only an operator's re-extraction writes it now.
        raise ApiError(
            409,
            ErrorCode.FIELDS_NOT_READY,
            "the document was processed before its fields were extracted;"
            " an operator can run docintake fields reextract",
        )
    if row["document_type"] is None:
        raise ApiError(409, ErrorCode.FIELDS_NOT_READY, f"the document has no fields yet (it is {row['status']})")
    stored = {key: row[key] for key in ("document_id", *DocumentFields.model_fields) if key in row}
    # A field a newer release wrote and this one does not know (a rollback) is left out, not a 500.
    known = {name.value for name in FieldName}
    for key in ("fields", "evidence"):
        stored[key] = {name: value for name, value in (stored.get(key) or {}).items() if name in known}
    return StoredDocumentFields.model_validate(stored)


def retry_document(pipeline: Context, user_id: UUID, document_id: UUID) -> DocumentView:
    """Resumes a failed or dead-lettered job from its last completed stage, if its error is one a retry
    can fix; 409 otherwise. The stage message goes out after the commit, as every stage's does."""
    with pipeline.db.transaction(user_id) as conn:
        job = one(conn, "lock_latest_job", {"document_id": document_id})
        if job is None:
            raise ApiError(404, ErrorCode.NOT_FOUND, "no such document")
        _, retryable = explain(job["last_error_code"], job["state"])
        if (
            job["state"] not in (JobState.FAILED, JobState.DEAD_LETTERED)
            or not retryable
            or job["stage"] not in RESUME_FROM
        ):
            raise ApiError(
                409,
                ErrorCode.NOT_RETRYABLE,
                f"a {job['state']} job with error {job['last_error_code']} cannot be retried",
            )
        stage, step = RESUME_FROM[job["stage"]]
        run(conn, "resume_job", {"job_id": job["id"], "stage": stage})
        run(conn, "set_document_status", {"document_id": document_id, "status": DocumentStatus.PROCESSING})
        append_event(
            conn,
            "retry_requested",
            user_id=user_id,
            document_id=document_id,
            job_id=job["id"],
            stage=stage,
            correlation_id=job["correlation_id"],
            function_name=pipeline.function_name,
            details={"error_code": job["last_error_code"], "from_state": job["state"], "step": step},
        )
    message = StageMessage(
        job_id=job["id"], document_id=document_id, user_id=user_id, stage=step, correlation_id=job["correlation_id"]
    )
    send_stage_message(pipeline.sqs, pipeline.queue_url(step), message)
    with pipeline.db.transaction(user_id) as conn:
        run(conn, "mark_message_sent", {"job_id": job["id"], "stage": stage})
    return get_document(pipeline.db, user_id, document_id)


def delete_document(pipeline: Context, user_id: UUID, document_id: UUID) -> dict[str, Any]:
    """Removes a document everywhere: its jobs are cancelled (in-flight work stops at its next claim,
    heartbeat or completion), every object version under its prefixes is deleted, then its row (and by
    cascade its jobs, chunks and their vectors in every model's table, and its policy fields). A
    ``document_deleted`` event stays, with counts only.
    A failure part-way leaves the row marked deleted; the same request again finishes the job."""
    with pipeline.db.transaction(user_id) as conn:
        if one(conn, "lock_document", {"document_id": document_id}) is None:
            raise ApiError(404, ErrorCode.NOT_FOUND, "no such document")
        cancelled = run(conn, "cancel_document_jobs", {"document_id": document_id})
        run(conn, "set_document_status", {"document_id": document_id, "status": DocumentStatus.DELETED})
    bucket = pipeline.settings.bucket_name
    removed = sum(delete_prefix(pipeline.s3, bucket, prefix) for prefix in document_prefixes(user_id, document_id))
    with pipeline.db.transaction(user_id) as conn:
        run(conn, "delete_document", {"document_id": document_id})
        append_event(
            conn,
            "document_deleted",
            user_id=user_id,
            document_id=document_id,
            function_name=pipeline.function_name,
            details={"objects_removed": removed, "jobs_cancelled": len(cancelled)},
        )
    return {"document_id": str(document_id), "deleted": True, "objects_removed": removed}
