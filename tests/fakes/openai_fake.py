"""A fake OpenAI-compatible ``POST /v1/embeddings`` behind httpx.MockTransport. It enforces the documented limits —
bearer token, at most 2048 inputs, none empty, at most 8192 tokens each and 300,000 in all (counted with
``estimate_tokens``, as the client does), ``dimensions`` for text-embedding-3 models only — answers with OpenAI's
error bodies, and gives scripted failures (429 with Retry-After, 500, 400, network errors) on demand."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from docintake.chunking import estimate_tokens

BASE_URL = "https://embeddings.test/v1"
API_KEY = "sk-test-key"

MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8192
MAX_REQUEST_TOKENS = 300_000
NATIVE_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}

# What a scripted step may be: a response to return, or a transport error to raise.
Step = httpx.Response | httpx.TransportError


def fake_vector(text: str, dimensions: int) -> list[float]:
    """The vector the fake gives ``text``: deterministic, and different for different texts."""
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    return [rng.uniform(-1.0, 1.0) for _ in range(dimensions)]


def error(status: int, message: str, type_: str, code: str | None = None, **headers: str) -> httpx.Response:
    """An answer in OpenAI's error shape."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return httpx.Response(status, json=body, headers={k.replace("_", "-"): v for k, v in headers.items()})


def rate_limited(**headers: str) -> httpx.Response:
    return error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", **headers)


def server_error(status: int = 500) -> httpx.Response:
    return error(status, "The server had an error while processing your request.", "server_error")


@dataclass
class FakeOpenAIEmbeddings:
    """``scripted`` answers are given, in order, before the normal one; ``failing`` answers every request.

    Models outside ``NATIVE_DIMENSIONS`` are served as a compatible server would, with ``other_dimensions``.
    ``reverse`` returns the items last-first (the indexes still say which input each belongs to).
    """

    scripted: list[Step] = field(default_factory=list)
    failing: httpx.Response | None = None
    api_key: str = API_KEY
    other_dimensions: int | None = 384
    reverse: bool = False
    max_request_tokens: int = MAX_REQUEST_TOKENS
    count_tokens: Callable[[str], int] = estimate_tokens
    requests: list[httpx.Request] = field(default_factory=list)
    # The inputs of each request that was answered with vectors.
    batches: list[list[str]] = field(default_factory=list)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    @property
    def batch_sizes(self) -> list[int]:
        return [len(batch) for batch in self.batches]

    def payloads(self) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = [json.loads(r.content) for r in self.requests]
        return bodies

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path != "/v1/embeddings":
            return error(404, f"Invalid URL (POST {request.url.path})", "invalid_request_error")
        if request.method != "POST":
            return error(405, "Method not allowed", "invalid_request_error")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if self.scripted:
            step = self.scripted.pop(0)
            if isinstance(step, httpx.TransportError):
                raise step
            return step
        if self.failing is not None:
            return self.failing
        return self._embeddings(request)

    def _embeddings(self, request: httpx.Request) -> httpx.Response:  # noqa: C901 - a refusal per rule the API checks
        try:
            body = json.loads(request.content)
        except ValueError:
            return error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        model, inputs = body.get("model"), body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(model, str) or not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            return error(400, "'input' must be a string or an array of strings", "invalid_request_error")
        if not inputs or len(inputs) > MAX_INPUTS:
            return error(400, f"'input' must have 1 to {MAX_INPUTS} items", "invalid_request_error")
        if any(text == "" for text in inputs):
            return error(400, "'input' cannot contain an empty string", "invalid_request_error")
        counts = [self.count_tokens(text) for text in inputs]
        if max(counts) > MAX_INPUT_TOKENS:
            return error(
                400, f"Invalid 'input': maximum context length is {MAX_INPUT_TOKENS} tokens.", "invalid_request_error"
            )
        if sum(counts) > self.max_request_tokens:
            message = f"Requested {sum(counts)} tokens, max {self.max_request_tokens} tokens per request"
            return error(400, message, "max_tokens_per_request", "max_tokens_per_request")
        if body.get("encoding_format", "float") != "float":
            return error(400, "this fake serves encoding_format float only", "invalid_request_error")
        native = NATIVE_DIMENSIONS.get(model, self.other_dimensions)
        if native is None:
            message = f"The model `{model}` does not exist or you do not have access to it."
            return error(404, message, "invalid_request_error", "model_not_found")
        dimensions = body.get("dimensions")
        if dimensions is not None:
            if not model.startswith("text-embedding-3"):
                return error(400, "This model does not support specifying dimensions.", "invalid_request_error")
            if not isinstance(dimensions, int) or not 1 <= dimensions <= native:
                return error(400, f"'dimensions' must be 1 to {native}", "invalid_request_error")
        size = dimensions or native
        items = [
            {"object": "embedding", "index": i, "embedding": fake_vector(text, size)} for i, text in enumerate(inputs)
        ]
        self.batches.append(inputs)
        return httpx.Response(
            200,
            json={
                "object": "list",
                "data": items[::-1] if self.reverse else items,
                "model": model,
                "usage": {"prompt_tokens": sum(counts), "total_tokens": sum(counts)},
            },
        )


# --- chat completions -----------------------------------------------------------------------------------------------

CHAT_MODEL = "gpt-4o-mini"
CHAT_ROLES = frozenset({"system", "developer", "user", "assistant"})
# Structured outputs: the response format's name, as the API reference constrains it.
SCHEMA_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def chat_completion(content: str | None, *, finish_reason: str = "stop", refusal: str | None = None) -> dict[str, Any]:
    """A ``chat.completion`` object as the API reference shows it, with one choice."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_764_666_000,
        "model": CHAT_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 150, "total_tokens": 1350},
        "system_fingerprint": "fp_fake",
    }


def strict_schema_problem(schema: Any, where: str = "schema") -> str | None:
    """What strict structured outputs refuse in a schema: an object whose properties are not all required, or
    without ``additionalProperties: false`` (platform.openai.com/docs/guides/structured-outputs, supported schemas)."""
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            properties = schema.get("properties", {})
            if schema.get("additionalProperties") is not False:
                return f"{where}: additionalProperties must be false"
            if sorted(schema.get("required", [])) != sorted(properties):
                return f"{where}: every property must be required"
        for key, value in schema.items():
            problem = strict_schema_problem(value, f"{where}.{key}")
            if problem:
                return problem
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            problem = strict_schema_problem(value, f"{where}[{index}]")
            if problem:
                return problem
    return None


@dataclass
class FakeOpenAIChat:
    """A fake ``POST /v1/chat/completions`` that refuses what the API refuses (no bearer token, messages that are
    not role/content pairs, a temperature outside 0–2, a response format that is neither a valid ``json_schema`` —
    strict rules included — nor ``json_object`` with the word JSON in the messages) and answers with ``reply``: the
    assistant's content, or a function of the request's body giving it. ``scripted`` steps come first."""

    reply: str | Callable[[dict[str, Any]], str] = "{}"
    finish_reason: str = "stop"
    refusal: str | None = None
    scripted: list[Step] = field(default_factory=list)
    api_key: str = API_KEY
    requests: list[httpx.Request] = field(default_factory=list)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def payloads(self) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = [json.loads(r.content) for r in self.requests]
        return bodies

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if (request.method, request.url.path) != ("POST", "/v1/chat/completions"):
            return error(404, f"Invalid URL ({request.method} {request.url.path})", "invalid_request_error")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if self.scripted:
            step = self.scripted.pop(0)
            if isinstance(step, httpx.TransportError):
                raise step
            return step
        try:
            body = json.loads(request.content)
        except ValueError:
            return error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        problem = self._problem(body)
        if problem:
            return error(400, problem, "invalid_request_error")
        content = self.reply(body) if callable(self.reply) else self.reply
        return httpx.Response(
            200, json=chat_completion(content, finish_reason=self.finish_reason, refusal=self.refusal)
        )

    @staticmethod
    def _problem(body: dict[str, Any]) -> str | None:
        messages = body.get("messages")
        if not isinstance(body.get("model"), str):
            return "you must provide a model parameter"
        if not isinstance(messages, list) or not messages:
            return "'messages' must be a non-empty array"
        for message in messages:
            if not isinstance(message, dict) or message.get("role") not in CHAT_ROLES:
                return "each message needs a role of system, developer, user or assistant"
            if not isinstance(message.get("content"), str):
                return "this fake takes string content only"
        temperature = body.get("temperature", 1)
        if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
            return "'temperature' must be between 0 and 2"
        response_format = body.get("response_format", {"type": "text"})
        kind = response_format.get("type")
        if kind == "json_object":
            if not any("json" in message["content"].lower() for message in messages):
                return "'messages' must contain the word 'json' in some form, to use 'response_format' json_object"
            return None
        if kind == "json_schema":
            spec = response_format.get("json_schema", {})
            if not SCHEMA_NAME.fullmatch(str(spec.get("name", ""))) or not isinstance(spec.get("schema"), dict):
                return "'response_format.json_schema' needs a name and a schema"
            return strict_schema_problem(spec["schema"]) if spec.get("strict") else None
        return None if kind == "text" else f"Invalid 'response_format.type': {kind}"
