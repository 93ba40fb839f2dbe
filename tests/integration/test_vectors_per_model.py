"""Vectors in a table per model (migration 0012): written once, beside the old model's during a re-embed;
each user searches one model, exact, and is switched when all of their documents have the new one;
switching back is a rollback; finalize drops the old vectors; an approximate index is opt-in only."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from docintake.db import Database
from docintake.embedding import Embedder
from docintake.embedding.hashing import HashEmbedder
from docintake.search import SearchMode, search
from docintake.vectors import (
    create_ann_index,
    ensure_vector_table,
    finalize_model,
    pack_vector,
    reembed_documents,
    switch_users,
    write_vectors,
)
from docintake_local.client import upload_bytes
from docintake_local.sample_documents import policy_markdown
from docintake_local.stack import LocalStack

pytestmark = pytest.mark.integration
ALICE = uuid.UUID("a11ce000-0000-4000-8000-00000000000a")
BOB = uuid.UUID("b0b00000-0000-4000-8000-00000000000b")
V1 = ("docintake-hash-v1", 384)
V2 = ("docintake-hash-v2", 256)
POLICY = (
    "# HOMEOWNERS POLICY\n\n## SECTION I – EXCLUSIONS\n\n"
    "We do not insure for loss caused by water damage, meaning flood, surface water or waves.\n\n"
    "## SECTION II – CONDITIONS\n\nYou must give us prompt notice of any loss to covered property.\n"
).encode()


class _CountingEmbedder(HashEmbedder):
    """HashEmbedder that counts the texts it embeds and can fail on its n-th call."""

    def __init__(self, model: str = V2[0], dimensions: int = V2[1], *, fail_on_call: int | None = None) -> None:
        super().__init__(model=model, dimensions=dimensions)
        self.calls, self.texts, self.fail_on_call = 0, 0, fail_on_call

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise RuntimeError("provider down")
        self.texts += len(texts)
        return super().embed(texts)


@pytest.fixture
def admin(stack: LocalStack) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    with psycopg.connect(stack.database.admin_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture
def worker(stack: LocalStack) -> Iterator[Database]:
    db = Database(stack.database.role_url("worker"))
    yield db
    db.close()


def _vectors(admin: psycopg.Connection[dict[str, Any]], model: tuple[str, int]) -> dict[str, int]:
    """Vectors of the model per user (as text), read as the superuser; {} when the model has no table."""
    row = admin.execute(
        "SELECT table_name FROM embedding_models WHERE model = %s AND dimensions = %s", list(model)
    ).fetchone()
    if row is None:
        return {}
    counts = admin.execute(
        psycopg.sql.SQL("SELECT user_id::text AS u, count(*) AS n FROM {} GROUP BY 1").format(
            psycopg.sql.Identifier(row["table_name"])
        )
    ).fetchall()
    return {r["u"]: r["n"] for r in counts}


def _searched_model(admin: psycopg.Connection[dict[str, Any]], user: uuid.UUID) -> tuple[str, int] | None:
    row = admin.execute("SELECT model, dimensions FROM user_search_models WHERE user_id = %s", [user]).fetchone()
    return None if row is None else (row["model"], row["dimensions"])


def _search(stack: LocalStack, user: uuid.UUID, query: str, embedders: list[tuple[str, int]]) -> list[Any]:
    api = Database(stack.database.role_url("api"))

    def embedder_for(model: str, dimensions: int) -> Embedder:
        embedders.append((model, dimensions))
        return HashEmbedder(model=model, dimensions=dimensions)

    try:
        return search(api, user, query, k=3, embedder_for=embedder_for, mode=SearchMode.VECTOR)
    finally:
        api.close()


def test_the_pipeline_writes_each_vector_once_into_its_models_table(
    stack: LocalStack, admin: psycopg.Connection[dict[str, Any]]
) -> None:
    # GIVEN a policy uploaded by alice WHEN the pipeline runs
    document_id = upload_bytes(stack, ALICE, "policy.md", POLICY, "text/markdown").document_id
    stack.run_until_idle()
    # THEN each chunk has one vector of the configured model in that model's table, typed to its dimension
    (chunks,) = admin.execute("SELECT count(*) AS n FROM document_chunks WHERE document_id = %s", [document_id])
    assert _vectors(admin, V1) == {str(ALICE): chunks["n"]} and chunks["n"] >= 2
    table = admin.execute("SELECT table_name FROM embedding_models").fetchall()
    column = admin.execute(
        "SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attname = 'embedding'",
        [table[0]["table_name"]],
    ).fetchone()
    assert len(table) == 1 and column == {"type": "vector(384)"}
    # AND alice now searches with that model, and no vector column or buffer is left on the chunk rows
    assert _searched_model(admin, ALICE) == V1
    leftovers = admin.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'document_chunks'::regclass AND attname LIKE 'embedding%%'"
        " AND NOT attisdropped"
    ).fetchall()
    assert leftovers == [] and admin.execute("SELECT to_regclass('chunk_embedding_buffer') AS t").fetchone() == {
        "t": None
    }
    # AND the vector table is under forced RLS: bob, through the api role, sees none of alice's vectors
    with Database(stack.database.role_url("api")).transaction(BOB) as conn:
        seen = conn.execute(
            psycopg.sql.SQL("SELECT count(*) AS n FROM {}").format(psycopg.sql.Identifier(table[0]["table_name"]))
        ).fetchone()
    assert seen == {"n": 0}


def test_reembed_writes_beside_switch_follows_rollback_returns_and_finalize_drops(
    stack: LocalStack, admin: psycopg.Connection[dict[str, Any]], worker: Database
) -> None:
    # GIVEN alice's and bob's documents embedded with v1
    upload_bytes(stack, ALICE, "policy.md", POLICY, "text/markdown")
    upload_bytes(stack, BOB, "policy.md", POLICY, "text/markdown")
    stack.run_until_idle()
    before = _vectors(admin, V1)
    # WHEN every document is re-embedded with v2 without switching
    done = reembed_documents(admin, worker, HashEmbedder(model=V2[0], dimensions=V2[1]), batch_size=2)
    asked: list[tuple[str, int]] = []
    hits = _search(stack, ALICE, "water damage flood", asked)
    # THEN v2's vectors sit beside v1's, untouched, and alice still searches v1 (the query embedded once)
    assert len(done) == 2 and _vectors(admin, V2) == before and _vectors(admin, V1) == before
    assert asked == [V1] and hits and "water damage" in hits[0].content
    # WHEN only alice is switched
    switched = switch_users(admin, worker, *V2, user_id=ALICE)
    asked.clear()
    hits = _search(stack, ALICE, "water damage flood", asked)
    # THEN she searches v2 and still finds the passage; bob stays on v1
    assert [(s.user_id, s.switched) for s in switched] == [(ALICE, True)]
    assert asked == [V2] and hits and "water damage" in hits[0].content
    assert (_searched_model(admin, ALICE), _searched_model(admin, BOB)) == (V2, V1)
    # WHEN she is switched back (a rollback) and forward again, and then v2 is finalized
    assert switch_users(admin, worker, *V1, user_id=ALICE)[0].switched
    assert _searched_model(admin, ALICE) == V1
    switch_users(admin, worker, *V2, user_id=ALICE)
    finalized = finalize_model(admin, *V2, keep=[V1])
    # THEN only alice's v1 vectors go; bob keeps both models; no table is dropped (bob searches v1)
    assert finalized.deleted_vectors == before[str(ALICE)] and finalized.dropped_tables == []
    assert _vectors(admin, V1) == {str(BOB): before[str(BOB)]}
    # WHEN bob moves too and v2 is finalized with v2 configured for new uploads
    switch_users(admin, worker, *V2)
    finalized = finalize_model(admin, *V2, keep=[V2])
    # THEN v1's table, empty and searched by nobody, is dropped
    assert finalized.dropped_tables and _vectors(admin, V1) == {}
    assert admin.execute("SELECT count(*) AS n FROM embedding_models").fetchone() == {"n": 1}


def test_a_user_is_not_switched_while_a_document_lacks_the_new_model(
    stack: LocalStack, admin: psycopg.Connection[dict[str, Any]], worker: Database
) -> None:
    # GIVEN alice's two documents, only the first re-embedded with v2 (the second uploaded afterwards)
    upload_bytes(stack, ALICE, "a.md", POLICY, "text/markdown")
    stack.run_until_idle()
    reembed_documents(admin, worker, HashEmbedder(model=V2[0], dimensions=V2[1]), batch_size=8)
    upload_bytes(stack, ALICE, "b.md", POLICY.replace(b"prompt", b"written"), "text/markdown")
    stack.run_until_idle()
    # WHEN a switch is asked
    (result,) = switch_users(admin, worker, *V2)
    # THEN she stays on v1, told how many chunks lack v2
    assert (result.switched, _searched_model(admin, ALICE)) == (False, V1)
    assert result.missing == _vectors(admin, V1)[str(ALICE)] - _vectors(admin, V2)[str(ALICE)] > 0


def test_a_new_upload_of_a_switched_user_gets_their_model_too(
    stack: LocalStack, admin: psycopg.Connection[dict[str, Any]], worker: Database
) -> None:
    # GIVEN alice switched to v2 while uploads are still configured for v1
    upload_bytes(stack, ALICE, "a.md", POLICY, "text/markdown")
    stack.run_until_idle()
    reembed_documents(admin, worker, HashEmbedder(model=V2[0], dimensions=V2[1]), batch_size=8)
    assert switch_users(admin, worker, *V2)[0].switched
    # WHEN she uploads another document
    document_id = upload_bytes(
        stack, ALICE, "b.md", b"# AUTO POLICY\n\nCollision coverage pays for your car.\n", "text/markdown"
    ).document_id
    stack.run_until_idle()
    # THEN it is embedded with both models and her search (v2) finds it
    asked: list[tuple[str, int]] = []
    hits = _search(stack, ALICE, "collision coverage car", asked)
    assert asked == [V2] and hits[0].document_id == document_id
    assert _vectors(admin, V1)[str(ALICE)] == _vectors(admin, V2)[str(ALICE)]


def test_an_interrupted_reembed_resumes_with_only_the_missing_chunks(
    stack: LocalStack, admin: psycopg.Connection[dict[str, Any]], worker: Database
) -> None:
    # GIVEN alice's ready document with at least 7 chunks, re-embedded in batches of 2 until the third
    # batch's provider call fails: the first two batches are committed in v2's table
    document_id = upload_bytes(
        stack, ALICE, "policy.md", policy_markdown(12_000, seed=3).encode(), "text/markdown"
    ).document_id
    stack.run_until_idle()
    (total,) = admin.execute("SELECT count(*) AS n FROM document_chunks WHERE document_id = %s", [document_id])
    assert total["n"] >= 7
    with pytest.raises(RuntimeError, match="provider down"):
        reembed_documents(admin, worker, _CountingEmbedder(fail_on_call=3), batch_size=2)
    written = _vectors(admin, V2)
    # WHEN it runs again
    resumed = _CountingEmbedder()
    reembed_documents(admin, worker, resumed, batch_size=2)
    # THEN the failed run kept 4 vectors and left v1 whole; the second run embedded only the others
    assert written == {str(ALICE): 4} and _vectors(admin, V1) == {str(ALICE): total["n"]}
    assert resumed.texts == total["n"] - 4 and _vectors(admin, V2) == {str(ALICE): total["n"]}


def test_a_user_with_few_chunks_among_many_gets_the_exact_top_k(
    stack: LocalStack, admin: psycopg.Connection[dict[str, Any]], worker: Database
) -> None:
    # GIVEN 12 users × 1,500 chunks of the default model: the three who search have their own, the nine others
    # hold copies of the first one's (embedded once), so a chunk of theirs that leaked into her results would tie
    # with one of hers
    embedder = HashEmbedder(dimensions=384)
    rng = random.Random(11)
    words = [
        "water",
        "flood",
        "roof",
        "hail",
        "theft",
        "fire",
        "liability",
        "premium",
        "deductible",
        "endorsement",
        "vehicle",
        "collision",
    ]
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(12)]
    rows: dict[uuid.UUID, list[tuple[uuid.UUID, list[float]]]] = {}
    searchers = users[:3]
    texts_of = {user: [" ".join(rng.choices(words, k=12)) + f" clause {i}" for i in range(1500)] for user in searchers}
    vectors_of = {user: embedder.embed(texts) for user, texts in texts_of.items()}
    for user in users:
        document_id = uuid.uuid4()
        texts = texts_of.get(user, texts_of[users[0]])
        rows[user] = [(uuid.uuid4(), v) for v in vectors_of.get(user, vectors_of[users[0]])]
        with admin.transaction():
            admin.execute(
                "INSERT INTO documents (id, user_id, filename, content_type, size_bytes, sha256_declared, s3_key,"
                " status) VALUES (%s, %s, 'p.md', 'text/markdown', 1, %s, %s, 'ready')",
                [document_id, user, "0" * 64, f"uploads/{user}/{document_id}/p.md"],
            )
            with admin.cursor().copy(
                "COPY document_chunks (id, document_id, user_id, ordinal, content, page_start, page_end, char_count,"
                " content_hash) FROM STDIN"
            ) as copy:
                for ordinal, ((chunk_id, _), text) in enumerate(zip(rows[user], texts, strict=True)):
                    copy.write_row((chunk_id, document_id, user, ordinal, text, 1, 1, len(text), f"h{ordinal}"))
        with worker.transaction(user) as conn:
            table = ensure_vector_table(conn, *V1)
            write_vectors(
                conn, table, [(c, pack_vector(v)) for c, v in rows[user]], user_id=user, document_id=document_id
            )
            conn.execute(
                "INSERT INTO user_search_models (user_id, model, dimensions) VALUES (app_user_id(), %s, %s)", list(V1)
            )
    admin.execute(psycopg.sql.SQL("ANALYZE {}").format(psycopg.sql.Identifier(table)))
    api = Database(stack.database.role_url("api"))
    try:
        for user in searchers:
            for query in ("water damage to the roof", "collision deductible premium", "theft endorsement"):
                # WHEN the user searches through RLS as the API role
                hits = search(
                    api,
                    user,
                    query,
                    k=10,
                    embedder_for=lambda m, d: HashEmbedder(model=m, dimensions=d),
                    mode=SearchMode.VECTOR,
                    expand=False,  # the question as asked, so the brute force below embeds the same text
                )
                # THEN the result is the brute-force top 10 over that user's chunks: recall@10 = 1.0
                q = embedder.embed([query])[0]
                exact = sorted((sum(a * b for a, b in zip(q, v, strict=True)) for _, v in rows[user]), reverse=True)
                assert len(hits) == 10
                assert {h.chunk_id for h in hits} <= {chunk_id for chunk_id, _ in rows[user]}
                # Ties at the 10th place may be broken either way: compare the scores (float4: to 1e-4).
                assert [h.score for h in hits] == pytest.approx(exact[:10], abs=1e-4)
    finally:
        api.close()
    # AND the model's table has no approximate index, and pgvector 0.6 refuses to make one on request
    indexes = admin.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [table]).fetchall()
    assert not any("hnsw" in i["indexdef"] or "ivfflat" in i["indexdef"] for i in indexes)
    version = admin.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    if version and tuple(int(p) for p in version["extversion"].split(".")[:2]) < (0, 8):
        with pytest.raises(RuntimeError, match="iterative index scans"):
            create_ann_index(admin, *V1)


def test_finalize_never_drops_a_table_that_holds_vectors(
    stack: LocalStack, admin: psycopg.Connection[dict[str, Any]], worker: Database
) -> None:
    # GIVEN alice switched to v2 and bob's documents re-embedded with v3, which nobody searches yet
    upload_bytes(stack, ALICE, "a.md", POLICY, "text/markdown")
    upload_bytes(stack, BOB, "b.md", POLICY, "text/markdown")
    stack.run_until_idle()
    v3 = ("docintake-hash-v3", 128)
    reembed_documents(admin, worker, HashEmbedder(model=V2[0], dimensions=V2[1]), batch_size=8, user_id=ALICE)
    switch_users(admin, worker, *V2, user_id=ALICE)
    reembed_documents(admin, worker, HashEmbedder(model=v3[0], dimensions=v3[1]), batch_size=8, user_id=BOB)
    bob_v3 = _vectors(admin, v3)
    # WHEN v2 is finalized
    finalized = finalize_model(admin, *V2, keep=[V2])
    # THEN v3's table, unsearched but holding bob's vectors, stays with them
    assert bob_v3 and _vectors(admin, v3) == bob_v3
    assert not any("hash_v3" in table for table in finalized.dropped_tables)


def test_a_temporary_table_cannot_stand_in_for_the_model_registry(stack: LocalStack, worker: Database) -> None:
    # GIVEN a worker session with its own temporary embedding_models naming a table of its choice
    with worker.transaction(ALICE) as conn:
        conn.execute("CREATE TEMP TABLE embedding_models (model text, dimensions int, table_name text)")
        conn.execute("INSERT INTO embedding_models VALUES ('m', 3, 'chosen by the caller')")
        # WHEN it asks for the model's table
        name = conn.execute("SELECT ensure_vector_table('m', 3) AS t").fetchone()
    # THEN the function reads the real registry and derives the name itself
    assert name is not None and name["t"].startswith("chunk_vectors_m_") and name["t"].endswith("_3")
