"""Shared fixtures: one embedded PostgreSQL per run, a migrated template database, a clean clone per test."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from docintake.local.postgres import LocalDatabase, drop_database, ensure_database, with_database
from docintake.local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]
# Per run, so two pytest runs against one server never drop each other's template.
TEMPLATE_DB = f"docintake_test_template_{os.getpid()}"
# The suite embeds with the offline hash embedder (fast, deterministic): the settings, the local stacks and the
# CLI subprocesses all read these. The default (MiniLM) has its own tests (test_local_embedders, the demo's).
# The provider alone: its model (docintake-hash-v1, 384) follows from it (config.PROVIDER_DEFAULT_MODELS).
os.environ["EMBEDDING_PROVIDER"] = "hash"
for _name in ("EMBEDDING_MODEL", "EMBEDDING_DIMENSIONS"):
    os.environ.pop(_name, None)


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
    """DATABASE_URL when set, else the embedded server under .local/pgtest (separate from the demo's)."""
    url = os.environ.get("DATABASE_URL")
    server = None
    if not url:
        import warnings

        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver

        data = ROOT / ".local" / "pgtest"
        data.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(data, cleanup_mode="stop")
        url = server.get_uri()
    # A fresh template each run, so changed migrations are always what the tests see.
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
def stack(database: LocalDatabase, moto_endpoint: str, tmp_path: Path) -> Iterator[LocalStack]:
    """The template's resources on moto with the real handlers loaded; tests step it with run_until_idle."""
    stack = LocalStack(
        ROOT,
        database,
        aws_endpoint=moto_endpoint,
        visibility_timeout=2,
        log_file=tmp_path / "functions.jsonl",
        stack_name=f"t{uuid.uuid4().hex[:10]}",
    )
    with stack.running(pollers=False):
        yield stack
