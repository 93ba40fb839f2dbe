"""Queue bodies: small versioned models that carry ids only; content lives in S3 or PostgreSQL."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from docintake.errors import InvalidMessage
from docintake.vocabulary import StepName

__all__ = ["StageMessage", "StepName"]


class StageMessage(BaseModel):
    """Asks the consumer of ``stage``'s queue to run that stage of the job."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    job_id: UUID
    document_id: UUID
    user_id: UUID
    stage: StepName
    correlation_id: str
    # Set on the messages of a stage that fanned out (a large document): which of the job's parts to run.
    part: int | None = Field(default=None, ge=0)

    @classmethod
    def parse_body(cls, body: str) -> StageMessage:
        try:
            return cls.model_validate_json(body)
        except ValidationError as exc:
            # The error names fields and types only; a body never carries document text.
            raise InvalidMessage(f"invalid stage message: {exc.error_count()} error(s)") from exc
