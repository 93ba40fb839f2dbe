"""Vectors in PostgreSQL: batches into the buffer, the one-transaction swap into document_chunks, exact
per-user search, and re-embedding documents with another model in the shadow of the current one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg

from docintake.db import Database, Row, one, queries, run
from docintake.embedding import Embedder, vector_literal
from docintake.errors import TransientError


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
