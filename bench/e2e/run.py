"""End to end: generated insurance PDFs to searchable vectors, docintake against what users build instead.

- **docintake**: the local stack (moto S3/SQS over HTTP, the real handlers under Lambda-like pollers,
  uploads through presigned PUTs), from the first upload request until every job is done. moto runs in its
  own process, as AWS runs outside the functions, and each queue has ``CONCURRENCY`` containers (one per
  core here; the template allows up to StageMaxConcurrency), as Lambda scales a queue's consumers.
- **LlamaIndex**: pypdf pages as Documents (what its PDFReader does) → ``IngestionPipeline`` with
  ``SentenceSplitter`` (1000/200, in characters) and the same hash embedder → ``PGVectorStore``.
- **LangChain**: ``PyPDFLoader`` → ``RecursiveCharacterTextSplitter`` (1000/200) → the same embedder →
  ``PGVector`` (langchain-postgres).

All three write to databases of the same PostgreSQL server (pgserver under ``.local/pgbench``); each
system runs ``--repeats`` times (after a warm-up for docintake; the peers in a fresh database each time)
and its fastest run counts. Also:
the 300-page, ~25 MB document through each stage's handler in its own process (peak RSS per handler),
and time against pages (10 … 1,000) with the fitted growth. Writes ``bench/out/e2e.md`` and
``bench/out/e2e.json``; ``bench/results.png`` is drawn by ``bench.all``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from bench.store.run import database, postgres
from docintake.embedding import Embedder
from docintake.embedding.hashing import HashEmbedder
from docintake_local.client import upload_bytes
from docintake_local.postgres import LocalDatabase
from docintake_local.stack import LocalStack, project_root

ROOT = project_root()
OUT = ROOT / "bench" / "out"
SIZE, OVERLAP, DIMENSIONS = 1000, 200, 384
# The peers' embedder for docintake too: the template's default is MiniLM (since bench/retrieval chose it),
# which would time a neural model against the peers' hashing.
STACK_ENVIRONMENT = {
    "MAX_ACTIVE_JOBS_PER_USER": "1000",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "EMBEDDING_PROVIDER": "hash",
    "EMBEDDING_MODEL": HashEmbedder(dimensions=DIMENSIONS).model,
    "EMBEDDING_DIMENSIONS": str(DIMENSIONS),
}
WHOLE_DOCUMENT = {"PARSE_PAGES_PER_PART": "100000", "EMBED_CHUNKS_PER_PART": "1000000"}
USER = uuid.UUID("be4c0000-0000-4000-8000-000000000001")
CONCURRENCY = os.cpu_count() or 2
_started = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _started:6.1f} s] {message}", file=sys.stderr, flush=True)


@dataclass
class Doc:
    name: str
    data: bytes
    pages: int


@dataclass
class Result:
    system: str
    documents: int
    pages: int
    seconds: float
    chunks: int
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def documents_per_minute(self) -> float:
        return self.documents / self.seconds * 60

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds


def corpus(documents: int, pages: int, seed: int) -> list[Doc]:
    from docintake_local.sample_documents import _KINDS, policy_pdf

    docs = []
    for index in range(documents):
        sample = policy_pdf(pages, seed=seed * 1000 + index, kind=_KINDS[index % len(_KINDS)])
        docs.append(Doc(f"{index:02d}-{sample.filename}", sample.data, sample.pages))
    return docs


# --- docintake ---------------------------------------------------------------------------------------


@contextmanager
def moto_process() -> Iterator[str]:
    """A moto server in its own process; yields its endpoint."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def wait_for_jobs(
    conn: psycopg.Connection[Any],
    jobs: list[uuid.UUID],
    started: float,
    *,
    timeout: float,
    poll: float,
    name: str = "docintake",
    finished: tuple[str, ...] = ("done", "failed"),
) -> float:
    """Seconds from ``started`` until every job is in a ``finished`` state; raises unless all are done."""
    while True:
        rows = conn.execute("SELECT state, last_error_code FROM upload_jobs WHERE id = ANY(%s)", [jobs]).fetchall()
        if sum(r["state"] in finished for r in rows) == len(jobs):
            break
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{name} did not finish: {rows}")
        time.sleep(poll)
    seconds = time.perf_counter() - started
    failed = [r["last_error_code"] for r in rows if r["state"] != "done"]
    if failed:
        raise RuntimeError(f"{name}: documents failed: {failed}")
    return seconds


def run_docintake(stack: LocalStack, docs: list[Doc], *, timeout: float = 600.0) -> Result:
    started = time.perf_counter()
    jobs = []
    with httpx.Client(timeout=120) as http:
        for doc in docs:
            # replace: each repeat ingests the same files again rather than finding them already there
            jobs.append(
                upload_bytes(stack, USER, doc.name, doc.data, "application/pdf", replace=True, http=http).job_id
            )
    with psycopg.connect(stack.database.admin_url, autocommit=True, row_factory=dict_row) as conn:
        seconds = wait_for_jobs(conn, jobs, started, timeout=timeout, poll=0.05)
        chunks = conn.execute(
            "SELECT sum(document_vector_count(j.document_id)) AS n FROM upload_jobs j WHERE j.id = ANY(%s)",
            [jobs],
        ).fetchone()
        spans = conn.execute(
            "SELECT s.stage AS stage, sum(extract(epoch FROM c.occurred_at - s.occurred_at)) AS busy"
            " FROM events s JOIN events c ON c.job_id = s.job_id AND c.event_type = 'stage_completed'"
            "  AND c.stage = CASE s.stage WHEN 'parsing' THEN 'parsed' WHEN 'chunking' THEN 'chunked'"
            "                             ELSE 'done' END"
            " WHERE s.event_type = 'stage_started' AND s.job_id = ANY(%s) GROUP BY s.stage",
            [jobs],
        ).fetchall()
    assert chunks is not None
    names = {"parsing": "parse", "chunking": "chunk", "embedding": "embed"}
    stage_seconds = {names.get(str(r["stage"]), str(r["stage"])): float(r["busy"]) for r in spans}
    return Result("docintake", len(docs), sum(d.pages for d in docs), seconds, int(chunks["n"]), stage_seconds)


# --- the peers ---------------------------------------------------------------------------------------


def sqlalchemy_url(libpq_url: str, driver: str) -> str:
    """A SQLAlchemy URL for the same server and database (pgserver listens on a Unix socket)."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(libpq_url)
    user, host, dbname = parts.get("user", "postgres"), parts.get("host", ""), parts["dbname"]
    password = parts.get("password") or ""
    port = parts.get("port", "5432")
    auth = f"{user}:{password}@" if password else f"{user}@"
    if str(host).startswith("/"):
        return f"postgresql+{driver}://{auth}/{dbname}?host={host}&port={port}"
    return f"postgresql+{driver}://{auth}{host}:{port}/{dbname}"


def _embedder() -> HashEmbedder:
    return HashEmbedder(dimensions=DIMENSIONS)


def llamaindex_embedding(embedder: Embedder) -> Any:
    """A docintake embedder as LlamaIndex's ``BaseEmbedding`` (bench/retrieval asks through it too)."""
    from llama_index.core.embeddings import BaseEmbedding

    class DocintakeEmbedding(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return embedder.embed([query])[0]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return embedder.embed([query])[0]

        def _get_text_embedding(self, text: str) -> list[float]:
            return embedder.embed([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed(texts)

    return DocintakeEmbedding(model_name=embedder.model, embed_batch_size=256)


def langchain_embeddings(embedder: Embedder) -> Any:
    """A docintake embedder as LangChain's ``Embeddings`` (bench/retrieval asks through it too)."""
    from langchain_core.embeddings import Embeddings

    class DocintakeEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed(texts)

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed([text])[0]

    return DocintakeEmbeddings()


def run_llamaindex(url: str, docs: list[Doc], folder: Path) -> Result:
    from llama_index.core import Document
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.postgres import PGVectorStore
    from pypdf import PdfReader

    paths = _write(docs, folder)
    started = time.perf_counter()
    documents = []
    for path in paths:  # what llama-index-readers-file's PDFReader does: one Document per page
        for number, page in enumerate(PdfReader(path).pages, start=1):
            documents.append(
                Document(text=page.extract_text(), metadata={"file_name": path.name, "page_label": number})
            )
    store = PGVectorStore(
        connection_string=sqlalchemy_url(url, "psycopg2"),
        async_connection_string=sqlalchemy_url(url, "asyncpg"),
        table_name="llamaindex_chunks",
        embed_dim=DIMENSIONS,
    )
    pipeline = IngestionPipeline(
        transformations=[
            SentenceSplitter(chunk_size=SIZE, chunk_overlap=OVERLAP, tokenizer=list),
            llamaindex_embedding(_embedder()),
        ],
        vector_store=store,
    )
    nodes = pipeline.run(documents=documents)
    seconds = time.perf_counter() - started
    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT count(*) FROM data_llamaindex_chunks").fetchone()
    assert stored is not None and stored[0] == len(nodes), (stored, len(nodes))
    return Result("LlamaIndex", len(docs), sum(d.pages for d in docs), seconds, len(nodes))


def run_langchain(url: str, docs: list[Doc], folder: Path, embedder: Embedder | None = None) -> Result:
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_postgres import PGVector
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    paths = _write(docs, folder)
    started = time.perf_counter()
    store = PGVector(
        embeddings=langchain_embeddings(embedder or _embedder()),
        collection_name="langchain_chunks",
        connection=sqlalchemy_url(url, "psycopg"),
        use_jsonb=True,
    )
    splitter = RecursiveCharacterTextSplitter(chunk_size=SIZE, chunk_overlap=OVERLAP)
    total = 0
    for path in paths:
        chunks = splitter.split_documents(PyPDFLoader(str(path)).load())
        store.add_documents(chunks)
        total += len(chunks)
    seconds = time.perf_counter() - started
    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT count(*) FROM langchain_pg_embedding").fetchone()
    assert stored is not None and stored[0] == total, (stored, total)
    return Result("LangChain", len(docs), sum(d.pages for d in docs), seconds, total)


def _write(docs: list[Doc], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for doc in docs:
        path = folder / doc.name
        path.write_bytes(doc.data)
        paths.append(path)
    return paths


# --- the large document, stage by stage, each handler in its own process --------------------------------


@dataclass
class StageRun:
    function: str
    seconds: float
    peak_rss_mb: float
    child_peak_rss_mb: float


def large_document_by_stage(stack: LocalStack, pages: int, megabytes: float) -> tuple[float, int, list[StageRun]]:
    """Uploads the document here, then runs Validate, Parse, Chunk and Embed one after another, each in a
    fresh Python process that loads the handler and delivers the one message its queue holds."""
    from docintake_local.ground_truth import large_document

    document = large_document(pages, int(megabytes * 1_000_000))
    log(f"large document: {document.pages} pages, {len(document.data) / 1e6:.1f} MB")
    started = time.perf_counter()
    ticket = upload_bytes(stack, USER, "large-package-policy.pdf", document.data, "application/pdf", replace=True)
    runs = []
    for function in ("ValidateFunction", "ParseFunction", "ChunkFunction", "EmbedFunction"):
        child = subprocess.run(
            [sys.executable, "-m", "bench.e2e.stage", function],
            input=json.dumps(
                {
                    "admin_url": stack.database.admin_url,
                    "aws_endpoint": stack.aws_endpoint,
                    "stack_name": stack.stack_name,
                    # One message a stage: the document whole in each handler, as this table measures, not in
                    # the parts (40 pages, 256 chunks) the pipeline sends a large document through since issue 16.
                    "environment": {**STACK_ENVIRONMENT, **WHOLE_DOCUMENT},
                }
            ),
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        if child.returncode != 0:
            raise RuntimeError(f"{function} failed: {child.stderr[-2000:]}")
        runs.append(StageRun(**json.loads(child.stdout.strip().splitlines()[-1])))
    seconds = time.perf_counter() - started
    with psycopg.connect(stack.database.admin_url, autocommit=True) as conn:
        state = conn.execute("SELECT state FROM upload_jobs WHERE id = %s", [ticket.job_id]).fetchone()
    if state is None or state[0] != "done":
        raise RuntimeError(f"the large document ended {state}")
    return seconds, document.pages, runs


# --- scaling -----------------------------------------------------------------------------------------------


def scaling(stack: LocalStack, sizes: list[int], seed: int) -> list[tuple[int, float]]:
    points = []
    for pages in sizes:
        docs = corpus(1, pages, seed + pages)
        result = run_docintake(stack, docs)
        points.append((docs[0].pages, result.seconds))
        log(f"scaling: {docs[0].pages} pages in {result.seconds:.2f} s")
    return points


def fitted_growth(points: list[tuple[int, float]]) -> tuple[float, float, float]:
    """Least squares of time = a + b·pages, and the log–log slope between the two largest sizes."""
    n = len(points)
    mean_x = sum(p for p, _ in points) / n
    mean_y = sum(t for _, t in points) / n
    b = sum((p - mean_x) * (t - mean_y) for p, t in points) / sum((p - mean_x) ** 2 for p, _ in points)
    a = mean_y - b * mean_x
    (p1, t1), (p2, t2) = sorted(points)[-2:]
    slope = math.log((t2 - a) / max(t1 - a, 1e-9)) / math.log(p2 / p1) if t1 > a and t2 > a else float("nan")
    return a, b, slope


# --- report ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=20)
    parser.add_argument("--pages", type=int, default=20, help="pages per document (20 × 20 = 400 pages)")
    parser.add_argument("--large-pages", type=int, default=300)
    parser.add_argument("--large-megabytes", type=float, default=25.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100, 300, 1000])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeats", type=int, default=3, help="runs per system; the fastest counts")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    docs = corpus(args.documents, args.pages, args.seed)
    log(f"corpus: {len(docs)} PDFs, {sum(d.pages for d in docs)} pages, {sum(len(d.data) for d in docs) / 1e6:.1f} MB")
    folder = ROOT / ".local" / "bench-e2e"
    with postgres() as admin, moto_process() as endpoint:
        with database(admin, "bench_e2e_docintake") as url:
            local = LocalDatabase(url)
            local.migrate(ROOT / "migrations")
            logs = ROOT / ".local" / "logs" / "bench-e2e.jsonl"
            stack = LocalStack(
                ROOT,
                local,
                aws_endpoint=endpoint,
                stack_name="bench-e2e",
                environment=STACK_ENVIRONMENT,
                log_file=logs,
                concurrency=CONCURRENCY,
            )
            with stack.running():
                run_docintake(stack, corpus(CONCURRENCY, 3, 999))  # warm up: imports, first connections
                ours = fastest("docintake", args.repeats, lambda _: run_docintake(stack, docs))
                points = scaling(stack, args.sizes, args.seed)
                # Its own bucket and queues on the same moto, without pollers: each stage runs elsewhere.
                quiet = LocalStack(
                    ROOT,
                    local,
                    aws_endpoint=stack.aws_endpoint,
                    stack_name="bench-e2e-large",
                    environment=STACK_ENVIRONMENT,
                    log_file=logs,
                )
                quiet.start(pollers=False)
                try:
                    large_seconds, large_pages, stages = large_document_by_stage(
                        quiet, args.large_pages, args.large_megabytes
                    )
                finally:
                    quiet.stop()
                log(f"large document: {large_seconds:.1f} s")
        llama = fastest(
            "LlamaIndex", args.repeats, lambda n: _in_database(admin, f"llamaindex_{n}", run_llamaindex, docs)
        )
        chain = fastest("LangChain", args.repeats, lambda n: _in_database(admin, f"langchain_{n}", run_langchain, docs))
        peer_points = _peer_scaling(admin, args.sizes[:-1], args.seed, folder)
    report, ok = _report(args, [ours, llama, chain], (large_seconds, large_pages, stages), points, peer_points)
    print(report)
    (OUT / "e2e.md").write_text(report + "\n", encoding="utf-8")
    (OUT / "e2e.json").write_text(
        json.dumps(
            {
                "results": [
                    {**asdict(r), "documents_per_minute": r.documents_per_minute} for r in (ours, llama, chain)
                ],
                "scaling": {"docintake": points, **peer_points},
                "large": {"seconds": large_seconds, "pages": large_pages, "stages": [asdict(s) for s in stages]},
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return 1 if args.strict and not ok else 0


def fastest(name: str, repeats: int, run: Callable[[int], Result]) -> Result:
    results = []
    for number in range(repeats):
        results.append(run(number))
        log(f"{name}: {results[-1].seconds:.2f} s")
    return min(results, key=lambda result: result.seconds)


def _in_database(admin: str, name: str, run: Callable[[str, list[Doc], Path], Result], docs: list[Doc]) -> Result:
    with database(admin, f"bench_e2e_{name}") as url:
        _vector_extension(url)
        return run(url, docs, ROOT / ".local" / "bench-e2e")


def _vector_extension(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")


def _peer_scaling(admin: str, sizes: list[int], seed: int, folder: Path) -> dict[str, list[tuple[int, float]]]:
    """The peers on the same single documents (up to 300 pages), for the throughput-by-size figure."""
    points: dict[str, list[tuple[int, float]]] = {"LlamaIndex": [], "LangChain": []}
    for pages in sizes:
        docs = corpus(1, pages, seed + pages)
        for name, runner in (("LlamaIndex", run_llamaindex), ("LangChain", run_langchain)):
            with database(admin, f"bench_e2e_scaling_{name.lower()}") as url:
                _vector_extension(url)
                points[name].append((docs[0].pages, runner(url, docs, folder / f"scaling-{pages}").seconds))
    return points


def _report(
    args: argparse.Namespace,
    results: list[Result],
    large: tuple[float, int, list[StageRun]],
    points: list[tuple[int, float]],
    peer_points: dict[str, list[tuple[int, float]]],
) -> tuple[str, bool]:
    ours, *peers = results
    faster = max(peers, key=lambda r: r.pages_per_second)
    ratio = ours.pages_per_second / faster.pages_per_second
    large_seconds, large_pages, stages = large
    a, b, slope = fitted_growth(points)
    busy = sum(ours.stage_seconds.values()) or 1.0
    lines = [
        f"# End to end — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}",
        "",
        f"{ours.documents} generated insurance PDFs, {ours.pages} pages; chunks of {SIZE} characters with"
        f" {OVERLAP} overlap; the same {DIMENSIONS}-dimension hash embedder; one PostgreSQL server. Fastest of"
        f" {args.repeats} runs each. docintake: moto in its own process, {CONCURRENCY} containers per stage queue;"
        " the peers: one process, as their quick-starts run them.",
        "",
        "| system | seconds | documents/min | pages/s | chunks | chunks/s |",
        "|---|---:|---:|---:|---:|---:|",
        *[
            f"| {r.system} | {r.seconds:.2f} | {r.documents_per_minute:.0f} | {r.pages_per_second:.0f} | {r.chunks}"
            f" | {r.chunks_per_second:.0f} |"
            for r in results
        ],
        "",
        "docintake's stage time shares (busy time inside each stage): "
        + ", ".join(f"{stage} {seconds / busy:.0%}" for stage, seconds in sorted(ours.stage_seconds.items())),
        "",
        f"docintake / {faster.system} (the faster peer), pages/s: {ratio:.2f}× — target ≥ 2×: "
        + ("ok" if ratio >= 2 else "MISSED"),
        "",
        f"## The {large_pages}-page document, each stage's handler in its own process",
        "",
        "| function | seconds | peak RSS MB | parser child peak RSS MB |",
        "|---|---:|---:|---:|",
        *[f"| {s.function} | {s.seconds:.2f} | {s.peak_rss_mb:.0f} | {s.child_peak_rss_mb:.0f} |" for s in stages],
        "",
        f"upload to done: {large_seconds:.1f} s (target < 60 s: {'ok' if large_seconds < 60 else 'MISSED'});"
        f" largest handler {max(s.peak_rss_mb for s in stages):.0f} MB (target < 256 MB:"
        f" {'ok' if all(s.peak_rss_mb < 256 for s in stages) else 'MISSED'})",
        "",
        "## Time against pages (docintake, one document through the local stack)",
        "",
        "| pages | seconds | pages/s |",
        "|---:|---:|---:|",
        *[f"| {p} | {t:.2f} | {p / t:.0f} |" for p, t in points],
        "",
        f"fit: time = {a:.2f} s + {b * 1000:.2f} ms × pages; log–log slope between the two largest sizes"
        f" {slope:.2f} (1.00 is linear): {'ok' if slope <= 1.15 else 'MISSED'}",
    ]
    ok = ratio >= 2 and large_seconds < 60 and all(s.peak_rss_mb < 256 for s in stages) and slope <= 1.15
    del peer_points
    return "\n".join(lines), ok


if __name__ == "__main__":
    raise SystemExit(main())
