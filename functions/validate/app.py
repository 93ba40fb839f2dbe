"""ValidateFunction: S3 ObjectCreated on uploads/ → a verified upload and a parse message."""

from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from docintake.logs import function_logger, function_tracer, scrubbed_handler
from docintake.runtime import build_pipeline
from docintake.validation import validate_upload

logger = function_logger()
tracer = function_tracer()
pipeline = build_pipeline("ValidateFunction")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@scrubbed_handler
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict:
    outcomes = [
        validate_upload(
            pipeline,
            bucket=record.s3.bucket.name,
            raw_key=record.s3.get_object.key,
            version_id=record.s3.get_object.version_id,
            invocation_id=context.aws_request_id,
        )
        for record in event.records
    ]
    return {"outcomes": outcomes}
