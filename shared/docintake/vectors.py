"""Vectors in PostgreSQL: batches into the buffer, the one-transaction swap into document_chunks, exact
per-user search, and re-embedding documents with another model in the shadow of the current one.

Vectors travel in pgvector's binary form (``pack_vector``) through binary COPY: formatting 1,536 floats as
text cost more than writing them (bench/store)."""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.adapt import Buffer, Dumper
from psycopg.pq import Format
from psycopg.types import TypeInfo

from docintake.db import Database, Row, one, queries, run
from docintake.embedding import Embedder, vector_literal
from docintake.errors import TransientError
from docintake.events import append_event

# Column types of the staging COPYs, in their column order (queries.sql).
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
_BUFFER_STAGING_TYPES: list[int | str] = ["uuid", "uuid", "uuid", "uuid", "text", "int4"]


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


@dataclass
class Embedded:
    """What ``embed_missing`` did: ``count`` vectors made, all in the buffer but ``held``, the last batch,
    which ``swap_in`` stages in the swap's transaction (one write instead of a buffer row and its deletion).
    Lost if that transaction fails: a retry embeds that one batch again."""

    count: int = 0
    held: list[tuple[UUID, PackedVector]] = field(default_factory=list)


def model_params(document_id: UUID, embedder: Embedder) -> dict[str, Any]:
    return {"document_id": document_id, "model": embedder.model, "dimensions": embedder.dimensions}


def embed_missing(
    db: Database,
    *,
    user_id: UUID,
    document_id: UUID,
    job_id: UUID,
    embedder: Embedder,
    batch_size: int,
    before_write: Callable[[], None] = lambda: None,
) -> Embedded:
    """Embeds the document's chunks that have no vector of the model yet, neither in place nor buffered,
    committing each batch but the last into the buffer: a retry embeds only what is still missing."""
    params = model_params(document_id, embedder)
    with db.transaction(user_id) as conn:
        run(conn, "delete_stale_buffer", params)
        pending = run(conn, "chunks_to_embed", params)
    embedded = Embedded(count=len(pending))
    for start in range(0, len(pending), batch_size):
        batch = pending[start : start + batch_size]
        vectors = [pack_vector(vector) for vector in embedder.embed([row["content"] for row in batch])]
        before_write()  # e.g. the stage's heartbeat: stop here if the lease was lost
        rows = [(row["id"], vector) for row, vector in zip(batch, vectors, strict=True)]
        if start + batch_size >= len(pending):
            embedded.held = rows
            break
        with db.transaction(user_id) as conn:
            _stage_vectors(conn, rows, user_id=user_id, document_id=document_id, job_id=job_id, embedder=embedder)
            run(conn, "insert_buffer_from_staging")
    return embedded


def _stage_vectors(
    conn: psycopg.Connection[Row],
    rows: list[tuple[UUID, PackedVector]],
    *,
    user_id: UUID,
    document_id: UUID,
    job_id: UUID,
    embedder: Embedder,
) -> None:
    """``rows`` into this transaction's buffer_staging, by one binary COPY."""
    types = [*_BUFFER_STAGING_TYPES, vector_oid(conn)]
    run(conn, "create_buffer_staging")
    with conn.cursor().copy(queries()["copy_buffer_staging"]) as copy:
        copy.set_types(types)
        for chunk_id, vector in rows:
            copy.write_row((chunk_id, document_id, user_id, job_id, embedder.model, embedder.dimensions, vector))


def swap_in(
    conn: psycopg.Connection[Row],
    document_id: UUID,
    embedder: Embedder,
    embedded: Embedded,
    *,
    user_id: UUID,
    job_id: UUID,
) -> None:
    """In the caller's transaction: every vector of the model, buffered or held, replaces its chunk's, the
    buffer is emptied, and a chunk still without one fails the transaction (readers keep the old set).
    Once per transaction: it creates the transaction's buffer_staging."""
    params = model_params(document_id, embedder)
    _stage_vectors(conn, embedded.held, user_id=user_id, document_id=document_id, job_id=job_id, embedder=embedder)
    run(conn, "swap_embeddings", params)
    run(conn, "delete_embedding_buffer", params)
    missing = one(conn, "count_unembedded_chunks", params)
    if missing and missing["n"]:
        raise TransientError(f"{missing['n']} chunks still lack a vector", code="embedding_incomplete")


@dataclass(frozen=True)
class SearchHit:
    chunk_id: UUID
    document_id: UUID
    filename: str
    page_start: int
    page_end: int
    heading_path: list[str]
    # Each section the chunk holds, as heading paths; heading_path is their common prefix. Empty for a
    # chunk written before sections were stored.
    sections: list[list[str]]
    score: float
    content: str


def search(
    db: Database,
    user_id: UUID,
    query: str,
    *,
    k: int,
    embedder_for: Callable[[str, int], Embedder],
    document_ids: Sequence[UUID] | None = None,
) -> list[SearchHit]:
    """The user's top-k chunks by cosine similarity, exact, through RLS. The query is embedded with each
    model the user's documents were embedded with (more than one while a re-embed is under way)."""
    ids = list(document_ids) if document_ids else None
    hits: list[SearchHit] = []
    with db.transaction(user_id) as conn:
        for model in run(conn, "search_models", {"document_ids": ids}):
            vector = embedder_for(model["model"], model["dimensions"]).embed([query])[0]
            rows = run(
                conn,
                "search_chunks",
                {
                    "query": vector_literal(vector),
                    "model": model["model"],
                    "dimensions": model["dimensions"],
                    "document_ids": ids,
                    "k": k,
                },
            )
            hits += [SearchHit(**{**row, "score": float(row["score"])}) for row in rows]
    hits.sort(key=lambda hit: (-hit.score, str(hit.chunk_id)))
    return hits[:k]


def vector_index_name(model: str, dimensions: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")[:40]
    return f"document_chunks_hnsw_{slug}_{dimensions}"


def ensure_vector_index(admin: psycopg.Connection[Any], model: str, dimensions: int) -> str:
    """The model's HNSW index (partial, on its dimension), created as the tables' owner if missing."""
    name = vector_index_name(model, dimensions)
    with admin.transaction():
        admin.execute("SET LOCAL ROLE docintake_owner")
        admin.execute("SET LOCAL maintenance_work_mem = '256MB'")
        admin.execute(
            sql.SQL(
                "CREATE INDEX IF NOT EXISTS {} ON document_chunks"
                " USING hnsw ((embedding::vector({})) vector_cosine_ops)"
                " WHERE embedding_model = {} AND embedding_dimensions = {}"
            ).format(sql.Identifier(name), sql.Literal(dimensions), sql.Literal(model), sql.Literal(dimensions))
        )
    return name


@dataclass(frozen=True)
class Reembedded:
    document_id: UUID
    user_id: UUID
    vectors: int


def reembed_documents(
    admin: psycopg.Connection[Any],
    worker: Database,
    embedder: Embedder,
    *,
    batch_size: int,
    user_id: UUID | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> list[Reembedded]:
    """Re-embeds every ready document (of one user, or all) whose chunks are not on ``embedder``'s model,
    in the shadow of the current vectors: new ones fill the buffer while search keeps using the old, then
    one transaction per document swaps them in. Safe to stop and run again: it resumes from the buffer."""
    ensure_vector_index(admin, embedder.model, embedder.dimensions)
    documents = admin.execute(
        queries()["documents_to_reembed"],
        {"model": embedder.model, "dimensions": embedder.dimensions, "user_id": user_id},
    ).fetchall()
    done: list[Reembedded] = []
    for position, (document_id, owner, job_id) in enumerate(documents, start=1):
        embedded = embed_missing(
            worker, user_id=owner, document_id=document_id, job_id=job_id, embedder=embedder, batch_size=batch_size
        )
        with worker.transaction(owner) as conn:
            swap_in(conn, document_id, embedder, embedded, user_id=owner, job_id=job_id)
            append_event(
                conn,
                "reembedded",
                user_id=owner,
                document_id=document_id,
                job_id=job_id,
                details={"model": embedder.model, "dimensions": embedder.dimensions, "vectors": embedded.count},
            )
        done.append(Reembedded(document_id, owner, embedded.count))
        progress(position, len(documents))
    return done
