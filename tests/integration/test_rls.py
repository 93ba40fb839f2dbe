"""Row-level security, proven as the application roles (never a superuser or the owner)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from docintake.db import Database
from docintake_local.postgres import LocalDatabase

pytestmark = pytest.mark.integration
ALICE, BOB = uuid.uuid4(), uuid.uuid4()


def _document(user: uuid.UUID) -> dict[str, Any]:
    document_id = uuid.uuid4()
    return {
        "id": document_id,
        "user_id": user,
        "filename": "policy.pdf",
        "content_type": "application/pdf",
        "size_bytes": 10,
        "sha256": "0" * 64,
        "s3_key": f"uploads/{user}/{document_id}/policy.pdf",
    }


INSERT_DOCUMENT = (
    "INSERT INTO documents (id, user_id, filename, content_type, size_bytes, sha256_declared, s3_key) "
    "VALUES (%(id)s, %(user_id)s, %(filename)s, %(content_type)s, %(size_bytes)s, %(sha256)s, %(s3_key)s)"
)
INSERT_CHUNK = (
    "INSERT INTO document_chunks (id, document_id, user_id, ordinal, content, page_start, page_end, char_count,"
    " content_hash) VALUES (%s, %s, %s, 0, 'Coverage A – Dwelling', 1, 1, 21, 'h')"
)


@pytest.fixture
def api(database: LocalDatabase) -> Iterator[Database]:
    db = Database(database.role_url("api"))
    yield db
    db.close()


@pytest.fixture
def worker(database: LocalDatabase) -> Iterator[Database]:
    db = Database(database.role_url("worker"))
    yield db
    db.close()


@pytest.fixture
def alice_document(api: Database) -> dict[str, Any]:
    document = _document(ALICE)
    with api.transaction(ALICE) as conn:
        conn.execute(INSERT_DOCUMENT, document)
    return document


def _count(db: Database, user: uuid.UUID | None, sql: str = "SELECT count(*) AS n FROM documents") -> int:
    with db.transaction(user) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row["n"])


def test_connections_are_the_application_roles(api: Database, worker: Database) -> None:
    for db, role in ((api, "docintake_api"), (worker, "docintake_worker")):
        with db.transaction() as conn:
            row = conn.execute(
                "SELECT current_user AS u, usesuper FROM pg_user WHERE usename = current_user"
            ).fetchone()
        assert row == {"u": role, "usesuper": False}


def test_a_user_sees_only_their_own_documents(api: Database, alice_document: dict[str, Any]) -> None:
    assert _count(api, ALICE) == 1
    assert _count(api, BOB) == 0
    assert _count(api, None) == 0


def test_writing_a_row_for_another_user_is_refused(api: Database) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), api.transaction(BOB) as conn:
        conn.execute(INSERT_DOCUMENT, _document(ALICE))


def test_another_users_rows_cannot_be_updated_or_deleted(
    api: Database, worker: Database, alice_document: dict[str, Any]
) -> None:
    # GIVEN alice's document with one chunk
    with worker.transaction(ALICE) as conn:
        conn.execute(INSERT_CHUNK, [uuid.uuid4(), alice_document["id"], ALICE])
    # WHEN the worker, working for bob, updates and deletes them THEN no row is touched
    with worker.transaction(BOB) as conn:
        updated = conn.execute("UPDATE documents SET status = 'failed' WHERE id = %s", [alice_document["id"]]).rowcount
        deleted = conn.execute("DELETE FROM document_chunks WHERE document_id = %s", [alice_document["id"]]).rowcount
    assert (updated, deleted) == (0, 0)
    with worker.transaction(ALICE) as conn:
        row = conn.execute(
            "SELECT status, (SELECT count(*) FROM document_chunks) AS chunks FROM documents WHERE id = %s",
            [alice_document["id"]],
        ).fetchone()
    assert row == {"status": "pending_upload", "chunks": 1}
    # AND the API role may change no column of a document but its status, and delete none of bob's
    for statement in ("UPDATE documents SET filename = 'x.pdf'", "UPDATE documents SET size_bytes = 1"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), api.transaction(ALICE) as conn:
            conn.execute(statement)
    with api.transaction(BOB) as conn:
        assert conn.execute("DELETE FROM documents WHERE id = %s", [alice_document["id"]]).rowcount == 0


def test_rows_cannot_point_at_another_users_document(worker: Database, alice_document: dict[str, Any]) -> None:
    # A foreign-key check ignores RLS, so the references carry the user: bob's chunk cannot hang off
    # alice's document even though bob may write his own rows.
    with pytest.raises(psycopg.errors.ForeignKeyViolation), worker.transaction(BOB) as conn:
        conn.execute(INSERT_CHUNK, [uuid.uuid4(), alice_document["id"], BOB])


def test_buffer_and_events_are_isolated(worker: Database, api: Database, alice_document: dict[str, Any]) -> None:
    with api.transaction(ALICE) as conn:
        conn.execute(
            "INSERT INTO events (event_type, user_id, document_id) VALUES ('x', %s, %s)", [ALICE, alice_document["id"]]
        )
        # an event in another user's name is refused
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("INSERT INTO events (event_type, user_id) VALUES ('forged', %s)", [BOB])
    events = "SELECT count(*) AS n FROM events"
    assert (_count(api, ALICE, events), _count(api, BOB, events), _count(worker, None, events)) == (1, 0, 0)
    # the api role may not write vectors; only the worker writes them, through ensure_vector_table
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _count(api, ALICE, "SELECT ensure_vector_table('m', 3) AS n")


def test_worker_chunks_are_isolated_too(worker: Database, alice_document: dict[str, Any]) -> None:
    with worker.transaction(ALICE) as conn:
        conn.execute(INSERT_CHUNK, [uuid.uuid4(), alice_document["id"], ALICE])
    chunks = "SELECT count(*) AS n FROM document_chunks"
    assert (_count(worker, ALICE, chunks), _count(worker, BOB, chunks), _count(worker, None, chunks)) == (
        1,
        0,
        0,
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege), worker.transaction(BOB) as conn:
        conn.execute(INSERT_CHUNK, [uuid.uuid4(), alice_document["id"], ALICE])


def test_user_context_never_leaks_into_the_next_transaction(api: Database, alice_document: dict[str, Any]) -> None:
    # GIVEN one pooled connection that just served alice
    assert _count(api, ALICE) == 1
    # WHEN the next transaction on it sets no user
    with api.transaction() as conn:
        setting = conn.execute("SELECT current_setting('app.user_id', true) AS v").fetchone()
        visible = conn.execute("SELECT count(*) AS n FROM documents").fetchone()
    # THEN alice's id is gone and nothing is visible
    assert setting is not None and setting["v"] in ("", None)
    assert visible == {"n": 0}


def test_ops_reads_job_metadata_across_users_but_no_content(
    database: LocalDatabase, api: Database, alice_document: dict[str, Any]
) -> None:
    with api.transaction(ALICE) as conn:
        conn.execute(
            "INSERT INTO upload_jobs (id, document_id, user_id, correlation_id) VALUES (%s, %s, %s, 'c')",
            [uuid.uuid4(), alice_document["id"], ALICE],
        )
    with psycopg.connect(database.role_url("ops"), autocommit=True, row_factory=dict_row) as conn:
        assert conn.execute("SELECT count(*) AS n FROM upload_jobs").fetchone() == {"n": 1}
        assert conn.execute("SELECT count(*) AS n FROM documents").fetchone() == {"n": 1}
        # Nor what the parse found in a document's pages (OCR'd pages, confidences, warnings).
        for forbidden in (
            "SELECT content FROM document_chunks",
            "SELECT filename FROM documents",
            "SELECT ocr_pages FROM documents",
            "SELECT ocr_confidence FROM documents",
            "SELECT parse_warnings FROM documents",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(forbidden)
