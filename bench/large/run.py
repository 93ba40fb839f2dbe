"""Large and degenerate documents through the local stack: issue 16's targets, measured.

- a 2,000-page PDF ends ``ready``;
- no invocation of any function runs longer than its function's timeout (the template's: Parse 300 s,
  Chunk 60 s, Embed 120 s), for any of the documents here;
- with N containers per queue, one 1,000-page PDF takes at most 1.5× the time of N PDFs of 1,000/N pages
  ingested together (the same pages, N times the documents): the ratio is printed, N=``--containers``;
- 8 MB of Markdown of one repeated word, and 8 MB of varied Markdown, each reach ``ready`` in under 2 min;
- a part of MiniLM embedding (``EMBED_CHUNKS_PER_PART`` chunks of the varied document) takes less than
  EmbedFunction's timeout on this machine.

The stack runs the real handlers under pollers (``concurrency`` containers per queue, as Lambda scales a
queue's consumers), with moto in its own process and the embedded PostgreSQL. The embedder is
``--embedder`` (wordllama by default: MiniLM's compute, about 6 chunks a second per core here, would make
the 8 MB runs a measure of the model rather than of the pipeline; its per-part time is measured on its
own). Invocation times come from the stack, which times every handler call. Writes ``bench/out/large.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass

import httpx
import psycopg
from psycopg.rows import dict_row

from bench.e2e.run import log, moto_process, wait_for_jobs
from bench.store.run import database, postgres
from docintake.chunking import chunk_with_settings
from docintake.config import Settings
from docintake.embedding import embedder_from_settings
from docintake.parsing import parse_text
from docintake_local.client import upload_bytes
from docintake_local.large_documents import long_policy_pdf, repeated_word_markdown, varied_markdown
from docintake_local.postgres import LocalDatabase
from docintake_local.stack import LocalStack, project_root

ROOT = project_root()
OUT = ROOT / "bench" / "out"
USER = uuid.UUID("b16d0c00-0000-4000-8000-000000000016")
SCALING_LIMIT = 1.5
MARKDOWN_LIMIT_SECONDS = 120.0


@dataclass
class Run:
    name: str
    documents: int
    pages: int
    megabytes: float
    seconds: float
    chunks: int
    parts: dict[str, int]
    longest: dict[str, float]
    over_timeout: dict[str, int]


def ingest(stack: LocalStack, name: str, files: list[tuple[str, bytes, str]], *, timeout: float = 1800.0) -> Run:
    """Uploads every file at once through presigned PUTs and waits until each job is done."""
    stack.timings.reset()
    started = time.perf_counter()
    jobs = []
    with httpx.Client(timeout=300) as http:
        for filename, data, content_type in files:
            jobs.append(upload_bytes(stack, USER, filename, data, content_type, replace=True, http=http).job_id)
    with psycopg.connect(stack.database.admin_url, autocommit=True, row_factory=dict_row) as conn:
        seconds = wait_for_jobs(
            conn, jobs, started, timeout=timeout, poll=0.1, name=name, finished=("done", "failed", "dead_lettered")
        )
        totals = conn.execute(
            "SELECT sum(d.page_count) AS pages, sum(document_vector_count(d.id)) AS vectors,"
            " (SELECT count(*) FROM document_chunks c WHERE c.document_id = ANY(array_agg(d.id))) AS chunks"
            " FROM upload_jobs j JOIN documents d ON d.id = j.document_id WHERE j.id = ANY(%s)",
            [jobs],
        ).fetchone()
        parts = conn.execute(
            "SELECT step, count(*) AS n FROM job_parts WHERE job_id = ANY(%s) GROUP BY step", [jobs]
        ).fetchall()
    assert totals is not None
    if totals["vectors"] != totals["chunks"]:
        raise RuntimeError(f"{name}: {totals['chunks']} chunks but {totals['vectors']} vectors")
    run = Run(
        name,
        len(files),
        int(totals["pages"] or 0),
        round(sum(len(data) for _, data, _ in files) / 1e6, 1),
        round(seconds, 1),
        int(totals["chunks"] or 0),
        {row["step"]: int(row["n"]) for row in parts},
        {function: round(value, 1) for function, value in sorted(stack.timings.longest.items())},
        dict(stack.timings.over_timeout),
    )
    log(f"{name}: {run.seconds} s, {run.pages} pages, {run.chunks} chunks, parts {run.parts}")
    return run


def minilm_part_seconds(settings: Settings) -> tuple[int, float]:
    """MiniLM over one embed part of the varied document's chunks: the part's size and its seconds here."""
    parsed = parse_text(varied_markdown(2_000_000))
    chunks = chunk_with_settings(parsed.markdown, parsed.page_map, settings)[: settings.embed_chunks_per_part]
    embedder = embedder_from_settings(settings.model_copy(update={"embedding_provider": "minilm"}))
    embedder.embed([chunk.content for chunk in chunks[:8]])  # loads the model
    started = time.perf_counter()
    for start in range(0, len(chunks), 64):  # the batches a part embeds in (stages._PART_BATCH_SIZE)
        embedder.embed([chunk.content for chunk in chunks[start : start + 64]])
    return len(chunks), time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.large", description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=2000, help="pages of the largest PDF")
    parser.add_argument("--scaling-pages", type=int, default=1000)
    parser.add_argument("--containers", type=int, default=os.cpu_count() or 2, help="N: containers per queue")
    parser.add_argument("--megabytes", type=float, default=8.0)
    parser.add_argument("--embedder", default="wordllama")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    n = args.containers
    environment = {
        "MAX_ACTIVE_JOBS_PER_USER": "1000",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "EMBEDDING_PROVIDER": args.embedder,
    }
    size = int(args.megabytes * 1024 * 1024)
    runs: list[Run] = []
    with postgres() as admin, moto_process() as endpoint, database(admin, "bench_large") as url:
        local = LocalDatabase(url)
        local.migrate(ROOT / "migrations")
        saved = os.environ.get("EMBEDDING_PROVIDER")
        os.environ["EMBEDDING_PROVIDER"] = args.embedder  # the local stack takes the provider from here
        try:
            stack = LocalStack(
                ROOT,
                local,
                aws_endpoint=endpoint,
                stack_name="bench-large",
                environment=environment,
                log_file=ROOT / ".local" / "logs" / "bench-large.jsonl",
                concurrency=n,
            )
            with stack.running():
                ingest(stack, "warm-up", [("warm-up.pdf", long_policy_pdf(3, seed=1), "application/pdf")])
                scaling_pdf = long_policy_pdf(args.scaling_pages, seed=2)
                small = [long_policy_pdf(args.scaling_pages // n, seed=3 + i) for i in range(n)]
                one = ingest(stack, f"1 x {args.scaling_pages} pages", [("one.pdf", scaling_pdf, "application/pdf")])
                many = ingest(
                    stack,
                    f"{n} x {args.scaling_pages // n} pages",
                    [(f"small-{i}.pdf", data, "application/pdf") for i, data in enumerate(small)],
                )
                runs += [one, many]
                log(f"generating the {args.pages}-page PDF")
                big = long_policy_pdf(args.pages, seed=4)
                runs.append(ingest(stack, f"1 x {args.pages} pages", [("large.pdf", big, "application/pdf")]))
                for name, data in (
                    ("repeated word", repeated_word_markdown(size)),
                    ("varied", varied_markdown(size)),
                ):
                    label = f"{args.megabytes:g} MB Markdown, {name}"
                    runs.append(ingest(stack, label, [(f"{name.replace(' ', '-')}.md", data, "text/markdown")]))
                timeouts = dict(stack.timings.timeout)
        finally:
            if saved is None:
                os.environ.pop("EMBEDDING_PROVIDER", None)
            else:
                os.environ["EMBEDDING_PROVIDER"] = saved
    settings = Settings()
    part_chunks, part_seconds = minilm_part_seconds(settings)
    log(f"MiniLM: {part_chunks} chunks in {part_seconds:.1f} s")
    report, ok = _report(args, runs, timeouts, (part_chunks, part_seconds))
    print(report)
    (OUT / "large.md").write_text(report + "\n", encoding="utf-8")
    (OUT / "large.json").write_text(
        json.dumps({"runs": [asdict(run) for run in runs], "timeouts": timeouts}, indent=2), encoding="utf-8"
    )
    return 1 if args.strict and not ok else 0


def _report(
    args: argparse.Namespace, runs: list[Run], timeouts: dict[str, int], minilm: tuple[int, float]
) -> tuple[str, bool]:
    one, many, big, *markdown = runs
    ratio = one.seconds / many.seconds
    longest: dict[str, float] = {}
    for run in runs:
        for function, seconds in run.longest.items():
            longest[function] = max(longest.get(function, 0.0), seconds)
    over = {function: sum(run.over_timeout.get(function, 0) for run in runs) for function in timeouts}
    small = f"{args.containers} x {args.scaling_pages // args.containers}"
    checks = {
        f"{args.pages}-page PDF ready": big.pages == args.pages,
        "no invocation over its function's timeout": not any(over.values()),
        f"1 x {args.scaling_pages} pages <= {SCALING_LIMIT} x ({small} pages)": ratio <= SCALING_LIMIT,
        **{
            f"{run.name} ready in < {MARKDOWN_LIMIT_SECONDS:.0f} s": run.seconds < MARKDOWN_LIMIT_SECONDS
            for run in markdown
        },
        "a MiniLM embed part fits EmbedFunction's timeout": minilm[1] < timeouts.get("EmbedFunction", 120),
    }
    # The chunk stage reads a document whole (chunking is linear: bench/chunk): the largest upload's time,
    # at the slowest rate (seconds per MB) of the Markdown runs here.
    largest = max(markdown, key=lambda run: run.longest.get("ChunkFunction", 0.0) / run.megabytes)
    limit_mb = Settings().max_upload_bytes / 1e6
    chunk_at_limit = largest.longest.get("ChunkFunction", 0.0) * limit_mb / largest.megabytes
    checks[f"the largest upload ({limit_mb:.0f} MB) chunks within ChunkFunction's timeout"] = chunk_at_limit < (
        timeouts.get("ChunkFunction", 300)
    )
    lines = [
        "# Large documents (issue 16)",
        "",
        f"Local stack, {args.containers} containers per queue, embedder `{args.embedder}`, on "
        f"{os.cpu_count()} CPUs. Parts: {Settings().parse_pages_per_part} pages, "
        f"{Settings().embed_chunks_per_part} chunks.",
        "",
        "| run | documents | pages | MB | chunks | parse parts | embed parts | seconds |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        lines.append(
            f"| {run.name} | {run.documents} | {run.pages} | {run.megabytes} | {run.chunks} |"
            f" {run.parts.get('parse', 0)} | {run.parts.get('embed', 0)} | {run.seconds} |"
        )
    lines += [
        "",
        f"**Scaling:** 1 x {args.scaling_pages} pages took {one.seconds} s, {small} pages {many.seconds} s:"
        f" ratio **{ratio:.2f}** (target <= {SCALING_LIMIT}).",
        "",
        "| function | longest invocation (s) | timeout (s) | over the timeout |",
        "| --- | ---: | ---: | ---: |",
    ]
    for function in sorted(timeouts):
        lines.append(
            f"| {function} | {longest.get(function, 0.0):.1f} | {timeouts[function]} | {over.get(function, 0)} |"
        )
    lines += [
        "",
        f"**Chunk stage at the upload limit:** the {largest.name} run's chunk invocation took"
        f" {largest.longest.get('ChunkFunction', 0.0):.1f} s for {largest.megabytes} MB; linear, the largest upload"
        f" ({limit_mb:.0f} MB) would take about {chunk_at_limit:.0f} s, against ChunkFunction's"
        f" {timeouts.get('ChunkFunction', 300)} s.",
        "",
        f"**MiniLM:** one embed part ({minilm[0]} chunks, in batches of 64) took {minilm[1]:.1f} s here, "
        f"against EmbedFunction's {timeouts.get('EmbedFunction', 120)} s.",
        "",
        "| target | met |",
        "| --- | --- |",
        *(f"| {name} | {'yes' if met else '**no**'} |" for name, met in checks.items()),
    ]
    return "\n".join(lines), all(checks.values())


if __name__ == "__main__":
    raise SystemExit(main())
