"""Settings: every environment variable the functions and the CLI read, validated once at cold start."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The presigned URL lifetime is capped by the design at 15 minutes.
MAX_UPLOAD_URL_SECONDS = 900

ALLOWED_CONTENT_TYPES: frozenset[str] = frozenset({"application/pdf", "text/plain", "text/markdown"})


class Settings(BaseSettings):
    """One object per function. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    # Where things are.
    database_url: str | None = Field(default=None, description="libpq URL; wins over the secret")
    database_secret_arn: str | None = Field(default=None, description="Secrets Manager secret (RDS JSON)")
    bucket_name: str = "docintake-documents"
    parse_queue_url: str | None = None
    chunk_queue_url: str | None = None
    embed_queue_url: str | None = None

    # Upload.
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    upload_url_expires_seconds: int = Field(default=MAX_UPLOAD_URL_SECONDS, gt=0, le=MAX_UPLOAD_URL_SECONDS)

    # Retries: the queues' maxReceiveCount, so the job reads dead_lettered before SQS moves the message.
    max_receive_count: int = Field(default=5, ge=1)

    # Parsing.
    parser: Literal["local"] = "local"
    max_pages: int = Field(default=2000, gt=0)

    # Chunking, in characters.
    chunk_size: int = Field(default=1000, ge=100)
    chunk_overlap: int = Field(default=200, ge=0)

    # Embedding.
    embedding_provider: Literal["hash"] = "hash"
    embedding_model: str = "docintake-hash-v1"
    embedding_dimensions: int = Field(default=384, ge=8, le=2000)
    embed_batch_size: int = Field(default=256, ge=1, le=256)

    log_level: str = "INFO"


def load_settings() -> Settings:
    settings = Settings()
    if settings.chunk_overlap >= settings.chunk_size:
        raise ValueError("CHUNK_OVERLAP must be smaller than CHUNK_SIZE")
    return settings
