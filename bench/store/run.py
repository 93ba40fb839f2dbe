"""Runs bench/store: writing chunks + embeddings five ways at 384 and 1536 dimensions, then per-user search.

``python -m bench.store [--strict] [--seed N] [--out PATH]``

Writes (``bench.store.write``): 20,000 chunks of generated policies (40 documents × 500, 4 users) with seeded
random unit vectors, written by docintake's write path, by one staged write
per document under RLS (a reference), by one plain binary COPY and by ``executemany``. Each run goes into a
fresh clone of the migrated template with its ANN (HNSW, IVFFlat) indexes dropped, after a CHECKPOINT; every
contender runs ``REPEAT`` times, in rotating order, and its best run is kept. Search
(``bench.store.search``): 200,000 chunks, p50/p95/p99 of 200 queries, k = 10.

PostgreSQL is DATABASE_URL when set (a superuser), otherwise the embedded server (pgserver) under
``.local/pgbench``, stopped at the end. Every database the run creates is dropped. The report is printed
and written to ``bench/out/store.md``. Targets (issue 5): docintake's write path at least 0.8× the rows/s of
plain COPY at both dimensions; search p95 under 50 ms. ``--strict`` exits 1 when one is missed.
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

import psycopg

from bench.store import search, write
from docintake.local.postgres import LocalDatabase, drop_database, ensure_database, with_database

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "store.md"
DATA_DIR = ROOT / ".local" / "pgbench"
DIMENSIONS = (384, 1536)
WRITE_DOCUMENTS, WRITE_CHUNKS_PER_DOCUMENT, WRITE_USERS = 40, 500, 4
REPEAT = 2
SEARCH_USERS, SEARCH_DOCUMENTS_PER_USER, SEARCH_CHUNKS_PER_DOCUMENT = 40, 10, 500
QUERIES, K = 200, 10
TARGET_COPY_RATIO = 0.8
TARGET_P95_MS = 50.0
DOCINTAKE, ONE_PASS = "docintake", "one-pass"
PLAIN_COPY, EXECUTEMANY = "plain-copy", "executemany"
CONTENDERS = (DOCINTAKE, ONE_PASS, PLAIN_COPY, EXECUTEMANY)
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


def _write_once(admin_url: str, template: str, contender: str, work: write.Workload) -> write.WriteResult:
    with database(admin_url, f"bench_store_{os.getpid()}_write", template) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            write.drop_ann_indexes(conn)
            write.insert_parents(conn, work.documents)
            conn.execute("CHECKPOINT")
        worker_url = LocalDatabase(url).role_url("worker")
        runs: dict[str, Callable[[], write.WriteResult]] = {
            DOCINTAKE: lambda: write.write_docintake(worker_url, work),
            ONE_PASS: lambda: write.write_one_pass(worker_url, work),
            PLAIN_COPY: lambda: write.write_plain_copy(url, work),
            EXECUTEMANY: lambda: write.write_executemany(url, work),
        }
        result = runs[contender]()
        return dataclasses.replace(result, max_vector_error=write.check_rows(url, work))


def run_writes(
    admin_url: str, template: str, documents: list[write.Document], seed: int, phases: dict[str, float]
) -> Writes:
    best: Writes = {}
    for dims in DIMENSIONS:
        started = time.perf_counter()
        work = write.workload(documents, dims, seed)
        best[dims] = {}
        for repeat in range(REPEAT):
            order = CONTENDERS[repeat % len(CONTENDERS) :] + CONTENDERS[: repeat % len(CONTENDERS)]
            for contender in order:
                result = _write_once(admin_url, template, contender, work)
                log(f"{dims} dims, {result.contender}: {result.rows_per_second:,.0f} rows/s")
                if contender not in best[dims] or result.seconds < best[dims][contender].seconds:
                    best[dims][contender] = result
        phases[f"writes: {dims} dims ({REPEAT} × {len(CONTENDERS)} runs)"] = time.perf_counter() - started
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
        f"Python {platform.python_version()}, psycopg {_version('psycopg')}, numpy {_version('numpy')}.",
        f"- PostgreSQL {server}, pgvector {pgvector}; {settings}.",
    ]


def _share(steps: dict[str, float], name: str) -> str:
    if name not in steps:
        return ""
    return f"{steps[name]:.2f} s ({100 * steps[name] / sum(steps.values()):.0f} %)"


def report(
    facts: list[str],
    writes: Writes,
    found: search.SearchResult,
    phases: dict[str, float],
    seed: int,
) -> tuple[str, bool]:
    rows = next(iter(next(iter(writes.values())).values())).rows
    lines = ["# Storage benchmark: writing chunks + embeddings, and per-user search", "", *facts, ""]
    lines += [
        "## Writes",
        "",
        f"{rows:,} chunks ({WRITE_DOCUMENTS} generated policies × {WRITE_CHUNKS_PER_DOCUMENT}, {WRITE_USERS} users, "
        f"seed {seed}) with random unit vectors. Each run writes into a fresh clone of the migrated template with "
        "its ANN indexes dropped (HNSW maintenance would cost every contender the same), after a CHECKPOINT; "
        f"best of {REPEAT} runs. Vector error: largest |stored − source| over 200 sampled vectors.",
        "",
        "| contender | " + " | ".join(f"{d} dims rows/s | vs plain COPY" for d in DIMENSIONS) + " | vector error |",
        "|---|" + "---:|---:|" * len(DIMENSIONS) + "---:|",
    ]
    for contender in CONTENDERS:
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
        ratio = writes[dims][DOCINTAKE].rows_per_second / writes[dims][PLAIN_COPY].rows_per_second
        ok = ratio >= TARGET_COPY_RATIO
        met &= ok
        lines.append(
            f"- {dims} dims: docintake write path / plain COPY: {ratio:.2f}× "
            f"(target ≥ {TARGET_COPY_RATIO:g}×) {'ok' if ok else 'MISSED'}"
        )
    for dims in DIMENSIONS:
        one_pass = writes[dims][ONE_PASS].rows_per_second / writes[dims][PLAIN_COPY].rows_per_second
        lines.append(
            f"- {dims} dims: reference, one staged write per document under RLS / plain COPY: {one_pass:.2f}× "
            "(the most a write path under RLS that stages through a temp table can reach)"
        )

    lines += ["", "### Where docintake's write path spends its time (best run)", ""]
    columns = [(DOCINTAKE, dims) for dims in DIMENSIONS]
    lines.append("| step | " + " | ".join(f"{d} dims" for _, d in columns) + " |")
    lines.append("|---|" + "---:|" * len(columns))
    totals = dict.fromkeys(writes[DIMENSIONS[-1]][DOCINTAKE].steps, 0.0)
    for contender, dims in columns:
        for name, seconds in writes[dims][contender].steps.items():
            totals[name] = totals.get(name, 0.0) + seconds
    for name in sorted(totals, key=lambda n: -totals[n]):
        lines.append(f"| {name} | " + " | ".join(_share(writes[d][c].steps, name) for c, d in columns) + " |")

    statement, call = search.latency(found.statement_ms), search.latency(found.search_ms)
    lines += [
        "",
        "## Search",
        "",
        f"{found.rows:,} chunks at {search.DIMENSIONS} dims ({search.MODEL}), {found.users} users; the searching "
        f"user owns {found.user_rows:,}. Loaded by one binary COPY in {found.seconds['load: binary COPY']:.1f} s "
        f"({found.rows / found.seconds['load: binary COPY']:,.0f} rows/s), VACUUM ANALYZE "
        f"{found.seconds['load: VACUUM ANALYZE']:.1f} s; ANN index build {found.seconds['index build']:.1f} s "
        f"(maintenance_work_mem {search.MAINTENANCE_WORK_MEM}):",
        "",
        *[f"    {definition}" for definition in found.index_definitions],
        "",
        *([f"Server notices while loading: {'; '.join(found.notices)}", ""] if found.notices else []),
        f"{QUERIES} random queries, k = {K}, as docintake_api through RLS, after 10 warm-up queries:",
        "",
        "| ms | p50 | p95 | p99 | mean |",
        "|---|---:|---:|---:|---:|",
        f"| `{search.SEARCH_QUERY}` statement | "
        + " | ".join(f"{statement[p]:.1f}" for p in ("p50", "p95", "p99", "mean"))
        + " |",
        "| `docintake.vectors.search()` (transaction, search_models, search_chunks) | "
        + " | ".join(f"{call[p]:.1f}" for p in ("p50", "p95", "p99", "mean"))
        + " |",
        "",
        f"Plan: {found.plan}; EXPLAIN ANALYZE execution {found.plan_execution_ms:.1f} ms.",
        "",
    ]
    exact = not found.plan_uses_ann_index
    recall_ok = found.recall == 1.0 and found.full_k
    p95_ok = call["p95"] < TARGET_P95_MS
    met &= exact and recall_ok and p95_ok
    lines += [
        f"- exact search (plan uses no ANN index): {'ok' if exact else 'MISSED'}",
        f"- recall@{K} against brute force over {found.recall_queries} queries: {found.recall:.2f}, "
        f"{'always' if found.full_k else 'not always'} {K} results {'ok' if recall_ok else 'MISSED'}",
        f"- search p95: {call['p95']:.1f} ms (target < {TARGET_P95_MS:g} ms) {'ok' if p95_ok else 'MISSED'}",
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
    args = parser.parse_args(argv)

    phases: dict[str, float] = {}
    template = f"bench_store_{os.getpid()}_template"
    with postgres() as admin_url:
        facts = machine_facts(admin_url)
        with database(admin_url, template) as template_url:
            started = time.perf_counter()
            LocalDatabase(template_url).migrate(ROOT / "migrations")
            phases["migrate the template"] = time.perf_counter() - started
            started = time.perf_counter()
            documents = write.chunk_documents(WRITE_DOCUMENTS, WRITE_CHUNKS_PER_DOCUMENT, WRITE_USERS, args.seed)
            phases["generate and chunk the policies"] = time.perf_counter() - started
            writes = run_writes(admin_url, template, documents, args.seed, phases)
            found = run_search(admin_url, template, documents, args.seed, phases)
    phases["whole run"] = time.perf_counter() - _started
    text, met = report(facts, writes, found, phases, args.seed)
    print(text, end="")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    log(f"report written to {args.out}")
    return 1 if args.strict and not met else 0
