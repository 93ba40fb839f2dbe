"""The tenant-isolation matrix: every user-data table × SELECT/INSERT/UPDATE/DELETE × every application role
× (own user, another user, no user context), each outcome asserted — as the roles themselves.

A cell is *allowed* when the statement sees or changes alice's row (or, for INSERT, writes a row for
alice); it is *denied* when it errors (no grant, or a policy's WITH CHECK) or touches no row (filtered by
a policy). Every statement is rolled back, so cells do not affect each other.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from docintake.db import Database
from docintake_local.postgres import LocalDatabase

pytestmark = pytest.mark.integration

ALICE, BOB = uuid.UUID("a11ce000-0000-4000-8000-0000000000aa"), uuid.UUID("b0b00000-0000-4000-8000-0000000000bb")
# The vectors of model "seed" (3 dimensions), in the table migration 0012's ensure_vector_table names for it.
VECTORS = f"chunk_vectors_seed_{hashlib.md5(b'seed').hexdigest()[:8]}_3"  # noqa: S324 (a name, not a secret)
TABLES = (
    "documents",
    "upload_jobs",
    "job_parts",
    "document_chunks",
    "document_fields",
    VECTORS,
    "user_search_models",
    "events",
)
OPERATIONS = ("SELECT", "INSERT", "UPDATE", "DELETE")
ROLES = ("api", "worker", "ops", "sweeper")
CONTEXTS = ("own", "other", "none")

STATEMENTS: dict[tuple[str, str], str] = {
    ("documents", "SELECT"): "SELECT id FROM documents WHERE id = %(doc)s",
    ("documents", "INSERT"): (
        "INSERT INTO documents (id, user_id, filename, content_type, size_bytes, sha256_declared, s3_key)"
        " VALUES (%(new)s, %(alice)s, 'n.pdf', 'application/pdf', 1, repeat('0', 64), 'k' || %(new)s)"
    ),
    ("documents", "UPDATE"): "UPDATE documents SET status = status, updated_at = now() WHERE id = %(doc)s",
    ("documents", "DELETE"): "DELETE FROM documents WHERE id = %(doc)s",
    ("upload_jobs", "SELECT"): "SELECT id FROM upload_jobs WHERE id = %(job)s",
    ("upload_jobs", "INSERT"): (
        "INSERT INTO upload_jobs (id, document_id, user_id, correlation_id) VALUES (%(new)s, %(doc)s, %(alice)s, 'c')"
    ),
    ("upload_jobs", "UPDATE"): "UPDATE upload_jobs SET updated_at = now() WHERE id = %(job)s",
    ("upload_jobs", "DELETE"): "DELETE FROM upload_jobs WHERE id = %(job)s",
    ("job_parts", "SELECT"): "SELECT part FROM job_parts WHERE job_id = %(job)s",
    ("job_parts", "INSERT"): (
        "INSERT INTO job_parts (job_id, user_id, step, part, first_item, last_item)"
        " VALUES (%(job)s, %(alice)s, 'embed', 1, 0, 9)"
    ),
    ("job_parts", "UPDATE"): "UPDATE job_parts SET updated_at = now() WHERE job_id = %(job)s",
    ("job_parts", "DELETE"): "DELETE FROM job_parts WHERE job_id = %(job)s",
    ("document_chunks", "SELECT"): "SELECT content FROM document_chunks WHERE id = %(chunk)s",
    ("document_chunks", "INSERT"): (
        "INSERT INTO document_chunks (id, document_id, user_id, ordinal, content, page_start, page_end,"
        " char_count, content_hash) VALUES (%(new)s, %(doc)s, %(alice)s, 1, 'text', 1, 1, 4, 'h')"
    ),
    ("document_chunks", "UPDATE"): "UPDATE document_chunks SET char_count = char_count WHERE id = %(chunk)s",
    ("document_chunks", "DELETE"): "DELETE FROM document_chunks WHERE id = %(chunk)s",
    ("document_fields", "SELECT"): "SELECT fields FROM document_fields WHERE document_id = %(doc)s",
    ("document_fields", "INSERT"): (
        "INSERT INTO document_fields (document_id, user_id, document_type, document_type_confidence, extractor)"
        " VALUES (%(doc)s, %(alice)s, 'homeowners', 0.5, 'rules')"
        " ON CONFLICT (document_id) DO UPDATE SET extracted_at = now()"
    ),
    ("document_fields", "UPDATE"): "UPDATE document_fields SET notes = notes WHERE document_id = %(doc)s",
    ("document_fields", "DELETE"): "DELETE FROM document_fields WHERE document_id = %(doc)s",
    (VECTORS, "SELECT"): f"SELECT embedding FROM {VECTORS} WHERE chunk_id = %(chunk)s",
    (VECTORS, "INSERT"): (
        f"INSERT INTO {VECTORS} (chunk_id, document_id, user_id, embedding)"
        " VALUES (%(bare_chunk)s, %(doc)s, %(alice)s, '[1,2,3]')"
    ),
    (VECTORS, "UPDATE"): f"UPDATE {VECTORS} SET embedding = embedding WHERE chunk_id = %(chunk)s",
    (VECTORS, "DELETE"): f"DELETE FROM {VECTORS} WHERE chunk_id = %(chunk)s",
    ("user_search_models", "SELECT"): "SELECT model FROM user_search_models WHERE user_id = %(alice)s",
    ("user_search_models", "INSERT"): (
        "INSERT INTO user_search_models (user_id, model, dimensions) VALUES (%(alice)s, 'seed', 3)"
        " ON CONFLICT (user_id) DO UPDATE SET switched_at = now()"
    ),
    ("user_search_models", "UPDATE"): "UPDATE user_search_models SET switched_at = now() WHERE user_id = %(alice)s",
    ("user_search_models", "DELETE"): "DELETE FROM user_search_models WHERE user_id = %(alice)s",
    ("events", "SELECT"): "SELECT id FROM events WHERE id = %(event)s",
    ("events", "INSERT"): "INSERT INTO events (event_type, user_id, document_id) VALUES ('x', %(alice)s, %(doc)s)",
    ("events", "UPDATE"): "UPDATE events SET details = details WHERE id = %(event)s",
    ("events", "DELETE"): "DELETE FROM events WHERE id = %(event)s",
}


def _own(*cells: tuple[str, str]) -> set[tuple[str, str, str]]:
    return {(table, op, "own") for table, op in cells}


def _any_user(*cells: tuple[str, str]) -> set[tuple[str, str, str]]:
    return {(table, op, context) for table, op in cells for context in CONTEXTS}


# What each role may do; every other cell of the matrix must be denied.
ALLOWED: dict[str, set[tuple[str, str, str]]] = {
    # Upload tickets, status, search over its own chunks, deleting its own documents (cascading).
    "api": _own(
        ("documents", "SELECT"),
        ("documents", "INSERT"),
        ("documents", "UPDATE"),
        ("documents", "DELETE"),
        ("upload_jobs", "SELECT"),
        ("upload_jobs", "INSERT"),
        ("upload_jobs", "UPDATE"),
        ("document_chunks", "SELECT"),
        ("document_fields", "SELECT"),
        (VECTORS, "SELECT"),
        ("user_search_models", "SELECT"),
        ("events", "SELECT"),
        ("events", "INSERT"),
    ),
    # The stages: advance jobs, write chunks and vectors, append events; never create or delete documents.
    "worker": _own(
        ("documents", "SELECT"),
        ("documents", "UPDATE"),
        ("upload_jobs", "SELECT"),
        ("upload_jobs", "UPDATE"),
        ("job_parts", "SELECT"),
        ("job_parts", "INSERT"),
        ("job_parts", "UPDATE"),
        ("job_parts", "DELETE"),
        ("document_chunks", "SELECT"),
        ("document_chunks", "INSERT"),
        ("document_chunks", "UPDATE"),
        ("document_chunks", "DELETE"),
        # Policy fields as chunks: the chunk stage writes them beside the chunks (migration 0016).
        ("document_fields", "SELECT"),
        ("document_fields", "INSERT"),
        ("document_fields", "UPDATE"),
        ("document_fields", "DELETE"),
        (VECTORS, "SELECT"),
        (VECTORS, "INSERT"),
        (VECTORS, "DELETE"),
        ("user_search_models", "SELECT"),
        ("user_search_models", "INSERT"),
        ("user_search_models", "UPDATE"),
        ("events", "SELECT"),
        ("events", "INSERT"),
    ),
    # Operators read job metadata and events across users; no content, no writes.
    "ops": _any_user(
        ("documents", "SELECT"),
        ("upload_jobs", "SELECT"),
        ("job_parts", "SELECT"),
        ("user_search_models", "SELECT"),
        ("events", "SELECT"),
    ),
    # The sweeper and DLQ replay move any user's jobs on; still no content.
    "sweeper": _any_user(
        ("documents", "SELECT"),
        ("documents", "UPDATE"),
        ("upload_jobs", "SELECT"),
        ("upload_jobs", "UPDATE"),
        # A large document's parts: freeing the leases of dead invocations to send their messages again.
        ("job_parts", "SELECT"),
        ("job_parts", "UPDATE"),
        ("events", "SELECT"),
        ("events", "INSERT"),
    ),
}


@pytest.fixture(scope="module")
def rows() -> dict[str, Any]:
    return {
        "alice": ALICE,
        "doc": uuid.uuid4(),
        "job": uuid.uuid4(),
        "chunk": uuid.uuid4(),
        "bare_chunk": uuid.uuid4(),  # a chunk without a vector yet
        "event": None,
    }


@pytest.fixture
def seeded(database: LocalDatabase, rows: dict[str, Any]) -> dict[str, Any]:
    """Alice's row in every table, written as the worker and API roles (not as a superuser)."""
    params = dict(rows)
    api, worker = Database(database.role_url("api")), Database(database.role_url("worker"))
    try:
        with api.transaction(ALICE) as conn:
            conn.execute(STATEMENTS[("documents", "INSERT")].replace("%(new)s", "%(doc)s"), params)
            conn.execute(STATEMENTS[("upload_jobs", "INSERT")].replace("%(new)s", "%(job)s"), params)
            row = conn.execute(
                "INSERT INTO events (event_type, user_id, document_id)"
                " VALUES ('seed', %(alice)s, %(doc)s) RETURNING id",
                params,
            ).fetchone()
            assert row is not None
            params["event"] = row["id"]
        with worker.transaction(ALICE) as conn:
            conn.execute(
                "INSERT INTO job_parts (job_id, user_id, step, part, first_item, last_item)"
                " VALUES (%(job)s, %(alice)s, 'parse', 0, 1, 40)",
                params,
            )
            conn.execute(
                "INSERT INTO document_chunks (id, document_id, user_id, ordinal, content, page_start, page_end,"
                " char_count, content_hash) VALUES (%(chunk)s, %(doc)s, %(alice)s, 0, 'text', 1, 1, 4, 'h')",
                params,
            )
            assert conn.execute("SELECT ensure_vector_table('seed', 3) AS t").fetchone() == {"t": VECTORS}
            conn.execute(
                "INSERT INTO document_chunks (id, document_id, user_id, ordinal, content, page_start, page_end,"
                " char_count, content_hash) VALUES (%(bare_chunk)s, %(doc)s, %(alice)s, 2, 'text', 1, 1, 4, 'h')",
                params,
            )
            conn.execute(STATEMENTS[(VECTORS, "INSERT")].replace("%(bare_chunk)s", "%(chunk)s"), params)
            conn.execute(STATEMENTS[("user_search_models", "INSERT")], params)
            conn.execute(STATEMENTS[("document_fields", "INSERT")], params)
    finally:
        api.close()
        worker.close()
    return params


def _attempt(conn: psycopg.Connection[Any], context: str, sql: str, params: dict[str, Any]) -> bool:
    """Runs one statement in a transaction that is always rolled back. True when it reached alice's row."""
    try:
        with conn.transaction(force_rollback=True):
            user = {"own": ALICE, "other": BOB, "none": None}[context]
            if user is not None:
                conn.execute("SELECT set_config('app.user_id', %s, true)", [str(user)])
            cur = conn.execute(sql, {**params, "new": uuid.uuid4()})
            if cur.description is not None:
                return len(cur.fetchall()) > 0
            return cur.rowcount > 0
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.CheckViolation):
        return False


@pytest.fixture
def connections(database: LocalDatabase) -> Iterator[dict[str, psycopg.Connection[Any]]]:
    opened = {role: psycopg.connect(database.role_url(role), autocommit=True, row_factory=dict_row) for role in ROLES}
    yield opened
    for conn in opened.values():
        conn.close()


def test_every_cell_of_the_matrix(seeded: dict[str, Any], connections: dict[str, psycopg.Connection[Any]]) -> None:
    outcomes = {
        (role, table, op, context): _attempt(connections[role], context, STATEMENTS[(table, op)], seeded)
        for role, table, op, context in itertools.product(ROLES, TABLES, OPERATIONS, CONTEXTS)
    }
    expected = {
        (role, table, op, context): (table, op, context) in ALLOWED[role]
        for role, table, op, context in itertools.product(ROLES, TABLES, OPERATIONS, CONTEXTS)
    }
    wrong = sorted(cell for cell in outcomes if outcomes[cell] != expected[cell])
    assert wrong == [], [f"{cell}: {'allowed' if outcomes[cell] else 'denied'}" for cell in wrong]
    assert len(outcomes) == len(ROLES) * len(TABLES) * 4 * 3 == 384
    # No cell of another user's context, nor of no context, is allowed to the per-user roles.
    assert not any(
        ok for (role, _, _, context), ok in outcomes.items() if role in ("api", "worker") and context != "own"
    )


def test_the_roles_own_nothing_bypass_nothing_and_rls_is_forced(database: LocalDatabase) -> None:
    with psycopg.connect(database.admin_url, autocommit=True, row_factory=dict_row) as conn:
        roles = conn.execute(
            "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = ANY(%s)",
            [[f"docintake_{r}" for r in ROLES]],
        ).fetchall()
        tables = conn.execute(
            "SELECT relname, pg_get_userbyid(relowner) AS owner, relrowsecurity, relforcerowsecurity"
            " FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'",
            [list(TABLES)],
        ).fetchall()
        conn.execute("SELECT ensure_vector_table('seed', 3)")  # the seed model's table, made as the pipeline does
        tables += conn.execute(
            "SELECT relname, pg_get_userbyid(relowner) AS owner, relrowsecurity, relforcerowsecurity"
            " FROM pg_class WHERE relname = %s AND relkind = 'r'",
            [VECTORS],
        ).fetchall()
    assert {r["rolname"] for r in roles} == {f"docintake_{r}" for r in ROLES}
    assert not any(r["rolsuper"] or r["rolbypassrls"] for r in roles)
    assert sorted(tables, key=lambda t: t["relname"]) == [
        {"relname": t, "owner": "docintake_owner", "relrowsecurity": True, "relforcerowsecurity": True}
        for t in sorted(TABLES)
    ]


def test_no_security_definer_function_or_definer_view_is_reachable(database: LocalDatabase) -> None:
    with psycopg.connect(database.admin_url, autocommit=True, row_factory=dict_row) as conn:
        for role in ROLES:
            name = f"docintake_{role}"
            definers = conn.execute(
                "SELECT p.oid::regprocedure::text AS fn FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                " AND has_function_privilege(%s, p.oid, 'EXECUTE')",
                [name],
            ).fetchall()
            views = conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                " AND NOT coalesce('security_invoker=true' = ANY(c.reloptions), false)"
                " AND has_table_privilege(%s, c.oid, 'SELECT')",
                [name],
            ).fetchall()
            # One definer, the worker's: it makes a new model's vector table in a fixed shape, under RLS, with a
            # name it derives itself (migration 0012); a worker cannot pass it SQL, and at most 32 models exist.
            allowed = [{"fn": "ensure_vector_table(text,integer)"}] if role == "worker" else []
            assert (role, definers, views) == (role, allowed, [])


def test_a_reused_connection_never_carries_a_user_into_the_next_transaction(
    database: LocalDatabase, seeded: dict[str, Any]
) -> None:
    # One connection serves many invocations in a Lambda container (Database keeps it open).
    db = Database(database.role_url("worker"))
    try:
        with db.transaction(ALICE) as conn:
            assert conn.execute("SELECT count(*) AS n FROM documents").fetchone() == {"n": 1}
        with db.transaction() as conn:
            assert conn.execute("SELECT count(*) AS n FROM documents").fetchone() == {"n": 0}
            assert conn.execute("SELECT app_user_id() AS u").fetchone() == {"u": None}
        # Not after a failed transaction either.
        with pytest.raises(psycopg.errors.DivisionByZero), db.transaction(ALICE) as conn:
            conn.execute("SELECT 1 / 0")
        with db.transaction(BOB) as conn:
            assert conn.execute("SELECT count(*) AS n FROM documents").fetchone() == {"n": 0}
        with db.transaction() as conn:
            assert conn.execute("SELECT current_setting('app.user_id', true) AS u").fetchone() in (
                {"u": ""},
                {"u": None},
            )
    finally:
        db.close()
