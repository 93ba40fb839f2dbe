"""Shared fixtures: one embedded PostgreSQL per run, a migrated template database, a clean clone per test."""

from __future__ import annotations

import fcntl
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from docintake.config import Settings
from docintake.db import Database
from docintake_local.postgres import LocalDatabase, drop_database, ensure_database, with_database
from docintake_local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]
# Per run, so two pytest runs against one server never drop each other's template.
TEMPLATE_DB = f"docintake_test_template_{os.getpid()}"
# The developer's own settings never reach a test (a DATABASE_URL or an AWS profile of theirs would be used, a
# PARSER=llamaparse would reach for the network): every variable the runtime reads is removed, the Settings fields
# and these prefixes. DOCINTAKE_TEST_* stay: they are the suite's own opt-ins (DOCINTAKE_TEST_DATABASE_URL, a local
# sentence-transformers model directory).
_FOREIGN_PREFIXES = ("AWS_", "DOCINTAKE_", "DATABASE_", "EMBEDDING_", "POWERTOOLS_", "PARSER")
_SETTINGS = frozenset(name.upper() for name in Settings.model_fields)
# What the suite runs with. It embeds with the offline hash embedder (fast, deterministic): the settings, the local
# stacks and the CLI subprocesses all read it; the default (MiniLM) has its own tests (test_local_embedders, the
# demo's). The provider alone: its model (docintake-hash-v1, 384) follows from it (config.PROVIDER_DEFAULT_MODELS).
# boto3 reads no profile or credentials file of the developer's and never asks an instance's metadata service.
SUITE_ENVIRONMENT = {
    "EMBEDDING_PROVIDER": "hash",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _foreign_environment() -> list[str]:
    return [
        name
        for name in os.environ
        if not name.startswith("DOCINTAKE_TEST_") and (name in _SETTINGS or name.startswith(_FOREIGN_PREFIXES))
    ]


# Once for the session's fixtures (the servers, the template database), then again around each test.
for _name in _foreign_environment():
    del os.environ[_name]
os.environ.update(SUITE_ENVIRONMENT)


def use_suite_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's environment alone, whatever an earlier test or the developer set (undone with the monkeypatch)."""
    for name in _foreign_environment():
        monkeypatch.delenv(name)
    for name, value in SUITE_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    use_suite_environment(monkeypatch)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the network: only loopback and Unix sockets may be connected."""
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> object:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else ""
            if host not in ("127.0.0.1", "::1", "localhost"):
                raise RuntimeError(f"test tried to reach the network: {address}")
        return real_connect(sock, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """DOCINTAKE_TEST_DATABASE_URL when set (a server the suite may create and drop databases on), else the
    embedded server under .local/pgtest (separate from the demo's). Never DATABASE_URL: that is the developer's."""
    url = os.environ.get("DOCINTAKE_TEST_DATABASE_URL")
    server = None
    if not url:
        import warnings

        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver

        data = ROOT / ".local" / "pgtest"
        data.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(data, cleanup_mode="stop")
        url = server.get_uri()
    # A fresh template each run, so changed migrations are always what the tests see. `make test` runs two
    # pytest processes on one server: each migrates a template of its own, but roles are the server's, and two
    # first runs of 0001 at once would both find a role missing and both create it. One migrates at a time.
    lock_file = ROOT / ".local" / "pgtest-migrate.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        drop_database(url, TEMPLATE_DB)
        ensure_database(url, TEMPLATE_DB)
        LocalDatabase(with_database(url, TEMPLATE_DB)).migrate(ROOT / "migrations")
    yield url
    drop_database(url, TEMPLATE_DB)
    del server


@pytest.fixture
def database(pg_admin_url: str) -> Iterator[LocalDatabase]:
    """A clean, migrated database for one test, cloned from the template."""
    name = f"docintake_test_{uuid.uuid4().hex[:12]}"
    ensure_database(pg_admin_url, name, template=TEMPLATE_DB)
    yield LocalDatabase(with_database(pg_admin_url, name))
    drop_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server over HTTP for the run; each test's stack has its own bucket and queue names."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def stack_environment() -> dict[str, str]:
    """Settings every function of the test's stack gets over the template's; a test module overrides it."""
    return {}


@pytest.fixture
def stack(
    database: LocalDatabase, moto_endpoint: str, tmp_path: Path, stack_environment: dict[str, str]
) -> Iterator[LocalStack]:
    """The template's resources on moto with the real handlers loaded; tests step it with run_until_idle."""
    stack = LocalStack(
        ROOT,
        database,
        aws_endpoint=moto_endpoint,
        visibility_timeout=2,
        log_file=tmp_path / "functions.jsonl",
        stack_name=f"t{uuid.uuid4().hex[:10]}",
        environment=stack_environment,
    )
    with stack.running(pollers=False):
        yield stack


@pytest.fixture
def api_db(stack: LocalStack) -> Iterator[Database]:
    """The test stack's database as the API functions reach it: the API role, under row-level security."""
    db = Database(stack.database.role_url("api"))
    yield db
    db.close()
