"""Operators' tools: the sweeper that rescues stuck jobs, and reading and replaying the dead-letter queues.

Both run as ``docintake_sweeper``: it sees every user's jobs and may move them on, but reads no chunk,
filename or vector. Listing runs as ``docintake_ops`` (read-only) just as well.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote_plus
from uuid import UUID

from aws_lambda_powertools import Logger

from docintake import metrics
from docintake.config import Settings
from docintake.db import Database, Row, one, queries, run
from docintake.errors import InvalidMessage
from docintake.events import append_event
from docintake.logs import describe_exception
from docintake.messages import StageMessage, StepName
from docintake.queues import send_stage_message
from docintake.storage import UPLOAD_PREFIX, first_key_under, parse_upload_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

logger = Logger(service="docintake", child=True)

QUEUE_NAMES = ("validate", "parse", "chunk", "embed")
# The stage message that moves a job on from where it stands (waiting for, or inside, that stage).
STEP_FOR_STAGE: dict[str, StepName] = {
    "upload_validated": "parse",
    "parsing": "parse",
    "parsing_parts": "parse",
    "parsed": "chunk",
    "chunking": "chunk",
    "chunked": "embed",
    "embedding": "embed",
    "embedding_parts": "embed",
}
# Where a job waits while the parts of a large document's stage run (see jobs.py): each part has a message.
PARTS_STAGES = frozenset({"parsing_parts", "embedding_parts"})
FINISHED_STATES = frozenset({"done", "failed", "expired"})


@dataclass(frozen=True)
class Operations:
    """What the sweeper and the operator commands work with: a database role, clients and queue URLs."""

    settings: Settings
    db: Database
    s3: S3Client
    sqs: SQSClient
    function_name: str
    # Re-invokes ValidateFunction asynchronously with an S3 event (Lambda Invoke, or the local async queue).
    invoke_validate: Callable[[dict[str, Any]], None] | None = None

    def source_url(self, queue: str) -> str | None:
        return {
            "parse": self.settings.parse_queue_url,
            "chunk": self.settings.chunk_queue_url,
            "embed": self.settings.embed_queue_url,
        }.get(queue)

    def dlq_url(self, queue: str) -> str:
        url = {
            "validate": self.settings.validate_dlq_url,
            "parse": self.settings.parse_dlq_url,
            "chunk": self.settings.chunk_dlq_url,
            "embed": self.settings.embed_dlq_url,
        }[queue]
        if not url:
            raise RuntimeError(f"{queue.upper()}_DLQ_URL is not set")
        return url


def s3_created_event(bucket: str, key: str, version_id: str | None = None) -> dict[str, Any]:
    """The S3 notification ValidateFunction receives for an upload, as S3 would send it."""
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/")}
    if version_id:
        obj["versionId"] = version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "eventTime": datetime.now(UTC).isoformat(),
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": obj},
            }
        ]
    }


# --- the sweeper ---------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    rescued: list[UUID] = field(default_factory=list)
    expired: list[UUID] = field(default_factory=list)
    revalidated: list[UUID] = field(default_factory=list)
    given_up: list[UUID] = field(default_factory=list)
    failed: list[UUID] = field(default_factory=list)

    def summary(self) -> str:
        line = f"rescued={len(self.rescued)} expired={len(self.expired)} revalidated={len(self.revalidated)}"
        if self.given_up or self.failed:
            line += f" given_up={len(self.given_up)} failed={len(self.failed)}"
        return line


def sweep(
    ops: Operations,
    *,
    invocation_id: str,
    limit: int = 500,
    stale_seconds: int | None = None,
    leases_expired: bool = False,
) -> SweepResult:
    """Rescues jobs whose heartbeat went stale, one locked row at a time, and expires abandoned uploads.

    A job is stale when its heartbeat is older than SWEEP_STALE_SECONDS (more than a function timeout ×
    maxReceiveCount, so SQS has given up on it), or ``stale_seconds`` when an operator says so, and no
    lease is live; ``leases_expired`` counts every lease as lapsed (the local stack at start: whoever held
    them stopped with the previous run). Its stage's message is sent again:
    a message still somewhere in SQS makes that a duplicate, which the stage machine acknowledges. A job
    rescued so often that its attempts reach twice maxReceiveCount keeps crashing its stage: it is
    dead-lettered (``stage_crashed``) instead. Each job is taken at most once per run; one that fails here
    waits for the next run.
    """
    settings = ops.settings
    params: dict[str, Any] = {
        "stale_after": settings.sweep_stale_seconds if stale_seconds is None else stale_seconds,
        "leases_expired": leases_expired,
        "upload_after": settings.upload_url_expires_seconds + settings.sweep_upload_grace_seconds,
        "skip": [],
    }
    result = SweepResult()
    for _ in range(limit):
        job: Row | None = None
        try:
            with ops.db.transaction() as conn:
                job = one(conn, "claim_stale_job", params)
                if job is None:
                    break
                # Once per run: with a short threshold (or none, at the local stack's start) the heartbeat
                # a rescue writes is stale again by the next claim, which would rescue the job again.
                params["skip"].append(job["id"])
                if job["stage"] == "awaiting_upload":
                    _sweep_upload(ops, conn, job, invocation_id, result)
                elif job["attempts"] >= 2 * settings.max_receive_count:
                    _give_up(ops, conn, job, invocation_id, "dead_lettered", "stage_crashed")
                    result.given_up.append(job["id"])
                else:
                    _rescue(ops, conn, job, invocation_id, leases_expired=leases_expired)
                    result.rescued.append(job["id"])
        except Exception as exc:
            if job is None:
                raise
            result.failed.append(job["id"])
            logger.error("could not sweep a job", extra={"job_id": str(job["id"]), "error": describe_exception(exc)})
    if result.rescued or result.expired or result.revalidated or result.given_up or result.failed:
        logger.info("sweep finished", extra={"summary": result.summary()})
    return result


def _rescue(ops: Operations, conn: Any, job: Row, invocation_id: str, *, leases_expired: bool) -> None:
    step = STEP_FOR_STAGE[job["stage"]]
    url = ops.source_url(step)
    if not url:
        raise RuntimeError(f"{step.upper()}_QUEUE_URL is not set")
    message = StageMessage(
        job_id=job["id"],
        document_id=job["document_id"],
        user_id=job["user_id"],
        stage=step,
        correlation_id=job["correlation_id"],
    )
    details: dict[str, Any] = {}
    if job["stage"] in PARTS_STAGES:
        # A large document's stage in parts: a message for each part not done and not under a live lease.
        rows = conn.execute(
            queries()["parts_to_send"], {"job_id": job["id"], "step": step, "leases_expired": leases_expired}
        ).fetchall()
        details["parts"] = len(rows)
        for row in rows:
            send_stage_message(ops.sqs, url, message.model_copy(update={"part": row["part"]}))
    else:
        # Sent while the row is locked: if the commit then fails, the message is a harmless duplicate.
        send_stage_message(ops.sqs, url, message)
    run(conn, "mark_swept", {"job_id": job["id"]})
    stale = (datetime.now(UTC) - job["heartbeat_at"]).total_seconds() if job["heartbeat_at"] else None
    append_event(
        conn,
        "swept",
        **_ids(job, ops, invocation_id),
        details={"step": step, "state": job["state"], "stale_seconds": round(stale or 0), **details},
    )


def _give_up(ops: Operations, conn: Any, job: Row, invocation_id: str, state: str, code: str) -> None:
    message = {
        "stage_crashed": "the stage stopped without a word on every attempt",
        "upload_unvalidated": "the upload arrived but could not be validated",
    }[code]
    run(conn, "give_up_job", {"job_id": job["id"], "state": state, "code": code, "message": message})
    run(conn, "fail_document", {"document_id": job["document_id"]})
    append_event(conn, "sweeper_gave_up", **_ids(job, ops, invocation_id), details={"error_code": code})
    metrics.emit("DocumentsFailed", 1, dimensions={"error_code": code})
    if state == "dead_lettered":
        metrics.emit("DLQSends", 1, dimensions={"stage": STEP_FOR_STAGE.get(job["stage"], "validate")})


def _sweep_upload(ops: Operations, conn: Any, job: Row, invocation_id: str, result: SweepResult) -> None:
    bucket = ops.settings.bucket_name
    key = first_key_under(ops.s3, bucket, f"{UPLOAD_PREFIX}{job['user_id']}/{job['document_id']}/")
    if key is not None:
        # The file arrived but validation never decided (a lost or dead-lettered S3 event): validate again,
        # up to three times; after that the upload is failed rather than revalidated forever.
        if job["attempts"] >= 3:
            _give_up(ops, conn, job, invocation_id, "failed", "upload_unvalidated")
            result.given_up.append(job["id"])
            return
        run(conn, "touch_job", {"job_id": job["id"]})
        append_event(conn, "upload_revalidated", **_ids(job, ops, invocation_id), details={})
        if ops.invoke_validate is not None:
            ops.invoke_validate(s3_created_event(bucket, key))
        result.revalidated.append(job["id"])
        return
    run(conn, "expire_upload", {"job_id": job["id"]})
    run(conn, "expire_document", {"document_id": job["document_id"]})
    append_event(conn, "upload_expired", **_ids(job, ops, invocation_id), details={"error_code": "upload_expired"})
    result.expired.append(job["id"])


def _ids(job: Row, ops: Operations, invocation_id: str) -> dict[str, Any]:
    return {
        "user_id": job["user_id"],
        "document_id": job["document_id"],
        "job_id": job.get("id") or job.get("job_id"),
        "stage": job["stage"],
        "correlation_id": job["correlation_id"],
        "function_name": ops.function_name,
        "invocation_id": invocation_id,
    }


# --- dead letters --------------------------------------------------------------------------------------


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


def read_dead_letters(ops: Operations, queue: str, *, hold_seconds: int = 120) -> list[DeadLetter]:
    """Receives every visible message of the queue's DLQ and keeps them invisible for ``hold_seconds``;
    ``release`` makes them visible again. Each is described from its body and the job it belongs to."""
    url = ops.dlq_url(queue)
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


def release(ops: Operations, queue: str, letters: list[DeadLetter]) -> None:
    url = ops.dlq_url(queue)
    for letter in letters:
        ops.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0)


def list_dead_letters(ops: Operations, queues: tuple[str, ...] = QUEUE_NAMES) -> list[DeadLetter]:
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
    if queue == "validate":
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
        letter.error_code, letter.reason = "bad_message", "not an S3 event for an upload key"
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


def _attach_jobs(ops: Operations, letters: list[DeadLetter]) -> None:
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
    ops: Operations,
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


def replay_decision(ops: Operations, letter: DeadLetter) -> ReplayDecision:
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


def _carry_out(ops: Operations, letter: DeadLetter, decision: ReplayDecision, invocation_id: str) -> ReplayDecision:
    """Does what ``replay_decision`` decided; a step that fails turns the outcome into ``fail``."""
    if decision in ("keep", "fail"):
        return decision
    dlq = ops.dlq_url(letter.queue)
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


# --- jobs ----------------------------------------------------------------------------------------------


def list_jobs(db: Database, *, state: str | None = None, user_id: UUID | None = None, limit: int = 100) -> list[Row]:
    with db.transaction() as conn:
        return run(conn, "ops_list_jobs", {"state": state, "user_id": user_id, "limit": limit})


def job_timeline(db: Database, job_id: UUID) -> tuple[Row | None, list[Row]]:
    with db.transaction() as conn:
        job = one(conn, "ops_job", {"job_id": job_id})
        events = run(conn, "ops_job_events", {"job_id": job_id}) if job else []
    return job, events
