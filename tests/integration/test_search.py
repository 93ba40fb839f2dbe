"""POST /search through SearchFunction: only the caller's chunks, with citations, and the full k with
exact recall (tests/integration/test_vectors_per_model.py)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from docintake.db import Database
from docintake_local.client import api_event, upload_bytes
from docintake_local.stack import LocalStack

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
