"""One copy of each document, and versions: POST /documents answers an identical file with the user's
existing document (duplicate_of, 200, nothing created) unless ``replace``; ``supersedes`` makes a new version
whose predecessor stays, and GET /documents shows both ends of the chain once the new one is ready."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from docintake.db import queries
from docintake_local.client import AlreadyUploaded, api_event, delete_as, list_as, show_as, upload_bytes
from docintake_local.stack import LambdaContext, LocalStack
from tests.kit import POLICY, USER, admin, count, document_row, document_status, documents, events_of

pytestmark = pytest.mark.integration
OTHER = uuid.UUID("44444444-4444-4444-8444-444444444444")
NEW_EDITION = POLICY.replace(b"earth movement", b"earth movement or volcanic eruption")


def _request(data: bytes = POLICY, **extra: Any) -> dict[str, Any]:
    return {
        "filename": "policy.md",
        "content_type": "text/markdown",
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    } | extra


def _post(stack: LocalStack, body: dict[str, Any], user: uuid.UUID = USER) -> tuple[int, dict[str, Any]]:
    response = stack.invoke("UploadFunction", api_event("POST", "/documents", user, body))
    return response["statusCode"], json.loads(response["body"])


def _counts(stack: LocalStack) -> tuple[int, int]:
    return count(stack, "documents"), count(stack, "upload_jobs")


def _ready(stack: LocalStack, data: bytes = POLICY, user: uuid.UUID = USER, **options: Any) -> uuid.UUID:
    document_id = upload_bytes(stack, user, "policy.md", data, "text/markdown", **options).document_id
    stack.run_until_idle()
    assert document_status(stack, document_id) == "ready"
    return document_id


def test_an_identical_upload_returns_the_existing_document_and_creates_nothing(stack: LocalStack) -> None:
    # GIVEN a ready document
    existing = _ready(stack)
    before = _counts(stack)
    # WHEN the same user asks to upload the same file again
    status, body = _post(stack, _request())
    # THEN 200 with that document, no upload URL, and no new document or job
    assert (status, body) == (200, {"duplicate_of": str(existing), "document_id": str(existing), "status": "ready"})
    assert _counts(stack) == before == (1, 1)
    # AND the audit log says so, with ids only
    events = events_of(stack, "document_id", "details", event_type="upload_deduplicated")
    assert events == [{"document_id": existing, "details": {"status": "ready"}}]
    # AND the local client reports it without sending anything
    with pytest.raises(AlreadyUploaded) as duplicate:
        upload_bytes(stack, USER, "renamed.md", POLICY, "text/markdown")
    assert duplicate.value.duplicate.duplicate_of == existing
    assert _counts(stack) == (1, 1)


def test_replace_makes_a_new_copy(stack: LocalStack) -> None:
    existing = _ready(stack)
    status, ticket = _post(stack, _request(replace=True))
    assert status == 201 and ticket["document_id"] != str(existing) and ticket["url"]
    assert _counts(stack) == (2, 2)


def test_two_identical_requests_at_once_make_one_document(stack: LocalStack) -> None:
    # GIVEN two Lambda containers (their own connections) receiving the same request at the same moment
    containers = [stack.load_function("UploadFunction", {"CONTAINER": str(i)}) for i in range(2)]
    event = api_event("POST", "/documents", USER, _request())
    barrier = threading.Barrier(2)
    answers: list[tuple[int, dict[str, Any]]] = []

    def post(module: Any) -> None:
        barrier.wait()
        response = module.lambda_handler(event, LambdaContext("UploadFunction", 30))
        answers.append((response["statusCode"], json.loads(response["body"])))

    threads = [threading.Thread(target=post, args=(module,)) for module in containers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for module in containers:
        module.pipeline.db.close()
    # THEN one gets the ticket, the other that document (still waiting for its file)
    answers.sort(key=lambda answer: answer[0])
    (duplicate_status, duplicate), (ticket_status, ticket) = answers
    assert (duplicate_status, ticket_status) == (200, 201)
    assert duplicate == {
        "duplicate_of": ticket["document_id"],
        "document_id": ticket["document_id"],
        "status": "pending_upload",
    }
    assert _counts(stack) == (1, 1)


def test_a_failed_or_expired_earlier_copy_does_not_block_a_new_upload(stack: LocalStack) -> None:
    # GIVEN an unreadable PDF that failed, and an upload of another file whose URL expired unused
    broken = b"%PDF-1.7\nnot really a pdf\n%%EOF"
    upload_bytes(stack, USER, "broken.pdf", broken, "application/pdf")
    stack.run_until_idle()
    assert documents(stack, "status") == [{"status": "failed"}]
    status, _ = _post(stack, _request())
    assert status == 201
    admin(stack, "UPDATE documents SET created_at = now() - interval '1 hour' WHERE status = 'pending_upload'")
    # WHEN each file is asked for again
    again_broken = _post(stack, _request(broken, filename="broken.pdf", content_type="application/pdf"))
    again_policy = _post(stack, _request())
    # THEN both get a new document and upload URL
    assert (again_broken[0], again_policy[0]) == (201, 201)
    assert again_broken[1]["url"] and again_policy[1]["url"]
    assert _counts(stack) == (4, 4)


def test_another_users_identical_file_is_not_a_duplicate(stack: LocalStack) -> None:
    _ready(stack)
    status, ticket = _post(stack, _request(), user=OTHER)
    assert status == 201
    assert document_row(stack, "user_id", id=uuid.UUID(ticket["document_id"]))["user_id"] == OTHER


def test_supersedes_must_name_a_document_of_the_callers(stack: LocalStack) -> None:
    # GIVEN another user's ready document
    theirs = _ready(stack, user=OTHER)
    # WHEN a user names it, or an id that exists nowhere, as the document their upload supersedes
    refusals = [_post(stack, _request(NEW_EDITION, supersedes=str(d))) for d in (theirs, uuid.uuid4())]
    # THEN 404 with a code, the same for both (another user's document is not even confirmed to exist)
    assert [(s, b["error"]) for s, b in refusals] == [(404, "superseded_not_found")] * 2
    assert _counts(stack) == (1, 1)


def test_a_new_version_supersedes_the_old_once_ready_and_the_old_stays(stack: LocalStack) -> None:
    # GIVEN a ready policy
    old = _ready(stack)
    # WHEN its new edition is uploaded as a new version of it
    status, ticket = _post(stack, _request(NEW_EDITION, supersedes=str(old)))
    assert status == 201 and ticket["supersedes"] == str(old)
    new = uuid.UUID(ticket["document_id"])
    # THEN until the new one is ready, the old one is current: shown so, and the one search returns
    assert show_as(stack, USER, old)["superseded_by"] is None
    assert _searched(stack) == {str(old)}
    # AND a second new version of the same document is refused while this one is live
    refused = _post(stack, _request(NEW_EDITION + b"\nRevised.\n", supersedes=str(old)))
    assert (refused[0], refused[1]["error"]) == (409, "already_superseded")
    # WHEN the new edition's file arrives and the pipeline finishes it
    httpx.put(ticket["url"], content=NEW_EDITION, headers=ticket["headers"]).raise_for_status()
    stack.run_until_idle()
    # THEN both documents show the chain, and the old one keeps its chunks as history
    shown_old, shown_new = show_as(stack, USER, old), show_as(stack, USER, new)
    assert (shown_old["status"], shown_old["superseded_by"], shown_old["supersedes"]) == ("ready", str(new), None)
    assert (shown_new["status"], shown_new["supersedes"], shown_new["superseded_by"]) == ("ready", str(old), None)
    assert shown_old["chunk_count"] > 0
    listed = {d["document_id"]: (d["supersedes"], d["superseded_by"]) for d in list_as(stack, USER)["documents"]}
    assert listed == {str(new): (str(old), None), str(old): (None, str(new))}
    # AND search returns the new version only, unless superseded versions are asked for
    assert _searched(stack) == {str(new)}
    assert _searched(stack, include_superseded=True) == {str(old), str(new)}
    # WHEN the old version is deleted THEN the new one stays, no longer pointing at it
    delete_as(stack, USER, old)
    assert show_as(stack, USER, new)["supersedes"] is None


def _searched(stack: LocalStack, **options: Any) -> set[str]:
    """The documents of a search's hits for words both versions hold."""
    body = {"query": "we do not insure for loss caused by earth movement", "k": 50} | options
    response = stack.invoke("SearchFunction", api_event("POST", "/search", USER, body))
    assert response["statusCode"] == 200, response["body"]
    return {hit["document_id"] for hit in json.loads(response["body"])["results"]}


def test_the_chunk_stage_can_store_a_known_type_only(stack: LocalStack) -> None:
    # GIVEN a ready document, and the worker role as the chunk stage connects
    document_id = _ready(stack)
    with psycopg.connect(stack.database.role_url("worker"), autocommit=True) as conn:

        def set_type(document_type: str) -> None:
            with conn.transaction():
                conn.execute("SELECT set_config('app.user_id', %s, true)", [str(USER)])
                conn.execute(
                    queries()["set_document_type"], {"document_id": document_id, "document_type": document_type}
                )

        # WHEN it stores the classifier's answer THEN the owner sees it
        set_type("declarations")
        assert show_as(stack, USER, document_id)["document_type"] == "declarations"
        # AND a type outside the list is refused by the schema
        with pytest.raises(psycopg.errors.CheckViolation):
            set_type("invoice")


def test_operators_see_type_and_versions_but_no_content(stack: LocalStack) -> None:
    old = _ready(stack)
    _post(stack, _request(NEW_EDITION, supersedes=str(old)))
    with psycopg.connect(stack.database.role_url("ops"), autocommit=True) as conn:
        rows = conn.execute("SELECT document_type, supersedes FROM documents ORDER BY created_at").fetchall()
        assert [r[1] for r in rows] == [None, old]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT filename FROM documents")


def test_the_cli_prints_duplicate_of_and_versions(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from docintake_cli import main as cli
    from docintake_cli import running

    monkeypatch.setattr(running, "local_stack", lambda *, pollers: contextlib.nullcontext(stack))
    first, second = tmp_path / "policy.md", tmp_path / "policy-2027.md"
    first.write_bytes(POLICY)
    second.write_bytes(NEW_EDITION)
    user = ["--user", str(USER)]
    # GIVEN a file uploaded and processed
    assert cli.main(["upload", str(first), *user, "--json"]) == 0
    old = json.loads(capsys.readouterr().out)["document_id"]
    stack.run_until_idle()
    # WHEN it is uploaded again THEN --json prints the duplicate alone, and the text says what to do
    assert cli.main(["upload", str(first), *user, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"duplicate_of": old, "document_id": old, "status": "ready"}
    assert cli.main(["upload", str(first), *user]) == 0
    assert (
        capsys.readouterr().out
        == f"duplicate_of {old} (ready): you already have this file; --replace uploads another copy\n"
    )
    # WHEN a new edition supersedes it THEN the ticket names the old version, and `documents show` the chain
    assert cli.main(["upload", str(second), *user, "--supersedes", old, "--json"]) == 0
    new = json.loads(capsys.readouterr().out)
    assert new["supersedes"] == old
    stack.run_until_idle()
    assert cli.main(["documents", "show", old, *user]) == 0
    assert f"  superseded_by: {new['document_id']} (search uses that version)" in capsys.readouterr().out.splitlines()
    assert cli.main(["documents", "show", new["document_id"], *user]) == 0
    assert f"  supersedes: {old}" in capsys.readouterr().out.splitlines()
    # AND --replace uploads another copy
    assert cli.main(["upload", str(first), *user, "--replace", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["document_id"] not in (old, new["document_id"])
