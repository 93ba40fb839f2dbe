"""GET /documents, GET /documents/{id} and POST /documents/{id}/retry through DocumentsFunction."""

from __future__ import annotations

import uuid

import pytest

from docintake_local.client import UploadRefused, list_as, retry_as, show_as, upload_bytes
from docintake_local.stack import LocalStack
from tests.kit import POLICY, USER, admin, ingest, update

pytestmark = pytest.mark.integration
OTHER = uuid.UUID("33333333-3333-4333-8333-333333333333")


def test_a_user_lists_their_own_documents_newest_first_a_page_at_a_time(stack: LocalStack) -> None:
    # GIVEN three documents of the user (two done, one still awaiting its file) and one of another user
    first = ingest(stack)
    second = ingest(stack, POLICY.replace(b"Clause 1 ", b"Clause 5 "), "second.md")
    ticket = upload_bytes(stack, USER, "third.md", POLICY, "text/markdown", replace=True)
    update(stack, "upload_jobs", {"stage": "awaiting_upload"}, document_id=ticket.document_id)
    _ingest_other = upload_bytes(stack, OTHER, "other.md", POLICY, "text/markdown")
    del _ingest_other
    # WHEN they list two at a time
    page = list_as(stack, USER, limit=2)
    rest = list_as(stack, USER, limit=2, cursor=page["next_cursor"])
    # THEN newest first, with stage progress and counts, and the other user's document nowhere
    listed = [d["document_id"] for d in page["documents"] + rest["documents"]]
    assert listed == [str(ticket.document_id), str(second), str(first)]
    assert rest["next_cursor"] is None
    done = page["documents"][1]
    assert (done["status"], done["stage"], done["progress"], done["error"]) == ("ready", "done", 1.0, None)
    assert done["chunk_count"] == done["embedded_count"] > 0
    assert page["documents"][0]["progress"] == 0.0
    assert list_as(stack, OTHER)["documents"][0]["filename"] == "other.md"
    with pytest.raises(UploadRefused) as refused:
        list_as(stack, USER, cursor="not-a-cursor")
    assert (refused.value.status, refused.value.body["error"]) == (400, "invalid_request")


def test_a_failure_says_what_happened_and_whether_a_retry_can_help(stack: LocalStack) -> None:
    # GIVEN a PDF that cannot be read
    document_id = ingest(stack, b"%PDF-1.7\nnot really a pdf\n%%EOF", "broken.pdf", "application/pdf")
    shown = show_as(stack, USER, document_id)
    # THEN the status names the code, explains it, and says a retry will not help
    assert (shown["status"], shown["state"], shown["stage"]) == ("failed", "failed", "parsing")
    assert shown["error"] == {
        "code": "corrupt_pdf",
        "message": "The PDF is damaged and could not be read. Export or scan it again and upload it.",
        "retryable": False,
    }
    # AND retrying is refused with 409; another user cannot even see it
    with pytest.raises(UploadRefused) as refused:
        retry_as(stack, USER, document_id)
    assert (refused.value.status, refused.value.body["error"]) == (409, "not_retryable")
    with pytest.raises(UploadRefused) as hidden:
        show_as(stack, OTHER, document_id)
    assert hidden.value.status == 404


def test_a_retry_resumes_from_the_last_completed_stage_and_reuses_its_output(stack: LocalStack) -> None:
    # GIVEN a document that ran out of attempts while chunking (its Markdown is in S3 from parsing)
    document_id = ingest(stack)
    admin(stack, "DELETE FROM document_chunks")
    admin(
        stack,
        "UPDATE upload_jobs SET stage = 'chunking', state = 'dead_lettered', last_error_code = 's3_unavailable',"
        " finished_at = now()",
    )
    update(stack, "documents", {"status": "failed"})
    shown = show_as(stack, USER, document_id)
    assert shown["error"]["retryable"] is True and shown["progress"] == 0.5
    # WHEN the user retries
    accepted = retry_as(stack, USER, document_id)
    # THEN the job waits at parsed (progress kept), and the pipeline finishes it without parsing again
    assert (accepted["stage"], accepted["state"], accepted["status"], accepted["error"]) == (
        "parsed",
        "queued",
        "processing",
        None,
    )
    stack.run_until_idle()
    final = show_as(stack, USER, document_id)
    assert (final["state"], final["status"]) == ("done", "ready") and final["chunk_count"] > 0
    started = admin(stack, "SELECT stage, count(*) AS n FROM events WHERE event_type = 'stage_started' GROUP BY stage")
    assert {r["stage"]: r["n"] for r in started} == {"parsing": 1, "chunking": 2, "embedding": 2}
    assert admin(stack, "SELECT details->>'step' AS step FROM events WHERE event_type = 'retry_requested'") == [
        {"step": "chunk"}
    ]
    # AND a finished document cannot be retried
    with pytest.raises(UploadRefused) as refused:
        retry_as(stack, USER, document_id)
    assert refused.value.status == 409
