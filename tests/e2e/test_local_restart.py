"""The local stack across restarts and bad days: its S3 objects and messages outlive it, the database is
reconciled with them at start, a poller outlives any message, and `local up` stops on SIGINT too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from docintake.dead_letters import list_dead_letters
from docintake.messages import StageMessage
from docintake.sweeper import sweep
from docintake_local.client import upload_bytes
from docintake_local.persistence import forget_in_moto
from docintake_local.postgres import LocalDatabase
from docintake_local.stack import REGION, LocalStack

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
USER = uuid.UUID("5e5e0000-0000-4000-8000-000000000016")
POLICY = b"# Homeowners policy\n\n## Coverage A\n\nThe dwelling is covered against fire and windstorm.\n" * 20


def _stack(database: LocalDatabase, moto_endpoint: str, tmp_path: Path, name: str, **options: object) -> LocalStack:
    return LocalStack(
        ROOT,
        database,
        aws_endpoint=moto_endpoint,
        visibility_timeout=1,
        log_file=tmp_path / "functions.jsonl",
        stack_name=name,
        **options,  # type: ignore[arg-type]
    )


def _job(database: LocalDatabase, document_id: uuid.UUID) -> dict[str, object]:
    with psycopg.connect(database.admin_url, row_factory=psycopg.rows.dict_row) as conn:
        row = conn.execute(
            "SELECT j.id, j.stage, j.state, d.status,"
            " (SELECT count(*) FROM document_chunks c WHERE c.document_id = d.id) AS chunks,"
            " (SELECT count(*) FROM events e WHERE e.job_id = j.id AND e.event_type = 'stage_completed'"
            "   AND e.stage = 'chunked') AS chunk_completions"
            " FROM upload_jobs j JOIN documents d ON d.id = j.document_id WHERE d.id = %s",
            [document_id],
        ).fetchone()
    assert row is not None
    return dict(row)


def _deliver_from(stack: LocalStack, queue: str) -> int:
    """One receive from one queue, delivered to its function in this thread."""
    source = next(s for s in stack.sources if s.queue == queue)
    sqs = stack.client("sqs")
    url = stack.queue_urls[queue]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"]).get("Messages", [])
    if messages:
        stack._deliver(sqs, url, source, messages)
    return len(messages)


def test_a_body_that_is_not_json_does_not_stop_validation(
    database: LocalDatabase, moto_endpoint: str, tmp_path: Path
) -> None:
    stack = _stack(database, moto_endpoint, tmp_path, f"j{uuid.uuid4().hex[:8]}")
    with stack.running(pollers=True):
        events = next(s for s in stack.sources if s.s3_async)
        # GIVEN a body no S3 event could be, on the queue that stands in for ValidateFunction's async invoke
        stack.client("sqs").send_message(QueueUrl=stack.queue_urls[events.queue], MessageBody="{not json")
        # WHEN a real upload follows
        ticket = upload_bytes(stack, USER, "policy.md", POLICY, "text/markdown")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _job(database, ticket.document_id)["status"] != "ready":
            time.sleep(0.3)
        # THEN the upload is validated and goes all the way, and every poller is still alive
        assert _job(database, ticket.document_id)["status"] == "ready"
        assert stack.dead_components() == []
        # AND the bad body went where Lambda sends an event that failed every attempt: the on-failure queue
        assert events.failure_queue is not None
        records: list[dict[str, object]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not records:
            received = stack.client("sqs").receive_message(
                QueueUrl=stack.queue_urls[events.failure_queue], WaitTimeSeconds=1
            )
            records = [json.loads(m["Body"]) for m in received.get("Messages", [])]
        assert [r["requestPayload"] for r in records] == ["{not json"]
        assert records[0]["requestContext"]["approximateInvokeCount"] == events.attempts  # type: ignore[index]


def test_a_restart_keeps_files_messages_and_dead_letters_and_finishes_a_document_in_flight(
    database: LocalDatabase, moto_endpoint: str, tmp_path: Path
) -> None:
    name, state = f"r{uuid.uuid4().hex[:8]}", tmp_path / "aws-state"
    stack = _stack(database, moto_endpoint, tmp_path, name, state_dir=state)
    stack.start(pollers=False)
    try:
        # GIVEN an earlier dead letter in the parse DLQ
        dead = StageMessage(
            job_id=uuid.uuid4(), document_id=uuid.uuid4(), user_id=USER, stage="parse", correlation_id="earlier"
        )
        stack.client("sqs").send_message(QueueUrl=stack.queue_urls["ParseDLQ"], MessageBody=dead.model_dump_json())
        # AND a document validated and parsed, whose chunk invocation claimed the job and died with it
        ticket = upload_bytes(stack, USER, "policy.md", POLICY, "text/markdown")
        async_queue = next(s.queue for s in stack.sources if s.s3_async)
        while _deliver_from(stack, async_queue):  # S3's test event, then the upload's
            pass
        assert _deliver_from(stack, "ParseQueue") == 1
        sqs = stack.client("sqs")
        in_flight = sqs.receive_message(QueueUrl=stack.queue_urls["ChunkQueue"], VisibilityTimeout=600)
        assert len(in_flight.get("Messages", [])) == 1
        with psycopg.connect(database.admin_url) as conn:
            conn.execute(
                "UPDATE upload_jobs SET stage = 'chunking', state = 'in_progress', lease_owner = 'gone',"
                " lease_expires_at = now() + interval '10 minutes', heartbeat_at = now() WHERE document_id = %s",
                [ticket.document_id],
            )
        # AND a second upload whose S3 event is still queued
        waiting = upload_bytes(stack, USER, "second.md", POLICY + b"\nSecond copy.\n", "text/markdown")
    finally:
        # WHEN the stack stops and moto loses everything, as a restart of `local up` does
        stack.stop()
    forget_in_moto(stack.bucket, stack.queue_names(), REGION)
    again = _stack(database, moto_endpoint, tmp_path, name, state_dir=state)
    with again.running(pollers=False):
        # THEN at start the document's files and messages are back, its lease is released and its message
        # sent again, and the document finishes with no one's help
        assert again.reconciliation.restored.object_versions >= 3  # upload, Markdown, page map
        swept = again.reconciliation.swept
        assert swept.rescued.count(ticket.job_id) == 1 and swept.given_up == []
        again.run_until_idle()
        job = _job(database, ticket.document_id)
        assert (job["status"], job["state"], job["chunk_completions"]) == ("ready", "done", 1)
        assert int(job["chunks"]) > 0  # type: ignore[call-overload]
        assert _job(database, waiting.document_id)["status"] == "ready"
        # AND the earlier dead letter is still there
        letters = list_dead_letters(again.operations("ops"), ("parse",))
        assert [letter.job_id for letter in letters] == [dead.job_id]
        assert again.reconciliation.ready_without_files == []
    # WHEN moto loses everything and the saved state is gone too (a hard kill before any save)
    forget_in_moto(again.bucket, again.queue_names(), REGION)
    for path in sorted(state.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    third = _stack(database, moto_endpoint, tmp_path, name, state_dir=state)
    with third.running(pollers=False):
        # THEN the ready document without its files is reported, not silently kept
        assert sorted(third.reconciliation.ready_without_files) == sorted([ticket.document_id, waiting.document_id])
        assert _job(database, ticket.document_id)["status"] == "ready"


def test_sweep_with_a_shorter_staleness_releases_a_job_sooner(stack: LocalStack) -> None:
    # GIVEN a job whose invocation died a minute ago, its lease lapsed
    ticket = upload_bytes(stack, USER, "policy.md", POLICY, "text/markdown")
    with psycopg.connect(stack.database.admin_url) as conn:
        conn.execute(
            "UPDATE upload_jobs SET stage = 'parsing', state = 'in_progress', lease_owner = 'gone',"
            " lease_expires_at = now() - interval '1 second', heartbeat_at = now() - interval '60 seconds'"
            " WHERE id = %s",
            [ticket.job_id],
        )
    ops = stack.operations()
    # WHEN the sweeper runs with its default threshold (30 minutes) THEN the job is left alone
    assert ticket.job_id not in sweep(ops, invocation_id="t-default").rescued
    # WHEN an operator asks for 30 seconds THEN it is released and its parse message sent again
    assert sweep(ops, invocation_id="t-short", stale_seconds=30).rescued == [ticket.job_id]
    with psycopg.connect(stack.database.admin_url) as conn:
        row = conn.execute("SELECT state, lease_owner FROM upload_jobs WHERE id = %s", [ticket.job_id]).fetchone()
    assert row == ("queued", None)
    stack.run_until_idle()
    with psycopg.connect(stack.database.admin_url) as conn:
        status = conn.execute("SELECT status FROM documents WHERE id = %s", [ticket.document_id]).fetchone()
    assert status == ("ready",)


def test_the_sweep_command_takes_stale_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    from docintake_cli import main as cli
    from docintake_cli import operators as operator_commands

    seen: dict[str, object] = {}
    monkeypatch.setattr(operator_commands, "_sweep", lambda args: seen.update(vars(args)) or 0)
    assert cli.main(["sweep", "--stale-seconds", "45"]) == 0
    assert seen["stale_seconds"] == 45


def test_local_up_started_in_the_background_stops_on_sigint(database: LocalDatabase, tmp_path: Path) -> None:
    # GIVEN `docintake local up` started as a shell starts a background job: SIGINT ignored
    env = {**os.environ, "DATABASE_URL": database.admin_url, "DOCINTAKE_HOME": str(tmp_path / "home")}
    process = subprocess.Popen(
        [sys.executable, "-m", "docintake_cli", "local", "up"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops" in line:
                break
        assert any("local stack up" in line for line in lines), (lines, process.stderr and process.stderr.read())
        assert (tmp_path / "home" / "stack.json").exists()
        # WHEN it receives SIGINT
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # THEN it stops cleanly, saves its state and removes its running-stack record
    assert process.returncode == 0, err
    assert "local stack stopped" in out
    assert (tmp_path / "home" / "aws-state" / "s3-index.json").exists()
    assert not (tmp_path / "home" / "stack.json").exists()


def test_a_dead_component_is_named(database: LocalDatabase, tmp_path: Path) -> None:
    # GIVEN a stack running its own moto, every part alive
    stack = LocalStack(ROOT, database, log_file=tmp_path / "functions.jsonl", stack_name=f"d{uuid.uuid4().hex[:8]}")
    with stack.running(pollers=True):
        assert stack.dead_components() == []
        # WHEN moto's server stops under it, and a poller thread is gone
        stack._moto._server.shutdown()
        stack._threads.append(threading.Thread(target=lambda: None, name="poll-gone"))
        stack._threads[-1].start()
        stack._threads[-1].join()
        # THEN both are named, so `local up` can stop and say which
        dead = stack.dead_components()
        assert "moto server" in dead and "thread poll-gone" in dead
