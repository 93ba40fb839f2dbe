"""Migrations apply cleanly, RLS is enabled and forced on every user-data table, and no role bypasses it."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from docintake_local.postgres import LocalDatabase

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
USER_TABLES = {"documents", "upload_jobs", "document_chunks", "document_fields", "user_search_models", "events"}


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


def test_the_vector_extension_is_installed_where_the_workers_search_with_it(database: LocalDatabase) -> None:
    # GIVEN the migrated schema
    with psycopg.connect(database.admin_url) as conn:
        row = conn.execute(
            "SELECT e.extversion, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'vector'"
        ).fetchone()
        # WHEN the application's role computes the cosine distance search orders by (search.py: <=>)
        conn.execute("SET ROLE docintake_api")
        distance = conn.execute("SELECT '[1,0,0]'::vector <=> '[0,1,0]'::vector").fetchone()
    # THEN pgvector is in public (the unqualified ``vector`` of queries.sql), at 0.5 or later (HNSW, migration 0004)
    assert row is not None
    version, schema = row
    assert schema == "public"
    assert tuple(int(part) for part in version.split(".")[:2]) >= (0, 5), version
    # AND orthogonal vectors are at distance 1
    assert distance == (1.0,)


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


def test_vectors_of_an_existing_deployment_move_into_their_models_tables(pg_admin_url: str, tmp_path: Path) -> None:
    # GIVEN a database at migration 0011 holding alice's chunks with vectors of two models (mid re-embed:
    # two chunks on v1 at 3 dimensions, one on v2 at 2) and bob's chunk on v2
    import shutil
    import uuid

    from docintake_local.postgres import drop_database, ensure_database, with_database

    for path in sorted((ROOT / "migrations").glob("*.sql")):
        if path.name < "0012":
            shutil.copy(path, tmp_path / path.name)
    name = f"docintake_test_{uuid.uuid4().hex[:12]}"
    ensure_database(pg_admin_url, name)
    database = LocalDatabase(with_database(pg_admin_url, name))
    alice, bob = uuid.uuid4(), uuid.uuid4()
    try:
        database.migrate(tmp_path)
        with psycopg.connect(database.admin_url, autocommit=True) as conn:
            for user, vectors in (
                (alice, [("v1", "[1,0,0]"), ("v1", "[0,1,0]"), ("v2", "[1,1]")]),
                (bob, [("v2", "[0,1]")]),
            ):
                document = uuid.uuid4()
                conn.execute(
                    "INSERT INTO documents (id, user_id, filename, content_type, size_bytes, sha256_declared, s3_key,"
                    " status) VALUES (%s, %s, 'p.md', 'text/markdown', 1, repeat('0', 64), %s, 'ready')",
                    [document, user, f"uploads/{user}/{document}/p.md"],
                )
                for ordinal, (model, vector) in enumerate(vectors):
                    conn.execute(
                        "INSERT INTO document_chunks (id, document_id, user_id, ordinal, content, page_start, page_end,"
                        " char_count, content_hash, embedding, embedding_model, embedding_dimensions)"
                        " VALUES (%s, %s, %s, %s, 't', 1, 1, 1, 'h', %s, %s, %s)",
                        [uuid.uuid4(), document, user, ordinal, vector, model, vector.count(",") + 1],
                    )
        # WHEN the remaining migrations run
        applied = database.migrate(ROOT / "migrations")
        with psycopg.connect(database.admin_url, autocommit=True) as conn:
            tables = conn.execute(
                "SELECT model, dimensions, table_name FROM embedding_models ORDER BY model"
            ).fetchall()
            moved = {
                model: conn.execute(f"SELECT user_id, embedding::text FROM {table} ORDER BY 2").fetchall()
                for model, _, table in tables
            }
            searched = dict(conn.execute("SELECT user_id, model FROM user_search_models").fetchall())
            forced = conn.execute(
                "SELECT bool_and(relforcerowsecurity) FROM pg_class WHERE relname = ANY(%s)",
                [["document_chunks", "user_search_models", *(t for _, _, t in tables)]],
            ).fetchone()
    finally:
        drop_database(pg_admin_url, name)
    # THEN each vector sits in its model's table, each user searches the model most of their chunks have,
    # and RLS is forced again on every table the copy touched
    assert "0012_vectors_per_model" in applied
    assert [(m, d) for m, d, _ in tables] == [("v1", 3), ("v2", 2)]
    assert moved == {"v1": [(alice, "[0,1,0]"), (alice, "[1,0,0]")], "v2": [(bob, "[0,1]"), (alice, "[1,1]")]}
    assert searched == {alice: "v1", bob: "v2"}
    assert forced == (True,)
