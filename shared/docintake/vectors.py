"""Vectors in PostgreSQL, one table per embedding model (migration 0012): writing a document's vectors in
committed batches, each user's search model, exact per-user search, and re-embedding with another model
beside the current one, with switch, rollback and finalize.

A model is its name and its dimension (text-embedding-3-small at 512 is not at 1536); its table is made by
``ensure_vector_table`` the first time it writes and named in ``embedding_models``. Vectors travel in
pgvector's binary form (``pack_vector``) through binary COPY: formatting 1,536 floats as text cost more
than writing them (bench/store)."""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.adapt import Buffer, Dumper
from psycopg.pq import Format
from psycopg.types import TypeInfo

from docintake.db import Database, Row, one, queries, run
from docintake.embedding import Embedder
from docintake.errors import TransientError
from docintake.events import append_event
from docintake.vocabulary import ErrorCode

# Column types of the chunk staging COPY, in its column order (queries.sql).
CHUNK_STAGING_TYPES: list[int | str] = [
    "uuid",
    "uuid",
    "uuid",
    "int4",
    "text",
    "text[]",
    "int4",
    "int4",
    "int4",
    "text",
    "jsonb",
]
_VECTOR_STAGING_TYPES: list[int | str] = ["uuid", "uuid", "uuid"]


@cache
def _layout(dimensions: int) -> struct.Struct:
    return struct.Struct(f">HH{dimensions}f")


class PackedVector(bytes):
    """A vector in pgvector's binary form: int16 dimensions, int16 unused, then float4s, all big-endian."""


def pack_vector(vector: Sequence[float]) -> PackedVector:
    return PackedVector(_layout(len(vector)).pack(len(vector), 0, *vector))


class _PackedVectorDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: Any) -> Buffer:
        return obj  # type: ignore[no-any-return]


@cache
def _vector_dumper(oid: int) -> type[Dumper]:
    return type("PackedVectorDumper", (_PackedVectorDumper,), {"oid": oid})


def vector_oid(conn: psycopg.Connection[Any]) -> int:
    """The ``vector`` type's oid on this connection (fetched once), with ``PackedVector`` dumped as it."""
    info = conn.adapters.types.get("vector")
    if info is None:
        info = TypeInfo.fetch(conn, "vector")
        if info is None:
            raise RuntimeError("the vector extension is not installed in this database")
        info.register(conn)
    # Every time, cheaply: another registration for the oid (e.g. pgvector's) must not take over our COPY.
    conn.adapters.register_dumper(PackedVector, _vector_dumper(info.oid))
    return info.oid


def _query(name: str, table: str) -> sql.Composed:
    """A named query that reads or writes a model's table, written ``{vectors}`` in queries.sql."""
    return sql.SQL(queries()[name]).format(vectors=sql.Identifier(table))


def ensure_vector_table(conn: psycopg.Connection[Row], model: str, dimensions: int) -> str:
    """The model's table, created (with its row-level security) if this is the model's first vector."""
    row = one(conn, "ensure_vector_table", {"model": model, "dimensions": dimensions})
    assert row is not None
    return str(row["table_name"])


def vector_table(conn: psycopg.Connection[Row], model: str, dimensions: int) -> str | None:
    """The model's table, or None when the model has never written a vector."""
    row = one(conn, "vector_table", {"model": model, "dimensions": dimensions})
    return None if row is None else str(row["table_name"])


def prepare_search(conn: psycopg.Connection[Row], model: str, dimensions: int) -> str | None:
    """The model's table for a search in this transaction, with pgvector's iterative index scans turned on
    when an approximate index was made on request (``create_ann_index``): a filtered scan then goes on
    until it has enough of the user's rows. None when the model has no vectors. One lookup: it is on
    every search's path."""
    row = one(conn, "vector_table", {"model": model, "dimensions": dimensions})
    if row is None:
        return None
    if row["ann_index"]:
        conn.execute("SET LOCAL hnsw.iterative_scan = 'relaxed_order'")
    return str(row["table_name"])


def active_model(conn: psycopg.Connection[Row]) -> tuple[str, int] | None:
    """The model the transaction's user searches with: (name, dimensions), or None before their first vector."""
    row = one(conn, "active_model")
    return None if row is None else (row["model"], row["dimensions"])


def embedded_text(chunk: Row, context: str = "") -> str:
    """What a chunk is embedded as: where it is (the document's opening words, then the headings of the
    sections it holds), then its text. A section's title often carries the word a question means
    ("Vacancy", "Collision") while its clauses never repeat it, and a declarations table rarely repeats
    the insured address or policy that tell two similar policies apart; the keyword ranking weighs the
    same headings (migration 0013)."""
    path = list(chunk.get("heading_path") or [])
    headings = list(path)
    for section in chunk.get("sections") or []:
        if len(section) > len(path) and section[-1] not in headings:
            headings.append(section[-1])
    where = "\n".join(part for part in (context, " › ".join(headings)) if part)
    return f"{where}\n\n{chunk['content']}" if where else str(chunk["content"])


def document_context(conn: psycopg.Connection[Row], document_id: UUID) -> str:
    """The document's opening words (its first chunk's first ``CONTEXT_CHARS`` characters, markup and
    spacing dropped): what it is and whom it covers, carried into every other chunk's embedded text."""
    row = one(conn, "first_chunk", {"document_id": document_id})
    if row is None:
        return ""
    text = " ".join(re.sub(r"[#|*_>`-]+", " ", str(row["content"])).split())
    return text[:CONTEXT_CHARS]


# Short: MiniLM reads 256 tokens of a ~220-token chunk, and every character here pushes one off its end.
CONTEXT_CHARS = 160


class OutOfTime(Exception):
    """``embed_missing`` stopped before a batch it had no time left for; what it wrote is committed."""

    def __init__(self, written: int) -> None:
        super().__init__(f"stopped after {written} vectors, short of time")
        self.written = written


# Time kept in hand after the last batch (the commit, the part's completion, the next message): this much, or
# a quarter of the time there was to begin with when that is less (a short timeout, as the chaos suite's).
_TIME_MARGIN_SECONDS = 10.0
# The slowest batch this process has seen per model, decaying: a part that starts late in an invocation (the
# third record of a batch of five) judges its first batch by it, rather than starting one it cannot finish.
_SLOWEST_BATCH: dict[tuple[str, int], float] = {}


def embed_missing(
    db: Database,
    *,
    user_id: UUID,
    document_id: UUID,
    embedder: Embedder,
    batch_size: int,
    before_write: Callable[[], None] = lambda: None,
    ordinals: tuple[int, int] | None = None,
    time_left: Callable[[], float] | None = None,
) -> int:
    """Embeds the document's chunks that have no vector of the model yet and writes each batch in its own
    committed transaction, straight into the model's table: no transaction grows with the document, a
    retry embeds only what is still missing, and each vector is written once. Returns how many it wrote.

    ``ordinals`` (inclusive) limits it to one part of a large document. With ``time_left`` (seconds the
    invocation has), a batch that would not fit, judged by the slowest batch seen (here, or earlier in this
    process), is not begun: ``OutOfTime`` is raised instead, and the next invocation carries on from what
    is missing. A fresh invocation always fits a batch its function's timeout is sized for, so parts progress."""
    first, last = ordinals if ordinals is not None else (None, None)
    with db.transaction(user_id) as conn:
        table = ensure_vector_table(conn, embedder.model, embedder.dimensions)
        pending = conn.execute(
            _query("chunks_to_embed", table), {"document_id": document_id, "first": first, "last": last}
        ).fetchall()
        context = document_context(conn, document_id) if pending else ""
    key = (embedder.model, embedder.dimensions)
    margin = min(_TIME_MARGIN_SECONDS, time_left() / 4) if time_left is not None else 0.0
    slowest = 0.0
    for start in range(0, len(pending), batch_size):
        if time_left is not None:
            estimate = max(slowest, _SLOWEST_BATCH.get(key, 0.0))
            # The first batch needs only to fit (what it writes is kept); a later one also leaves the margin.
            if time_left() < (1.5 * estimate if start == 0 else 2 * estimate + margin):
                raise OutOfTime(start)
        began = time.monotonic()
        batch = pending[start : start + batch_size]
        texts = [embedded_text(row, "" if row["ordinal"] == 0 else context) for row in batch]
        vectors = [pack_vector(vector) for vector in embedder.embed(texts)]
        before_write()  # e.g. the stage's heartbeat: stop here if the lease was lost
        with db.transaction(user_id) as conn:
            write_vectors(
                conn,
                table,
                [(row["id"], vector) for row, vector in zip(batch, vectors, strict=True)],
                user_id=user_id,
                document_id=document_id,
            )
        took = time.monotonic() - began
        slowest = max(slowest, took)
        _SLOWEST_BATCH[key] = max(took, 0.9 * _SLOWEST_BATCH.get(key, 0.0))
    return len(pending)


def write_vectors(
    conn: psycopg.Connection[Any],
    table: str,
    rows: Sequence[tuple[UUID, PackedVector]],
    *,
    user_id: UUID,
    document_id: UUID,
) -> None:
    """``rows`` (chunk id, vector) into the model's table in the caller's transaction: one binary COPY into a
    staging table (COPY FROM is refused on tables under RLS), then one INSERT … SELECT under the policies.
    A chunk that already has its vector keeps it (a retried batch): the vectors are the same."""
    types = [*_VECTOR_STAGING_TYPES, vector_oid(conn)]
    run(conn, "create_vector_staging")
    with conn.cursor().copy(queries()["copy_vector_staging"]) as copy:
        copy.set_types(types)
        for chunk_id, vector in rows:
            copy.write_row((chunk_id, document_id, user_id, vector))
    conn.execute(_query("insert_vectors_from_staging", table))


def finish_document(
    conn: psycopg.Connection[Row], document_id: UUID, models: Sequence[tuple[str, int]]
) -> tuple[str, int]:
    """In the embed stage's last transaction: every chunk has a vector of each of ``models`` (the configured
    one first) and of the user's search model, or the transaction fails and the retry embeds the rest.
    A user's first vectors make their model the one they search with. Returns the user's search model."""
    current = one(conn, "lock_search_model")
    searched = (current["model"], current["dimensions"]) if current else models[0]
    for model, dimensions in dict.fromkeys([*models, searched]):
        table = vector_table(conn, model, dimensions)
        missing = (
            conn.execute(_query("count_unembedded_chunks", table), {"document_id": document_id}).fetchone()
            if table
            else None
        )
        if table is None or (missing and missing["n"]):
            count = missing["n"] if missing else "all"
            raise TransientError(f"{count} chunks still lack a vector of {model}", code=ErrorCode.EMBEDDING_INCOMPLETE)
    if current is None:
        run(conn, "adopt_search_model", {"model": searched[0], "dimensions": searched[1]})
    return searched


@dataclass(frozen=True)
class Reembedded:
    document_id: UUID
    user_id: UUID
    vectors: int


@dataclass(frozen=True)
class Switched:
    """A user's search model after ``switch_users``: ``missing`` chunks lacked a vector of it (not switched)."""

    user_id: UUID
    model: str
    dimensions: int
    switched: bool
    missing: int


def reembed_documents(
    admin: psycopg.Connection[Row],
    worker: Database,
    embedder: Embedder,
    *,
    batch_size: int,
    user_id: UUID | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> list[Reembedded]:
    """Embeds every ready document (of one user, or all) that lacks vectors of ``embedder``'s model into
    the model's own table, beside the vectors users search now: nothing they search changes until
    ``switch_users``. Safe to stop and run again: each batch is committed and only what is missing is made."""
    table = ensure_vector_table(admin, embedder.model, embedder.dimensions)
    documents = admin.execute(_query("documents_to_reembed", table), {"user_id": user_id}).fetchall()
    done: list[Reembedded] = []
    for position, row in enumerate(documents, start=1):
        owner, document_id = row["user_id"], row["document_id"]
        count = embed_missing(worker, user_id=owner, document_id=document_id, embedder=embedder, batch_size=batch_size)
        with worker.transaction(owner) as conn:
            append_event(
                conn,
                "reembedded",
                user_id=owner,
                document_id=document_id,
                job_id=row["job_id"],
                details={"model": embedder.model, "dimensions": embedder.dimensions, "vectors": count},
            )
        done.append(Reembedded(document_id, owner, count))
        progress(position, len(documents))
    return done


def switch_users(
    admin: psycopg.Connection[Row],
    worker: Database,
    model: str,
    dimensions: int,
    *,
    user_id: UUID | None = None,
) -> list[Switched]:
    """Switches each user (one, or every user with ready documents) to search with ``model`` once every chunk
    of their ready documents has a vector of it; a user still missing some stays where they are. Switching
    back to the previous model is the rollback, as long as its vectors have not been finalized away."""
    table = vector_table(admin, model, dimensions)
    users = [row["user_id"] for row in admin.execute(queries()["users_with_documents"], {"user_id": user_id})]
    results: list[Switched] = []
    for owner in users:
        with worker.transaction(owner) as conn:
            one(conn, "lock_search_model")  # an embed finishing now sees the switch, or finishes before it
            missing = conn.execute(_query("user_unembedded_chunks", table)).fetchone() if table else None
            lacking = int(missing["n"]) if missing else -1
            if lacking == 0:
                run(conn, "switch_search_model", {"model": model, "dimensions": dimensions})
                append_event(
                    conn, "search_model_switched", user_id=owner, details={"model": model, "dimensions": dimensions}
                )
        results.append(Switched(owner, model, dimensions, lacking == 0, max(lacking, 0)))
    return results


@dataclass(frozen=True)
class Finalized:
    model: str
    dimensions: int
    deleted_vectors: int
    dropped_tables: list[str]


def finalize_model(
    admin: psycopg.Connection[Row], model: str, dimensions: int, *, keep: Sequence[tuple[str, int]]
) -> Finalized:
    """For the users who search with ``model``: their vectors of every other model go (no rollback for them
    after this). A model's table that no user searches, that holds no vector any more and is not in ``keep``
    (the model configured for new uploads) is dropped with its registry row."""
    deleted = 0
    dropped: list[str] = []
    with admin.transaction():
        for row in admin.execute(queries()["vector_tables"]).fetchall():
            if (row["model"], row["dimensions"]) == (model, dimensions):
                continue
            cur = admin.execute(
                _query("delete_vectors_of_switched_users", row["table_name"]),
                {"model": model, "dimensions": dimensions},
            )
            deleted += cur.rowcount
        for row in admin.execute(queries()["unused_vector_tables"]).fetchall():
            table = row["table_name"]
            if (row["model"], row["dimensions"]) in {*keep, (model, dimensions)}:
                continue
            # A table that still holds vectors is some re-embed's work (one not switched to yet): kept.
            held = admin.execute(
                sql.SQL("SELECT EXISTS (SELECT 1 FROM {}) AS held").format(sql.Identifier(table))
            ).fetchone()
            if held and held["held"]:
                continue
            admin.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(table)))
            run(admin, "delete_vector_table_row", {"model": row["model"], "dimensions": row["dimensions"]})
            dropped.append(table)
    return Finalized(model, dimensions, deleted, dropped)


def create_ann_index(admin: psycopg.Connection[Row], model: str, dimensions: int) -> str:
    """An HNSW index on the model's table, on request (docs/decisions.md says when approximate search is
    worth it). Filtered per-user search through an index needs pgvector's iterative scans (0.8): with an
    older pgvector the index would return fewer than k results to a user with few chunks among many, so it
    is refused there. Search turns iterative scans on for a model whose table has the index."""
    row = admin.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    version = str(row["extversion"]) if row else "0"
    if tuple(int(part) for part in version.split(".")[:2]) < (0, 8):
        raise RuntimeError(
            f"pgvector {version} has no iterative index scans (0.8 has): an approximate index would drop"
            " results of per-user search, so search stays exact"
        )
    table = vector_table(admin, model, dimensions)
    if table is None:
        raise RuntimeError(f"no vectors of {model} ({dimensions} dimensions)")
    name = f"{table}_hnsw"
    # CONCURRENTLY cannot run in a transaction, so these are session settings, undone after.
    admin.execute("SET maintenance_work_mem = '256MB'")
    admin.execute("SET ROLE docintake_owner")  # the index belongs to the table's owner
    try:
        admin.execute(
            sql.SQL("CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} USING hnsw (embedding vector_cosine_ops)").format(
                sql.Identifier(name), sql.Identifier(table)
            )
        )
    finally:
        admin.execute("RESET ROLE")
        admin.execute("RESET maintenance_work_mem")
    # A build that failed part-way leaves an INVALID index that IF NOT EXISTS would then skip.
    valid = admin.execute(
        "SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = to_regclass(%s)", [name]
    ).fetchone()
    if not valid or not valid["valid"]:
        raise RuntimeError(f"{name} is not valid (a failed build?): drop it and run again")
    run(admin, "mark_ann_index", {"model": model, "dimensions": dimensions, "ann_index": True})
    return name
