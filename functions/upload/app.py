"""UploadFunction: POST /documents → a document, a job and a presigned PUT URL for the file (201), or the
user's existing copy of that file (200, duplicate_of)."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from docintake.api import register_error_handlers, user_id_from_claims
from docintake.api.uploads import DuplicateUpload, create_upload, parse_upload_request
from docintake.logs import function_logger, function_tracer, scrubbed_handler
from docintake.presign import S3Presigner
from docintake.runtime import build_pipeline

logger = function_logger()
tracer = function_tracer()
# No AWS client at start (docs/decisions.md, API cold start): every request presigns its PUT with our own SigV4
# signer, from Lambda's credentials in the environment, read now. The S3 client is built on first use only where
# that signer hands a URL to botocore (no credentials in the environment, an endpoint setting it does not
# reproduce); SQS never: no upload sends a stage message (validation starts from S3's event).
pipeline = build_pipeline("UploadFunction", on_first_use={"s3", "sqs"})
presigner = S3Presigner(pipeline.s3)
app = APIGatewayHttpResolver()


@app.post("/documents")
def post_document() -> Response[str]:
    user_id = user_id_from_claims(app.current_event.request_context.authorizer.jwt_claim or {})
    ticket = create_upload(pipeline, user_id, parse_upload_request(app.current_event.decoded_body), presigner=presigner)
    if isinstance(ticket, DuplicateUpload):
        logger.info("upload is a duplicate", extra={"document_id": str(ticket.document_id)})
        return Response(200, "application/json", ticket.model_dump_json())
    # From here on the job's correlation id: every function's log lines for this document carry it.
    logger.set_correlation_id(ticket.correlation_id)
    logger.info("upload ticket issued", extra={"document_id": str(ticket.document_id), "job_id": str(ticket.job_id)})
    return Response(201, "application/json", ticket.model_dump_json())


register_error_handlers(app, logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@scrubbed_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
