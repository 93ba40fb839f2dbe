"""The offline embedder: signed feature hashing of words and word pairs, L2-normalised.

Deterministic and fast, with no model to download. It is lexical, not semantic: texts that share
words are close, synonyms are not. Common English words are left out and repeated words count
sub-linearly (1 + log n), so a short query is not drowned by a long chunk's "the" and "of".
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections import Counter
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_STOP_WORDS = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "shall",
        "such",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "this",
        "those",
        "to",
        "under",
        "was",
        "we",
        "were",
        "which",
        "will",
        "with",
        "you",
        "your",
        "any",
        "all",
        "not",
        "no",
        "may",
        "must",
        "other",
        "than",
    )
)


@lru_cache(maxsize=1 << 17)
def _feature_hash(feature: str) -> int:
    """A feature's 64-bit hash. Cached: a policy's vocabulary and its word pairs repeat chunk after chunk,
    and hashing was most of the embedder's time."""
    return int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")


class HashEmbedder:
    def __init__(self, *, model: str = "docintake-hash-v1", dimensions: int = 384) -> None:
        self.model = model
        self.dimensions = dimensions

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        words = [w for w in _WORD.findall(text.lower()) if w not in _STOP_WORDS]
        counts = Counter(words)
        counts.update(f"{a} {b}" for a, b in itertools.pairwise(words))
        for feature, count in counts.items():
            digest = _feature_hash(feature)
            index = digest % self.dimensions
            weight = 1.0 + math.log(count)
            vector[index] += weight if (digest >> 63) & 1 else -weight
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0.0:
            # An empty text still gets a valid unit vector, so cosine distance stays defined.
            vector[0] = 1.0
            return vector
        return [x / norm for x in vector]
