"""The real embedding providers: OpenAI-compatible HTTP against a fake that enforces the documented limits, Titan
Text Embeddings V2 through botocore's Stubber, and sentence-transformers when it is installed — every failure a
stable code, with recorded sleeps, so no test waits or reaches the network."""

from __future__ import annotations

import importlib.util
import io
import json
import math
import os
import sys
import threading
import types
from pathlib import Path
from typing import Any, cast

import boto3
import httpx
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from pydantic import SecretStr

from docintake.chunking import estimate_tokens
from docintake.config import Settings
from docintake.embedding import embedder_from_settings
from docintake.embedding.bedrock import BedrockEmbedder
from docintake.embedding.openai import OpenAIEmbedder, api_key_from_settings, server_delay_seconds
from docintake.embedding.sentence_transformers import SentenceTransformersEmbedder
from docintake.errors import DependencyUnavailable, PermanentError, TransientError
from tests.fakes.openai_fake import (
    API_KEY,
    BASE_URL,
    FakeOpenAIEmbeddings,
    error,
    fake_vector,
    rate_limited,
    server_error,
)


class Sleeps(list[float]):
    """A ``sleep`` that records the delay instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


# --- OpenAI-compatible ----------------------------------------------------------------------------------------------


def openai_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "embedding_provider": "openai",
        "embedding_model": "text-embedding-3-small",
        "embedding_dimensions": 512,
        "openai_base_url": BASE_URL,
        "openai_api_key": SecretStr(API_KEY),
    } | overrides
    return Settings(**values)


def openai_for(fake: FakeOpenAIEmbeddings, sleeps: Sleeps, **overrides: Any) -> OpenAIEmbedder:
    return OpenAIEmbedder.from_settings(openai_settings(**overrides), client=fake.client(), sleep=sleeps)


def texts(n: int, *, chars: int = 40) -> list[str]:
    """``n`` distinct texts of ``chars`` characters, one word each, so each is estimated at chars / 4 tokens."""
    return [f"{i:06d}".ljust(chars, "a") for i in range(n)]


def test_vectors_come_back_in_input_order_with_the_requested_dimensions(sleeps: Sleeps) -> None:
    # GIVEN a text-embedding-3 model at 512 dimensions and a server that lists its answers last-first
    fake = FakeOpenAIEmbeddings(reverse=True)
    inputs = ["Coverage A – Dwelling", "Section II – Liability", "Water damage exclusion"]
    # WHEN the texts are embedded
    vectors = openai_for(fake, sleeps).embed(inputs)
    # THEN each text has its own 512-float vector, in input order
    assert vectors == [fake_vector(text, 512) for text in inputs]
    # AND one request was made, to the documented endpoint, with the key, asking for floats and 512 dimensions
    [request] = fake.requests
    assert (request.method, str(request.url)) == ("POST", f"{BASE_URL}/embeddings")
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert fake.payloads() == [
        {"model": "text-embedding-3-small", "input": inputs, "encoding_format": "float", "dimensions": 512}
    ]
    assert sleeps == []


@pytest.mark.parametrize(("model", "dimensions"), [("text-embedding-ada-002", 1536), ("nomic-embed-text", 384)])
def test_dimensions_are_sent_only_to_text_embedding_3_models(sleeps: Sleeps, model: str, dimensions: int) -> None:
    # GIVEN a model that does not take "dimensions" (the fake refuses it, as OpenAI does)
    fake = FakeOpenAIEmbeddings(other_dimensions=384)
    # WHEN a text is embedded
    [vector] = openai_for(fake, sleeps, embedding_model=model, embedding_dimensions=dimensions).embed(["Declarations"])
    # THEN the request left "dimensions" out and the model's own length came back
    assert "dimensions" not in fake.payloads()[0]
    assert len(vector) == dimensions


def test_a_trailing_slash_on_the_base_url_is_harmless(sleeps: Sleeps) -> None:
    fake = FakeOpenAIEmbeddings()
    openai_for(fake, sleeps, openai_base_url=BASE_URL + "/").embed(["Declarations"])
    assert str(fake.requests[0].url) == f"{BASE_URL}/embeddings"


def test_no_texts_send_no_request(sleeps: Sleeps) -> None:
    fake = FakeOpenAIEmbeddings()
    assert openai_for(fake, sleeps).embed([]) == []
    assert fake.requests == []


# --- batching -------------------------------------------------------------------------------------------------------


def test_more_than_256_texts_go_in_requests_of_at_most_256(sleeps: Sleeps) -> None:
    # GIVEN 600 short texts and the default batch size
    inputs = texts(600)
    fake = FakeOpenAIEmbeddings()
    # WHEN they are embedded
    vectors = openai_for(fake, sleeps).embed(inputs)
    # THEN three requests of 256, 256 and 88 inputs carried them, in order, and every text has its vector
    assert fake.batch_sizes == [256, 256, 88]
    assert [text for batch in fake.batches for text in batch] == inputs
    assert vectors == [fake_vector(text, 512) for text in inputs]


def test_a_smaller_batch_size_from_settings_is_kept(sleeps: Sleeps) -> None:
    fake = FakeOpenAIEmbeddings()
    openai_for(fake, sleeps, embed_batch_size=100).embed(texts(250))
    assert fake.batch_sizes == [100, 100, 50]


def test_requests_stay_under_300k_tokens_even_when_256_inputs_would_not(sleeps: Sleeps) -> None:
    # GIVEN 300 texts of about 2000 tokens each: 256 of them would be 512,000 tokens in one request
    inputs = texts(300, chars=8000)
    assert {estimate_tokens(text) for text in inputs} == {2000}
    fake = FakeOpenAIEmbeddings()
    # WHEN they are embedded
    vectors = openai_for(fake, sleeps).embed(inputs)
    # THEN the fake (which refuses anything over 300,000) took two requests of 150 inputs, 300,000 tokens each
    assert fake.batch_sizes == [150, 150]
    assert [sum(estimate_tokens(t) for t in batch) for batch in fake.batches] == [300_000, 300_000]
    assert len(vectors) == 300


def test_a_lower_token_budget_from_settings_splits_sooner(sleeps: Sleeps) -> None:
    # GIVEN a budget of 1000 tokens a request and texts of 10 tokens (the fake holds the client to the same budget)
    fake = FakeOpenAIEmbeddings(max_request_tokens=1000)
    # WHEN 250 texts are embedded
    openai_for(fake, sleeps, openai_max_tokens_per_request=1000).embed(texts(250))
    # THEN each request holds 100 texts
    assert fake.batch_sizes == [100, 100, 50]


def test_an_input_over_8192_tokens_fails_before_any_request(sleeps: Sleeps) -> None:
    # GIVEN a list whose last text is about 8193 tokens
    fake = FakeOpenAIEmbeddings()
    inputs = [*texts(3), "x" * (8192 * 4 + 1)]
    # WHEN it is embedded
    with pytest.raises(PermanentError) as caught:
        openai_for(fake, sleeps).embed(inputs)
    # THEN it fails for good as embedding_input_too_long, naming the input by position, and nothing was sent
    assert caught.value.code == "embedding_input_too_long"
    assert "input 3" in str(caught.value)
    assert fake.requests == []


def test_an_empty_input_fails_before_any_request(sleeps: Sleeps) -> None:
    fake = FakeOpenAIEmbeddings()
    with pytest.raises(PermanentError) as caught:
        openai_for(fake, sleeps).embed(["Declarations", ""])
    assert caught.value.code == "embedding_rejected"
    assert fake.requests == []


# --- what may pass (retried in the call) ----------------------------------------------------------------------------


def test_429_waits_what_retry_after_asks_then_succeeds(sleeps: Sleeps) -> None:
    # GIVEN a server that rate-limits the first request, asking for 7 seconds
    fake = FakeOpenAIEmbeddings(scripted=[rate_limited(Retry_After="7")])
    # WHEN a text is embedded
    [vector] = openai_for(fake, sleeps).embed(["Declarations"])
    # THEN it waited exactly 7 s, asked twice, and got the vector
    assert sleeps == [7.0]
    assert len(fake.requests) == 2
    assert vector == fake_vector("Declarations", 512)


@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"x-ratelimit-reset-requests": "20ms", "x-ratelimit-reset-tokens": "1.5s"}, 1.5),
        ({"x-ratelimit-reset-tokens": "6m0s"}, 60.0),
        ({"Retry-After": "120"}, 60.0),
        ({"x-ratelimit-reset-tokens": "soon"}, 1.0),
        ({}, 1.0),
    ],
)
def test_429_reads_the_servers_wait_from_its_headers(sleeps: Sleeps, headers: dict[str, str], delay: float) -> None:
    # GIVEN one 429 with these headers WHEN a text is embedded THEN the wait is what they say (≤ 60 s), else 1 s
    fake = FakeOpenAIEmbeddings(scripted=[httpx.Response(429, headers=headers)])
    openai_for(fake, sleeps).embed(["Declarations"])
    assert sleeps == [delay]


def test_rate_limit_reset_headers_count_only_on_a_429() -> None:
    headers = httpx.Headers({"x-ratelimit-reset-tokens": "6s"})
    assert server_delay_seconds(headers, rate_limited=True) == 6.0
    assert server_delay_seconds(headers, rate_limited=False) is None


def test_500_three_times_is_retried_with_exponential_backoff_then_succeeds(sleeps: Sleeps) -> None:
    # GIVEN a server that fails three times before it answers
    fake = FakeOpenAIEmbeddings(scripted=[server_error(500), server_error(502), server_error(503)])
    # WHEN a text is embedded
    [vector] = openai_for(fake, sleeps).embed(["Declarations"])
    # THEN it waited 1, 2 and 4 seconds between four attempts
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(fake.requests) == 4
    assert len(vector) == 512


def test_5xx_forever_is_embedding_unavailable_after_four_attempts(sleeps: Sleeps) -> None:
    # GIVEN a server that always fails
    fake = FakeOpenAIEmbeddings(failing=server_error(503))
    # WHEN a text is embedded
    with pytest.raises(DependencyUnavailable) as caught:
        openai_for(fake, sleeps).embed(["Declarations"])
    # THEN it gives up after four attempts, transient, for the queue to retry later
    assert caught.value.code == "embedding_unavailable"
    assert isinstance(caught.value, TransientError)
    assert len(fake.requests) == 4
    assert sleeps == [1.0, 2.0, 4.0]


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
def test_network_errors_and_timeouts_are_retried_then_unavailable(
    sleeps: Sleeps, failure: httpx.TransportError
) -> None:
    fake = FakeOpenAIEmbeddings(scripted=[failure] * 4)
    with pytest.raises(DependencyUnavailable) as caught:
        openai_for(fake, sleeps).embed(["Declarations"])
    assert caught.value.code == "embedding_unavailable"
    assert isinstance(caught.value.__cause__, httpx.TransportError)
    assert sleeps == [1.0, 2.0, 4.0]


def test_a_timeout_that_passes_is_invisible(sleeps: Sleeps) -> None:
    fake = FakeOpenAIEmbeddings(scripted=[httpx.ReadTimeout("slow")])
    assert len(openai_for(fake, sleeps).embed(["Declarations"])) == 1
    assert sleeps == [1.0]


def test_a_failure_in_a_later_batch_is_retried_alone(sleeps: Sleeps) -> None:
    # GIVEN 300 texts (two requests) and a server that fails once — on the first request
    fake = FakeOpenAIEmbeddings(scripted=[server_error(500)])
    # WHEN they are embedded
    vectors = openai_for(fake, sleeps).embed(texts(300))
    # THEN three requests were made (one retried), and two batches were answered
    assert len(fake.requests) == 3
    assert fake.batch_sizes == [256, 44]
    assert len(vectors) == 300


# --- what will not pass (permanent, or an operator's fix) -----------------------------------------------------------


@pytest.mark.parametrize("status", [400, 404, 422])
def test_a_rejected_request_is_permanent_and_quotes_no_text(sleeps: Sleeps, status: int) -> None:
    # GIVEN a server that refuses the request with a message quoting the input
    refusal = error(status, "Invalid input near 'Coverage A – Dwelling'", "invalid_request_error", "invalid_value")
    fake = FakeOpenAIEmbeddings(failing=refusal)
    # WHEN it is embedded
    with pytest.raises(PermanentError) as caught:
        openai_for(fake, sleeps).embed(["Coverage A – Dwelling"])
    # THEN it fails for good after one request, naming the status and the provider's type and code only
    assert caught.value.code == "embedding_rejected"
    assert str(caught.value) == (
        f"the embedding provider rejected the request ({status}, type invalid_request_error, code invalid_value)"
    )
    assert len(fake.requests) == 1
    assert sleeps == []


def test_going_over_the_token_limit_anyway_is_rejected_with_the_providers_code(sleeps: Sleeps) -> None:
    # GIVEN a client told it may send 400,000 tokens, against a server that takes 300,000
    fake = FakeOpenAIEmbeddings()
    embedder = openai_for(fake, sleeps, openai_max_tokens_per_request=400_000)
    # WHEN 200 texts of 2000 tokens are embedded
    with pytest.raises(PermanentError) as caught:
        embedder.embed(texts(200, chars=8000))
    # THEN the server's max_tokens_per_request refusal is permanent, with its code
    assert caught.value.code == "embedding_rejected"
    assert "max_tokens_per_request" in str(caught.value)


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_transient_and_not_retried_in_the_call(sleeps: Sleeps, status: int) -> None:
    fake = FakeOpenAIEmbeddings(failing=error(status, "Incorrect API key provided", "invalid_request_error"))
    with pytest.raises(DependencyUnavailable) as caught:
        openai_for(fake, sleeps).embed(["Declarations"])
    assert caught.value.code == "embedding_auth"
    assert len(fake.requests) == 1
    assert sleeps == []


def test_the_fake_checks_the_bearer_token(sleeps: Sleeps) -> None:
    # GIVEN a client holding the wrong key WHEN it embeds THEN the fake's 401 is embedding_auth
    fake = FakeOpenAIEmbeddings()
    with pytest.raises(DependencyUnavailable) as caught:
        openai_for(fake, sleeps, openai_api_key=SecretStr("sk-wrong")).embed(["Declarations"])
    assert caught.value.code == "embedding_auth"
    assert fake.batches == []


def test_a_vector_of_the_wrong_length_is_a_dimension_mismatch(sleeps: Sleeps) -> None:
    # GIVEN a compatible server whose model gives 768 dimensions, and settings that expect 384
    fake = FakeOpenAIEmbeddings(other_dimensions=768)
    embedder = openai_for(fake, sleeps, embedding_model="nomic-embed-text", embedding_dimensions=384)
    # WHEN a text is embedded THEN it fails for good with embedding_dimension_mismatch
    with pytest.raises(PermanentError) as caught:
        embedder.embed(["Declarations"])
    assert caught.value.code == "embedding_dimension_mismatch"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>maintenance: Coverage A</html>"),
        httpx.Response(200, json={"data": [{"index": 0, "embedding": [0.1] * 512}]}),  # one vector for two inputs
        httpx.Response(200, json={"data": [{"index": 0, "embedding": [0.1] * 512}] * 2}),  # the same index twice
    ],
)
def test_an_unreadable_or_incomplete_answer_is_a_bad_response(sleeps: Sleeps, answer: httpx.Response) -> None:
    fake = FakeOpenAIEmbeddings(scripted=[answer])
    with pytest.raises(DependencyUnavailable) as caught:
        openai_for(fake, sleeps).embed(["Coverage A", "Coverage B"])
    assert caught.value.code == "embedding_bad_response"
    assert "Coverage" not in str(caught.value)


def test_the_fake_enforces_the_documented_request_limits() -> None:
    # GIVEN the fake, called directly
    fake = FakeOpenAIEmbeddings()
    auth = {"Authorization": f"Bearer {API_KEY}"}

    def post(**body: Any) -> httpx.Response:
        with fake.client() as client:
            # Short vectors keep 2048 answers cheap; only the limits are under test.
            request = {"model": "text-embedding-3-small", "dimensions": 8} | body
            return client.post(f"{BASE_URL}/embeddings", headers=auth, json=request)

    # THEN 2049 inputs, 300,001 tokens, an input over 8192 tokens, an empty input and dimensions past the model's
    # are all refused with OpenAI's error shape, and the edge of each limit is accepted
    assert post(input=["a"] * 2049).status_code == 400
    assert post(input=["a"] * 2048).status_code == 200
    over = post(input=["x" * 32_000] * 37 + ["x" * 16_004])
    assert over.status_code == 400
    assert over.json()["error"]["code"] == "max_tokens_per_request"
    assert post(input=["x" * 32_000] * 37 + ["x" * 16_000]).status_code == 200
    assert post(input=["x" * (8192 * 4 + 1)]).status_code == 400
    assert post(input=["x" * (8192 * 4)]).status_code == 200
    assert post(input=["a", ""]).status_code == 400
    assert post(input=["a"], dimensions=1537).status_code == 400
    assert post(input=["a"], dimensions=8).json()["data"][0]["embedding"] == fake_vector("a", 8)
    with fake.client() as client:
        assert client.post(f"{BASE_URL}/embeddings", json={"model": "m", "input": ["a"]}).status_code == 401


# --- configuration --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "dimensions"),
    [("text-embedding-3-small", 2000), ("text-embedding-ada-002", 512)],
)
def test_dimensions_the_model_cannot_give_fail_at_cold_start(model: str, dimensions: int) -> None:
    with pytest.raises(ValueError, match="EMBEDDING_DIMENSIONS"):
        OpenAIEmbedder.from_settings(openai_settings(embedding_model=model, embedding_dimensions=dimensions))


class FakeSecrets:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.asked: list[str] = []

    def get_secret_value(self, *, SecretId: str) -> dict[str, str]:  # boto3 spells it SecretId
        self.asked.append(SecretId)
        return {"SecretString": self.secret}


@pytest.mark.parametrize("secret", ["sk-from-secret", ' {"api_key": "sk-from-secret"} ', "sk-from-secret\n"])
def test_the_key_comes_from_a_secret_as_raw_text_or_json(secret: str) -> None:
    # GIVEN no key in the environment, only a secret ARN
    secrets = FakeSecrets(secret)
    config = openai_settings(openai_api_key=None, openai_api_key_secret_arn="arn:aws:secretsmanager:openai")
    # WHEN the key is read THEN it is the secret's key, asked for once
    assert api_key_from_settings(config, cast(Any, secrets)) == "sk-from-secret"
    assert secrets.asked == ["arn:aws:secretsmanager:openai"]


def test_without_any_key_building_the_embedder_fails_at_cold_start() -> None:
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        OpenAIEmbedder.from_settings(openai_settings(openai_api_key=None))


def test_embedder_from_settings_builds_the_openai_embedder_without_showing_the_key() -> None:
    embedder = embedder_from_settings(openai_settings())
    assert isinstance(embedder, OpenAIEmbedder)
    assert (embedder.model, embedder.dimensions) == ("text-embedding-3-small", 512)
    assert API_KEY not in repr(embedder)


# --- Bedrock: Titan Text Embeddings V2 ------------------------------------------------------------------------------

TITAN = "amazon.titan-embed-text-v2:0"


@pytest.fixture
def bedrock_runtime() -> Any:
    # Dummy credentials and a region: the Stubber answers before anything is signed or sent.
    return boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def titan_request(text: str, dimensions: int = 256) -> dict[str, Any]:
    body = json.dumps({"inputText": text, "dimensions": dimensions, "normalize": True}).encode()
    return {"modelId": TITAN, "body": body, "contentType": "application/json", "accept": "application/json"}


def titan_answer(vector: list[float]) -> dict[str, Any]:
    data = json.dumps({"embedding": vector, "inputTextTokenCount": 3, "embeddingsByType": {"float": vector}}).encode()
    return {"body": StreamingBody(io.BytesIO(data), len(data)), "contentType": "application/json"}


def bedrock_for(client: Any, sleeps: Sleeps, *, dimensions: int = 256, concurrency: int = 1) -> BedrockEmbedder:
    settings = Settings(
        embedding_provider="bedrock",
        embedding_model=TITAN,
        embedding_dimensions=dimensions,
        bedrock_max_concurrency=concurrency,
    )
    return BedrockEmbedder.from_settings(settings, client=client, sleep=sleeps)


def test_titan_gets_one_documented_request_per_text_and_vectors_come_back_in_order(
    bedrock_runtime: Any, sleeps: Sleeps
) -> None:
    # GIVEN three texts, and Bedrock answers that expect exactly the documented body for each, in order
    inputs = ["Coverage A – Dwelling", "Section II – Liability", "Water damage exclusion"]
    with Stubber(bedrock_runtime) as stubber:
        for text in inputs:
            stubber.add_response("invoke_model", titan_answer(fake_vector(text, 256)), titan_request(text))
        # WHEN they are embedded
        vectors = bedrock_for(bedrock_runtime, sleeps).embed(inputs)
        # THEN every stubbed call was made, and each text has its own vector, in input order
        stubber.assert_no_pending_responses()
    assert vectors == [fake_vector(text, 256) for text in inputs]
    assert sleeps == []


def test_throttling_is_retried_with_backoff_then_succeeds(bedrock_runtime: Any, sleeps: Sleeps) -> None:
    # GIVEN a model that throttles twice, then answers
    with Stubber(bedrock_runtime) as stubber:
        stubber.add_client_error("invoke_model", "ThrottlingException", "Too many requests", 429)
        stubber.add_client_error("invoke_model", "ServiceUnavailableException", "Busy", 503)
        stubber.add_response("invoke_model", titan_answer([0.5] * 256), titan_request("Declarations"))
        # WHEN a text is embedded
        [vector] = bedrock_for(bedrock_runtime, sleeps).embed(["Declarations"])
        stubber.assert_no_pending_responses()
    # THEN it waited 1 s and 2 s and got the vector
    assert sleeps == [1.0, 2.0]
    assert vector == [0.5] * 256


def test_throttling_that_lasts_is_embedding_unavailable_after_four_attempts(
    bedrock_runtime: Any, sleeps: Sleeps
) -> None:
    with Stubber(bedrock_runtime) as stubber:
        for _ in range(4):
            stubber.add_client_error("invoke_model", "ThrottlingException", "Too many requests", 429)
        with pytest.raises(DependencyUnavailable) as caught:
            bedrock_for(bedrock_runtime, sleeps).embed(["Declarations"])
        stubber.assert_no_pending_responses()
    assert caught.value.code == "embedding_unavailable"
    assert "ThrottlingException" in str(caught.value)
    assert sleeps == [1.0, 2.0, 4.0]


def test_a_validation_error_is_permanent_and_not_retried(bedrock_runtime: Any, sleeps: Sleeps) -> None:
    # GIVEN a model that refuses the input, quoting it
    with Stubber(bedrock_runtime) as stubber:
        stubber.add_client_error("invoke_model", "ValidationException", "Malformed input 'Coverage A'", 400)
        # WHEN it is embedded
        with pytest.raises(PermanentError) as caught:
            bedrock_for(bedrock_runtime, sleeps).embed(["Coverage A"])
    # THEN it fails for good, at once, without the text
    assert caught.value.code == "embedding_rejected"
    assert "Coverage" not in str(caught.value)
    assert sleeps == []


def test_access_denied_is_an_operators_fix_not_the_documents(bedrock_runtime: Any, sleeps: Sleeps) -> None:
    with Stubber(bedrock_runtime) as stubber:
        stubber.add_client_error("invoke_model", "AccessDeniedException", "not authorized", 403)
        with pytest.raises(DependencyUnavailable) as caught:
            bedrock_for(bedrock_runtime, sleeps).embed(["Declarations"])
    assert caught.value.code == "embedding_auth"
    assert sleeps == []


def test_a_titan_vector_of_the_wrong_length_is_a_dimension_mismatch(bedrock_runtime: Any, sleeps: Sleeps) -> None:
    with Stubber(bedrock_runtime) as stubber:
        stubber.add_response("invoke_model", titan_answer([0.1] * 1024), titan_request("Declarations", 512))
        with pytest.raises(PermanentError) as caught:
            bedrock_for(bedrock_runtime, sleeps, dimensions=512).embed(["Declarations"])
    assert caught.value.code == "embedding_dimension_mismatch"


def test_an_unreadable_titan_body_is_a_bad_response(bedrock_runtime: Any, sleeps: Sleeps) -> None:
    data = b"<html>Coverage A</html>"
    with Stubber(bedrock_runtime) as stubber:
        stubber.add_response("invoke_model", {"body": StreamingBody(io.BytesIO(data), len(data)), "contentType": "x"})
        with pytest.raises(DependencyUnavailable) as caught:
            bedrock_for(bedrock_runtime, sleeps).embed(["Coverage A"])
    assert caught.value.code == "embedding_bad_response"
    assert "Coverage" not in str(caught.value)


@pytest.mark.parametrize("dimensions", [384, 1536])
def test_titan_v2_takes_only_256_512_or_1024_dimensions(dimensions: int) -> None:
    with pytest.raises(ValueError, match="256, 512 or 1024"):
        bedrock_for(object(), Sleeps(), dimensions=dimensions)


def test_inputs_titan_cannot_take_fail_before_any_call(sleeps: Sleeps) -> None:
    calls = RecordingTitan()
    embedder = bedrock_for(calls, sleeps)
    with pytest.raises(PermanentError) as too_long:
        embedder.embed(["Declarations", "x" * 50_001])
    with pytest.raises(PermanentError) as empty:
        embedder.embed([""])
    assert (too_long.value.code, empty.value.code) == ("embedding_input_too_long", "embedding_rejected")
    assert calls.texts == []


class RecordingTitan:
    """A thread-safe stand-in for the client: each text's vector, after every ``parties`` calls have arrived."""

    def __init__(self, parties: int = 1, fail_first: Exception | None = None) -> None:
        self.barrier = threading.Barrier(parties, timeout=5)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.texts: list[str] = []
        self.fail_first = fail_first

    def invoke_model(self, *, modelId: str, body: bytes, contentType: str, accept: str) -> dict[str, Any]:
        request = json.loads(body)
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.texts.append(request["inputText"])
            failure, self.fail_first = self.fail_first, None
        try:
            if failure is not None:
                raise failure
            # Every call waits until `parties` calls are in flight together: fewer workers would time out here.
            self.barrier.wait()
            return titan_answer(fake_vector(request["inputText"], request["dimensions"]))
        finally:
            with self.lock:
                self.in_flight -= 1


def test_calls_run_concurrently_up_to_the_bound_and_vectors_keep_input_order(sleeps: Sleeps) -> None:
    # GIVEN a bound of 4 and a client that only answers when 4 calls are in flight together
    client = RecordingTitan(parties=4)
    inputs = [f"clause {n}" for n in range(20)]
    # WHEN 20 texts are embedded
    vectors = bedrock_for(client, sleeps, concurrency=4).embed(inputs)
    # THEN exactly 4 ran at a time, every text was sent once, and the vectors are in input order
    assert client.most_in_flight == 4
    assert sorted(client.texts) == sorted(inputs)
    assert vectors == [fake_vector(text, 256) for text in inputs]


def test_a_connection_timeout_is_retried(sleeps: Sleeps) -> None:
    client = RecordingTitan(fail_first=ReadTimeoutError(endpoint_url="https://bedrock-runtime.test"))
    [vector] = bedrock_for(client, sleeps).embed(["Declarations"])
    assert vector == fake_vector("Declarations", 256)
    assert sleeps == [1.0]


def test_embedder_from_settings_builds_the_bedrock_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a region and credentials in the environment, as a Lambda has them
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    # WHEN the embedder is built from settings alone
    embedder = embedder_from_settings(
        Settings(embedding_provider="bedrock", embedding_model=TITAN, embedding_dimensions=1024)
    )
    # THEN it is Bedrock with a boto3 client whose own retries are off, so ours are all there are
    assert isinstance(embedder, BedrockEmbedder)
    assert (embedder.model, embedder.dimensions) == (TITAN, 1024)
    config = cast(Any, embedder.client).meta.config
    assert config.retries["total_max_attempts"] == 1


# --- sentence-transformers ------------------------------------------------------------------------------------------

HAS_SENTENCE_TRANSFORMERS = importlib.util.find_spec("sentence_transformers") is not None


def st_settings(path: Path | None, dimensions: int = 8) -> Settings:
    return Settings(
        embedding_provider="sentence-transformers",
        embedding_model="all-MiniLM-L6-v2",
        embedding_dimensions=dimensions,
        sentence_transformers_model_path=str(path) if path else None,
    )


def test_without_a_model_path_it_names_the_setting() -> None:
    with pytest.raises(ValueError, match="SENTENCE_TRANSFORMERS_MODEL_PATH"):
        SentenceTransformersEmbedder.from_settings(st_settings(None))


def test_a_model_path_that_is_not_a_directory_is_refused_rather_than_downloaded(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        SentenceTransformersEmbedder.from_settings(st_settings(tmp_path / "sentence-transformers/all-MiniLM-L6-v2"))


@pytest.mark.skipif(HAS_SENTENCE_TRANSFORMERS, reason="sentence-transformers is installed")
def test_without_the_package_it_names_the_extra(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"docintake\[sentence-transformers\]"):
        SentenceTransformersEmbedder.from_settings(st_settings(tmp_path))


UNIT = [1.0] + [0.0] * 7


def install_fake_sentence_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    package = types.SimpleNamespace(SentenceTransformer=FakeSentenceTransformer)
    monkeypatch.setitem(sys.modules, "sentence_transformers", package)


class FakeSentenceTransformer:
    """Stands in for the package's class: records how it was built and what it was asked."""

    built: list[tuple[str, dict[str, Any], str | None]] = []

    def __init__(self, path: str, **options: Any) -> None:
        FakeSentenceTransformer.built.append((path, options, os.environ.get("HF_HUB_OFFLINE")))
        self.calls: list[dict[str, Any]] = []

    def get_sentence_embedding_dimension(self) -> int:
        return 8

    def encode(self, texts: list[str], **options: Any) -> list[list[float]]:
        self.calls.append(options)
        return [UNIT for _ in texts]


def test_the_model_is_loaded_from_disk_offline_on_the_cpu_and_vectors_are_normalised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a stand-in for the package and a model directory
    monkeypatch.setitem(
        sys.modules, "sentence_transformers", types.SimpleNamespace(SentenceTransformer=FakeSentenceTransformer)
    )
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    FakeSentenceTransformer.built.clear()
    # WHEN the embedder is built from settings and embeds two texts
    embedder = embedder_from_settings(st_settings(tmp_path))
    vectors = embedder.embed(["Coverage A", "Coverage B"])
    # THEN the model came from the directory, on the CPU, local files only, with the hub offline while loading
    assert FakeSentenceTransformer.built == [(str(tmp_path), {"device": "cpu", "local_files_only": True}, "1")]
    # AND the offline switch was put back afterwards
    assert "HF_HUB_OFFLINE" not in os.environ
    # AND the dimension is the model's, the vectors were asked for normalised, one per text
    assert isinstance(embedder, SentenceTransformersEmbedder)
    assert embedder.dimensions == 8
    assert cast(Any, embedder).encoder.calls[0]["normalize_embeddings"] is True
    assert vectors == [UNIT, UNIT]


def test_a_model_whose_dimension_differs_from_the_settings_fails_at_cold_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        sys.modules, "sentence_transformers", types.SimpleNamespace(SentenceTransformer=FakeSentenceTransformer)
    )
    with pytest.raises(ValueError, match="EMBEDDING_DIMENSIONS"):
        SentenceTransformersEmbedder.from_settings(st_settings(tmp_path, dimensions=384))


@pytest.mark.skipif(not HAS_SENTENCE_TRANSFORMERS, reason="the optional sentence-transformers extra is not installed")
def test_a_real_local_model_gives_unit_vectors() -> None:
    # GIVEN a model directory named by DOCINTAKE_TEST_ST_MODEL (nothing is downloaded to make one) and its dimension
    path = os.environ.get("DOCINTAKE_TEST_ST_MODEL")
    if not path:
        pytest.skip(reason="DOCINTAKE_TEST_ST_MODEL names no local sentence-transformers model directory")
    dimensions = int(os.environ.get("DOCINTAKE_TEST_ST_DIMENSIONS", "384"))
    embedder = SentenceTransformersEmbedder.from_settings(st_settings(Path(path), dimensions=dimensions))
    # WHEN two texts are embedded THEN each vector has the model's length and unit norm
    for vector in embedder.embed(["water damage exclusion", "premium schedule"]):
        assert len(vector) == dimensions
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-5)
