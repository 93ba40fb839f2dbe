"""The ``sentence-transformers`` embedder: a model directory on local disk, run on the CPU, never downloaded.

It needs the optional ``sentence-transformers`` package (which brings torch) and
SENTENCE_TRANSFORMERS_MODEL_PATH, a directory saved with ``SentenceTransformer.save``. The API followed is
sentence-transformers ≥ 3 (sbert.net/docs/package_reference/sentence_transformer/model.html):
``SentenceTransformer(path, device="cpu", local_files_only=True)``, ``get_sentence_embedding_dimension()`` and
``encode(texts, normalize_embeddings=True)``. The path must be an existing directory — anything else the library
would read as a Hugging Face Hub id and try to download — and the load runs with HF_HUB_OFFLINE and
TRANSFORMERS_OFFLINE set, so nothing is fetched. The model truncates inputs longer than its ``max_seq_length``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docintake.config import Settings
from docintake.errors import DependencyUnavailable
from docintake.vocabulary import ErrorCode

_OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@dataclass(frozen=True)
class SentenceTransformersEmbedder:
    model: str
    dimensions: int
    encoder: Any = field(repr=False)  # a sentence_transformers.SentenceTransformer; the package is optional

    @classmethod
    def from_settings(cls, settings: Settings) -> SentenceTransformersEmbedder:
        path = settings.sentence_transformers_model_path
        if not path:
            raise ValueError(
                "EMBEDDING_PROVIDER=sentence-transformers needs SENTENCE_TRANSFORMERS_MODEL_PATH, a model directory"
            )
        if not Path(path).is_dir():
            raise ValueError(f"SENTENCE_TRANSFORMERS_MODEL_PATH is not a directory: {path}")
        with _offline():
            try:
                library = importlib.import_module("sentence_transformers")
            except ImportError as exc:
                raise RuntimeError(
                    "EMBEDDING_PROVIDER=sentence-transformers needs the optional extra: "
                    "pip install 'docintake[sentence-transformers]'"
                ) from exc
            encoder = library.SentenceTransformer(path, device="cpu", local_files_only=True)
        dimensions = int(encoder.get_sentence_embedding_dimension())
        if dimensions != settings.embedding_dimensions:
            # The dimension is stored with every vector and sizes the index; a silent difference would split them.
            raise ValueError(
                f"the model at {path} gives {dimensions} dimensions; EMBEDDING_DIMENSIONS is "
                f"{settings.embedding_dimensions}"
            )
        return cls(model=settings.embedding_model, dimensions=dimensions, encoder=encoder)

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        try:
            vectors = self.encoder.encode(
                texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        except (RuntimeError, MemoryError) as exc:
            # Out of memory or a torch failure says nothing about the text; the queue retries.
            raise DependencyUnavailable(
                f"sentence-transformers failed ({type(exc).__name__})", code=ErrorCode.EMBEDDING_UNAVAILABLE
            ) from exc
        return [[float(x) for x in vector] for vector in vectors]


@contextmanager
def _offline() -> Iterator[None]:
    """HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE for the load only; huggingface_hub reads them when first imported."""
    saved = {name: os.environ.get(name) for name in _OFFLINE}
    os.environ.update(_OFFLINE)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
