"""What the operators' tools share: the stage vocabulary they map jobs with, the S3 event they re-validate with,
and the read-only job listings (``docintake_ops``). Their context is ``context.Context``, as every function's.

The deployed sweeper is ``sweeper.py``; reading and replaying the dead-letter queues is ``dead_letters.py``.
Both run as ``docintake_sweeper``: it sees every user's jobs and may move them on, but reads no chunk,
filename or vector.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus
from uuid import UUID

from aws_lambda_powertools import Logger

from docintake.db import Database, Row, one, run
from docintake.vocabulary import FINISHED_STATES, Queue, Stage, StepName

logger = Logger(service="docintake", child=True)

QUEUE_NAMES = tuple(Queue)
# The stage message that moves a job on from where it stands (waiting for, or inside, that stage).
STEP_FOR_STAGE: dict[str, StepName] = {
    Stage.UPLOAD_VALIDATED: StepName.PARSE,
    Stage.PARSING: StepName.PARSE,
    Stage.PARSING_PARTS: StepName.PARSE,
    Stage.PARSED: StepName.CHUNK,
    Stage.CHUNKING: StepName.CHUNK,
    Stage.CHUNKED: StepName.EMBED,
    Stage.EMBEDDING: StepName.EMBED,
    Stage.EMBEDDING_PARTS: StepName.EMBED,
}
# Where a job waits while the parts of a large document's stage run (see jobs.py): each part has a message.
PARTS_STAGES = frozenset({Stage.PARSING_PARTS, Stage.EMBEDDING_PARTS})
__all__ = ["FINISHED_STATES", "PARTS_STAGES", "QUEUE_NAMES", "STEP_FOR_STAGE"]


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


# --- jobs ----------------------------------------------------------------------------------------------


def list_jobs(db: Database, *, state: str | None = None, user_id: UUID | None = None, limit: int = 100) -> list[Row]:
    with db.transaction() as conn:
        return run(conn, "ops_list_jobs", {"state": state, "user_id": user_id, "limit": limit})


def job_timeline(db: Database, job_id: UUID) -> tuple[Row | None, list[Row]]:
    with db.transaction() as conn:
        job = one(conn, "ops_job", {"job_id": job_id})
        events = run(conn, "ops_job_events", {"job_id": job_id}) if job else []
    return job, events
