"""SearchFunction: POST /search → the caller's top-k chunks (hybrid, vector or keyword search), each with its document,
pages and headings."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from docintake.api import register_error_handlers, user_id_from_claims
from docintake.api.search import parse_search_request, search_documents
from docintake.config import load_settings
from docintake.logs import function_logger, function_tracer, scrubbed_handler
from docintake.runtime import build_database

logger = function_logger()
settings = load_settings()
# Search reads the database and embeds the question, nothing more: no S3 or SQS client (the stage pipeline's),
# and httpx traced only when the embedder calls an HTTP API (patching it imports it).
tracer = function_tracer(http=settings.embedding_provider == "openai")
db = build_database(settings)
app = APIGatewayHttpResolver()


@app.post("/search")
def post_search() -> Response[str]:
    user_id = user_id_from_claims(app.current_event.request_context.authorizer.jwt_claim or {})
    request = parse_search_request(app.current_event.decoded_body)
    response = search_documents(db, settings, user_id, request)
    # Counts only: the query and the chunks are the user's words.
    logger.info("search answered", extra={"k": request.k, "mode": request.mode, "results": len(response.results)})
    return Response(200, "application/json", response.model_dump_json())


register_error_handlers(app, logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@scrubbed_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
