"""The one context every function, and the operators' tools, work with: settings and clients built once per
container, the queue URLs by step and by queue, and (for the sweeper and dead-letter replay) the way to
re-invoke ValidateFunction. ``runtime.build_pipeline`` and ``build_operations`` wire it for a function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from docintake.config import Settings
from docintake.db import Database

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


@dataclass(frozen=True)
class Context:
    settings: Settings
    db: Database
    s3: S3Client
    sqs: SQSClient
    function_name: str
    # Re-invokes ValidateFunction asynchronously with an S3 event (Lambda Invoke, or the local async queue).
    invoke_validate: Callable[[dict[str, Any]], None] | None = None

    def source_url(self, queue: str) -> str | None:
        """A stage step's queue (parse, chunk, embed), or None when it is not configured or not a stage's."""
        return {
            "parse": self.settings.parse_queue_url,
            "chunk": self.settings.chunk_queue_url,
            "embed": self.settings.embed_queue_url,
        }.get(queue)

    def queue_url(self, step: str) -> str:
        """A stage step's queue, which the stage machine cannot work without."""
        url = self.source_url(step)
        if not url:
            raise RuntimeError(f"{step.upper()}_QUEUE_URL is not set")
        return url

    def dlq_url(self, queue: str) -> str | None:
        """A queue's dead-letter queue (validate's is ValidateFunction's on-failure destination), if configured."""
        return {
            "validate": self.settings.validate_dlq_url,
            "parse": self.settings.parse_dlq_url,
            "chunk": self.settings.chunk_dlq_url,
            "embed": self.settings.embed_dlq_url,
        }.get(queue)

    def required_dlq_url(self, queue: str) -> str:
        url = self.dlq_url(queue)
        if not url:
            raise RuntimeError(f"{queue.upper()}_DLQ_URL is not set")
        return url

    @property
    def resend_grace(self) -> timedelta:
        """How long a completed stage may wait for its sender before a duplicate delivery re-sends."""
        return timedelta(seconds=self.settings.resend_grace_seconds)
