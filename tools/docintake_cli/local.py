"""`docintake db migrate`, `docintake local up`, `docintake invoke` and `docintake demo`: the one-machine stack."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from docintake_cli import running


def add_commands(commands: Any) -> None:
    db = commands.add_parser("db", help="database commands").add_subparsers(dest="db_command", required=True)
    db.add_parser("migrate", help="apply the numbered migrations in migrations/").set_defaults(run=_migrate)

    local = commands.add_parser("local", help="the one-machine stack").add_subparsers(
        dest="local_command", required=True
    )
    local.add_parser("up", help="run PostgreSQL, moto and the function pollers until Ctrl-C").set_defaults(
        run=_local_up
    )

    invoke = commands.add_parser("invoke", help="run one function's handler like `sam local invoke`, without Docker")
    invoke.add_argument("function", help="logical id in template.yaml, e.g. ParseFunction")
    invoke.add_argument("-e", "--event", type=Path, required=True, help="event JSON, e.g. events/parse.json")
    invoke.add_argument("-n", "--env-vars", type=Path, help="sam-style env file: {LogicalId: {VAR: value}}")
    invoke.set_defaults(run=_invoke)

    demo = commands.add_parser("demo", help="ingest generated insurance PDFs end to end and show the result")
    demo.add_argument("--documents", type=int, default=4)
    demo.add_argument("--timeout", type=float, default=300.0)
    demo.set_defaults(run=_demo)


def _migrate(args: argparse.Namespace) -> int:
    from docintake_local.postgres import LocalDatabase

    root, local = running.paths()
    database = LocalDatabase.start(local / "pgdata")
    applied = database.migrate(root / "migrations")
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
    return 0


def _local_up(args: argparse.Namespace) -> int:
    from docintake_local.postgres import LocalDatabase
    from docintake_local.stack import LocalStack

    root, local = running.paths()
    if running.running_state(local) is not None:
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
        state = local / running.STATE_FILE
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


def _invoke(args: argparse.Namespace) -> int:
    event = json.loads(args.event.read_text())
    overrides: dict[str, str] = {}
    if args.env_vars:
        env_file = json.loads(args.env_vars.read_text())
        overrides = {
            k: str(v) for k, v in {**env_file.get("Parameters", {}), **env_file.get(args.function, {})}.items()
        }
    with running.local_stack(pollers=False) as stack:
        result = stack.invoke(args.function, event, overrides or None)
    print(json.dumps(result, default=str, indent=2))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from docintake_local.demo import run_demo

    with running.local_stack(pollers=True) as stack:
        return run_demo(stack, count=args.documents, timeout=args.timeout)
