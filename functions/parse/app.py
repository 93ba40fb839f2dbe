"""ParseFunction: ParseQueue → Markdown and a page map in S3 → ChunkQueue."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from docintake.logs import function_logger, function_tracer, scrubbed_handler
from docintake.parsing import parser_from_settings
from docintake.runtime import build_pipeline
from docintake.stages import handle_parse_record

logger = function_logger()
tracer = function_tracer(http=True)
pipeline = build_pipeline("ParseFunction")
parser = parser_from_settings(pipeline.settings)

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> str:
    return handle_parse_record(pipeline, record, lambda_context, parser)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@scrubbed_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
