"""Amazon Bedrock Converse for botocore's Stubber: a client that signs nothing and sends nothing, and answers in the
shape the API reference documents (docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html) —
which the Stubber checks against botocore's own service model, so a misremembered field fails the test."""

from __future__ import annotations

from typing import Any

import boto3

CLAUDE_HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def bedrock_runtime_client() -> Any:
    """A real ``bedrock-runtime`` client with dummy credentials: the Stubber answers before anything is signed."""
    return boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def converse_answer(text: str, *, stop_reason: str = "end_turn") -> dict[str, Any]:
    """A Converse response: the assistant's message, why it stopped, tokens used and latency."""
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": stop_reason,
        "usage": {"inputTokens": 1200, "outputTokens": 150, "totalTokens": 1350},
        "metrics": {"latencyMs": 900},
    }
