"""SweeperFunction: on a schedule, rescues jobs whose heartbeat went stale and expires abandoned uploads."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from docintake.logs import function_logger, function_tracer, scrubbed_handler
from docintake.runtime import build_operations
from docintake.sweeper import sweep

logger = function_logger()
tracer = function_tracer()
operations = build_operations("SweeperFunction")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@scrubbed_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    result = sweep(operations, invocation_id=context.aws_request_id)
    return {"rescued": len(result.rescued), "expired": len(result.expired), "revalidated": len(result.revalidated)}
