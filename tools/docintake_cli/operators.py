"""`docintake sweep`, `docintake dlq …` and `docintake jobs …`: the operators' commands.

Against the local stack by default (the running `docintake local up`, else an ephemeral one). With
DOCINTAKE_TARGET=aws they use the environment instead: DATABASE_URL (the sweeper role to replay or sweep,
the ops role to read), the queue and DLQ URLs from the stack's outputs, VALIDATE_FUNCTION_NAME.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from docintake.vocabulary import JobState, Queue
from docintake_cli import running

if TYPE_CHECKING:
    from docintake.context import Context

# The runtime's modules are imported by the commands that use them: `docintake --help`, `parse` and `chunk`
# start without psycopg, Powertools or the settings.
QUEUE_CHOICES = tuple(Queue)
JOB_STATES = tuple(JobState)
# The largest page `jobs list` shows and the most messages one `dlq replay` handles.
MAX_JOBS_LISTED = 10_000
MAX_REPLAYED = 1_000_000


def add_commands(commands: Any) -> None:
    sweep_command = commands.add_parser("sweep", help="rescue jobs with a stale heartbeat and expire abandoned uploads")
    sweep_command.add_argument(
        "--stale-seconds",
        type=running.int_in_range(0, 7 * 24 * 3600),
        help="treat a job as stale after this many seconds without a heartbeat, 0 to a week"
        " (default: SWEEP_STALE_SECONDS); a job under a live lease is never taken",
    )
    sweep_command.add_argument("--json", action="store_true")
    sweep_command.set_defaults(run=_sweep)

    dlq = commands.add_parser("dlq", help="inspect and replay the dead-letter queues").add_subparsers(
        dest="dlq_command", required=True
    )
    dlq_list = dlq.add_parser("list", help="messages in the DLQs: job, document, user, error code, receives, age")
    dlq_list.add_argument("--queue", choices=QUEUE_CHOICES, help="default: all four")
    dlq_list.add_argument("--json", action="store_true")
    dlq_list.set_defaults(run=_dlq_list)
    dlq_show = dlq.add_parser("show", help="one dead letter, with its job's timeline")
    dlq_show.add_argument("message_id")
    dlq_show.add_argument("--json", action="store_true")
    dlq_show.set_defaults(run=_dlq_show)
    dlq_replay = dlq.add_parser("replay", help="send dead letters back to their source and reset their jobs")
    dlq_replay.add_argument("--queue", choices=QUEUE_CHOICES, required=True)
    dlq_replay.add_argument("--job", type=uuid.UUID, help="only this job's messages")
    dlq_replay.add_argument("--error-code", help="only messages whose job failed with this code")
    dlq_replay.add_argument("--limit", type=running.int_in_range(1, MAX_REPLAYED), help="at most this many messages")
    dlq_replay.add_argument("--dry-run", action="store_true", help="say what would be replayed, change nothing")
    dlq_replay.add_argument("--json", action="store_true")
    dlq_replay.set_defaults(run=_dlq_replay)

    jobs = commands.add_parser("jobs", help="jobs across users (metadata only)").add_subparsers(
        dest="jobs_command", required=True
    )
    jobs_list = jobs.add_parser("list", help="the newest jobs, optionally by state or user")
    jobs_list.add_argument("--state", choices=JOB_STATES)
    jobs_list.add_argument("--user", type=uuid.UUID)
    jobs_list.add_argument("--limit", type=running.int_in_range(1, MAX_JOBS_LISTED), default=50)
    jobs_list.add_argument("--json", action="store_true")
    jobs_list.set_defaults(run=_jobs_list)
    jobs_show = jobs.add_parser("show", help="one job and its timeline of events")
    jobs_show.add_argument("job_id", type=uuid.UUID)
    jobs_show.add_argument("--json", action="store_true")
    jobs_show.set_defaults(run=_jobs_show)


@contextmanager
def operations(role: str) -> Iterator[Context]:
    if os.environ.get("DOCINTAKE_TARGET") == "aws":
        from docintake.logs import function_logger
        from docintake.runtime import build_operations

        # Operators' commands log and emit metrics through the functions' logger; here it writes to stderr.
        function_logger(stream=sys.stderr)
        ops = build_operations("docintake-cli")
        try:
            yield ops
        finally:
            ops.db.close()
        return
    with running.local_stack(pollers=False) as stack:
        ops = stack.operations(role)
        try:
            yield ops
        finally:
            ops.db.close()


def _sweep(args: argparse.Namespace) -> int:
    from docintake.sweeper import sweep

    with operations("sweeper") as ops:
        result = sweep(ops, invocation_id=f"cli-{uuid.uuid4()}", stale_seconds=args.stale_seconds)
    if args.json:
        print(json.dumps({k: [str(i) for i in v] for k, v in vars(result).items()}))
    else:
        print(result.summary())
    return 0


def _dlq_list(args: argparse.Namespace) -> int:
    from docintake.dead_letters import list_dead_letters

    queues = (args.queue,) if args.queue else tuple(Queue)
    with operations("ops") as ops:
        letters = list_dead_letters(ops, queues)
    rows = [letter.as_dict() for letter in letters]
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print(f"no messages in {', '.join(q + ' DLQ' for q in queues)}")
        return 0
    columns = ("queue", "message_id", "job_id", "document_id", "user_id", "error_code", "receive_count", "age")
    print(_table(columns, [[*[r[c] for c in columns[:-1]], _age(r["age_seconds"])] for r in rows]))
    return 0


def _dlq_show(args: argparse.Namespace) -> int:
    from docintake.dead_letters import list_dead_letters
    from docintake.operations import job_timeline

    with operations("ops") as ops:
        letters = list_dead_letters(ops)
        letter = next((item for item in letters if item.message_id == args.message_id), None)
        if letter is None:
            print(f"no dead letter {args.message_id}", file=sys.stderr)
            return 1
        job, events = job_timeline(ops.db, letter.job_id) if letter.job_id else (None, [])
    shown: dict[str, Any] = {**letter.as_dict(), "job": job, "timeline": events}
    if letter.stage_message is None and letter.s3_event is None:
        shown["body_bytes"] = len(letter.body.encode())  # unreadable bodies are not echoed: they may be anything
    if args.json:
        print(json.dumps(shown, default=str))
        return 0
    for key, value in letter.as_dict().items():
        print(f"{key:>14}: {value}")
    _print_timeline(events)
    return 0


def _dlq_replay(args: argparse.Namespace) -> int:
    from docintake.dead_letters import replay

    def progress(done: int, total: int) -> None:
        if not args.json:
            print(f"\r{_bar(done, total)} {done}/{total}", end="", file=sys.stderr, flush=True)

    with operations("sweeper") as ops:
        summary = replay(
            ops,
            args.queue,
            invocation_id=f"cli-{uuid.uuid4()}",
            job_id=args.job,
            error_code=args.error_code,
            limit=args.limit,
            dry_run=args.dry_run,
            progress=progress,
        )
    if args.json:
        print(json.dumps(vars(summary)))
    else:
        print(file=sys.stderr)
        print(summary.line())
    return 1 if summary.failed else 0


def _jobs_list(args: argparse.Namespace) -> int:
    from docintake.operations import list_jobs

    with operations("ops") as ops:
        rows = list_jobs(ops.db, state=args.state, user_id=args.user, limit=args.limit)
    if args.json:
        print(json.dumps(rows, default=str))
        return 0
    columns = ("job_id", "user_id", "stage", "state", "attempts", "last_error_code", "created_at")
    print(_table(columns, [[row[c] for c in columns] for row in rows]))
    return 0


def _jobs_show(args: argparse.Namespace) -> int:
    from docintake.operations import job_timeline

    with operations("ops") as ops:
        job, events = job_timeline(ops.db, args.job_id)
    if job is None:
        print(f"no job {args.job_id}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"job": job, "timeline": events}, default=str))
        return 0
    for key, value in job.items():
        print(f"{key:>20}: {value}")
    _print_timeline(events)
    return 0


def _print_timeline(events: list[dict[str, Any]]) -> None:
    print("timeline:")
    for event in events:
        details = " ".join(f"{k}={v}" for k, v in (event["details"] or {}).items())
        stamp = event["occurred_at"].strftime("%H:%M:%S.%f")[:-3]
        print(f"  {stamp}  {event['event_type']:<24} {event['stage'] or '':<16} {details}")


def _table(columns: tuple[str, ...], rows: list[list[Any]]) -> str:
    cells = [[str("" if v is None else v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // max(total, 1)
    return "[" + "#" * filled + "." * (width - filled) + "]"
