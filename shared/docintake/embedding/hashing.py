"""The offline embedder: signed feature hashing of words and word pairs, L2-normalised.

Deterministic and fast, with no model to download. It is lexical, not semantic: texts that share
words are close, synonyms are not.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


class HashEmbedder:
    def __init__(self, *, model: str = "docintake-hash-v1", dimensions: int = 384) -> None:
        self.model = model
        self.dimensions = dimensions

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        words = _WORD.findall(text.lower())
        features = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        for feature in features:
            digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
            index = digest % self.dimensions
            vector[index] += 1.0 if (digest >> 63) & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0.0:
            # An empty text still gets a valid unit vector, so cosine distance stays defined.
            vector[0] = 1.0
            return vector
        return [x / norm for x in vector]
