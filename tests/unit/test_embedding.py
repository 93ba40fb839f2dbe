"""The offline embedder: deterministic, unit length, lexical."""

from __future__ import annotations

import math

from docintake.config import Settings
from docintake.embedding import embedder_from_settings, vector_literal
from docintake.embedding.hashing import HashEmbedder


def test_vectors_are_deterministic_unit_vectors_of_the_set_dimension() -> None:
    embedder = embedder_from_settings(Settings(embedding_dimensions=64))
    first, again = embedder.embed(["Coverage A – Dwelling"]), embedder.embed(["Coverage A – Dwelling"])
    assert first == again
    assert len(first[0]) == 64
    assert math.isclose(math.fsum(x * x for x in first[0]), 1.0, rel_tol=1e-9)


def test_shared_words_are_closer_than_unrelated_text() -> None:
    embedder = HashEmbedder(dimensions=384)
    a, b, c = embedder.embed(
        [
            "water damage exclusion for the dwelling",
            "the dwelling water damage exclusion applies",
            "premium payment schedule for commercial auto",
        ]
    )
    similarity = lambda x, y: sum(p * q for p, q in zip(x, y, strict=True))  # noqa: E731
    assert similarity(a, b) > similarity(a, c) + 0.3


def test_empty_text_still_gets_a_unit_vector() -> None:
    (vector,) = HashEmbedder(dimensions=8).embed([""])
    assert vector == [1.0] + [0.0] * 7


def test_vector_literal_is_pgvector_text() -> None:
    assert vector_literal([0.5, -0.25, 1.0]) == "[0.5,-0.25,1]"
