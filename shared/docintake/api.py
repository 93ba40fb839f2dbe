"""The user-facing API: upload URLs, status, retry, deletion, search.

Bodies are pydantic models; errors carry a stable code."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal
from uuid import UUID

import psycopg
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from docintake.config import ALLOWED_CONTENT_TYPES, Settings
from docintake.db import Database, Row, one, run
from docintake.document_types import DocumentType
from docintake.embedding import Embedder, embedder_for_model
from docintake.errors import TransientError
from docintake.events import append_event
from docintake.jobs import Pipeline
from docintake.messages import StageMessage
from docintake.queues import send_stage_message
from docintake.search import SearchHit, SearchMode, search
from docintake.status import RESUME_FROM, Cursor, DocumentView, cursor_after, document_view, explain, page_params
from docintake.storage import (
    delete_prefix,
    document_prefixes,
    presign_put,
    sanitize_filename,
    sha256_base64,
    upload_key,
)

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Maps a non-UUID subject (e.g. an OIDC provider's opaque id) to a stable UUID per issuer.
USER_NAMESPACE = UUID("0d6b1b38-8a4c-4c1e-9a57-4f5e3c2a7b90")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}

    def body_json(self) -> str:
        return json.dumps(self.body())


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    filename: str = Field(min_length=1, max_length=255)
    content_type: str
    # Strict: "123" or 123.0 is a client bug to report, not a number to guess.
    size_bytes: StrictInt = Field(gt=0)
    sha256: str = Field(description="hex SHA-256 of the file's bytes")
    # A file the user already has (same hash, not failed, deleted or expired) is not stored twice: the
    # request answers with that document (DuplicateUpload) unless the caller asks for a new copy.
    replace: bool = False
    # The user's document this upload is a new version of: it stays, with its chunks, as history, and
    # search uses the new version once that is ready.
    supersedes: UUID | None = None

    @field_validator("content_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        value = value.split(";", 1)[0].strip().lower()
        if value not in ALLOWED_CONTENT_TYPES:
            raise ValueError(f"type not allowed; use one of {', '.join(sorted(ALLOWED_CONTENT_TYPES))}")
        return value

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        value = value.lower()
        if not _HEX64.match(value):
            raise ValueError("must be 64 hexadecimal characters")
        return value


class UploadTicket(BaseModel):
    document_id: UUID
    job_id: UUID
    correlation_id: str
    key: str
    method: Literal["PUT"] = "PUT"
    url: str
    headers: dict[str, str]
    expires_at: datetime
    supersedes: UUID | None = None


class DuplicateUpload(BaseModel):
    """The answer to an upload request for a file the user already has: that document, and nothing new
    (no document, no job, no upload URL). ``document_id`` repeats it for clients that only follow that."""

    duplicate_of: UUID
    document_id: UUID
    status: str


def user_id_from_claims(claims: dict[str, Any]) -> UUID:
    """The JWT ``sub`` as the user id: a UUID as it is, anything else mapped stably per issuer. A subject
    that is missing, not a string or only whitespace names nobody: 401, never a user of its own."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise ApiError(401, "unauthenticated", "the token carries no subject")
    try:
        return UUID(subject)
    except ValueError:
        return uuid.uuid5(USER_NAMESPACE, f"{claims.get('iss', '')}#{subject}")


def parse_upload_request(body: str | None) -> UploadRequest:
    """The raw JSON body as a request; anything else is a 400 naming the fields at fault."""
    try:
        return UploadRequest.model_validate_json(body or "")
    except ValidationError as exc:
        raise ApiError(400, "invalid_request", _problems(exc)) from None


def _problems(exc: ValidationError) -> str:
    """Field names and messages only: the input values (which may be a user's query) stay out."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())


def create_upload(pipeline: Pipeline, user_id: UUID, request: UploadRequest) -> UploadTicket | DuplicateUpload:
    """A document, its job and a presigned PUT URL; or, for a file the user already has and no ``replace``,
    that document (DuplicateUpload). Under the user's upload lock, so identical requests at once make one
    document. ``supersedes`` must name a document of the caller's (404) with no live successor (409)."""
    settings = pipeline.settings
    if request.size_bytes > settings.max_upload_bytes:
        raise ApiError(
            400,
            "file_too_large",
            f"size_bytes {request.size_bytes} is over the limit of {settings.max_upload_bytes}",
        )
    document_id, job_id = uuid.uuid4(), uuid.uuid4()
    correlation_id = str(uuid.uuid4())
    safe_name = sanitize_filename(request.filename)
    key = upload_key(user_id, document_id, safe_name)
    # A waiting upload counts as a copy while its URL can still be used.
    upload_window = settings.upload_url_expires_seconds
    with pipeline.db.transaction(user_id) as conn:
        run(conn, "lock_user_uploads", {"user_id": user_id})
        if not request.replace:
            existing = one(conn, "find_duplicate_document", {"sha256": request.sha256, "upload_window": upload_window})
            if existing is not None:
                append_event(
                    conn,
                    "upload_deduplicated",
                    user_id=user_id,
                    document_id=existing["id"],
                    function_name=pipeline.function_name,
                    details={"status": existing["status"]},
                )
                return DuplicateUpload(
                    duplicate_of=existing["id"], document_id=existing["id"], status=existing["status"]
                )
        if request.supersedes is not None:
            _check_supersedable(conn, request.supersedes, upload_window)
        active = one(conn, "count_active_jobs")
        if active is not None and active["n"] >= settings.max_active_jobs_per_user:
            raise ApiError(
                429,
                "too_many_active_uploads",
                f"{active['n']} documents are still in flight; the limit is {settings.max_active_jobs_per_user}",
                retry_after=30,
            )
        one(
            conn,
            "insert_document",
            {
                "id": document_id,
                "user_id": user_id,
                "filename": safe_name,
                "content_type": request.content_type,
                "size_bytes": request.size_bytes,
                "sha256": request.sha256,
                "s3_key": key,
                "supersedes": request.supersedes,
            },
        )
        one(
            conn,
            "insert_job",
            {"id": job_id, "document_id": document_id, "user_id": user_id, "correlation_id": correlation_id},
        )
        append_event(
            conn,
            "upload_requested",
            user_id=user_id,
            document_id=document_id,
            job_id=job_id,
            stage="awaiting_upload",
            correlation_id=correlation_id,
            function_name=pipeline.function_name,
            details={
                "content_type": request.content_type,
                "size_bytes": request.size_bytes,
                **({"supersedes": str(request.supersedes)} if request.supersedes else {}),
            },
        )
    expires = settings.upload_url_expires_seconds
    url = presign_put(
        pipeline.s3,
        bucket=settings.bucket_name,
        key=key,
        content_type=request.content_type,
        size_bytes=request.size_bytes,
        sha256_hex=request.sha256,
        expires=expires,
    )
    return UploadTicket(
        document_id=document_id,
        job_id=job_id,
        correlation_id=correlation_id,
        key=key,
        url=url,
        headers={
            "Content-Type": request.content_type,
            "Content-Length": str(request.size_bytes),
            "x-amz-checksum-sha256": sha256_base64(request.sha256),
        },
        expires_at=datetime.now(UTC) + timedelta(seconds=expires),
        supersedes=request.supersedes,
    )


def _check_supersedable(conn: psycopg.Connection[Row], document_id: UUID, upload_window: int) -> None:
    """The document a new version supersedes: the caller's own (RLS hides anyone else's, so another user's
    id reads as missing), not being deleted, and with no live successor, so versions stay one chain."""
    old = one(conn, "document_successor", {"document_id": document_id, "upload_window": upload_window})
    if old is None or old["status"] == "deleted":
        raise ApiError(404, "superseded_not_found", "supersedes names no document of yours")
    if old["successor_id"] is not None:
        raise ApiError(
            409,
            "already_superseded",
            f"document {document_id} already has a newer version, {old['successor_id']} ({old['successor_status']});"
            " supersede that one",
        )


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(default=10, ge=1, le=50)
    # hybrid (default): keyword and vector rankings fused; vector or keyword: one ranking alone.
    mode: SearchMode = SearchMode.HYBRID
    document_ids: list[UUID] | None = Field(default=None, max_length=100)
    document_types: list[DocumentType] | None = Field(default=None, max_length=len(DocumentType))
    # Search older versions too (documents a newer ready upload supersedes).
    include_superseded: bool = False


class SearchResponse(BaseModel):
    results: list[SearchHit]


def parse_search_request(body: str | None) -> SearchRequest:
    try:
        return SearchRequest.model_validate_json(body or "")
    except ValidationError as exc:
        raise ApiError(400, "invalid_request", _problems(exc)) from None


def search_documents(db: Database, settings: Settings, user_id: UUID, request: SearchRequest) -> SearchResponse:
    """The caller's top-k chunks with what a citation needs: document, filename, pages, headings."""
    hits = search(
        db,
        user_id,
        request.query,
        k=request.k,
        mode=request.mode,
        document_ids=request.document_ids,
        document_types=request.document_types,
        include_superseded=request.include_superseded,
        embedder_for=lambda model, dimensions: _embedder(settings, model, dimensions),
    )
    return SearchResponse(results=hits)


@lru_cache(maxsize=8)
def _embedder(settings: Settings, model: str, dimensions: int) -> Embedder:
    return embedder_for_model(settings, model, dimensions)


def delete_document(pipeline: Pipeline, user_id: UUID, document_id: UUID) -> dict[str, Any]:
    """Removes a document everywhere: its jobs are cancelled (in-flight work stops at its next claim,
    heartbeat or completion), every object version under its prefixes is deleted, then its row (and by
    cascade its jobs, chunks and their vectors in every model's table). A ``document_deleted`` event stays,
    with counts only.
    A failure part-way leaves the row marked deleted; the same request again finishes the job."""
    with pipeline.db.transaction(user_id) as conn:
        if one(conn, "lock_document", {"document_id": document_id}) is None:
            raise ApiError(404, "not_found", "no such document")
        cancelled = run(conn, "cancel_document_jobs", {"document_id": document_id})
        run(conn, "set_document_status", {"document_id": document_id, "status": "deleted"})
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


class DocumentList(BaseModel):
    documents: list[DocumentView]
    next_cursor: str | None


def list_documents(db: Database, user_id: UUID, *, limit: int = 20, cursor: str | None = None) -> DocumentList:
    """The caller's documents, newest first; ``next_cursor`` fetches the next page."""
    if not 1 <= limit <= 100:
        raise ApiError(400, "invalid_request", "limit must be between 1 and 100")
    try:
        after = Cursor.decode(cursor) if cursor else None
    except (ValueError, TypeError):
        raise ApiError(400, "invalid_request", "cursor is not one this API returned") from None
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
        raise ApiError(404, "not_found", "no such document")
    return document_view(row)


def retry_document(pipeline: Pipeline, user_id: UUID, document_id: UUID) -> DocumentView:
    """Resumes a failed or dead-lettered job from its last completed stage, if its error is one a retry
    can fix; 409 otherwise. The stage message goes out after the commit, as every stage's does."""
    with pipeline.db.transaction(user_id) as conn:
        job = one(conn, "lock_latest_job", {"document_id": document_id})
        if job is None:
            raise ApiError(404, "not_found", "no such document")
        _, retryable = explain(job["last_error_code"], job["state"])
        if job["state"] not in ("failed", "dead_lettered") or not retryable or job["stage"] not in RESUME_FROM:
            raise ApiError(
                409, "not_retryable", f"a {job['state']} job with error {job['last_error_code']} cannot be retried"
            )
        stage, step = RESUME_FROM[job["stage"]]
        run(conn, "resume_job", {"job_id": job["id"], "stage": stage})
        run(conn, "set_document_status", {"document_id": document_id, "status": "processing"})
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


def register_error_handlers(app: APIGatewayHttpResolver, logger: Logger) -> None:
    """Refusals as 4xx with their code; retryable failures as 503 with Retry-After."""

    @app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
    def api_error(error: ApiError) -> Response[str]:
        logger.info("request refused", extra={"error_code": error.code, "status": error.status})
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
        return Response(error.status, "application/json", error.body_json(), headers=headers)

    @app.exception_handler(TransientError)  # type: ignore[untyped-decorator]
    def unavailable(error: TransientError) -> Response[str]:
        logger.warning("request failed, retryable", extra={"error_code": error.code})
        body = ApiError(503, error.code, "temporarily unavailable; retry the request").body_json()
        return Response(503, "application/json", body, headers={"Retry-After": "5"})
