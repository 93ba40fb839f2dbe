"""Migrations apply cleanly, RLS is enabled and forced on every user-data table, and no role bypasses it."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from docintake.local.postgres import LocalDatabase

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
USER_TABLES = {"documents", "upload_jobs", "document_chunks", "user_search_models", "events"}


def test_every_migration_is_applied_once(database: LocalDatabase) -> None:
    with psycopg.connect(database.admin_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == sorted(p.stem for p in (ROOT / "migrations").glob("*.sql"))
    # WHEN migrate runs again THEN nothing is pending
    assert database.migrate(ROOT / "migrations") == []


def test_rls_is_enabled_and_forced_on_every_user_data_table(database: LocalDatabase) -> None:
    with psycopg.connect(database.admin_url) as conn:
        rows = conn.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity, pg_get_userbyid(relowner) FROM pg_class "
            "WHERE relname = ANY(%s) AND relkind = 'r'",
            [list(USER_TABLES)],
        ).fetchall()
    assert {r[0] for r in rows} == USER_TABLES
    assert all(r[1] and r[2] for r in rows), rows
    assert {r[3] for r in rows} == {"docintake_owner"}


def test_application_roles_are_not_superusers_and_do_not_bypass_rls(database: LocalDatabase) -> None:
    with psycopg.connect(database.admin_url) as conn:
        rows = conn.execute(
            "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname LIKE 'docintake_%%'"
        ).fetchall()
    assert {r[0] for r in rows} == {
        "docintake_owner",
        "docintake_api",
        "docintake_worker",
        "docintake_ops",
        "docintake_sweeper",
    }
    assert not any(r[1] or r[2] for r in rows)


def test_the_vector_extension_is_installed(database: LocalDatabase) -> None:
    with psycopg.connect(database.admin_url) as conn:
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    assert version is not None


def test_chunk_sections_are_content_so_ops_cannot_read_them(database: LocalDatabase) -> None:
    # GIVEN the migrated schema WHEN each role's privilege on document_chunks.sections is asked
    with psycopg.connect(database.admin_url) as conn:
        readable = {
            role: conn.execute(
                "SELECT has_column_privilege(%s, 'document_chunks', 'sections', 'SELECT')", [f"docintake_{role}"]
            ).fetchone()
            for role in ("api", "worker", "ops", "sweeper")
        }
    # THEN only the roles bound to the user's rows by RLS can read it
    assert readable == {"api": (True,), "worker": (True,), "ops": (False,), "sweeper": (False,)}
