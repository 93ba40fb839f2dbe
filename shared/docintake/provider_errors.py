"""How the model providers say no, read the same way by every client of theirs here (the embedders and the
policy-fields model): an OpenAI-compatible API's error body, and Bedrock's error codes by what to do."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict


class OpenAIErrorDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: str | None = None
    code: str | int | None = None


class OpenAIErrorBody(BaseModel):
    """``{"error": {"message", "type", "code"}}``: the message is never read, as it may quote the input."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    error: OpenAIErrorDetail


# Bedrock runtime errors: worth another attempt; the request will never pass; our credentials are refused.
BEDROCK_RETRIED: Final = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ModelTimeoutException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelErrorException",
    }
)
BEDROCK_REJECTED: Final = frozenset({"ValidationException", "ResourceNotFoundException"})
BEDROCK_AUTH: Final = frozenset({"AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException"})
