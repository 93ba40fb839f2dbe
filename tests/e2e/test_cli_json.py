"""`--json` output is one JSON document on stdout, whatever the handlers the command runs in-process log.

The commands run as a user runs them (a subprocess), against a running `docintake local up` (a state
file naming a stack this test runs) and against an ephemeral stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from docintake.fields import InsuranceDocumentType
from docintake_local.client import upload_bytes
from docintake_local.postgres import LocalDatabase
from docintake_local.stack import LocalStack

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
USER = uuid.UUID("5a1ce000-0000-4000-8000-000000000015")
POLICY = b"# HOMEOWNERS POLICY\n\n## DEDUCTIBLE\n\nYour deductible is $1,000 per occurrence.\n"


def _cli(home: Path, *args: str, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCINTAKE_HOME": str(home)}
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "docintake_cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _json_alone(result: subprocess.CompletedProcess[str]) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # one document: a log line before or after it fails here


def test_json_commands_against_a_running_stack_print_json_alone(stack: LocalStack, tmp_path: Path) -> None:
    # GIVEN a running `docintake local up` holding one ready document, and a job the sweeper will give up
    # on (giving up emits metrics, which go through the functions' logger)
    ticket = upload_bytes(stack, USER, "policy.md", POLICY, "text/markdown")
    crashing = upload_bytes(stack, USER, "claim.md", b"# CLAIM FORM\n\nDate of loss: 03/04/2026\n", "text/markdown")
    stack.run_until_idle()
    with psycopg.connect(stack.database.admin_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE upload_jobs SET stage = 'parsing', state = 'in_progress', lease_owner = 'dead', attempts = 10,"
            " lease_expires_at = now() - interval '1 hour', heartbeat_at = now() - interval '2 hours'"
            " WHERE id = %s",
            [crashing.job_id],
        )
    home = tmp_path / "home"
    home.mkdir()
    (home / "stack.json").write_text(json.dumps(stack.describe()))
    user = str(USER)
    # WHEN each --json command that reads through it runs
    commands = {
        "search": ["search", "deductible", "--user", user, "--json"],
        "documents list": ["documents", "list", "--user", user, "--json"],
        "documents show": ["documents", "show", str(ticket.document_id), "--user", user, "--json"],
        "documents fields": ["documents", "fields", str(ticket.document_id), "--user", user, "--json"],
        "jobs list": ["jobs", "list", "--json"],
        "jobs show": ["jobs", "show", str(ticket.job_id), "--json"],
        "dlq list": ["dlq", "list", "--json"],
        "sweep": ["sweep", "--json"],
    }
    outputs = {name: _json_alone(_cli(home, *args)) for name, args in commands.items()}
    # THEN stdout held the answer alone, and the handlers' log lines went to the stack's log file
    assert outputs["search"]["results"][0]["document_id"] == str(ticket.document_id)  # type: ignore[index]
    listed = {d["document_id"] for d in outputs["documents list"]["documents"]}  # type: ignore[index]
    assert listed == {str(ticket.document_id), str(crashing.document_id)}
    assert outputs["documents show"]["status"] == "ready"  # type: ignore[index]
    fields = outputs["documents fields"]
    assert fields["document_id"] == str(ticket.document_id)  # type: ignore[index]
    assert fields["document_type"] in {t.value for t in InsuranceDocumentType}  # type: ignore[index]
    # AND search keeps the document for a filter on its type and drops it for another type
    kind = fields["document_type"]  # type: ignore[index]
    other = next(t.value for t in InsuranceDocumentType if t.value != kind)
    for where, expected in ((kind, [str(ticket.document_id)]), (other, [])):
        args = ["search", "deductible", "--user", user, "--where", f"document_type={where}", "--json"]
        found = _json_alone(_cli(home, *args))
        assert [hit["document_id"] for hit in found["results"]] == expected  # type: ignore[index]
    assert outputs["jobs show"]["job"]["job_id"] == str(ticket.job_id)  # type: ignore[index]
    assert isinstance(outputs["dlq list"], list)
    assert outputs["sweep"]["given_up"] == [str(crashing.job_id)]  # type: ignore[index]
    logged = [json.loads(line) for line in (home / "logs" / "functions.jsonl").read_text().splitlines()]
    assert "search answered" in {line.get("message") for line in logged}
    assert any("DocumentsFailed" in line for line in logged)  # the sweeper's metric


def test_json_commands_without_a_stack_print_json_alone(database: LocalDatabase, tmp_path: Path) -> None:
    # GIVEN no running stack (the command starts its own) and a policy on disk
    policy = tmp_path / "policy.md"
    policy.write_bytes(POLICY)
    # WHEN search, parse and chunk run with --json
    search = _json_alone(
        _cli(tmp_path, "search", "deductible", "--user", str(USER), "--json", database_url=database.admin_url)
    )
    parsed = _cli(tmp_path, "parse", str(policy), "--json")
    chunks = _json_alone(_cli(tmp_path, "chunk", str(policy), "--json"))
    # THEN each printed one JSON document
    assert search == {"results": []}
    assert "DEDUCTIBLE" in _json_alone(parsed)["markdown"]  # type: ignore[index]
    assert chunks[0]["heading_path"][-1] == "DEDUCTIBLE"  # type: ignore[index]


AGAINST_AWS = """
import sys
from types import SimpleNamespace

from docintake import metrics, runtime
from docintake_cli import operators as operator_commands

closed = []
runtime.build_operations = lambda name: SimpleNamespace(db=SimpleNamespace(close=lambda: closed.append(name)))
with operator_commands.operations("ops"):
    metrics.emit("DocumentsFailed", 1, dimensions={"error_code": "stage_crashed"})
assert closed == ["docintake-cli"]
"""


def test_operator_commands_against_aws_log_and_emit_metrics_on_stderr() -> None:
    # GIVEN DOCINTAKE_TARGET=aws (the operations come from the environment, no local stack)
    env = {**os.environ, "DOCINTAKE_TARGET": "aws", "POWERTOOLS_SERVICE_NAME": "docintake"}
    # WHEN an operator command's operations emit a metric
    result = subprocess.run(
        [sys.executable, "-c", AGAINST_AWS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    # THEN the metric's line is on stderr and stdout stays free for the command's JSON
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert json.loads(result.stderr.strip().splitlines()[-1])["DocumentsFailed"] == [1.0]
