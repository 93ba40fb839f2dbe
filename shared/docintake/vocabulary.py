"""The pipeline's vocabulary, defined once: the stages a job passes through, its states, the stage steps (each
with its queue), the queues operators name, and every error code a job, an event or an API response carries.

Each is a ``StrEnum``: a member is its string, so rows, JSON and log lines read the same as before, and
comparing a database value with a member needs no conversion. Write the member, never the string, in the
runtime package (tests/unit/test_vocabulary.py holds the package to it).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Stage(StrEnum):
    """Where a job stands (``upload_jobs.stage``), in order; the ``*_parts`` stages hold a large document's
    stage while its parts run (see jobs.py)."""

    AWAITING_UPLOAD = "awaiting_upload"
    UPLOAD_VALIDATED = "upload_validated"
    PARSING = "parsing"
    PARSING_PARTS = "parsing_parts"
    PARSED = "parsed"
    CHUNKING = "chunking"
    CHUNKED = "chunked"
    EMBEDDING = "embedding"
    EMBEDDING_PARTS = "embedding_parts"
    EMBEDDED = "embedded"
    DONE = "done"


class JobState(StrEnum):
    """How a job is doing at its stage (``upload_jobs.state``)."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    RETRYING = "retrying"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    DONE = "done"
    EXPIRED = "expired"


class DocumentStatus(StrEnum):
    """What a user sees of a document (``documents.status``)."""

    PENDING_UPLOAD = "pending_upload"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"
    DELETED = "deleted"
    EXPIRED = "expired"


# A job in one of these states moves no further on its own.
FINISHED_STATES = frozenset({JobState.DONE, JobState.FAILED, JobState.EXPIRED})


class StepName(StrEnum):
    """A stage step driven by its SQS queue: the ``stage`` of a queue message."""

    PARSE = "parse"
    CHUNK = "chunk"
    EMBED = "embed"


class Queue(StrEnum):
    """The queues operators name (each with its DLQ): validate's S3 events and the three stage steps."""

    VALIDATE = "validate"
    PARSE = "parse"
    CHUNK = "chunk"
    EMBED = "embed"


class ErrorCode(StrEnum):
    """Every error code: a failed job's ``last_error_code`` (status.py explains each to the user), an API
    error's ``error``, a dead letter's ``error_code``. errors.py says which exception carries which."""

    ALREADY_SUPERSEDED = "already_superseded"
    BAD_MESSAGE = "bad_message"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    CORRUPT_DOCX = "corrupt_docx"
    CORRUPT_HTML = "corrupt_html"
    CORRUPT_IMAGE = "corrupt_image"
    CORRUPT_PDF = "corrupt_pdf"
    DATABASE_UNAVAILABLE = "database_unavailable"
    DEPENDENCY_UNAVAILABLE = "dependency_unavailable"
    DOCUMENT_DELETED = "document_deleted"
    EMBEDDING_AUTH = "embedding_auth"
    EMBEDDING_BAD_RESPONSE = "embedding_bad_response"
    EMBEDDING_DIMENSION_MISMATCH = "embedding_dimension_mismatch"
    EMBEDDING_INCOMPLETE = "embedding_incomplete"
    EMBEDDING_INPUT_TOO_LONG = "embedding_input_too_long"
    EMBEDDING_REJECTED = "embedding_rejected"
    EMBEDDING_UNAVAILABLE = "embedding_unavailable"
    EMPTY_DOCUMENT = "empty_document"
    ENCRYPTED_DOCX = "encrypted_docx"
    ENCRYPTED_PDF = "encrypted_pdf"
    FILE_TOO_LARGE = "file_too_large"
    INTERNAL_ERROR = "internal_error"
    FIELDS_NOT_READY = "fields_not_ready"
    INVALID_REQUEST = "invalid_request"
    LEASE_HELD = "lease_held"
    LEASE_LOST = "lease_lost"
    NO_TEXT_LAYER = "no_text_layer"
    NOT_FOUND = "not_found"
    NOT_RETRYABLE = "not_retryable"
    NOT_UTF8 = "not_utf8"
    OBJECT_MISSING = "object_missing"
    OCR_ACCESS_DENIED = "ocr_access_denied"
    OCR_BAD_DOCUMENT = "ocr_bad_document"
    OCR_DOCUMENT_TOO_LARGE = "ocr_document_too_large"
    OCR_INVALID_PARAMETER = "ocr_invalid_parameter"
    OCR_NOT_INSTALLED = "ocr_not_installed"
    OCR_THROTTLED = "ocr_throttled"
    OCR_UNAVAILABLE = "ocr_unavailable"
    OCR_UNSUPPORTED_DOCUMENT = "ocr_unsupported_document"
    PAGE_RANGE = "page_range"
    PARSE_MEMORY = "parse_memory"
    PARSE_TIMEOUT = "parse_timeout"
    PARSER_AUTH = "parser_auth"
    PARSER_BAD_RESPONSE = "parser_bad_response"
    PARSER_FAILED = "parser_failed"
    PARSER_REJECTED = "parser_rejected"
    PARSER_TIMEOUT = "parser_timeout"
    PARSER_UNAVAILABLE = "parser_unavailable"
    PERMANENT_ERROR = "permanent_error"
    S3_ACCESS_DENIED = "s3_access_denied"
    S3_UNAVAILABLE = "s3_unavailable"
    SECRETS_UNAVAILABLE = "secrets_unavailable"
    SIZE_MISMATCH = "size_mismatch"
    SQS_UNAVAILABLE = "sqs_unavailable"
    STAGE_CRASHED = "stage_crashed"
    SUPERSEDED_NOT_FOUND = "superseded_not_found"
    TOO_LARGE = "too_large"
    TOO_MANY_ACTIVE_UPLOADS = "too_many_active_uploads"
    TOO_MANY_PAGES = "too_many_pages"
    TRANSIENT_ERROR = "transient_error"
    TYPE_MISMATCH = "type_mismatch"
    UNAUTHENTICATED = "unauthenticated"
    UNSUPPORTED_DOCUMENT = "unsupported_document"
    UNSUPPORTED_TYPE = "unsupported_type"
    UPLOAD_EXPIRED = "upload_expired"
    UPLOAD_MISMATCH = "upload_mismatch"
    UPLOAD_UNVALIDATED = "upload_unvalidated"


# --- policy fields (docintake.fields) ---------------------------------------------------------------------


class InsuranceDocumentType(StrEnum):
    """What a document is to a policyholder: the line of business it insures, or the paper it is."""

    HOMEOWNERS = "homeowners"
    PERSONAL_AUTO = "personal_auto"
    COMMERCIAL_GENERAL_LIABILITY = "commercial_general_liability"
    SUMMARY_OF_BENEFITS = "summary_of_benefits"
    ENDORSEMENT = "endorsement"
    CLAIM_FORM = "claim_form"
    OTHER = "other"


class ValueKind(StrEnum):
    TEXT = "text"
    MONEY = "money"
    DATE = "date"
    # A health plan's share of a service: a copay (an amount), coinsurance (a percentage), or no charge.
    COST_SHARE = "cost_share"


class FieldName(StrEnum):
    INSURER = "insurer"
    POLICY_NUMBER = "policy_number"
    NAMED_INSURED = "named_insured"
    EFFECTIVE_DATE = "effective_date"
    EXPIRATION_DATE = "expiration_date"
    PREMIUM = "premium"
    # Summary of benefits: the plan's overall deductible and out-of-pocket limit. The bare names hold the
    # in-network amounts for one person, the figure a member compares plans by. On a property or liability
    # policy, ``deductible`` is the one its declarations print for the policy ("Section I deductible").
    DEDUCTIBLE = "deductible"
    DEDUCTIBLE_FAMILY = "deductible_family"
    DEDUCTIBLE_OUT_OF_NETWORK = "deductible_out_of_network"
    DEDUCTIBLE_OUT_OF_NETWORK_FAMILY = "deductible_out_of_network_family"
    OUT_OF_POCKET_LIMIT = "out_of_pocket_limit"
    OUT_OF_POCKET_LIMIT_FAMILY = "out_of_pocket_limit_family"
    OUT_OF_POCKET_LIMIT_OUT_OF_NETWORK = "out_of_pocket_limit_out_of_network"
    OUT_OF_POCKET_LIMIT_OUT_OF_NETWORK_FAMILY = "out_of_pocket_limit_out_of_network_family"
    # Summary of benefits: what a member pays in network.
    PRIMARY_CARE = "primary_care"
    SPECIALIST = "specialist"
    EMERGENCY_ROOM = "emergency_room"
    GENERIC_DRUGS = "generic_drugs"


FIELD_KINDS: Final[dict[FieldName, ValueKind]] = {
    FieldName.INSURER: ValueKind.TEXT,
    FieldName.POLICY_NUMBER: ValueKind.TEXT,
    FieldName.NAMED_INSURED: ValueKind.TEXT,
    FieldName.EFFECTIVE_DATE: ValueKind.DATE,
    FieldName.EXPIRATION_DATE: ValueKind.DATE,
    FieldName.PREMIUM: ValueKind.MONEY,
    FieldName.DEDUCTIBLE: ValueKind.MONEY,
    FieldName.DEDUCTIBLE_FAMILY: ValueKind.MONEY,
    FieldName.DEDUCTIBLE_OUT_OF_NETWORK: ValueKind.MONEY,
    FieldName.DEDUCTIBLE_OUT_OF_NETWORK_FAMILY: ValueKind.MONEY,
    FieldName.OUT_OF_POCKET_LIMIT: ValueKind.MONEY,
    FieldName.OUT_OF_POCKET_LIMIT_FAMILY: ValueKind.MONEY,
    FieldName.OUT_OF_POCKET_LIMIT_OUT_OF_NETWORK: ValueKind.MONEY,
    FieldName.OUT_OF_POCKET_LIMIT_OUT_OF_NETWORK_FAMILY: ValueKind.MONEY,
    FieldName.PRIMARY_CARE: ValueKind.COST_SHARE,
    FieldName.SPECIALIST: ValueKind.COST_SHARE,
    FieldName.EMERGENCY_ROOM: ValueKind.COST_SHARE,
    FieldName.GENERIC_DRUGS: ValueKind.COST_SHARE,
}
