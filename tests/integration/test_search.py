"""POST /search through SearchFunction: only the caller's chunks, with citations, and the full k with
exact recall even when the caller's chunks are few among many and an HNSW index exists."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import psycopg
import pytest

from docintake.db import Database
from docintake.embedding import vector_literal
from docintake.embedding.hashing import HashEmbedder
from docintake.local.client import api_event, upload_bytes
from docintake.local.stack import LocalStack
from docintake.vectors import search

pytestmark = pytest.mark.integration
ALICE = uuid.UUID("a11ce000-0000-4000-8000-00000000000a")
BOB = uuid.UUID("b0b00000-0000-4000-8000-00000000000b")
POLICY = (
    "# HOMEOWNERS POLICY\n\n## SECTION I – EXCLUSIONS\n\n"
    "We do not insure for loss caused by water damage, meaning flood, surface water or waves.\n\n"
    "## SECTION II – CONDITIONS\n\nYou must give us prompt notice of any loss to covered property.\n"
).encode()


def _search(stack: LocalStack, user: uuid.UUID, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    event = api_event("POST", "/search", user, body)
    response = stack.invoke("SearchFunction", event)
    return response["statusCode"], json.loads(response["body"])


def test_search_returns_the_callers_chunks_with_citations(stack: LocalStack) -> None:
    # GIVEN the same policy ingested by alice and by bob
    alice_doc = upload_bytes(stack, ALICE, "alice-policy.md", POLICY, "text/markdown").document_id
    upload_bytes(stack, BOB, "bob-policy.md", POLICY, "text/markdown")
    stack.run_until_idle()
    # WHEN alice searches
    status, body = _search(stack, ALICE, {"query": "water damage flood exclusion", "k": 5})
    # THEN she gets her own chunks only, best first, each with what a citation needs
    assert status == 200
    results = body["results"]
    assert results and {r["document_id"] for r in results} == {str(alice_doc)}
    best = results[0]
    assert best["filename"] == "alice-policy.md" and (best["page_start"], best["page_end"]) == (1, 1)
    assert best["heading_path"] == ["HOMEOWNERS POLICY", "SECTION I – EXCLUSIONS"]
    assert "water damage" in best["content"]
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    # AND a filter on another user's document finds nothing
    bob_docs = body_docs = _search(stack, BOB, {"query": "notice of loss", "k": 5})[1]["results"]
    assert bob_docs and all(r["filename"] == "bob-policy.md" for r in body_docs)
    status, filtered = _search(stack, ALICE, {"query": "notice", "document_ids": [bob_docs[0]["document_id"]]})
    assert (status, filtered["results"]) == (200, [])


def test_a_chunk_spanning_sibling_sections_cites_their_parent_and_lists_each(stack: LocalStack) -> None:
    # GIVEN a policy whose two small sibling sections fit in one chunk together
    policy = (
        "# PERSONAL PROPERTY POLICY\n\n## SECTION I – PERILS\n\n### A. Coverage For Aircraft\n\n"
        "We cover direct loss caused by aircraft, including self-propelled missiles.\n\n"
        "### B. Coverage For Theft\n\nWe cover theft, including attempted theft of property.\n\n"
        "## SECTION II – CONDITIONS\n\nYou must give us prompt notice of any loss.\n"
    ).encode()
    document_id = upload_bytes(stack, ALICE, "siblings.md", policy, "text/markdown").document_id
    stack.run_until_idle()
    parent = ["PERSONAL PROPERTY POLICY", "SECTION I – PERILS"]
    sections = [[*parent, "A. Coverage For Aircraft"], [*parent, "B. Coverage For Theft"]]
    # WHEN the chunks are read back as the worker would, and alice searches for the theft clause
    with Database(stack.database.role_url("worker")).transaction(ALICE) as conn:
        stored = conn.execute(
            "SELECT heading_path, sections FROM document_chunks WHERE document_id = %s ORDER BY ordinal",
            [document_id],
        ).fetchall()
    status, body = _search(stack, ALICE, {"query": "attempted theft of property", "k": 5})
    # THEN the stored row and the search hit both cite the parent and list each section
    assert [(row["heading_path"], row["sections"]) for row in stored] == [
        (parent, sections),
        (
            ["PERSONAL PROPERTY POLICY", "SECTION II – CONDITIONS"],
            [["PERSONAL PROPERTY POLICY", "SECTION II – CONDITIONS"]],
        ),
    ]
    assert status == 200
    theft = next(r for r in body["results"] if "attempted theft" in r["content"])
    assert (theft["heading_path"], theft["sections"]) == (parent, sections)


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "query"), ({"query": ""}, "query"), ({"query": "x", "k": 0}, "k"), ({"query": "x", "k": 51}, "k")],
)
def test_bad_search_requests_are_400s(stack: LocalStack, body: dict[str, Any], field: str) -> None:
    status, error = _search(stack, ALICE, body)
    assert (status, error["error"]) == (400, "invalid_request") and field in error["message"]


def test_a_user_with_few_chunks_among_many_gets_the_exact_top_k(stack: LocalStack) -> None:
    # GIVEN 20 users × 2,000 chunks of the default model, with the model's HNSW index in place
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
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(20)]
    rows: dict[uuid.UUID, list[tuple[uuid.UUID, list[float]]]] = {}
    with psycopg.connect(stack.database.admin_url, autocommit=True) as conn, conn.transaction():
        # Load first and build the migration's index after, as pgvector advises: inserting 40,000 rows into
        # a live HNSW graph takes minutes, building it over them takes seconds.
        index = "document_chunks_hnsw_docintake_hash_v1_384"
        definition = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index]).fetchone()
        assert definition is not None
        conn.execute(f"DROP INDEX {index}")
        for user in users:
            document_id = uuid.uuid4()
            conn.execute(
                "INSERT INTO documents (id, user_id, filename, content_type, size_bytes, sha256_declared, s3_key,"
                " status) VALUES (%s, %s, 'p.md', 'text/markdown', 1, %s, %s, 'ready')",
                [document_id, user, "0" * 64, f"uploads/{user}/{document_id}/p.md"],
            )
            texts = [" ".join(rng.choices(words, k=12)) + f" clause {i}" for i in range(2000)]
            vectors = embedder.embed(texts)
            rows[user] = [(uuid.uuid4(), v) for v in vectors]
            with conn.cursor().copy(
                "COPY document_chunks (id, document_id, user_id, ordinal, content, page_start, page_end, char_count,"
                " content_hash, embedding, embedding_model, embedding_dimensions) FROM STDIN"
            ) as copy:
                for ordinal, ((chunk_id, vector), text) in enumerate(zip(rows[user], texts, strict=True)):
                    copy.write_row(
                        (
                            chunk_id,
                            document_id,
                            user,
                            ordinal,
                            text,
                            1,
                            1,
                            len(text),
                            "h",
                            vector_literal(vector),
                            "docintake-hash-v1",
                            384,
                        )
                    )
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        conn.execute(definition[0])
        conn.execute("ANALYZE document_chunks")
        indexes = [r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'document_chunks'")]
    assert any("hnsw" in i and "docintake-hash-v1" in i for i in indexes)
    api = Database(stack.database.role_url("api"))
    try:
        for user in users[:3]:
            for query in ("water damage to the roof", "collision deductible premium", "theft endorsement"):
                # WHEN the user searches through RLS as the API role
                hits = search(api, user, query, k=10, embedder_for=lambda m, d: HashEmbedder(model=m, dimensions=d))
                # THEN the result is the brute-force top 10 over that user's chunks: recall@10 = 1.0
                q = embedder.embed([query])[0]
                exact = sorted((sum(a * b for a, b in zip(q, v, strict=True)) for _, v in rows[user]), reverse=True)
                assert len(hits) == 10
                assert {h.chunk_id for h in hits} <= {chunk_id for chunk_id, _ in rows[user]}
                # Ties at the 10th place may be broken either way: compare the scores, not the ids.
                # (vectors are stored as float4: compare to 1e-4)
                assert [h.score for h in hits] == pytest.approx(exact[:10], abs=1e-4)
        # AND the plan is the exact one over the user's rows, never the approximate index
        with api.transaction(users[0]) as conn:
            plan = "\n".join(
                r["QUERY PLAN"]
                for r in conn.execute(
                    "EXPLAIN SELECT id FROM document_chunks WHERE user_id = app_user_id()"
                    " AND embedding_model = 'docintake-hash-v1' ORDER BY embedding <=> %s::vector LIMIT 10",
                    [vector_literal(embedder.embed(["water"])[0])],
                )
            )
        assert "hnsw" not in plan
    finally:
        api.close()


def test_reembed_switches_each_document_to_the_new_model_and_search_follows(stack: LocalStack) -> None:
    from docintake.vectors import reembed_documents, vector_index_name

    # GIVEN alice's document embedded with the default model
    document_id = upload_bytes(stack, ALICE, "policy.md", POLICY, "text/markdown").document_id
    stack.run_until_idle()
    before = _search(stack, ALICE, {"query": "water damage flood", "k": 3})[1]["results"]
    # WHEN it is re-embedded with another model and dimension, as the worker role
    worker = Database(stack.database.role_url("worker"))
    try:
        with psycopg.connect(stack.database.admin_url, autocommit=True) as admin:
            done = reembed_documents(
                admin, worker, HashEmbedder(model="docintake-hash-v2", dimensions=256), batch_size=2
            )
            again = reembed_documents(
                admin, worker, HashEmbedder(model="docintake-hash-v2", dimensions=256), batch_size=2
            )
            chunks = admin.execute(
                "SELECT DISTINCT embedding_model, embedding_dimensions, vector_dims(embedding) FROM document_chunks"
            ).fetchall()
            buffered = admin.execute("SELECT count(*) FROM chunk_embedding_buffer").fetchone()
            index = admin.execute(
                "SELECT 1 FROM pg_indexes WHERE indexname = %s", [vector_index_name("docintake-hash-v2", 256)]
            ).fetchone()
            events = admin.execute("SELECT count(*) FROM events WHERE event_type = 'reembedded'").fetchone()
    finally:
        worker.close()
    # THEN every chunk carries the new model, the buffer is empty, the model has its index, and a second
    # run finds nothing left to do
    assert [d.document_id for d in done] == [document_id] and done[0].vectors >= len(before)
    assert again == []
    assert chunks == [("docintake-hash-v2", 256, 256)]
    assert buffered == (0,) and index == (1,) and events == (1,)
    # AND search embeds the question with the document's new model and still finds the passage
    after = _search(stack, ALICE, {"query": "water damage flood", "k": 3})[1]["results"]
    assert after and "water damage" in after[0]["content"]


class _CountingEmbedder(HashEmbedder):
    """HashEmbedder that counts the texts it embeds and can fail on its n-th call."""

    def __init__(self, *, fail_on_call: int | None = None) -> None:
        super().__init__(model="docintake-hash-v2", dimensions=256)
        self.calls, self.texts, self.fail_on_call = 0, 0, fail_on_call

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise RuntimeError("provider down")
        self.texts += len(texts)
        return super().embed(texts)


def test_an_interrupted_embed_resumes_with_only_the_missing_chunks(stack: LocalStack) -> None:
    from docintake.local.sample_documents import policy_markdown
    from docintake.vectors import reembed_documents

    # GIVEN alice's ready document with at least 7 chunks, re-embedded in batches of 2 until the third
    # batch fails: the first two batches are committed into the buffer
    document_id = upload_bytes(
        stack, ALICE, "policy.md", policy_markdown(12_000, seed=3).encode(), "text/markdown"
    ).document_id
    stack.run_until_idle()
    worker = Database(stack.database.role_url("worker"))
    try:
        with psycopg.connect(stack.database.admin_url, autocommit=True) as admin:
            (total,) = admin.execute(
                "SELECT count(*) FROM document_chunks WHERE document_id = %s", [document_id]
            ).fetchone() or (0,)
            assert total >= 7
            with pytest.raises(RuntimeError, match="provider down"):
                reembed_documents(admin, worker, _CountingEmbedder(fail_on_call=3), batch_size=2)
            (buffered,) = admin.execute("SELECT count(*) FROM chunk_embedding_buffer").fetchone() or (0,)
            (old,) = admin.execute(
                "SELECT count(*) FROM document_chunks WHERE embedding_model = 'docintake-hash-v1'"
            ).fetchone() or (0,)
            # WHEN it runs again
            resumed = _CountingEmbedder()
            reembed_documents(admin, worker, resumed, batch_size=2)
            rows = admin.execute(
                "SELECT embedding_model, vector_dims(embedding), count(*) FROM document_chunks GROUP BY 1, 2"
            ).fetchall()
            (left,) = admin.execute("SELECT count(*) FROM chunk_embedding_buffer").fetchone() or (0,)
    finally:
        worker.close()
    # THEN the failed run left 4 vectors in the buffer and the old vectors in place, the second run embedded
    # only the other chunks, and every chunk now has the new model's vector, with the buffer empty
    assert buffered == 4 and old == total
    assert resumed.texts == total - 4
    assert rows == [("docintake-hash-v2", 256, total)] and left == 0


def test_a_failed_swap_loses_only_the_held_last_batch(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from docintake import vectors
    from docintake.local.sample_documents import policy_markdown

    # GIVEN alice's ready document, re-embedded in batches of 3 with the swap's transaction failing after
    # the held last batch was staged and swapped in
    markdown = policy_markdown(12_000, seed=5).encode()
    document_id = upload_bytes(stack, ALICE, "policy.md", markdown, "text/markdown").document_id
    stack.run_until_idle()

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database gone")

    worker = Database(stack.database.role_url("worker"))
    try:
        with psycopg.connect(stack.database.admin_url, autocommit=True) as admin:
            (total,) = admin.execute(
                "SELECT count(*) FROM document_chunks WHERE document_id = %s", [document_id]
            ).fetchone() or (0,)
            held = total - 3 * ((total - 1) // 3)
            with monkeypatch.context() as patched:
                patched.setattr(vectors, "append_event", fail)
                with pytest.raises(RuntimeError, match="database gone"):
                    vectors.reembed_documents(admin, worker, _CountingEmbedder(), batch_size=3)
            (buffered,) = admin.execute("SELECT count(*) FROM chunk_embedding_buffer").fetchone() or (0,)
            (new,) = admin.execute(
                "SELECT count(*) FROM document_chunks WHERE embedding_model = 'docintake-hash-v2'"
            ).fetchone() or (0,)
            # WHEN it runs again
            resumed = _CountingEmbedder()
            vectors.reembed_documents(admin, worker, resumed, batch_size=3)
            (done,) = admin.execute(
                "SELECT count(*) FROM document_chunks WHERE embedding_model = 'docintake-hash-v2'"
            ).fetchone() or (0,)
    finally:
        worker.close()
    # THEN the failed run left every batch but the last in the buffer and no chunk on the new model, and the
    # second run embedded only the last batch again
    assert total > 3 and buffered == total - held and new == 0
    assert resumed.texts == held and done == total
