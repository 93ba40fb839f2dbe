"""The embedder a search embeds its question with (docintake.embedding.embedder_for_model): the one that made the
vectors being searched, found from the model's name, whatever provider is configured for new uploads."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from docintake.config import Settings
from docintake.embedding import embedder_for_model
from docintake.embedding.bedrock import BedrockEmbedder
from docintake.embedding.hashing import HashEmbedder
from docintake.embedding.openai import OpenAIEmbedder

# New uploads embed with the offline hash embedder; every user below still has vectors of another model.
CONFIGURED = Settings(
    embedding_provider="hash", embedding_model="docintake-hash-v1", embedding_dimensions=384, openai_api_key=None
)


def test_a_hash_model_of_another_version_is_searched_with_the_hash_embedder_of_that_version() -> None:
    embedder = embedder_for_model(CONFIGURED, "docintake-hash-v2", 128)
    assert (type(embedder), embedder.model, embedder.dimensions) == (HashEmbedder, "docintake-hash-v2", 128)
    # AND the question's vector has the searched vectors' dimension, not the configured model's
    assert len(embedder.embed(["flood deductible"])[0]) == 128


def test_titan_vectors_are_searched_with_bedrock(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a region for the Bedrock client (no call is made)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # WHEN the embedder for Titan's vectors is asked for
    embedder = embedder_for_model(CONFIGURED, "amazon.titan-embed-text-v2:0", 512)
    # THEN it is Bedrock's, with that model and dimension
    assert (type(embedder), embedder.model, embedder.dimensions) == (
        BedrockEmbedder,
        "amazon.titan-embed-text-v2:0",
        512,
    )


def test_openai_vectors_are_searched_with_the_openai_api_and_its_key() -> None:
    settings = CONFIGURED.model_copy(update={"openai_api_key": SecretStr("sk-test")})
    embedder = embedder_for_model(settings, "text-embedding-3-small", 1536)
    assert (type(embedder), embedder.model, embedder.dimensions) == (OpenAIEmbedder, "text-embedding-3-small", 1536)
    # AND without a key it cannot be built: the search fails rather than embedding with the wrong model
    with pytest.raises(ValueError):
        embedder_for_model(CONFIGURED, "text-embedding-3-small", 1536)


def test_a_model_no_name_rule_knows_is_searched_with_the_configured_provider() -> None:
    # GIVEN vectors of a model whose name says nothing of its provider
    # WHEN the embedder for them is asked for
    embedder = embedder_for_model(CONFIGURED, "in-house-embedder-7", 64)
    # THEN it is the configured provider's, with that model and dimension
    assert (type(embedder), embedder.model, embedder.dimensions) == (HashEmbedder, "in-house-embedder-7", 64)
