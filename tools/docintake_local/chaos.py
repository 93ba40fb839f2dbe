"""The chaos suite: many documents through the local stack while every stage misbehaves, then recovery.

Faults, injected into the real handlers running under the local pollers:

- ``transient``: a stage attempt (validate, parse, chunk, embed) fails with a transient error;
- ``duplicate``: a stage message or an S3 event is delivered twice;
- ``crash_after_commit``: the invocation dies after its stage committed, before the next message went out;
- ``crash_mid_stage``: the invocation dies after its claim, leaving a lease to expire;
- ``dropped_connection``: the database connection is terminated inside the completing transaction;
- ``slow``: a stage outlives its message's visibility timeout (without heartbeats), so SQS redelivers it
  while it still runs;
- ``outage``: a dependency is down for some documents for as long as faults last: every attempt fails,
  and their messages (stage or S3 event) end in a DLQ with the job dead_lettered;
- ``crash_loop``: some documents crash their stage on every attempt: the message reaches the DLQ while
  the job still says in_progress, with a lease that lapses and a heartbeat that goes stale.

Among the documents is one long PDF (2,000 pages with ``make chaos``), which the parse and embed stages
split into parts: its parts meet every fault too, and it must end ``done`` with each part completed once.

Midway, with documents in every stage, the whole local stack is restarted: it stops, moto loses its state
(as a restart of moto does) and the stack starts again from its saved S3 objects and messages, reconciling
the database with them. Then faults stop; the run waits for the queues, sweeps stale jobs and replays the
DLQs until every document is done or failed, and checks there are no duplicates and nothing is lost.

Run it with ``make chaos`` (200 documents); ``make test`` runs it at 12, with a 40-page PDF (tests/e2e/test_chaos.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO
from uuid import UUID

import httpx
import psycopg
from psycopg.rows import dict_row

from docintake.chunking import chunk_with_settings
from docintake.dead_letters import replay
from docintake.errors import DependencyUnavailable
from docintake.jobs import FanOut
from docintake.operations import QUEUE_NAMES, s3_created_event
from docintake.parsing import PageMap
from docintake.storage import parse_upload_key
from docintake.sweeper import sweep
from docintake_local.client import upload_bytes
from docintake_local.large_documents import long_policy_pdf
from docintake_local.persistence import forget_in_moto
from docintake_local.postgres import LocalDatabase
from docintake_local.sample_documents import policy_markdown, policy_pdf
from docintake_local.stack import REGION, InvocationCrashed, LocalStack

# Short clocks so a run takes minutes: every function times out after 3 s (its lease lasts 4 s),
# messages come back after 3 s, backoff starts at 1 s, and the sweeper acts on 20 s of silence
# (more than 3 s × maxReceiveCount 5, as the real threshold is more than 300 s × 5).
VISIBILITY_SECONDS = 3
FUNCTION_TIMEOUT_SECONDS = 3
SWEEP_STALE_SECONDS = 20
CHAOS_ENVIRONMENT = {
    "BACKOFF_BASE_SECONDS": "1",
    "LEASE_GRACE_SECONDS": "1",
    "RESEND_GRACE_SECONDS": "2",
    "SWEEP_STALE_SECONDS": str(SWEEP_STALE_SECONDS),
    "CHUNK_SIZE": "600",
    "CHUNK_OVERLAP": "100",
    # Twenty documents per user go in at once.
    "MAX_ACTIVE_JOBS_PER_USER": "1000",
    # Parts that fit the 3 s timeout here, as 40 pages and 256 chunks fit the template's.
    "PARSE_PAGES_PER_PART": "10",
    "EMBED_CHUNKS_PER_PART": "64",
    "EMBED_BATCH_SIZE": "32",
}
USERS = [UUID(f"c4a05000-0000-4000-8000-{i:012d}") for i in range(1, 11)]
FAULT_NAMES = (
    "transient",
    "duplicate",
    "crash_after_commit",
    "crash_mid_stage",
    "dropped_connection",
    "slow",
    "outage",
    "crash_loop",
)


@dataclass
class Fault:
    """Fires on its ``first_at``-th opportunity (so every fault happens at least once) and then at ``rate``."""

    rate: float
    first_at: int
    opportunities: int = 0
    fired: int = 0


@dataclass
class FaultPlan:
    seed: int
    enabled: bool = True
    faults: dict[str, Fault] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._doom: dict[str, str | None] = {}
        defaults = {
            "transient": (0.10, 2),
            "duplicate": (0.10, 3),
            "crash_after_commit": (0.03, 5),
            "crash_mid_stage": (0.03, 7),
            "dropped_connection": (0.03, 11),
            "slow": (0.01, 13),
            # Per document rather than per attempt: decided the first time a document is seen.
            "outage": (0.03, 4),
            "crash_loop": (0.02, 6),
        }
        for name, (rate, first_at) in defaults.items():
            self.faults.setdefault(name, Fault(rate, first_at))

    def fires(self, name: str) -> bool:
        if not self.enabled:
            return False
        with self._lock:
            fault = self.faults[name]
            fault.opportunities += 1
            hit = fault.opportunities == fault.first_at or self._rng.random() < fault.rate
            fault.fired += hit
            return hit

    def doomed(self, document: str) -> str | None:
        """``outage`` or ``crash_loop`` if this document is doomed while faults last, else None."""
        if not self.enabled:
            return None
        with self._lock:
            if document not in self._doom:
                self._doom[document] = None
                for name in ("outage", "crash_loop"):
                    fault = self.faults[name]
                    fault.opportunities += 1
                    if fault.opportunities == fault.first_at or self._rng.random() < fault.rate:
                        fault.fired += 1
                        self._doom[document] = name
                        break
            return self._doom[document]

    def counts(self) -> dict[str, int]:
        return {name: fault.fired for name, fault in self.faults.items()}


@contextlib.contextmanager
def injected(plan: FaultPlan, stack: LocalStack) -> Iterator[None]:
    """Wraps the stages' work, validation and the stage-message send in fault injectors, process-wide."""
    import docintake.jobs
    import docintake.stages
    import docintake.validation

    originals: list[tuple[Any, str, Any]] = []

    def patch(module: Any, name: str, wrapper: Callable[[Any], Any]) -> None:
        original = getattr(module, name)
        originals.append((module, name, original))
        setattr(module, name, wrapper(original))

    def work_wrapper(original: Any) -> Any:
        def work(pipeline: Any, claim: Any, *args: Any, **kwargs: Any) -> Any:
            doom = plan.doomed(str(claim.message.document_id))
            if doom == "outage":
                raise DependencyUnavailable("injected outage", code="injected_outage")
            if doom == "crash_loop":
                raise InvocationCrashed("injected crash loop")
            if plan.fires("transient"):
                raise DependencyUnavailable("injected transient failure", code="injected_transient")
            if plan.fires("crash_mid_stage"):
                raise InvocationCrashed("injected crash after the claim")
            if plan.fires("slow"):
                time.sleep(VISIBILITY_SECONDS + 1.5)
            writer = original(pipeline, claim, *args, **kwargs)
            if isinstance(writer, FanOut):
                return writer

            def write(conn: psycopg.Connection[Any]) -> dict[str, Any]:
                if plan.fires("dropped_connection"):
                    conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
                return dict(writer(conn))

            return write

        return work

    def inspect_wrapper(original: Any) -> Any:
        def inspect(s3: Any, bucket: str, key: str, *args: Any, **kwargs: Any) -> Any:
            upload = parse_upload_key(key)
            if upload is not None and plan.doomed(f"validate:{upload.document_id}") == "outage":
                raise DependencyUnavailable("injected outage", code="injected_outage")
            if plan.fires("transient"):
                raise DependencyUnavailable("injected transient failure", code="injected_transient")
            return original(s3, bucket, key, *args, **kwargs)

        return inspect

    def send_wrapper(original: Any) -> Any:
        def send(sqs: Any, url: str, message: Any) -> str:
            if plan.fires("crash_after_commit"):
                raise InvocationCrashed("injected crash between commit and send")
            message_id = str(original(sqs, url, message))
            if plan.fires("duplicate"):
                original(sqs, url, message)
            return message_id

        return send

    for name in ("parse_work", "chunk_work", "embed_work", "parse_part_work", "embed_part_work"):
        patch(docintake.stages, name, work_wrapper)
    patch(docintake.validation, "inspect_object", inspect_wrapper)
    patch(docintake.jobs, "send_stage_message", send_wrapper)
    try:
        yield
    finally:
        for module, name, original in reversed(originals):
            setattr(module, name, original)


@dataclass
class Uploaded:
    user_id: UUID
    document_id: UUID
    job_id: UUID
    key: str


@dataclass
class ChaosReport:
    documents: int
    done: int
    failed: int
    dead_lettered: int
    duplicates: int
    lost: int
    faults: dict[str, int]
    seconds: float
    problems: list[str]

    def line(self) -> str:
        return (
            f"documents={self.documents} done={self.done} failed={self.failed} dead_lettered={self.dead_lettered}"
            f" duplicates={self.duplicates} lost={self.lost}"
        )

    @property
    def passed(self) -> bool:
        return (
            self.duplicates == 0
            and self.lost == 0
            and self.dead_lettered == 0
            and self.done + self.failed == self.documents
            and all(self.faults.get(name, 0) > 0 for name in FAULT_NAMES)
        )


def _documents(count: int, seed: int, large_pages: int) -> Iterator[tuple[str, bytes, str]]:
    """A long PDF of ``large_pages`` first (in parts at the restart), then mostly Markdown policies of
    2–8 KB, every tenth a three-page PDF, each unique."""
    if large_pages:
        yield f"long-policy-{large_pages}.pdf", long_policy_pdf(large_pages, seed=seed), "application/pdf"
        count -= 1
    for index in range(count):
        if index % 10 == 9:
            pdf = policy_pdf(3, seed=seed * 1000 + index)
            yield f"policy-{index:04d}.pdf", pdf.data, "application/pdf"
        else:
            text = policy_markdown(2000 + (index * 613) % 6000, seed=seed * 1000 + index)
            yield f"policy-{index:04d}.md", text.encode(), "text/markdown"


def run_chaos(
    stack: LocalStack,
    *,
    documents: int = 200,
    seed: int = 1,
    settle_seconds: float = 600.0,
    large_pages: int = 2000,
    out: TextIO = sys.stdout,
) -> ChaosReport:
    """Runs the whole suite against a started stack (pollers on) built with ``chaos_stack_options`` and a
    state folder (``state_dir``), which the restart midway needs."""
    if stack.state_dir is None:
        raise ValueError("the chaos suite restarts the stack midway: give it a state_dir")
    started = time.monotonic()
    plan = FaultPlan(seed)
    uploaded: list[Uploaded] = []
    rng = random.Random(seed)
    with injected(plan, stack), httpx.Client(timeout=60) as http:
        for index, (name, data, content_type) in enumerate(_documents(documents, seed, large_pages)):
            user = USERS[index % len(USERS)]
            # The same seed makes the same files: an earlier run's copies in this database are no duplicates.
            ticket = upload_bytes(stack, user, name, data, content_type, http=http, replace=True)
            uploaded.append(Uploaded(user, ticket.document_id, ticket.job_id, ticket.key))
            if rng.random() < plan.faults["duplicate"].rate:  # S3 delivers this event twice
                plan.faults["duplicate"].fired += 1
                stack.invoke_validate_async(s3_created_event(stack.bucket, ticket.key))
            _progress(out, "ingesting", index + 1, documents, stack)
        print(file=out)
        _restart_midway(stack, uploaded, out)
        _wait(stack, uploaded, out, until=time.monotonic() + settle_seconds, label="under faults")
        plan.enabled = False
    print(f"faults injected: {plan.counts()}", file=out)
    _recover(stack, uploaded, out, deadline=time.monotonic() + settle_seconds)
    report = _check(stack, uploaded, plan.counts(), time.monotonic() - started)
    print(report.line(), file=out)
    return report


def _restart_midway(stack: LocalStack, uploaded: list[Uploaded], out: TextIO) -> None:
    """Once about a third of the documents are finished (or after a while), with the rest spread over the
    stages and faults still on: stop the whole stack, lose moto's state, start it again from the saved one."""
    until = time.monotonic() + 60
    while time.monotonic() < until:
        states = Counter(state for state, _ in _states(stack, uploaded).values())
        if states["done"] + states["failed"] >= len(uploaded) // 3:
            break
        time.sleep(0.5)
    print(f"restarting the local stack with {dict(sorted(states.items()))}", file=out)
    stack.stop()
    forget_in_moto(stack.bucket, stack.queue_names(), REGION)
    stack.start(pollers=True)
    print(f"restarted: {stack.reconciliation.summary()}", file=out)


def _recover(stack: LocalStack, uploaded: list[Uploaded], out: TextIO, *, deadline: float) -> None:
    """Faults off: let the queues drain, then sweep and replay until every job is finished."""
    ops = stack.operations()
    for round_ in range(1, 100):
        _wait(stack, uploaded, out, until=min(deadline, time.monotonic() + 30), label=f"recovery {round_}")
        states = _states(stack, uploaded)
        if all(state in ("done", "failed") for state, _ in states.values()) or time.monotonic() > deadline:
            return
        swept = sweep(ops, invocation_id=f"chaos-sweep-{round_}")
        replayed = [replay(ops, queue, invocation_id=f"chaos-replay-{round_}") for queue in QUEUE_NAMES]
        moved = sum(r.replayed for r in replayed)
        print(f"round {round_}: sweep {swept.summary()}; dlq replayed={moved}", file=out)
        if not swept.rescued and not swept.revalidated and not moved:
            # Nothing to do yet: stale jobs need SWEEP_STALE_SECONDS of silence first.
            time.sleep(2)


def _wait(stack: LocalStack, uploaded: list[Uploaded], out: TextIO, *, until: float, label: str) -> None:
    """Until every job is finished, or nothing changes for a while, or the deadline."""
    last: Counter[str] = Counter()
    quiet_since = time.monotonic()
    while time.monotonic() < until:
        states = Counter(state for state, _ in _states(stack, uploaded).values())
        finished = states["done"] + states["failed"]
        print(f"\r{label}: {dict(sorted(states.items()))}".ljust(100), end="", file=out, flush=True)
        if finished == len(uploaded):
            break
        if states != last:
            last, quiet_since = states, time.monotonic()
        elif time.monotonic() - quiet_since > 3 * VISIBILITY_SECONDS + 8 and _queues_idle(stack):
            break
        time.sleep(0.5)
    print(file=out)


def _queues_idle(stack: LocalStack) -> bool:
    sqs = stack.client("sqs")
    for logical, url in stack.queue_urls.items():
        if logical.endswith("DLQ"):
            continue
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        if any(int(value) for value in attributes.values()):
            return False
    return True


def _states(stack: LocalStack, uploaded: list[Uploaded]) -> dict[UUID, tuple[str, str | None]]:
    with psycopg.connect(stack.database.admin_url, autocommit=True, row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT id, state, last_error_code FROM upload_jobs WHERE id = ANY(%s)", [[u.job_id for u in uploaded]]
        ).fetchall()
    return {row["id"]: (row["state"], row["last_error_code"]) for row in rows}


def _check(stack: LocalStack, uploaded: list[Uploaded], faults: dict[str, int], seconds: float) -> ChaosReport:
    """Counts duplicates and losses from the database and S3, not from what the run believes."""
    ids = [u.document_id for u in uploaded]
    problems: list[str] = []
    with psycopg.connect(stack.database.admin_url, autocommit=True, row_factory=dict_row) as conn:
        jobs = conn.execute(
            "SELECT document_id, count(*) AS n, min(state) AS state, min(last_error_code) AS code"
            " FROM upload_jobs WHERE document_id = ANY(%s) GROUP BY document_id",
            [ids],
        ).fetchall()
        chunks = conn.execute(
            "SELECT document_id, count(*) AS n, count(DISTINCT content_hash || ordinal) AS distinct_n,"
            " max(ordinal) AS top, document_vector_count(document_id) AS embedded FROM document_chunks"
            " WHERE document_id = ANY(%s) GROUP BY document_id",
            [ids],
        ).fetchall()
        completions = conn.execute(
            "SELECT job_id, stage, count(*) AS n FROM events WHERE event_type = 'stage_completed'"
            " AND document_id = ANY(%s) GROUP BY job_id, stage HAVING count(*) > 1",
            [ids],
        ).fetchall()
        # A part of a large document completes once: fenced by its lease, as a stage by the job's.
        part_completions = conn.execute(
            "SELECT job_id, stage, details->>'part' AS part, count(*) AS n FROM events"
            " WHERE event_type = 'part_completed' AND document_id = ANY(%s)"
            " GROUP BY job_id, stage, details->>'part' HAVING count(*) > 1",
            [ids],
        ).fetchall()
    by_document = {row["document_id"]: row for row in jobs}
    chunk_rows = {row["document_id"]: row for row in chunks}
    duplicates = len(completions) + len(part_completions)
    problems += [f"stage {c['stage']} of job {c['job_id']} completed {c['n']} times" for c in completions]
    problems += [
        f"part {c['part']} of {c['stage']} of job {c['job_id']} completed {c['n']} times" for c in part_completions
    ]
    lost = done = failed = dead = 0
    expected = _expected_chunk_counts(stack, [u for u in uploaded if by_document.get(u.document_id)])
    for item in uploaded:
        job = by_document.get(item.document_id)
        if job is None:
            lost += 1
            problems.append(f"document {item.document_id}: no job")
            continue
        if job["n"] != 1:
            duplicates += 1
            problems.append(f"document {item.document_id}: {job['n']} jobs")
        state = job["state"]
        if state == "done":
            done += 1
            row = chunk_rows.get(item.document_id)
            want = expected.get(item.document_id)
            if row is None or row["n"] != want or row["distinct_n"] != row["n"] or row["top"] != row["n"] - 1:
                duplicates += 1
                problems.append(f"document {item.document_id}: chunks {row and row['n']} != expected {want}")
            elif row["embedded"] != row["n"]:
                lost += 1
                problems.append(f"document {item.document_id}: {row['n'] - row['embedded']} chunks without vectors")
        elif state == "failed" and job["code"]:
            failed += 1
        elif state == "dead_lettered":
            dead += 1
            problems.append(f"document {item.document_id}: dead_lettered ({job['code']})")
        else:
            lost += 1
            problems.append(f"document {item.document_id}: ended {state} ({job['code']})")
    return ChaosReport(len(uploaded), done, failed, dead, duplicates, lost, faults, round(seconds, 1), problems)


def _expected_chunk_counts(stack: LocalStack, uploaded: list[Uploaded]) -> dict[UUID, int]:
    """What chunking the stored Markdown once gives: any other count is a duplicate or a loss."""
    from docintake.config import Settings
    from docintake.storage import markdown_key, page_map_key

    settings = Settings.model_validate({k.lower(): v for k, v in CHAOS_ENVIRONMENT.items()})
    s3 = stack.client("s3")
    counts: dict[UUID, int] = {}
    for item in uploaded:
        try:
            body = s3.get_object(Bucket=stack.bucket, Key=markdown_key(item.user_id, item.document_id))["Body"]
            pages = s3.get_object(Bucket=stack.bucket, Key=page_map_key(item.user_id, item.document_id))["Body"]
        except s3.exceptions.NoSuchKey:
            continue
        text = body.read().decode("utf-8")
        page_map = PageMap.from_json(pages.read().decode("utf-8"))
        chunks = chunk_with_settings(text, page_map, settings)
        counts[item.document_id] = len(chunks)
    return counts


def _progress(out: TextIO, label: str, done: int, total: int, stack: LocalStack) -> None:
    width = 30
    filled = width * done // max(total, 1)
    print(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", file=out, flush=True)


def chaos_stack_options() -> dict[str, Any]:
    return {
        "visibility_timeout": VISIBILITY_SECONDS,
        "function_timeout": FUNCTION_TIMEOUT_SECONDS,
        "environment": CHAOS_ENVIRONMENT,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m docintake_local.chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--large-pages", type=int, default=2000, help="pages of the long PDF among them (0: none)")
    args = parser.parse_args(argv)
    # The suite exercises the machinery, not a model: MiniLM (about 6 chunks a second a core here) could not
    # embed a part within the suite's 3 s timeouts; wordllama, offline too, can. EMBEDDING_PROVIDER wins.
    os.environ.setdefault("EMBEDDING_PROVIDER", "wordllama")
    from docintake_local.stack import project_root

    root = project_root()
    # Its own database; the report counts only this run's documents either way.
    database = LocalDatabase.start(root / ".local" / "pgchaos", database="docintake_chaos")
    database.migrate(root / "migrations")
    # Its own state folder, emptied: an earlier run's files and messages are no part of this one.
    state_dir = root / ".local" / "chaos-state"
    shutil.rmtree(state_dir, ignore_errors=True)
    stack = LocalStack(
        root,
        database,
        log_file=root / ".local" / "logs" / "chaos.jsonl",
        state_dir=state_dir,
        **chaos_stack_options(),
    )
    with stack.running():
        report = run_chaos(stack, documents=args.documents, seed=args.seed, large_pages=args.large_pages)
    print(f"took {report.seconds:.1f} s")
    for problem in report.problems[:20]:
        print(f"  {problem}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
