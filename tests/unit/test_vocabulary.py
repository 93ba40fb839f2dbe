"""The vocabulary (docintake.vocabulary) is the one place the pipeline's words are written: the schema allows
exactly its stages, states and statuses, and the runtime package writes its members, not the strings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docintake.status import EXPLANATIONS
from docintake.vocabulary import DocumentStatus, ErrorCode, JobState, Stage

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "shared" / "docintake"


def _last_check(column_constraint: str) -> set[str]:
    """The values of the newest migration's CHECK constraint of that name."""
    found: list[str] = []
    for migration in sorted((ROOT / "migrations").glob("*.sql")):
        text = migration.read_text(encoding="utf-8")
        for match in re.finditer(rf"CONSTRAINT {column_constraint}\s+CHECK \(\w+ IN \(([^)]*)\)\)", text):
            found = re.findall(r"'([a-z_]+)'", match.group(1))
    assert found, column_constraint
    return set(found)


@pytest.mark.parametrize(
    ("enum", "constraint"),
    [
        (Stage, "upload_jobs_stage_check"),
        (JobState, "upload_jobs_state_check"),
        (DocumentStatus, "documents_status_check"),
    ],
)
def test_the_schema_allows_exactly_the_vocabulary(enum: type, constraint: str) -> None:
    assert {member.value for member in enum} == _last_check(constraint)


def test_the_runtime_writes_error_codes_as_members_not_strings() -> None:
    offenders = []
    for path in RUNTIME.rglob("*.py"):
        if path.name == "vocabulary.py":
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in (r'\bcode="[a-z_0-9]+"', r'ApiError\(\s*\d+,\s*"', r'^\s+code = "', r'crash_code(: str)? ?= ?"'):
            offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in re.finditer(pattern, text, re.M)]
    assert offenders == []


def test_every_explained_code_is_in_the_vocabulary_and_codes_are_unique() -> None:
    assert set(EXPLANATIONS) <= set(ErrorCode)
    assert len({member.value for member in ErrorCode}) == len(ErrorCode)
    # A member reads as its string in rows, JSON and logs.
    assert f"{ErrorCode.CORRUPT_PDF}" == "corrupt_pdf" and Stage.PARSING_PARTS == "parsing_parts"
