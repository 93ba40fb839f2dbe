"""SQS: sending stage messages and delaying a failed one's redelivery (the backoff)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from docintake.errors import DependencyUnavailable
from docintake.messages import StageMessage
from docintake.vocabulary import ErrorCode

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BACKOFF_BASE_SECONDS = 3
BACKOFF_CAP_SECONDS = 300


def backoff_seconds(attempt: int, base: int = BACKOFF_BASE_SECONDS) -> int:
    """3 s, 6 s, 12 s, … capped at 300 s, for the attempt that just failed (1-based)."""
    return int(min(BACKOFF_CAP_SECONDS, base * 2 ** max(0, attempt - 1)))


def send_stage_message(sqs: SQSClient, queue_url: str, message: StageMessage) -> str:
    try:
        response = sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=message.model_dump_json(),
            MessageAttributes={
                "correlation_id": {"DataType": "String", "StringValue": message.correlation_id},
                "stage": {"DataType": "String", "StringValue": message.stage},
            },
        )
    except (ClientError, BotoCoreError) as exc:
        raise DependencyUnavailable("could not send stage message", code=ErrorCode.SQS_UNAVAILABLE) from exc
    return response["MessageId"]


def delay_redelivery(sqs: SQSClient, queue_url: str, receipt_handle: str, seconds: int) -> None:
    """Sets the in-flight message's visibility so SQS redelivers it after ``seconds``."""
    # If this fails the message still comes back, after the queue's own visibility timeout.
    with contextlib.suppress(ClientError, BotoCoreError):
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds)
