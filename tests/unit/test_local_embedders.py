"""The offline semantic embedders: wordllama (static token vectors) and minilm (all-MiniLM-L6-v2 in numpy).

Each model is read once per module (the embedders cache it per process); the tests that must watch a load happen
reset that cache themselves.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import runpy
import shutil
import socket
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from docintake.config import Settings
from docintake.embedding import embedder_for_model, embedder_from_settings
from docintake.embedding import minilm as minilm_module
from docintake.embedding import wordllama as wordllama_module
from docintake.embedding.hashing import HashEmbedder
from docintake.embedding.minilm import MiniLMEmbedder
from docintake.embedding.wordllama import WordLlamaEmbedder
from docintake.errors import DependencyUnavailable

FIXTURES = Path(__file__).parent / "fixtures"

# (a question in a user's words, the policy passage that answers it, an unrelated passage): they share almost no
# words, so only an embedder that knows what the words mean ranks the answer first.
LAY_QUESTIONS = [
    (
        "how much must I spend before my coverage kicks in",
        "The deductible is the amount you pay for covered services each year before the plan begins to pay.",
        "Hurricane and windstorm damage to the dwelling is covered only if caused by a named storm.",
    ),
    (
        "the most I'd pay in a year",
        "The out-of-pocket limit is the most you will pay during a policy period for covered services; after you "
        "reach it, the plan pays 100%.",
        "We will not pay for loss caused by mold, fungus or wet rot unless it results from a covered water loss.",
    ),
    (
        "my car got hit by another driver",
        "Collision coverage pays for direct and accidental loss to your covered auto caused by its impact with "
        "another vehicle or object.",
        "Coverage for personal property applies to furniture, clothing and other belongings kept in the residence "
        "premises.",
    ),
    (
        "my house was left empty for months",
        "Vacancy: we do not cover vandalism or glass breakage if the dwelling has been vacant for more than 60 "
        "consecutive days before the loss.",
        "Medical payments to others covers necessary medical expenses for bodily injury caused by an accident on an "
        "insured location.",
    ),
    (
        "someone slipped on my stairs and is suing me",
        "Personal liability coverage pays damages for which an insured is legally liable because of bodily injury "
        "to others, and provides a defense.",
        "Loss of use coverage pays additional living expenses if a covered loss makes the residence premises unfit "
        "to live in.",
    ),
    (
        "where do I stay while my home is being repaired",
        "Additional living expense: if a covered loss makes the residence premises not fit to live in, we cover the "
        "increase in living expenses you incur.",
        "Uninsured motorists coverage pays compensatory damages for bodily injury from the owner of an uninsured "
        "motor vehicle.",
    ),
]


@pytest.fixture(scope="module")
def wordllama() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(params=["wordllama", "minilm"])
def embedder(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every way out of the machine raises, and is recorded: name lookups, connects, create_connection."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> Any:
        attempts.append(args)
        raise OSError("network use in a test of an offline embedder")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))


def test_vectors_have_the_models_dimensions_and_unit_length(embedder: Any) -> None:
    vectors = embedder.embed(["Coverage A – Dwelling", "The deductible applies per occurrence."])
    assert [len(v) for v in vectors] == [embedder.dimensions] * 2
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]) == []


def test_the_same_text_gives_the_same_vector_alone_or_in_any_batch(embedder: Any) -> None:
    # Batches are grouped by length (minilm) or run in slices (wordllama); neither may change a text's vector.
    text = "Water damage caused by a sudden and accidental discharge from a plumbing system is covered."
    others = ["short", "a much longer passage about the policy period " * 8, ""]
    alone = embedder.embed([text])[0]
    in_batch = embedder.embed([*others, text, *others])[len(others)]
    assert alone == embedder.embed([text])[0]
    assert np.allclose(alone, in_batch, atol=1e-6)


def test_an_empty_text_gets_a_unit_vector_not_an_error(embedder: Any) -> None:
    empty, text = embedder.embed(["", "Coverage B – Other Structures"])
    assert np.isclose(np.linalg.norm(empty), 1.0, atol=1e-5)
    assert np.all(np.isfinite(empty))
    assert cosine(empty, text) < 0.99


def test_a_lay_question_is_closer_to_its_policy_passage_than_to_an_unrelated_one(embedder: Any) -> None:
    for question, answer, unrelated in LAY_QUESTIONS:
        q, right, wrong = embedder.embed([question, answer, unrelated])
        assert cosine(q, right) > cosine(q, wrong) + 0.05, question


def test_the_lay_questions_need_more_than_shared_words() -> None:
    # The same pairs defeat the lexical hash embedder in places: the test above measures meaning, not overlap.
    hashing = HashEmbedder()
    ranked_right = 0
    for question, answer, unrelated in LAY_QUESTIONS:
        q, right, wrong = hashing.embed([question, answer, unrelated])
        ranked_right += cosine(q, right) > cosine(q, wrong) + 0.05
    assert ranked_right < len(LAY_QUESTIONS)


def test_minilm_matches_sentence_transformers() -> None:
    # Made with sentence-transformers and torch in a throwaway virtualenv (the fixture's "about" says which), from
    # the same model.zip: a long text (truncated at 256 tokens), an empty one, codes and punctuation.
    reference = json.loads((FIXTURES / "minilm_reference.json").read_text())
    ours = np.array(MiniLMEmbedder().embed(reference["texts"]))
    theirs = np.array(reference["vectors"])
    assert ours.shape == theirs.shape == (6, 384)
    assert np.all(np.sum(ours * theirs, axis=1) >= 0.9999)
    assert np.abs(ours - theirs).max() < 1e-5


def test_wordllama_matches_the_packages_own_inference() -> None:
    # Importing wordllama's inference module calls logging.basicConfig; put the root logger back afterwards.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
        from wordllama.inference import WordLlamaInference
    finally:
        root.handlers[:], root.level = handlers, level
    folder = wordllama_module._package_folder()
    theirs = WordLlamaInference(
        load_file(str(folder / "weights/l2_supercat_256.safetensors"))["embedding.weight"],
        Tokenizer.from_file(str(folder / "tokenizers/l2_supercat_tokenizer_config.json")),
    )
    texts = [question for question, _, _ in LAY_QUESTIONS] + ["Coverage A – Dwelling " * 80]
    expected = theirs.embed(texts, norm=True)
    assert np.abs(np.array(WordLlamaEmbedder().embed(texts)) - expected).max() < 1e-6
    # The Matryoshka truncations are the table's first columns, normalised again.
    short = np.array(WordLlamaEmbedder(model="wordllama-l2-supercat-64", dimensions=64).embed(texts[:1]))[0]
    assert np.allclose(short, expected[0][:64] / np.linalg.norm(expected[0][:64]), atol=1e-6)


@pytest.fixture
def fresh_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both embedders load again, from the installed packages."""
    monkeypatch.setattr(wordllama_module, "_loaded", None)
    monkeypatch.setattr(minilm_module, "_loaded", None)


def test_loading_and_embedding_use_no_network(fresh_models: None, no_network: list[object], tmp_path: Path) -> None:
    home = tmp_path / "home"
    with pytest.MonkeyPatch.context() as patch:
        # Nothing is read from (or written to) a user cache such as ~/.cache/wordllama either.
        patch.setenv("HOME", str(home))
        for embedder in (WordLlamaEmbedder(), MiniLMEmbedder()):
            (vector,) = embedder.embed(["how much must I spend before my coverage kicks in"])
            assert len(vector) == embedder.dimensions
    assert no_network == []
    assert not home.exists()


def test_a_corrupt_copy_of_minilms_weights_is_ignored_and_replaced(
    fresh_models: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(minilm_module.tempfile, "gettempdir", lambda: str(tmp_path))
    with zipfile.ZipFile(minilm_module._archive_path()) as files:
        info = files.getinfo("model.safetensors")
    copy = tmp_path / f"docintake-minilm-{info.CRC:08x}-{info.file_size}.safetensors"
    copy.write_bytes(b"\0" * info.file_size)
    reference = json.loads((FIXTURES / "minilm_reference.json").read_text())
    (vector,) = MiniLMEmbedder().embed(reference["texts"][:1])
    assert cosine(vector, reference["vectors"][0]) >= 0.9999
    assert copy.read_bytes()[:8] != b"\0" * 8
    assert list(tmp_path.glob("*.partial")) == []


def test_minilm_from_the_lambda_layers_float16_folder_still_matches_sentence_transformers(tmp_path: Path) -> None:
    # GIVEN the package folder as layers/semantic builds it: model.zip unpacked into model/, weights in float16
    build_step = runpy.run_path(str(Path(__file__).parents[2] / "layers/semantic/minilm_to_float16.py"))
    package = tmp_path / "all_minilm_l6_v2"
    package.mkdir()
    shutil.copy(minilm_module._archive_path(), package / "model.zip")
    folder = build_step["unpack_in_float16"](package)
    # WHEN the embedder reads it
    model = minilm_module._read_model(package / "model.zip")
    reference = json.loads((FIXTURES / "minilm_reference.json").read_text())
    ours = minilm_module.embed_array(model, reference["texts"])
    # THEN the zip is gone, the weights take half the room, and the vectors are sentence-transformers' still
    assert not (package / "model.zip").exists()
    assert (folder / "model.safetensors").stat().st_size < 46_000_000
    assert np.all(np.sum(ours * np.array(reference["vectors"]), axis=1) >= 0.9999)


@pytest.mark.parametrize("provider", ["wordllama", "minilm"])
def test_a_missing_model_package_is_a_dependency_error(
    provider: str, fresh_models: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec
    hidden = {"wordllama": "wordllama", "minilm": "all_minilm_l6_v2"}[provider]
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == hidden else real_find_spec(name, *a)
    )
    embedder = embedder_from_settings(Settings(embedding_provider=provider))
    with pytest.raises(DependencyUnavailable) as raised:
        embedder.embed(["text"])
    assert raised.value.code == "embedding_unavailable"


def test_settings_name_each_local_model_and_refuse_a_mismatch() -> None:
    wordllama = Settings(embedding_provider="wordllama")
    assert (wordllama.embedding_model, wordllama.embedding_dimensions) == ("wordllama-l2-supercat-256", 256)
    minilm = embedder_from_settings(Settings(embedding_provider="minilm"))
    assert (type(minilm), minilm.model, minilm.dimensions) == (MiniLMEmbedder, "all-MiniLM-L6-v2", 384)
    with pytest.raises(ValueError, match="wordllama-l2-supercat-128"):
        WordLlamaEmbedder(model="wordllama-l2-supercat-256", dimensions=128)
    with pytest.raises(ValueError, match="all-MiniLM-L6-v2"):
        embedder_from_settings(Settings(embedding_provider="minilm", embedding_dimensions=256))


@pytest.mark.parametrize(
    ("model", "dimensions", "kind"),
    [
        ("wordllama-l2-supercat-256", 256, WordLlamaEmbedder),
        ("wordllama-l2-supercat-128", 128, WordLlamaEmbedder),
        ("all-MiniLM-L6-v2", 384, MiniLMEmbedder),
    ],
)
def test_vectors_of_a_local_model_are_searched_with_that_model(model: str, dimensions: int, kind: type) -> None:
    # A user mid re-embed still has vectors of the old model; the query must be embedded by it, whatever is configured.
    embedder = embedder_for_model(Settings(), model, dimensions)
    assert (type(embedder), embedder.model, embedder.dimensions) == (kind, model, dimensions)
