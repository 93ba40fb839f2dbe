"""The write half of bench/store: the same chunk rows and vectors written by each contender into a fresh
database cloned from the migrated template, timed from the first statement to the last commit.

Contenders:

- ``docintake``: the pipeline's code as it is. Per document, as docintake_worker with ``app.user_id`` set
  per transaction (``Database.transaction``): ``chunk_work``'s write (delete, binary staging COPY,
  INSERT … SELECT: its named queries in its order, as that closure needs S3 and a claim), then
  ``docintake.vectors.embed_missing`` (one transaction for ``chunks_to_embed``, one per batch of
  ``embed_batch_size`` but the last for the buffer: binary staging COPY + INSERT … SELECT) with an embedder
  that looks the vectors up, then ``docintake.vectors.swap_in`` in one transaction (the last batch staged
  and swapped in with the buffered ones). Job bookkeeping (claim, heartbeat, complete_stage, events,
  document status) is left out.
- ``one staged write`` (reference): each document's final rows, vectors included, through one binary
  staging COPY + INSERT … SELECT as the worker under RLS: what a path that writes each row once could reach.
- ``plain COPY``: as the superuser (no RLS), one binary COPY of the final rows into document_chunks.
- ``executemany``: as the superuser, ``executemany`` of one INSERT per row with binary parameters, one
  transaction (psycopg pipelines it).

Rows and vectors are built before the clock starts; turning a vector into text or bytes is timed.
For docintake each named query, ``pack_vector`` and each transaction's BEGIN and COMMIT are timed too
(``Steps``), which is where the time goes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock
from uuid import UUID

import numpy as np
import psycopg
from psycopg import sql

from bench.store.vectors import BinaryVector, column_oids, register_binary_vector
from docintake import vectors as docintake_vectors
from docintake.chunking import chunk_markdown
from docintake.config import Settings
from docintake.db import Database, Row, queries, run
from docintake.local.sample_documents import policy_markdown
from docintake.parsing import PageMap
from docintake.vectors import CHUNK_STAGING_TYPES, pack_vector

# A realistic model name per dimension, so each run's rows look like what the pipeline writes.
MODELS = {384: "docintake-hash-v1", 1536: "text-embedding-3-small"}
BATCH = int(Settings.model_fields["embed_batch_size"].default)
CHARS_PER_PAGE = 3000
CHUNK_COLUMNS = (
    "id",
    "document_id",
    "user_id",
    "ordinal",
    "content",
    "heading_path",
    "page_start",
    "page_end",
    "char_count",
    "content_hash",
    "sections",
)
FINAL_COLUMNS = (*CHUNK_COLUMNS, "embedding", "embedding_model", "embedding_dimensions")
REMAINDER = "buffer COPYs: write_row and sending (the rest)"

ChunkRow = tuple[UUID, UUID, UUID, int, str, list[str], int, int, int, str, list[list[str]]]


@dataclass(frozen=True)
class Document:
    id: UUID
    user_id: UUID
    job_id: UUID
    chunks: list[ChunkRow]


@dataclass(frozen=True)
class Workload:
    documents: list[Document]
    dimensions: int
    vectors: dict[str, list[float]]  # chunk content -> unit vector: equal texts, equal vectors

    @property
    def rows(self) -> int:
        return sum(len(doc.chunks) for doc in self.documents)

    @property
    def model(self) -> str:
        return MODELS.get(self.dimensions, f"bench-random-{self.dimensions}")


class LookupEmbedder:
    """An Embedder whose vectors were made in advance: the benchmark times writing, not embedding."""

    def __init__(self, work: Workload) -> None:
        self.model, self.dimensions, self._vectors = work.model, work.dimensions, work.vectors

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self._vectors[text] for text in texts]


@dataclass
class Steps:
    """Seconds spent per named step, summed over documents."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def timed(self, fn: Callable[..., Any], name: Callable[..., str]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.step(name(*args, **kwargs)):
                return fn(*args, **kwargs)

        return wrapper


class TimedDatabase(Database):
    """``Database`` whose transactions time their BEGIN + set_config and their COMMIT."""

    def __init__(self, url: str, steps: Steps) -> None:
        super().__init__(url)
        self.steps = steps

    @contextmanager
    def transaction(self, user_id: UUID | str | None = None) -> Iterator[psycopg.Connection[Row]]:
        stack = ExitStack()
        with self.steps.step("transactions: BEGIN + set_config"):
            tx = stack.enter_context(super().transaction(user_id))
        with stack:  # rolls back if the body raises
            yield tx
            committing = time.perf_counter()
        self.steps.add("transactions: COMMIT", time.perf_counter() - committing)


@dataclass(frozen=True)
class WriteResult:
    contender: str
    dimensions: int
    rows: int
    seconds: float
    steps: dict[str, float]
    max_vector_error: float = 0.0  # set by check_rows

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def random_uuid(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


def chunk_documents(documents: int, chunks_per_document: int, users: int, seed: int) -> list[Document]:
    """``documents`` generated policies (a seed each) chunked with the default settings, spread over ``users``."""
    rng = random.Random(seed)
    user_ids = [random_uuid(rng) for _ in range(users)]
    result = []
    for index in range(documents):
        document_id, job_id = random_uuid(rng), random_uuid(rng)
        approx_bytes = chunks_per_document * 1000
        while True:
            markdown = policy_markdown(approx_bytes, seed=seed + index)
            pages = range(1, len(markdown) // CHARS_PER_PAGE + 2)
            page_map = PageMap(tuple(pages), tuple(range(0, len(markdown), CHARS_PER_PAGE)))
            chunks = chunk_markdown(markdown, page_map)
            if len(chunks) >= chunks_per_document:
                break
            approx_bytes *= 2
        user_id = user_ids[index % users]
        rows: list[ChunkRow] = [
            (
                chunk.chunk_id(document_id),
                document_id,
                user_id,
                chunk.ordinal,
                chunk.content,
                list(chunk.heading_path),
                chunk.page_start,
                chunk.page_end,
                chunk.chars,
                chunk.content_hash,
                [list(section) for section in chunk.sections],
            )
            for chunk in chunks[:chunks_per_document]
        ]
        result.append(Document(document_id, user_id, job_id, rows))
    return result


def unit_vectors(count: int, dimensions: int, seed: int) -> np.ndarray:
    """Seeded random unit vectors, float32 like pgvector's."""
    matrix = np.random.default_rng(seed).standard_normal((count, dimensions), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


def workload(documents: list[Document], dimensions: int, seed: int) -> Workload:
    texts = list(dict.fromkeys(row[4] for doc in documents for row in doc.chunks))
    matrix = unit_vectors(len(texts), dimensions, seed + dimensions)
    return Workload(documents, dimensions, dict(zip(texts, matrix.tolist(), strict=True)))


def insert_parents(conn: psycopg.Connection[Any], documents: list[Document], status: str = "processing") -> None:
    """documents and upload_jobs rows (as the superuser), as they stand when the chunk stage starts."""
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO documents (id, user_id, filename, content_type, size_bytes, sha256_declared, s3_key, "
            "status) VALUES (%s, %s, %s, 'application/pdf', 1000000, %s, %s, %s)",
            [
                (d.id, d.user_id, f"policy-{d.id}.pdf", "0" * 64, f"uploads/{d.user_id}/{d.id}", status)
                for d in documents
            ],
        )
        cur.executemany(
            "INSERT INTO upload_jobs (id, document_id, user_id, stage, state, correlation_id) "
            "VALUES (%s, %s, %s, 'chunking', 'in_progress', %s)",
            [(d.job_id, d.id, d.user_id, f"bench-{d.id}") for d in documents],
        )


def ann_indexes(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(name, definition) of the HNSW and IVFFlat indexes on document_chunks."""
    return conn.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
        "WHERE i.indrelid = 'document_chunks'::regclass AND a.amname IN ('hnsw', 'ivfflat') ORDER BY 1"
    ).fetchall()


def drop_ann_indexes(conn: psycopg.Connection[Any]) -> list[str]:
    """Drops the ANN indexes of document_chunks; returns their definitions, to build them again."""
    indexes = ann_indexes(conn)
    for name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    return [definition for _, definition in indexes]


def _binary(copy_statement: str) -> str:
    return copy_statement.rstrip().rstrip(";") + " WITH (FORMAT BINARY)"


def _write_chunks(db: Database, doc: Document, steps: Steps) -> None:
    """chunk_work's write: its named queries in its order."""
    params = {"document_id": doc.id}
    with db.transaction(doc.user_id) as tx:
        with steps.step("sql delete_document_chunks"):
            run(tx, "delete_document_chunks", params)
        with steps.step("sql create_chunk_staging"):
            run(tx, "create_chunk_staging")
        copy_chunks = queries()["copy_chunk_staging"]
        with steps.step("chunk COPY: write_row and sending"), tx.cursor().copy(copy_chunks) as copy:
            copy.set_types(CHUNK_STAGING_TYPES)
            for row in doc.chunks:
                copy.write_row(row)
        with steps.step("sql insert_chunks_from_staging"):
            run(tx, "insert_chunks_from_staging")


def write_docintake(worker_url: str, work: Workload) -> WriteResult:
    """Every document through the chunk write, the buffer and the swap, as the worker role under RLS."""
    steps = Steps()
    db = TimedDatabase(worker_url, steps)
    embedder = LookupEmbedder(work)
    with ExitStack() as patches:
        # Time the named queries and pack_vector inside docintake.vectors, without changing what runs.
        query_name: Callable[..., str] = lambda conn, name, params=None: f"sql {name}"  # noqa: E731
        for attribute in ("run", "one"):
            timed = steps.timed(getattr(docintake_vectors, attribute), query_name)
            patches.enter_context(mock.patch.object(docintake_vectors, attribute, timed))
        timed_pack = steps.timed(pack_vector, lambda vector: "pack_vector")
        patches.enter_context(mock.patch.object(docintake_vectors, "pack_vector", timed_pack))
        started = time.perf_counter()
        for doc in work.documents:
            _write_chunks(db, doc, steps)
            embedded = docintake_vectors.embed_missing(
                db,
                user_id=doc.user_id,
                document_id=doc.id,
                job_id=doc.job_id,
                embedder=embedder,
                batch_size=BATCH,
            )
            with db.transaction(doc.user_id) as tx:
                docintake_vectors.swap_in(tx, doc.id, embedder, embedded, user_id=doc.user_id, job_id=doc.job_id)
        seconds = time.perf_counter() - started
    db.close()
    steps.add(REMAINDER, seconds - sum(steps.seconds.values()))
    return WriteResult("docintake", work.dimensions, work.rows, seconds, steps.seconds)


def write_one_pass(worker_url: str, work: Workload) -> WriteResult:
    """Reference: each document's final rows, vectors included, through one binary staging COPY and one
    INSERT … SELECT, as the worker under RLS: the least a write path that stages through a temp table can do."""
    db = Database(worker_url)
    conn = db.connection()
    register_binary_vector(conn)
    types = column_oids(conn, "document_chunks", FINAL_COLUMNS)
    columns = ", ".join(FINAL_COLUMNS)
    copy_statement = f"COPY chunk_staging ({columns}) FROM STDIN WITH (FORMAT BINARY)"
    insert = f"INSERT INTO document_chunks ({columns}) SELECT {columns} FROM chunk_staging ORDER BY ordinal"
    model, dims = work.model, work.dimensions
    started = time.perf_counter()
    for doc in work.documents:
        with db.transaction(doc.user_id) as tx:
            run(tx, "delete_document_chunks", {"document_id": doc.id})
            run(tx, "create_chunk_staging")
            with tx.cursor().copy(copy_statement) as copy:
                copy.set_types(types)
                for row in doc.chunks:
                    copy.write_row((*row, pack_vector(work.vectors[row[4]]), model, dims))
            tx.execute(insert)
    seconds = time.perf_counter() - started
    db.close()
    return WriteResult("reference: one staged write per document under RLS", dims, work.rows, seconds, {})


def _final_rows(work: Workload, vector: Callable[[list[float]], Any]) -> Iterator[tuple[Any, ...]]:
    model, dims = work.model, work.dimensions
    for doc in work.documents:
        for row in doc.chunks:
            yield (*row, vector(work.vectors[row[4]]), model, dims)


def write_plain_copy(admin_url: str, work: Workload) -> WriteResult:
    """One binary COPY of the final rows, as the superuser."""
    with psycopg.connect(admin_url) as conn:
        register_binary_vector(conn)
        types = column_oids(conn, "document_chunks", FINAL_COLUMNS)
        statement = f"COPY document_chunks ({', '.join(FINAL_COLUMNS)}) FROM STDIN WITH (FORMAT BINARY)"
        started = time.perf_counter()
        with conn.cursor().copy(statement) as copy:
            copy.set_types(types)
            for row in _final_rows(work, lambda vector: vector):
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - started
    return WriteResult("plain COPY (binary)", work.dimensions, work.rows, seconds, {})


def write_executemany(admin_url: str, work: Workload) -> WriteResult:
    """``executemany`` of one INSERT per row (psycopg pipelines it), binary parameters, as the superuser."""
    with psycopg.connect(admin_url) as conn:
        register_binary_vector(conn)
        placeholders = ", ".join(["%b"] * len(FINAL_COLUMNS))
        statement = f"INSERT INTO document_chunks ({', '.join(FINAL_COLUMNS)}) VALUES ({placeholders})"
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(statement, _final_rows(work, BinaryVector))
        conn.commit()
        seconds = time.perf_counter() - started
    return WriteResult("executemany (binary parameters)", work.dimensions, work.rows, seconds, {})


def check_rows(admin_url: str, work: Workload, sample: int = 200) -> float:
    """Every row is there with a vector of the model. Returns the largest difference, over a sample, between
    a stored float4 and its source: 0 for binary; ``vector_literal``'s 7 digits can miss by about an ulp."""
    content_of = {row[0]: row[4] for doc in work.documents for row in doc.chunks}
    with psycopg.connect(admin_url) as conn:
        count, embedded, of_model = conn.execute(
            "SELECT count(*), count(embedding), count(*) FILTER (WHERE embedding_model = %s "
            "AND embedding_dimensions = %s) FROM document_chunks",
            [work.model, work.dimensions],
        ).fetchone() or (0, 0, 0)
        if not count == embedded == of_model == work.rows:
            raise RuntimeError(f"expected {work.rows} embedded rows, found {count}/{embedded}/{of_model}")
        ids = random.Random(0).sample(sorted(content_of), min(sample, len(content_of)))
        stored = conn.execute("SELECT id, embedding::text FROM document_chunks WHERE id = ANY(%s)", [ids]).fetchall()
    worst = 0.0
    for chunk_id, text in stored:
        got = np.array([float(x) for x in text[1:-1].split(",")], dtype=np.float32)
        source = np.array(work.vectors[content_of[chunk_id]], dtype=np.float32)
        worst = max(worst, float(np.max(np.abs(got - source))))
    if worst > 1e-6:
        raise RuntimeError(f"a stored vector differs from its source by {worst}")
    return worst
