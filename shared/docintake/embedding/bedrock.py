"""The ``bedrock`` embedder: Amazon Titan Text Embeddings V2 through boto3 ``bedrock-runtime`` ``invoke_model``, one
text per call (the model takes one ``inputText``), a bounded number of calls at a time, vectors in input order.

Request and response, as the Bedrock user guide documents Titan Text Embeddings V2
(docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html), in the ``body`` of InvokeModel:

    {"inputText": str, "dimensions": 256 | 512 | 1024, "normalize": true}
    → {"embedding": [float, …], "inputTextTokenCount": int, "embeddingsByType": {"float": […]}}

An input may hold up to 8,192 tokens or 50,000 characters and must not be empty (titan-embedding-models.html).

Failures, by InvokeModel's error codes (botocore's ``bedrock-runtime`` service model; the Bedrock API reference):

    an input over 50,000 characters or 8192 tokens   PermanentError         embedding_input_too_long  (before any call)
    an empty input                                   PermanentError         embedding_rejected        (before any call)
    ValidationException, ResourceNotFoundException   PermanentError         embedding_rejected
    a vector of the wrong length                     PermanentError         embedding_dimension_mismatch
    AccessDeniedException, no credentials            DependencyUnavailable  embedding_auth
    ThrottlingException, ServiceUnavailableException, ModelTimeoutException, InternalServerException,
    ModelNotReadyException, ModelErrorException, connection errors
                                                     retried in the call: 4 attempts, 1 s × 2^(n−1) apart (≤ 30 s);
                                                     then DependencyUnavailable embedding_unavailable
    ServiceQuotaExceededException, other codes       DependencyUnavailable  embedding_unavailable     (queue retries)
    an unreadable body                               DependencyUnavailable  embedding_bad_response

botocore's own retries are turned off on the client built here, so the attempts above are all there are. Low-level
boto3 clients are thread-safe, so the worker threads share one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from pydantic import BaseModel, ConfigDict, ValidationError

from docintake.chunking import estimate_tokens
from docintake.config import Settings
from docintake.errors import DependencyUnavailable, PermanentError
from docintake.http_retries import MAX_ATTEMPTS, backoff_seconds
from docintake.provider_errors import BEDROCK_AUTH, BEDROCK_REJECTED, BEDROCK_RETRIED
from docintake.vocabulary import ErrorCode

logger = Logger(service="docintake", child=True)

TITAN_V2_DIMENSIONS = frozenset({256, 512, 1024})
MAX_INPUT_CHARACTERS = 50_000
MAX_INPUT_TOKENS = 8192


class BedrockRuntime(Protocol):
    """The one call we make on a boto3 ``bedrock-runtime`` client."""

    def invoke_model(self, *, modelId: str, body: bytes, contentType: str, accept: str) -> Mapping[str, Any]: ...


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    embedding: list[float]


@dataclass(frozen=True)
class BedrockEmbedder:
    model: str
    dimensions: int
    client: BedrockRuntime = field(repr=False)
    max_concurrency: int = 4
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def __post_init__(self) -> None:
        if self.dimensions not in TITAN_V2_DIMENSIONS:
            raise ValueError(f"Titan Text Embeddings V2 gives 256, 512 or 1024 dimensions, not {self.dimensions}")
        if self.max_concurrency < 1:
            raise ValueError("BEDROCK_MAX_CONCURRENCY must be at least 1")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        client: BedrockRuntime | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> BedrockEmbedder:
        return cls(
            model=settings.embedding_model,
            dimensions=settings.embedding_dimensions,
            client=client or bedrock_runtime_client(settings),
            max_concurrency=settings.bedrock_max_concurrency,
            sleep=sleep,
        )

    def embed(self, texts: list[str]) -> list[list[float]]:
        for index, text in enumerate(texts):
            _check_input(index, text)
        if len(texts) <= 1 or self.max_concurrency == 1:
            return [self._embed_one(text) for text in texts]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(texts))) as pool:
            futures = [pool.submit(self._embed_one, text) for text in texts]
            return _in_order(futures)

    def _embed_one(self, text: str) -> list[float]:
        body = json.dumps({"inputText": text, "dimensions": self.dimensions, "normalize": True}).encode()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = self.client.invoke_model(
                    modelId=self.model, body=body, contentType="application/json", accept="application/json"
                )
                return self._vector(response)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", "unknown"))
                if code not in BEDROCK_RETRIED:
                    raise _client_error(code) from exc
                failure: Exception = exc
                reason = code
            except NoCredentialsError as exc:
                raise DependencyUnavailable("no AWS credentials for Bedrock", code=ErrorCode.EMBEDDING_AUTH) from exc
            except BotoCoreError as exc:
                failure, reason = exc, type(exc).__name__
            if attempt == MAX_ATTEMPTS:
                raise DependencyUnavailable(
                    f"Bedrock invoke_model failed {MAX_ATTEMPTS} times (last: {reason})",
                    code=ErrorCode.EMBEDDING_UNAVAILABLE,
                ) from failure
            delay = backoff_seconds(attempt)
            logger.warning("embedding retry", extra={"provider": "bedrock", "reason": reason, "delay_seconds": delay})
            self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _vector(self, response: Mapping[str, Any]) -> list[float]:
        try:
            answer = _Answer.model_validate_json(response["body"].read())
        except (KeyError, AttributeError, ValidationError):
            raise DependencyUnavailable("Bedrock answer unreadable", code=ErrorCode.EMBEDDING_BAD_RESPONSE) from None
        if len(answer.embedding) != self.dimensions:
            raise PermanentError(
                f"{self.model} returned {len(answer.embedding)} dimensions, expected {self.dimensions}",
                code=ErrorCode.EMBEDDING_DIMENSION_MISMATCH,
            )
        return answer.embedding


def bedrock_runtime_client(settings: Settings) -> BedrockRuntime:
    """A client whose own retries are off (ours count the attempts) and whose pool fits the worker threads."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=10,
        read_timeout=settings.embedding_timeout_seconds,
        max_pool_connections=max(10, settings.bedrock_max_concurrency),
    )
    client: BedrockRuntime = boto3.client("bedrock-runtime", config=config)
    return client


def _check_input(index: int, text: str) -> None:
    if not text:
        raise PermanentError(f"input {index} is empty; Titan refuses empty input", code=ErrorCode.EMBEDDING_REJECTED)
    if len(text) > MAX_INPUT_CHARACTERS or estimate_tokens(text) > MAX_INPUT_TOKENS:
        raise PermanentError(
            f"input {index} is over Titan's {MAX_INPUT_CHARACTERS} characters or {MAX_INPUT_TOKENS} tokens",
            code=ErrorCode.EMBEDDING_INPUT_TOO_LONG,
        )


def _in_order(futures: list[Future[list[float]]]) -> list[list[float]]:
    """Each result in submission order; on the first failure the calls not yet started are dropped."""
    try:
        return [future.result() for future in futures]
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def _client_error(code: str) -> Exception:
    if code in BEDROCK_REJECTED:
        return PermanentError(f"Bedrock rejected the request ({code})", code=ErrorCode.EMBEDDING_REJECTED)
    if code in BEDROCK_AUTH:
        return DependencyUnavailable(f"Bedrock refused our credentials ({code})", code=ErrorCode.EMBEDDING_AUTH)
    return DependencyUnavailable(f"Bedrock invoke_model failed ({code})", code=ErrorCode.EMBEDDING_UNAVAILABLE)
