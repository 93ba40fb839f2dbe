"""Embedders: one interface, chosen by settings. The default is MiniLM (``minilm``), semantic and offline;
``hash`` is for tests.

``wordllama`` (static token vectors) and ``minilm`` (all-MiniLM-L6-v2 in numpy) are semantic and offline too: their
model files come in registry packages (docintake[semantic]) and are read on first use, once per process, so
importing this package stays cheap.
"""

from __future__ import annotations

from typing import Protocol

from docintake.config import Settings


class Embedder(Protocol):
    """A provider. ``embed`` returns one vector of ``dimensions`` floats per text, in order, and raises
    only PermanentError or TransientError subclasses (DependencyUnavailable for a provider outage)."""

    @property
    def model(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    def embed(self, texts: list[str]) -> list[list[float]]: ...


def embedder_from_settings(settings: Settings) -> Embedder:
    if settings.embedding_provider == "openai":
        from docintake.embedding.openai import OpenAIEmbedder

        return OpenAIEmbedder.from_settings(settings)
    if settings.embedding_provider == "bedrock":
        from docintake.embedding.bedrock import BedrockEmbedder

        return BedrockEmbedder.from_settings(settings)
    if settings.embedding_provider == "wordllama":
        from docintake.embedding.wordllama import WordLlamaEmbedder

        return WordLlamaEmbedder.from_settings(settings)
    if settings.embedding_provider == "minilm":
        from docintake.embedding.minilm import MiniLMEmbedder

        return MiniLMEmbedder.from_settings(settings)
    if settings.embedding_provider == "sentence-transformers":
        from docintake.embedding.sentence_transformers import SentenceTransformersEmbedder

        return SentenceTransformersEmbedder.from_settings(settings)
    from docintake.embedding.hashing import HashEmbedder

    return HashEmbedder(model=settings.embedding_model, dimensions=settings.embedding_dimensions)


def vector_literal(vector: list[float]) -> str:
    """pgvector's text form, ``[0.1,0.2,…]``."""
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def embedder_for_model(settings: Settings, model: str, dimensions: int) -> Embedder:
    """The embedder that made vectors of ``model``: searching a document embedded with an older model
    (mid re-embed) must embed the query with that model, not with the one configured for new uploads."""
    if (model, dimensions) == (settings.embedding_model, settings.embedding_dimensions):
        return embedder_from_settings(settings)
    if model.startswith("docintake-hash"):
        provider = "hash"
    elif model.startswith("wordllama-"):
        provider = "wordllama"
    elif model == "all-MiniLM-L6-v2":
        provider = "minilm"
    elif model.startswith("amazon.titan-embed"):
        provider = "bedrock"
    elif model.startswith("text-embedding-"):
        provider = "openai"
    else:
        provider = settings.embedding_provider
    update = {"embedding_provider": provider, "embedding_model": model, "embedding_dimensions": dimensions}
    return embedder_from_settings(settings.model_copy(update=update))
