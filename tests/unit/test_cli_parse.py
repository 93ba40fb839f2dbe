"""`docintake parse`: Markdown or one JSON object on stdout; an error code and exit 2 on failure."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from docintake.cli import main
from docintake.local.sample_documents import sample_documents


def test_parse_json_describes_the_markdown_and_its_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = sample_documents(2)[1]
    path = tmp_path / sample.filename
    path.write_bytes(sample.data)
    assert main(["parse", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"markdown", "page_count", "pages", "warnings", "parser"}
    assert document["page_count"] == sample.pages and document["parser"] == "local"
    pages = document["pages"]
    assert [p["page"] for p in pages] == list(range(1, sample.pages + 1))
    assert pages[0]["start"] == 0 and pages[-1]["end"] == len(document["markdown"])
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(pages))
    assert "| Coverage | Limit | Deductible | Premium |" in document["markdown"]


def test_parse_prints_markdown_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "note.md"
    path.write_text("# CLAIM FORM\n\nDate of loss: 03/04/2026\n")
    assert main(["parse", str(path)]) == 0
    assert capsys.readouterr().out == "# CLAIM FORM\n\nDate of loss: 03/04/2026\n"


def test_a_text_file_named_pdf_fails_with_a_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.pdf"
    path.write_text("this is not a PDF")
    assert main(["parse", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == "corrupt_pdf" and captured.out == ""
