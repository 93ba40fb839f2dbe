"""What a front end does, against the local stack: ask UploadFunction for a ticket, PUT the file to the
presigned URL over HTTP, then watch the document's status."""

from __future__ import annotations

import hashlib
import json
import mimetypes
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import httpx
import psycopg
from psycopg.rows import dict_row

from docintake.api.uploads import DuplicateUpload, UploadTicket
from docintake.config import ContentType
from docintake.db import queries
from docintake_local.stack import LocalStack

TERMINAL_STATES = {"done", "failed", "dead_lettered"}


def api_event(
    method: str,
    path: str,
    user_id: UUID,
    body: dict[str, Any] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event as the JWT authorizer passes it on."""
    now = int(time.time())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {"content-type": "application/json", "host": "localhost"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "authorizer": {"jwt": {"claims": {"sub": str(user_id), "iss": "local", "iat": now}, "scopes": None}},
            "domainName": "localhost",
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "docintake-cli",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": now * 1000,
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    return event


# The upload types by file extension; the system's MIME table may lack some (.docx, .md) or differ (.tif).
_TYPES_BY_SUFFIX = {
    ".pdf": ContentType.PDF,
    ".txt": ContentType.TEXT,
    ".md": ContentType.MARKDOWN,
    ".markdown": ContentType.MARKDOWN,
    ".png": ContentType.PNG,
    ".jpg": ContentType.JPEG,
    ".jpeg": ContentType.JPEG,
    ".tif": ContentType.TIFF,
    ".tiff": ContentType.TIFF,
    ".docx": ContentType.DOCX,
    ".html": ContentType.HTML,
    ".htm": ContentType.HTML,
}


def content_type_for(path: Path) -> str:
    known = _TYPES_BY_SUFFIX.get(path.suffix.lower())
    if known is not None:
        return known.value
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class UploadRefused(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body.get('error')}: {body.get('message')}")
        self.status, self.body = status, body


class AlreadyUploaded(Exception):
    """The user already has this file: the upload request answered with that document and nothing was sent."""

    def __init__(self, duplicate: DuplicateUpload) -> None:
        super().__init__(f"duplicate of {duplicate.duplicate_of} ({duplicate.status})")
        self.duplicate = duplicate


def upload_bytes(
    stack: LocalStack,
    user_id: UUID,
    filename: str,
    data: bytes,
    content_type: str,
    *,
    replace: bool = False,
    supersedes: UUID | None = None,
    http: httpx.Client | None = None,
) -> UploadTicket:
    """Asks for a ticket and PUTs the bytes to its URL. A file the user already has raises AlreadyUploaded
    (unless ``replace``); ``supersedes`` makes the upload a new version of that document."""
    request: dict[str, Any] = {
        "filename": filename,
        "content_type": content_type,
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    if replace:
        request["replace"] = True
    if supersedes is not None:
        request["supersedes"] = str(supersedes)
    response = stack.invoke("UploadFunction", api_event("POST", "/documents", user_id, request))
    body = json.loads(response["body"])
    if response["statusCode"] == 200:
        raise AlreadyUploaded(DuplicateUpload.model_validate(body))
    if response["statusCode"] != 201:
        raise UploadRefused(response["statusCode"], body)
    ticket = UploadTicket.model_validate(body)
    client = http or httpx.Client(timeout=60)
    try:
        put = client.put(ticket.url, content=data, headers=ticket.headers)
        put.raise_for_status()
    finally:
        if http is None:
            client.close()
    return ticket


def document_status(stack: LocalStack, user_id: UUID, document_id: UUID) -> dict[str, Any] | None:
    """The document as its owner sees it, read through RLS as the API role."""
    with (
        psycopg.connect(stack.database.role_url("api"), autocommit=True, row_factory=dict_row) as conn,
        conn.transaction(),
    ):
        conn.execute("SELECT set_config('app.user_id', %s, true)", [str(user_id)])
        return conn.execute(queries()["document_status"], {"document_id": document_id}).fetchone()


def wait_for(
    stack: LocalStack, user_id: UUID, document_ids: list[UUID], *, timeout: float = 300.0
) -> dict[UUID, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    statuses: dict[UUID, dict[str, Any]] = {}
    while True:
        for document_id in document_ids:
            status = document_status(stack, user_id, document_id)
            if status is not None:
                statuses[document_id] = status
        if all(statuses.get(d, {}).get("state") in TERMINAL_STATES for d in document_ids):
            return statuses
        if time.monotonic() > deadline:
            return statuses
        time.sleep(0.3)


def search_as(stack: LocalStack, user_id: UUID, query: str, *, k: int = 5) -> dict[str, Any]:
    """POST /search through SearchFunction, as the user the JWT names."""
    response = stack.invoke("SearchFunction", api_event("POST", "/search", user_id, {"query": query, "k": k}))
    body: dict[str, Any] = json.loads(response["body"])
    if response["statusCode"] != 200:
        raise UploadRefused(response["statusCode"], body)
    return body


def call_api(
    stack: LocalStack,
    function: str,
    method: str,
    path: str,
    user_id: UUID,
    body: dict[str, Any] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One HTTP API route through its function, as the user the JWT names; a refusal raises with its body."""
    response = stack.invoke(function, api_event(method, path, user_id, body, query))
    answer: dict[str, Any] = json.loads(response["body"]) if response.get("body") else {}
    if response["statusCode"] >= 300:
        raise UploadRefused(response["statusCode"], answer)
    return answer


def delete_as(stack: LocalStack, user_id: UUID, document_id: UUID | str) -> dict[str, Any]:
    """DELETE /documents/{id} through DocumentsFunction."""
    return call_api(stack, "DocumentsFunction", "DELETE", f"/documents/{document_id}", user_id)


def list_as(stack: LocalStack, user_id: UUID, *, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
    """GET /documents: one page of the user's documents, newest first."""
    query = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
    return call_api(stack, "DocumentsFunction", "GET", "/documents", user_id, query=query)


def show_as(stack: LocalStack, user_id: UUID, document_id: UUID | str) -> dict[str, Any]:
    """GET /documents/{id}: status, progress, counts, and for a failure its explanation."""
    return call_api(stack, "DocumentsFunction", "GET", f"/documents/{document_id}", user_id)


def fields_as(stack: LocalStack, user_id: UUID, document_id: UUID | str) -> dict[str, Any]:
    """GET /documents/{id}/fields: the document's type and policy fields, each with its evidence."""
    return call_api(stack, "DocumentsFunction", "GET", f"/documents/{document_id}/fields", user_id)


def retry_as(stack: LocalStack, user_id: UUID, document_id: UUID | str) -> dict[str, Any]:
    """POST /documents/{id}/retry."""
    return call_api(stack, "DocumentsFunction", "POST", f"/documents/{document_id}/retry", user_id)
