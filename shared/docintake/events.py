"""The append-only audit log. Details carry ids, counts and codes: never document text."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from docintake.db import Row, run


def append_event(
    conn: psycopg.Connection[Row],
    event_type: str,
    *,
    user_id: UUID | None,
    document_id: UUID | None = None,
    job_id: UUID | None = None,
    stage: str | None = None,
    correlation_id: str | None = None,
    function_name: str | None = None,
    invocation_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    run(
        conn,
        "insert_event",
        {
            "event_type": event_type,
            "job_id": job_id,
            "document_id": document_id,
            "user_id": user_id,
            "stage": stage,
            "correlation_id": correlation_id,
            "function_name": function_name,
            "invocation_id": invocation_id,
            "details": Jsonb(details or {}),
        },
    )
