"""Hybrid search (docintake.search): form numbers through the full-text configuration, lay questions through
the glossary, the filters, one hit per content, RLS through the API role, and the vector mode's exactness."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from docintake.db import Database
from docintake.embedding import vector_literal
from docintake.embedding.hashing import HashEmbedder
from docintake.glossary import expand
from docintake.search import SearchHit, search
from docintake.vectors import active_model, vector_table
from docintake_local.client import api_event, upload_bytes
from docintake_local.stack import LocalStack

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
ALICE = uuid.UUID("a11ce000-0000-4000-8000-00000000001a")
BOB = uuid.UUID("b0b00000-0000-4000-8000-00000000001b")
FILLER = (
    " The provisions of this section apply to the residence premises and to every insured described in the"
    " Declarations, subject to the conditions and limits of liability stated elsewhere in this policy."
)


def _section(heading: str, text: str) -> str:
    # ~700 characters each: two never share a 1,000-character chunk, so each section is its own chunk.
    body = text
    while len(body) < 650:
        body += FILLER
    return f"## {heading}\n\n{body}\n\n"


SECTIONS = {
    "declarations": _section(
        "DECLARATIONS",
        "Named Insured: Quinn Sample. Policy Period: 04/20/2026 to 04/20/2027. Premium for Coverage F: $61.00."
        " Forms and endorsements: HO 00 03 05 11 and HO 04 90 05 11. Coverage must be kept in force.",
    ),
    "endorsement": _section(
        "SCHEDULED PERSONAL PROPERTY ENDORSEMENT",
        "Form HO 04 61 05 11. For the premium charged, we cover the classes of personal property scheduled"
        " below for the amounts of insurance shown, in place of the special limits of liability.",
    ),
    "deductible": _section(
        "SECTION I – DEDUCTIBLE",
        "Unless otherwise noted in this policy, the following deductible provision applies: we will pay only"
        " that part of the total of all loss payable under Section I that exceeds the deductible amount"
        " shown in the Declarations.",
    ),
    "vacancy": _section(
        "SECTION I – CONDITIONS – VACANCY",
        "If the dwelling has been vacant for more than 60 consecutive days before the loss, we do not pay"
        " for loss caused by vandalism or malicious mischief or by glass breakage.",
    ),
    "special_form": _section(
        "HOMEOWNERS HO-3 SPECIAL FORM",
        "This Homeowners HO-3 form insures the dwelling against risks of direct physical loss. Coinsurance"
        " of 80% applies to the other structures, and a sublimit of $1,000 applies to money and bank notes.",
    ),
    "coverages": _section(
        "SECTION I – PROPERTY COVERAGES",
        "Coverage A covers the dwelling. Coverage begins on the effective date and coverage must be requested"
        " before the policy period ends; coverage for much of the property kicks off with the dwelling.",
    ),
    "liability": _section(
        "SECTION II – LIABILITY COVERAGES",
        "Coverage E pays damages an insured is legally liable for because of bodily injury or property damage."
        " You must spend reasonable care to protect the property; coverage extends to 61 days after moving.",
    ),
}


def _policy(*names: str, title: str = "HOMEOWNERS POLICY") -> bytes:
    return (f"# {title}\n\n" + "".join(SECTIONS[n] for n in names)).encode()


ALL = tuple(SECTIONS)


def _hash_embedder(model: str, dimensions: int) -> HashEmbedder:
    return HashEmbedder(model=model, dimensions=dimensions)


def _search_as(stack: LocalStack, user: uuid.UUID, query: str, **options: Any) -> list[SearchHit]:
    """Through the API role, under RLS, as SearchFunction does."""
    api = Database(stack.database.role_url("api"))
    try:
        return search(api, user, query, k=options.pop("k", 10), embedder_for=_hash_embedder, **options)
    finally:
        api.close()


def _post_search(stack: LocalStack, user: uuid.UUID, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = stack.invoke("SearchFunction", api_event("POST", "/search", user, body))
    return response["statusCode"], json.loads(response["body"])


def _section_of(hit: SearchHit) -> str:
    return next(name for name, text in SECTIONS.items() if text.split("\n\n")[1][:60] in hit.content)


@pytest.mark.parametrize(
    ("query", "section"),
    [
        ("HO 04 61", "endorsement"),  # the english parser reads it as ho, 04, 61: a phrase ranks it first
        ("HO3", "special_form"),  # "HO3" and "HO-3" both read as "ho 3"
        ("$1000 sublimit", "special_form"),  # "$1,000" reads as 1000
        ("80 percent", "special_form"),  # "80%" reads as 80 percent
    ],
)
def test_codes_and_amounts_find_the_chunk_that_cites_them(stack: LocalStack, query: str, section: str) -> None:
    # GIVEN a policy whose sections cite form numbers and amounts, and other sections holding their parts
    # ("04", "61", "HO 00 03") apart
    upload_bytes(stack, ALICE, "policy.md", _policy(*ALL), "text/markdown")
    stack.run_until_idle()
    # WHEN alice searches for the code in keyword and in hybrid mode
    keyword = _search_as(stack, ALICE, query, mode="keyword")
    hybrid = _search_as(stack, ALICE, query, mode="hybrid")
    # THEN the chunk that cites it comes first in both, found by the keyword ranking
    assert _section_of(keyword[0]) == section and keyword[0].match == "keyword"
    assert _section_of(hybrid[0]) == section and hybrid[0].match in ("keyword", "both")


def test_a_lay_question_finds_the_deductible_through_the_glossary(stack: LocalStack) -> None:
    # GIVEN a policy whose deductible clause shares no word with the question but "deductible", and whose
    # other sections hold the question's own words ("coverage", "must", "spend", "kicks")
    upload_bytes(stack, ALICE, "policy.md", _policy(*ALL), "text/markdown")
    stack.run_until_idle()
    question = "how much must I spend before my coverage kicks in"
    # WHEN alice asks in her own words, with the glossary and without it
    expanded = _search_as(stack, ALICE, question, mode="keyword")
    literal = _search_as(stack, ALICE, question, mode="keyword", expand=False)
    hybrid = _search_as(stack, ALICE, question, mode="hybrid")
    # THEN the glossary's "deductible" puts the deductible clause first; her words alone do not find it
    assert _section_of(expanded[0]) == "deductible"
    assert "deductible" not in {_section_of(hit) for hit in literal}
    assert "deductible" in {_section_of(hit) for hit in hybrid[:3]}


def test_another_users_identical_chunks_are_never_returned(stack: LocalStack) -> None:
    # GIVEN alice and bob with the same policy text (their chunks have the same content hashes)
    alice_doc = upload_bytes(stack, ALICE, "alice.md", _policy(*ALL), "text/markdown").document_id
    upload_bytes(stack, BOB, "bob.md", _policy(*ALL), "text/markdown")
    stack.run_until_idle()
    # WHEN alice searches through the API role in every mode, and through SearchFunction
    for mode in ("hybrid", "vector", "keyword"):
        hits = _search_as(stack, ALICE, "HO 04 61 deductible vacancy", mode=mode, k=50)
        # THEN every hit is hers: one per section of her document, bob's copies never stand in for them
        assert {hit.document_id for hit in hits} == {alice_doc}
        assert len(hits) == len({hit.chunk_id for hit in hits}) >= 3
    status, body = _post_search(stack, ALICE, {"query": "vacancy", "mode": "keyword", "k": 50})
    assert status == 200 and {r["document_id"] for r in body["results"]} == {str(alice_doc)}
    assert body["results"][0]["match"] == "keyword" and "vacant" in body["results"][0]["content"]


def test_the_same_content_in_two_documents_comes_back_once(stack: LocalStack) -> None:
    # GIVEN the same file uploaded twice (a replacing copy) and a third document sharing most sections
    first = upload_bytes(stack, ALICE, "policy.md", _policy(*ALL), "text/markdown").document_id
    second = upload_bytes(stack, ALICE, "policy-copy.md", _policy(*ALL), "text/markdown", replace=True).document_id
    stack.run_until_idle()
    # WHEN alice searches with a k larger than the number of distinct chunks, in every mode
    for mode in ("hybrid", "vector", "keyword"):
        hits = _search_as(stack, ALICE, "deductible vacancy coverage dwelling HO 04 61", mode=mode, k=50)
        contents = [hit.content for hit in hits]
        # THEN each content comes back once, from one of the two documents
        assert len(contents) == len(set(contents)) >= 3
        assert {hit.document_id for hit in hits} <= {first, second}


def test_filters_by_document_type_and_current_version(stack: LocalStack) -> None:
    # GIVEN a policy, an endorsement, and a new version of the policy that supersedes the old one
    old = upload_bytes(stack, ALICE, "policy-2025.md", _policy("deductible", "vacancy"), "text/markdown").document_id
    endorsement = upload_bytes(stack, ALICE, "hof.md", _policy("endorsement", title="ENDORSEMENT"), "text/markdown")
    stack.run_until_idle()
    new = upload_bytes(
        stack, ALICE, "policy-2026.md", _policy("deductible", "vacancy", "liability"), "text/markdown", supersedes=old
    ).document_id
    stack.run_until_idle()
    with psycopg.connect(stack.database.admin_url, autocommit=True) as admin:
        admin.execute("UPDATE documents SET document_type = 'policy' WHERE id = ANY(%s)", [[old, new]])
        admin.execute("UPDATE documents SET document_type = 'endorsement' WHERE id = %s", [endorsement.document_id])
    # WHEN alice searches by type, by document, and with the old version included
    policies = _search_as(stack, ALICE, "vacancy deductible form", document_types=["policy"], k=50)
    endorsements = _search_as(stack, ALICE, "vacancy deductible form", document_types=["endorsement"], k=50)
    pinned = _search_as(stack, ALICE, "vacancy deductible", document_ids=[old], include_superseded=True, k=50)
    hidden = _search_as(stack, ALICE, "vacancy deductible", document_ids=[old], k=50)
    everything = _search_as(stack, ALICE, "vacancy", mode="keyword", include_superseded=True, k=50)
    # THEN the type filter keeps its documents (the superseded version left out), the document filter
    # keeps its own, and a superseded version is searched only when asked for
    assert {h.document_id for h in policies} == {new} and {h.document_type for h in policies} == {"policy"}
    assert {h.document_id for h in endorsements} == {endorsement.document_id}
    assert endorsements[0].document_type == "endorsement"
    assert pinned and {h.document_id for h in pinned} == {old}
    assert hidden == []
    # identical sections of the two versions are one content: the newer document's copy stands for it
    assert [h.document_id for h in everything if "vacant" in h.content] == [new]


def test_vector_mode_is_the_exact_cosine_ranking(stack: LocalStack) -> None:
    # GIVEN alice's policy, embedded with the default model
    upload_bytes(stack, ALICE, "policy.md", _policy(*ALL), "text/markdown")
    stack.run_until_idle()
    # (no glossary entry fires on it: the question is embedded as it is, as before hybrid search)
    query = "risks of direct physical loss to the dwelling"
    assert expand(query).terms == []
    # WHEN alice searches in vector mode
    hits = _search_as(stack, ALICE, query, mode="vector", k=5)
    # THEN the hits are the brute-force top 5 by cosine similarity over her vectors, scored as before
    worker = Database(stack.database.role_url("worker"))
    try:
        with worker.transaction(ALICE) as conn:
            model = active_model(conn)
            assert model is not None
            table = vector_table(conn, *model)
            vector = vector_literal(HashEmbedder(model=model[0], dimensions=model[1]).embed([query])[0])
            expected = conn.execute(
                psycopg.sql.SQL(
                    "SELECT chunk_id, 1 - (embedding <=> %s::vector) AS score FROM {} ORDER BY 2 DESC, 1 LIMIT 5"
                ).format(psycopg.sql.Identifier(str(table))),
                [vector],
            ).fetchall()
    finally:
        worker.close()
    assert [h.chunk_id for h in hits] == [row["chunk_id"] for row in expected]
    assert [h.score for h in hits] == pytest.approx([row["score"] for row in expected], abs=1e-6)
    assert {h.match for h in hits} == {"vector"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": "x", "mode": "fuzzy"}, "mode"),
        ({"query": "x", "document_types": ["brochure"]}, "document_types"),
        ({"query": "x", "include_superseded": "sometimes"}, "include_superseded"),
        ({"query": "x", "document_ids": ["not-a-uuid"]}, "document_ids"),
    ],
)
def test_bad_search_options_are_400s(stack: LocalStack, body: dict[str, Any], field: str) -> None:
    status, error = _post_search(stack, ALICE, body)
    assert (status, error["error"]) == (400, "invalid_request") and field in error["message"]


def test_the_sample_search_event_answers_with_the_new_fields(stack: LocalStack) -> None:
    # GIVEN the sample event's user with a policy whose type is known
    event = json.loads((ROOT / "events" / "search.json").read_text(encoding="utf-8"))
    user = uuid.UUID(event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"])
    document_id = upload_bytes(stack, user, "policy.md", _policy(*ALL), "text/markdown").document_id
    stack.run_until_idle()
    with psycopg.connect(stack.database.admin_url, autocommit=True) as admin:
        admin.execute("UPDATE documents SET document_type = 'policy' WHERE id = %s", [document_id])
    # WHEN SearchFunction is invoked with events/search.json (a lay question, hybrid, filtered by type)
    response = stack.invoke("SearchFunction", event)
    # THEN it answers with the policy's chunks, each saying which ranking found it and its document's type
    results = json.loads(response["body"])["results"]
    assert response["statusCode"] == 200 and results
    assert {(r["document_type"], r["document_id"]) for r in results} == {("policy", str(document_id))}
    assert {r["match"] for r in results} <= {"vector", "keyword", "both"}
