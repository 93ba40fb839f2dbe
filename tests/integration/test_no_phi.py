"""No document content anywhere it does not belong: a canary string pushed through the success path and
every failure path appears in no log line, no event row, no stored error and no dead letter."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

import docintake.stages
from docintake.logs import describe_exception, scrub_traceback
from docintake_local.client import search_as, upload_bytes
from docintake_local.stack import LocalStack
from tests.kit import USER, admin, jobs, queue_depth, upload_bytes_declared_only

pytestmark = pytest.mark.integration
CANARY = f"CANARY-{uuid.uuid4().hex}"
POLICY = (
    f"# POLICY OF {CANARY}\n\n## DECLARATIONS\n\nNamed insured: {CANARY}, diagnosis {CANARY}.\n\n"
    "## SECTION I – COVERAGES\n\n" + " ".join(f"Clause {i} covers {CANARY}." for i in range(40))
).encode()


def _settle(stack: LocalStack, until: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    """Runs the pipeline through redeliveries (the test stack's visibility is 2 s, backoff 3 s) until ``until``
    holds: it waits on that outcome, since any fixed time would be short on a loaded machine."""
    deadline = time.monotonic() + seconds
    while True:
        stack.run_until_idle()
        if until():
            return
        if time.monotonic() > deadline:
            states = [(j["state"], j["last_error_code"]) for j in jobs(stack, "state", "last_error_code")]
            raise AssertionError(f"not {what} after {seconds:g} s; jobs: {states}")
        time.sleep(0.5)


def _idle(stack: LocalStack) -> bool:
    """No stage message or S3 event left, visible or in flight (dead letters aside)."""
    return not any(queue_depth(stack, q) for q in stack.queue_urls if not q.endswith("DLQ"))


def _failed_once(stack: LocalStack, job_id: uuid.UUID) -> bool:
    """The job's stage has failed and waits for its redelivery (backoff), its error recorded."""
    [job] = jobs(stack, "state", "last_error_code", id=job_id)
    return (job["state"], job["last_error_code"]) == ("retrying", "internal_error")


def test_the_canary_never_leaves_the_document(
    stack: LocalStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    s3 = stack.client("s3")
    # 1. Success, with the canary in the text, the filename and a search query.
    ok = upload_bytes(stack, USER, f"{CANARY} claim.md", POLICY, "text/markdown")
    stack.run_until_idle()
    assert search_as(stack, USER, f"what covers {CANARY}?")["results"]
    # 2. Validation failures: declared PDF but text; bytes that are not the declared ones.
    for declared, stored, content_type in (
        (POLICY, POLICY, "application/pdf"),
        (POLICY, POLICY.replace(b"Clause 3 ", b"Clause 9 "), "text/markdown"),
    ):
        ticket = upload_bytes_declared_only(stack, declared, content_type)
        s3.put_object(Bucket=stack.bucket, Key=ticket["key"], Body=stored)
    stack.run_until_idle()
    # 3. A PDF the parser cannot read, with the canary in its bytes.
    broken = b"%PDF-1.7\n" + CANARY.encode() * 50 + b"\n%%EOF"
    upload_bytes(stack, USER, "broken.pdf", broken, "application/pdf")
    stack.run_until_idle()
    # 4. A library exception quoting the canary (transient: retried, then it succeeds).
    real_chunk_work = docintake.stages.chunk_work
    calls = {"n": 0}

    def quoting_chunk_work(pipeline: Any, claim: Any, filler: Any = None) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError(f"could not split {CANARY}")
        return real_chunk_work(pipeline, claim, filler)

    # 5. A database error whose DETAIL quotes a row holding the canary (psycopg "Failing row contains").
    def row_quoting_chunk_work(pipeline: Any, claim: Any, filler: Any = None) -> Any:
        def write(conn: psycopg.Connection[Any]) -> dict[str, Any]:
            conn.execute(
                "INSERT INTO document_chunks (id, document_id, user_id, ordinal, content, page_start, page_end,"
                " char_count, content_hash) VALUES (%s, %s, %s, 0, %s, 0, 1, 1, 'h')",
                [uuid.uuid4(), claim.message.document_id, claim.message.user_id, CANARY],
            )
            return {}

        return write

    monkeypatch.setattr(docintake.stages, "chunk_work", quoting_chunk_work)
    retried = upload_bytes(stack, USER, "retried.md", POLICY, "text/markdown", replace=True)
    _settle(stack, lambda: _idle(stack), "idle (the retried job through its retry)")
    monkeypatch.setattr(docintake.stages, "chunk_work", row_quoting_chunk_work)
    row = upload_bytes(stack, USER, "row.md", POLICY, "text/markdown", replace=True)
    _settle(stack, lambda: _failed_once(stack, row.job_id), "row.md retrying (its chunk stage failed)")
    monkeypatch.undo()

    # The paths really ran: one done, two rejected, one parse failure, one retried to done, one retrying.
    finished = jobs(stack, "document_id", "state", "last_error_code")
    assert [(j["state"], j["last_error_code"]) for j in finished] == [
        ("done", None),
        ("failed", "type_mismatch"),
        ("failed", "checksum_mismatch"),
        ("failed", "corrupt_pdf"),
        ("done", None),
        ("retrying", "internal_error"),
    ]
    assert finished[0]["document_id"] == ok.document_id and finished[4]["document_id"] == retried.document_id
    assert calls["n"] >= 2

    # THEN the canary is in no log line (function logs, the local stack's, anything printed) …
    function_logs = (tmp_path / "functions.jsonl").read_text(encoding="utf-8")
    assert "stage will retry" in function_logs and "upload rejected" in function_logs
    captured = capsys.readouterr()
    for where, text in (
        ("function logs", function_logs),
        ("python logging", caplog.text),
        ("stdout", captured.out),
        ("stderr", captured.err),
    ):
        assert CANARY not in text, where
    # … in no event, no stored error, and no message left in any queue.
    events = admin(stack, "SELECT events::text AS row FROM events")
    assert len(events) > 15 and not any(CANARY in e["row"] for e in events)
    errors = admin(
        stack, "SELECT coalesce(last_error_message, '') || coalesce(last_error_code, '') AS e FROM upload_jobs"
    )
    assert not any(CANARY in e["e"] for e in errors)
    # (the one message left is the retrying job's, in flight: wait for it to be visible again, so it is read)
    sqs = stack.client("sqs")
    left: list[dict[str, Any]] = []
    for name, url in stack.queue_urls.items():
        wait = 10 if queue_depth(stack, name) else 0
        left += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get("Messages", [])
    assert not any(CANARY in m["Body"] for m in left)
    assert [json.loads(m["Body"]).get("document_id") for m in left] == [str(finished[5]["document_id"])]


def test_scrubbing_keeps_types_codes_and_frames_but_no_messages() -> None:
    row = psycopg.errors.CheckViolation(f"new row violates check constraint\nDETAIL: Failing row contains ({CANARY})")
    try:
        try:
            raise KeyError(CANARY)
        except KeyError as inner:
            raise row from inner
    except psycopg.Error as exc:
        scrubbed = scrub_traceback((type(exc), exc, exc.__traceback__))
    assert CANARY not in scrubbed
    assert "CheckViolation: sqlstate" in scrubbed and "KeyError" in scrubbed and "test_no_phi.py" in scrubbed
    from botocore.exceptions import ClientError

    error = ClientError({"Error": {"Code": "NoSuchKey", "Message": f"uploads/{CANARY}.pdf"}}, "GetObject")
    assert describe_exception(error) == "ClientError: NoSuchKey in GetObject"
    assert json.dumps(describe_exception(ValueError(CANARY))) == '"ValueError"'
    assert hashlib.sha256(CANARY.encode()).hexdigest() not in describe_exception(ValueError(CANARY))
