"""The database for the one-machine stack: DATABASE_URL when set, otherwise an embedded PostgreSQL
with pgvector (pgserver) running from a data folder under .local/."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from docintake.db import migrate

DATABASE_NAME = "docintake"
ROLES = {
    "api": "docintake_api",
    "worker": "docintake_worker",
    "ops": "docintake_ops",
    "sweeper": "docintake_sweeper",
}


class LocalDatabase:
    """Admin and per-role connection strings for one database, started and migrated on demand."""

    def __init__(self, admin_url: str, server: Any = None) -> None:
        self.admin_url = admin_url
        self._server = server  # keeps the embedded server referenced (it stops with the last user)

    @classmethod
    def start(cls, data_dir: Path, *, database: str = DATABASE_NAME) -> LocalDatabase:
        """DATABASE_URL exactly as given when set; otherwise the embedded server's ``database``."""
        if url := os.environ.get("DATABASE_URL"):
            return cls(url)
        import warnings

        # pgserver's platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root); it falls back fine.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver

        data_dir.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
        url = server.get_uri()
        ensure_database(url, database)
        return cls(with_database(url, database), server)

    def role_url(self, role: str) -> str:
        """The same server and database, logged in as one of the application roles."""
        return make_conninfo(self.admin_url, user=ROLES.get(role, role), password="")

    def migrate(self, folder: Path) -> list[str]:
        return migrate(self.admin_url, folder)


def with_database(url: str, database: str) -> str:
    return make_conninfo(url, dbname=database)


def ensure_database(url: str, database: str, *, template: str | None = None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database))
            if template:
                statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
            conn.execute(statement)


def drop_database(url: str, database: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def database_of(url: str) -> str:
    return str(conninfo_to_dict(url).get("dbname", ""))
