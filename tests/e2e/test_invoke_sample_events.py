"""`docintake invoke <LogicalId> -e events/<name>.json` runs every function in template.yaml with its sample event.

The command runs in this process (its `main`, with the arguments a user types) against the test's stack,
which it finds the way it finds a running `docintake local up`: through the state file in DOCINTAKE_HOME.
`test_local_stack.py` runs the same command as a subprocess for one function."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from docintake_cli import main as cli
from docintake_local.stack import LocalStack
from tests.unit.test_sample_events import FUNCTIONS, event_file

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SAMPLE_USER = uuid.UUID("11111111-1111-4111-8111-111111111111")  # the `sub` claim of the API events


def _invoke(function: str, capsys: pytest.CaptureFixture[str]) -> Any:
    capsys.readouterr()
    code = cli.main(["invoke", function, "-e", str(event_file(function).relative_to(ROOT))])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)  # the handler's return value, printed as JSON alone


def test_docintake_invoke_runs_every_function_with_its_sample_event(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the test's stack recorded as the running `docintake local up`
    home = tmp_path / "home"
    home.mkdir()
    (home / cli.STATE_FILE).write_text(json.dumps(stack.describe()))
    monkeypatch.setenv("DOCINTAKE_HOME", str(home))
    monkeypatch.chdir(ROOT)  # the events' paths, as the README gives them, are relative to the checkout
    # WHEN `docintake invoke` runs each function, in the template's order (Upload before Documents)
    results = {function: _invoke(function, capsys) for function in FUNCTIONS}
    # THEN the upload made a document and a presigned PUT for the JWT's user, and the list shows it
    upload = results["UploadFunction"]
    assert upload["statusCode"] == 201
    ticket = json.loads(upload["body"])
    assert ticket["key"].startswith(f"uploads/{SAMPLE_USER}/") and "X-Amz-Signature=" in ticket["url"]
    with psycopg.connect(stack.database.admin_url) as conn:
        rows = conn.execute("SELECT id, user_id, status FROM documents").fetchall()
    assert rows == [(uuid.UUID(ticket["document_id"]), SAMPLE_USER, "pending_upload")]
    listed = results["DocumentsFunction"]
    assert listed["statusCode"] == 200
    assert [d["document_id"] for d in json.loads(listed["body"])["documents"]] == [ticket["document_id"]]
    # AND search answered (nothing is indexed yet); the S3 sample names an object in this stack's bucket that
    # is not there (so it cannot be quarantined: taken for a redelivery already handled), the SQS samples a
    # job this database has never seen (acknowledged, not retried); the sweeper found nothing to do
    search = results["SearchFunction"]
    assert (search["statusCode"], json.loads(search["body"])["results"]) == (200, [])
    assert results["ValidateFunction"] == {"outcomes": ["duplicate"]}
    for function in ("ParseFunction", "ChunkFunction", "EmbedFunction"):
        assert results[function] == {"batchItemFailures": []}, function
    assert results["SweeperFunction"] == {"rescued": 0, "expired": 0, "revalidated": 0}
    # AND no function was left out
    assert set(results) == set(FUNCTIONS)
