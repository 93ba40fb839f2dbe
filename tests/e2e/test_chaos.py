"""The chaos suite at a small size: every fault at least once, then nothing lost and nothing duplicated."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import psycopg
import pytest

from docintake_local.chaos import FAULT_NAMES, chaos_stack_options, run_chaos
from docintake_local.postgres import LocalDatabase
from docintake_local.stack import LocalStack

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
# Twelve documents: the long PDF, ten Markdown policies and a three-page PDF (every tenth small one), enough
# opportunities for every fault's first firing (the latest, ``slow``, at a stage's 13th attempt; the run makes
# about 40) and for a third to be done before the restart. The long PDF's 40 pages make 4 parse parts and 2 embed
# parts (64 chunks a part). Its time is mostly the suite's fixed waits (quiet queues, stale jobs, DLQ polls), so
# 30 documents and 60 pages took 68 s and these 61 s; each kind of fault and the part path are exercised either way.
DOCUMENTS = 12
LARGE_PAGES = 40


def test_chaos_loses_nothing_and_duplicates_nothing(
    database: LocalDatabase, moto_endpoint: str, tmp_path: Path
) -> None:
    stack = LocalStack(
        ROOT,
        database,
        aws_endpoint=moto_endpoint,
        log_file=tmp_path / "functions.jsonl",
        stack_name=f"chaos{uuid.uuid4().hex[:8]}",
        state_dir=tmp_path / "aws-state",
        **chaos_stack_options(),
    )
    out = io.StringIO()
    with stack.running():
        # One of them is a 40-page PDF, parsed in 4 parts of 10 pages (make chaos: 2,000 pages, 200 parts).
        report = run_chaos(stack, documents=DOCUMENTS, seed=3, settle_seconds=240, large_pages=LARGE_PAGES, out=out)
    assert report.problems == [], out.getvalue()
    assert all(report.faults[name] > 0 for name in FAULT_NAMES), report.faults
    assert (report.documents, report.duplicates, report.lost, report.dead_lettered) == (DOCUMENTS, 0, 0, 0)
    assert report.done + report.failed == DOCUMENTS
    assert report.passed
    # AND the stack was restarted midway, from its saved state, and found work to carry on
    restarted = [line for line in out.getvalue().splitlines() if line.startswith("restarted: ")]
    assert len(restarted) == 1 and "restored object_versions=0 " not in restarted[0], out.getvalue()
    assert out.getvalue().strip().endswith(report.line())
    # AND the long PDF went through in parts, each completed once (report.problems would name a second time)
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        parts = conn.execute(
            "SELECT p.step, count(*), count(*) FILTER (WHERE p.state = 'done') FROM job_parts p"
            " JOIN upload_jobs j ON j.id = p.job_id WHERE j.state = 'done' GROUP BY p.step ORDER BY p.step"
        ).fetchall()
    by_step = {step: (total, done) for step, total, done in parts}
    assert (
        by_step["parse"] == (LARGE_PAGES // 10, LARGE_PAGES // 10) and by_step["embed"][0] == by_step["embed"][1] >= 2
    ), parts
