"""DocumentsFunction: a user's own documents — list, status, policy fields, retry and delete."""

import json
from uuid import UUID

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from docintake.api import ApiError, register_error_handlers, user_id_from_claims
from docintake.api.documents import (
    delete_document,
    get_document,
    get_document_fields,
    list_documents,
    retry_document,
)
from docintake.logs import function_logger, function_tracer, scrubbed_handler
from docintake.runtime import build_pipeline

logger = function_logger()
tracer = function_tracer()
# S3 and SQS only for a delete or a retry: built when one first needs them, not at every cold start (listing,
# status and fields read the database alone).
pipeline = build_pipeline("DocumentsFunction", on_first_use={"s3", "sqs"})
app = APIGatewayHttpResolver()


def _caller() -> UUID:
    return user_id_from_claims(app.current_event.request_context.authorizer.jwt_claim or {})


def _document_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise ApiError(404, "not_found", "no such document") from None


@app.get("/documents")
def documents() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise ApiError(400, "invalid_request", "limit must be a number") from None
    page = list_documents(pipeline.db, _caller(), limit=limit, cursor=query.get("cursor"))
    logger.info("documents listed", extra={"count": len(page.documents)})
    return Response(200, "application/json", page.model_dump_json())


@app.get("/documents/<document_id>")
def document(document_id: str) -> Response[str]:
    view = get_document(pipeline.db, _caller(), _document_id(document_id))
    return Response(200, "application/json", view.model_dump_json())


@app.get("/documents/<document_id>/fields")
def fields(document_id: str) -> Response[str]:
    stored = get_document_fields(pipeline.db, _caller(), _document_id(document_id))
    logger.info("fields served", extra={"document_id": document_id, "fields": len(stored.fields)})
    return Response(200, "application/json", stored.model_dump_json())


@app.post("/documents/<document_id>/retry")
def retry(document_id: str) -> Response[str]:
    view = retry_document(pipeline, _caller(), _document_id(document_id))
    logger.info("retry accepted", extra={"document_id": document_id, "stage": view.stage})
    return Response(202, "application/json", view.model_dump_json())


@app.delete("/documents/<document_id>")
def remove(document_id: str) -> Response[str]:
    result = delete_document(pipeline, _caller(), _document_id(document_id))
    logger.info("document deleted", extra={"document_id": document_id, "objects_removed": result["objects_removed"]})
    return Response(200, "application/json", json.dumps(result))


register_error_handlers(app, logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@scrubbed_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
