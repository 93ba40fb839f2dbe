"""ChunkFunction: ChunkQueue → document_chunks rows → EmbedQueue."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from docintake.fields.llm import build_fields_filler
from docintake.logs import function_logger, function_tracer, scrubbed_handler
from docintake.runtime import build_pipeline
from docintake.stages import handle_chunk_record

logger = function_logger()
tracer = function_tracer()
pipeline = build_pipeline("ChunkFunction")
# None unless FIELDS_LLM_PROVIDER names a model to fill what the rules miss (its key is read here, once).
filler = build_fields_filler(pipeline.settings)

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> str:
    return handle_chunk_record(pipeline, record, lambda_context, filler=filler)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@scrubbed_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
