"""The write half of bench/store: the same chunk rows and vectors written by each contender into a fresh
database, timed from the first statement to the last commit.

Contenders (the peers are in ``bench.store.peers``):

- ``docintake``: the pipeline's code as it is, per document, as docintake_worker with ``app.user_id`` set per
  transaction (``Database.transaction``): the chunk stage's write (delete, binary COPY into the staging
  table, ``insert_chunks_from_staging``: its named queries in its order, as ``chunk_work`` needs S3 and a
  claim), then ``docintake.vectors.embed_missing`` (one transaction for ``chunks_to_embed``, then one per
  batch of ``embed_batch_size``: ``write_vectors``, a binary COPY into a temp staging table and an
  INSERT … SELECT into the model's table under RLS) with an embedder that looks the vectors up, then the
  embed stage's last transaction: ``docintake.vectors.finish_document`` and the document set ready. Job
  bookkeeping (claim, heartbeat, complete_stage, events) is left out.
- ``one transaction per document`` (reference): the chunk write and ``write_vectors`` of all the document's
  vectors in one transaction, as the worker under RLS: docintake's statements without the per-batch
  transactions, the re-read of pending chunks or the finishing checks.
- ``plain COPY``: as the superuser (no RLS, no staging), one binary COPY into document_chunks and one into
  the model's vector table, one transaction.
- ``executemany``: as the superuser, ``executemany`` of one INSERT per row with binary parameters into each
  table, one transaction (psycopg pipelines it).

The model's table exists before the clock starts (``ensure_vector_table`` in the template): it is made once
per model per deployment. Rows and vectors are built before the clock starts; turning a vector into bytes
is timed. For docintake each statement, COPY, ``pack_vector`` and each transaction's BEGIN and COMMIT are
timed too (``Steps``), which is where the time goes.
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
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from bench.store.vectors import BinaryVector, column_oids, register_binary_vector
from docintake import vectors as docintake_vectors
from docintake.chunking import chunk_markdown
from docintake.config import Settings
from docintake.db import Database, Row, queries, run
from docintake.errors import DependencyUnavailable
from docintake.parsing import PageMap
from docintake.vectors import CHUNK_STAGING_TYPES, pack_vector
from docintake_local.sample_documents import policy_markdown

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
VECTOR_COLUMNS = ("chunk_id", "document_id", "user_id", "embedding")
REMAINDER = "Python between the timed steps (the rest)"
SET_CONFIG = "set_config"

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
        # The stage embeds a chunk as "where it is\n\ntext" (vectors.embedded_text); the prefix holds no blank line.
        return [self._vectors.get(text) or self._vectors[text.split("\n\n", 1)[1]] for text in texts]


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


class _TimedCursor(psycopg.Cursor[Row]):
    """Times each COPY block (rows written and sent, and the server's work) under the statement's name."""

    @contextmanager
    def copy(self, statement: Any, params: Any = None, *, writer: Any = None) -> Iterator[psycopg.Copy]:
        conn = self.connection
        assert isinstance(conn, _TimedConnection)
        with conn.steps.step(conn.name_of(statement)), super().copy(statement, params, writer=writer) as copy:
            yield copy


class _TimedConnection(psycopg.Connection[Row]):
    """A connection that times every statement under the name of its named query (queries.sql), with the
    model's table formatted into the ones that take it."""

    steps: Steps
    names: dict[str, str]

    def name_of(self, statement: Any) -> str:
        text = statement if isinstance(statement, str) else statement.as_string(self)
        return self.names.get(text, "other: " + " ".join(text.split()[:3]))

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool = False) -> Any:
        name = self.name_of(query)
        if name == SET_CONFIG:  # inside the transaction's own step
            return super().execute(query, params, prepare=prepare, binary=binary)
        with self.steps.step(f"sql {name}"):
            return super().execute(query, params, prepare=prepare, binary=binary)


class TimedDatabase(Database):
    """``Database`` whose statements, COPYs, BEGIN + set_config and COMMIT are timed into ``steps``."""

    def __init__(self, url: str, steps: Steps, table: str) -> None:
        super().__init__(url)
        self.steps, self.table = steps, table

    def connection(self) -> psycopg.Connection[Row]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                conn = _TimedConnection.connect(self.url, autocommit=True, row_factory=dict_row, connect_timeout=10)
            except psycopg.OperationalError as exc:
                raise DependencyUnavailable("database unreachable", code="database_unavailable") from exc
            conn.cursor_factory = _TimedCursor
            conn.steps = self.steps
            conn.names = {}
            for name, text in queries().items():
                formatted = sql.SQL(text).format(vectors=sql.Identifier(self.table)).as_string(conn)
                conn.names[text] = conn.names[formatted] = name
            conn.names["SELECT set_config('app.user_id', %s, true)"] = SET_CONFIG
            self._conn = conn
        return self._conn

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
    max_vector_error: float = 0.0  # set by the check of the stored rows

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


def vector_table(conn: psycopg.Connection[Any], model: str, dimensions: int) -> str:
    """The model's table, made (as the migrations define it, through ``ensure_vector_table``) if missing."""
    row = conn.execute("SELECT ensure_vector_table(%s, %s)", [model, dimensions]).fetchone()
    assert row is not None
    return str(row[0])


def ann_indexes(conn: psycopg.Connection[Any], table: str) -> list[str]:
    """Names of the HNSW and IVFFlat indexes on ``table`` (there should be none: search is exact)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
        "WHERE i.indrelid = %s::regclass AND a.amname IN ('hnsw', 'ivfflat') ORDER BY 1",
        [table],
    ).fetchall()
    return [row[0] for row in rows]


def _write_chunks(db: Database, doc: Document) -> None:
    """chunk_work's write: its named queries in its order."""
    with db.transaction(doc.user_id) as tx:
        run(tx, "delete_document_chunks", {"document_id": doc.id})
        run(tx, "create_chunk_staging")
        with tx.cursor().copy(queries()["copy_chunk_staging"]) as copy:
            copy.set_types(CHUNK_STAGING_TYPES)
            for row in doc.chunks:
                copy.write_row(row)
        run(tx, "insert_chunks_from_staging")


def write_docintake(worker_url: str, work: Workload, table: str, *, batch_size: int = BATCH) -> WriteResult:
    """Every document through the chunk write, ``embed_missing`` and the embed stage's last transaction, as
    the worker role under RLS."""
    steps = Steps()
    db = TimedDatabase(worker_url, steps, table)
    embedder = LookupEmbedder(work)
    models = [(work.model, work.dimensions)]
    with ExitStack() as patches:
        timed_pack = steps.timed(pack_vector, lambda vector: "pack_vector")
        patches.enter_context(mock.patch.object(docintake_vectors, "pack_vector", timed_pack))
        started = time.perf_counter()
        for doc in work.documents:
            _write_chunks(db, doc)
            docintake_vectors.embed_missing(
                db, user_id=doc.user_id, document_id=doc.id, embedder=embedder, batch_size=batch_size
            )
            with db.transaction(doc.user_id) as tx:
                docintake_vectors.finish_document(tx, doc.id, models)
                run(tx, "set_document_status", {"document_id": doc.id, "status": "ready"})
        seconds = time.perf_counter() - started
    db.close()
    steps.add(REMAINDER, seconds - sum(steps.seconds.values()))
    return WriteResult("docintake", work.dimensions, work.rows, seconds, steps.seconds)


def write_one_transaction(worker_url: str, work: Workload, table: str) -> WriteResult:
    """Reference: each document's chunk write and all its vectors through ``write_vectors`` in one
    transaction, as the worker under RLS."""
    db = Database(worker_url)
    started = time.perf_counter()
    for doc in work.documents:
        with db.transaction(doc.user_id) as tx:
            run(tx, "delete_document_chunks", {"document_id": doc.id})
            run(tx, "create_chunk_staging")
            with tx.cursor().copy(queries()["copy_chunk_staging"]) as copy:
                copy.set_types(CHUNK_STAGING_TYPES)
                for row in doc.chunks:
                    copy.write_row(row)
            run(tx, "insert_chunks_from_staging")
            rows = [(row[0], pack_vector(work.vectors[row[4]])) for row in doc.chunks]
            docintake_vectors.write_vectors(tx, table, rows, user_id=doc.user_id, document_id=doc.id)
    seconds = time.perf_counter() - started
    db.close()
    return WriteResult("reference: one transaction per document under RLS", work.dimensions, work.rows, seconds, {})


def _vector_rows(work: Workload, vector: Callable[[list[float]], Any]) -> Iterator[tuple[Any, ...]]:
    for doc in work.documents:
        for row in doc.chunks:
            yield (row[0], doc.id, doc.user_id, vector(work.vectors[row[4]]))


def write_plain_copy(admin_url: str, work: Workload, table: str) -> WriteResult:
    """One binary COPY into document_chunks and one into the model's table, as the superuser."""
    with psycopg.connect(admin_url) as conn:
        register_binary_vector(conn)
        chunk_types = column_oids(conn, "document_chunks", CHUNK_COLUMNS)
        vector_types = column_oids(conn, table, VECTOR_COLUMNS)
        chunks = sql.SQL("COPY document_chunks ({}) FROM STDIN WITH (FORMAT BINARY)").format(
            sql.SQL(", ").join(map(sql.Identifier, CHUNK_COLUMNS))
        )
        vectors = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT BINARY)").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, VECTOR_COLUMNS))
        )
        started = time.perf_counter()
        with conn.cursor().copy(chunks) as copy:
            copy.set_types(chunk_types)
            for doc in work.documents:
                for row in doc.chunks:
                    copy.write_row(row)
        with conn.cursor().copy(vectors) as copy:
            copy.set_types(vector_types)
            for row in _vector_rows(work, pack_vector):
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - started
    return WriteResult("plain COPY (binary, superuser)", work.dimensions, work.rows, seconds, {})


def write_executemany(admin_url: str, work: Workload, table: str) -> WriteResult:
    """``executemany`` of one INSERT per row (psycopg pipelines it) into each table, binary parameters, as the
    superuser."""
    with psycopg.connect(admin_url) as conn:
        register_binary_vector(conn)
        chunks = sql.SQL("INSERT INTO document_chunks ({}) VALUES ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, CHUNK_COLUMNS)), sql.SQL(", ").join([sql.SQL("%b")] * 11)
        )
        vectors = sql.SQL("INSERT INTO {} ({}) VALUES (%b, %b, %b, %b)").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, VECTOR_COLUMNS))
        )
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(chunks, ((*row[:10], Jsonb(row[10])) for doc in work.documents for row in doc.chunks))
            cur.executemany(vectors, _vector_rows(work, BinaryVector))
        conn.commit()
        seconds = time.perf_counter() - started
    return WriteResult("executemany (binary parameters, superuser)", work.dimensions, work.rows, seconds, {})


def vector_error(stored: list[tuple[str, str]], work: Workload, content_of: dict[str, str]) -> float:
    """The largest difference between a stored float4 (as pgvector's text) and its source vector."""
    worst = 0.0
    for key, text in stored:
        got = np.array([float(x) for x in text[1:-1].split(",")], dtype=np.float32)
        source = np.array(work.vectors[content_of[key]], dtype=np.float32)
        worst = max(worst, float(np.max(np.abs(got - source))))
    if worst > 1e-6:
        raise RuntimeError(f"a stored vector differs from its source by {worst}")
    return worst


def check_rows(admin_url: str, work: Workload, table: str, *, ready: bool, sample: int = 200) -> float:
    """Every chunk row is there with one vector in the model's table (and every document ready, for docintake).
    Returns the largest difference, over a sample, between a stored float4 and its source (0 for binary)."""
    content_of = {str(row[0]): row[4] for doc in work.documents for row in doc.chunks}
    with psycopg.connect(admin_url) as conn:
        count, vectors, documents_ready = conn.execute(
            sql.SQL(
                "SELECT (SELECT count(*) FROM document_chunks), (SELECT count(*) FROM {} v JOIN document_chunks c "
                "ON c.id = v.chunk_id AND c.user_id = v.user_id), "
                "(SELECT count(*) FROM documents WHERE status = 'ready')"
            ).format(sql.Identifier(table))
        ).fetchone() or (0, 0, 0)
        if not count == vectors == work.rows:
            raise RuntimeError(f"expected {work.rows} chunks with vectors, found {count} chunks, {vectors} vectors")
        if ready and documents_ready != len(work.documents):
            raise RuntimeError(f"expected {len(work.documents)} ready documents, found {documents_ready}")
        ids = random.Random(0).sample(sorted(content_of), min(sample, len(content_of)))
        stored = conn.execute(
            sql.SQL("SELECT chunk_id::text, embedding::text FROM {} WHERE chunk_id = ANY(%s::uuid[])").format(
                sql.Identifier(table)
            ),
            [ids],
        ).fetchall()
    return vector_error(stored, work, content_of)
