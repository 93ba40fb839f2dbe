"""Reliability: invalid bodies to the DLQ, the sweeper, at-least-once S3 events, and dead-letter replay.

Every test runs the template's queues on moto and the real handlers, stepped with ``run_until_idle``.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from typing import Any

import pytest

from docintake.dead_letters import list_dead_letters, replay
from docintake.sweeper import sweep
from docintake_cli import main as cli
from docintake_local.client import upload_bytes
from docintake_local.stack import LambdaContext, LocalStack
from tests.kit import (
    POLICY,
    USER,
    admin,
    chunks,
    count,
    document_row,
    document_status,
    documents,
    ingest,
    job_row,
    jobs,
    parse_delivery,
    queue_depth,
    s3_event,
    stage_body_of,
    update,
)

pytestmark = pytest.mark.integration


def _drain(stack: LocalStack, *queues: str) -> None:
    """Loses whatever the queues hold (PurgeQueue allows one call a minute)."""
    sqs = stack.client("sqs")
    for queue in queues:
        while messages := sqs.receive_message(QueueUrl=stack.queue_urls[queue], MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                sqs.delete_message(QueueUrl=stack.queue_urls[queue], ReceiptHandle=message["ReceiptHandle"])


def _uploaded_not_validated(stack: LocalStack) -> Any:
    """An upload whose file arrived but whose S3 event was lost: the async-event queue is emptied."""
    ticket = upload_bytes(stack, USER, "policy.md", POLICY, "text/markdown", replace=True)
    _drain(stack, "ValidateFunctionAsyncEvents")
    return ticket


def test_a_body_that_is_no_stage_message_goes_straight_to_the_dlq_with_its_reason(stack: LocalStack) -> None:
    # GIVEN a message on the parse queue that is not a stage message
    stack.client("sqs").send_message(QueueUrl=stack.queue_urls["ParseQueue"], MessageBody='{"hello": "world"}')
    # WHEN the parse function receives it (once)
    stack.run_until_idle()
    # THEN it is in the parse DLQ at once, acknowledged on the source, with the reason for operators
    assert queue_depth(stack, "ParseQueue") == 0 and queue_depth(stack, "ParseDLQ") == 1
    letters = list_dead_letters(stack.operations("ops"), ("parse",))
    assert [(x.error_code, x.reason, x.job_id) for x in letters] == [
        ("bad_message", "invalid stage message: 6 error(s)", None)
    ]
    assert admin(stack, "SELECT event_type, user_id, details->>'error_code' AS code FROM events") == [
        {"event_type": "message_dead_lettered", "user_id": None, "code": "bad_message"}
    ]
    # AND a replay leaves it where it is: no stage could read it
    summary = replay(stack.operations(), "parse", invocation_id="test")
    assert summary.line() == "replayed=0 skipped=1 failed=0"
    assert queue_depth(stack, "ParseDLQ") == 1


def test_the_sweeper_rescues_a_stale_job_and_never_a_fresh_one(stack: LocalStack) -> None:
    # GIVEN a validated upload whose parse message was lost
    ticket = upload_bytes(stack, USER, "policy.md", POLICY, "text/markdown")
    stack.invoke("ValidateFunction", s3_event(stack.bucket, ticket.key))
    _drain(stack, "ValidateFunctionAsyncEvents", "ParseQueue")
    ops = stack.operations()
    # WHEN the sweeper runs while the heartbeat is fresh THEN it does nothing
    assert sweep(ops, invocation_id="sweep-1").summary() == "rescued=0 expired=0 revalidated=0"
    # AND a job inside a stage with a live lease is left alone however old its heartbeat
    admin(
        stack,
        "UPDATE upload_jobs SET stage = 'parsing', state = 'in_progress', lease_owner = 'live',"
        " lease_expires_at = now() + interval '5 minutes', heartbeat_at = now() - interval '2 hours'",
    )
    assert sweep(ops, invocation_id="sweep-2").rescued == []
    # WHEN the lease has lapsed too (the invocation crashed and SQS gave up) THEN the job is re-enqueued once
    admin(stack, "UPDATE upload_jobs SET lease_expires_at = now() - interval '1 hour'")
    assert len(sweep(ops, invocation_id="sweep-3").rescued) == 1
    assert sweep(ops, invocation_id="sweep-4").rescued == []  # the heartbeat is fresh again
    assert queue_depth(stack, "ParseQueue") == 1
    assert jobs(stack, "state", "lease_owner") == [{"state": "queued", "lease_owner": None}]
    # AND the rescued job finishes, with the rescue on its timeline
    stack.run_until_idle()
    assert jobs(stack, "stage", "state") == [{"stage": "done", "state": "done"}]
    swept = admin(stack, "SELECT stage, details->>'step' AS step FROM events WHERE event_type = 'swept'")
    assert swept == [{"stage": "parsing", "step": "parse"}]


def test_the_sweeper_revalidates_an_arrived_upload_and_expires_one_never_made(stack: LocalStack) -> None:
    # GIVEN two uploads older than their URL: one file arrived (its S3 event lost), one never did
    arrived = _uploaded_not_validated(stack)
    missing = _uploaded_not_validated(stack)
    s3 = stack.client("s3")
    for version in s3.list_object_versions(Bucket=stack.bucket, Prefix=missing.key)["Versions"]:
        s3.delete_object(Bucket=stack.bucket, Key=missing.key, VersionId=version["VersionId"])
    admin(stack, "UPDATE upload_jobs SET created_at = now() - interval '2 hours'")
    # WHEN the sweeper runs
    result = sweep(stack.operations(), invocation_id="sweep")
    # THEN the arrived one is validated again and finishes; the missing one is expired with a code
    assert (result.revalidated, result.expired) == ([arrived.job_id], [missing.job_id])
    stack.run_until_idle()
    rows = admin(
        stack,
        "SELECT j.id, j.stage, j.state, j.last_error_code, d.status FROM upload_jobs j"
        " JOIN documents d ON d.id = j.document_id",
    )
    assert {r["id"]: (r["stage"], r["state"], r["last_error_code"], r["status"]) for r in rows} == {
        arrived.job_id: ("done", "done", None, "ready"),
        missing.job_id: ("awaiting_upload", "expired", "upload_expired", "expired"),
    }


def test_the_same_s3_event_three_times_two_at_once_yields_one_job_and_one_parse_message(stack: LocalStack) -> None:
    ticket = upload_bytes(stack, USER, "policy.md", POLICY, "text/markdown")
    _drain(stack, "ValidateFunctionAsyncEvents")
    event = s3_event(stack.bucket, ticket.key)
    # Two Lambda containers at once: two module instances, each with its own connection.
    containers = [stack.load_function("ValidateFunction", {"CONTAINER": str(i)}) for i in range(2)]
    outcomes: list[Any] = []
    barrier = threading.Barrier(2)

    def deliver(module: Any) -> None:
        barrier.wait()
        outcomes.append(module.lambda_handler(event, LambdaContext("ValidateFunction", 60))["outcomes"])

    threads = [threading.Thread(target=deliver, args=(module,)) for module in containers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for module in containers:
        module.pipeline.db.close()
    outcomes.append(stack.invoke("ValidateFunction", event)["outcomes"])
    assert sorted(o[0] for o in outcomes) == ["duplicate", "duplicate", "validated"]
    assert queue_depth(stack, "ParseQueue") == 1
    assert count(stack, "upload_jobs") == 1


def test_a_second_upload_to_a_decided_key_is_rejected_and_its_version_removed(stack: LocalStack) -> None:
    # GIVEN a finished document
    document_id = ingest(stack)
    key = document_row(stack, "s3_key", "s3_version_id")
    # WHEN the key is written again (a reused presigned URL) and its S3 event arrives
    s3 = stack.client("s3")
    s3.put_object(Bucket=stack.bucket, Key=key["s3_key"], Body=b"# OTHER\n\nreplaced text\n")
    stack.run_until_idle()
    # THEN the new version is gone, the verified one is current again, and the rejection is recorded
    versions = s3.list_object_versions(Bucket=stack.bucket, Prefix=key["s3_key"])["Versions"]
    assert [v["VersionId"] for v in versions] == [key["s3_version_id"]]
    assert s3.get_object(Bucket=stack.bucket, Key=key["s3_key"])["Body"].read() == POLICY
    assert admin(
        stack, "SELECT details->>'error_code' AS code FROM events WHERE event_type = 'upload_overwrite_rejected'"
    ) == [{"code": "upload_exists"}]
    assert jobs(stack, "state", document_id=document_id) == [{"state": "done"}]


def test_replaying_dead_letters_twice_duplicates_nothing(stack: LocalStack) -> None:
    # GIVEN a job dead-lettered in parsing, its parse message in the parse DLQ
    ticket = upload_bytes(stack, USER, "policy.md", POLICY, "text/markdown")
    stack.invoke("ValidateFunction", s3_event(stack.bucket, ticket.key))
    sqs = stack.client("sqs")
    _drain(stack, "ParseQueue", "ValidateFunctionAsyncEvents")
    body = stage_body_of(stack, ticket.document_id, "parse")
    sqs.send_message(QueueUrl=stack.queue_urls["ParseDLQ"], MessageBody=body)
    update(stack, "upload_jobs", {"stage": "parsing", "state": "dead_lettered", "last_error_code": "s3_unavailable"})
    update(stack, "documents", {"status": "failed"})
    ops = stack.operations()
    # WHEN an operator filters on another job or code THEN nothing moves
    assert replay(ops, "parse", invocation_id="r0", job_id=uuid.uuid4()).line() == "replayed=0 skipped=1 failed=0"
    assert replay(ops, "parse", invocation_id="r0", error_code="other").line() == "replayed=0 skipped=1 failed=0"
    dry = replay(ops, "parse", invocation_id="r0", dry_run=True)
    assert dry.line() == "dry run: would have replayed=1 skipped=0 failed=0"
    assert queue_depth(stack, "ParseDLQ") == 1
    # WHEN they replay it
    summary = replay(ops, "parse", invocation_id="r1", error_code="s3_unavailable")
    assert summary.line() == "replayed=1 skipped=0 failed=0"
    assert jobs(stack, "state") == [{"state": "queued"}]
    stack.run_until_idle()
    replayed_chunks = chunks(stack, "id", "content")
    # AND the same message lands in the DLQ again and is replayed again
    sqs.send_message(QueueUrl=stack.queue_urls["ParseDLQ"], MessageBody=body)
    assert replay(ops, "parse", invocation_id="r2").line() == "replayed=0 skipped=1 failed=0"
    stack.run_until_idle()
    # THEN the document is done once: the same chunks, one replayed event, and every queue empty
    assert jobs(stack, "stage", "state") == [{"stage": "done", "state": "done"}]
    assert documents(stack, "status") == [{"status": "ready"}]
    assert chunks(stack, "id", "content") == replayed_chunks
    assert count(stack, "events", event_type="replayed") == 1
    assert all(queue_depth(stack, q) == 0 for q in stack.queue_urls)


def test_validate_failures_reach_the_validate_dlq_and_replay_from_there(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docintake.validation

    # GIVEN ValidateFunction failing every attempt of an upload's S3 event
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("storage bug")

    monkeypatch.setattr(docintake.validation, "inspect_object", broken)
    ticket = upload_bytes(stack, USER, "policy.md", POLICY, "text/markdown")
    # (three attempts 2 s apart: 6-9 s under two CPU hogs; the loop ends as soon as the record is there)
    deadline = time.monotonic() + 60
    while queue_depth(stack, "ValidateDLQ") == 0 and time.monotonic() < deadline:
        stack.run_until_idle()
        time.sleep(0.5)
    assert queue_depth(stack, "ValidateDLQ") == 1, "no on-failure record in the validate DLQ after 60 s of retries"
    # THEN after the async retries Lambda's on-failure record is in the validate DLQ, and it reads
    letters = list_dead_letters(stack.operations("ops"), ("validate",))
    assert [(x.document_id, x.job_id, x.error_code, x.reason) for x in letters] == [
        (ticket.document_id, ticket.job_id, "validate_failed", "RetriesExhausted RuntimeError")
    ]
    # WHEN the bug is fixed and an operator replays through the CLI (DOCINTAKE_TARGET=aws: from the environment)
    monkeypatch.undo()
    _cli_environment(stack, monkeypatch)
    assert cli.main(["dlq", "replay", "--queue", "validate"]) == 0
    stack.run_until_idle()
    # THEN the upload is validated and finished
    assert jobs(stack, "stage", "state") == [{"stage": "done", "state": "done"}]
    assert queue_depth(stack, "ValidateDLQ") == 0


def test_operator_commands_print_lists_timelines_and_summaries(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    document_id = ingest(stack)
    job_id = job_row(stack, "id")["id"]
    stack.client("sqs").send_message(QueueUrl=stack.queue_urls["ChunkDLQ"], MessageBody="garbage")
    _cli_environment(stack, monkeypatch, role="ops")
    capsys.readouterr()
    assert cli.main(["jobs", "list", "--state", "done", "--json"]) == 0
    assert [(r["job_id"], r["document_id"]) for r in json.loads(capsys.readouterr().out)] == [
        (str(job_id), str(document_id))
    ]
    assert cli.main(["jobs", "show", str(job_id)]) == 0
    shown = capsys.readouterr().out
    for event in ("upload_validated", "stage_started", "stage_completed"):
        assert event in shown
    assert "Clause" not in shown  # metadata and events only, never document text
    assert cli.main(["dlq", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["queue"], r["error_code"]) for r in listed] == [("chunk", "bad_message")]
    assert cli.main(["dlq", "show", listed[0]["message_id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["body_bytes"] == len("garbage")
    _cli_environment(stack, monkeypatch, role="sweeper")
    assert cli.main(["sweep"]) == 0
    assert capsys.readouterr().out.strip() == "rescued=0 expired=0 revalidated=0"


def _cli_environment(stack: LocalStack, monkeypatch: pytest.MonkeyPatch, role: str = "sweeper") -> None:
    """What an operator exports against a deployed stack: the role's database URL and the stack outputs."""
    monkeypatch.setenv("DOCINTAKE_TARGET", "aws")
    for name, value in stack.function_environment("SweeperFunction").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", stack.database.role_url(role))
    monkeypatch.setenv("VALIDATE_FUNCTION_NAME", "ValidateFunction")
    monkeypatch.setattr("docintake.runtime.async_invoker", lambda name: stack.invoke_validate_async)


def test_a_heartbeat_extends_the_lease_and_the_visibility_and_stops_a_zombie(stack: LocalStack) -> None:
    from docintake.errors import LeaseLost
    from docintake.jobs import STEPS, heartbeat, process_stage_message

    pipeline, delivery = parse_delivery(stack, receive_count=1)
    beats: list[dict[str, Any]] = []

    def long_work(claim: Any) -> Any:
        # GIVEN a long stage that heartbeats after its claim
        admin(stack, "UPDATE upload_jobs SET heartbeat_at = now() - interval '1 hour'")
        heartbeat(pipeline, claim)
        # (the lease from the heartbeat's own clock: measured from now(), it shrank by however long this
        # query took to come, and rounded to 89 on a loaded machine)
        beats.append(
            admin(
                stack,
                "SELECT heartbeat_at > now() - interval '5 seconds' AS fresh,"
                " extract(epoch FROM lease_expires_at - heartbeat_at) AS lease FROM upload_jobs",
            )[0]
        )
        # THEN its message stays invisible for the lease (a receive now finds nothing)
        assert stack.client("sqs").receive_message(QueueUrl=stack.queue_urls["ParseQueue"]).get("Messages") is None
        # WHEN another invocation takes the job over THEN the next heartbeat stops this one
        update(stack, "upload_jobs", {"lease_owner": "another-invocation"})
        heartbeat(pipeline, claim)
        raise AssertionError("unreachable")

    with pytest.raises(LeaseLost):
        process_stage_message(pipeline, STEPS["parse"], delivery, long_work)
    assert beats == [{"fresh": True, "lease": 90}]
    assert jobs(stack, "lease_owner", "state") == [{"lease_owner": "another-invocation", "state": "in_progress"}]


def test_the_sweeper_gives_up_on_a_job_that_crashes_every_time_and_one_bad_job_stalls_nothing(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docintake.sweeper

    # GIVEN three stale jobs: one that has crashed through two rounds of deliveries, two ordinary ones
    for name in ("a.md", "b.md", "c.md"):
        ticket = upload_bytes(stack, USER, name, POLICY + name.encode(), "text/markdown")
        stack.invoke("ValidateFunction", s3_event(stack.bucket, ticket.key))
    _drain(stack, "ValidateFunctionAsyncEvents", "ParseQueue")
    admin(
        stack,
        "UPDATE upload_jobs SET stage = 'parsing', state = 'in_progress', lease_owner = 'dead',"
        " lease_expires_at = now() - interval '1 hour', heartbeat_at = now() - interval '2 hours'",
    )
    crashed, broken, fine = (r["id"] for r in jobs(stack, "id"))
    update(stack, "upload_jobs", {"attempts": 10}, id=crashed)
    # AND sending fails for one of them (say SQS refuses it)
    real_send = docintake.sweeper.send_stage_message

    def refuse_one(sqs: Any, url: str, message: Any) -> str:
        if message.job_id == broken:
            raise RuntimeError("refused")
        return str(real_send(sqs, url, message))

    monkeypatch.setattr(docintake.sweeper, "send_stage_message", refuse_one)
    # WHEN the sweeper runs
    result = sweep(stack.operations(), invocation_id="sweep")
    # THEN the crash-looping job is dead-lettered with a code, the broken one skipped, the fine one rescued
    assert (result.given_up, result.failed, result.rescued) == ([crashed], [broken], [fine])
    outcomes = {r["id"]: (r["state"], r["last_error_code"]) for r in jobs(stack, "id", "state", "last_error_code")}
    assert outcomes[crashed] == ("dead_lettered", "stage_crashed")
    assert outcomes[broken] == ("in_progress", None) and outcomes[fine] == ("queued", None)
    assert document_status(stack, job_row(stack, "document_id", id=crashed)["document_id"]) == "failed"


def test_replay_leaves_messages_on_the_wrong_queue_and_drops_those_of_jobs_that_moved_on(stack: LocalStack) -> None:
    document_id = ingest(stack)
    sqs = stack.client("sqs")
    # A valid chunk message that landed in the parse DLQ (dead-lettered as being on the wrong queue) and a
    # parse message for a job that is long past parsing.
    sqs.send_message(QueueUrl=stack.queue_urls["ParseDLQ"], MessageBody=stage_body_of(stack, document_id, "chunk"))
    update(stack, "upload_jobs", {"stage": "chunking", "state": "dead_lettered"})
    sqs.send_message(QueueUrl=stack.queue_urls["ParseDLQ"], MessageBody=stage_body_of(stack, document_id, "parse"))
    summary = replay(stack.operations(), "parse", invocation_id="r")
    assert summary.line() == "replayed=0 skipped=2 failed=0"
    left = list_dead_letters(stack.operations("ops"), ("parse",))
    assert [json.loads(x.body)["stage"] for x in left] == ["chunk"]
    assert jobs(stack, "state") == [{"state": "dead_lettered"}]


def test_a_dry_run_replay_decides_as_the_real_one_and_changes_nothing(stack: LocalStack) -> None:
    # GIVEN the parse DLQ holding a body no stage can read, a parse message of a job that has since finished,
    # and the parse message of a job dead-lettered in parsing
    finished = ingest(stack)
    ticket = upload_bytes(stack, USER, "other.md", POLICY + b"\nAnother clause.\n", "text/markdown")
    stack.invoke("ValidateFunction", s3_event(stack.bucket, ticket.key))
    _drain(stack, "ParseQueue", "ValidateFunctionAsyncEvents")
    update(stack, "upload_jobs", {"stage": "parsing", "state": "dead_lettered"}, id=ticket.job_id)
    sqs = stack.client("sqs")
    for body in ("garbage", stage_body_of(stack, finished, "parse"), stage_body_of(stack, ticket.document_id, "parse")):
        sqs.send_message(QueueUrl=stack.queue_urls["ParseDLQ"], MessageBody=body)
    ops = stack.operations()
    # WHEN an operator asks for a dry run
    dry = replay(ops, "parse", invocation_id="dry", dry_run=True)
    # THEN nothing changed: every message is back in the DLQ, no job moved, nothing was sent or recorded
    assert queue_depth(stack, "ParseDLQ") == 3 and queue_depth(stack, "ParseQueue") == 0
    assert jobs(stack, "state", id=ticket.job_id) == [{"state": "dead_lettered"}]
    assert count(stack, "events", event_type="replayed") == 0
    # AND the real replay does exactly what the dry run announced
    real = replay(ops, "parse", invocation_id="real")
    assert real.line() == "replayed=1 skipped=2 failed=0"
    assert dry.line() == f"dry run: would have {real.line()}"
    left = list_dead_letters(stack.operations("ops"), ("parse",))
    assert [x.body for x in left] == ["garbage"]
    assert jobs(stack, "state", id=ticket.job_id) == [{"state": "queued"}]


def test_a_replay_whose_source_is_not_configured_fails_before_resetting_the_job(stack: LocalStack) -> None:
    # GIVEN a job dead-lettered in parsing, its message in the parse DLQ, and no parse queue URL configured
    ticket = upload_bytes(stack, USER, "policy.md", POLICY, "text/markdown")
    stack.invoke("ValidateFunction", s3_event(stack.bucket, ticket.key))
    _drain(stack, "ParseQueue", "ValidateFunctionAsyncEvents")
    update(stack, "upload_jobs", {"stage": "parsing", "state": "dead_lettered"})
    stack.client("sqs").send_message(
        QueueUrl=stack.queue_urls["ParseDLQ"], MessageBody=stage_body_of(stack, ticket.document_id, "parse")
    )
    ops = stack.operations()
    ops = dataclasses.replace(ops, settings=ops.settings.model_copy(update={"parse_queue_url": None}))
    # WHEN it is replayed, dry and for real
    dry = replay(ops, "parse", invocation_id="dry", dry_run=True)
    real = replay(ops, "parse", invocation_id="real")
    # THEN both count it failed, the message stays, and the job was not reset to wait for a message never sent
    assert (dry.line(), real.line()) == (
        "dry run: would have replayed=0 skipped=0 failed=1",
        "replayed=0 skipped=0 failed=1",
    )
    assert queue_depth(stack, "ParseDLQ") == 1
    assert jobs(stack, "state") == [{"state": "dead_lettered"}]
