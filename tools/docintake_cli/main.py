"""The `docintake` command: the database, the local stack, uploads, Docker-free invokes and the demo."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

STATE_FILE = "stack.json"
QUEUE_CHOICES = ("validate", "parse", "chunk", "embed")
JOB_STATES = ("queued", "in_progress", "retrying", "failed", "dead_lettered", "done", "expired")
# The largest page `jobs list` shows and the most messages one `dlq replay` handles.
MAX_JOBS_LISTED = 10_000
MAX_REPLAYED = 1_000_000


def int_in_range(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from ``low`` to ``high``; anything else is a usage error (exit code 2)
    that names the range, before any database or queue is touched."""

    def integer(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, not {value}")
        return value

    return integer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="docintake", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="database commands").add_subparsers(dest="db_command", required=True)
    db.add_parser("migrate", help="apply the numbered migrations in migrations/")

    local = commands.add_parser("local", help="the one-machine stack").add_subparsers(
        dest="local_command", required=True
    )
    local.add_parser("up", help="run PostgreSQL, moto and the function pollers until Ctrl-C")

    upload = commands.add_parser("upload", help="upload a file as a user through UploadFunction and a presigned URL")
    upload.add_argument("file", type=Path)
    upload.add_argument("--user", type=UUID, required=True, help="the user id (the JWT subject)")
    upload.add_argument("--content-type", help="default: from the file name")
    upload.add_argument("--wait", action="store_true", help="wait for the pipeline and print the final status")
    upload.add_argument("--timeout", type=float, default=300.0)
    upload.add_argument(
        "--replace", action="store_true", help="upload even if the user already has this file (default: duplicate_of)"
    )
    upload.add_argument("--supersedes", type=UUID, metavar="DOCUMENT_ID", help="the upload is a new version of it")
    upload.add_argument("--json", action="store_true", help="one JSON object (with --wait, the final status in it)")

    invoke = commands.add_parser("invoke", help="run one function's handler like `sam local invoke`, without Docker")
    invoke.add_argument("function", help="logical id in template.yaml, e.g. ParseFunction")
    invoke.add_argument("-e", "--event", type=Path, required=True, help="event JSON, e.g. events/parse.json")
    invoke.add_argument("-n", "--env-vars", type=Path, help="sam-style env file: {LogicalId: {VAR: value}}")

    parse = commands.add_parser("parse", help="parse a file to Markdown with the configured parser (PARSER)")
    parse.add_argument("file", type=Path)
    parse.add_argument("--content-type", help="default: from the file name")
    parse.add_argument(
        "--json", action="store_true", help="one JSON object: markdown, pages, warnings, ocr_pages, page_confidence"
    )

    chunk = commands.add_parser("chunk", help="chunk Markdown (or `docintake parse --json` output) like the pipeline")
    chunk.add_argument("file", help="a Markdown file, or - for standard input")
    chunk.add_argument("--pages", type=Path, help='page map JSON: [{"page": 1, "start": 0}, …]')
    chunk.add_argument("--size", type=int, help="characters per chunk (default: CHUNK_SIZE, 1000)")
    chunk.add_argument("--overlap", type=int, help="characters of overlap (default: CHUNK_OVERLAP, 200)")
    chunk.add_argument("--max-tokens", type=int, help="optional token ceiling (default: CHUNK_MAX_TOKENS)")
    chunk.add_argument("--json", action="store_true", help="a JSON list of chunks")

    search = commands.add_parser("search", help="a user's top-k chunks for a question, through SearchFunction")
    search.add_argument("query")
    search.add_argument("--user", type=UUID, required=True, help="the user id (the JWT subject)")
    search.add_argument("--k", type=int, default=5)
    search.add_argument(
        "--mode",
        choices=["hybrid", "vector", "keyword"],
        default="hybrid",
        help="hybrid (default): keyword and vector rankings fused; or one of them alone",
    )
    search.add_argument(
        "--type",
        action="append",
        dest="document_types",
        metavar="TYPE",
        help="only documents of this type (repeatable): policy, declarations, endorsement, benefit_summary, …",
    )
    search.add_argument(
        "--document",
        action="append",
        type=UUID,
        dest="document_ids",
        metavar="ID",
        help="only this document (repeatable)",
    )
    search.add_argument("--all-versions", action="store_true", help="also search versions a newer upload superseded")
    search.add_argument("--json", action="store_true", help="the API's JSON response alone on stdout")

    reembed = commands.add_parser(
        "reembed",
        help="embed documents with another model beside the current one, then switch each user whose documents"
        " all have it; --activate switches (or rolls back) only, --finalize drops the other models' vectors",
    )
    reembed.add_argument("--model", required=True, help="model name stored with the vectors")
    reembed.add_argument("--dimensions", type=int, help="default: EMBEDDING_DIMENSIONS")
    reembed.add_argument(
        "--provider", choices=["hash", "wordllama", "minilm", "openai", "bedrock", "sentence-transformers"]
    )
    reembed.add_argument("--user", type=UUID, help="only this user's documents")
    action = reembed.add_mutually_exclusive_group()
    action.add_argument("--no-switch", action="store_true", help="embed only; users keep searching their model")
    action.add_argument(
        "--activate", action="store_true", help="switch users to the model without embedding (e.g. a rollback)"
    )
    action.add_argument(
        "--finalize", action="store_true", help="delete other models' vectors of the users searching this one"
    )
    reembed.add_argument("--json", action="store_true")

    vectors = commands.add_parser("vectors", help="the vector tables").add_subparsers(
        dest="vectors_command", required=True
    )
    ann = vectors.add_parser(
        "index", help="opt in to an approximate (HNSW) index for a model (pgvector 0.8+; see docs/decisions.md)"
    )
    ann.add_argument("--model", required=True)
    ann.add_argument("--dimensions", type=int, required=True)
    ann.add_argument("--json", action="store_true")

    documents = commands.add_parser("documents", help="a user's own documents, through the API").add_subparsers(
        dest="documents_command", required=True
    )
    documents_list = documents.add_parser("list", help="the user's documents, newest first (GET /documents)")
    documents_list.add_argument("--user", type=UUID, required=True, help="the user id (the JWT subject)")
    documents_list.add_argument("--limit", type=int, default=20)
    documents_list.add_argument("--cursor", help="next_cursor of the previous page")
    documents_list.add_argument("--json", action="store_true")
    documents_show = documents.add_parser("show", help="status, progress and any error (GET /documents/{id})")
    documents_show.add_argument("document_id")
    documents_show.add_argument("--user", type=UUID, required=True, help="the user id (the JWT subject)")
    documents_show.add_argument("--json", action="store_true")
    documents_retry = documents.add_parser("retry", help="resume a failed document (POST /documents/{id}/retry)")
    documents_retry.add_argument("document_id")
    documents_retry.add_argument("--user", type=UUID, required=True, help="the user id (the JWT subject)")
    documents_retry.add_argument("--wait", action="store_true", help="wait for the pipeline and print the result")
    documents_retry.add_argument("--json", action="store_true")
    documents_delete = documents.add_parser("delete", help="delete a document everywhere (DELETE /documents/{id})")
    documents_delete.add_argument("document_id")
    documents_delete.add_argument("--user", type=UUID, required=True, help="the user id (the JWT subject)")
    documents_delete.add_argument("--json", action="store_true")

    sweep = commands.add_parser("sweep", help="rescue jobs with a stale heartbeat and expire abandoned uploads")
    sweep.add_argument(
        "--stale-seconds",
        type=int_in_range(0, 7 * 24 * 3600),
        help="treat a job as stale after this many seconds without a heartbeat, 0 to a week"
        " (default: SWEEP_STALE_SECONDS); a job under a live lease is never taken",
    )
    sweep.add_argument("--json", action="store_true")

    dlq = commands.add_parser("dlq", help="inspect and replay the dead-letter queues").add_subparsers(
        dest="dlq_command", required=True
    )
    dlq_list = dlq.add_parser("list", help="messages in the DLQs: job, document, user, error code, receives, age")
    dlq_list.add_argument("--queue", choices=QUEUE_CHOICES, help="default: all four")
    dlq_list.add_argument("--json", action="store_true")
    dlq_show = dlq.add_parser("show", help="one dead letter, with its job's timeline")
    dlq_show.add_argument("message_id")
    dlq_show.add_argument("--json", action="store_true")
    dlq_replay = dlq.add_parser("replay", help="send dead letters back to their source and reset their jobs")
    dlq_replay.add_argument("--queue", choices=QUEUE_CHOICES, required=True)
    dlq_replay.add_argument("--job", type=UUID, help="only this job's messages")
    dlq_replay.add_argument("--error-code", help="only messages whose job failed with this code")
    dlq_replay.add_argument("--limit", type=int_in_range(1, MAX_REPLAYED), help="at most this many messages")
    dlq_replay.add_argument("--dry-run", action="store_true", help="say what would be replayed, change nothing")
    dlq_replay.add_argument("--json", action="store_true")

    jobs = commands.add_parser("jobs", help="jobs across users (metadata only)").add_subparsers(
        dest="jobs_command", required=True
    )
    jobs_list = jobs.add_parser("list", help="the newest jobs, optionally by state or user")
    jobs_list.add_argument("--state", choices=JOB_STATES)
    jobs_list.add_argument("--user", type=UUID)
    jobs_list.add_argument("--limit", type=int_in_range(1, MAX_JOBS_LISTED), default=50)
    jobs_list.add_argument("--json", action="store_true")
    jobs_show = jobs.add_parser("show", help="one job and its timeline of events")
    jobs_show.add_argument("job_id", type=UUID)
    jobs_show.add_argument("--json", action="store_true")

    demo = commands.add_parser("demo", help="ingest generated insurance PDFs end to end and show the result")
    demo.add_argument("--documents", type=int, default=4)
    demo.add_argument("--timeout", type=float, default=300.0)

    args = parser.parse_args(argv)
    if args.command == "db":
        return _migrate()
    if args.command == "local":
        return _local_up()
    if args.command == "upload":
        return _upload(args)
    if args.command == "invoke":
        return _invoke(args)
    if args.command == "parse":
        return _parse(args)
    if args.command == "chunk":
        return _chunk(args)
    if args.command == "search":
        return _search(args)
    if args.command == "reembed":
        return _reembed(args)
    if args.command == "vectors":
        return _vectors_index(args)
    if args.command == "documents":
        return _documents(args)
    if args.command in ("sweep", "dlq", "jobs"):
        from docintake_cli import operators as operator_commands

        return operator_commands.run(args)
    return _demo(args)


def _paths() -> tuple[Path, Path]:
    from docintake_local.stack import project_root

    root = project_root()
    # DOCINTAKE_HOME moves the local state (database, running-stack record, logs) out of the checkout.
    return root, Path(os.environ.get("DOCINTAKE_HOME") or root / ".local")


def _migrate() -> int:
    from docintake_local.postgres import LocalDatabase

    root, local = _paths()
    database = LocalDatabase.start(local / "pgdata")
    applied = database.migrate(root / "migrations")
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
    return 0


@contextlib.contextmanager
def _stack(*, pollers: bool) -> Iterator[object]:
    """The running `docintake local up` if there is one, else an ephemeral stack for this command."""
    from docintake_local.postgres import LocalDatabase
    from docintake_local.stack import LocalStack

    root, local = _paths()
    # The handlers run in this process and Powertools logs to stdout: their lines go to the stack's log
    # file, so stdout carries only what the command prints (one JSON document under --json).
    log_file = local / "logs" / "functions.jsonl"
    state = _running_state(local)
    if state is not None:
        stack = LocalStack(
            root, LocalDatabase(state["database_url"]), aws_endpoint=state["aws_endpoint"], log_file=log_file
        )
        with stack.running(pollers=False):
            yield stack
        return
    database = LocalDatabase.start(local / "pgdata")
    database.migrate(root / "migrations")
    stack = LocalStack(root, database, log_file=log_file)
    with stack.running(pollers=pollers):
        yield stack


def _running_state(local: Path) -> dict[str, str] | None:
    path = local / STATE_FILE
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    try:
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return None
    return dict(state)


def _local_up() -> int:
    from docintake_local.postgres import LocalDatabase
    from docintake_local.stack import LocalStack

    root, local = _paths()
    if _running_state(local) is not None:
        print("a local stack is already running (see .local/stack.json)", file=sys.stderr)
        return 1
    # Both signals stop it cleanly, set explicitly: a shell starts a background job with SIGINT ignored,
    # and Python then installs no KeyboardInterrupt handler of its own.
    stopped = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stopped.set())
    database = LocalDatabase.start(local / "pgdata")
    database.migrate(root / "migrations")
    # S3 objects and queue messages are kept under DOCINTAKE_HOME; at start the database is reconciled
    # with them (lost messages sent again, the previous run's leases released, lost files reported).
    stack = LocalStack(root, database, log_file=local / "logs" / "functions.jsonl", state_dir=local / "aws-state")
    dead: list[str] = []
    with stack.running(schedules=True):
        state = local / STATE_FILE
        state.write_text(json.dumps(stack.describe(), indent=2))
        print(f"local stack up: AWS endpoint {stack.aws_endpoint}, bucket {stack.bucket}")
        print(f"database: {database.admin_url}")
        print(f"state: {local / 'aws-state'}; at start {stack.reconciliation.summary()}")
        for document_id in stack.reconciliation.ready_without_files:
            print(f"warning: ready document {document_id} has lost its files in S3", file=sys.stderr)
        print(f"function logs: {local / 'logs' / 'functions.jsonl'}; Ctrl-C stops", flush=True)
        try:
            # A stack with a dead part would look healthy while nothing moves: watch, and stop instead.
            while not stopped.wait(2.0) and not dead:
                dead = stack.dead_components()
        finally:
            state.unlink(missing_ok=True)
    if dead:
        print(f"local stack stopped: a component died: {'; '.join(dead)}", file=sys.stderr)
        return 1
    print("local stack stopped")
    return 0


def _upload(args: argparse.Namespace) -> int:
    from docintake_local.client import AlreadyUploaded, UploadRefused, content_type_for, upload_bytes, wait_for

    data = args.file.read_bytes()
    content_type = args.content_type or content_type_for(args.file)
    with _stack(pollers=True) as stack:
        try:
            ticket = upload_bytes(
                stack,  # type: ignore[arg-type]
                args.user,
                args.file.name,
                data,
                content_type,
                replace=args.replace,
                supersedes=args.supersedes,
            )
            result: dict[str, object] = {
                "document_id": str(ticket.document_id),
                "job_id": str(ticket.job_id),
                "key": ticket.key,
                "supersedes": str(ticket.supersedes) if ticket.supersedes else None,
            }
            document_id = ticket.document_id
        except AlreadyUploaded as exc:
            result = exc.duplicate.model_dump(mode="json")
            document_id = exc.duplicate.document_id
        except UploadRefused as exc:
            print(json.dumps(exc.body), file=sys.stderr)
            return 2
        if not args.json:
            print(_upload_line(result))
        if not args.wait:
            if args.json:
                print(json.dumps(result))
            return 0
        status = wait_for(stack, args.user, [document_id], timeout=args.timeout)  # type: ignore[arg-type]
    final = status.get(document_id, {})
    if args.json:
        print(json.dumps({**result, "final": final}, default=str))
    else:
        error = f" ({final['last_error_code']})" if final.get("last_error_code") else ""
        print(f"{final.get('status')}: stage {final.get('stage')}, {final.get('state')}{error}")
    return 0 if final.get("state") == "done" else 1


def _upload_line(result: dict[str, object]) -> str:
    if result.get("duplicate_of"):
        return (
            f"duplicate_of {result['duplicate_of']} ({result['status']}): you already have this file;"
            " --replace uploads another copy"
        )
    version = f", a new version of {result['supersedes']}" if result.get("supersedes") else ""
    return f"uploaded {result['document_id']} (job {result['job_id']}){version}"


def _invoke(args: argparse.Namespace) -> int:
    event = json.loads(args.event.read_text())
    overrides: dict[str, str] = {}
    if args.env_vars:
        env_file = json.loads(args.env_vars.read_text())
        overrides = {
            k: str(v) for k, v in {**env_file.get("Parameters", {}), **env_file.get(args.function, {})}.items()
        }
    with _stack(pollers=False) as stack:
        result = stack.invoke(args.function, event, overrides or None)  # type: ignore[attr-defined]
    print(json.dumps(result, default=str, indent=2))
    return 0


def _parse(args: argparse.Namespace) -> int:
    from docintake.config import load_settings
    from docintake.errors import DocintakeError
    from docintake.parsing import parser_from_settings
    from docintake_local.client import content_type_for

    content_type = args.content_type or content_type_for(args.file)
    try:
        parsed = parser_from_settings(load_settings()).parse(
            args.file.read_bytes(), content_type, heartbeat=lambda: None
        )
    except DocintakeError as exc:
        print(exc.code, file=sys.stderr)
        return 2
    if not args.json:
        sys.stdout.write(parsed.markdown)
        return 0
    document = {
        "markdown": parsed.markdown,
        "page_count": parsed.page_count,
        "pages": parsed.page_map.spans(len(parsed.markdown)),
        "warnings": list(parsed.warnings),
        "parser": parsed.parser,
        "ocr_pages": list(parsed.ocr_pages),
        "page_confidence": [{"page": page, "confidence": score} for page, score in parsed.page_confidence],
    }
    print(json.dumps(document, ensure_ascii=False))
    return 0


def _chunk(args: argparse.Namespace) -> int:
    from docintake.chunking import chunk_markdown
    from docintake.config import load_settings
    from docintake.parsing import PageMap

    settings = load_settings()
    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    page_map = PageMap.single_page()
    if text.lstrip().startswith("{"):  # the output of `docintake parse --json`
        parsed = json.loads(text)
        text, page_map = parsed["markdown"], PageMap.from_json(json.dumps(parsed["pages"]))
    if args.pages:
        page_map = PageMap.from_json(args.pages.read_text(encoding="utf-8"))
    size = args.size or settings.chunk_size
    overlap = settings.chunk_overlap if args.overlap is None else args.overlap
    if overlap >= size:
        print("--overlap must be smaller than --size", file=sys.stderr)
        return 2
    chunks = chunk_markdown(
        text, page_map, size=size, overlap=overlap, max_tokens=args.max_tokens or settings.chunk_max_tokens
    )
    if args.json:
        rows = [
            {
                "ordinal": c.ordinal,
                "content": c.content,
                "heading_path": list(c.heading_path),
                "sections": [list(section) for section in c.sections],
                "page_start": c.page_start,
                "page_end": c.page_end,
                "chars": c.chars,
            }
            for c in chunks
        ]
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for c in chunks:
        path = " › ".join(c.heading_path) or "(no heading)"
        print(f"── chunk {c.ordinal} · pages {c.page_start}–{c.page_end} · {c.chars} chars · {path}")
        print(c.content, end="\n\n")
    return 0


def _search(args: argparse.Namespace) -> int:
    from docintake_local.client import UploadRefused, call_api

    request: dict[str, object] = {"query": args.query, "k": args.k, "mode": args.mode}
    if args.document_types:
        request["document_types"] = args.document_types
    if args.document_ids:
        request["document_ids"] = [str(document_id) for document_id in args.document_ids]
    if args.all_versions:
        request["include_superseded"] = True
    with _stack(pollers=False) as stack:
        try:
            body = call_api(stack, "SearchFunction", "POST", "/search", args.user, request)  # type: ignore[arg-type]
        except UploadRefused as exc:
            print(json.dumps(exc.body), file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(body, ensure_ascii=False))
        return 0
    for rank, hit in enumerate(body["results"], start=1):
        pages = (
            f"p. {hit['page_start']}"
            if hit["page_start"] == hit["page_end"]
            else f"pp. {hit['page_start']}–{hit['page_end']}"
        )
        kind = f" ({hit['document_type']})" if hit.get("document_type") else ""
        print(
            f"{rank}. {hit['score']:.3f} [{hit['match']}]  {hit['filename']}{kind}, {pages}"
            f" — {' › '.join(hit['heading_path'])}"
        )
        if len(hit.get("sections") or []) > 1:  # the chunk spans sibling sections: name each under the parent
            print(f"   sections: {'; '.join(' › '.join(s[len(hit['heading_path']) :]) for s in hit['sections'])}")
        print(f"   {' '.join(hit['content'].split())[:200]}")
    return 0


def _reembed(args: argparse.Namespace) -> int:
    import psycopg
    from psycopg.rows import dict_row

    from docintake.config import load_settings
    from docintake.db import Database
    from docintake.embedding import embedder_from_settings
    from docintake.vectors import finalize_model, reembed_documents, switch_users
    from docintake_local.postgres import LocalDatabase

    settings = load_settings()
    update: dict[str, object] = {"embedding_model": args.model}
    if args.dimensions:
        update["embedding_dimensions"] = args.dimensions
    if args.provider:
        update["embedding_provider"] = args.provider
    target = settings.model_copy(update=update)
    model, dimensions = target.embedding_model, target.embedding_dimensions
    root, local = _paths()
    database = LocalDatabase.start(local / "pgdata")
    database.migrate(root / "migrations")
    # The worker role does the writing, under RLS per user; DATABASE_WORKER_URL for a remote server.
    worker = Database(os.environ.get("DATABASE_WORKER_URL") or database.role_url("worker"))

    def progress(done: int, total: int) -> None:
        if not args.json:
            print(f"\rre-embedded {done}/{total} document(s)", end="", file=sys.stderr, flush=True)

    summary: dict[str, object] = {"model": model, "dimensions": dimensions}
    try:
        with psycopg.connect(database.admin_url, autocommit=True, row_factory=dict_row) as admin:
            if args.finalize:
                keep = [(settings.embedding_model, settings.embedding_dimensions)]
                finalized = finalize_model(admin, model, dimensions, keep=keep)
                summary |= {"deleted_vectors": finalized.deleted_vectors, "dropped_tables": finalized.dropped_tables}
            else:
                if not args.activate:
                    done = reembed_documents(
                        admin,
                        worker,
                        embedder_from_settings(target),
                        batch_size=settings.embed_batch_size,
                        user_id=args.user,
                        progress=progress,
                    )
                    summary |= {"documents": len(done), "vectors": sum(d.vectors for d in done)}
                if not args.no_switch:
                    switched = switch_users(admin, worker, model, dimensions, user_id=args.user)
                    summary |= {
                        "switched_users": sum(s.switched for s in switched),
                        "waiting_users": [
                            {"user_id": str(s.user_id), "missing": s.missing} for s in switched if not s.switched
                        ],
                    }
    finally:
        worker.close()
    if args.json:
        print(json.dumps(summary))
    else:
        print(file=sys.stderr)
        for key, value in summary.items():
            print(f"{key}: {value}")
        if not args.finalize and not args.no_switch:
            print(
                f"set EMBEDDING_MODEL={model} for new uploads; `--finalize` drops the old vectors (no rollback after)"
            )
    waiting = summary.get("waiting_users")
    return 1 if waiting and args.activate else 0


def _vectors_index(args: argparse.Namespace) -> int:
    import psycopg
    from psycopg.rows import dict_row

    from docintake.vectors import create_ann_index
    from docintake_local.postgres import LocalDatabase

    root, local = _paths()
    database = LocalDatabase.start(local / "pgdata")
    database.migrate(root / "migrations")
    with psycopg.connect(database.admin_url, autocommit=True, row_factory=dict_row) as admin:
        try:
            name = create_ann_index(admin, args.model, args.dimensions)
        except RuntimeError as exc:
            print(json.dumps({"created": None, "reason": str(exc)}) if args.json else f"not created: {exc}")
            return 2
    print(json.dumps({"created": name}) if args.json else f"created {name}")
    return 0


def _documents(args: argparse.Namespace) -> int:
    from docintake_local.client import UploadRefused, delete_as, list_as, retry_as, show_as, wait_for

    command = args.documents_command
    with _stack(pollers=command == "retry" and args.wait) as stack:
        try:
            if command == "list":
                result = list_as(stack, args.user, limit=args.limit, cursor=args.cursor)  # type: ignore[arg-type]
            elif command == "show":
                result = show_as(stack, args.user, args.document_id)  # type: ignore[arg-type]
            elif command == "retry":
                result = retry_as(stack, args.user, args.document_id)  # type: ignore[arg-type]
                if args.wait:
                    wait_for(stack, args.user, [UUID(args.document_id)])  # type: ignore[arg-type]
                    result = show_as(stack, args.user, args.document_id)  # type: ignore[arg-type]
            else:
                result = delete_as(stack, args.user, args.document_id)  # type: ignore[arg-type]
        except UploadRefused as exc:
            print(json.dumps(exc.body), file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(result))
    elif command == "list":
        for item in result["documents"]:
            print(_document_line(item))
        if result["next_cursor"]:
            print(f"more: --cursor {result['next_cursor']}")
    elif command == "delete":
        print(f"deleted {result['document_id']}: {result['objects_removed']} object version(s) removed")
    else:
        print(_document_line(result))
        if result["error"]:
            error = result["error"]
            advice = "retry can help" if error["retryable"] else "retry will not help"
            print(f"  {error['code']}: {error['message']} ({advice})")
        for line in _parse_notes(result):
            print(line)
        for line in _version_notes(result):
            print(line)
    return 0


def _version_notes(view: dict[str, object]) -> list[str]:
    """The document's type and its versions, under `documents show`."""
    lines = [f"  type: {view['document_type']}"] if view.get("document_type") else []
    if view.get("supersedes"):
        lines.append(f"  supersedes: {view['supersedes']}")
    if view.get("superseded_by"):
        lines.append(f"  superseded_by: {view['superseded_by']} (search uses that version)")
    return lines


def _parse_notes(view: dict[str, object]) -> list[str]:
    """What parsing noticed, under `documents show`: OCR'd pages with their mean confidence, and warnings."""
    lines: list[str] = []
    confidences = view.get("page_confidence")
    if isinstance(confidences, list) and confidences:
        pages = ", ".join(f"{p['page']} ({float(p['confidence']):.0%})" for p in confidences)
        lines.append(f"  OCR'd pages (mean confidence): {pages}")
    warnings = view.get("warnings")
    if isinstance(warnings, list) and warnings:
        lines.append(f"  warnings: {', '.join(map(str, warnings))}")
    return lines


def _document_line(item: dict[str, object]) -> str:
    return (
        f"{item['document_id']}  {item['status']:<10} {item['stage']:<16} {float(item['progress']):>4.0%}"  # type: ignore[arg-type]
        f"  {item['page_count'] or '-':>4} p. {item['chunk_count']:>5} chunks  {item['filename']}"
    )


def _demo(args: argparse.Namespace) -> int:
    from docintake_local.demo import run_demo

    with _stack(pollers=True) as stack:
        return run_demo(stack, count=args.documents, timeout=args.timeout)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
