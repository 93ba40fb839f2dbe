"""Large documents in parts: the parse stage fans out by page range and the embed stage by chunk ordinal,
one message per part, each part under its own lease; the last part in joins them. Part sizes are set tiny
here (3 pages, 4 chunks) so a 10-page PDF exercises every path in seconds."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from docintake import stages, vectors
from docintake.errors import DependencyUnavailable, LeaseHeld, LeaseLost
from docintake.jobs import STEPS, Claim, heartbeat
from docintake.messages import StageMessage
from docintake.parsing.local import LocalParser
from docintake.parsing.pdf import parse_pdf
from docintake.stages import handle_chunk_record, handle_embed_record, handle_parse_record, page_ranges
from docintake.storage import markdown_key, page_map_key
from docintake.sweeper import sweep
from docintake_local.client import api_event, upload_bytes
from docintake_local.large_documents import long_policy_pdf, page_marker
from docintake_local.stack import LambdaContext, LocalStack
from tests.kit import USER, admin, document_row, job_row, queue_depth, rows, s3_event

pytestmark = pytest.mark.integration

PAGES = 10
PDF = long_policy_pdf(PAGES)


@pytest.fixture
def stack_environment() -> dict[str, str]:
    """Parts of 3 pages and 4 chunks, for conftest's stack."""
    return {"PARSE_PAGES_PER_PART": "3", "EMBED_CHUNKS_PER_PART": "4"}


def _upload(stack: LocalStack) -> uuid.UUID:
    ticket = upload_bytes(stack, USER, "long-policy.pdf", PDF, "application/pdf", replace=True)
    stack.invoke("ValidateFunction", s3_event(stack.bucket, ticket.key))
    return ticket.document_id


# How long a message the test received stays in flight. The stack's queues give 2 s, which a loaded machine can
# spend between two receives of one test: a message received earlier and not acknowledged (the original parse
# message, an embed part) then came back and was received again. Longer than any test here, so only what the
# test does brings one back: a handler's backoff or heartbeat, or a visibility set to 0.
HELD_SECONDS = 600


def _receive(stack: LocalStack, queue: str) -> list[dict[str, Any]]:
    """Every message the queue holds now, held in flight (``HELD_SECONDS``) until the test acts on it."""
    sqs, url = stack.client("sqs"), stack.queue_urls[queue]
    received: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=HELD_SECONDS
    ).get("Messages", []):
        received += batch
    return received


def _deliver(
    stack: LocalStack, function: str, message: dict[str, Any], receive_count: int = 1, timeout: int = 60
) -> str:
    """One message through the function's record handler, as its container would run it; the outcome."""
    module = stack.load_function(function)
    record = SQSRecord(
        {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {"ApproximateReceiveCount": str(receive_count)},
        }
    )
    step = StageMessage.parse_body(message["Body"]).stage
    context: Any = LambdaContext(function, timeout)
    if step == "parse":
        return handle_parse_record(module.pipeline, record, context, module.parser)
    if step == "chunk":
        return handle_chunk_record(module.pipeline, record, context)
    outcome: str = handle_embed_record(module.pipeline, record, context, module.embedder)
    return outcome


def _parts(stack: LocalStack, step: str) -> list[dict[str, Any]]:
    return admin(
        stack,
        "SELECT part, first_item, last_item, state, attempts FROM job_parts WHERE step = %s ORDER BY part",
        (step,),
    )


def test_a_long_pdf_is_parsed_and_embedded_in_parts_and_reads_as_a_whole_parse(stack: LocalStack) -> None:
    # GIVEN a 10-page PDF, with parts of 3 pages and 4 chunks
    document_id = _upload(stack)
    # WHEN the pipeline runs
    stack.run_until_idle()
    # THEN the document is ready, its job done, after a parse in 4 page ranges and an embed in chunk ranges
    assert document_row(stack, "status", "page_count") == {"status": "ready", "page_count": PAGES}
    assert job_row(stack, "stage", "state") == {"stage": "done", "state": "done"}
    assert [(p["first_item"], p["last_item"], p["state"]) for p in _parts(stack, "parse")] == [
        (1, 3, "done"),
        (4, 6, "done"),
        (7, 8, "done"),
        (9, 10, "done"),
    ]
    chunk_rows = rows(stack, "document_chunks", "ordinal", "content", "heading_path", "page_start", "page_end")
    embed_parts = _parts(stack, "embed")
    assert len(embed_parts) == -(-len(chunk_rows) // 4) > 1
    expected = page_ranges(len(chunk_rows), 4, first=0)
    assert [(p["first_item"], p["last_item"], p["state"]) for p in embed_parts] == [(a, b, "done") for a, b in expected]
    # AND every chunk has exactly one vector
    vectors = admin(stack, "SELECT count(*) AS n, count(DISTINCT chunk_id) AS chunks FROM " + _vector_table(stack))
    assert vectors == [{"n": len(chunk_rows), "chunks": len(chunk_rows)}]
    # AND the Markdown and page map are the ones a whole parse writes
    s3 = stack.client("s3")
    key = markdown_key(USER, document_id)
    markdown = s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read().decode()
    page_map = s3.get_object(Bucket=stack.bucket, Key=page_map_key(USER, document_id))["Body"].read().decode()
    whole = parse_pdf(PDF, max_pages=100)
    assert markdown == whole.markdown
    assert page_map == whole.page_map.to_json()
    # AND each page's marker is cited on its own page
    for page in range(1, PAGES + 1):
        holding = [c for c in chunk_rows if page_marker(page) in c["heading_path"]]
        assert holding and all(c["page_start"] <= page <= c["page_end"] for c in holding), page
    # AND the timeline says so: one fan-out per stage, one completion per part, one stage completion each
    events = admin(
        stack,
        "SELECT event_type, stage, count(*) AS n FROM events WHERE event_type IN"
        " ('stage_fanned_out', 'part_completed', 'stage_completed') GROUP BY 1, 2 ORDER BY 1, 2",
    )
    assert events == [
        {"event_type": "part_completed", "stage": "embedding_parts", "n": len(embed_parts)},
        {"event_type": "part_completed", "stage": "parsing_parts", "n": 4},
        {"event_type": "stage_completed", "stage": "chunked", "n": 1},
        {"event_type": "stage_completed", "stage": "done", "n": 1},
        {"event_type": "stage_completed", "stage": "parsed", "n": 1},
        {"event_type": "stage_fanned_out", "stage": "embedding_parts", "n": 1},
        {"event_type": "stage_fanned_out", "stage": "parsing_parts", "n": 1},
    ]


def _vector_table(stack: LocalStack) -> str:
    return str(admin(stack, "SELECT table_name FROM embedding_models")[0]["table_name"])


def test_duplicate_and_early_part_deliveries_do_nothing_twice(stack: LocalStack) -> None:
    # GIVEN a long PDF whose parse fanned out into 4 part messages
    _upload(stack)
    (original,) = _receive(stack, "ParseQueue")
    assert _deliver(stack, "ParseFunction", original) == "completed"
    assert job_row(stack, "stage", "state") == {"stage": "parsing_parts", "state": "in_progress"}
    messages = _receive(stack, "ParseQueue")
    assert sorted(StageMessage.parse_body(m["Body"]).part for m in messages) == [0, 1, 2, 3]
    # WHEN the original parse message comes again THEN it is a duplicate and sends nothing more
    assert _deliver(stack, "ParseFunction", original) == "duplicate"
    assert queue_depth(stack, "ParseQueue") == 5  # the original and its four parts, received: nothing new
    # WHEN a part runs, then comes again THEN the second delivery is a duplicate
    first = next(m for m in messages if StageMessage.parse_body(m["Body"]).part == 0)
    assert _deliver(stack, "ParseFunction", first) == "completed"
    assert _deliver(stack, "ParseFunction", first) == "duplicate"
    # WHEN another invocation holds a part's lease THEN the delivery is retried later, not run twice
    admin(
        stack,
        "UPDATE job_parts SET state = 'in_progress', lease_owner = 'other', lease_expires_at = now() + interval '5 min'"
        " WHERE part = 1",
    )
    second = next(m for m in messages if StageMessage.parse_body(m["Body"]).part == 1)
    with pytest.raises(LeaseHeld):
        _deliver(stack, "ParseFunction", second)
    admin(stack, "UPDATE job_parts SET lease_expires_at = now() - interval '1 min' WHERE part = 1")
    # AND once every part is in, the job is parsed exactly once, with one chunk message
    for message in messages:
        if StageMessage.parse_body(message["Body"]).part != 0:
            assert _deliver(stack, "ParseFunction", message) == "completed"
    assert job_row(stack, "stage", "state") == {"stage": "parsed", "state": "queued"}
    assert [p["attempts"] for p in _parts(stack, "parse")] == [1, 1, 1, 1]
    assert queue_depth(stack, "ChunkQueue") == 1


def test_a_part_that_fails_for_good_fails_the_document_and_the_rest_stop(stack: LocalStack) -> None:
    # GIVEN a fanned-out parse whose second range lies past the document's end (as a corrupt page would fail)
    document_id = _upload(stack)
    (original,) = _receive(stack, "ParseQueue")
    _deliver(stack, "ParseFunction", original)
    admin(stack, "UPDATE job_parts SET first_item = 50, last_item = 52 WHERE part = 1")
    messages = {StageMessage.parse_body(m["Body"]).part: m for m in _receive(stack, "ParseQueue")}
    # WHEN that part runs THEN the job and the document fail with the parser's code
    assert _deliver(stack, "ParseFunction", messages[1]) == "failed"
    assert job_row(stack, "state", "last_error_code") == {"state": "failed", "last_error_code": "page_range"}
    assert document_row(stack, "status", id=document_id) == {"status": "failed"}
    # AND the other parts' messages are acknowledged without work
    assert _deliver(stack, "ParseFunction", messages[0]) == "ignored"
    assert [p["attempts"] for p in _parts(stack, "parse")] == [0, 1, 0, 0]


def test_a_dead_lettered_part_is_replayed_and_joins_the_others(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a fanned-out parse where part 2 fails on its last receive with an error a retry could fix
    _upload(stack)
    (original,) = _receive(stack, "ParseQueue")
    _deliver(stack, "ParseFunction", original)
    messages = {StageMessage.parse_body(m["Body"]).part: m for m in _receive(stack, "ParseQueue")}
    for part in (0, 1, 3):
        assert _deliver(stack, "ParseFunction", messages[part]) == "completed"

    def unavailable(*args: object, **kwargs: object) -> None:
        raise DependencyUnavailable("the OCR service is down", code="ocr_unavailable")

    with monkeypatch.context() as patched:
        patched.setattr(LocalParser, "parse_pages", unavailable)
        with pytest.raises(DependencyUnavailable):
            _deliver(stack, "ParseFunction", messages[2], receive_count=5)
    # THEN the job reads dead-lettered, the document failed, with the three parts kept
    assert job_row(stack, "stage", "state") == {"stage": "parsing_parts", "state": "dead_lettered"}
    assert [p["state"] for p in _parts(stack, "parse")] == ["done", "done", "queued", "done"]
    assert job_row(stack, "last_error_code")["last_error_code"] == "ocr_unavailable"
    # WHEN an operator replays it (the job reset as `dlq replay` does) and the part runs again
    admin(stack, "UPDATE upload_jobs SET state = 'queued'")
    admin(stack, "UPDATE documents SET status = 'processing'")
    assert _deliver(stack, "ParseFunction", messages[2]) == "completed"
    # THEN the parts join and the document goes on to be ready
    assert job_row(stack, "stage", "state") == {"stage": "parsed", "state": "queued"}
    stack.run_until_idle()
    assert document_row(stack, "status")["status"] == "ready"


def test_the_sweeper_resends_the_parts_of_a_job_whose_part_messages_were_lost(stack: LocalStack) -> None:
    # GIVEN a fanned-out parse whose part messages were all lost, one part done, one under a dead lease
    _upload(stack)
    (original,) = _receive(stack, "ParseQueue")
    _deliver(stack, "ParseFunction", original)
    messages = {StageMessage.parse_body(m["Body"]).part: m for m in _receive(stack, "ParseQueue")}
    _deliver(stack, "ParseFunction", messages[0])
    sqs = stack.client("sqs")
    for message in messages.values():
        sqs.delete_message(QueueUrl=stack.queue_urls["ParseQueue"], ReceiptHandle=message["ReceiptHandle"])
    admin(
        stack,
        "UPDATE job_parts SET state = 'in_progress', lease_owner = 'dead', lease_expires_at = now() + interval '5 min'"
        " WHERE part = 1",
    )
    admin(stack, "UPDATE upload_jobs SET heartbeat_at = now() - interval '2 hours'")
    # WHEN the sweeper runs THEN it leaves the job alone: a part under a live lease says it is alive
    assert sweep(stack.operations(), invocation_id="sweep").rescued == []
    # WHEN that lease lapses too THEN the sweeper sends every part not done
    admin(stack, "UPDATE job_parts SET lease_expires_at = now() - interval '1 min' WHERE part = 1")
    assert len(sweep(stack.operations(), invocation_id="sweep-2").rescued) == 1
    resent = _receive(stack, "ParseQueue")
    assert sorted(StageMessage.parse_body(m["Body"]).part for m in resent) == [1, 2, 3]
    for message in resent:
        sqs.delete_message(QueueUrl=stack.queue_urls["ParseQueue"], ReceiptHandle=message["ReceiptHandle"])
    # WHEN the stack restarts (every lease belongs to the stopped run, even one that looks live)
    admin(
        stack,
        "UPDATE job_parts SET state = 'in_progress', lease_owner = 'dead', lease_expires_at = now() + interval '5 min'"
        " WHERE part = 1",
    )
    result = sweep(stack.operations(), invocation_id="restart", stale_seconds=0, leases_expired=True)
    assert len(result.rescued) == 1
    resent_again = _receive(stack, "ParseQueue")
    assert sorted(StageMessage.parse_body(m["Body"]).part for m in resent_again) == [1, 2, 3]
    # AND the document finishes once the messages come back
    for message in resent_again:
        stack.client("sqs").change_message_visibility(
            QueueUrl=stack.queue_urls["ParseQueue"], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    stack.run_until_idle()
    assert document_row(stack, "status")["status"] == "ready"


def _run_queue(stack: LocalStack, queue: str, function: str) -> list[str]:
    return [_deliver(stack, function, message) for message in _receive(stack, queue)]


def test_an_embed_part_short_of_time_commits_what_it_did_and_continues_in_a_fresh_message(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a long PDF parsed and chunked, its embed fanned out, one chunk per batch
    document_id = _upload(stack)
    for _ in range(2):
        _run_queue(stack, "ParseQueue", "ParseFunction")
    _run_queue(stack, "ChunkQueue", "ChunkFunction")
    assert _run_queue(stack, "EmbedQueue", "EmbedFunction") == ["completed"]
    assert job_row(stack, "stage")["stage"] == "embedding_parts"
    monkeypatch.setattr(stages, "_PART_BATCH_SIZE", 1)
    monkeypatch.setattr(vectors, "_SLOWEST_BATCH", {})
    embedder = stack.load_function("EmbedFunction").embedder
    real_embed = type(embedder).embed

    def slow_embed(self: object, texts: list[str]) -> list[list[float]]:
        time.sleep(0.4)  # a batch of a slow model
        return real_embed(self, texts)  # type: ignore[arg-type]

    monkeypatch.setattr(type(embedder), "embed", slow_embed)
    parts = {StageMessage.parse_body(m["Body"]).part: m for m in _receive(stack, "EmbedQueue")}
    chunks_in_part = parts_rows = _parts(stack, "embed")[0]
    chunks_in_part = parts_rows["last_item"] - parts_rows["first_item"] + 1
    # WHEN part 0 runs in an invocation of 2 s: time for a batch or two of 0.4 s, not for all with the margin
    assert _deliver(stack, "EmbedFunction", parts[0], timeout=2) == "continued"
    # THEN what it embedded is committed, the part is free again, and a fresh message carries on
    table = _vector_table(stack)
    (written,) = admin(stack, f"SELECT count(*) AS n FROM {table}")
    assert 1 <= written["n"] < chunks_in_part
    assert admin(stack, "SELECT state, lease_owner FROM job_parts WHERE step = 'embed' AND part = 0") == [
        {"state": "queued", "lease_owner": None}
    ]
    (fresh,) = _receive(stack, "EmbedQueue")
    assert StageMessage.parse_body(fresh["Body"]).part == 0
    assert admin(stack, "SELECT count(*) AS n FROM events WHERE event_type = 'part_continued'") == [{"n": 1}]
    # WHEN the fresh message and the other parts run with time enough THEN the document is ready, each
    # chunk with one vector
    assert _deliver(stack, "EmbedFunction", fresh) == "completed"
    for part, message in parts.items():
        if part:
            assert _deliver(stack, "EmbedFunction", message) == "completed"
    assert document_row(stack, "status", id=document_id) == {"status": "ready"}
    chunks = len(rows(stack, "document_chunks", "id"))
    assert admin(stack, f"SELECT count(*) AS n, count(DISTINCT chunk_id) AS d FROM {table}") == [
        {"n": chunks, "d": chunks}
    ]


def test_a_users_retry_of_a_document_failed_in_parts_plans_its_parts_again_and_finishes(stack: LocalStack) -> None:
    # GIVEN a long PDF whose fanned-out parse was dead-lettered by one part (the others done)
    document_id = _upload(stack)
    (original,) = _receive(stack, "ParseQueue")
    _deliver(stack, "ParseFunction", original)
    messages = {StageMessage.parse_body(m["Body"]).part: m for m in _receive(stack, "ParseQueue")}
    for part in (0, 1, 2):
        _deliver(stack, "ParseFunction", messages[part])
    admin(stack, "UPDATE upload_jobs SET state = 'dead_lettered', last_error_code = 'internal_error'")
    admin(stack, "UPDATE documents SET status = 'failed'")
    sqs = stack.client("sqs")
    sqs.delete_message(QueueUrl=stack.queue_urls["ParseQueue"], ReceiptHandle=messages[3]["ReceiptHandle"])
    # WHEN the user retries it
    response = stack.invoke("DocumentsFunction", api_event("POST", f"/documents/{document_id}/retry", USER))
    assert response["statusCode"] == 202, response["body"]
    stack.run_until_idle()
    # THEN the parse fans out afresh (the old parts replaced, not colliding with them) and the document is ready
    assert document_row(stack, "status", id=document_id) == {"status": "ready"}
    assert [(p["state"], p["attempts"]) for p in _parts(stack, "parse")] == [("done", 1)] * 4
    fan_outs = admin(
        stack, "SELECT count(*) AS n FROM events WHERE event_type = 'stage_fanned_out' AND stage = 'parsing_parts'"
    )
    assert fan_outs == [{"n": 2}]


def test_a_part_that_finishes_after_its_job_was_cancelled_writes_nothing(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a fanned-out parse whose part 0 is being parsed when a deletion cancels the job (its first
    # transaction; its files are then removed, and its rows after that)
    document_id = _upload(stack)
    (original,) = _receive(stack, "ParseQueue")
    _deliver(stack, "ParseFunction", original)
    messages = {StageMessage.parse_body(m["Body"]).part: m for m in _receive(stack, "ParseQueue")}
    real_parse_pages = LocalParser.parse_pages

    def cancelled_meanwhile(self: LocalParser, *args: Any, **kwargs: Any) -> Any:
        parsed = real_parse_pages(self, *args, **kwargs)
        admin(stack, "UPDATE upload_jobs SET state = 'failed', last_error_code = 'document_deleted'")
        return parsed

    monkeypatch.setattr(LocalParser, "parse_pages", cancelled_meanwhile)
    # WHEN the part finishes THEN it stops without completing
    with pytest.raises(LeaseLost):
        _deliver(stack, "ParseFunction", messages[0])
    # AND it wrote nothing: no part's pages in S3 to outlive the deletion, the part not done
    listed = stack.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=f"derived/{USER}/{document_id}/")
    assert listed.get("KeyCount", 0) == 0
    assert [p["state"] for p in _parts(stack, "parse")] == ["in_progress", "queued", "queued", "queued"]
    # AND the part's heartbeat says so too, so a long part stops early
    pipeline = stack.load_function("ParseFunction").pipeline
    (held,) = admin(stack, "SELECT lease_owner FROM job_parts WHERE part = 0")
    assert held["lease_owner"]  # still the part's: only the job says it is over
    claim = Claim(StageMessage.parse_body(messages[0]["Body"]), STEPS["parse"], {}, held["lease_owner"], 60, "inv", "")
    with pytest.raises(LeaseLost):
        heartbeat(pipeline, claim)


def test_a_join_whose_next_message_was_lost_sends_it_when_the_last_part_comes_again(stack: LocalStack) -> None:
    # GIVEN a fanned-out parse joined by its last part, whose invocation died before sending the chunk message
    _upload(stack)
    (original,) = _receive(stack, "ParseQueue")
    _deliver(stack, "ParseFunction", original)
    messages = {StageMessage.parse_body(m["Body"]).part: m for m in _receive(stack, "ParseQueue")}
    for message in messages.values():
        assert _deliver(stack, "ParseFunction", message) == "completed"
    assert [StageMessage.parse_body(m["Body"]).stage for m in _receive(stack, "ChunkQueue")] == ["chunk"]
    admin(stack, "UPDATE upload_jobs SET next_message_sent_at = NULL, updated_at = now() - interval '1 min'")
    # WHEN the last part's message is delivered again THEN it sends the chunk message, and acknowledges
    assert _deliver(stack, "ParseFunction", messages[3]) == "duplicate"
    (resent,) = _receive(stack, "ChunkQueue")
    assert StageMessage.parse_body(resent["Body"]).part is None
    assert job_row(stack, "next_message_sent_at")["next_message_sent_at"] is not None
