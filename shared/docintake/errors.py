"""The one exception tree of the pipeline; every library error is translated into it where it is caught.

    DocintakeError
    ├── PermanentError          the job fails with ``code`` and the message is acknowledged
    │   ├── InvalidMessage        bad_message
    │   ├── UnsupportedDocument   unsupported_type, not_a_pdf, encrypted_pdf, too_many_pages, empty_document
    │   └── UploadMismatch        checksum_mismatch, size_mismatch, type_mismatch, owner_mismatch
    └── TransientError          retried with backoff through the message's visibility timeout
        ├── LeaseHeld             another live invocation holds the job
        ├── LeaseLost             our lease expired and another invocation took over (fencing)
        └── DependencyUnavailable database, S3, SQS or an HTTP provider failed in a way that may pass

Unknown exceptions are treated as transient: retried, then dead-lettered.
"""

from __future__ import annotations


class DocintakeError(Exception):
    """Base of every error the pipeline raises on purpose. ``message`` must never carry document text."""

    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class PermanentError(DocintakeError):
    code = "permanent_error"


class InvalidMessage(PermanentError):
    code = "bad_message"


class UnsupportedDocument(PermanentError):
    code = "unsupported_document"


class UploadMismatch(PermanentError):
    code = "upload_mismatch"


class TransientError(DocintakeError):
    code = "transient_error"


class LeaseHeld(TransientError):
    code = "lease_held"


class LeaseLost(TransientError):
    code = "lease_lost"


class DependencyUnavailable(TransientError):
    code = "dependency_unavailable"
