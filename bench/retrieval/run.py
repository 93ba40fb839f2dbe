"""Runs bench/retrieval: can a user find the answer? docintake's search against LangChain and LlamaIndex.

``python -m bench.retrieval [--embedder hash|wordllama|minilm ...] [--strict] [--limit N]``

The corpus (``bench/retrieval/corpus``, see SOURCES.md) goes through each system with the same embedder, on
the same PostgreSQL (``DATABASE_URL``, or the embedded server under ``.local/pgbench``), each into a fresh
database:

- **docintake**: the local stack as bench/e2e runs it (moto in its own process, the real handlers, uploads
  through presigned PUTs), ``EMBEDDING_PROVIDER`` set to the embedder; then ``docintake.search.search`` as
  the API role, in each mode: hybrid, vector, keyword, and hybrid with ``expand=False`` (the insurance
  glossary off).
- **LangChain**: bench/e2e's pipeline (``PyPDFLoader`` → ``RecursiveCharacterTextSplitter`` 1000/200 →
  ``PGVector``), asked with ``similarity_search``.
- **LlamaIndex**, its default pipeline: ``SimpleDirectoryReader`` with PDFReader's reading (one Document
  per pypdf page, as llama-index-readers-file does; that package pins pypdf < 7, so its 40 lines are
  repeated here), ``VectorStoreIndex`` with its default ``SentenceSplitter`` on ``PGVectorStore``, asked
  through ``as_retriever``.

Every question (``questions.json``) is asked literally and in a lay user's words. A **hit** is a result from
the question's document whose text holds the evidence string, compared after ``questions.normalise`` — the
same rule for every system. Reported per system, mode and embedder, literal and paraphrased apart: hit@1,
hit@5, MRR over the top 10, and for docintake the share of hits whose cited heading path or sections name
the answer's section. Targets (issue 15): docintake hybrid hit@5 ≥ 0.90 literal and ≥ 0.75 paraphrased
with the local default embedder (Settings' default EMBEDDING_PROVIDER), each ≥ 15 points above the better
peer. Writes ``bench/out/retrieval.md`` and ``.json``; ``--strict`` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.e2e.run import (
    CONCURRENCY,
    STACK_ENVIRONMENT,
    USER,
    Doc,
    _vector_extension,
    langchain_embeddings,
    llamaindex_embedding,
    moto_process,
    run_docintake,
    run_langchain,
    sqlalchemy_url,
)
from bench.retrieval.corpus import documents, page_texts
from bench.retrieval.questions import STYLES, Question, load, normalise
from bench.store.run import database, postgres
from docintake.embedding import Embedder
from docintake_local.postgres import LocalDatabase
from docintake_local.stack import LocalStack, project_root

ROOT = project_root()
OUT = ROOT / "bench" / "out"
K = 10
# The local embedders: EMBEDDING_PROVIDER, EMBEDDING_MODEL, EMBEDDING_DIMENSIONS.
EMBEDDERS: dict[str, tuple[str, str, int]] = {
    "hash": ("hash", "docintake-hash-v1", 384),
    "wordllama": ("wordllama", "wordllama-l2-supercat-256", 256),
    "minilm": ("minilm", "all-MiniLM-L6-v2", 384),
}
MODES = ("hybrid", "vector", "keyword", "hybrid-no-glossary")
PEERS = ("LangChain", "LlamaIndex")
TARGET_LITERAL, TARGET_PARAPHRASE, TARGET_LEAD = 0.90, 0.75, 0.15
_started = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _started:6.1f} s] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Result:
    """One result list as the judge sees it: which document, and the text."""

    document: str
    text: str
    heading_path: tuple[str, ...] = ()
    sections: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Answer:
    """How one system found one question in one style: the rank of the first hit (0: none in the top 10)
    and, for docintake, whether that hit's citation names the answer's section."""

    question: str
    style: str
    system: str
    rank: int
    section_cited: bool | None


Ask = Callable[[str], list[Result]]


def judge(question: Question, style: str, system: str, results: list[Result]) -> Answer:
    evidence = normalise(question.evidence)
    for rank, result in enumerate(results[:K], start=1):
        if result.document == question.document and evidence in normalise(result.text):
            cited = None
            if result.heading_path or result.sections:
                names = {normalise(name) for name in result.heading_path}
                names |= {normalise(name) for path in result.sections for name in path}
                cited = normalise(question.section[-1]) in names
            return Answer(question.id, style, system, rank, cited)
    return Answer(question.id, style, system, 0, None)


# --- embedders ------------------------------------------------------------------------------------------


def make_embedder(name: str) -> tuple[Embedder, dict[str, str]] | str:
    """The embedder and the stack environment that selects it, or why it cannot run here."""
    from docintake.config import Settings
    from docintake.embedding import embedder_from_settings

    provider, model, dimensions = EMBEDDERS[name]
    environment = {
        "EMBEDDING_PROVIDER": provider,
        "EMBEDDING_MODEL": model,
        "EMBEDDING_DIMENSIONS": str(dimensions),
    }
    try:
        settings = Settings(embedding_provider=provider, embedding_model=model, embedding_dimensions=dimensions)
        embedder = embedder_from_settings(settings)
        embedder.embed(["is the embedder usable here?"])
    except Exception as exc:  # a provider not wired into docintake yet, or its package missing
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
    if embedder.model != model:
        return f"EMBEDDING_PROVIDER={provider} gave the model {embedder.model}, not {model}"
    return embedder, environment


# --- docintake ----------------------------------------------------------------------------------------------


@contextmanager
def docintake_asker(
    admin: str, endpoint: str, name: str, embedder: Embedder, environment: dict[str, str], docs: list[Doc]
) -> Iterator[dict[str, Ask]]:
    """The corpus through the local stack; yields one asker per search mode that can run."""
    from docintake.db import Database

    with database(admin, f"bench_retrieval_docintake_{name}") as url:
        local = LocalDatabase(url)
        local.migrate(ROOT / "migrations")
        stack = LocalStack(
            ROOT,
            local,
            aws_endpoint=endpoint,
            stack_name=f"bench-retrieval-{name}",
            environment={**STACK_ENVIRONMENT, **environment},
            log_file=ROOT / ".local" / "logs" / "bench-retrieval.jsonl",
            concurrency=CONCURRENCY,
        )
        with stack.running():
            ingested = run_docintake(stack, docs)
        log(f"docintake ({name}): {ingested.documents} documents, {ingested.chunks} chunks in {ingested.seconds:.1f} s")
        with psycopg.connect(url) as conn:
            names = {row[0]: Path(row[1]).stem for row in conn.execute("SELECT id, filename FROM documents")}
        db = Database(local.role_url("api"))

        def embedder_for(model: str, dimensions: int) -> Embedder:
            if (model, dimensions) != (embedder.model, embedder.dimensions):
                raise RuntimeError(f"the user's vectors are {model}/{dimensions}, not {embedder.model}")
            return embedder

        def results(hits: Sequence[Any]) -> list[Result]:
            return [
                Result(
                    names.get(hit.document_id, "?"),
                    hit.content,
                    tuple(hit.heading_path),
                    tuple(tuple(path) for path in hit.sections),
                )
                for hit in hits
            ]

        from docintake.search import search

        askers: dict[str, Ask] = {}
        for mode in MODES:
            expand = mode != "hybrid-no-glossary"
            plain = mode.removesuffix("-no-glossary")

            def ask(text: str, plain: str = plain, expand: bool = expand) -> list[Result]:
                return results(search(db, USER, text, k=K, embedder_for=embedder_for, mode=plain, expand=expand))

            askers[mode] = ask
        yield askers


# --- the peers ------------------------------------------------------------------------------------------------


def _pdf_reader() -> Any:
    """llama-index-readers-file's PDFReader: one Document per pypdf page, with page_label and file_name."""
    from llama_index.core.readers.base import BaseReader
    from llama_index.core.schema import Document
    from pypdf import PdfReader

    class PDFReader(BaseReader):
        def load_data(self, file: Path, extra_info: dict[str, Any] | None = None, fs: Any = None) -> list[Any]:
            pdf = PdfReader(Path(file))
            docs = []
            for number, page in enumerate(pdf.pages):
                metadata = {"page_label": pdf.page_labels[number], "file_name": Path(file).name}
                metadata.update(extra_info or {})
                docs.append(Document(text=page.extract_text(), metadata=metadata))
            return docs

    return PDFReader()


@contextmanager
def llamaindex_asker(admin: str, name: str, embedder: Embedder, folder: Path) -> Iterator[Ask]:
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.postgres import PGVectorStore

    with database(admin, f"bench_retrieval_llamaindex_{name}") as url:
        _vector_extension(url)
        started = time.perf_counter()
        reader = SimpleDirectoryReader(input_dir=str(folder), file_extractor={".pdf": _pdf_reader()})
        store = PGVectorStore.from_params(
            connection_string=sqlalchemy_url(url, "psycopg2"),
            async_connection_string=sqlalchemy_url(url, "asyncpg"),
            table_name="llamaindex_chunks",
            embed_dim=embedder.dimensions,
        )
        index = VectorStoreIndex.from_documents(
            reader.load_data(),
            storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=llamaindex_embedding(embedder),
        )
        log(f"LlamaIndex ({name}): ingested in {time.perf_counter() - started:.1f} s")
        retriever = index.as_retriever(similarity_top_k=K)

        def ask(text: str) -> list[Result]:
            return [
                Result(Path(str(n.node.metadata.get("file_name", "?"))).stem, n.node.get_content())
                for n in retriever.retrieve(text)
            ]

        try:
            yield ask
        finally:
            store._engine.dispose()  # its close() is a coroutine; the sync engine is what asking used


@contextmanager
def langchain_asker(admin: str, name: str, embedder: Embedder, docs: list[Doc], folder: Path) -> Iterator[Ask]:
    from langchain_postgres import PGVector

    with database(admin, f"bench_retrieval_langchain_{name}") as url:
        _vector_extension(url)
        ingested = run_langchain(url, docs, folder, embedder)
        log(f"LangChain ({name}): {ingested.chunks} chunks in {ingested.seconds:.1f} s")
        store = PGVector(
            embeddings=langchain_embeddings(embedder),
            collection_name="langchain_chunks",  # run_langchain's collection
            connection=sqlalchemy_url(url, "psycopg"),
            use_jsonb=True,
        )

        def ask(text: str) -> list[Result]:
            return [
                Result(Path(str(d.metadata.get("source", "?"))).stem, d.page_content)
                for d in store.similarity_search(text, k=K)
            ]

        try:
            yield ask
        finally:
            store._engine.dispose()


# --- scoring ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    system: str
    embedder: str
    style: str
    questions: int
    hit1: float
    hit5: float
    mrr: float
    section_share: float | None  # docintake: hits whose citation names the answer's section

    def row(self) -> str:
        share = "–" if self.section_share is None else f"{self.section_share:.2f}"
        return (
            f"| {self.system} | {self.embedder} | {self.style} | {self.questions} | {self.hit1:.2f} | {self.hit5:.2f}"
            f" | {self.mrr:.2f} | {share} |"
        )


def figures(system: str, embedder: str, style: str, answers: list[Answer]) -> Figures:
    n = len(answers) or 1
    found = [a for a in answers if a.rank]
    cited = [a.section_cited for a in found if a.section_cited is not None]
    return Figures(
        system,
        embedder,
        style,
        len(answers),
        sum(a.rank == 1 for a in answers) / n,
        sum(0 < a.rank <= 5 for a in answers) / n,
        sum(1 / a.rank for a in found) / n,
        sum(cited) / len(cited) if cited else None,
    )


def ask_all(system: str, ask: Ask, questions: list[Question]) -> list[Answer]:
    started = time.perf_counter()
    answers = [judge(q, style, system, ask(q.asked(style))) for q in questions for style in STYLES]
    log(f"{system}: {len(answers)} searches in {time.perf_counter() - started:.1f} s")
    return answers


def local_default() -> str:
    """The embedder docintake uses when nothing is configured (Settings' default EMBEDDING_PROVIDER)."""
    from docintake.config import Settings

    provider = str(Settings.model_fields["embedding_provider"].default)
    return next((name for name, (p, _, _) in EMBEDDERS.items() if p == provider), provider)


def checks(table: dict[tuple[str, str, str], Figures], name: str) -> list[tuple[bool, str]]:
    """The targets' lines for one embedder."""
    lines = []
    for style, target in (("literal", TARGET_LITERAL), ("paraphrase", TARGET_PARAPHRASE)):
        ours = table.get(("docintake hybrid", name, style))
        peers = [table[(p, name, style)] for p in PEERS if (p, name, style) in table]
        if ours is None:
            lines.append((False, f"docintake hybrid ({name}) did not run: hybrid search is missing"))
            continue
        lines.append(
            (ours.hit5 >= target, f"docintake hybrid hit@5 {style} ({name}): {ours.hit5:.3f} — target ≥ {target:.2f}")
        )
        if peers:
            best = max(peers, key=lambda f: f.hit5)
            lead = ours.hit5 - best.hit5
            lines.append(
                (
                    lead >= TARGET_LEAD - 1e-9,
                    f"docintake hybrid hit@5 {style} ({name}) − {best.system} {best.hit5:.3f} (the better peer):"
                    f" {lead * 100:+.1f} points — target ≥ +{TARGET_LEAD * 100:.0f}",
                )
            )
    return lines


def misses(answers: list[Answer], questions: dict[str, Question], system: str, style: str, limit: int) -> list[str]:
    lines = []
    for answer in answers:
        if answer.system == system and answer.style == style and answer.rank == 0:
            q = questions[answer.question]
            lines.append(f"- {q.id} ({q.document}, p. {q.page}): “{q.asked(style)}” — evidence “{q.evidence}”")
    return lines[:limit]


# --- main ---------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.retrieval", description=__doc__.split("\n")[0])
    parser.add_argument("--embedder", action="append", choices=sorted(EMBEDDERS), help="repeatable; default hash")
    parser.add_argument("--limit", type=int, default=0, help="ask only the first N questions (a quick look)")
    parser.add_argument("--no-peers", action="store_true", help="docintake only")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    names: list[str] = args.embedder or ["hash"]
    questions = load()[: args.limit or None]
    corpus = documents()
    docs = [Doc(d.filename, d.pdf.read_bytes(), len(page_texts(d.pdf))) for d in corpus]
    # Not under .local: SimpleDirectoryReader skips every file below a hidden folder.
    scratch = tempfile.TemporaryDirectory(prefix="bench-retrieval-")
    folder = Path(scratch.name)
    for d in corpus:
        (folder / d.filename).write_bytes(d.pdf.read_bytes())
    log(f"corpus: {len(docs)} PDFs, {sum(d.pages for d in docs)} pages; {len(questions)} questions × {len(STYLES)}")

    answers: list[Answer] = []
    table: dict[tuple[str, str, str], Figures] = {}
    ran: list[str] = []
    skipped: list[str] = []
    with postgres() as admin, moto_process() as endpoint:
        for name in names:
            made = make_embedder(name)
            if isinstance(made, str):
                skipped.append(f"embedder {name} skipped: {made}")
                print(skipped[-1], flush=True)
                continue
            embedder, environment = made
            ran.append(name)
            runs: dict[str, list[Answer]] = {}
            with docintake_asker(admin, endpoint, name, embedder, environment, docs) as askers:
                for mode, ask in askers.items():
                    runs[f"docintake {mode}"] = ask_all(f"docintake {mode}", ask, questions)
            if not args.no_peers:
                with langchain_asker(admin, name, embedder, docs, folder) as ask:
                    runs["LangChain"] = ask_all("LangChain", ask, questions)
                with llamaindex_asker(admin, name, embedder, folder) as ask:
                    runs["LlamaIndex"] = ask_all("LlamaIndex", ask, questions)
            for system, system_answers in runs.items():
                answers += [
                    Answer(a.question, a.style, f"{a.system}@{name}", a.rank, a.section_cited) for a in system_answers
                ]
                for style in STYLES:
                    table[(system, name, style)] = figures(
                        system, name, style, [a for a in system_answers if a.style == style]
                    )

    scratch.cleanup()
    report, ok = _report(args, questions, corpus, table, answers, ran, skipped)
    print(report)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "retrieval.md").write_text(report + "\n", encoding="utf-8")
    (OUT / "retrieval.json").write_text(
        json.dumps(
            {
                "figures": [asdict(f) for f in table.values()],
                "answers": [asdict(a) for a in answers],
                "skipped": skipped,
            },
            indent=1,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    return 1 if args.strict and not ok else 0


def _delta(table: dict[tuple[str, str, str], Figures], name: str, style: str) -> float:
    glossary, plain = table[("docintake hybrid", name, style)], table[("docintake hybrid-no-glossary", name, style)]
    return (glossary.hit5 - plain.hit5) * 100


def _report(
    args: argparse.Namespace,
    questions: list[Question],
    corpus: list[Any],
    table: dict[tuple[str, str, str], Figures],
    answers: list[Answer],
    ran: list[str],
    skipped: list[str],
) -> tuple[str, bool]:
    by_id = {q.id: q for q in questions}
    kinds = {d.name: d.kind for d in corpus}
    real = sum(kinds[q.document] == "real" for q in questions)
    modes = [s for s in (f"docintake {m}" for m in MODES) if any(k[0] == s for k in table)]
    missing = [f"docintake {m}" for m in MODES if f"docintake {m}" not in modes]
    default = local_default()
    results = checks(table, default) if default in ran else [(False, f"the local default ({default}) did not run")]
    others = [line for name in ran if name != default for line in checks(table, name)]
    lines = [
        f"# Retrieval — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}",
        "",
        f"{len(corpus)} PDFs ({sum(k == 'real' for k in kinds.values())} real public-domain NFIP forms,"
        f" {sum(k == 'generated' for k in kinds.values())} generated policies); {len(questions)} questions"
        f" ({real} on the real documents), each asked literally and paraphrased; top {K} results. A hit: a"
        " result from the question's document holding the evidence string (case, whitespace, hyphenation,"
        " quotes and Markdown markup normalised), the same rule for every system. Embedders: "
        + (", ".join(ran) or "none")
        + ".",
        "",
        "| system | embedder | asked | questions | hit@1 | hit@5 | MRR@10 | cited section |",
        "|---|---|---|---:|---:|---:|---:|---:|",
        *[f.row() for f in table.values()],
        *[f"| {m} | – | – | – | n/a | n/a | n/a | – |" for m in missing],
        "",
        f"Targets (issue 15), with the local default embedder ({default}; --strict judges these):",
        *[f"- {text}: {'ok' if passed else 'MISSED'}" for passed, text in results],
        *[f"- {line}" for line in skipped],
        *(["", "The same targets with the other embedders (for choosing the default):"] if others else []),
        *[f"- {text}: {'ok' if passed else 'MISSED'}" for passed, text in others],
        "",
        "Does the insurance glossary help? docintake hybrid hit@5 with it minus without it:",
        *[
            f"- {name}: literal {_delta(table, name, 'literal'):+.1f} points,"
            f" paraphrased {_delta(table, name, 'paraphrase'):+.1f} points"
            for name in ran
            if ("docintake hybrid-no-glossary", name, "literal") in table
        ],
    ]
    for name in ran:
        for style in STYLES:
            for system in ("docintake hybrid",):
                missed = misses(answers, by_id, f"{system}@{name}", style, 25)
                if missed:
                    lines += ["", f"## {system} ({name}), {style}: not in the top {K}", "", *missed]
    del args
    return "\n".join(lines), all(passed for passed, _ in results)
