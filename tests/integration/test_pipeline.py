"""The stage machine through the template's own queues on moto, with real presigned uploads over HTTP.

Each test steps the pipeline with ``run_until_idle`` (deterministic, one thread) and asserts rows,
states, events and queue contents.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest

from docintake.errors import DependencyUnavailable
from docintake.jobs import STEPS, process_stage_message
from docintake_local.client import document_status, upload_bytes
from docintake_local.stack import LocalStack
from tests.kit import (
    DEFAULT_VECTORS,
    POLICY,
    USER,
    admin,
    chunks,
    count,
    document_row,
    documents,
    events_of,
    ingest,
    job_row,
    jobs,
    parse_delivery,
    queue_depth,
    s3_event,
    stage_body_of,
    update,
    upload_bytes_declared_only,
)

pytestmark = pytest.mark.integration

# Each chunk with its vector of the default model (its own table, migration 0012).
_CHUNKS_WITH_VECTORS = (
    "SELECT c.id, c.content, v.embedding::text FROM document_chunks c"
    f" LEFT JOIN {DEFAULT_VECTORS} v ON v.chunk_id = c.id ORDER BY c.ordinal"
)


def test_an_upload_goes_through_every_stage_to_done(stack: LocalStack) -> None:
    # GIVEN a Markdown policy uploaded through the presigned URL
    document_id = ingest(stack)
    # THEN the job is done, the document ready, and every chunk has a vector of the configured model
    status = document_status(stack, USER, document_id)
    assert status is not None
    assert (status["stage"], status["state"], status["status"]) == ("done", "done", "ready")
    embedded = admin(
        stack,
        "SELECT c.ordinal, c.user_id, c.page_start, c.page_end, c.char_count, vector_dims(v.embedding) AS dims"
        f" FROM document_chunks c JOIN {DEFAULT_VECTORS} v ON v.chunk_id = c.id"
        " WHERE c.document_id = %s ORDER BY c.ordinal",
        [document_id],
    )
    assert len(embedded) == status["chunk_count"] >= 3
    assert all(c["user_id"] == USER and c["char_count"] <= 1000 for c in embedded)
    assert {c["dims"] for c in embedded} == {384}
    # AND the chunk stage classified the document from its own words
    # (a policy whose first section is its declarations: either reading is defensible)
    classified = document_row(stack, "document_type", id=document_id)
    assert classified["document_type"] in ("policy", "declarations")
    # AND the audit log tells the story under one correlation id
    events = events_of(stack, "event_type", "stage", "correlation_id", document_id=document_id)
    assert [e["event_type"] for e in events] == [
        "upload_requested",
        "upload_validated",
        "stage_started",
        "stage_completed",
        "stage_started",
        "stage_completed",
        "stage_started",
        "stage_completed",
    ]
    assert len({e["correlation_id"] for e in events}) == 1
    # AND the verified hash and the derived objects are where the keys say
    document = document_row(stack, "sha256_verified", id=document_id)
    assert document["sha256_verified"] == hashlib.sha256(POLICY).hexdigest()
    keys = [o["Key"] for o in stack.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix="derived/")["Contents"]]
    assert sorted(keys) == [
        f"derived/{USER}/{document_id}/document.md",
        f"derived/{USER}/{document_id}/pages.json",
    ]


def test_every_message_delivered_twice_duplicates_nothing(stack: LocalStack) -> None:
    # GIVEN a finished document
    document_id = ingest(stack)
    before = admin(stack, _CHUNKS_WITH_VECTORS)
    sqs = stack.client("sqs")
    # WHEN the S3 event and every stage message are delivered again
    key = document_row(stack, "s3_key", id=document_id)["s3_key"]
    stack.invoke("ValidateFunction", s3_event(stack.bucket, key))
    for stage, queue in (("parse", "ParseQueue"), ("chunk", "ChunkQueue"), ("embed", "EmbedQueue")):
        sqs.send_message(QueueUrl=stack.queue_urls[queue], MessageBody=stage_body_of(stack, document_id, stage))
    stack.run_until_idle()
    # THEN one job, the same chunks and vectors, and no message left anywhere
    assert count(stack, "upload_jobs") == 1
    assert admin(stack, _CHUNKS_WITH_VECTORS) == before
    assert all(queue_depth(stack, q) == 0 for q in stack.queue_urls)
    assert count(stack, "events", event_type="stage_started") == 3


@pytest.mark.parametrize(
    ("declared", "stored", "content_type", "code"),
    [
        (POLICY, POLICY + b"tampered", "text/markdown", "size_mismatch"),
        (POLICY, POLICY.replace(b"Dwelling", b"Dwellinx"), "text/markdown", "checksum_mismatch"),
        (
            b"%PDF-1.7 but a text file" + b"x" * 10,
            b"%PDF-1.7 but a text file" + b"x" * 10,
            "text/plain",
            "type_mismatch",
        ),
        (b"plain words, no PDF header", b"plain words, no PDF header", "application/pdf", "type_mismatch"),
    ],
)
def test_validate_refuses_what_was_not_declared(
    stack: LocalStack, declared: bytes, stored: bytes, content_type: str, code: str
) -> None:
    # GIVEN a ticket for one file, and other bytes written to its key (moto enforces no checksum)
    ticket = upload_bytes_declared_only(stack, declared, content_type)
    stack.client("s3").put_object(Bucket=stack.bucket, Key=ticket["key"], Body=stored)
    stack.run_until_idle()
    # THEN the job failed with the code, and nothing was enqueued
    job = job_row(stack, "stage", "state", "last_error_code")
    assert job == {"stage": "awaiting_upload", "state": "failed", "last_error_code": code}
    assert documents(stack, "status") == [{"status": "failed"}]
    assert queue_depth(stack, "ParseQueue") == 0
    # AND the bytes left uploads/ for quarantine/, tagged with the code
    s3 = stack.client("s3")
    assert s3.list_objects_v2(Bucket=stack.bucket, Prefix=ticket["key"]).get("KeyCount") == 0
    assert s3.get_object(Bucket=stack.bucket, Key=f"quarantine/{ticket['key']}")["Body"].read() == stored
    tags = s3.get_object_tagging(Bucket=stack.bucket, Key=f"quarantine/{ticket['key']}")["TagSet"]
    assert tags == [{"Key": "docintake-quarantine", "Value": code}]


def test_a_broken_pdf_fails_once_with_a_code_and_is_not_retried(stack: LocalStack) -> None:
    document_id = ingest(stack, b"%PDF-1.7\n" + b"\x00garbage" * 50, "broken.pdf", "application/pdf")
    job = job_row(stack, "stage", "state", "attempts", "last_error_code")
    assert job == {"stage": "parsing", "state": "failed", "attempts": 1, "last_error_code": "corrupt_pdf"}
    assert document_status(stack, USER, document_id)["status"] == "failed"  # type: ignore[index]
    assert queue_depth(stack, "ParseQueue") == 0 and queue_depth(stack, "ParseDLQ") == 0


def test_objects_that_are_not_our_uploads_are_recorded_and_ignored(stack: LocalStack) -> None:
    s3 = stack.client("s3")
    # GIVEN an object under a user's prefix naming a document that user does not have (e.g. another
    # user's document id), and an object outside the uploads/{user}/{document}/ scheme
    stray = f"uploads/{USER}/{uuid.uuid4()}/stray.pdf"
    s3.put_object(Bucket=stack.bucket, Key=stray, Body=b"%PDF-1.4")
    s3.put_object(Bucket=stack.bucket, Key="uploads/not-a-user/x/stray.pdf", Body=b"%PDF-1.4")
    stack.run_until_idle()
    # THEN the first is quarantined with owner_mismatch, the second ignored; nothing is enqueued
    events = admin(
        stack,
        "SELECT event_type, user_id, details->>'reason' AS reason, details->>'error_code' AS code"
        " FROM events ORDER BY id",
    )
    assert events == [
        {"event_type": "upload_quarantined", "user_id": USER, "reason": None, "code": "owner_mismatch"},
        {"event_type": "object_ignored", "user_id": None, "reason": "not_an_upload_key", "code": None},
    ]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=stack.bucket, Prefix=f"uploads/{USER}/").get("Contents", [])]
    assert keys == []
    tags = s3.get_object_tagging(Bucket=stack.bucket, Key=f"quarantine/{stray}")["TagSet"]
    assert tags == [{"Key": "docintake-quarantine", "Value": "owner_mismatch"}]
    assert queue_depth(stack, "ParseQueue") == 0 and queue_depth(stack, "ValidateDLQ") == 0


def test_a_transient_failure_retries_with_backoff(stack: LocalStack) -> None:
    # GIVEN S3 failing on the first delivery
    pipeline, delivery = parse_delivery(stack, receive_count=1)

    def flaky(claim: Any) -> Any:
        raise DependencyUnavailable("S3 unreachable", code="s3_unavailable")

    # WHEN the parse stage runs THEN it raises for SQS to redeliver, and the job says when
    with pytest.raises(DependencyUnavailable):
        process_stage_message(pipeline, STEPS["parse"], delivery, flaky)
    job = admin(
        stack,
        "SELECT state, stage, last_error_code, lease_owner,"
        " round(extract(epoch FROM next_retry_at - updated_at)) AS delay FROM upload_jobs",
    )[0]
    assert job == {
        "state": "retrying",
        "stage": "parsing",
        "last_error_code": "s3_unavailable",
        "lease_owner": None,
        "delay": 3,
    }


def test_the_last_allowed_delivery_marks_the_job_dead_lettered(stack: LocalStack) -> None:
    pipeline, delivery = parse_delivery(stack, receive_count=pipeline_max_receive(stack))

    def broken(claim: Any) -> Any:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        process_stage_message(pipeline, STEPS["parse"], delivery, broken)
    assert jobs(stack, "state", "last_error_code", "last_error_message") == [
        {"state": "dead_lettered", "last_error_code": "internal_error", "last_error_message": "RuntimeError"}
    ]
    assert documents(stack, "status") == [{"status": "failed"}]


def pipeline_max_receive(stack: LocalStack) -> int:
    return int(stack.function_environment("ParseFunction")["MAX_RECEIVE_COUNT"])


def test_a_zombie_whose_lease_was_taken_cannot_complete(stack: LocalStack) -> None:
    # GIVEN an invocation whose lease expires mid-work and is taken over by another
    pipeline, delivery = parse_delivery(stack, receive_count=1)

    def slow(claim: Any) -> Any:
        update(stack, "upload_jobs", {"lease_owner": "another-invocation"})
        return lambda conn: {"pages": 1}

    # WHEN the first one tries to complete THEN fencing refuses, and the job stays the new owner's
    from docintake.errors import LeaseLost

    with pytest.raises(LeaseLost):
        process_stage_message(pipeline, STEPS["parse"], delivery, slow)
    assert jobs(stack, "stage", "state", "lease_owner") == [
        {"stage": "parsing", "state": "in_progress", "lease_owner": "another-invocation"}
    ]


def test_parse_reads_the_verified_version_not_a_later_overwrite(stack: LocalStack) -> None:
    # GIVEN a validated upload whose presigned URL is reused to overwrite the key before parsing
    ticket = upload_bytes(stack, USER, "policy.md", POLICY, "text/markdown")
    stack.invoke("ValidateFunction", s3_event(stack.bucket, ticket.key))
    stack.client("s3").put_object(Bucket=stack.bucket, Key=ticket.key, Body=b"# INJECTED\n\nOther text.\n")
    # WHEN the pipeline runs (the overwrite's own S3 event is a duplicate and starts nothing)
    stack.run_until_idle()
    # THEN the chunks are the verified bytes'
    contents = " ".join(r["content"] for r in chunks(stack, "content"))
    assert "Clause 42" in contents and "INJECTED" not in contents
    assert count(stack, "upload_jobs", state="done") == 1


def test_a_send_lost_after_commit_is_repaired_by_the_redelivery(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docintake.jobs
    from docintake.errors import LeaseHeld
    from docintake.stages import parse_work

    # GIVEN a parse attempt that commits its stage and then cannot send the chunk message
    pipeline, delivery = parse_delivery(stack, receive_count=1)
    parser = stack.load_function("ParseFunction").parser

    def unreachable(*args: Any) -> str:
        raise DependencyUnavailable("SQS unreachable", code="sqs_unavailable")

    monkeypatch.setattr(docintake.jobs, "send_stage_message", unreachable)
    with pytest.raises(DependencyUnavailable):
        process_stage_message(pipeline, STEPS["parse"], delivery, lambda claim: parse_work(pipeline, claim, parser))
    monkeypatch.undo()
    assert jobs(stack, "stage", "state", "next_message_sent_at") == [
        {"stage": "parsed", "state": "queued", "next_message_sent_at": None}
    ]
    # WHEN the message comes back at once THEN it waits: the completer might still be sending
    with pytest.raises(LeaseHeld):
        process_stage_message(pipeline, STEPS["parse"], delivery, lambda claim: parse_work(pipeline, claim, parser))
    assert queue_depth(stack, "ChunkQueue") == 0
    # WHEN it comes back after the grace period THEN it sends the chunk message, once, and the job finishes
    admin(stack, "UPDATE upload_jobs SET updated_at = now() - interval '31 seconds'")
    assert (
        process_stage_message(pipeline, STEPS["parse"], delivery, lambda claim: parse_work(pipeline, claim, parser))
        == "duplicate"
    )
    assert queue_depth(stack, "ChunkQueue") == 1
    stack.run_until_idle()
    assert jobs(stack, "stage", "state") == [{"stage": "done", "state": "done"}]
    assert count(stack, "events", event_type="stage_started", stage="chunking") == 1


def test_a_stale_failure_cannot_fail_a_job_that_moved_on(stack: LocalStack) -> None:
    # GIVEN a document that finished
    document_id = ingest(stack)
    job = job_row(stack, "id", document_id=document_id)
    # WHEN a late rejection of its upload and a stale parse failure arrive
    from docintake.db import one

    pipeline = stack.load_function("ParseFunction").pipeline
    with pipeline.db.transaction(USER) as conn:
        rejected = one(conn, "reject_upload", {"job_id": job["id"], "code": "checksum_mismatch", "message": "x"})
        failed = one(
            conn,
            "record_failure",
            {
                "job_id": job["id"],
                "stage": "parsing",
                "state": "failed",
                "code": "corrupt_pdf",
                "message": "x",
                "lease_owner": None,
                "next_retry_at": None,
            },
        )
    # THEN neither touches it
    assert (rejected, failed) == (None, None)
    assert jobs(stack, "stage", "state") == [{"stage": "done", "state": "done"}]


def test_rechunking_with_new_settings_replaces_the_chunks_atomically(stack: LocalStack) -> None:
    import dataclasses

    from docintake.jobs import Claim
    from docintake.messages import StageMessage
    from docintake.stages import chunk_work

    # GIVEN a finished document chunked at the default size
    document_id = ingest(stack)
    old_ids = {r["id"] for r in chunks(stack, "id")}
    pipeline = stack.load_function("ChunkFunction").pipeline
    smaller = dataclasses.replace(pipeline, settings=pipeline.settings.model_copy(update={"chunk_size": 300}))
    message = StageMessage.parse_body(stage_body_of(stack, document_id, "chunk"))
    claim = Claim(message, STEPS["chunk"], {}, "owner", 60, "inv", "receipt")
    writer = chunk_work(smaller, claim)
    # WHEN the new set is written but not yet committed, a reader sees the whole old set
    with pipeline.db.transaction(USER) as conn:
        writer(conn)
        during = {r["id"] for r in chunks(stack, "id")}
    after = {r["id"] for r in chunks(stack, "id")}
    # THEN after the commit it sees only the new set: more, smaller chunks (an identical leading chunk
    # keeps its id: same document, ordinal and content)
    assert during == old_ids
    assert len(after) > len(old_ids) and len(after - old_ids) >= len(after) - 1
    assert max(r["char_count"] for r in chunks(stack, "char_count")) <= 300
    # AND writing the same settings again changes nothing: the ids are deterministic
    with pipeline.db.transaction(USER) as conn:
        chunk_work(smaller, claim)(conn)
    assert {r["id"] for r in chunks(stack, "id")} == after
