"""What a user sees of their documents: status, progress, and for a failure what happened and what to do.

Every error code the pipeline records maps to a sentence for the user and to whether retrying can help.
Retrying resumes a job from its last completed stage, reusing that stage's outputs (the Markdown in S3,
the chunks in PostgreSQL).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from docintake.db import Row
from docintake.vocabulary import ErrorCode, JobState, Stage, StepName

# (what the user is told, whether retrying the same upload can help)
EXPLANATIONS: dict[str, tuple[str, bool]] = {
    # The upload itself.
    ErrorCode.SIZE_MISMATCH: (
        "The uploaded file's size differs from the size declared for it. Upload it again.",
        False,
    ),
    ErrorCode.CHECKSUM_MISMATCH: (
        "The uploaded file's contents differ from the checksum declared. Upload it again.",
        False,
    ),
    ErrorCode.TYPE_MISMATCH: ("The file is not of the type declared (for example, not really a PDF).", False),
    ErrorCode.UPLOAD_EXPIRED: ("No file arrived before the upload link expired. Start a new upload.", False),
    ErrorCode.OBJECT_MISSING: ("The uploaded file is no longer in storage. Upload it again.", False),
    ErrorCode.DOCUMENT_DELETED: ("The document was deleted.", False),
    # Reading it.
    ErrorCode.UNSUPPORTED_TYPE: (
        "This kind of file is not supported. Upload a PDF, Word (.docx), HTML, PNG, JPEG, TIFF, text or Markdown file.",
        False,
    ),
    ErrorCode.CORRUPT_PDF: ("The PDF is damaged and could not be read. Export or scan it again and upload it.", False),
    ErrorCode.ENCRYPTED_PDF: ("The PDF is password-protected. Remove the password and upload it again.", False),
    ErrorCode.CORRUPT_DOCX: (
        "The Word file is damaged or not a .docx file and could not be read. Save it again.",
        False,
    ),
    ErrorCode.ENCRYPTED_DOCX: ("The Word file is password-protected. Remove the password and upload it again.", False),
    ErrorCode.CORRUPT_HTML: ("The web page could not be read. Save it again (as HTML) and upload it.", False),
    ErrorCode.TOO_LARGE: ("The document unpacks to more data than allowed. Split it and upload the parts.", False),
    ErrorCode.TOO_MANY_PAGES: ("The document has more pages than allowed. Split it and upload the parts.", False),
    ErrorCode.NO_TEXT_LAYER: (
        "Most pages are scanned images without text. Upload a version with selectable text.",
        False,
    ),
    ErrorCode.EMPTY_DOCUMENT: ("The document contains no text.", False),
    ErrorCode.NOT_UTF8: ("The text file is not UTF-8 encoded. Save it as UTF-8 and upload it again.", False),
    ErrorCode.PARSE_TIMEOUT: (
        "Reading the document took too long. Retrying may succeed when the service is less busy.",
        True,
    ),
    ErrorCode.PARSE_MEMORY: (
        "The document needs more memory to read than allowed. Split it and upload the parts.",
        False,
    ),
    ErrorCode.PARSER_REJECTED: ("The parsing service refused the document.", False),
    ErrorCode.PARSER_FAILED: ("The parsing service could not read the document.", False),
    # OCR (scanned pages and images). ocr_throttled, ocr_unavailable and ocr_access_denied (Textract) are
    # transient and get the transient explanation below.
    ErrorCode.CORRUPT_IMAGE: (
        "The image is damaged and could not be read. Save or scan it again and upload it.",
        False,
    ),
    ErrorCode.OCR_NOT_INSTALLED: ("Text recognition for scanned pages is not installed here. Contact support.", False),
    ErrorCode.OCR_INVALID_PARAMETER: ("The text recognition service refused a page of this document.", False),
    ErrorCode.OCR_UNSUPPORTED_DOCUMENT: ("The text recognition service cannot read this image format.", False),
    ErrorCode.OCR_BAD_DOCUMENT: ("The text recognition service could not read a page image. Scan it again.", False),
    ErrorCode.OCR_DOCUMENT_TOO_LARGE: ("A page image is too large to read. Scan it at a lower resolution.", False),
    # Embedding.
    ErrorCode.EMBEDDING_INPUT_TOO_LONG: ("A passage is too long for the embedding model. Contact support.", False),
    ErrorCode.EMBEDDING_REJECTED: ("The embedding service refused the document's text. Contact support.", False),
    ErrorCode.EMBEDDING_DIMENSION_MISMATCH: ("The embedding model is misconfigured. Contact support.", False),
    ErrorCode.BAD_MESSAGE: ("An internal message could not be read. Contact support.", False),
    # Given up by the sweeper.
    ErrorCode.STAGE_CRASHED: ("Processing stopped unexpectedly on every attempt. Retrying may succeed later.", True),
    ErrorCode.UPLOAD_UNVALIDATED: ("The uploaded file could not be checked. Upload it again.", False),
}
TRANSIENT_EXPLANATION = "A service the pipeline depends on was unavailable. Retrying should succeed."
# The four stages a job passes, and how many of them each job stage has completed.
STAGES_DONE = {
    Stage.AWAITING_UPLOAD: 0,
    Stage.UPLOAD_VALIDATED: 1,
    Stage.PARSING: 1,
    Stage.PARSING_PARTS: 1,
    Stage.PARSED: 2,
    Stage.CHUNKING: 2,
    Stage.CHUNKED: 3,
    Stage.EMBEDDING: 3,
    Stage.EMBEDDING_PARTS: 3,
    Stage.EMBEDDED: 4,
    Stage.DONE: 4,
}
# A failed job resumes from the stage it had completed: (its stage now, the step to send).
RESUME_FROM = {
    Stage.UPLOAD_VALIDATED: (Stage.UPLOAD_VALIDATED, StepName.PARSE),
    Stage.PARSING: (Stage.UPLOAD_VALIDATED, StepName.PARSE),
    Stage.PARSING_PARTS: (Stage.UPLOAD_VALIDATED, StepName.PARSE),
    Stage.PARSED: (Stage.PARSED, StepName.CHUNK),
    Stage.CHUNKING: (Stage.PARSED, StepName.CHUNK),
    Stage.CHUNKED: (Stage.CHUNKED, StepName.EMBED),
    Stage.EMBEDDING: (Stage.CHUNKED, StepName.EMBED),
    Stage.EMBEDDING_PARTS: (Stage.CHUNKED, StepName.EMBED),
}


def explain(code: str | None, state: str) -> tuple[str, bool]:
    """The user's sentence for an error code, and whether a retry can help."""
    if code in EXPLANATIONS:
        return EXPLANATIONS[code]
    # Codes not listed are transient ones (database_unavailable, s3_unavailable, …, internal_error):
    # the job ran out of attempts, so a later retry can succeed.
    return TRANSIENT_EXPLANATION, state in (JobState.DEAD_LETTERED, JobState.FAILED, JobState.RETRYING)


class ErrorView(BaseModel):
    code: str
    message: str
    retryable: bool


class PageConfidence(BaseModel):
    page: int
    confidence: float  # the mean OCR confidence of the page's text, 0..1


class DocumentView(BaseModel):
    document_id: UUID
    filename: str
    content_type: str
    size_bytes: int
    status: str
    stage: str
    state: str
    progress: float
    page_count: int | None
    chunk_count: int
    embedded_count: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    error: ErrorView | None
    # Pages whose text came from OCR, each with its confidence; warnings are the parse's codes, e.g.
    # ocr_low_confidence:3 (OCR read page 3 with less confidence than the threshold: check its text).
    ocr_pages: list[int] = []
    page_confidence: list[PageConfidence] = []
    warnings: list[str] = []
    # What the document is (policy, declarations, endorsement, benefit_summary, claim_form, other; None
    # until classified). Versions: the document this one replaces, and the newest READY document that
    # replaces this one (search then uses that one instead).
    document_type: str | None = None
    supersedes: UUID | None = None
    superseded_by: UUID | None = None


def document_view(row: Row) -> DocumentView:
    error = None
    if row["state"] in (JobState.FAILED, JobState.DEAD_LETTERED, JobState.EXPIRED) and row["last_error_code"]:
        message, retryable = explain(row["last_error_code"], row["state"])
        error = ErrorView(code=row["last_error_code"], message=message, retryable=retryable and _resumable(row))
    return DocumentView(
        document_id=row["document_id"],
        filename=row["filename"],
        content_type=row["content_type"],
        size_bytes=row["size_bytes"],
        status=row["status"],
        stage=row["stage"],
        state=row["state"],
        progress=STAGES_DONE.get(row["stage"], 0) / 4,
        page_count=row["page_count"],
        chunk_count=row["chunk_count"],
        embedded_count=row["embedded_count"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        error=error,
        ocr_pages=list(row.get("ocr_pages") or ()),
        page_confidence=[
            PageConfidence(page=page, confidence=round(confidence, 3))
            for page, confidence in zip(row.get("ocr_pages") or (), row.get("ocr_confidence") or (), strict=True)
        ],
        warnings=list(row.get("parse_warnings") or ()),
        document_type=row.get("document_type"),
        supersedes=row.get("supersedes"),
        superseded_by=row.get("superseded_by"),
    )


def _resumable(row: Row) -> bool:
    return row["stage"] in RESUME_FROM


@dataclass(frozen=True)
class Cursor:
    """Where a page of the newest-first listing ends: the last row's creation time and id."""

    created_at: str
    document_id: str

    def encode(self) -> str:
        raw = json.dumps([self.created_at, self.document_id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        padded = token + "=" * (-len(token) % 4)
        try:
            created_at, document_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
            if not isinstance(created_at, str) or not isinstance(document_id, str):
                raise ValueError("cursor fields are not strings")
            datetime.fromisoformat(created_at)
            UUID(document_id)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError("not a cursor") from exc
        return cls(created_at, document_id)


def cursor_after(rows: list[Row]) -> Cursor:
    last = rows[-1]
    return Cursor(last["created_at"].isoformat(), str(last["document_id"]))


def page_params(limit: int, cursor: Cursor | None) -> dict[str, Any]:
    return {
        "limit": limit + 1,  # one more tells whether another page exists
        "after_created": cursor.created_at if cursor else None,
        "after_id": cursor.document_id if cursor else None,
    }
