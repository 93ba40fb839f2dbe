"""The peers' store paths in bench/store: the same chunks and precomputed vectors written through
LangChain's ``PGVector.add_embeddings`` (langchain-postgres) and LlamaIndex's ``PGVectorStore.add``, each into
its own fresh database on the same PostgreSQL, as the superuser (no RLS), with the stores' defaults (as in
bench/e2e: no ANN index, JSONB metadata for LangChain).

Each peer gets per chunk the text and the metadata docintake stores (document, user, ordinal, heading path,
pages, sections, hash) and the chunk's id; both are called once per document, as an application adds a
document's chunks. The store objects, their tables and the node/text lists are made before the clock starts;
the clock covers the add calls (turning vectors into SQL, the inserts, the commits)."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from bench.store.write import ChunkRow, Document, Workload, WriteResult, vector_error

LANGCHAIN, LLAMAINDEX = "LangChain PGVector.add_embeddings", "LlamaIndex PGVectorStore.add"


def metadata(doc: Document, row: ChunkRow) -> dict[str, Any]:
    """What docintake stores beside a chunk's text, as JSON."""
    return {
        "document_id": str(doc.id),
        "user_id": str(doc.user_id),
        "ordinal": row[3],
        "heading_path": row[5],
        "page_start": row[6],
        "page_end": row[7],
        "char_count": row[8],
        "content_hash": row[9],
        "sections": row[10],
    }


def write_langchain(url: str, work: Workload) -> WriteResult:
    from bench.e2e.run import sqlalchemy_url  # here: bench.e2e.run imports bench.store.run, which imports this

    """``PGVector.add_embeddings(texts, embeddings, metadatas, ids)`` once per document."""
    from langchain_core.embeddings import Embeddings
    from langchain_postgres import PGVector

    vectors = work.vectors

    class LookupEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [vectors[text] for text in texts]

        def embed_query(self, text: str) -> list[float]:
            return vectors[text]

    store = PGVector(
        embeddings=LookupEmbeddings(),
        collection_name="langchain_chunks",
        connection=sqlalchemy_url(url, "psycopg"),
        use_jsonb=True,
    )
    batches = [
        (
            [row[4] for row in doc.chunks],
            [vectors[row[4]] for row in doc.chunks],
            [metadata(doc, row) for row in doc.chunks],
            [str(row[0]) for row in doc.chunks],
        )
        for doc in work.documents
    ]
    started = time.perf_counter()
    for texts, embeddings, metadatas, ids in batches:
        store.add_embeddings(texts, embeddings, metadatas, ids)
    seconds = time.perf_counter() - started
    store._engine.dispose()  # type: ignore[union-attr]
    content_of = {str(row[0]): row[4] for doc in work.documents for row in doc.chunks}
    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT count(*) FROM langchain_pg_embedding").fetchone()
        if stored is None or stored[0] != work.rows:
            raise RuntimeError(f"LangChain stored {stored} rows of {work.rows}")
        sample = conn.execute("SELECT id, embedding::text FROM langchain_pg_embedding LIMIT 200").fetchall()
    error = vector_error(sample, work, content_of)
    return WriteResult(LANGCHAIN, work.dimensions, work.rows, seconds, {}, error)


def write_llamaindex(url: str, work: Workload) -> WriteResult:
    """``PGVectorStore.add(nodes)`` once per document, with TextNodes that carry their embeddings."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.vector_stores.postgres import PGVectorStore

    from bench.e2e.run import sqlalchemy_url

    store = PGVectorStore(
        connection_string=sqlalchemy_url(url, "psycopg2"),
        async_connection_string=sqlalchemy_url(url, "asyncpg"),
        table_name="llamaindex_chunks",
        embed_dim=work.dimensions,
    )
    store.add([])  # connects and creates the table before the clock starts
    batches = [
        [
            TextNode(
                id_=str(row[0]),
                text=row[4],
                embedding=work.vectors[row[4]],
                metadata=metadata(doc, row),
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=str(doc.id))},
            )
            for row in doc.chunks
        ]
        for doc in work.documents
    ]
    started = time.perf_counter()
    for nodes in batches:
        store.add(nodes)
    seconds = time.perf_counter() - started
    store._engine.dispose()
    content_of = {str(row[0]): row[4] for doc in work.documents for row in doc.chunks}
    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT count(*) FROM data_llamaindex_chunks").fetchone()
        if stored is None or stored[0] != work.rows:
            raise RuntimeError(f"LlamaIndex stored {stored} rows of {work.rows}")
        sample = conn.execute("SELECT node_id, embedding::text FROM data_llamaindex_chunks LIMIT 200").fetchall()
    error = vector_error(sample, work, content_of)
    return WriteResult(LLAMAINDEX, work.dimensions, work.rows, seconds, {}, error)
