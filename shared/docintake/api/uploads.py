"""POST /documents (UploadFunction): a document, its job and a presigned PUT URL, or the user's existing copy."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

import psycopg
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from docintake.api import ApiError, request_problems
from docintake.config import ALLOWED_CONTENT_TYPES
from docintake.context import Context
from docintake.db import Row, one, run
from docintake.events import append_event
from docintake.presign import S3Presigner
from docintake.storage import s3_errors, sanitize_filename, sha256_base64, upload_key
from docintake.vocabulary import DocumentStatus, ErrorCode, Stage

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


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


def parse_upload_request(body: str | None) -> UploadRequest:
    """The raw JSON body as a request; anything else is a 400 naming the fields at fault."""
    try:
        return UploadRequest.model_validate_json(body or "")
    except ValidationError as exc:
        raise ApiError(400, ErrorCode.INVALID_REQUEST, request_problems(exc)) from None


def create_upload(
    pipeline: Context, user_id: UUID, request: UploadRequest, *, presigner: S3Presigner
) -> UploadTicket | DuplicateUpload:
    """A document, its job and a PUT URL ``presigner`` signed (presign.py); or, for a file the user already has
    and no ``replace``, that document (DuplicateUpload). Under the user's upload lock, so identical requests at
    once make one document. ``supersedes`` must name a document of the caller's (404) with no live successor
    (409)."""
    settings = pipeline.settings
    if request.size_bytes > settings.max_upload_bytes:
        raise ApiError(
            400,
            ErrorCode.FILE_TOO_LARGE,
            f"size_bytes {request.size_bytes} is over the limit of {settings.max_upload_bytes}",
        )
    document_id, job_id = uuid.uuid4(), uuid.uuid4()
    correlation_id = str(uuid.uuid4())
    safe_name = sanitize_filename(request.filename)
    key = upload_key(user_id, document_id, safe_name)
    # Signed before anything is written: a presign that fails (botocore's fallback without credentials) leaves no
    # document waiting for an upload that cannot come, which would read as a duplicate until its URL expired.
    expires = settings.upload_url_expires_seconds
    signed_at = datetime.now(UTC)
    with s3_errors("presign"):  # botocore's errors, when it presigns
        url = presigner.presign_put(
            bucket=settings.bucket_name,
            key=key,
            content_type=request.content_type,
            size_bytes=request.size_bytes,
            checksum_sha256=sha256_base64(request.sha256),
            expires=expires,
            now=signed_at,
        )
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
                ErrorCode.TOO_MANY_ACTIVE_UPLOADS,
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
            stage=Stage.AWAITING_UPLOAD,
            correlation_id=correlation_id,
            function_name=pipeline.function_name,
            details={
                "content_type": request.content_type,
                "size_bytes": request.size_bytes,
                **({"supersedes": str(request.supersedes)} if request.supersedes else {}),
            },
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
        expires_at=signed_at + timedelta(seconds=expires),
        supersedes=request.supersedes,
    )


def _check_supersedable(conn: psycopg.Connection[Row], document_id: UUID, upload_window: int) -> None:
    """The document a new version supersedes: the caller's own (RLS hides anyone else's, so another user's
    id reads as missing), not being deleted, and with no live successor, so versions stay one chain."""
    old = one(conn, "document_successor", {"document_id": document_id, "upload_window": upload_window})
    if old is None or old["status"] == DocumentStatus.DELETED:
        raise ApiError(404, ErrorCode.SUPERSEDED_NOT_FOUND, "supersedes names no document of yours")
    if old["successor_id"] is not None:
        raise ApiError(
            409,
            ErrorCode.ALREADY_SUPERSEDED,
            f"document {document_id} already has a newer version, {old['successor_id']} ({old['successor_status']});"
            " supersede that one",
        )
