"""The test kit: the sample user and policy the integration tests share, the sample events (events/*.json) with
their ids overridden, the ways into a local stack (ingest an upload, a parse delivery, a queue's depth), and the
assertion queries tests read the database with, so the same SQL is written once."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from docintake.jobs import Delivery
from docintake_local.client import api_event, upload_bytes
from docintake_local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
USER = uuid.UUID("11111111-1111-4111-8111-111111111111")
POLICY = (
    "# HOMEOWNERS POLICY\n\n## DECLARATIONS\n\n| Coverage | Limit |\n| --- | --- |\n| A. Dwelling | $350,000 |\n\n"
    "## SECTION I – PROPERTY COVERAGES\n\n"
    + " ".join(f"Clause {i}: we cover the dwelling on the residence premises." for i in range(80))
    + "\n\n## EXCLUSIONS\n\nWe do not insure for loss caused by earth movement.\n"
).encode()
# The default model's vector table (migration 0012 names it from the model and its dimensions).
DEFAULT_VECTORS = "chunk_vectors_docintake_hash_v1_99c76909_384"
# The order rows come back in, per table, so a list of rows compares the same way every run.
_ORDER = {
    "upload_jobs": ("created_at", "id"),
    "documents": ("created_at", "id"),
    "document_chunks": ("document_id", "ordinal"),
    "events": ("id",),
    "document_fields": ("document_id",),
}


# --- events/*.json -------------------------------------------------------------------------------------------


@functools.cache
def _event_file(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def event(name: str) -> dict[str, Any]:
    """A fresh copy of ``events/{name}.json``, the event ``sam local invoke`` is given: a test changes its copy."""
    return copy.deepcopy(_event_file(name))


def s3_event(bucket: str, key: str) -> dict[str, Any]:
    """events/validate.json for one object of the stack's bucket (moto keeps no version id of ours)."""
    s3 = event("validate")
    record = s3["Records"][0]["s3"]
    record["bucket"]["name"] = bucket
    record["object"]["key"] = key
    record["object"].pop("versionId", None)
    return s3


def stage_body(
    stage: str, *, job_id: uuid.UUID, document_id: uuid.UUID, correlation_id: str, user_id: uuid.UUID = USER
) -> str:
    """The SQS body of ``events/{stage}.json`` with the ids of a real job: what the previous stage sends."""
    body = json.loads(event(stage)["Records"][0]["body"])
    assert body["stage"] == stage, f"events/{stage}.json carries a {body['stage']} message"
    body.update(job_id=str(job_id), document_id=str(document_id), user_id=str(user_id), correlation_id=correlation_id)
    return json.dumps(body)


def stage_body_of(stack: LocalStack, document_id: uuid.UUID, stage: str) -> str:
    """The stage message of the document's job, as the previous stage would send it."""
    job = job_row(stack, "id", "correlation_id", document_id=document_id)
    return stage_body(stage, job_id=job["id"], document_id=document_id, correlation_id=job["correlation_id"])


# --- assertion queries ---------------------------------------------------------------------------------------


def admin(stack: LocalStack, query: str, params: Any = None) -> list[dict[str, Any]]:
    """Any statement as the database owner (no row-level security), its rows as dicts; for SQL the kit lacks."""
    with psycopg.connect(stack.database.admin_url, autocommit=True, row_factory=dict_row) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def _where(conditions: dict[str, Any]) -> tuple[sql.Composable, list[Any]]:
    if not conditions:
        return sql.SQL(""), []
    parts = [
        sql.SQL("{} IS NULL").format(sql.Identifier(column))
        if value is None
        else sql.SQL("{} = %s").format(sql.Identifier(column))
        for column, value in conditions.items()
    ]
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts), [v for v in conditions.values() if v is not None]


def rows(stack: LocalStack, table: str, *columns: str, **where: Any) -> list[dict[str, Any]]:
    """``SELECT columns FROM table WHERE column = value AND …`` (None: IS NULL), in the table's natural order."""
    selected = sql.SQL(", ").join(map(sql.Identifier, columns)) if columns else sql.SQL("*")
    condition, params = _where(where)
    order = sql.SQL(", ").join(map(sql.Identifier, _ORDER.get(table, ("id",))))
    query = sql.SQL("SELECT {} FROM {}{} ORDER BY {}").format(selected, sql.Identifier(table), condition, order)
    with psycopg.connect(stack.database.admin_url, autocommit=True, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


def one(stack: LocalStack, table: str, *columns: str, **where: Any) -> dict[str, Any]:
    """The one row that matches; a test that expects one row fails when there are none or several."""
    found = rows(stack, table, *columns, **where)
    assert len(found) == 1, f"{len(found)} rows of {table} where {where}"
    return found[0]


def jobs(stack: LocalStack, *columns: str, **where: Any) -> list[dict[str, Any]]:
    """upload_jobs rows, oldest first."""
    return rows(stack, "upload_jobs", *columns, **where)


def job_row(stack: LocalStack, *columns: str, **where: Any) -> dict[str, Any]:
    """The one upload_jobs row that matches (by default: the only job)."""
    return one(stack, "upload_jobs", *columns, **where)


def documents(stack: LocalStack, *columns: str, **where: Any) -> list[dict[str, Any]]:
    """documents rows, oldest first."""
    return rows(stack, "documents", *columns, **where)


def document_row(stack: LocalStack, *columns: str, **where: Any) -> dict[str, Any]:
    """The one documents row that matches (by default: the only document)."""
    return one(stack, "documents", *columns, **where)


def document_status(stack: LocalStack, document_id: uuid.UUID) -> str:
    """The document's status column, read as the owner (no user context)."""
    return str(document_row(stack, "status", id=document_id)["status"])


def chunks(stack: LocalStack, *columns: str, **where: Any) -> list[dict[str, Any]]:
    """document_chunks rows, by document and ordinal."""
    return rows(stack, "document_chunks", *columns, **where)


def events_of(stack: LocalStack, *columns: str, **where: Any) -> list[dict[str, Any]]:
    """events rows in the order they were written (e.g. ``events_of(stack, "stage", event_type="swept")``)."""
    return rows(stack, "events", *columns, **where)


def count(stack: LocalStack, table: str, **where: Any) -> int:
    """How many rows of the table match."""
    condition, params = _where(where)
    query = sql.SQL("SELECT count(*) AS n FROM {}{}").format(sql.Identifier(table), condition)
    with psycopg.connect(stack.database.admin_url, autocommit=True, row_factory=dict_row) as conn:
        found = conn.execute(query, params).fetchone()
    assert found is not None
    return int(found["n"])


def chunk_count(stack: LocalStack, document_id: uuid.UUID) -> int:
    return count(stack, "document_chunks", document_id=document_id)


def update(stack: LocalStack, table: str, values: dict[str, Any], **where: Any) -> int:
    """``UPDATE table SET values WHERE …``: puts a row in the state a test starts from; returns the rows changed."""
    assignments = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(column)) for column in values)
    condition, params = _where(where)
    query = sql.SQL("UPDATE {} SET {}{}").format(sql.Identifier(table), assignments, condition)
    with psycopg.connect(stack.database.admin_url, autocommit=True) as conn:
        return conn.execute(query, [*values.values(), *params]).rowcount


# --- the stack -----------------------------------------------------------------------------------------------


def queue_depth(stack: LocalStack, logical: str) -> int:
    """Messages in the queue, visible or in flight."""
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_urls[logical],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def ingest(stack: LocalStack, data: bytes = POLICY, name: str = "policy.md", ctype: str = "text/markdown") -> uuid.UUID:
    """Uploads through the presigned URL and runs the pipeline until idle; the new document's id."""
    ticket = upload_bytes(stack, USER, name, data, ctype, replace=True)  # a new copy even of the same file
    stack.run_until_idle()
    return ticket.document_id


def upload_bytes_declared_only(stack: LocalStack, data: bytes, content_type: str) -> dict[str, Any]:
    """An upload ticket for ``data`` (its size and hash declared), with nothing written to S3 yet."""
    request = {
        "filename": "declared.bin",
        "content_type": content_type,
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "replace": True,  # a new document even when an earlier one declared the same hash
    }
    response = stack.invoke("UploadFunction", api_event("POST", "/documents", USER, request))
    assert response["statusCode"] == 201
    return dict(json.loads(response["body"]))


def parse_delivery(stack: LocalStack, receive_count: int) -> tuple[Any, Delivery]:
    """A parse message for a validated upload, received as it would be on its ``receive_count``-th delivery."""
    upload_bytes(stack, USER, "policy.md", POLICY, "text/markdown")
    stack.invoke("ValidateFunction", s3_event(stack.bucket, document_row(stack, "s3_key")["s3_key"]))
    sqs = stack.client("sqs")
    messages: list[Any] = []
    while not messages:
        messages = sqs.receive_message(QueueUrl=stack.queue_urls["ParseQueue"]).get("Messages", [])
    message = messages[0]
    pipeline = stack.load_function("ParseFunction").pipeline
    return pipeline, Delivery(
        message["Body"], message["MessageId"], message["ReceiptHandle"], receive_count, "inv-1", 60_000
    )
