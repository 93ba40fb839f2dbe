"""Vectors in PostgreSQL: batches into the buffer, the one-transaction swap into document_chunks, exact
per-user search, and re-embedding documents with another model in the shadow of the current one."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from docintake.db import Database, Row, one, queries, run
from docintake.embedding import Embedder, vector_literal
from docintake.errors import TransientError
from docintake.events import append_event


def model_params(document_id: UUID, embedder: Embedder) -> dict[str, Any]:
    return {"document_id": document_id, "model": embedder.model, "dimensions": embedder.dimensions}


def buffer_missing_vectors(
    db: Database,
    *,
    user_id: UUID,
    document_id: UUID,
    job_id: UUID,
    embedder: Embedder,
    batch_size: int,
    before_write: Callable[[], None] = lambda: None,
) -> int:
    """Embeds the document's chunks that have no vector of the model yet, neither in place nor buffered,
    committing each batch into the buffer: a retry embeds only what is still missing. Returns the count."""
    params = model_params(document_id, embedder)
    with db.transaction(user_id) as conn:
        run(conn, "delete_stale_buffer", params)
        pending = run(conn, "chunks_to_embed", params)
    for start in range(0, len(pending), batch_size):
        batch = pending[start : start + batch_size]
        vectors = embedder.embed([row["content"] for row in batch])
        before_write()  # e.g. the stage's heartbeat: stop here if the lease was lost
        with db.transaction(user_id) as conn:
            run(conn, "create_buffer_staging")
            with conn.cursor().copy(queries()["copy_buffer_staging"]) as copy:
                for row, vector in zip(batch, vectors, strict=True):
                    copy.write_row(
                        (
                            row["id"],
                            document_id,
                            user_id,
                            job_id,
                            embedder.model,
                            embedder.dimensions,
                            vector_literal(vector),
                        )
                    )
            run(conn, "insert_buffer_from_staging")
    return len(pending)


def swap_in(conn: psycopg.Connection[Row], document_id: UUID, embedder: Embedder) -> None:
    """In the caller's transaction: every buffered vector of the model replaces its chunk's, the buffer is
    emptied, and a chunk still without one fails the transaction (readers keep the old set)."""
    params = model_params(document_id, embedder)
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
        vectors = buffer_missing_vectors(
            worker, user_id=owner, document_id=document_id, job_id=job_id, embedder=embedder, batch_size=batch_size
        )
        with worker.transaction(owner) as conn:
            swap_in(conn, document_id, embedder)
            append_event(
                conn,
                "reembedded",
                user_id=owner,
                document_id=document_id,
                job_id=job_id,
                details={"model": embedder.model, "dimensions": embedder.dimensions, "vectors": vectors},
            )
        done.append(Reembedded(document_id, owner, vectors))
        progress(position, len(documents))
    return done
