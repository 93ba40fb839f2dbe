"""Re-extracting ready documents' policy fields (docintake.fields.backfill, `docintake fields reextract`): a
document ready before its fields existed, or whose fields are stale after the rules changed, gets its row
written as the chunk stage would, as the worker under RLS, with evidence naming only chunks it has.

The rules are replaced by test_document_fields' fake (known values at known places); a rules change is a
second fake."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from docintake.api import ApiError
from docintake.api.documents import get_document_fields
from docintake.db import Database
from docintake.fields import DocumentFields, FieldName, FieldValue
from docintake.fields.backfill import Outcome, reextract_document_fields, reextract_users
from docintake.parsing import PageMap
from docintake.storage import page_map_key, put_bytes
from docintake_cli.main import main
from docintake_local.client import upload_bytes
from docintake_local.stack import LocalStack
from tests.integration.test_document_fields import FIELDS_POLICY, POLICY_NUMBER, FakeRules, _evidence
from tests.kit import USER, admin, chunks, count, ingest, update

pytestmark = pytest.mark.integration
OTHER = uuid.UUID("55555555-5555-4555-8555-555555555555")
NAMED_INSURED = "Dana Whitfield"


@pytest.fixture
def cli(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """What an operator exports against a deployed stack (DOCINTAKE_TARGET=aws): ChunkFunction's settings (the
    bucket, the chunk size), the worker role's database URL, and the ops role's to list users for --all."""
    monkeypatch.setenv("DOCINTAKE_TARGET", "aws")
    for name, value in stack.function_environment("ChunkFunction").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", stack.database.role_url("worker"))
    monkeypatch.setenv("OPS_DATABASE_URL", stack.database.role_url("ops"))


def _improved_rules(fake: FakeRules) -> Any:
    """The rules after an improvement: what they found before, and the named insured too."""

    def improved(markdown: str, page_map: PageMap) -> DocumentFields:
        found = fake(markdown, page_map)
        return found.model_copy(
            update={
                "fields": {
                    **found.fields,
                    FieldName.NAMED_INSURED: FieldValue(value=NAMED_INSURED, text=NAMED_INSURED, confidence=0.9),
                },
                "evidence": {**found.evidence, FieldName.NAMED_INSURED: _evidence(markdown, NAMED_INSURED)},
            }
        )

    return improved


def _fields_rows(stack: LocalStack) -> dict[uuid.UUID, dict[str, Any]]:
    return {row["document_id"]: row for row in admin(stack, "SELECT * FROM document_fields")}


def _evidence_chunk_ids(row: dict[str, Any]) -> list[str | None]:
    evidences = [*row["evidence"].values(), *(coverage["evidence"] for coverage in row["coverages"])]
    return [evidence["chunk_id"] for evidence in evidences if evidence]


def _ingest_as(stack: LocalStack, user: uuid.UUID, name: str) -> uuid.UUID:
    ticket = upload_bytes(stack, user, name, FIELDS_POLICY.encode(), "text/markdown", replace=True)
    stack.run_until_idle()
    return ticket.document_id


def test_a_ready_document_without_fields_gets_them_back_with_evidence_in_its_own_chunks(
    stack: LocalStack, fake_rules: FakeRules, api_db: Database
) -> None:
    # GIVEN a ready document whose fields row is gone (processed before migration 0016)
    document_id = ingest(stack, FIELDS_POLICY.encode(), "declarations.md")
    written_by_the_stage = _fields_rows(stack)[document_id]
    admin(stack, "DELETE FROM document_fields")
    # THEN its owner is told why it has none and what an operator can do
    with pytest.raises(ApiError) as refused:
        get_document_fields(api_db, USER, document_id)
    assert (refused.value.status, refused.value.code, refused.value.message) == (
        409,
        "fields_not_ready",
        "the document was processed before its fields were extracted; an operator can run docintake fields reextract",
    )
    # WHEN its fields are re-extracted as the worker
    summary = reextract_users(stack.operations("worker"), [USER])
    # THEN the row is back as the chunk stage wrote it, each evidence naming a chunk the document has
    assert [(r.document_id, r.outcome, r.fields, r.coverages, r.unplaced) for r in summary.results] == [
        (document_id, Outcome.REEXTRACTED, 2, 1, 0)
    ]
    row = _fields_rows(stack)[document_id]
    ignored = {"extracted_at"}
    assert {k: v for k, v in row.items() if k not in ignored} == {
        k: v for k, v in written_by_the_stage.items() if k not in ignored
    }
    stored = {str(chunk["id"]) for chunk in chunks(stack, "id", document_id=document_id)}
    placed = _evidence_chunk_ids(row)
    assert placed and all(chunk_id in stored for chunk_id in placed)
    # AND the API serves it, and the re-extraction is on the document's timeline (counts only)
    assert get_document_fields(api_db, USER, document_id).fields[FieldName.POLICY_NUMBER].value == POLICY_NUMBER
    [event] = admin(stack, "SELECT user_id, details FROM events WHERE event_type = 'fields_reextracted'")
    assert event == {
        "user_id": USER,
        "details": {"insurance_type": "homeowners", "fields": 2, "coverages": 1, "unplaced": 0},
    }


def test_stale_fields_are_replaced_and_evidence_names_no_chunk_the_document_lacks(
    stack: LocalStack, fake_rules: FakeRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a document whose fields the old rules extracted, and since then the rules and the chunk size changed
    document_id = ingest(stack, FIELDS_POLICY.encode(), "declarations.md")
    before = _fields_rows(stack)[document_id]
    assert FieldName.NAMED_INSURED not in before["fields"]
    monkeypatch.setattr("docintake.fields.rules.extract_with_rules", _improved_rules(fake_rules))
    pipeline = stack.operations("worker", chunk_size=300, chunk_overlap=0)
    # WHEN only the documents without fields are asked for THEN this one is not touched
    assert reextract_users(pipeline, [USER], missing_only=True).results == []
    # WHEN those extracted before now are re-extracted
    summary = reextract_users(pipeline, [USER], extracted_before=datetime.now(UTC))
    # THEN the row holds what the new rules find, newer than before
    [done] = summary.results
    assert done.outcome == Outcome.REEXTRACTED
    after = _fields_rows(stack)[document_id]
    assert after["fields"][FieldName.NAMED_INSURED]["value"] == NAMED_INSURED
    assert after["extracted_at"] > before["extracted_at"]
    # AND no evidence names a chunk of the new chunk size, which the document does not have: those keep their
    # page and span without a chunk id
    stored = {str(chunk["id"]) for chunk in chunks(stack, "id", document_id=document_id)}
    placed = _evidence_chunk_ids(after)
    assert done.unplaced == placed.count(None) > 0
    assert all(chunk_id in stored for chunk_id in placed if chunk_id is not None)
    assert count(stack, "document_fields") == 1


def test_a_document_not_ready_is_skipped(stack: LocalStack, fake_rules: FakeRules) -> None:
    # GIVEN an upload not processed yet, and a ready document being processed again
    again = ingest(stack, FIELDS_POLICY.encode(), "declarations.md")
    waiting = upload_bytes(stack, USER, "waiting.md", b"# Waiting\n", "text/markdown").document_id
    admin(stack, "DELETE FROM document_fields")
    update(stack, "documents", {"status": "processing"}, id=again)
    pipeline = stack.operations("worker")
    # WHEN each is re-extracted THEN each is skipped, and nothing is written
    for document_id in (waiting, again):
        skipped = reextract_document_fields(pipeline, USER, document_id)
        assert (skipped.outcome, skipped.reason) == (Outcome.SKIPPED, "not_ready")
    # AND another user's document is as unknown as a missing one
    unknown = reextract_document_fields(pipeline, OTHER, again)
    assert (unknown.outcome, unknown.reason) == (Outcome.SKIPPED, "not_found")
    # AND listing a user's documents leaves out those not ready
    assert reextract_users(pipeline, [USER]).results == []
    assert count(stack, "document_fields") == 0


def test_a_degraded_result_never_replaces_stored_fields_and_one_bad_document_does_not_stop_the_run(
    stack: LocalStack, fake_rules: FakeRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN two ready documents with fields, one of whose page maps is unreadable
    first = ingest(stack, FIELDS_POLICY.encode(), "first.md")
    second = ingest(stack, FIELDS_POLICY.replace("Clause 1:", "Clause 91:").encode(), "second.md")
    before = _fields_rows(stack)
    pipeline = stack.operations("worker")
    put_bytes(pipeline.s3, pipeline.settings.bucket_name, page_map_key(USER, first), b"{not json", "application/json")

    # WHEN the rules have a bug and everything is re-extracted
    def broken(markdown: str, page_map: PageMap) -> DocumentFields:
        raise KeyError("rules bug")

    monkeypatch.setattr("docintake.fields.rules.extract_with_rules", broken)
    summary = reextract_users(pipeline, [USER])
    # THEN each document fails with its reason, the run goes on, and neither row is touched
    outcomes = {result.document_id: (result.outcome, result.reason) for result in summary.results}
    assert outcomes == {
        first: (Outcome.FAILED, "corrupt_derived"),
        second: (Outcome.FAILED, "rules_failed:KeyError"),
    }
    assert _fields_rows(stack) == before
    # AND a document named that the user does not have is said, and failed
    [unknown] = reextract_users(pipeline, [USER], document_id=uuid.uuid4()).results
    assert (unknown.outcome, unknown.reason) == (Outcome.FAILED, "not_found")


def test_the_cli_reextracts_one_users_documents_or_everyones_and_prints_the_counts(
    stack: LocalStack,
    fake_rules: FakeRules,
    cli: None,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN two users' ready documents without fields, and one of the first user's not ready
    mine = _ingest_as(stack, USER, "mine.md")
    theirs = _ingest_as(stack, OTHER, "theirs.md")
    admin(stack, "DELETE FROM document_fields")
    waiting = upload_bytes(stack, USER, "waiting.md", b"# Waiting\n", "text/markdown").document_id
    # WHEN an operator dry-runs the first user THEN it says what it would do and writes nothing
    assert main(["fields", "reextract", "--user", str(USER), "--dry-run", "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert (dry["reextracted"], dry["would_reextract"], dry["dry_run"]) == (0, 1, True)
    assert [d["document_id"] for d in dry["documents"]] == [str(mine)]
    assert (count(stack, "document_fields"), count(stack, "events", event_type="fields_reextracted")) == (0, 0)
    # WHEN the operator re-extracts the first user's documents
    caplog.clear()
    assert main(["fields", "reextract", "--user", str(USER)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # THEN one line per document without any value, and the counts; the other user's document is untouched
    assert lines == [
        f"{mine} user={USER} reextracted type=homeowners fields=2 coverages=1 unplaced=0",
        "reextracted=1 skipped=0 failed=0",
    ]
    assert set(_fields_rows(stack)) == {mine}
    # AND its logs say what was done without a value
    logs = [json.dumps(vars(record), default=str) for record in caplog.records if "backfill" in record.name]
    assert len(logs) == 1 and "fields reextracted" in logs[0] and '"fields": 2' in logs[0]
    assert not any(value in logs[0] for value in (POLICY_NUMBER, "Whitfield", "1,284", "1284"))
    # WHEN the not-ready document is named, with its owner or found by the ops role THEN it is skipped
    for whose in (["--user", str(USER)], ["--all"]):
        assert main(["fields", "reextract", *whose, "--document", str(waiting)]) == 0
        assert capsys.readouterr().out.splitlines() == [
            f"{waiting} user={USER} skipped reason=not_ready",
            "reextracted=0 skipped=1 failed=0",
        ]
    # WHEN every user's documents missing fields are re-extracted THEN the other user's alone is (the ops role
    # lists users; each user's documents are read and written as the worker under RLS)
    assert main(["fields", "reextract", "--all", "--missing-only", "--json"]) == 0
    everyone = json.loads(capsys.readouterr().out)
    assert [(d["document_id"], d["user_id"], d["outcome"]) for d in everyone["documents"]] == [
        (str(theirs), str(OTHER), "reextracted")
    ]
    assert set(_fields_rows(stack)) == {mine, theirs}
    assert _fields_rows(stack)[theirs]["user_id"] == OTHER
    # AND usage errors exit 2 before anything is touched
    for wrong in (["--user", str(USER), "--all"], [], ["--all", "--extracted-before", "yesterday"]):
        with pytest.raises(SystemExit) as usage:
            main(["fields", "reextract", *wrong])
        assert usage.value.code == 2
