"""The search half of bench/store: per-user exact search for one user with 5,000 chunks among 200,000.

The rows (384 dimensions, 40 users × 10 documents × 500 chunks, documents in shuffled order so a user's
rows lie all over the tables) are loaded as the superuser into a clone of the migrated template: one binary
COPY into document_chunks, one into the model's vector table (made by ``ensure_vector_table`` as the
migrations define it: no ANN index), then VACUUM ANALYZE. Searches run as docintake_api with ``app.user_id``
set, through RLS. Two latencies are kept per query: the plain exact scan alone (``PLAIN_SCAN``, the model's
table by distance), and the whole ``docintake.search.search`` call in vector mode (its transaction,
``active_model``, ``prepare_search``, the ranking and the join for content), which is what the API runs per
request after authorisation.
"""

from __future__ import annotations

import random
import statistics
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import numpy as np
import psycopg
from psycopg import sql

from bench.store.vectors import column_oids, register_binary_vector
from bench.store.write import (
    CHUNK_COLUMNS,
    VECTOR_COLUMNS,
    ChunkRow,
    Document,
    ann_indexes,
    insert_parents,
    random_uuid,
    unit_vectors,
)
from docintake.db import Database
from docintake.embedding import vector_literal
from docintake.search import SearchMode, search

MODEL, DIMENSIONS = "docintake-hash-v1", 384
# The plain exact scan, timed alone as the reference for the API's vector mode: the user's rows of the model's
# table by distance, top k, through RLS (what docintake.search's vector ranking starts from).
PLAIN_SCAN = """
SELECT v.chunk_id, v.embedding <=> %(query)s::vector AS distance
FROM {vectors} v JOIN documents d ON d.id = v.document_id AND d.user_id = v.user_id
WHERE v.user_id = app_user_id() AND d.status = 'ready'
ORDER BY distance, v.chunk_id
LIMIT %(k)s
"""


@dataclass
class SearchResult:
    rows: int
    users: int
    user_rows: int
    table: str = ""
    seconds: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    ann_indexes: list[str] = field(default_factory=list)
    dropped_search_vector: bool = False
    statement_ms: list[float] = field(default_factory=list)
    search_ms: list[float] = field(default_factory=list)
    plan: str = ""
    plan_uses_ann_index: bool = True
    plan_execution_ms: float = 0.0
    recall: float = 0.0
    recall_queries: int = 0
    full_k: bool = False


@dataclass(frozen=True)
class Corpus:
    documents: list[Document]
    target_user: UUID
    target_ids: list[UUID]
    target_vectors: np.ndarray  # rows of target_ids, float32
    packed: dict[UUID, bytes]  # chunk id -> pgvector binary


class QueryEmbedder:
    """The query's vector was drawn in advance: the benchmark times the database, not embedding."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.model, self.dimensions, self._vectors = MODEL, DIMENSIONS, vectors

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self._vectors[text] for text in texts]


def vector_table(conn: psycopg.Connection[Any]) -> str:
    """The search model's table, made as the migrations define it if missing."""
    row = conn.execute("SELECT ensure_vector_table(%s, %s)", [MODEL, DIMENSIONS]).fetchone()
    assert row is not None
    return str(row[0])


def corpus(pool: list[ChunkRow], users: int, documents_per_user: int, chunks_per_document: int, seed: int) -> Corpus:
    """Chunk rows whose text cycles through ``pool``, with random unit vectors; the first user is searched."""
    rng = random.Random(seed)
    user_ids = [random_uuid(rng) for _ in range(users)]
    documents: list[Document] = []
    position = 0
    for user_id in user_ids:
        for _ in range(documents_per_user):
            document_id = random_uuid(rng)
            rows: list[ChunkRow] = []
            for ordinal in range(chunks_per_document):
                source = pool[position % len(pool)]
                position += 1
                rows.append((random_uuid(rng), document_id, user_id, ordinal, *source[4:]))
            documents.append(Document(document_id, user_id, random_uuid(rng), rows))
    rows_in_order = [row for doc in documents for row in doc.chunks]
    ids = [row[0] for row in rows_in_order]
    matrix = unit_vectors(len(ids), DIMENSIONS, seed)
    header = struct.pack(">HH", DIMENSIONS, 0)
    big_endian = matrix.astype(">f4")
    packed = {chunk_id: header + big_endian[i].tobytes() for i, chunk_id in enumerate(ids)}
    target = user_ids[0]
    target_positions = [i for i, row in enumerate(rows_in_order) if row[2] == target]
    rng.shuffle(documents)  # load order: a user's documents arrive over time, between other users'
    return Corpus(
        documents,
        target,
        [ids[i] for i in target_positions],
        matrix[target_positions],
        packed,
    )


def _copy(conn: psycopg.Connection[Any], table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT BINARY)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    types = column_oids(conn, table, columns)
    with conn.transaction(), conn.cursor().copy(statement) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def load(admin_url: str, data: Corpus, result: SearchResult, log: Any) -> None:
    """The chunks and their vectors by binary COPY as the superuser, every user on the model, then ANALYZE."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        register_binary_vector(conn)
        result.table = table = vector_table(conn)
        insert_parents(conn, data.documents, status="ready")
        # The full-text column (migration 0013) costs ~1 ms a row to compute on COPY and vector search never
        # reads it: dropped here so 200,000 rows load in seconds, not minutes.
        result.dropped_search_vector = bool(
            conn.execute(
                "SELECT 1 FROM pg_attribute WHERE attrelid = 'document_chunks'::regclass AND attname = 'search_vector'"
                " AND NOT attisdropped"
            ).fetchone()
        )
        conn.execute("ALTER TABLE document_chunks DROP COLUMN IF EXISTS search_vector")
        users = sorted({doc.user_id for doc in data.documents})
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO user_search_models (user_id, model, dimensions) VALUES (%s, %s, %s)",
                [(user, MODEL, DIMENSIONS) for user in users],
            )
        started = time.perf_counter()
        _copy(conn, "document_chunks", CHUNK_COLUMNS, (row for doc in data.documents for row in doc.chunks))
        result.seconds["load: COPY document_chunks"] = time.perf_counter() - started
        started = time.perf_counter()
        _copy(
            conn,
            table,
            VECTOR_COLUMNS,
            ((row[0], doc.id, doc.user_id, data.packed[row[0]]) for doc in data.documents for row in doc.chunks),
        )
        result.seconds["load: COPY vectors"] = time.perf_counter() - started
        log(f"loaded {result.rows:,} chunks and vectors")
        started = time.perf_counter()
        for name in ("document_chunks", table, "documents", "user_search_models"):
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(name)))
        result.seconds["load: VACUUM ANALYZE"] = time.perf_counter() - started
        result.ann_indexes = ann_indexes(conn, table)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latency(values: list[float]) -> dict[str, float]:
    return {
        "p50": _percentile(values, 0.50),
        "p95": _percentile(values, 0.95),
        "p99": _percentile(values, 0.99),
        "mean": statistics.fmean(values),
    }


def _plan_nodes(node: dict[str, Any], depth: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    yield depth, node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child, depth + 1)


def _describe(node: dict[str, Any]) -> str:
    text = str(node["Node Type"])
    if node.get("Sort Method"):
        text += f" ({node['Sort Method']})"
    if node.get("Index Name"):
        text += f" on {node['Index Name']}"
    elif node.get("Relation Name"):
        text += f" on {node['Relation Name']}"
    return text


def measure(api_url: str, data: Corpus, result: SearchResult, queries_count: int, k: int, seed: int) -> None:
    """Latency of ``queries_count`` random queries, the plan, and recall@k against brute force."""
    query_vectors = unit_vectors(queries_count + 10, DIMENSIONS, seed + 1)
    texts = [f"query {i}" for i in range(len(query_vectors))]
    embedder = QueryEmbedder(dict(zip(texts, query_vectors.tolist(), strict=True)))
    db = Database(api_url)
    statement = sql.SQL(PLAIN_SCAN).format(vectors=sql.Identifier(result.table))  # type: ignore[arg-type]

    def params(text: str) -> dict[str, Any]:
        return {"query": vector_literal(embedder.embed([text])[0]), "k": k}

    def run_search(text: str) -> list[Any]:
        return search(
            db, data.target_user, text, k=k, embedder_for=lambda model, dims: embedder, mode=SearchMode.VECTOR
        )

    started = time.perf_counter()
    for text in texts[:10]:  # warm-up: caches and the connection, as in a container that has served before
        run_search(text)
    for text in texts[10:]:
        query_params = params(text)
        with db.transaction(data.target_user) as tx:
            begun = time.perf_counter()
            tx.execute(statement, query_params).fetchall()
            result.statement_ms.append((time.perf_counter() - begun) * 1000)
    for text in texts[10:]:
        begun = time.perf_counter()
        run_search(text)
        result.search_ms.append((time.perf_counter() - begun) * 1000)
    result.seconds["queries"] = time.perf_counter() - started

    with db.transaction(data.target_user) as tx:
        explain = sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) {}").format(statement)
        row = tx.execute(explain, params(texts[10])).fetchone()
    plan = row["QUERY PLAN"][0] if row else {}
    nodes = list(_plan_nodes(plan.get("Plan", {})))
    result.plan = " → ".join(_describe(node) for _, node in nodes)
    result.plan_uses_ann_index = any(node.get("Index Name") in result.ann_indexes for _, node in nodes) or any(
        "hnsw" in str(node.get("Index Name", "")) or "ivfflat" in str(node.get("Index Name", "")) for _, node in nodes
    )
    result.plan_execution_ms = float(plan.get("Execution Time", 0.0))

    # Brute force over the user's stored vectors, with the query as the database received it (7 digits).
    recalls, full = [], True
    candidates = data.target_vectors.astype(np.float64)
    for text in texts[10:15]:
        hits = run_search(text)
        full &= len(hits) == k
        sent = np.array([float(x) for x in params(text)["query"][1:-1].split(",")], dtype=np.float32)
        distances = 1.0 - candidates @ sent.astype(np.float64) / np.linalg.norm(sent.astype(np.float64))
        truth = {data.target_ids[i] for i in np.argsort(distances, kind="stable")[:k]}
        recalls.append(len(truth & {hit.chunk_id for hit in hits}) / k)
    result.recall, result.recall_queries, result.full_k = statistics.fmean(recalls), len(recalls), full
    db.close()
