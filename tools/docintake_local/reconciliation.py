"""What ``docintake local up`` does at start, before any poller runs: square the database with S3 and the
queues it finds (restored from the state folder, or empty after a loss).

- Every job still in flight (queued, in progress or retrying, past the upload) belonged to the previous run:
  its lease is counted as lapsed and its stage's message is sent again, by the sweeper's own rescue
  (``sweeper.sweep``). A message that survived makes the new one a duplicate, which the stage machine
  acknowledges; a lost one is replaced, so the document finishes with no one's help.
- Uploads whose S3 event was lost are left to the sweeper's schedule: their presigned URL may still be live.
- A ready document whose upload or parsed Markdown is gone from S3 is reported (logged and returned),
  never silently kept or changed: its chunks still answer searches, but it cannot be parsed again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from docintake.db import run
from docintake.storage import DERIVED_PREFIX, UPLOAD_PREFIX, markdown_key, parse_upload_key
from docintake.sweeper import SweepResult, sweep
from docintake_local.persistence import Restored

if TYPE_CHECKING:
    from docintake_local.stack import LocalStack

log = logging.getLogger("docintake.local")


@dataclass
class Reconciliation:
    restored: Restored
    swept: SweepResult
    ready_without_files: list[UUID] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.restored.summary()}; resent={len(self.swept.rescued)} revalidated={len(self.swept.revalidated)}"
            f" expired={len(self.swept.expired)} given_up={len(self.swept.given_up)}"
            f" ready_without_files={len(self.ready_without_files)}"
        )


def reconcile(stack: LocalStack, restored: Restored) -> Reconciliation:
    ops = stack.operations("sweeper")
    try:
        swept = sweep(ops, invocation_id=f"local-start-{uuid.uuid4()}", stale_seconds=0, leases_expired=True)
        with ops.db.transaction() as conn:
            ready = run(conn, "ops_ready_documents", {})
    finally:
        ops.db.close()
    present = _keys(stack.client("s3"), stack.bucket)
    uploaded = {found.document_id for found in map(parse_upload_key, present) if found is not None}
    missing = [
        row["document_id"]
        for row in ready
        if row["document_id"] not in uploaded or markdown_key(row["user_id"], row["document_id"]) not in present
    ]
    result = Reconciliation(restored, swept, missing)
    for document_id in missing:
        log.warning("ready document %s has lost its files in S3 (upload or parsed Markdown)", document_id)
    log.info("local stack reconciled: %s", result.summary())
    return result


def _keys(s3: Any, bucket: str) -> set[str]:
    """The current (not deleted) keys of uploads and derived files."""
    keys: set[str] = set()
    for prefix in (UPLOAD_PREFIX, DERIVED_PREFIX):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.update(item["Key"] for item in page.get("Contents", []))
    return keys
