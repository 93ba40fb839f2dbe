"""Deleting a document removes it everywhere — S3 (every version), every table — and cancels its work."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from docintake.errors import LeaseLost
from docintake.jobs import STEPS, process_stage_message
from docintake.stages import parse_work
from docintake_local.client import UploadRefused, delete_as, upload_bytes
from docintake_local.stack import LocalStack
from tests.kit import (
    POLICY,
    USER,
    admin,
    document_row,
    document_status,
    events_of,
    ingest,
    parse_delivery,
    queue_depth,
    s3_event,
)

pytestmark = pytest.mark.integration
OTHER = uuid.UUID("22222222-2222-4222-8222-222222222222")
# The last: the vectors of the default model, in its own table (migration 0012).
USER_TABLES = ("documents", "upload_jobs", "document_chunks", "chunk_vectors_docintake_hash_v1_99c76909_384")


def _everything_of(stack: LocalStack, document_id: uuid.UUID) -> dict[str, Any]:
    """Every S3 object version and delete marker, and every row of every table, that names the document."""
    s3 = stack.client("s3")
    listing = s3.list_object_versions(Bucket=stack.bucket)
    objects = [
        e["Key"]
        for e in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]
        if str(document_id) in e["Key"]
    ]
    rows = {
        table: admin(
            stack,
            f"SELECT count(*) AS n FROM {table} WHERE {'id' if table == 'documents' else 'document_id'} = %s",
            [document_id],
        )[0]["n"]
        for table in USER_TABLES
        # The model's vector table exists once a first vector was written (migration 0012).
        if admin(stack, "SELECT to_regclass(%s) AS t", [table])[0]["t"] is not None
    }
    rows = {table: rows.get(table, 0) for table in USER_TABLES}
    return {"objects": objects, "rows": rows}


def test_deleting_a_document_removes_every_object_version_and_row_and_leaves_an_audit_event(
    stack: LocalStack,
) -> None:
    # GIVEN a finished document (upload, Markdown and page map in S3; rows in every table), and another user's
    document_id = ingest(stack)
    other_id = upload_bytes(stack, OTHER, "other.md", POLICY, "text/markdown").document_id
    stack.run_until_idle()
    before = _everything_of(stack, document_id)
    assert len(before["objects"]) >= 3 and all(before["rows"][t] for t in ("documents", "upload_jobs"))
    # WHEN another user tries to delete it THEN it does not exist for them
    with pytest.raises(UploadRefused) as refused:
        delete_as(stack, OTHER, document_id)
    assert (refused.value.status, refused.value.body["error"]) == (404, "not_found")
    assert _everything_of(stack, document_id) == before
    # WHEN its owner deletes it
    result = delete_as(stack, USER, document_id)
    # THEN nothing of it is left in S3 (no version, no delete marker) or in any table
    assert result == {"document_id": str(document_id), "deleted": True, "objects_removed": len(before["objects"])}
    assert _everything_of(stack, document_id) == {"objects": [], "rows": dict.fromkeys(USER_TABLES, 0)}
    # AND the audit log keeps ids and counts: the last event says it was deleted, and by whom
    events = events_of(stack, "event_type", "user_id", "details", document_id=document_id)
    assert events[-1] == {
        "event_type": "document_deleted",
        "user_id": USER,
        "details": {"objects_removed": len(before["objects"]), "jobs_cancelled": 0},
    }
    # AND the other user's document is untouched; deleting twice is a 404
    assert document_status(stack, other_id) == "ready"
    with pytest.raises(UploadRefused):
        delete_as(stack, USER, document_id)


def test_a_stage_message_for_a_deleted_document_is_a_no_op(stack: LocalStack) -> None:
    # GIVEN a validated upload whose parse message is waiting
    ticket = upload_bytes(stack, USER, "policy.md", POLICY, "text/markdown")
    stack.invoke("ValidateFunction", s3_event(stack.bucket, ticket.key))
    assert queue_depth(stack, "ParseQueue") == 1
    # WHEN the document is deleted, and the pipeline then runs
    assert delete_as(stack, USER, ticket.document_id)["deleted"] is True
    stack.run_until_idle()
    # THEN the message was acknowledged without a trace: no rows, no derived objects, nothing queued
    assert _everything_of(stack, ticket.document_id) == {"objects": [], "rows": dict.fromkeys(USER_TABLES, 0)}
    assert all(queue_depth(stack, q) == 0 for q in stack.queue_urls)


def test_a_deletion_during_a_stage_stops_it_before_it_writes(stack: LocalStack) -> None:
    # GIVEN a parse under way
    pipeline, delivery = parse_delivery(stack, receive_count=1)
    document_id = document_row(stack, "id")["id"]
    parser = stack.load_function("ParseFunction").parser

    def parse_then_lose_the_race(claim: Any) -> Any:
        writer = parse_work(pipeline, claim, parser)
        # WHEN the owner deletes the document while the parser works (after the claim, before completion)
        assert delete_as(stack, USER, document_id)["deleted"] is True
        return writer

    # THEN the completion is refused, and none of the parse's output reaches S3 or the database
    with pytest.raises(LeaseLost):
        process_stage_message(pipeline, STEPS["parse"], delivery, parse_then_lose_the_race)
    stack.run_until_idle()
    assert _everything_of(stack, document_id) == {"objects": [], "rows": dict.fromkeys(USER_TABLES, 0)}
