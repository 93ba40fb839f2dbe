"""POST /documents through UploadFunction: a ticket whose URL binds type, length and checksum, or a 400
that says what is wrong."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import psycopg
import pytest
from botocore.exceptions import NoCredentialsError

from docintake_local.client import api_event
from docintake_local.stack import LocalStack

pytestmark = pytest.mark.integration
USER = uuid.UUID("22222222-2222-4222-8222-222222222222")
PDF = b"%PDF-1.7\n% a tiny declarations page\n"


def _post(stack: LocalStack, body: Any, user: uuid.UUID = USER) -> tuple[int, dict[str, Any]]:
    event = api_event("POST", "/documents", user)
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    response = stack.invoke("UploadFunction", event)
    return response["statusCode"], json.loads(response["body"])


def _request(**overrides: Any) -> dict[str, Any]:
    return {
        "filename": "../Declarations Page.pdf",
        "content_type": "application/pdf",
        "size_bytes": len(PDF),
        "sha256": hashlib.sha256(PDF).hexdigest(),
    } | overrides


def test_a_ticket_binds_type_length_and_checksum_and_expires_within_15_minutes(stack: LocalStack) -> None:
    status, ticket = _post(stack, _request())
    assert status == 201
    # THEN the key is the server's: the user, the document, the sanitized name
    assert ticket["key"] == f"uploads/{USER}/{ticket['document_id']}/Declarations-Page.pdf"
    query = parse_qs(urlparse(ticket["url"]).query)
    assert int(query["X-Amz-Expires"][0]) <= 900
    assert set(query["X-Amz-SignedHeaders"][0].split(";")) >= {
        "content-length",
        "content-type",
        "x-amz-checksum-sha256",
    }
    assert ticket["headers"] == {
        "Content-Type": "application/pdf",
        "Content-Length": str(len(PDF)),
        "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(PDF).digest()).decode(),
    }
    # AND the rows exist, owned by the caller, waiting for the upload
    with psycopg.connect(stack.database.admin_url) as conn:
        row = conn.execute(
            "SELECT d.user_id, d.filename, d.status, j.stage, j.state FROM documents d JOIN upload_jobs j"
            " ON j.document_id = d.id WHERE d.id = %s",
            [ticket["document_id"]],
        ).fetchone()
    assert row == (USER, "Declarations-Page.pdf", "pending_upload", "awaiting_upload", "queued")
    # AND the URL accepts exactly that PUT over HTTP
    put = httpx.put(ticket["url"], content=PDF, headers=ticket["headers"])
    assert put.status_code == 200
    stored = stack.client("s3").get_object(Bucket=stack.bucket, Key=ticket["key"])["Body"].read()
    assert stored == PDF


@pytest.mark.parametrize(
    ("body", "code", "mentions"),
    [
        ("not json", "invalid_request", "body"),
        ({"content_type": "application/pdf", "size_bytes": 1, "sha256": "0" * 64}, "invalid_request", "filename"),
        (_request(content_type="application/x-msdownload"), "invalid_request", "type not allowed"),
        (_request(size_bytes=0), "invalid_request", "size_bytes"),
        (_request(sha256="abc"), "invalid_request", "sha256"),
        (_request(size_bytes=50 * 1024 * 1024 + 1), "file_too_large", "over the limit"),
        (_request(extra="field"), "invalid_request", "extra"),
    ],
)
def test_bad_requests_get_a_400_with_a_code_and_create_nothing(
    stack: LocalStack, body: Any, code: str, mentions: str
) -> None:
    status, error = _post(stack, body)
    assert (status, error["error"]) == (400, code)
    assert mentions in error["message"]
    with psycopg.connect(stack.database.admin_url) as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (0,)


def test_a_token_without_a_subject_is_refused(stack: LocalStack) -> None:
    event = api_event("POST", "/documents", USER)
    event["requestContext"]["authorizer"]["jwt"]["claims"].pop("sub")
    event["body"] = json.dumps(_request())
    response = stack.invoke("UploadFunction", event)
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "unauthenticated"


def test_a_database_outage_is_a_retryable_503(stack: LocalStack) -> None:
    event = api_event("POST", "/documents", USER)
    event["body"] = json.dumps(_request())
    response = stack.invoke("UploadFunction", event, {"DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"})
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "5"
    assert json.loads(response["body"])["error"] == "database_unavailable"


def test_a_user_with_too_many_documents_in_flight_gets_a_429_and_nothing_is_created(stack: LocalStack) -> None:
    # GIVEN a user with five uploads of different files in flight (the default limit)
    for n in range(5):
        assert _post(stack, _request(sha256=f"{n:064x}"))[0] == 201
    # WHEN they ask for a sixth THEN 429 with a code and Retry-After, and no row is written
    event = api_event("POST", "/documents", USER)
    event["body"] = json.dumps(_request(sha256=f"{5:064x}"))
    response = stack.invoke("UploadFunction", event)
    assert response["statusCode"] == 429
    assert json.loads(response["body"])["error"] == "too_many_active_uploads"
    assert response["headers"]["Retry-After"] == "30"
    with psycopg.connect(stack.database.admin_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM upload_jobs").fetchone() == (5,)
        # AND once one of them has finished, the next request is accepted
        conn.execute("UPDATE upload_jobs SET state = 'done' WHERE id = (SELECT id FROM upload_jobs LIMIT 1)")
    assert _post(stack, _request())[0] == 201
    # AND another user's limit is their own
    assert _post(stack, _request(), user=uuid.uuid4())[0] == 201


# The other shapes (missing, None, "", other whitespace) are covered without the stack in tests/unit.
@pytest.mark.parametrize("subject", ["   ", 42])
def test_a_token_whose_subject_is_blank_or_not_a_string_is_refused(stack: LocalStack, subject: Any) -> None:
    # GIVEN a token whose sub names nobody (a blank one used to become a user of its own)
    event = api_event("POST", "/documents", USER)
    event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = subject
    event["body"] = json.dumps(_request())
    # WHEN it asks for an upload
    response = stack.invoke("UploadFunction", event)
    # THEN 401 with the code of a token without a subject, and nothing is created
    assert (response["statusCode"], json.loads(response["body"])["error"]) == (401, "unauthenticated")
    with psycopg.connect(stack.database.admin_url) as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (0,)


def test_a_size_that_is_not_a_json_integer_is_a_400(stack: LocalStack) -> None:
    # GIVEN an upload request whose size_bytes is a string (once coerced to a number; floats and booleans too,
    # covered without the stack in tests/unit)
    status, error = _post(stack, _request(size_bytes=str(len(PDF))))
    # THEN 400 naming the field, and nothing is created
    assert (status, error["error"]) == (400, "invalid_request")
    assert "size_bytes" in error["message"]
    with psycopg.connect(stack.database.admin_url) as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (0,)


def test_a_presign_that_fails_leaves_no_document_waiting(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an UploadFunction whose presign fails (botocore's fallback finding no credentials)
    class NoCredentials:
        def presign_put(self, **_: Any) -> str:
            raise NoCredentialsError()

    monkeypatch.setattr(stack.load_function("UploadFunction"), "presigner", NoCredentials())
    # WHEN a user asks for an upload THEN a retryable 503, and nothing was written, so the retry is no duplicate
    status, body = _post(stack, _request())
    assert (status, body["error"]) == (503, "s3_unavailable")
    with psycopg.connect(stack.database.admin_url) as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (0,)
