"""Policy fields stored and served (issue 18, item 4): the chunk stage writes a document's fields beside its
chunks, GET /documents/{id}/fields serves them to their owner alone, deletion removes them, search filters
by them.

The rules (docintake.fields.rules) are the lead's and still growing: tests that need known values replace
``extract_with_rules`` with a fake reading this module's policy; the others assert only what holds whatever
the rules find (a row, a valid type, row-level security). Search filter tests write rows directly."""

from __future__ import annotations

import io
import json
import math
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from docintake.api import ApiError
from docintake.api.documents import get_document_fields
from docintake.api.search import parse_search_request
from docintake.db import Database
from docintake.errors import DependencyUnavailable, PermanentError
from docintake.fields import (
    Coverage,
    DocumentFields,
    Evidence,
    FieldName,
    FieldValue,
    InsuranceDocumentType,
    Money,
)
from docintake.parsing import PageMap
from docintake.search import FieldFilter
from docintake_cli.main import main
from docintake_local.client import UploadRefused, call_api, delete_as, fields_as, retry_as, upload_bytes
from docintake_local.demo import Tracked, show_fields
from docintake_local.stack import LocalStack
from tests.kit import USER, admin, chunks, count, document_status, ingest, job_row, update

pytestmark = pytest.mark.integration
OTHER = uuid.UUID("44444444-4444-4444-8444-444444444444")
POLICY_NUMBER = "HO-4417-2291"
# A homeowners declarations page in Markdown, long enough for several chunks (so evidence can name the wrong
# one), its values at known places.
FIELDS_POLICY = (
    "# HOMEOWNERS POLICY DECLARATIONS\n\n"
    f"Policy Number: {POLICY_NUMBER}\n\nNamed Insured: Dana Whitfield\n\n"
    + " ".join(f"Clause {i}: we cover the dwelling on the residence premises." for i in range(60))
    + "\n\n## COVERAGES\n\n| Coverage | Limit | Deductible |\n| --- | --- | --- |\n"
    "| A. Dwelling | $350,000 | $1,000 |\n\n"
    + " ".join(f"Condition {i}: you must notify us promptly of any loss." for i in range(60))
    + "\n\nTotal Annual Premium: $1,284.00\n"
)


def _evidence(markdown: str, quote: str) -> Evidence:
    start = markdown.index(quote)
    return Evidence(page=1, start=start, end=start + len(quote), quote=quote)


class FakeRules:
    """extract_with_rules for FIELDS_POLICY: a policy number, a premium (``premium``, changed by a test to see
    a re-chunk replace it) and one coverage row, each with its span in the Markdown."""

    def __init__(self) -> None:
        self.premium = "$1,284.00"
        self.calls = 0

    def __call__(self, markdown: str, page_map: PageMap) -> DocumentFields:
        self.calls += 1
        if POLICY_NUMBER not in markdown:
            return DocumentFields(document_type=InsuranceDocumentType.OTHER, document_type_confidence=0.0)
        row = "| A. Dwelling | $350,000 | $1,000 |"
        premium = self.premium if self.premium in markdown else "$1,284.00"
        return DocumentFields(
            document_type=InsuranceDocumentType.HOMEOWNERS,
            document_type_confidence=0.9,
            fields={
                FieldName.POLICY_NUMBER: FieldValue(value=POLICY_NUMBER, text=POLICY_NUMBER, confidence=0.95),
                FieldName.PREMIUM: FieldValue(
                    value=self.premium.strip("$").replace(",", ""), text=self.premium, currency="USD", confidence=0.9
                ),
            },
            coverages=[
                Coverage(
                    name="A. Dwelling",
                    limit=Money(value="350000.00", currency="USD", text="$350,000"),
                    deductible=Money(value="1000.00", currency="USD", text="$1,000"),
                    page=1,
                    evidence=_evidence(markdown, row),
                )
            ],
            evidence={
                FieldName.POLICY_NUMBER: _evidence(markdown, POLICY_NUMBER),
                FieldName.PREMIUM: _evidence(markdown, premium),
            },
        )


def _fields_row(stack: LocalStack, document_id: uuid.UUID) -> dict[str, Any]:
    """The document's one document_fields row, read as the owner."""
    [row] = admin(stack, "SELECT * FROM document_fields WHERE document_id = %s", [document_id])
    return row


# --- written by the chunk stage --------------------------------------------------------------------------------


def test_the_chunk_stage_stores_the_fields_with_evidence_in_the_documents_own_chunks(
    stack: LocalStack, fake_rules: FakeRules
) -> None:
    # GIVEN a homeowners declarations page WHEN it goes through the pipeline
    document_id = ingest(stack, FIELDS_POLICY.encode(), "declarations.md")
    # THEN its fields row holds the type, the values and the coverage as DocumentFields serializes them
    row = _fields_row(stack, document_id)
    assert (row["user_id"], row["document_type"], row["extractor"], row["notes"]) == (USER, "homeowners", "rules", [])
    assert row["document_type_confidence"] == pytest.approx(0.9)
    assert row["fields"]["policy_number"]["value"] == POLICY_NUMBER
    assert row["fields"]["premium"] == {
        "value": "1284.00",
        "text": "$1,284.00",
        "currency": "USD",
        "cost_share": None,
        "confidence": 0.9,
        "source": "rules",
    }
    [coverage] = row["coverages"]
    assert (coverage["name"], coverage["limit"]["value"], coverage["deductible"]["text"]) == (
        "A. Dwelling",
        "350000.00",
        "$1,000",
    )
    # AND every evidence names a chunk of this document that holds the quoted text
    contents = {str(c["id"]): c["content"] for c in chunks(stack, "id", "content", document_id=document_id)}
    assert len(contents) > 1
    evidences = [*row["evidence"].values(), coverage["evidence"]]
    assert len(evidences) == 3
    for evidence in evidences:
        assert evidence["chunk_id"] in contents
        assert evidence["quote"] in contents[evidence["chunk_id"]]
    # AND the stage's completion says the type and how many fields, never a value
    [details] = [
        e["details"]
        for e in admin(stack, "SELECT details FROM events WHERE event_type = 'stage_completed' AND stage = 'chunked'")
    ]
    assert (details["insurance_type"], details["fields"], details["coverages"]) == ("homeowners", 2, 1)
    assert POLICY_NUMBER not in json.dumps(details) and "1284" not in json.dumps(details)
    logs = (stack.log_file.read_text(encoding="utf-8") if stack.log_file else "").lower()
    assert "dana whitfield" not in logs and POLICY_NUMBER.lower() not in logs


def test_a_rechunk_replaces_the_fields(stack: LocalStack, fake_rules: FakeRules) -> None:
    # GIVEN a document with its fields, whose chunk stage is to run again (a retry after a dead letter)
    document_id = ingest(stack, FIELDS_POLICY.encode(), "declarations.md")
    first = _fields_row(stack, document_id)
    update(
        stack,
        "upload_jobs",
        {"stage": "chunking", "state": "dead_lettered", "last_error_code": "s3_unavailable"},
        document_id=document_id,
    )
    update(stack, "documents", {"status": "failed"}, id=document_id)
    fake_rules.premium = "$1,350.00"  # what the rules read this time
    # WHEN the user retries and the pipeline re-chunks
    retry_as(stack, USER, document_id)
    stack.run_until_idle()
    # THEN the one row holds the new extraction
    second = _fields_row(stack, document_id)
    assert second["fields"]["premium"]["value"] == "1350.00"
    assert second["extracted_at"] > first["extracted_at"]
    assert count(stack, "document_fields") == 1
    chunk_ids = {str(c["id"]) for c in chunks(stack, "id", document_id=document_id)}
    assert {e["chunk_id"] for e in second["evidence"].values()} <= chunk_ids


class FakeFiller:
    """A language model's filler that finds the named insured the fake rules missed, and says so in a note."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def fill(
        self, found: DocumentFields, markdown: str, page_map: PageMap, *, deadline: float = math.inf
    ) -> DocumentFields:
        self.asked.append(found.document_type)
        name = "Dana Whitfield"
        value = FieldValue(value=name, text=name, confidence=0.7, source="llm")
        return found.model_copy(
            update={
                "fields": {**found.fields, FieldName.NAMED_INSURED: value},
                "evidence": {**found.evidence, FieldName.NAMED_INSURED: _evidence(markdown, name)},
                "extractor": "rules+llm",
                "notes": ["llm_disagrees:premium"],
            }
        )


def test_the_chunk_stage_asks_the_filler_it_is_given_for_what_the_rules_missed(
    stack: LocalStack, fake_rules: FakeRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN ChunkFunction's container built with a filler (fields.llm's, when FIELDS_LLM_PROVIDER names one)
    filler = FakeFiller()
    monkeypatch.setattr(stack.load_function("ChunkFunction"), "filler", filler)
    # WHEN a document goes through the pipeline
    document_id = ingest(stack, FIELDS_POLICY.encode(), "declarations.md")
    # THEN the filler was asked once, after the rules, and its value is stored with its evidence and note
    assert filler.asked == ["homeowners"]
    row = _fields_row(stack, document_id)
    assert (row["extractor"], row["notes"]) == ("rules+llm", ["llm_disagrees:premium"])
    assert row["fields"]["named_insured"]["source"] == "llm"
    chunk_ids = {str(c["id"]) for c in chunks(stack, "id", document_id=document_id)}
    assert row["evidence"]["named_insured"]["chunk_id"] in chunk_ids


class FailingFiller:
    """A model that fails the way ``error`` says."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def fill(
        self, found: DocumentFields, markdown: str, page_map: PageMap, *, deadline: float = math.inf
    ) -> DocumentFields:
        raise self.error


def test_a_bug_in_the_rules_costs_the_fields_not_the_document(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN rules that raise on every document (a bug, which a retry would meet again)
    def broken(markdown: str, page_map: PageMap) -> DocumentFields:
        raise ValueError("Dana Whitfield")

    monkeypatch.setattr("docintake.fields.rules.extract_with_rules", broken)
    # WHEN a document goes through the pipeline
    document_id = ingest(stack, FIELDS_POLICY.encode(), "declarations.md")
    # THEN it is ready and searchable, its fields row says why it has no fields, and no log line holds the text
    assert document_status(stack, document_id) == "ready"
    assert count(stack, "document_chunks", document_id=document_id) > 0
    row = _fields_row(stack, document_id)
    assert (row["document_type"], row["fields"], row["notes"]) == ("other", {}, ["rules_failed:ValueError"])
    assert stack.log_file is not None
    logs = stack.log_file.read_text(encoding="utf-8")
    assert '"fields rules failed"' in logs and '"FieldsExtractionDegraded"' in logs
    assert "Dana Whitfield" not in logs


def test_a_model_that_refuses_for_good_leaves_the_rules_fields(
    stack: LocalStack, fake_rules: FakeRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a model that refuses every request (a misspelt model name: 404 model_not_found)
    filler = FailingFiller(PermanentError("the fields LLM rejected the request (404)", code="permanent_error"))
    monkeypatch.setattr(stack.load_function("ChunkFunction"), "filler", filler)
    # WHEN a document goes through the pipeline THEN it is ready with the rules' fields and the model's failure noted
    document_id = ingest(stack, FIELDS_POLICY.encode(), "declarations.md")
    assert document_status(stack, document_id) == "ready"
    row = _fields_row(stack, document_id)
    assert row["fields"]["policy_number"]["value"] == POLICY_NUMBER
    assert row["notes"] == ["llm_failed:permanent_error"]


def test_a_model_unavailable_now_retries_the_stage(
    stack: LocalStack, fake_rules: FakeRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a model that is down
    filler = FailingFiller(DependencyUnavailable("the fields LLM (openai) failed 4 times (last: 503)"))
    monkeypatch.setattr(stack.load_function("ChunkFunction"), "filler", filler)
    # WHEN a document reaches the chunk stage THEN the stage is retried (nothing written), not failed
    ticket = upload_bytes(stack, USER, "declarations.md", FIELDS_POLICY.encode(), "text/markdown")
    stack.run_until_idle()
    job = job_row(stack, document_id=ticket.document_id)
    assert (job["stage"], job["state"], job["last_error_code"]) == ("chunking", "retrying", "dependency_unavailable")
    assert count(stack, "document_fields", document_id=ticket.document_id) == 0


def test_with_the_real_rules_the_pipeline_stores_what_the_declarations_say(stack: LocalStack) -> None:
    # GIVEN the real rules WHEN a declarations page and a note are ingested
    declarations = ingest(stack, FIELDS_POLICY.encode(), "declarations.md")
    note = ingest(stack, b"# Claim notes\n\nThe adjuster visited on Monday.\n", "notes.md")
    # THEN the declarations' row holds its values as written, each evidenced in one of its own chunks
    row = _fields_row(stack, declarations)
    stored = DocumentFields.model_validate({key: row[key] for key in DocumentFields.model_fields})
    assert stored.document_type is InsuranceDocumentType.HOMEOWNERS
    assert {name.value: value.text for name, value in stored.fields.items()} == {
        "policy_number": POLICY_NUMBER,
        "named_insured": "Dana Whitfield",
        "premium": "$1,284.00",
    }
    [dwelling] = stored.coverages
    assert (dwelling.name, dwelling.limit, dwelling.deductible) == (
        "A. Dwelling",
        Money(value="350000.00", currency="USD", text="$350,000"),
        Money(value="1000.00", currency="USD", text="$1,000"),
    )
    contents = {c["id"]: c["content"] for c in chunks(stack, "id", "content", document_id=declarations)}
    for evidence in [*stored.evidence.values(), dwelling.evidence]:
        assert evidence is not None and evidence.quote in contents[evidence.chunk_id]
    # AND the note has its row too: nothing found, typed other
    assert (_fields_row(stack, note)["document_type"], _fields_row(stack, note)["fields"]) == ("other", {})
    # AND no log line holds a value
    assert stack.log_file is not None
    logs = stack.log_file.read_text(encoding="utf-8")
    assert "Dana Whitfield" not in logs and POLICY_NUMBER not in logs


# --- served --------------------------------------------------------------------------------------------------


def test_the_fields_are_served_to_their_owner_and_to_nobody_else(
    stack: LocalStack, fake_rules: FakeRules, api_db: Database
) -> None:
    # GIVEN a user's document with fields
    document_id = ingest(stack, FIELDS_POLICY.encode(), "declarations.md")
    # WHEN its owner asks THEN the stored fields with the document's id, in the DocumentFields JSON shape
    served = get_document_fields(api_db, USER, document_id).model_dump(mode="json")
    assert served["document_id"] == str(document_id)
    assert served["document_type"] == "homeowners"
    assert served["fields"]["policy_number"]["text"] == POLICY_NUMBER
    assert served["coverages"][0]["deductible"] == {"value": "1000.00", "currency": "USD", "text": "$1,000"}
    assert set(served) == {"document_id", *DocumentFields.model_fields}
    # AND GET /documents/{id}/fields through DocumentsFunction serves the same JSON
    assert fields_as(stack, USER, document_id) == served
    with pytest.raises(UploadRefused) as refused_over_http:
        fields_as(stack, OTHER, document_id)
    assert (refused_over_http.value.status, refused_over_http.value.body["error"]) == (404, "not_found")
    # AND another user, or an unknown id, gets the same 404 as for any other document route
    for user, asked in ((OTHER, document_id), (USER, uuid.uuid4())):
        with pytest.raises(ApiError) as refused:
            get_document_fields(api_db, user, asked)
        assert (refused.value.status, refused.value.code, refused.value.message) == (
            404,
            "not_found",
            "no such document",
        )


def test_a_document_not_chunked_yet_has_no_fields_and_says_so(stack: LocalStack, api_db: Database) -> None:
    # GIVEN an upload the pipeline has not processed
    ticket = upload_bytes(stack, USER, "waiting.md", FIELDS_POLICY.encode(), "text/markdown")
    # WHEN its owner asks for its fields THEN 409 fields_not_ready, told apart from an unknown document
    with pytest.raises(ApiError) as refused:
        get_document_fields(api_db, USER, ticket.document_id)
    assert (refused.value.status, refused.value.code) == (409, "fields_not_ready")
    assert refused.value.message.startswith("the document has no fields yet")
    # AND the same over HTTP, through DocumentsFunction's route
    with pytest.raises(UploadRefused) as over_http:
        fields_as(stack, USER, ticket.document_id)
    assert (over_http.value.status, over_http.value.body["error"]) == (409, "fields_not_ready")


def test_deleting_a_document_deletes_its_fields(stack: LocalStack, fake_rules: FakeRules, api_db: Database) -> None:
    # GIVEN two documents with fields
    doomed = ingest(stack, FIELDS_POLICY.encode(), "declarations.md")
    kept = ingest(stack, FIELDS_POLICY.replace("Clause 1:", "Clause 99:").encode(), "other.md")
    assert count(stack, "document_fields") == 2
    # WHEN the user deletes one
    delete_as(stack, USER, doomed)
    # THEN its fields are gone (the cascade from its row), the other's stay
    assert [r["document_id"] for r in admin(stack, "SELECT document_id FROM document_fields")] == [kept]
    with pytest.raises(ApiError):
        get_document_fields(api_db, USER, doomed)


# --- search by fields ----------------------------------------------------------------------------------------


def _write_fields(stack: LocalStack, document_id: uuid.UUID, kind: str, **values: str | None) -> None:
    """A document_fields row with these values (their text as written: the value), as the owner writes it; a
    cost share is written "30.00 copay" or "30 coinsurance"."""
    fields: dict[str, Any] = {}
    for name, written in values.items():
        value, _, share = (written or "").partition(" ")
        if share not in ("copay", "coinsurance"):
            value, share = written or "", ""
        fields[name] = {"value": value or None, "text": written or "n/a", "confidence": 1.0}
        if share:
            fields[name]["cost_share"] = share
    admin(
        stack,
        "INSERT INTO document_fields (document_id, user_id, document_type, document_type_confidence, fields,"
        " extractor) VALUES (%s, %s, %s, 1.0, %s, 'test') ON CONFLICT (document_id) DO UPDATE"
        " SET document_type = EXCLUDED.document_type, fields = EXCLUDED.fields",
        [document_id, USER, kind, Jsonb(fields)],
    )


def _search(stack: LocalStack, where: list[dict[str, Any]], *, user: uuid.UUID = USER) -> set[str]:
    body = call_api(
        stack,
        "SearchFunction",
        "POST",
        "/search",
        user,
        {"query": "we cover the dwelling", "k": 50, "where": where},
    )
    return {hit["document_id"] for hit in body["results"]}


def test_search_filters_by_insurance_type_and_by_field_values(stack: LocalStack) -> None:
    # GIVEN three ready documents with known fields (written directly, whatever the rules find)
    cheap = ingest(stack, FIELDS_POLICY.encode(), "cheap.md")
    dear = ingest(stack, FIELDS_POLICY.replace("Clause 1:", "Clause 91:").encode(), "dear.md")
    plan = ingest(stack, FIELDS_POLICY.replace("Clause 2:", "Clause 92:").encode(), "plan.md")
    _write_fields(stack, cheap, "homeowners", deductible="500.00", effective_date="2026-03-01", insurer="Acme Mutual")
    _write_fields(stack, dear, "homeowners", deductible="2500.00", effective_date="2025-03-01", insurer="Other Co")
    _write_fields(stack, plan, "summary_of_benefits", deductible="1000.00", primary_care="30.00 copay", insurer=None)
    coinsured = ingest(stack, FIELDS_POLICY.replace("Clause 3:", "Clause 93:").encode(), "coinsured.md")
    _write_fields(stack, coinsured, "summary_of_benefits", primary_care="30 coinsurance")
    everything = {str(cheap), str(dear), str(plan), str(coinsured)}
    assert _search(stack, []) == everything
    # WHEN searching with field filters THEN only the matching documents' chunks come back
    assert _search(stack, [{"field": "document_type", "op": "eq", "value": "homeowners"}]) == {str(cheap), str(dear)}
    assert _search(stack, [{"field": "deductible", "op": "lte", "value": "1,000"}]) == {str(cheap), str(plan)}
    assert _search(stack, [{"field": "deductible", "op": "lt", "value": 1000}]) == {str(cheap)}
    assert _search(stack, [{"field": "deductible", "op": "gt", "value": 999.99}]) == {str(dear), str(plan)}
    assert _search(stack, [{"field": "deductible", "op": "eq", "value": "$2,500"}]) == {str(dear)}
    assert _search(stack, [{"field": "effective_date", "op": "gte", "value": "2026-01-01"}]) == {str(cheap)}
    assert _search(stack, [{"field": "insurer", "op": "eq", "value": "acme MUTUAL"}]) == {str(cheap)}
    # AND a cost share compares only with its own unit: a $40 copay ceiling never finds 30% coinsurance
    assert _search(stack, [{"field": "primary_care", "op": "lte", "value": "$40"}]) == {str(plan)}
    assert _search(stack, [{"field": "primary_care", "op": "lte", "value": "40%"}]) == {str(coinsured)}
    # AND filters combine (all must hold), and a document without the field never matches
    assert _search(
        stack,
        [
            {"field": "document_type", "op": "eq", "value": "homeowners"},
            {"field": "deductible", "op": "gte", "value": "1000"},
        ],
    ) == {str(dear)}
    assert _search(stack, [{"field": "premium", "op": "gte", "value": "0"}]) == set()
    # AND a text a value reads in the filter is a parameter, never SQL
    assert _search(stack, [{"field": "insurer", "op": "eq", "value": "x' OR true --"}]) == set()
    # AND another user's search sees none of them, filters or not
    assert _search(stack, [{"field": "deductible", "op": "gte", "value": "0"}], user=OTHER) == set()


def test_a_stored_value_that_is_not_a_number_or_date_does_not_match_nor_fail_the_search(stack: LocalStack) -> None:
    # GIVEN a document whose stored deductible and date are words (an LLM or a future rule wrote them)
    document_id = ingest(stack, FIELDS_POLICY.encode(), "odd.md")
    _write_fields(stack, document_id, "homeowners", deductible="See schedule", effective_date="upon binding")
    # WHEN filtering numerically and by date THEN no match and no error
    assert _search(stack, [{"field": "deductible", "op": "lte", "value": "1000"}]) == set()
    assert _search(stack, [{"field": "effective_date", "op": "lt", "value": "2030-01-01"}]) == set()


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        ({"field": "insurer", "op": "lt", "value": "A"}, "insurer compares only with eq"),
        ({"field": "document_type", "op": "gte", "value": "homeowners"}, "compares only with eq"),
        ({"field": "document_type", "value": "policy"}, "'policy' is not a valid InsuranceDocumentType"),
        ({"field": "deductible", "op": "lte", "value": "a lot"}, "is not an amount"),
        ({"field": "deductible", "op": "lte", "value": "1e1000000"}, "is not an amount"),
        ({"field": "primary_care", "op": "lte", "value": "40"}, "primary_care needs its unit"),
        ({"field": "effective_date", "op": "lt", "value": "03/01/2026"}, "Invalid isoformat"),
        ({"field": "colour", "op": "eq", "value": "red"}, "where.0.field"),
        ({"field": "deductible", "op": "~", "value": "1"}, "where.0.op"),
        ({"field": "deductible", "op": "lte", "value": "1", "extra": 1}, "where.0.extra"),
    ],
)
def test_a_bad_field_filter_is_refused_with_400_naming_it(where: dict[str, Any], problem: str) -> None:
    with pytest.raises(ApiError) as refused:
        parse_search_request(json.dumps({"query": "deductible", "where": [where]}))
    assert (refused.value.status, refused.value.code) == (400, "invalid_request")
    assert problem in refused.value.message


def test_filter_values_are_normalised_for_the_comparison() -> None:
    def normalised(**where: Any) -> Any:
        return FieldFilter.model_validate(where).value

    assert normalised(field="deductible", op="lte", value="$1,000") == "1000"
    assert normalised(field="generic_drugs", op="lte", value="20%") == "20"
    assert normalised(field="expiration_date", op="gt", value=" 2026-03-01 ") == "2026-03-01"
    assert normalised(field="document_type", value="Homeowners") == "homeowners"
    with pytest.raises(ValidationError):
        normalised(field="insurer", value="  ")


def test_the_schema_allows_exactly_the_insurance_document_types(stack: LocalStack) -> None:
    [check] = admin(
        stack,
        "SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint"
        " WHERE conname = 'document_fields_document_type_check'",
    )
    allowed = set(check["d"].split("ARRAY[")[1].split("]")[0].replace("::text", "").replace("'", "").split(", "))
    assert allowed == {t.value for t in InsuranceDocumentType}


def test_the_worker_cannot_write_fields_for_another_users_document(stack: LocalStack) -> None:
    # GIVEN a document of the user WHEN the worker, in another user's context, writes fields naming it
    document_id = ingest(stack)
    worker = Database(stack.database.role_url("worker"))
    try:
        with pytest.raises(psycopg.errors.InsufficientPrivilege), worker.transaction(OTHER) as conn:
            conn.execute(
                "INSERT INTO document_fields (document_id, user_id, document_type, document_type_confidence,"
                " extractor) VALUES (%s, %s, 'other', 0, 'x')",
                [document_id, USER],
            )
    finally:
        worker.close()
    # THEN nothing beyond the stage's own row was written (the policy's WITH CHECK refuses the row)
    assert count(stack, "document_fields", document_id=document_id) == 1


# --- the CLI -------------------------------------------------------------------------------------------------


def test_documents_fields_prints_the_stored_fields_to_their_owner_alone(
    stack: LocalStack,
    fake_rules: FakeRules,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a document with fields, and `docintake local up` running (its state file names this stack)
    document_id = ingest(stack, FIELDS_POLICY.encode(), "declarations.md")
    (tmp_path / "stack.json").write_text(json.dumps(stack.describe()))
    monkeypatch.setenv("DOCINTAKE_HOME", str(tmp_path))
    # WHEN its owner runs `docintake documents fields ID --user U`
    assert main(["documents", "fields", str(document_id), "--user", str(USER)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # THEN the type, each field with its value, text and page, and the coverages
    assert lines[:2] == [f"document {document_id}", "type: homeowners (confidence 0.90)"]
    assert [line.split() for line in lines if line.startswith(("policy_number", "premium", "A. Dwelling"))] == [
        ["policy_number", POLICY_NUMBER, POLICY_NUMBER, "1"],
        ["premium", "1284.00", "USD", "$1,284.00", "1"],
        ["A.", "Dwelling", "$350,000", "$1,000", "-", "1"],
    ]
    # AND --json is what the API serves; another user gets the API's 404 on stderr and exit code 2
    assert main(["documents", "fields", str(document_id), "--user", str(USER), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fields"]["policy_number"]["value"] == POLICY_NUMBER
    assert main(["documents", "fields", str(document_id), "--user", str(OTHER), "--json"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, json.loads(captured.err)) == ("", {"error": "not_found", "message": "no such document"})


# --- the demo ------------------------------------------------------------------------------------------------


def test_the_demo_shows_each_documents_type_and_key_fields(stack: LocalStack, fake_rules: FakeRules) -> None:
    # GIVEN a document with fields and one the pipeline has not reached
    done = ingest(stack, FIELDS_POLICY.encode(), "declarations.md")
    waiting = upload_bytes(stack, USER, "waiting.md", b"# Waiting\n", "text/markdown").document_id
    tracked = [Tracked("declarations.md", USER, done, 0.0), Tracked("waiting.md", USER, waiting, 0.0)]
    # WHEN the demo shows the fields
    out = io.StringIO()
    complete = show_fields(stack, tracked, out)
    # THEN each document's type and its key values as written, and the one without fields says so
    lines = out.getvalue().splitlines()
    assert lines[1:9] == [
        "  declarations.md: homeowners (90%)",
        "    insurer              -",
        f"    policy number        {POLICY_NUMBER}",
        "    named insured        -",
        "    period               - to -",
        "    premium              $1,284.00",
        "    coverages            1",
        "  waiting.md: the document has no fields yet (it is pending_upload)",
    ]
    assert complete is False


def test_a_field_this_release_does_not_know_is_left_out_not_a_500(
    stack: LocalStack, fake_rules: FakeRules, api_db: Database
) -> None:
    # GIVEN a row a newer release wrote, with a field this one does not know (a rollback)
    document_id = ingest(stack, FIELDS_POLICY.encode(), "declarations.md")
    admin(
        stack,
        'UPDATE document_fields SET fields = fields || \'{"flood_zone": {"value": "AE", "text": "AE",'
        ' "confidence": 0.9}}\', evidence = evidence || \'{"flood_zone": {"start": 0, "end": 2, "quote": "x"}}\''
        " WHERE document_id = %s",
        [document_id],
    )
    # WHEN its owner asks THEN the fields this release knows, without the other
    served = get_document_fields(api_db, USER, document_id)
    assert set(served.fields) == {FieldName.POLICY_NUMBER, FieldName.PREMIUM}
