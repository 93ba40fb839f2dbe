"""The validate stage: an S3 ObjectCreated record becomes a verified upload and a parse message.

moto and clients can get presigned-URL conditions wrong, so nothing the client declared is trusted:
the stored object is streamed once to check its size, sha256 and magic bytes against the declaration,
and the key's user and document against the database.
"""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger

from docintake import metrics
from docintake.config import COMPOUND_FILE_MAGIC, ContentType
from docintake.context import Context
from docintake.db import Row, one, run
from docintake.errors import PermanentError, UploadMismatch
from docintake.events import append_event
from docintake.jobs import VALIDATE_STEP, send_next
from docintake.messages import StageMessage
from docintake.parsing import CONTROL_BYTES
from docintake.storage import (
    StoredObject,
    current_version,
    delete_version,
    inspect_object,
    parse_upload_key,
    quarantine,
)
from docintake.vocabulary import DocumentStatus, ErrorCode, JobState, Queue, Stage

logger = Logger(service="docintake", child=True)
Outcome = Literal["validated", "rejected", "duplicate", "ignored"]
_ZIP_MAGIC = b"PK\x03\x04"
_IMAGE_MAGIC: dict[str, tuple[bytes, ...]] = {
    ContentType.PNG: (b"\x89PNG\r\n\x1a\n",),
    ContentType.JPEG: (b"\xff\xd8\xff",),
    ContentType.TIFF: (b"II*\x00", b"MM\x00*"),
}
_BINARY_MAGIC = (
    b"%PDF-",
    _ZIP_MAGIC,
    COMPOUND_FILE_MAGIC,
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"II*\x00",
    b"MM\x00*",
    b"GIF8",
    b"\x7fELF",
    b"MZ",
)


def validate_upload(  # noqa: C901 - an early exit per refusal, in the order validation checks them
    pipeline: Context, *, bucket: str, raw_key: str, version_id: str | None, invocation_id: str
) -> Outcome:
    settings = pipeline.settings
    key = parse_upload_key(raw_key)
    if bucket != settings.bucket_name or key is None:
        # Not an upload of ours (another prefix, or a key we never issued): record and move on.
        with pipeline.db.transaction() as conn:
            append_event(
                conn,
                "object_ignored",
                user_id=None,
                function_name=pipeline.function_name,
                invocation_id=invocation_id,
                details={"reason": "not_an_upload_key"},
            )
        logger.info("ignored object outside uploads/")
        return "ignored"

    with pipeline.db.transaction(key.user_id) as conn:
        found = one(conn, "document_job_by_key", {"document_id": key.document_id, "s3_key": key.key})
    if found is None:
        # The key's user has no such document under that key: another user's document id, a key we never
        # issued. Nobody's job may be failed for it (that would let anyone fail anyone's upload); the
        # object is moved out of uploads/ and the refusal recorded under the user the key names.
        try:
            quarantine(pipeline.s3, bucket, key.key, version_id, "owner_mismatch")
        except PermanentError:
            return "duplicate"  # already moved by an earlier delivery of this event
        with pipeline.db.transaction(key.user_id) as conn:
            append_event(
                conn,
                "upload_quarantined",
                user_id=key.user_id,
                function_name=pipeline.function_name,
                invocation_id=invocation_id,
                details={"error_code": "owner_mismatch"},
            )
        logger.warning("upload for an unknown document quarantined", extra={"error_code": "owner_mismatch"})
        return "ignored"

    message = StageMessage(
        job_id=found["job_id"],
        document_id=key.document_id,
        user_id=key.user_id,
        stage="parse",
        correlation_id=found["correlation_id"],
    )
    logger.set_correlation_id(message.correlation_id)
    logger.append_keys(job_id=str(message.job_id), document_id=str(message.document_id), stage=Queue.VALIDATE)
    if found["stage"] != Stage.AWAITING_UPLOAD or found["state"] != JobState.QUEUED:
        if found["s3_version_id"]:
            # An event without a version id (moto's, or an unversioned copy) is checked against the current one.
            current = version_id or current_version(pipeline.s3, bucket, key.key)
            if current and current != found["s3_version_id"]:
                return _reject_overwrite(pipeline, key.key, current, message, invocation_id)
        return _already_validated(pipeline, message, found)

    try:
        stored: StoredObject | None = inspect_object(pipeline.s3, bucket, key.key, version_id)
        problem: PermanentError | None = _mismatch(found, stored) if stored else None
    except PermanentError as exc:  # the object (version) is gone: the upload can never be validated
        stored, problem = None, exc
    ids: dict[str, Any] = {
        "user_id": key.user_id,
        "document_id": key.document_id,
        "job_id": message.job_id,
        "correlation_id": message.correlation_id,
        "function_name": pipeline.function_name,
        "invocation_id": invocation_id,
    }
    if problem is not None and stored is not None:
        # The bytes are not what was declared: out of uploads/ before anything can read them.
        quarantine(pipeline.s3, bucket, key.key, stored.version_id, problem.code)
    with pipeline.db.transaction(key.user_id) as conn:
        if problem is not None:
            rejected = one(
                conn, "reject_upload", {"job_id": message.job_id, "code": problem.code, "message": str(problem)}
            )
            if rejected is None:
                return "duplicate"  # another delivery of an event for this key decided first
            run(conn, "set_document_status", {"document_id": key.document_id, "status": DocumentStatus.FAILED})
            append_event(
                conn, "upload_rejected", stage=Stage.AWAITING_UPLOAD, **ids, details={"error_code": problem.code}
            )
        else:
            assert stored is not None
            if one(conn, "mark_validated", {"job_id": message.job_id}) is None:
                return "duplicate"  # a concurrent delivery of the same event won
            run(
                conn,
                "set_document_verified",
                {"document_id": key.document_id, "sha256": stored.sha256, "version_id": stored.version_id},
            )
            append_event(conn, "upload_validated", stage=Stage.UPLOAD_VALIDATED, **ids, details={"bytes": stored.size})
    if problem is not None or stored is None:
        code = problem.code if problem else ErrorCode.OBJECT_MISSING
        metrics.emit("DocumentsFailed", 1, dimensions={"error_code": code})
        logger.warning("upload rejected", extra={"error_code": code})
        return "rejected"
    send_next(pipeline, message, VALIDATE_STEP)
    metrics.emit("StageCompleted", 1, dimensions={"stage": Queue.VALIDATE})
    logger.info("upload validated", extra={"bytes": stored.size})
    return "validated"


def _reject_overwrite(
    pipeline: Context, key: str, version_id: str, message: StageMessage, invocation_id: str
) -> Outcome:
    """A second upload to a key whose upload was already decided (the presigned URL can be reused until it
    expires). Its version is deleted, so the key's current object is again the one validate verified."""
    delete_version(pipeline.s3, pipeline.settings.bucket_name, key, version_id)
    with pipeline.db.transaction(message.user_id) as conn:
        append_event(
            conn,
            "upload_overwrite_rejected",
            user_id=message.user_id,
            document_id=message.document_id,
            job_id=message.job_id,
            stage=Stage.AWAITING_UPLOAD,
            correlation_id=message.correlation_id,
            function_name=pipeline.function_name,
            invocation_id=invocation_id,
            details={"error_code": "upload_exists"},
        )
    logger.warning("second upload to an existing key rejected", extra={"error_code": "upload_exists"})
    return "rejected"


def _already_validated(pipeline: Context, message: StageMessage, found: Row) -> Outcome:
    """A duplicate S3 event. Re-sends the parse message only if its sender evidently died."""
    if (
        found["stage"] == Stage.UPLOAD_VALIDATED
        and found["next_message_sent_at"] is None
        and datetime.now(UTC) - found["updated_at"] >= pipeline.resend_grace
    ):
        send_next(pipeline, message, VALIDATE_STEP)
    logger.info("duplicate upload event", extra={"job_stage": found["stage"]})
    return "duplicate"


def _mismatch(found: Row, stored: StoredObject) -> UploadMismatch | None:
    # The owner was checked by the lookup itself: it ran under RLS as the user the key names, so a key
    # naming another user's document, or no document at all, finds nothing and is quarantined above.
    if stored.size != found["size_bytes"]:
        return UploadMismatch(f"size {stored.size} != declared {found['size_bytes']}", code=ErrorCode.SIZE_MISMATCH)
    if stored.sha256 != found["sha256_declared"]:
        return UploadMismatch("sha256 differs from the declared checksum", code=ErrorCode.CHECKSUM_MISMATCH)
    if not sniff_matches(found["content_type"], stored.head):
        return UploadMismatch(f"content does not look like {found['content_type']}", code=ErrorCode.TYPE_MISMATCH)
    return None


def sniff_matches(content_type: str, head: bytes) -> bool:
    """Magic bytes against the declared type: PDFs carry %PDF- in their first KiB, images start with their
    signature, a DOCX is a zip whose first entries are an Office package's (or an encrypted one), text is
    UTF-8 or free of control bytes (a single-byte charset), HTML is text in any charset."""
    if content_type == ContentType.PDF:
        return b"%PDF-" in head[:1024]
    if content_type in _IMAGE_MAGIC:
        return head.startswith(_IMAGE_MAGIC[content_type])
    if content_type == ContentType.DOCX:
        if head.startswith(COMPOUND_FILE_MAGIC):
            return True
        # Writers put [Content_Types].xml and the word/ parts first; the parser checks the whole package.
        return head.startswith(_ZIP_MAGIC) and (b"word/" in head or b"[Content_Types].xml" in head)
    if content_type == ContentType.HTML:
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return True
        return b"\x00" not in head and not head.startswith(_BINARY_MAGIC)
    if content_type in (ContentType.TEXT, ContentType.MARKDOWN):
        if b"\x00" in head or head.startswith(_BINARY_MAGIC):
            return False
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sniffed head is still text; other bytes that are
            # not UTF-8 are text in a single-byte charset (Windows-1252, Latin-1) unless control bytes say
            # binary. Which charset, and whether it can be read, is the parser's call (or ``not_utf8``).
            return exc.start >= len(head) - 3 or CONTROL_BYTES.search(head) is None
        return True
    return False
