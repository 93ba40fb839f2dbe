"""The ``openai`` embedder: any OpenAI-compatible ``POST {base}/embeddings`` over httpx, in batches that keep to the
documented request limits, with rate limits and outages retried in the call and every failure given a stable code.

The API as OpenAI documents it (platform.openai.com/docs/api-reference/embeddings/create), with
``Authorization: Bearer <key>``:

    POST {base}/embeddings  {"model", "input": [str, …], "encoding_format": "float", "dimensions"?: int}
                            → {"data": [{"index": i, "embedding": [float, …]}, …], "model", "usage"}

    input        at most 2048 items, none empty, each at most 8192 tokens, and at most 300,000 tokens summed across
                 the inputs of one request ("all embedding models enforce a maximum of 300,000 tokens summed across all
                 inputs in a single request"); over it, 400 ``max_tokens_per_request``
    dimensions   only text-embedding-3 and later models; sent for ``text-embedding-3-*`` only, since other servers
                 and older models refuse it
    errors       {"error": {"message", "type", "param", "code"}}

A request carries at most EMBED_BATCH_SIZE inputs (≤ 256, not OpenAI's 2048: a smaller request keeps each call's
latency, and what a retry repeats, bounded, and it matches the design's batches — the embed stage commits each batch
to its buffer, so a failure costs one batch) and at most OPENAI_MAX_TOKENS_PER_REQUEST estimated tokens.

Failures:

    an input over 8192 tokens           PermanentError         embedding_input_too_long   (before any request)
    an empty input                      PermanentError         embedding_rejected         (before any request)
    400, 404, 413, 422                  PermanentError         embedding_rejected         status, error type and code
    a vector of the wrong length        PermanentError         embedding_dimension_mismatch
    401, 403                            DependencyUnavailable  embedding_auth             an operator fixes the key
    408, 409, 429, 5xx, network         retried in the call: 4 attempts, 1 s × 2^(n−1) apart (≤ 30 s), or what the
                                        server asks (≤ 60 s); then DependencyUnavailable embedding_unavailable
    other 4xx, unreadable answers       DependencyUnavailable  embedding_bad_response
    key secret unreadable               DependencyUnavailable  secrets_unavailable        (at cold start)

The server's wait is read, in order, from ``retry-after-ms`` and ``Retry-After`` (what OpenAI's Python SDK honours,
``_base_client._parse_retry_after_header``), and on a 429 without them from ``x-ratelimit-reset-requests`` /
``-tokens`` (platform.openai.com/docs/guides/rate-limits, "rate limits in headers": the time until the limit "resets
to its initial state", e.g. ``1s``, ``6m0s``; the longer of the two, since the request needs both). Messages carry
status codes and the provider's error type and code, never its message, which may quote the input.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, ValidationError

from docintake.aws import read_api_key
from docintake.chunking import estimate_tokens
from docintake.config import Settings
from docintake.errors import DependencyUnavailable, PermanentError
from docintake.http_retries import (
    MAX_ATTEMPTS,
    RETRY_AFTER_CAP_SECONDS,
    backoff_seconds,
    retry_after_seconds,
)
from docintake.provider_errors import OpenAIErrorBody
from docintake.vocabulary import ErrorCode

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

logger = Logger(service="docintake", child=True)

EMBEDDINGS_PATH = "/embeddings"
# OpenAI's documented limits for every embedding model.
MAX_INPUTS_PER_REQUEST = 2048
MAX_INPUT_TOKENS = 8192
MAX_TOKENS_PER_REQUEST = 300_000
# The largest vector each OpenAI model gives; text-embedding-3 models shorten theirs on request, ada-002 cannot.
_NATIVE_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}

_RETRYABLE = frozenset({408, 409, 429})
_REJECTED = frozenset({400, 404, 413, 422})
_UNSAFE_CODE_CHARS = re.compile(r"[^A-Za-z0-9_.:-]")
# Go-style durations, as the x-ratelimit-reset-* headers spell them: "1s", "6m0s", "12ms", "1.5s".
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Item(_Model):
    index: int
    embedding: list[float]


class _Answer(_Model):
    data: list[_Item]


@dataclass(frozen=True)
class OpenAIEmbedder:
    model: str
    dimensions: int
    api_key: str = field(repr=False)
    base_url: str
    client: httpx.Client = field(repr=False)
    batch_size: int = 256
    max_tokens_per_request: int = MAX_TOKENS_PER_REQUEST
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_INPUTS_PER_REQUEST:
            raise ValueError(f"the batch size must be 1–{MAX_INPUTS_PER_REQUEST}, not {self.batch_size}")
        native = _NATIVE_DIMENSIONS.get(self.model)
        # A wrong EMBEDDING_DIMENSIONS would fail every document; say so at cold start instead.
        if native is not None and (
            self.dimensions > native or (not self.sends_dimensions and self.dimensions != native)
        ):
            allowed = f"at most {native}" if self.sends_dimensions else f"exactly {native}"
            raise ValueError(f"{self.model} gives {allowed} dimensions; EMBEDDING_DIMENSIONS is {self.dimensions}")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        secrets: SecretsManagerClient | None = None,
    ) -> OpenAIEmbedder:
        return cls(
            model=settings.embedding_model,
            dimensions=settings.embedding_dimensions,
            api_key=api_key_from_settings(settings, secrets),
            base_url=settings.openai_base_url.rstrip("/"),
            client=client or httpx.Client(timeout=httpx.Timeout(settings.embedding_timeout_seconds, connect=10.0)),
            batch_size=settings.embed_batch_size,
            max_tokens_per_request=settings.openai_max_tokens_per_request,
            sleep=sleep,
        )

    @property
    def sends_dimensions(self) -> bool:
        """Only text-embedding-3 models take ``dimensions``; others answer 400 to it."""
        return self.model.startswith("text-embedding-3")

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        # Every input is checked before the first request, so a bad one late in the list costs nothing.
        for batch in self.batches(texts):
            vectors.extend(self._embed_batch(texts[batch.start : batch.stop]))
        return vectors

    def batches(self, texts: Sequence[str]) -> list[range]:
        """Consecutive slices of at most ``batch_size`` inputs and ``max_tokens_per_request`` estimated tokens.

        ``estimate_tokens`` counts every word and punctuation mark as a token, and never fewer than one token per
        four characters. For English that is an over-estimate — OpenAI's tokenizers average about four characters a
        token — so the real limits hold. Long digit runs and non-Latin scripts can tokenize denser than that; the
        256-input cap keeps such requests far below 300,000 tokens at the default chunk size (1000 characters).
        """
        limit = min(MAX_INPUT_TOKENS, self.max_tokens_per_request)
        slices: list[range] = []
        start = tokens = 0
        for index, text in enumerate(texts):
            if not text:
                raise PermanentError(
                    f"input {index} is empty; the provider refuses empty input", code=ErrorCode.EMBEDDING_REJECTED
                )
            count = estimate_tokens(text)
            if count > limit:
                raise PermanentError(
                    f"input {index} has about {count} tokens; the limit is {limit}",
                    code=ErrorCode.EMBEDDING_INPUT_TOO_LONG,
                )
            if index > start and (index - start == self.batch_size or tokens + count > self.max_tokens_per_request):
                slices.append(range(start, index))
                start, tokens = index, 0
            tokens += count
        if texts:
            slices.append(range(start, len(texts)))
        return slices

    def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        payload: dict[str, object] = {"model": self.model, "input": batch, "encoding_format": "float"}
        if self.sends_dimensions:
            payload["dimensions"] = self.dimensions
        response = self._post(payload, len(batch))
        try:
            answer = _Answer.model_validate_json(response.content)
        except ValidationError as exc:
            # The validation message could quote the body; say only which fields were wrong.
            fields = ",".join(sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()}))[:200]
            raise DependencyUnavailable(
                f"embedding answer unreadable ({fields})", code=ErrorCode.EMBEDDING_BAD_RESPONSE
            ) from None
        # Compatible servers need not keep input order; the index says where each vector belongs.
        items = sorted(answer.data, key=lambda item: item.index)
        if [item.index for item in items] != list(range(len(batch))):
            raise DependencyUnavailable(
                f"embedding answer has {len(items)} vectors for {len(batch)} inputs",
                code=ErrorCode.EMBEDDING_BAD_RESPONSE,
            )
        for item in items:
            if len(item.embedding) != self.dimensions:
                raise PermanentError(
                    f"{self.model} returned {len(item.embedding)} dimensions, expected {self.dimensions}",
                    code=ErrorCode.EMBEDDING_DIMENSION_MISMATCH,
                )
        return [item.embedding for item in items]

    def _post(self, payload: dict[str, object], inputs: int) -> httpx.Response:
        """One request with in-call retries of what may pass; anything else becomes our error at once."""
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        url = self.base_url + EMBEDDINGS_PATH
        for attempt in range(1, MAX_ATTEMPTS + 1):
            failure: httpx.TransportError | None = None
            try:
                response = self.client.post(url, headers=headers, json=payload)
            except httpx.TransportError as exc:
                failure, reason = exc, type(exc).__name__
                delay = backoff_seconds(attempt)
            else:
                status = response.status_code
                if status < 300:
                    return response
                if status < 500 and status not in _RETRYABLE:
                    raise _status_error(response)
                reason = str(status)
                asked = server_delay_seconds(response.headers, rate_limited=status == 429)
                delay = backoff_seconds(attempt) if asked is None else asked
            if attempt == MAX_ATTEMPTS:
                raise DependencyUnavailable(
                    f"embedding request failed {MAX_ATTEMPTS} times (last: {reason})",
                    code=ErrorCode.EMBEDDING_UNAVAILABLE,
                ) from failure
            logger.warning(
                "embedding retry",
                extra={"provider": "openai", "reason": reason, "inputs": inputs, "delay_seconds": delay},
            )
            self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


def server_delay_seconds(headers: httpx.Headers, *, rate_limited: bool) -> float | None:
    """How long the server asked us to wait (≤ 60 s), or None when it did not say."""
    milliseconds = _number(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return min(RETRY_AFTER_CAP_SECONDS, max(0.0, milliseconds / 1000))
    retry_after = retry_after_seconds(headers.get("Retry-After"))
    if retry_after is not None or not rate_limited:
        return retry_after
    resets = [
        _duration_seconds(headers.get(name)) for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
    ]
    known = [seconds for seconds in resets if seconds is not None]
    return min(RETRY_AFTER_CAP_SECONDS, max(known)) if known else None


def api_key_from_settings(settings: Settings, secrets: SecretsManagerClient | None = None) -> str:
    """OPENAI_API_KEY, else the Secrets Manager secret, whose string is the key or JSON ``{"api_key": …}``."""
    return read_api_key(
        settings.openai_api_key,
        settings.openai_api_key_secret_arn,
        what="OpenAI API key",
        needs="EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY or OPENAI_API_KEY_SECRET_ARN",
        secrets=secrets,
    )


def _status_error(response: httpx.Response) -> Exception:
    status = response.status_code
    if status in (401, 403):
        return DependencyUnavailable(
            f"the embedding provider refused the API key ({status})", code=ErrorCode.EMBEDDING_AUTH
        )
    if status in _REJECTED:
        return PermanentError(
            f"the embedding provider rejected the request ({_describe(response)})", code=ErrorCode.EMBEDDING_REJECTED
        )
    return DependencyUnavailable(
        f"the embedding provider answered {_describe(response)}", code=ErrorCode.EMBEDDING_BAD_RESPONSE
    )


def _describe(response: httpx.Response) -> str:
    """The status and the provider's error type and code; never its message, which may quote the input."""
    try:
        error = OpenAIErrorBody.model_validate_json(response.content).error
    except ValidationError:
        return str(response.status_code)
    code = None if error.code is None else str(error.code)
    return f"{response.status_code}, type {_safe(error.type)}, code {_safe(code)}"


def _safe(text: str | None) -> str:
    return _UNSAFE_CODE_CHARS.sub("", text or "")[:64] or "none"


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def _duration_seconds(value: str | None) -> float | None:
    text = (value or "").strip()
    plain = _number(text)
    if plain is not None:
        return max(0.0, plain)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(amount + unit for amount, unit in parts) != text:
        return None
    return sum(float(amount) * _DURATION_UNITS[unit] for amount, unit in parts)
