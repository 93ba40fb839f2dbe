"""Embedders: one interface, chosen by settings. The local default is the offline ``hash`` embedder."""

from __future__ import annotations

from typing import Protocol

from docintake.config import Settings


class Embedder(Protocol):
    model: str
    dimensions: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...


def embedder_from_settings(settings: Settings) -> Embedder:
    if settings.embedding_provider == "hash":
        from docintake.embedding.hashing import HashEmbedder

        return HashEmbedder(model=settings.embedding_model, dimensions=settings.embedding_dimensions)
    raise ValueError(f"unknown EMBEDDING_PROVIDER {settings.embedding_provider}")


def vector_literal(vector: list[float]) -> str:
    """pgvector's text form, ``[0.1,0.2,…]``."""
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"
