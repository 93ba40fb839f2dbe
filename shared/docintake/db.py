"""PostgreSQL: connections, transactions that carry the user context, named queries and migrations."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, LiteralString, cast
from uuid import UUID

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from docintake.errors import DependencyUnavailable
from docintake.vocabulary import ErrorCode

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

Row = dict[str, Any]
_QUERY_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def queries() -> dict[str, LiteralString]:
    """The named queries of sql/queries.sql, keyed by the name after ``-- name:``."""
    text = resources.files("docintake").joinpath("sql/queries.sql").read_text(encoding="utf-8")
    parts = _QUERY_HEADER.split(text)[1:]
    return {name: cast(LiteralString, body.strip()) for name, body in zip(parts[::2], parts[1::2], strict=True)}


def database_url_from_secret(secret_arn: str, client: SecretsManagerClient) -> str:
    """Builds a libpq URL from an RDS-style secret (host, port, dbname, username, password)."""
    secret = json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])
    return make_conninfo(
        host=secret["host"],
        port=str(secret.get("port", 5432)),
        dbname=secret.get("dbname", "docintake"),
        user=secret["username"],
        password=secret["password"],
        sslmode="require",
    )


class Database:
    """One connection per Lambda container, reopened when it breaks. Every use is a transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection[Row] | None = None

    def connection(self) -> psycopg.Connection[Row]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row, connect_timeout=10)
            except psycopg.OperationalError as exc:
                raise DependencyUnavailable("database unreachable", code=ErrorCode.DATABASE_UNAVAILABLE) from exc
        return self._conn

    @contextmanager
    def transaction(self, user_id: UUID | str | None = None) -> Iterator[psycopg.Connection[Row]]:
        """A transaction whose ``app.user_id`` is ``user_id`` (transaction-local, never a session SET)."""
        conn = self.connection()
        try:
            with conn.transaction():
                if user_id is not None:
                    conn.execute("SELECT set_config('app.user_id', %s, true)", [str(user_id)])
                yield conn
        except psycopg.OperationalError as exc:
            raise DependencyUnavailable("database connection failed", code=ErrorCode.DATABASE_UNAVAILABLE) from exc

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def run(conn: psycopg.Connection[Row], name: str, params: dict[str, Any] | None = None) -> list[Row]:
    """Runs the named query and returns its rows (empty for statements without RETURNING)."""
    cur = conn.execute(queries()[name], params or {})
    return cur.fetchall() if cur.description else []


def one(conn: psycopg.Connection[Row], name: str, params: dict[str, Any] | None = None) -> Row | None:
    rows = run(conn, name, params)
    return rows[0] if rows else None


def migration_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.sql") if re.match(r"^\d{4}_", p.name))


def migrate(url: str, folder: Path) -> list[str]:
    """Applies the numbered migrations not yet applied, each in its own transaction. Returns their names."""
    applied: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        # One migrator at a time (two demos starting together).
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('docintake.migrate'))")
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations").fetchall()}
            for path in migration_files(folder):
                if path.stem in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text(encoding="utf-8"))
                    conn.execute("RESET ROLE")
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", [path.stem])
                applied.append(path.stem)
    return applied
