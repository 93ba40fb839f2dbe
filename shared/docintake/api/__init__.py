"""The user-facing API's edge: who calls (the token's subject), refusals with a stable code, and the error
handlers every API function registers.

One module per function's routes, so each function imports only its own (its cold start is a user's wait):
``uploads`` (POST /documents), ``documents`` (list, status, retry, delete) and ``search`` (POST /search).
Bodies are pydantic models; errors carry a stable code."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any
from uuid import UUID

from aws_lambda_powertools.event_handler import Response

from docintake.errors import TransientError
from docintake.vocabulary import ErrorCode

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from pydantic import ValidationError

# Maps a non-UUID subject (e.g. an OIDC provider's opaque id) to a stable UUID per issuer.
USER_NAMESPACE = UUID("0d6b1b38-8a4c-4c1e-9a57-4f5e3c2a7b90")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}

    def body_json(self) -> str:
        return json.dumps(self.body())


def user_id_from_claims(claims: dict[str, Any]) -> UUID:
    """The JWT ``sub`` as the user id: a UUID as it is, anything else mapped stably per issuer. A subject
    that is missing, not a string or only whitespace names nobody: 401, never a user of its own."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise ApiError(401, ErrorCode.UNAUTHENTICATED, "the token carries no subject")
    try:
        return UUID(subject)
    except ValueError:
        return uuid.uuid5(USER_NAMESPACE, f"{claims.get('iss', '')}#{subject}")


def request_problems(exc: ValidationError) -> str:
    """Field names and messages only: the input values (which may be a user's query) stay out."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())


def register_error_handlers(app: APIGatewayHttpResolver, logger: Logger) -> None:
    """Refusals as 4xx with their code; retryable failures as 503 with Retry-After."""

    @app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
    def api_error(error: ApiError) -> Response[str]:
        logger.info("request refused", extra={"error_code": error.code, "status": error.status})
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
        return Response(error.status, "application/json", error.body_json(), headers=headers)

    @app.exception_handler(TransientError)  # type: ignore[untyped-decorator]
    def unavailable(error: TransientError) -> Response[str]:
        logger.warning("request failed, retryable", extra={"error_code": error.code})
        body = ApiError(503, error.code, "temporarily unavailable; retry the request").body_json()
        return Response(503, "application/json", body, headers={"Retry-After": "5"})
