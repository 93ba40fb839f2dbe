"""The sweeper (SweeperFunction, on a schedule): rescues jobs whose heartbeat went stale, expires uploads never
made and revalidates uploads whose S3 event was lost. Runs as ``docintake_sweeper``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aws_lambda_powertools import Logger

from docintake import metrics
from docintake.context import Context
from docintake.db import Row, one, queries, run
from docintake.events import append_event
from docintake.logs import describe_exception
from docintake.messages import StageMessage
from docintake.operations import PARTS_STAGES, STEP_FOR_STAGE, s3_created_event
from docintake.queues import send_stage_message
from docintake.storage import UPLOAD_PREFIX, first_key_under
from docintake.vocabulary import ErrorCode, JobState, Queue, Stage

logger = Logger(service="docintake", child=True)


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
    ops: Context,
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
                if job["stage"] == Stage.AWAITING_UPLOAD:
                    _sweep_upload(ops, conn, job, invocation_id, result)
                elif job["attempts"] >= 2 * settings.max_receive_count:
                    _give_up(ops, conn, job, invocation_id, JobState.DEAD_LETTERED, ErrorCode.STAGE_CRASHED)
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


def _rescue(ops: Context, conn: Any, job: Row, invocation_id: str, *, leases_expired: bool) -> None:
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


def _give_up(ops: Context, conn: Any, job: Row, invocation_id: str, state: JobState, code: ErrorCode) -> None:
    message = {
        ErrorCode.STAGE_CRASHED: "the stage stopped without a word on every attempt",
        ErrorCode.UPLOAD_UNVALIDATED: "the upload arrived but could not be validated",
    }[code]
    run(conn, "give_up_job", {"job_id": job["id"], "state": state, "code": code, "message": message})
    run(conn, "fail_document", {"document_id": job["document_id"]})
    append_event(conn, "sweeper_gave_up", **_ids(job, ops, invocation_id), details={"error_code": code})
    metrics.emit("DocumentsFailed", 1, dimensions={"error_code": code})
    if state == JobState.DEAD_LETTERED:
        metrics.emit("DLQSends", 1, dimensions={"stage": STEP_FOR_STAGE.get(job["stage"], Queue.VALIDATE)})


def _sweep_upload(ops: Context, conn: Any, job: Row, invocation_id: str, result: SweepResult) -> None:
    bucket = ops.settings.bucket_name
    key = first_key_under(ops.s3, bucket, f"{UPLOAD_PREFIX}{job['user_id']}/{job['document_id']}/")
    if key is not None:
        # The file arrived but validation never decided (a lost or dead-lettered S3 event): validate again,
        # up to three times; after that the upload is failed rather than revalidated forever.
        if job["attempts"] >= 3:
            _give_up(ops, conn, job, invocation_id, JobState.FAILED, ErrorCode.UPLOAD_UNVALIDATED)
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
    append_event(
        conn, "upload_expired", **_ids(job, ops, invocation_id), details={"error_code": ErrorCode.UPLOAD_EXPIRED}
    )
    result.expired.append(job["id"])


def _ids(job: Row, ops: Context, invocation_id: str) -> dict[str, Any]:
    return {
        "user_id": job["user_id"],
        "document_id": job["document_id"],
        "job_id": job.get("id") or job.get("job_id"),
        "stage": job["stage"],
        "correlation_id": job["correlation_id"],
        "function_name": ops.function_name,
        "invocation_id": invocation_id,
    }
