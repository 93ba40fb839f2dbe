"""The one exception tree of the pipeline; every library error is translated into it where it is caught.

    DocintakeError
    ├── PermanentError            the job fails with ``code``; retrying the same input gives the same answer
    │   │                         object_missing (the upload or a derived object is gone)
    │   ├── InvalidMessage          bad_message: redelivered until it lands in the DLQ, never dropped
    │   ├── UnsupportedDocument     unsupported_type, corrupt_pdf, encrypted_pdf, corrupt_docx, encrypted_docx,
    │   │                           corrupt_html, corrupt_image, too_large, too_many_pages, no_text_layer,
    │   │                           empty_document, not_utf8, parse_timeout, parse_memory (the local parser);
    │   │                           ocr_not_installed (RapidOCR missing); ocr_invalid_parameter,
    │   │                           ocr_unsupported_document, ocr_bad_document, ocr_document_too_large
    │   │                           (Textract); parser_rejected, parser_failed (LlamaParse)
    │   ├── UploadMismatch          checksum_mismatch, size_mismatch, type_mismatch
    │   └──                         embedding_input_too_long, embedding_rejected, embedding_dimension_mismatch
    └── TransientError            retried with backoff through the message's visibility timeout
        │                         parser_timeout (a LlamaParse job outlived its limit), embedding_incomplete
        ├── LeaseHeld               lease_held: another live invocation holds the job
        ├── LeaseLost               lease_lost: our lease expired and another invocation took over (fencing)
        └── DependencyUnavailable   database_unavailable, s3_unavailable, s3_access_denied, sqs_unavailable,
                                    parser_unavailable, parser_auth, parser_bad_response, secrets_unavailable,
                                    embedding_unavailable, embedding_auth, embedding_bad_response,
                                    ocr_throttled, ocr_unavailable, ocr_access_denied (Textract)

Unknown exceptions are treated as transient (code internal_error): retried, then dead-lettered.
"""

from __future__ import annotations

from docintake.vocabulary import ErrorCode


class DocintakeError(Exception):
    """Base of every error the pipeline raises on purpose. ``message`` must never carry document text."""

    code: str = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class PermanentError(DocintakeError):
    code: str = ErrorCode.PERMANENT_ERROR


class InvalidMessage(PermanentError):
    code: str = ErrorCode.BAD_MESSAGE


class UnsupportedDocument(PermanentError):
    code: str = ErrorCode.UNSUPPORTED_DOCUMENT


class UploadMismatch(PermanentError):
    code: str = ErrorCode.UPLOAD_MISMATCH


class TransientError(DocintakeError):
    code: str = ErrorCode.TRANSIENT_ERROR


class LeaseHeld(TransientError):
    code: str = ErrorCode.LEASE_HELD


class LeaseLost(TransientError):
    code: str = ErrorCode.LEASE_LOST


class DependencyUnavailable(TransientError):
    code: str = ErrorCode.DEPENDENCY_UNAVAILABLE
