"""DocumentsFunction: a user's own documents — DELETE /documents/{document_id}."""

import json
from uuid import UUID

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from docintake.api import ApiError, delete_document, register_error_handlers, user_id_from_claims
from docintake.logs import function_logger, scrubbed_handler
from docintake.runtime import build_pipeline

logger = function_logger()
tracer = Tracer()
pipeline = build_pipeline("DocumentsFunction")
app = APIGatewayHttpResolver()


def _document_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise ApiError(404, "not_found", "no such document") from None


@app.delete("/documents/<document_id>")
@tracer.capture_method
def remove_document(document_id: str) -> Response[str]:
    user_id = user_id_from_claims(app.current_event.request_context.authorizer.jwt_claim or {})
    result = delete_document(pipeline, user_id, _document_id(document_id))
    logger.info("document deleted", extra={"document_id": document_id, "objects_removed": result["objects_removed"]})
    return Response(200, "application/json", json.dumps(result))


register_error_handlers(app, logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@scrubbed_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
