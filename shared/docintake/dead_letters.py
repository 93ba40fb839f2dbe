"""The dead-letter queues, for operators: list what is in them (with the job each message belongs to) and
replay it, dry run first, without ever duplicating work. Runs as ``docintake_sweeper``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from aws_lambda_powertools import Logger

from docintake.context import Context
from docintake.db import one, run
from docintake.errors import InvalidMessage
from docintake.events import append_event
from docintake.logs import describe_exception
from docintake.messages import StageMessage
from docintake.operations import QUEUE_NAMES, STEP_FOR_STAGE
from docintake.queues import send_stage_message
from docintake.storage import parse_upload_key
from docintake.vocabulary import FINISHED_STATES, ErrorCode, Queue

logger = Logger(service="docintake", child=True)


@dataclass
class DeadLetter:
    """One message in a DLQ, with what an operator needs to decide about it. Never any document text."""

    queue: str
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    age_seconds: float
    stage_message: StageMessage | None = None
    s3_event: dict[str, Any] | None = None
    document_id: UUID | None = None
    user_id: UUID | None = None
    job_id: UUID | None = None
    job_state: str | None = None
    job_stage: str | None = None
    error_code: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "message_id": self.message_id,
            "job_id": str(self.job_id) if self.job_id else None,
            "document_id": str(self.document_id) if self.document_id else None,
            "user_id": str(self.user_id) if self.user_id else None,
            "job_state": self.job_state,
            "error_code": self.error_code,
            "reason": self.reason,
            "receive_count": self.receive_count,
            "age_seconds": round(self.age_seconds),
        }


def read_dead_letters(ops: Context, queue: str, *, hold_seconds: int = 120) -> list[DeadLetter]:
    """Receives every visible message of the queue's DLQ and keeps them invisible for ``hold_seconds``;
    ``release`` makes them visible again. Each is described from its body and the job it belongs to."""
    url = ops.required_dlq_url(queue)
    letters: list[DeadLetter] = []
    seen: set[str] = set()
    empty = 0
    # Long polling, and two empty answers in a row before stopping: a short poll samples only some of
    # SQS's servers and can answer empty while messages wait.
    while empty < 2:
        messages = ops.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=hold_seconds,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            empty += 1
            continue
        empty = 0
        for message in fresh:
            seen.add(message["MessageId"])
            letters.append(_describe(queue, message))
    _attach_jobs(ops, letters)
    return letters


def release(ops: Context, queue: str, letters: list[DeadLetter]) -> None:
    url = ops.required_dlq_url(queue)
    for letter in letters:
        ops.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0)


def list_dead_letters(ops: Context, queues: tuple[str, ...] = QUEUE_NAMES) -> list[DeadLetter]:
    found: list[DeadLetter] = []
    for queue in queues:
        letters = read_dead_letters(ops, queue, hold_seconds=30)
        release(ops, queue, letters)
        found.extend(letters)
    return found


def _describe(queue: str, message: Any) -> DeadLetter:
    attributes = message.get("Attributes", {})
    sent_ms = int(attributes.get("SentTimestamp", time.time() * 1000))
    custom = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
    letter = DeadLetter(
        queue=queue,
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message["Body"],
        receive_count=int(attributes.get("ApproximateReceiveCount", 1)),
        age_seconds=max(0.0, time.time() - sent_ms / 1000),
        error_code=custom.get("error_code"),
        reason=custom.get("error_reason"),
    )
    if queue == Queue.VALIDATE:
        _describe_validate(letter)
        return letter
    try:
        letter.stage_message = StageMessage.parse_body(letter.body)
    except InvalidMessage as exc:
        letter.error_code = letter.error_code or exc.code
        letter.reason = letter.reason or str(exc)
        return letter
    letter.job_id = letter.stage_message.job_id
    letter.document_id = letter.stage_message.document_id
    letter.user_id = letter.stage_message.user_id
    return letter


def _describe_validate(letter: DeadLetter) -> None:
    """Lambda's on-failure destination record: the S3 event is ``requestPayload``; the error, by type."""
    try:
        record = json.loads(letter.body)
        event = record.get("requestPayload", record) if isinstance(record, dict) else None
        key = parse_upload_key(event["Records"][0]["s3"]["object"]["key"]) if event else None
    except (ValueError, KeyError, IndexError, TypeError):
        event, key = None, None
    if event is None or key is None:
        letter.error_code, letter.reason = ErrorCode.BAD_MESSAGE, "not an S3 event for an upload key"
        return
    letter.s3_event = event
    letter.document_id, letter.user_id = key.document_id, key.user_id
    response = record.get("responsePayload") or {}
    condition = (record.get("requestContext") or {}).get("condition")
    letter.error_code = letter.error_code or "validate_failed"
    # The handler raises HandlerFailed, whose message is scrubbed (types and codes); any other error type
    # came from outside it (the runtime, a timeout), and its message is not ours to show.
    detail = None
    if isinstance(response, dict):
        detail = (
            response.get("errorMessage") if response.get("errorType") == "HandlerFailed" else response.get("errorType")
        )
    letter.reason = letter.reason or " ".join(part for part in (condition, detail) if part)


def _attach_jobs(ops: Context, letters: list[DeadLetter]) -> None:
    documents = sorted({str(letter.document_id) for letter in letters if letter.document_id})
    if not documents:
        return
    with ops.db.transaction() as conn:
        rows = run(conn, "ops_jobs_of_documents", {"document_ids": documents})
    newest = {str(row["document_id"]): row for row in rows}
    for letter in letters:
        job = newest.get(str(letter.document_id))
        if job is None:
            continue
        letter.job_id = letter.job_id or job["job_id"]
        letter.job_state = job["state"]
        letter.job_stage = job["stage"]
        # A stage message's error is its job's last error; a validate failure's, its type unless the job says.
        letter.error_code = job["last_error_code"] or letter.error_code


@dataclass
class ReplaySummary:
    replayed: int = 0
    skipped: int = 0
    failed: int = 0
    dry_run: bool = False

    def line(self) -> str:
        prefix = "dry run: would have " if self.dry_run else ""
        return f"{prefix}replayed={self.replayed} skipped={self.skipped} failed={self.failed}"


# What replay does with one chosen dead letter, decided before anything is changed.
ReplayDecision = Literal["replay", "drop", "keep", "fail"]


def replay(
    ops: Context,
    queue: str,
    *,
    invocation_id: str,
    job_id: UUID | None = None,
    error_code: str | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ReplaySummary:
    """Receive → reset the job to queued (a ``replayed`` event) → send to the source → delete, per message.

    Skipped and left in the DLQ: messages outside the filters and bodies no stage can read. Skipped and
    deleted: messages of jobs that have since finished, which a replay could not move. A replayed
    message that turns out to be a duplicate is acknowledged by its stage, so replaying twice is harmless.

    A dry run takes the same decisions (``replay_decision``) over the same messages and counts them the
    same way; it only leaves out the side effects, so every message goes back to the DLQ unchanged.
    """
    letters = read_dead_letters(ops, queue, hold_seconds=300)
    summary = ReplaySummary(dry_run=dry_run)
    keep: list[DeadLetter] = []
    chosen = [
        letter
        for letter in letters
        if (job_id is None or letter.job_id == job_id) and (error_code is None or letter.error_code == error_code)
    ]
    summary.skipped += len(letters) - len(chosen)
    keep.extend(letter for letter in letters if letter not in chosen)
    if limit is not None:
        keep.extend(chosen[limit:])
        chosen = chosen[:limit]
    for done, letter in enumerate(chosen, start=1):
        decision = replay_decision(ops, letter)
        outcome = decision if dry_run else _carry_out(ops, letter, decision, invocation_id)
        if outcome == "replay":
            summary.replayed += 1
        elif outcome == "fail":
            summary.failed += 1
        else:
            summary.skipped += 1
        if dry_run or outcome in ("keep", "fail"):
            keep.append(letter)
        if progress is not None:
            progress(done, len(chosen))
    release(ops, queue, keep)
    return summary


def replay_decision(ops: Context, letter: DeadLetter) -> ReplayDecision:
    """``replay`` (send it back and reset its job), ``drop`` (delete it: its job has finished or moved on),
    ``keep`` (leave it: unreadable, or on the wrong queue) or ``fail`` (it cannot be sent from here: the
    source is not configured). Reads only the letter and the settings, so a dry run can ask it too."""
    if letter.stage_message is None and letter.s3_event is None:
        return "keep"
    if letter.stage_message is not None and letter.stage_message.stage != letter.queue:
        return "keep"  # a stage message on the wrong queue: replaying it would bounce it back here
    moved_on = (
        letter.stage_message is not None
        and letter.job_stage is not None
        and STEP_FOR_STAGE.get(letter.job_stage) != letter.queue
    )
    if letter.job_state in FINISHED_STATES or moved_on:
        return "drop"  # its job has finished, or moved to another stage since: this message can move nothing
    # Checked before the job is reset: a job reset without its message would wait for the sweeper.
    if letter.stage_message is not None and not ops.source_url(letter.queue):
        logger.error("replay impossible: the source queue is not configured", extra={"queue": letter.queue})
        return "fail"
    if letter.stage_message is None and ops.invoke_validate is None:
        logger.error("replay impossible: VALIDATE_FUNCTION_NAME is not set", extra={"queue": letter.queue})
        return "fail"
    return "replay"


def _carry_out(ops: Context, letter: DeadLetter, decision: ReplayDecision, invocation_id: str) -> ReplayDecision:
    """Does what ``replay_decision`` decided; a step that fails turns the outcome into ``fail``."""
    if decision in ("keep", "fail"):
        return decision
    dlq = ops.required_dlq_url(letter.queue)
    try:
        if decision == "drop":
            ops.sqs.delete_message(QueueUrl=dlq, ReceiptHandle=letter.receipt_handle)
            return "drop"
        if letter.job_id is not None:
            with ops.db.transaction() as conn:
                job = one(conn, "replay_job", {"job_id": letter.job_id})
                if job is not None:
                    run(conn, "reopen_document", {"document_id": job["document_id"]})
                    append_event(
                        conn,
                        "replayed",
                        user_id=job["user_id"],
                        document_id=job["document_id"],
                        job_id=job["id"],
                        stage=job["stage"],
                        correlation_id=job["correlation_id"],
                        function_name=ops.function_name,
                        invocation_id=invocation_id,
                        details={
                            "queue": letter.queue,
                            "message_id": letter.message_id,
                            "error_code": letter.error_code,
                        },
                    )
        if letter.stage_message is not None:
            url = ops.source_url(letter.queue)
            assert url is not None  # replay_decision said so
            send_stage_message(ops.sqs, url, letter.stage_message)
        else:
            assert letter.s3_event is not None and ops.invoke_validate is not None
            ops.invoke_validate(letter.s3_event)
        ops.sqs.delete_message(QueueUrl=dlq, ReceiptHandle=letter.receipt_handle)
    except Exception as exc:
        logger.error(
            "replay failed",
            extra={"message_id": letter.message_id, "queue": letter.queue, "error": describe_exception(exc)},
        )
        return "fail"
    return "replay"
