"""Settings: every environment variable the functions and the CLI read, validated once at cold start.

A pydantic model filled from the environment by field name (case-insensitively; arguments win), as
pydantic-settings' BaseSettings would fill it: importing pydantic-settings cost each API function about a tenth
of the bare imports' cold start (docs/decisions.md, "API cold start"), for no feature these flat settings use.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

# The presigned URL lifetime is capped by the design at 15 minutes.
MAX_UPLOAD_URL_SECONDS = 900
# An OLE compound file's signature: an encrypted DOCX is one (so is a Word 97-2003 .doc). Validation accepts it
# as a DOCX and the DOCX parser refuses it with a code; both read it here, where neither pulls in the other.
COMPOUND_FILE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class ContentType(StrEnum):
    """The document types an upload may declare; validation checks the bytes against the declaration."""

    PDF = "application/pdf"
    TEXT = "text/plain"
    MARKDOWN = "text/markdown"
    HTML = "text/html"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    PNG = "image/png"
    JPEG = "image/jpeg"
    TIFF = "image/tiff"


ALLOWED_CONTENT_TYPES: frozenset[str] = frozenset(member.value for member in ContentType)

# The model (name, dimensions) a local embedding provider uses when EMBEDDING_MODEL is not set; both are the
# largest each package ships (docintake.embedding.wordllama, docintake.embedding.minilm).
PROVIDER_DEFAULT_MODELS: dict[str, tuple[str, int]] = {
    "hash": ("docintake-hash-v1", 384),
    "wordllama": ("wordllama-l2-supercat-256", 256),
    "minilm": ("all-MiniLM-L6-v2", 384),
}


class Settings(BaseModel):
    """One object per function. Field names map to upper-case environment variables."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**_from_environment(type(self).model_fields), **values})

    # Where things are.
    database_url: str | None = Field(default=None, description="libpq URL; wins over the secret")
    database_secret_arn: str | None = Field(default=None, description="Secrets Manager secret (RDS JSON)")
    bucket_name: str = "docintake-documents"
    parse_queue_url: str | None = None
    chunk_queue_url: str | None = None
    embed_queue_url: str | None = None
    # Dead-letter queues: a body that is not a stage message is sent straight to its queue's DLQ.
    parse_dlq_url: str | None = None
    chunk_dlq_url: str | None = None
    embed_dlq_url: str | None = None
    validate_dlq_url: str | None = None

    # Upload.
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    # Documents a user may have in flight (awaiting upload or being processed); more is a 429.
    max_active_jobs_per_user: int = Field(default=5, ge=1)
    upload_url_expires_seconds: int = Field(default=MAX_UPLOAD_URL_SECONDS, gt=0, le=MAX_UPLOAD_URL_SECONDS)

    # Retries: the queues' maxReceiveCount, so the job reads dead_lettered before SQS moves the message.
    max_receive_count: int = Field(default=5, ge=1)
    # Backoff of a failed attempt: base × 2^(attempt−1) seconds, capped at 300 s.
    backoff_base_seconds: int = Field(default=3, ge=1)
    # A claim's lease outlives the invocation's remaining time by this much; a crashed one's lapses by itself.
    lease_grace_seconds: int = Field(default=30, ge=1)
    # A stage completed without its next message marked sent after this long: the sender died, send again.
    resend_grace_seconds: float = Field(default=30.0, ge=0)
    # The sweeper rescues jobs whose heartbeat is older than this. It must exceed the longest function
    # timeout × maxReceiveCount (ParseFunction: 300 s × 5), or it would race SQS's own redeliveries.
    sweep_stale_seconds: int = Field(default=1800, ge=1)
    # Uploads never made this long after their URL expired are marked expired.
    sweep_upload_grace_seconds: int = Field(default=900, ge=0)
    # The ValidateFunction the sweeper and `dlq replay` re-invoke for a stuck or dead-lettered upload event.
    validate_function_name: str | None = None

    # Parsing.
    parser: Literal["local", "llamaparse"] = "local"
    max_pages: int = Field(default=2000, gt=0)
    # A document whose share of pages without a text layer (scans) is above this fails with no_text_layer.
    max_scanned_page_ratio: float = Field(default=0.5, ge=0.0, le=1.0)
    # The local parser runs in a child process with these limits; keep the time below the function timeout.
    # The memory is address space the parse may add to what the process already maps.
    parse_timeout_seconds: float = Field(default=240.0, gt=0)
    parse_memory_mb: int = Field(default=1536, ge=128)
    # A PDF of more pages than this is parsed in parts of this many pages, each by its own invocation, so
    # no invocation grows with the document: 40 OCR'd pages (about 5 s each) fit ParseFunction's 300 s.
    parse_pages_per_part: int = Field(default=40, ge=1)
    # OCR of pages without a text layer and of image uploads: RapidOCR on this machine (the `ocr` extra),
    # Amazon Textract on AWS (the template sets it), or none (scans then fail with no_text_layer).
    ocr_engine: Literal["local", "textract", "none"] = "local"
    # An OCR'd page whose mean confidence (0..1) is under this is listed as a warning.
    ocr_min_confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    # LlamaParse (PARSER=llamaparse): the key from the environment or a Secrets Manager secret.
    llamaparse_api_key: SecretStr | None = None
    llamaparse_api_key_secret_arn: str | None = None
    llamaparse_base_url: str = "https://api.cloud.llamaindex.ai"
    llamaparse_poll_interval_seconds: float = Field(default=2.0, gt=0)
    llamaparse_timeout_seconds: float = Field(default=240.0, gt=0)

    # Chunking, in characters.
    chunk_size: int = Field(default=1000, ge=100)
    chunk_overlap: int = Field(default=200, ge=0)
    # Optional ceiling in (estimated) tokens for the embedding model's input limit.
    chunk_max_tokens: int | None = Field(default=None, ge=16)

    # Embedding. wordllama and minilm run from model files that registry packages ship (docintake[semantic]); with
    # EMBEDDING_MODEL and EMBEDDING_DIMENSIONS unset they take the provider's model (PROVIDER_DEFAULT_MODELS).
    # The default is semantic and offline: all-MiniLM-L6-v2 found the answer best of the local embedders on
    # bench/retrieval (docs/decisions.md); hash stays for tests, OpenAI-compatible and Bedrock for production.
    embedding_provider: Literal["hash", "wordllama", "minilm", "openai", "bedrock", "sentence-transformers"] = "minilm"
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_dimensions: int = Field(default=384, ge=8, le=2000)
    embed_batch_size: int = Field(default=256, ge=1, le=256)
    # A document of more chunks than this is embedded in parts of this many chunks, one invocation each
    # (MiniLM on a 2 GB Lambda: about 5-10 chunks a second, so a part takes 25-50 s of EmbedFunction's 120), and a
    # part that still runs short of time hands the rest to a fresh message (a continuation).
    embed_chunks_per_part: int = Field(default=256, ge=1)
    # OpenAI-compatible /v1/embeddings: the key from the environment or a Secrets Manager secret.
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: SecretStr | None = None
    openai_api_key_secret_arn: str | None = None
    openai_max_tokens_per_request: int = Field(default=300_000, gt=0)
    # Per HTTP attempt; four attempts and their backoff must fit EmbedFunction's 120 s timeout.
    embedding_timeout_seconds: float = Field(default=20.0, gt=0)
    # Amazon Bedrock (Titan Text Embeddings V2): parallel invoke_model calls per batch.
    bedrock_max_concurrency: int = Field(default=4, ge=1, le=32)
    # sentence-transformers: a model directory on disk (no download at run time).
    sentence_transformers_model_path: str | None = None

    # Policy fields (docintake.fields): the rules alone by default, offline. A provider here adds a language model
    # that fills what the rules missed (fields/llm.py). "openai" is POST {OPENAI_BASE_URL}/chat/completions with the
    # embedder's key (OPENAI_API_KEY or OPENAI_API_KEY_SECRET_ARN): one account and one secret to rotate, and a
    # deployment that embeds elsewhere names the same three settings. "bedrock" is bedrock-runtime Converse.
    fields_llm_provider: Literal["none", "openai", "bedrock"] = "none"
    # None or empty: the provider's default (fields/llm.py DEFAULT_MODELS); with bedrock, a foundation-model id.
    fields_llm_model: str | None = None
    # The model reads the Markdown's first this-many characters, what the rules read (fields/rules.py HEAD_CHARS):
    # declarations and a summary's questions and cost tables are there. About 10,000 tokens at the default.
    fields_llm_max_chars: int = Field(default=40_000, ge=1000)
    # Per attempt (a read of the whole answer: up to 4,096 tokens); no attempt or wait starts that could outlast
    # the invocation (fields.llm), so a slow provider fails the record transiently instead of timing out the batch.
    fields_llm_timeout_seconds: float = Field(default=60.0, gt=0)

    log_level: str = "INFO"

    @model_validator(mode="before")
    @classmethod
    def _provider_default_model(cls, data: Any) -> Any:
        """A local provider named without a model gets its own, not the hash embedder's name and size."""
        if isinstance(data, dict):
            # The field's default counts too, so changing the default provider needs no other change here.
            provider = data.get("embedding_provider", cls.model_fields["embedding_provider"].default)
            default = PROVIDER_DEFAULT_MODELS.get(str(provider))
            if default is not None and data.get("embedding_model") is None:
                data = {**data, "embedding_model": default[0]}
                if data.get("embedding_dimensions") is None:
                    data["embedding_dimensions"] = default[1]
        return data


def _from_environment(fields: dict[str, Any]) -> dict[str, str]:
    """The environment's value of each field, its variable named in any case (DATABASE_URL, database_url)."""
    found: dict[str, str] = {}
    for name, value in os.environ.items():
        field = name.lower()
        if field in fields:
            found[field] = value
    return found


def load_settings() -> Settings:
    settings = Settings()
    if settings.chunk_overlap >= settings.chunk_size:
        raise ValueError("CHUNK_OVERLAP must be smaller than CHUNK_SIZE")
    return settings
