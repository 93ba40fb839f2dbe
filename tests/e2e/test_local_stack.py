"""The whole chain through the local stack: pollers in threads invoke the real handlers, uploads go
over HTTP to real presigned URLs, and the CLI runs as a user would run it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from docintake_local.demo import ALICE, BOB, run_demo
from docintake_local.postgres import LocalDatabase
from docintake_local.stack import LocalStack

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


# The template's default embedder, as `make demo` runs it (the rest of the suite embeds with hash).
DEFAULT_EMBEDDER = {
    "EMBEDDING_PROVIDER": "minilm",
    "EMBEDDING_MODEL": "all-MiniLM-L6-v2",
    "EMBEDDING_DIMENSIONS": "384",
}


@pytest.fixture
def live_stack(database: LocalDatabase, moto_endpoint: str, tmp_path: Path) -> LocalStack:
    stack = LocalStack(
        ROOT,
        database,
        aws_endpoint=moto_endpoint,
        log_file=tmp_path / "functions.jsonl",
        stack_name=f"e{uuid.uuid4().hex[:8]}",
        environment=DEFAULT_EMBEDDER,
    )
    with stack.running(pollers=True):
        yield stack  # type: ignore[misc]


def _counts(database: LocalDatabase) -> tuple[int, int, int]:
    with psycopg.connect(database.admin_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM documents WHERE user_id = ANY(%(u)s)),"
            " (SELECT count(*) FROM document_chunks WHERE user_id = ANY(%(u)s)),"
            " (SELECT sum(document_vector_count(id)) FROM documents WHERE user_id = ANY(%(u)s))",
            {"u": [ALICE, BOB]},
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def test_the_demo_ingests_every_document_and_twice_duplicates_nothing(live_stack: LocalStack) -> None:
    # WHEN the demo runs
    out = io.StringIO()
    assert run_demo(live_stack, count=4, timeout=300, out=out) == 0, out.getvalue()
    first = _counts(live_stack.database)
    # THEN four documents are done, with chunks and a vector for each, and isolation holds
    text = out.getvalue()
    assert text.count(" done       done ") == 4
    assert "demo finished: every document is done" in text
    assert "  bob      0" in text and "  no user  0" in text
    # AND each user asks in lay words, with the default (semantic) embedder, and finds the answer in the
    # right policy, cited by document, pages and section
    assert 'search as alice: "my house sat empty' in text and "answered from the homeowners policy" in text
    assert 'search as bob: "someone crashed into my car' in text and "answered from the auto policy" in text
    assert "  1. " in text and "homeowners-policy-HO3-2026.pdf, p" in text
    assert first[0] == 4 and first[1] == first[2] > 20
    # WHEN it runs again THEN it replaces its documents instead of adding to them
    again = io.StringIO()
    assert run_demo(live_stack, count=4, timeout=300, out=again) == 0, again.getvalue()
    assert "removed 4 document(s) of an earlier demo run" in again.getvalue()
    assert _counts(live_stack.database) == first


def test_two_containers_per_stage_queue_ingest_without_duplicates(
    database: LocalDatabase, moto_endpoint: str, tmp_path: Path
) -> None:
    # GIVEN a stack with two containers (module instances, connections, pollers) per stage queue
    stack = LocalStack(
        ROOT,
        database,
        aws_endpoint=moto_endpoint,
        log_file=tmp_path / "functions.jsonl",
        stack_name=f"c{uuid.uuid4().hex[:8]}",
        concurrency=2,
    )
    with stack.running(pollers=True):
        extra = {module.__name__ for module in stack.extra_containers}
        # WHEN the demo's four documents go through it
        out = io.StringIO()
        assert run_demo(stack, count=4, timeout=300, out=out) == 0, out.getvalue()
        used = [module.__name__ for module in stack.extra_containers if module.pipeline.db._conn is not None]
        with psycopg.connect(database.admin_url) as conn:
            completions = conn.execute(
                "SELECT count(*), count(DISTINCT (job_id, stage)) FROM events WHERE event_type = 'stage_completed'"
            ).fetchone()
    # THEN Parse, Chunk and Embed each had a second container and the second containers did some of the
    # work, every document is done with its chunks embedded, and every stage completed once per job
    assert extra == {f"docintake_function_{name}Function_1" for name in ("Parse", "Chunk", "Embed")}
    assert used, "no second container handled a message"
    assert "demo finished: every document is done" in out.getvalue()
    counts = _counts(database)
    assert counts[0] == 4 and counts[1] == counts[2] > 20
    assert completions is not None and completions[0] == completions[1] > 0


def test_every_sample_event_runs_its_function(live_stack: LocalStack) -> None:
    events = {
        "UploadFunction": "upload",
        "ValidateFunction": "validate",
        "ParseFunction": "parse",
        "ChunkFunction": "chunk",
        "EmbedFunction": "embed",
    }
    results = {
        fn: live_stack.invoke(fn, json.loads((ROOT / "events" / f"{name}.json").read_text()))
        for fn, name in events.items()
    }
    assert results["UploadFunction"]["statusCode"] == 201
    ticket = json.loads(results["UploadFunction"]["body"])
    assert ticket["method"] == "PUT" and "X-Amz-Signature=" in ticket["url"]
    assert ticket["headers"]["Content-Type"] == "application/pdf"
    # The sample S3 and SQS events name a document this database has never seen: recorded, not retried.
    assert results["ValidateFunction"] == {"outcomes": ["ignored"]}
    for fn in ("ParseFunction", "ChunkFunction", "EmbedFunction"):
        assert results[fn] == {"batchItemFailures": []}


def _cli(database: LocalDatabase, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Its own DOCINTAKE_HOME, so a developer's running `docintake local up` is never used by the test.
    env = {**os.environ, "DATABASE_URL": database.admin_url, "DOCINTAKE_HOME": str(home)}
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "docintake_cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_cli_invoke_runs_a_handler_like_sam_local_invoke(database: LocalDatabase, tmp_path: Path) -> None:
    result = _cli(
        database, tmp_path, "invoke", "UploadFunction", "-e", "events/upload.json", "--env-vars", "events/env.json"
    )
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["statusCode"] == 201
    assert json.loads(response["body"])["key"].startswith("uploads/11111111-1111-4111-8111-111111111111/")


def test_cli_upload_waits_for_the_document(database: LocalDatabase, tmp_path: Path) -> None:
    policy = tmp_path / "summary of benefits.md"
    policy.write_text("# SUMMARY OF BENEFITS\n\n## DEDUCTIBLE\n\nYour deductible is $1,500 per person.\n")
    user = str(uuid.uuid4())
    result = _cli(database, tmp_path, "upload", str(policy), "--user", user, "--wait", "--timeout", "60", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)  # one JSON document: the ticket, the final status under "final"
    assert answer["key"].endswith("/summary-of-benefits.md")
    status = answer["final"]
    assert (status["state"], status["status"], status["chunk_count"], status["embedded_count"]) == (
        "done",
        "ready",
        1,
        1,
    )
