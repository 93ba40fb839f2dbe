"""The stage machine: claim a job with a lease, do the work, complete under fencing, send the next message.

Every SQS-driven stage (parse, chunk, embed) runs through ``process_stage_message``; the stage itself only
supplies ``work``, which returns a writer that runs inside the completing transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import psycopg
from aws_lambda_powertools import Logger
from psycopg.types.json import Jsonb

from docintake import metrics
from docintake.context import Context
from docintake.db import Row, one, queries, run
from docintake.errors import DocintakeError, InvalidMessage, LeaseHeld, LeaseLost, PermanentError
from docintake.events import append_event
from docintake.messages import StageMessage
from docintake.queues import backoff_seconds, delay_redelivery, send_stage_message
from docintake.vocabulary import FINISHED_STATES, DocumentStatus, ErrorCode, JobState, Stage, StepName

logger = Logger(service="docintake", child=True)

STAGES = tuple(Stage)
Outcome = Literal["completed", "duplicate", "failed", "ignored", "dead_lettered", "continued"]


@dataclass(frozen=True)
class Step:
    name: str
    ready_stage: Stage
    working_stage: Stage
    completed_stage: Stage
    next_step: StepName | None
    # Where the job waits while the stage's parts run, for a stage that fans out a large document.
    parts_stage: Stage | None = None


STEPS: dict[StepName, Step] = {
    StepName.PARSE: Step(
        StepName.PARSE, Stage.UPLOAD_VALIDATED, Stage.PARSING, Stage.PARSED, StepName.CHUNK, Stage.PARSING_PARTS
    ),
    StepName.CHUNK: Step(StepName.CHUNK, Stage.PARSED, Stage.CHUNKING, Stage.CHUNKED, StepName.EMBED),
    # The embed stage swaps vectors in and finishes the job in one transaction.
    StepName.EMBED: Step(StepName.EMBED, Stage.CHUNKED, Stage.EMBEDDING, Stage.DONE, None, Stage.EMBEDDING_PARTS),
}
# Validation is driven by S3 events, not a stage message; it shares only the completion and the send.
VALIDATE_STEP = Step("validate", Stage.AWAITING_UPLOAD, Stage.AWAITING_UPLOAD, Stage.UPLOAD_VALIDATED, StepName.PARSE)


@dataclass(frozen=True)
class Delivery:
    """One SQS record, as much of it as the stage machine needs."""

    body: str
    message_id: str
    receipt_handle: str
    receive_count: int
    invocation_id: str
    remaining_ms: int


@dataclass(frozen=True)
class Claim:
    message: StageMessage
    step: Step
    # The job row (with the document's content type, key and filename); for a part, the part's row
    # (``part``, ``first_item``, ``last_item``) with the same document columns.
    job: Row
    lease_owner: str
    lease_seconds: int
    invocation_id: str
    receipt_handle: str
    # time.monotonic() by which the invocation must have finished (its remaining time at delivery).
    deadline: float = float("inf")

    @property
    def part(self) -> int | None:
        return self.message.part

    def seconds_left(self) -> float:
        return self.deadline - time.monotonic()


@dataclass(frozen=True)
class FanOut:
    """What a stage's work returns instead of a writer when the document is too large for one invocation:
    the inclusive ranges (pages, or chunk ordinals) that become the job's parts, one message each."""

    ranges: tuple[tuple[int, int], ...]
    details: dict[str, Any]


class PartContinues(Exception):
    """Raised by a part's work that is running out of the invocation's time with work left: what it did
    is committed, and a fresh message for the same part carries on where it stopped."""


Writer = Callable[[psycopg.Connection[Row]], dict[str, Any]]
Work = Callable[[Claim], "Writer | FanOut"]


@dataclass(frozen=True)
class Parts:
    """A stage that fans out: ``work`` does one part (its claim's ``job`` is the part's row) and returns a
    writer for the part's completing transaction; ``join`` runs in the transaction that completes the last
    part, after every part is done, and returns the stage's completion details."""

    work: Callable[[Claim], Writer]
    join: Callable[[psycopg.Connection[Row], Claim], dict[str, Any]]


def heartbeat(pipeline: Context, claim: Claim) -> None:
    """Long work is still alive: extend the lease and ``heartbeat_at``, and keep the message invisible.
    Raises LeaseLost when another invocation has taken the job (or the part) over, so the work stops."""
    ids = {"job_id": claim.message.job_id, "lease_owner": claim.lease_owner, "lease_seconds": claim.lease_seconds}
    with pipeline.db.transaction(claim.message.user_id) as conn:
        if claim.part is None:
            held = one(conn, "heartbeat", ids)
        else:
            held = one(conn, "heartbeat_part", {**ids, "step": claim.step.name, "part": claim.part})
    if held is None:
        raise LeaseLost("lease lost while working")
    delay_redelivery(pipeline.sqs, pipeline.queue_url(claim.step.name), claim.receipt_handle, claim.lease_seconds)


def stage_index(stage: str) -> int:
    return STAGES.index(Stage(stage))


def send_next(pipeline: Context, message: StageMessage, step: Step) -> None:
    """Sends the next stage's message for a job that completed ``step``, then records that it went out."""
    if step.next_step is None:
        return
    next_message = message.model_copy(update={"stage": step.next_step})
    send_stage_message(pipeline.sqs, pipeline.queue_url(step.next_step), next_message)
    with pipeline.db.transaction(message.user_id) as conn:
        run(conn, "mark_message_sent", {"job_id": message.job_id, "stage": step.completed_stage})


def send_parts(pipeline: Context, message: StageMessage, step: Step, parts: list[int]) -> None:
    """Sends one message per part of a job that fanned out at ``step``, then records that they went out."""
    for part in parts:
        send_stage_message(pipeline.sqs, pipeline.queue_url(step.name), message.model_copy(update={"part": part}))
    with pipeline.db.transaction(message.user_id) as conn:
        run(conn, "mark_message_sent", {"job_id": message.job_id, "stage": step.parts_stage})


def process_stage_message(
    pipeline: Context, step: Step, delivery: Delivery, work: Work, parts: Parts | None = None
) -> Outcome:
    """Runs one delivery of a stage message. Returns the outcome, or raises to have SQS redeliver it —
    after the backoff for this attempt, set through the message's visibility, whatever the error:
    a failed claim or send, a lease held elsewhere. A body that is not a stage message for this queue goes
    straight to the DLQ with its reason, since no retry can fix it."""
    try:
        return _run_stage(pipeline, step, delivery, work, parts)
    except InvalidMessage as exc:
        if dead_letter_invalid(pipeline, step.name, delivery, exc):
            return "dead_lettered"
        raise
    except Exception:
        delay = backoff_seconds(delivery.receive_count, pipeline.settings.backoff_base_seconds)
        delay_redelivery(pipeline.sqs, pipeline.queue_url(step.name), delivery.receipt_handle, delay)
        raise


def _run_stage(pipeline: Context, step: Step, delivery: Delivery, work: Work, parts: Parts | None) -> Outcome:
    message = StageMessage.parse_body(delivery.body)
    if message.stage != step.name:
        raise InvalidMessage(f"message for stage {message.stage} on the {step.name} queue")
    logger.set_correlation_id(message.correlation_id)
    logger.append_keys(job_id=str(message.job_id), document_id=str(message.document_id), stage=step.name)
    if message.part is not None:
        if parts is None or step.parts_stage is None:
            raise InvalidMessage(f"a part message on the {step.name} queue, whose stage has no parts")
        return _run_part(pipeline, step, delivery, message, parts)

    lease_seconds, lease_owner = _lease(pipeline, delivery)
    with pipeline.db.transaction(message.user_id) as conn:
        job = one(
            conn,
            "claim_job",
            {
                "job_id": message.job_id,
                "document_id": message.document_id,
                "ready_stage": step.ready_stage,
                "working_stage": step.working_stage,
                "lease_owner": lease_owner,
                "lease_seconds": lease_seconds,
            },
        )
        if job is not None:
            append_event(
                conn,
                "stage_started",
                **_event_ids(message, step.working_stage, pipeline, delivery.invocation_id),
                details={"attempt": job["attempts"], "receive_count": delivery.receive_count},
            )
        else:
            current = one(conn, "get_job", {"job_id": message.job_id, "document_id": message.document_id})
    if job is None:
        return _unclaimed(pipeline, step, message, current)

    started = time.monotonic()
    claim = Claim(
        message,
        step,
        job,
        lease_owner,
        lease_seconds,
        delivery.invocation_id,
        delivery.receipt_handle,
        started + delivery.remaining_ms / 1000,
    )
    try:
        writer = work(claim)
        if isinstance(writer, FanOut):
            return _fan_out(pipeline, claim, delivery, writer)
        with pipeline.db.transaction(message.user_id) as conn:
            completed = one(
                conn,
                "complete_stage",
                {
                    "job_id": message.job_id,
                    "working_stage": step.working_stage,
                    "completed_stage": step.completed_stage,
                    "state": JobState.DONE if step.completed_stage == Stage.DONE else JobState.QUEUED,
                    "lease_owner": lease_owner,
                },
            )
            if completed is None:
                raise LeaseLost("lease lost before completion; another invocation owns the job")
            details = writer(conn)
            append_event(
                conn,
                "stage_completed",
                **_event_ids(message, step.completed_stage, pipeline, delivery.invocation_id),
                details=details,
            )
    except PermanentError as exc:
        _record_failure(pipeline, message, step, delivery, lease_owner, exc, state=JobState.FAILED)
        logger.warning("stage failed", extra={"error_code": exc.code})
        return "failed"
    except (LeaseHeld, LeaseLost) as exc:
        # Another invocation owns the job: leave it alone, try again later.
        logger.info("lease not ours", extra={"error_code": exc.code})
        raise
    except Exception as exc:
        _retry_or_dead_letter(pipeline, message, step, delivery, lease_owner, exc)
        raise
    logger.info("stage completed", extra=details)
    metrics.emit(
        "StageDuration",
        round((time.monotonic() - started) * 1000, 1),
        unit="Milliseconds",
        dimensions={"stage": step.name},
    )
    metrics.emit("StageCompleted", 1, dimensions={"stage": step.name})
    if step.completed_stage == Stage.DONE:
        metrics.emit("DocumentsReady", 1)
    send_next(pipeline, message, step)
    return "completed"


def _lease(pipeline: Context, delivery: Delivery) -> tuple[int, str]:
    """A claim's lease: a little longer than this invocation can live, so a crashed one's lapses by itself;
    its owner names the invocation and the message (two records of one batch are two owners)."""
    grace = pipeline.settings.lease_grace_seconds
    return max(grace, delivery.remaining_ms // 1000 + grace), f"{delivery.invocation_id}/{delivery.message_id}"


def _fan_out(pipeline: Context, claim: Claim, delivery: Delivery, fan_out: FanOut) -> Outcome:
    """The job moves to the parts stage with its parts recorded, in one fenced transaction; then one message
    per part goes out. A crash before the sends is repaired by a duplicate of this message or the sweeper."""
    message, step = claim.message, claim.step
    assert step.parts_stage is not None
    with pipeline.db.transaction(message.user_id) as conn:
        completed = one(
            conn,
            "complete_stage",
            {
                "job_id": message.job_id,
                "working_stage": step.working_stage,
                "completed_stage": step.parts_stage,
                "state": JobState.IN_PROGRESS,
                "lease_owner": claim.lease_owner,
            },
        )
        if completed is None:
            raise LeaseLost("lease lost before the fan-out; another invocation owns the job")
        run(conn, "delete_job_parts", {"job_id": message.job_id, "step": step.name})
        run(
            conn,
            "insert_job_parts",
            {
                "job_id": message.job_id,
                "user_id": message.user_id,
                "step": step.name,
                "firsts": [first for first, _ in fan_out.ranges],
                "lasts": [last for _, last in fan_out.ranges],
            },
        )
        append_event(
            conn,
            "stage_fanned_out",
            **_event_ids(message, step.parts_stage, pipeline, delivery.invocation_id),
            details={**fan_out.details, "parts": len(fan_out.ranges)},
        )
    logger.info("stage fanned out", extra={"parts": len(fan_out.ranges)})
    send_parts(pipeline, message, step, list(range(len(fan_out.ranges))))
    return "completed"


def _part_ids(message: StageMessage, step: Step) -> dict[str, Any]:
    return {"job_id": message.job_id, "document_id": message.document_id, "step": step.name, "part": message.part}


def _run_part(pipeline: Context, step: Step, delivery: Delivery, message: StageMessage, parts: Parts) -> Outcome:
    """One part of a stage that fanned out: claim the part's lease, do its work, complete it under fencing
    with the job's row locked, and, when it is the last part in, join them and advance the job in that same
    transaction. Failures are the job's, as in a stage; a part short of time continues in a fresh message."""
    assert step.parts_stage is not None
    # The invocation's time is counted from the delivery, before the claim (which may wait on the job's lock).
    deadline = time.monotonic() + delivery.remaining_ms / 1000
    lease_seconds, lease_owner = _lease(pipeline, delivery)
    ids = _part_ids(message, step)
    with pipeline.db.transaction(message.user_id) as conn:
        part = one(
            conn,
            "claim_part",
            {**ids, "parts_stage": step.parts_stage, "lease_owner": lease_owner, "lease_seconds": lease_seconds},
        )
        if part is not None:
            append_event(
                conn,
                "part_started",
                **_event_ids(message, step.parts_stage, pipeline, delivery.invocation_id),
                details={"part": message.part, "attempt": part["attempts"], "receive_count": delivery.receive_count},
            )
        else:
            current = one(conn, "get_part", ids)
    if part is None:
        return _unclaimed_part(pipeline, step, message, current)

    started = time.monotonic()
    claim = Claim(
        message, step, part, lease_owner, lease_seconds, delivery.invocation_id, delivery.receipt_handle, deadline
    )
    try:
        writer = parts.work(claim)
        details, joined = _complete_part(pipeline, claim, delivery, writer, parts)
    except PartContinues:
        return _continue_part(pipeline, claim, delivery)
    except PermanentError as exc:
        _record_failure(pipeline, message, step, delivery, lease_owner, exc, state=JobState.FAILED)
        logger.warning("part failed", extra={"error_code": exc.code, "part": message.part})
        return "failed"
    except (LeaseHeld, LeaseLost) as exc:
        logger.info("lease not ours", extra={"error_code": exc.code, "part": message.part})
        raise
    except Exception as exc:
        _retry_or_dead_letter(pipeline, message, step, delivery, lease_owner, exc)
        raise
    logger.info("part completed", extra={"part": message.part, **details})
    metrics.emit(
        "StageDuration",
        round((time.monotonic() - started) * 1000, 1),
        unit="Milliseconds",
        dimensions={"stage": step.name},
    )
    if joined:
        logger.info("stage completed")
        metrics.emit("StageCompleted", 1, dimensions={"stage": step.name})
        if step.completed_stage == Stage.DONE:
            metrics.emit("DocumentsReady", 1)
        send_next(pipeline, message.model_copy(update={"part": None}), step)
    return "completed"


def _complete_part(
    pipeline: Context, claim: Claim, delivery: Delivery, writer: Writer, parts: Parts
) -> tuple[dict[str, Any], bool]:
    """One transaction, the job's row locked first: the part done under fencing with its writes and event, and,
    when it is the last, the join and the job's advance. Returns the part's details and whether it joined."""
    message, step = claim.message, claim.step
    assert step.parts_stage is not None
    ids = _part_ids(message, step)
    with pipeline.db.transaction(message.user_id) as conn:
        job = one(conn, "lock_job", ids)
        # A deletion or a failure of the job since the claim (its row locked first, as they lock it): this
        # part's work must not land, not even in S3.
        if job is None or job["stage"] != step.parts_stage or job["state"] in FINISHED_STATES:
            raise LeaseLost("the job was finished, failed or deleted while the part ran")
        if one(conn, "complete_part", {**ids, "lease_owner": claim.lease_owner}) is None:
            raise LeaseLost("lease on the part lost before completion")
        details = writer(conn)
        run(conn, "set_part_result", {**ids, "result": Jsonb(details)})
        append_event(
            conn,
            "part_completed",
            **_event_ids(message, step.parts_stage, pipeline, delivery.invocation_id),
            details={"part": message.part, **details},
        )
        remaining = one(conn, "parts_remaining", ids)
        if remaining is None or remaining["remaining"] > 0:
            return details, False
        joined = one(
            conn,
            "complete_parts",
            {
                "job_id": message.job_id,
                "parts_stage": step.parts_stage,
                "completed_stage": step.completed_stage,
                "state": JobState.DONE if step.completed_stage == Stage.DONE else JobState.QUEUED,
            },
        )
        if joined is None:
            return details, False
        # A job dead-lettered by one part and replayed: its document was failed meanwhile.
        run(conn, "reopen_document", {"document_id": message.document_id})
        joined_details = parts.join(conn, claim)
        append_event(
            conn,
            "stage_completed",
            **_event_ids(message, step.completed_stage, pipeline, delivery.invocation_id),
            details={**joined_details, "parts": remaining["parts"]},
        )
    return details, True


def _continue_part(pipeline: Context, claim: Claim, delivery: Delivery) -> Outcome:
    """The part's work stopped short of the invocation's time limit with what it did committed: free the
    part and send its message again, so a fresh invocation (with a fresh receive count) carries on."""
    message, step = claim.message, claim.step
    with pipeline.db.transaction(message.user_id) as conn:
        released = one(conn, "release_part", {**_part_ids(message, step), "lease_owner": claim.lease_owner})
        if released is None:
            raise LeaseLost("lease on the part lost before its continuation")
        append_event(
            conn,
            "part_continued",
            **_event_ids(message, str(step.parts_stage), pipeline, delivery.invocation_id),
            details={"part": message.part},
        )
    send_stage_message(pipeline.sqs, pipeline.queue_url(step.name), message)
    logger.info("part continues in a fresh message", extra={"part": message.part})
    return "continued"


def _unclaimed_part(pipeline: Context, step: Step, message: StageMessage, current: Row | None) -> Outcome:
    """The part could not be claimed: done already (a duplicate), its job gone or finished, or held."""
    assert step.parts_stage is not None
    if current is None or current["state"] in FINISHED_STATES or current["part_state"] is None:
        # The job was deleted, finished, or re-planned its parts: this message can move nothing.
        logger.info("part message ignored")
        return "ignored"
    if (
        current["stage"] == step.completed_stage
        and current["next_message_sent_at"] is None
        and step.next_step is not None
    ):
        # The last part joined the others, then its invocation died before sending the next stage's message.
        if datetime.now(UTC) - current["updated_at"] < pipeline.resend_grace:
            raise LeaseHeld("the joining invocation may still be sending the next message")
        logger.info("resending lost next-stage message")
        send_next(pipeline, message.model_copy(update={"part": None}), step)
    if current["part_state"] == JobState.DONE or stage_index(current["stage"]) > stage_index(step.parts_stage):
        logger.info("duplicate part delivery acknowledged")
        return "duplicate"
    if current["stage"] != step.parts_stage:
        raise LeaseHeld(f"job is at {current['stage']}, not in its parts")
    raise LeaseHeld("another invocation holds the part's lease")


def dead_letter_invalid(pipeline: Context, step: str, delivery: Delivery, exc: InvalidMessage) -> bool:
    """Sends a body no stage can read to the queue's DLQ with the reason as message attributes, records a
    system event (ids and the code only), and returns True so the original is acknowledged. False when
    there is no DLQ configured or the send failed: the message is then redelivered until SQS moves it."""
    dlq = pipeline.dlq_url(step)
    if not dlq:
        return False
    try:
        pipeline.sqs.send_message(
            QueueUrl=dlq,
            MessageBody=delivery.body,
            MessageAttributes={
                "error_code": {"DataType": "String", "StringValue": exc.code},
                "error_reason": {"DataType": "String", "StringValue": str(exc)[:256]},
                "source_queue": {"DataType": "String", "StringValue": step},
                "source_message_id": {"DataType": "String", "StringValue": delivery.message_id},
            },
        )
    except Exception:
        logger.exception("could not dead-letter an invalid message", extra={"error_code": exc.code})
        return False
    with pipeline.db.transaction() as conn:
        append_event(
            conn,
            "message_dead_lettered",
            user_id=None,
            stage=step,
            function_name=pipeline.function_name,
            invocation_id=delivery.invocation_id,
            details={"error_code": exc.code, "message_id": delivery.message_id},
        )
    metrics.emit("DLQSends", 1, dimensions={"stage": step})
    logger.error("invalid message sent to the DLQ", extra={"error_code": exc.code, "message_id": delivery.message_id})
    return True


def _unclaimed(pipeline: Context, step: Step, message: StageMessage, job: Row | None) -> Outcome:
    """The job could not be claimed: decide between a duplicate, a lost send, or work still under way."""
    if job is None:
        # Deleted, or not this user's: nothing to do, and nothing to retry.
        logger.warning("job not found for message")
        return "ignored"
    if job["state"] in (JobState.FAILED, JobState.EXPIRED):
        return "ignored"
    position, completed = stage_index(job["stage"]), stage_index(step.completed_stage)
    if position < stage_index(step.ready_stage):
        raise LeaseHeld(f"job is at {job['stage']}, not yet ready for {step.name}")
    if position == stage_index(step.working_stage):
        raise LeaseHeld("another invocation holds the job's lease")
    if step.parts_stage is not None and job["stage"] == step.parts_stage:
        # The stage fanned out; this is a duplicate of the message that did it. Its parts' messages may
        # have been lost with the invocation that was to send them: send them again.
        if job["next_message_sent_at"] is None:
            if datetime.now(UTC) - job["updated_at"] < pipeline.resend_grace:
                raise LeaseHeld("the fanning-out invocation may still be sending the parts")
            logger.info("resending lost part messages")
            with pipeline.db.transaction(message.user_id) as conn:
                unsent = [row["part"] for row in conn.execute(queries()["unsent_parts"], _part_ids(message, step))]
            send_parts(pipeline, message, step, unsent)
        logger.info("duplicate delivery acknowledged", extra={"job_stage": job["stage"]})
        return "duplicate"
    if position == completed and job["next_message_sent_at"] is None and step.next_step is not None:
        if datetime.now(UTC) - job["updated_at"] < pipeline.resend_grace:
            raise LeaseHeld("the completing invocation may still be sending the next message")
        # The invocation that completed this stage died before its send: send it now.
        logger.info("resending lost next-stage message")
        send_next(pipeline, message, step)
    logger.info("duplicate delivery acknowledged", extra={"job_stage": job["stage"]})
    return "duplicate"


def _record_failure(
    pipeline: Context,
    message: StageMessage,
    step: Step,
    delivery: Delivery,
    lease_owner: str,
    exc: DocintakeError | Exception,
    *,
    state: Literal[JobState.FAILED, JobState.RETRYING, JobState.DEAD_LETTERED],
    next_retry_at: datetime | None = None,
) -> None:
    code = exc.code if isinstance(exc, DocintakeError) else ErrorCode.INTERNAL_ERROR
    # The message of our own errors is written to carry no document text; other exceptions only by type.
    text = str(exc) if isinstance(exc, DocintakeError) else type(exc).__name__
    stage = step.working_stage if message.part is None else str(step.parts_stage)
    params: dict[str, Any] = {
        "job_id": message.job_id,
        "stage": stage,
        "state": state,
        "code": code,
        "message": text[:500],
        "lease_owner": lease_owner,
        "next_retry_at": next_retry_at,
    }
    if message.part is not None:
        # A part's failure is its job's: the part's lease is freed, the job takes the state.
        params.update(_part_ids(message, step))
    with pipeline.db.transaction(message.user_id) as conn:
        if message.part is not None:
            one(conn, "lock_job", params)  # the job's row before the part's, as every other path takes them
        updated = one(conn, "record_failure" if message.part is None else "record_part_failure", params)
        if updated is None:
            return
        if state in (JobState.FAILED, JobState.DEAD_LETTERED):
            metrics.emit("DocumentsFailed", 1, dimensions={"error_code": code})
        if state == JobState.DEAD_LETTERED:
            metrics.emit("DLQSends", 1, dimensions={"stage": step.name})
        elif state == JobState.RETRYING:
            metrics.emit("Retries", 1, dimensions={"stage": step.name})
        if state in (JobState.FAILED, JobState.DEAD_LETTERED):
            run(conn, "set_document_status", {"document_id": message.document_id, "status": DocumentStatus.FAILED})
        append_event(
            conn,
            {
                JobState.FAILED: "stage_failed",
                JobState.RETRYING: "stage_retry",
                JobState.DEAD_LETTERED: "dead_lettered",
            }[state],
            **_event_ids(
                message,
                stage,
                pipeline,
                delivery.invocation_id,
            ),
            details={"error_code": code, "receive_count": delivery.receive_count}
            | ({} if message.part is None else {"part": message.part}),
        )


def _retry_or_dead_letter(
    pipeline: Context,
    message: StageMessage,
    step: Step,
    delivery: Delivery,
    lease_owner: str,
    exc: Exception,
) -> None:
    code = exc.code if isinstance(exc, DocintakeError) else ErrorCode.INTERNAL_ERROR
    if delivery.receive_count >= pipeline.settings.max_receive_count:
        # SQS moves the message to the DLQ on its next receive; say so on the job first.
        _record_failure(pipeline, message, step, delivery, lease_owner, exc, state=JobState.DEAD_LETTERED)
        logger.error("stage dead-lettered", extra={"error_code": code})
        return
    delay = backoff_seconds(delivery.receive_count, pipeline.settings.backoff_base_seconds)
    retry_at = datetime.now(UTC) + timedelta(seconds=delay)
    _record_failure(
        pipeline, message, step, delivery, lease_owner, exc, state=JobState.RETRYING, next_retry_at=retry_at
    )
    logger.warning("stage will retry", extra={"error_code": code, "delay_seconds": delay})


def _event_ids(message: StageMessage, stage: str, pipeline: Context, invocation_id: str) -> dict[str, Any]:
    return {
        "user_id": message.user_id,
        "document_id": message.document_id,
        "job_id": message.job_id,
        "stage": stage,
        "correlation_id": message.correlation_id,
        "function_name": pipeline.function_name,
        "invocation_id": invocation_id,
    }


def job_user(job: Row) -> UUID:
    return UUID(str(job["user_id"]))
