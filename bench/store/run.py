"""Runs bench/store: writing chunks + vectors six ways at 384 and 1536 dimensions, then per-user search.

``python -m bench.store [--strict] [--seed N] [--out PATH]``

Writes (``bench.store.write``, ``bench.store.peers``): 10,000 chunks of generated policies (20 documents × 500,
4 users) with seeded random unit vectors, written by docintake's write path (the chunk stage's write, then
``embed_missing`` in committed batches into the model's table, then ``finish_document``, as the worker under
RLS), by one transaction per document under RLS (a reference), by one plain binary COPY into each table as a
superuser, by ``executemany``, and by the peers' store paths: LangChain's ``PGVector.add_embeddings`` and
LlamaIndex's ``PGVectorStore.add``. docintake's contenders each run in a fresh clone of the migrated template
(the model's table made once in the template), the peers each in a fresh database of their own, after a
CHECKPOINT; every contender runs ``REPEAT`` times, in rotating order, and its best run is kept. Search
(``bench.store.search``): 200,000 chunks, p50/p95/p99 of 200 queries, k = 10, exact (no ANN index).

PostgreSQL is DATABASE_URL when set (a superuser), otherwise the embedded server (pgserver) under
``.local/pgbench``, stopped at the end. Every database the run creates is dropped. The report is printed
and written to ``bench/out/store.md``. Targets (issue 15): docintake's write at least 5× the rows/s of the
faster peer and at least 0.6× a superuser's plain binary COPY, at both dimensions; (issue 5) search p95
under 50 ms, exact. ``--strict`` exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench.store import peers, search, write
from docintake_local.postgres import LocalDatabase, drop_database, ensure_database, with_database

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "store.md"
DATA_DIR = ROOT / ".local" / "pgbench"
DIMENSIONS = (384, 1536)
# 10 × 500 (not issue 5's 40 × 500): the peers' inserts at 1536 dimensions and the chunk rows' full-text
# column (migration 0013) take most of the run; the whole run stays under 10 minutes on 2 cores.
WRITE_DOCUMENTS, WRITE_CHUNKS_PER_DOCUMENT, WRITE_USERS = 10, 500, 4
REPEAT = 2
SEARCH_USERS, SEARCH_DOCUMENTS_PER_USER, SEARCH_CHUNKS_PER_DOCUMENT = 40, 10, 500
QUERIES, K = 200, 10
TARGET_COPY_RATIO = 0.6
TARGET_PEER_RATIO = 5.0
TARGET_P95_MS = 50.0
DOCINTAKE, ONE_TRANSACTION = "docintake", "one-transaction"
PLAIN_COPY, EXECUTEMANY = "plain-copy", "executemany"
LANGCHAIN, LLAMAINDEX = "langchain", "llamaindex"
# Profile only (no target): docintake and plain COPY with document_chunks' full-text column and its GIN index
# dropped, to show what they cost each chunk row.
DOCINTAKE_NO_FTS, PLAIN_COPY_NO_FTS = "docintake-no-fts", "plain-copy-no-fts"
NO_FTS = (DOCINTAKE_NO_FTS, PLAIN_COPY_NO_FTS)
CONTENDERS = (DOCINTAKE, ONE_TRANSACTION, PLAIN_COPY, EXECUTEMANY, LANGCHAIN, LLAMAINDEX, *NO_FTS)
# --profile: docintake's write with one thing changed each, to see what each costs.
DOCINTAKE_SUPERUSER, DOCINTAKE_NO_FK = "docintake-superuser", "docintake-no-fk"
DOCINTAKE_ONE_BATCH, DOCINTAKE_ASYNC_COMMIT = "docintake-one-batch", "docintake-async-commit"
PROFILE = (DOCINTAKE_SUPERUSER, DOCINTAKE_NO_FK, DOCINTAKE_ONE_BATCH, DOCINTAKE_ASYNC_COMMIT)
PROFILE_LABELS = {
    DOCINTAKE_NO_FTS: "no full-text column",
    PLAIN_COPY_NO_FTS: "no full-text column",
    DOCINTAKE_SUPERUSER: "as a superuser (no RLS checks)",
    DOCINTAKE_NO_FK: "no foreign key (chunk_id, user_id) on the vector table",
    DOCINTAKE_ONE_BATCH: "one vector batch per document",
    DOCINTAKE_ASYNC_COMMIT: "synchronous_commit off",
}
PEERS = (LANGCHAIN, LLAMAINDEX)
Writes = dict[int, dict[str, write.WriteResult]]  # dimensions -> contender -> best run

_started = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _started:6.1f} s] {message}", file=sys.stderr, flush=True)


@contextmanager
def postgres() -> Iterator[str]:
    """The admin URL of DATABASE_URL's server, or of the embedded one, started here and stopped after."""
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    import warnings

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with pgserver.get_server(DATA_DIR, cleanup_mode="stop") as server:  # type: ignore[attr-defined]
        yield server.get_uri()


@contextmanager
def database(admin_url: str, name: str, template: str | None = None) -> Iterator[str]:
    drop_database(admin_url, name)
    ensure_database(admin_url, name, template=template)
    try:
        yield with_database(admin_url, name)
    finally:
        drop_database(admin_url, name)


def _write_peer(admin_url: str, contender: str, work: write.Workload) -> write.WriteResult:
    with database(admin_url, f"bench_store_{os.getpid()}_{contender}") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute("CHECKPOINT")
        return peers.write_langchain(url, work) if contender == LANGCHAIN else peers.write_llamaindex(url, work)


def _drop_vector_foreign_key(conn: psycopg.Connection[Any], table: str) -> None:
    row = conn.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'", [table]
    ).fetchone()
    if row:
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(row[0])))


def _write_once(admin_url: str, template: str, contender: str, work: write.Workload) -> write.WriteResult:
    if contender in PEERS:
        return _write_peer(admin_url, contender, work)
    name = f"bench_store_{os.getpid()}_write"
    with database(admin_url, name, template) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            table = write.vector_table(conn, work.model, work.dimensions)
            write.insert_parents(conn, work.documents)
            if contender in NO_FTS:
                conn.execute("ALTER TABLE document_chunks DROP COLUMN IF EXISTS search_vector")
            if contender == DOCINTAKE_NO_FK:
                _drop_vector_foreign_key(conn, table)
            if contender == DOCINTAKE_ASYNC_COMMIT:
                conn.execute(sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(sql.Identifier(name)))
            conn.execute("CHECKPOINT")
        worker_url = LocalDatabase(url).role_url("worker")
        runs: dict[str, Callable[[], write.WriteResult]] = {
            DOCINTAKE: lambda: write.write_docintake(worker_url, work, table),
            ONE_TRANSACTION: lambda: write.write_one_transaction(worker_url, work, table),
            PLAIN_COPY: lambda: write.write_plain_copy(url, work, table),
            EXECUTEMANY: lambda: write.write_executemany(url, work, table),
            DOCINTAKE_NO_FTS: lambda: write.write_docintake(worker_url, work, table),
            PLAIN_COPY_NO_FTS: lambda: write.write_plain_copy(url, work, table),
            DOCINTAKE_SUPERUSER: lambda: write.write_docintake(url, work, table),
            DOCINTAKE_NO_FK: lambda: write.write_docintake(worker_url, work, table),
            DOCINTAKE_ONE_BATCH: lambda: write.write_docintake(worker_url, work, table, batch_size=10**6),
            DOCINTAKE_ASYNC_COMMIT: lambda: write.write_docintake(worker_url, work, table),
        }
        result = runs[contender]()
        if contender in PROFILE_LABELS:
            result = dataclasses.replace(result, contender=f"profile: {result.contender}, {PROFILE_LABELS[contender]}")
        error = write.check_rows(
            url, work, table, ready=result.contender.startswith(("docintake", "profile: docintake"))
        )
        return dataclasses.replace(result, max_vector_error=error)


def run_writes(
    admin_url: str,
    template: str,
    documents: list[write.Document],
    seed: int,
    phases: dict[str, float],
    contenders: tuple[str, ...] = CONTENDERS,
) -> Writes:
    best: Writes = {}
    for dims in DIMENSIONS:
        started = time.perf_counter()
        work = write.workload(documents, dims, seed)
        best[dims] = {}
        for repeat in range(REPEAT):
            order = contenders[repeat % len(contenders) :] + contenders[: repeat % len(contenders)]
            for contender in order:
                result = _write_once(admin_url, template, contender, work)
                log(f"{dims} dims, {result.contender}: {result.rows_per_second:,.0f} rows/s")
                if contender not in best[dims] or result.seconds < best[dims][contender].seconds:
                    best[dims][contender] = result
        phases[f"writes: {dims} dims ({REPEAT} × {len(contenders)} runs)"] = time.perf_counter() - started
        del work
    return best


def run_search(
    admin_url: str, template: str, documents: list[write.Document], seed: int, phases: dict[str, float]
) -> search.SearchResult:
    started = time.perf_counter()
    pool = [row for doc in documents for row in doc.chunks]
    data = search.corpus(pool, SEARCH_USERS, SEARCH_DOCUMENTS_PER_USER, SEARCH_CHUNKS_PER_DOCUMENT, seed)
    result = search.SearchResult(
        rows=sum(len(doc.chunks) for doc in data.documents), users=SEARCH_USERS, user_rows=len(data.target_ids)
    )
    phases["search: generate rows"] = time.perf_counter() - started
    with database(admin_url, f"bench_store_{os.getpid()}_search", template) as url:
        search.load(url, data, result, log)
        search.measure(LocalDatabase(url).role_url("api"), data, result, QUERIES, K, seed)
    phases.update({f"search: {name}": seconds for name, seconds in result.seconds.items()})
    return result


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts(admin_url: str) -> list[str]:
    with psycopg.connect(admin_url) as conn:

        def show(setting: str) -> str:
            row = conn.execute(f"SHOW {setting}").fetchone()
            return str(row[0]) if row else "?"

        server = show("server_version")
        row = conn.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'").fetchone()
        pgvector = row[0] if row else "?"
        settings = ", ".join(
            f"{name} {show(name)}"
            for name in ("shared_buffers", "synchronous_commit", "max_wal_size", "max_parallel_maintenance_workers")
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return [
        f"- Machine: {os.cpu_count()} CPUs ({_cpu_model()}), load average {load:.2f} at the start; "
        f"Python {platform.python_version()}, psycopg {_version('psycopg')}, numpy {_version('numpy')}; "
        f"langchain-postgres {_version('langchain-postgres')}, llama-index-vector-stores-postgres "
        f"{_version('llama-index-vector-stores-postgres')}, SQLAlchemy {_version('SQLAlchemy')}, "
        f"psycopg2 {_version('psycopg2-binary')}.",
        f"- PostgreSQL {server}, pgvector {pgvector}; {settings}.",
    ]


def _share(steps: dict[str, float], name: str) -> str:
    if name not in steps:
        return ""
    return f"{steps[name]:.2f} s ({100 * steps[name] / sum(steps.values()):.0f} %)"


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(
    facts: list[str],
    writes: Writes,
    found: search.SearchResult,
    phases: dict[str, float],
    seed: int,
) -> tuple[str, bool]:
    rows = writes[DIMENSIONS[0]][DOCINTAKE].rows
    lines = ["# Storage benchmark: writing chunks + vectors, and per-user search", "", *facts, ""]
    lines += [
        "## Writes",
        "",
        f"{rows:,} chunks ({WRITE_DOCUMENTS} generated policies × {WRITE_CHUNKS_PER_DOCUMENT}, {WRITE_USERS} users, "
        f"seed {seed}; fewer than issue 5's 20,000 so the whole run stays under 10 minutes) with random unit "
        "vectors precomputed (writing is timed, not embedding). docintake's contenders write into a fresh clone "
        "of the migrated template (the model's vector table made once there, as on a deployment's first "
        "document), the peers into a fresh database each, after a CHECKPOINT; best of "
        f"{REPEAT} runs. Vector error: largest |stored − source| over 200 sampled vectors.",
        "",
        "| contender | " + " | ".join(f"{d} dims rows/s | vs plain COPY" for d in DIMENSIONS) + " | vector error |",
        "|---|" + "---:|---:|" * len(DIMENSIONS) + "---:|",
    ]
    for contender in [name for name in (*CONTENDERS, *PROFILE) if name in writes[DIMENSIONS[0]]]:
        cells = []
        for dims in DIMENSIONS:
            result, baseline = writes[dims][contender], writes[dims][PLAIN_COPY]
            cells += [f"{result.rows_per_second:,.0f}", f"{result.rows_per_second / baseline.rows_per_second:.2f}×"]
        error = max(writes[dims][contender].max_vector_error for dims in DIMENSIONS)
        name = writes[DIMENSIONS[0]][contender].contender
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {error:.1g} |")

    met = True
    lines.append("")
    for dims in DIMENSIONS:
        ours = writes[dims][DOCINTAKE].rows_per_second
        ratio = ours / writes[dims][PLAIN_COPY].rows_per_second
        faster = max(PEERS, key=lambda peer: writes[dims][peer].rows_per_second)
        peer_ratio = ours / writes[dims][faster].rows_per_second
        copy_ok, peer_ok = ratio >= TARGET_COPY_RATIO, peer_ratio >= TARGET_PEER_RATIO
        met &= copy_ok and peer_ok
        lines.append(
            f"- {dims} dims: docintake write / plain COPY: {ratio:.2f}× (target ≥ {TARGET_COPY_RATIO:g}×) "
            f"{_mark(copy_ok)}"
        )
        lines.append(
            f"- {dims} dims: docintake write / the faster peer ({writes[dims][faster].contender}): "
            f"{peer_ratio:.2f}× (target ≥ {TARGET_PEER_RATIO:g}×) {_mark(peer_ok)}"
        )
    for dims in DIMENSIONS:
        one_tx = writes[dims][ONE_TRANSACTION].rows_per_second / writes[dims][PLAIN_COPY].rows_per_second
        lines.append(
            f"- {dims} dims: reference, one transaction per document under RLS / plain COPY: {one_tx:.2f}× "
            "(docintake's statements without the per-batch transactions and checks)"
        )

    for dims in DIMENSIONS:
        if all(name in writes[dims] for name in NO_FTS):
            faster = max(writes[dims][peer].rows_per_second for peer in PEERS)
            ours, ours_fts = writes[dims][DOCINTAKE_NO_FTS].rows_per_second, writes[dims][DOCINTAKE].rows_per_second
            copy, copy_fts = writes[dims][PLAIN_COPY_NO_FTS].rows_per_second, writes[dims][PLAIN_COPY].rows_per_second
            lines.append(
                f"- {dims} dims, profile without the full-text column: docintake / plain COPY {ours / copy:.2f}×, "
                f"docintake / the faster peer {ours / faster:.2f}×; with the column docintake writes "
                f"{ours / ours_fts:.1f}× slower and plain COPY {copy / copy_fts:.1f}× slower"
            )

    lines += ["", "### Where docintake's write path spends its time (best run, client-side clock)", ""]
    lines.append("| step | " + " | ".join(f"{d} dims" for d in DIMENSIONS) + " |")
    lines.append("|---|" + "---:|" * len(DIMENSIONS))
    totals: dict[str, float] = {}
    for dims in DIMENSIONS:
        for name, seconds in writes[dims][DOCINTAKE].steps.items():
            totals[name] = totals.get(name, 0.0) + seconds
    for name in sorted(totals, key=lambda n: -totals[n]):
        lines.append(f"| {name} | " + " | ".join(_share(writes[d][DOCINTAKE].steps, name) for d in DIMENSIONS) + " |")

    statement, call = search.latency(found.statement_ms), search.latency(found.search_ms)
    lines += [
        "",
        "## Search",
        "",
        f"{found.rows:,} chunks at {search.DIMENSIONS} dims ({search.MODEL}, table `{found.table}`), {found.users} "
        f"users; the searching user owns {found.user_rows:,}. Loaded as the superuser by one binary COPY into "
        f"document_chunks ({found.seconds['load: COPY document_chunks']:.1f} s) and one into the model's table "
        f"({found.seconds['load: COPY vectors']:.1f} s), then VACUUM ANALYZE "
        f"({found.seconds['load: VACUUM ANALYZE']:.1f} s). No ANN index: search is exact "
        f"(ANN indexes on the table: {', '.join(found.ann_indexes) or 'none'})."
        + (
            " document_chunks' full-text column (search_vector, migration 0013) was dropped before the load:"
            " vector search never reads it and computing it would take minutes here."
            if found.dropped_search_vector
            else ""
        ),
        "",
        f"{QUERIES} random queries, k = {K}, as docintake_api through RLS, after 10 warm-up queries:",
        "",
        "| ms | p50 | p95 | p99 | mean |",
        "|---|---:|---:|---:|---:|",
        "| the plain exact scan alone (`bench.store.search.PLAIN_SCAN`, the model's table) | "
        + " | ".join(f"{statement[p]:.1f}" for p in ("p50", "p95", "p99", "mean"))
        + " |",
        "| `docintake.search.search(mode=vector)` (transaction, active_model, prepare_search, ranking, content) | "
        + " | ".join(f"{call[p]:.1f}" for p in ("p50", "p95", "p99", "mean"))
        + " |",
        "",
        f"Plan: {found.plan}; EXPLAIN ANALYZE execution {found.plan_execution_ms:.1f} ms.",
        "",
    ]
    exact = not found.plan_uses_ann_index and not found.ann_indexes
    recall_ok = found.recall == 1.0 and found.full_k
    p95_ok = call["p95"] < TARGET_P95_MS
    met &= exact and recall_ok and p95_ok
    lines += [
        f"- exact search (no ANN index, none in the plan): {_mark(exact)}",
        f"- recall@{K} against brute force over {found.recall_queries} queries: {found.recall:.2f}, "
        f"{'always' if found.full_k else 'not always'} {K} results {_mark(recall_ok)}",
        f"- search p95: {call['p95']:.1f} ms (target < {TARGET_P95_MS:g} ms) {_mark(p95_ok)}",
        "",
        "## Phases",
        "",
        "| phase | s |",
        "|---|---:|",
        *[f"| {name} | {seconds:.1f} |" for name, seconds in phases.items()],
        "",
    ]
    return "\n".join(lines), met


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store", description="Write throughput and search latency.")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated chunks and vectors")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write the report (default {OUT})")
    parser.add_argument(
        "--profile", action="store_true", help="also time docintake's write with RLS, the FK, batching or fsync changed"
    )
    args = parser.parse_args(argv)

    phases: dict[str, float] = {}
    template = f"bench_store_{os.getpid()}_template"
    with postgres() as admin_url:
        facts = machine_facts(admin_url)
        with database(admin_url, template) as template_url:
            started = time.perf_counter()
            LocalDatabase(template_url).migrate(ROOT / "migrations")
            with psycopg.connect(template_url, autocommit=True) as conn:
                for dims in DIMENSIONS:
                    write.vector_table(conn, write.MODELS[dims], dims)
                search.vector_table(conn)
            phases["migrate the template"] = time.perf_counter() - started
            started = time.perf_counter()
            documents = write.chunk_documents(WRITE_DOCUMENTS, WRITE_CHUNKS_PER_DOCUMENT, WRITE_USERS, args.seed)
            phases["generate and chunk the policies"] = time.perf_counter() - started
            contenders = (*CONTENDERS, *PROFILE) if args.profile else CONTENDERS
            writes = run_writes(admin_url, template, documents, args.seed, phases, contenders)
            found = run_search(admin_url, template, documents, args.seed, phases)
    phases["whole run"] = time.perf_counter() - _started
    text, met = report(facts, writes, found, phases, args.seed)
    print(text, end="")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    log(f"report written to {args.out}")
    return 1 if args.strict and not met else 0
