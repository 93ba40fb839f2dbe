"""The ``wordllama`` embedder: WordLlama's l2_supercat static token embeddings, read from the files its wheel ships.

WordLlama (PyPI ``wordllama`` 0.4) is a table of one vector per token of Llama 2's tokenizer; a text's vector is the
mean of its tokens' rows, L2-normalised — ``WordLlamaInference.embed(texts, norm=True)``: tokens without special
tokens and without truncation, padding masked out of the mean. The wheel ships the 256-dimension table
(``wordllama/weights/l2_supercat_256.safetensors``, float16, 16 MB) and the tokenizer
(``wordllama/tokenizers/l2_supercat_tokenizer_config.json``). Its own loader looks for the tokenizer under
``tokenizer/`` instead, misses, and downloads one from Hugging Face; and importing the package configures the root
logger. So this module imports no ``wordllama`` code: it finds the installed package's folder and reads those two
files with ``safetensors`` and ``tokenizers``, and nothing here opens a connection.

The table is Matryoshka-trained: its first 64 or 128 columns are themselves an embedding (the package's
``trunc_dim``), so ``wordllama-l2-supercat-{64,128,256}`` are the three models on offer; the name says the dimension.

Failures:

    the package or its files missing    DependencyUnavailable  embedding_unavailable   an operator installs
                                                                                        ``docintake[semantic]``
    out of memory                       DependencyUnavailable  embedding_unavailable

An empty text (or one with no tokens) has no mean; it gets the first unit axis, as the hash embedder does, so cosine
distance stays defined.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docintake.config import Settings
from docintake.embedding.packaged import out_of_memory, package_folder
from docintake.errors import DependencyUnavailable
from docintake.vocabulary import ErrorCode

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from tokenizers import Tokenizer

MODEL_PREFIX = "wordllama-l2-supercat-"
DIMENSIONS = (64, 128, 256)
DEFAULT_MODEL = f"{MODEL_PREFIX}256"
_WEIGHTS = "weights/l2_supercat_256.safetensors"
_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
_TENSOR = "embedding.weight"
# Texts per tokenizer call and table lookup: a batch of 256 chunks of 1000 characters is ~70k tokens × 256 floats.
_BATCH = 64


def model_name(dimensions: int) -> str:
    return f"{MODEL_PREFIX}{dimensions}"


@dataclass(frozen=True)
class _Model:
    table: NDArray[np.float32]  # (vocabulary, 256)
    tokenizer: Tokenizer


_loaded: _Model | None = None
_lock = threading.Lock()


def _package_folder() -> Path:
    return package_folder("wordllama", "the wordllama package (pip install 'docintake[semantic]')")


def load_model() -> _Model:
    """The table and tokenizer, read once per process on first use (importing this module reads nothing)."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = _read_model(_package_folder())
        return _loaded


def _read_model(folder: Path) -> _Model:
    try:
        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise DependencyUnavailable(
            f"the wordllama embedder needs {exc.name} (pip install 'docintake[semantic]')",
            code=ErrorCode.EMBEDDING_UNAVAILABLE,
        ) from None
    try:
        table = np.ascontiguousarray(load_file(str(folder / _WEIGHTS))[_TENSOR], dtype=np.float32)
        tokenizer = Tokenizer.from_file(str(folder / _TOKENIZER))
    except Exception as exc:
        # safetensors and tokenizers raise their own exception types (and OSError, KeyError) for unreadable files.
        raise DependencyUnavailable(
            f"the wordllama model files are unreadable ({type(exc).__name__})", code=ErrorCode.EMBEDDING_UNAVAILABLE
        ) from None
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return _Model(table=table, tokenizer=tokenizer)


@dataclass(frozen=True)
class WordLlamaEmbedder:
    model: str = DEFAULT_MODEL
    dimensions: int = 256

    def __post_init__(self) -> None:
        if self.dimensions not in DIMENSIONS or self.model != model_name(self.dimensions):
            raise ValueError(
                f"the wordllama models are {', '.join(model_name(d) for d in DIMENSIONS)} with as many dimensions; "
                f"EMBEDDING_MODEL is {self.model} and EMBEDDING_DIMENSIONS {self.dimensions}"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> WordLlamaEmbedder:
        return cls(model=settings.embedding_model, dimensions=settings.embedding_dimensions)

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        model = load_model()
        try:
            return _embed(model, texts, self.dimensions).tolist()  # type: ignore[no-any-return]
        except MemoryError:
            raise out_of_memory("wordllama") from None


def _embed(model: _Model, texts: list[str], dimensions: int) -> Any:
    import numpy as np

    table = model.table[:, :dimensions]
    out = np.empty((len(texts), dimensions), dtype=np.float32)
    for start in range(0, len(texts), _BATCH):
        encodings = model.tokenizer.encode_batch(texts[start : start + _BATCH], add_special_tokens=False)
        # One flat gather and a segment sum instead of a padded (texts × longest × dim) block.
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        ids = np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
        np.clip(ids, 0, table.shape[0] - 1, out=ids)
        sums = np.zeros((len(encodings), dimensions), dtype=np.float32)
        filled = lengths > 0
        if filled.any():
            # The texts' tokens lie in consecutive runs; a text with no tokens has an empty run and is left at zero.
            starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
            sums[filled] = np.add.reduceat(table[ids], starts[filled], axis=0)
        out[start : start + len(encodings)] = sums
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    empty = norms[:, 0] == 0.0
    out[empty] = 0.0
    out[empty, 0] = 1.0
    norms[empty] = 1.0
    # The mean's length is irrelevant once normalised, so the sum is normalised directly.
    out /= norms
    return out
