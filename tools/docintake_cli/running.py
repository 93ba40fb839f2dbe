"""What every `docintake` command shares: where the checkout and the local state are, the running local stack
(or an ephemeral one), and argparse types."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from docintake_local.stack import LocalStack

# The running `docintake local up` records its endpoints here (under DOCINTAKE_HOME) for other commands.
STATE_FILE = "stack.json"


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


def paths() -> tuple[Path, Path]:
    from docintake_local.stack import project_root

    root = project_root()
    # DOCINTAKE_HOME moves the local state (database, running-stack record, logs) out of the checkout.
    return root, Path(os.environ.get("DOCINTAKE_HOME") or root / ".local")


@contextlib.contextmanager
def local_stack(*, pollers: bool) -> Iterator[LocalStack]:
    """The running `docintake local up` if there is one, else an ephemeral stack for this command."""
    from docintake_local.postgres import LocalDatabase
    from docintake_local.stack import LocalStack

    root, local = paths()
    # The handlers run in this process and Powertools logs to stdout: their lines go to the stack's log
    # file, so stdout carries only what the command prints (one JSON document under --json).
    log_file = local / "logs" / "functions.jsonl"
    state = running_state(local)
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


def running_state(local: Path) -> dict[str, str] | None:
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
