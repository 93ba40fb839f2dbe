"""The damaged PDFs of ../shared/corpus/malformed (qpdf's test suite): each, read as the pipeline reads it
(LocalParser, in the parse sandbox, under its time and memory limits), either parses to its text or is
refused with a known code — never an unknown error, which the pipeline would retry and dead-letter."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from docintake.errors import PermanentError, UnsupportedDocument
from docintake.parsing.local import LocalParser
from docintake_cli.main import main

MALFORMED = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "malformed"
FILES = sorted(MALFORMED.glob("*.pdf"))
# The limits of tests/unit/test_hostile_inputs.py; no OCR, so a page without a text layer is reported as such.
PARSER = LocalParser(max_pages=20, max_scanned_page_ratio=0.5, timeout_seconds=10, memory_mb=512)
BOUND_SECONDS = 15
KNOWN_CODES = {
    "corrupt_pdf",
    "encrypted_pdf",
    "too_many_pages",
    "parse_timeout",
    "parse_memory",
    "no_text_layer",
    "empty_document",
}
# What each file holds once PDFium has repaired what it can (pypdfium2 5.x): its one word of text, or the
# code it is refused with. A file not listed must still parse or be refused with a known code.
EXPECTED: dict[str, str] = {
    "qpdf-bad1.pdf": "corrupt_pdf",
    "qpdf-bad7.pdf": "corrupt_pdf",
    "qpdf-bad6.pdf": "Sandwiches",
    "qpdf-bad8.pdf": "Salad",
    "qpdf-bad11.pdf": "Salad",
    "qpdf-bad12.pdf": "Sandwiches",
    # The page's only content stream is LZW data that does not decode: no text layer.
    "qpdf-broken-lzw.pdf": "no_text_layer",
    **{f"qpdf-bad{n}.pdf": "Potato" for n in (2, 3, 4, 5, 9, 10, 13, 14, 15, 16, 17, 18, 19, 20)},
    "qpdf-broken-decode-parms-no-filter.pdf": "Potato",
    "qpdf-damaged-stream.pdf": "Potato",
    "qpdf-pages-loop.pdf": "Potato",
}


def _no_heartbeat() -> None:
    """These parses end long before the first heartbeat would be due."""


@pytest.mark.skipif(not FILES, reason=f"no malformed corpus at {MALFORMED}")
@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_each_damaged_file_parses_to_its_text_or_is_refused_with_a_known_code(path: Path) -> None:
    # GIVEN a PDF damaged on purpose
    started = time.monotonic()
    # WHEN the local parser reads it in its sandbox
    try:
        parsed = PARSER.parse(path.read_bytes(), "application/pdf", heartbeat=_no_heartbeat)
    except UnsupportedDocument as exc:
        # THEN a refusal is permanent and carries a known code (the expected one, where the file is known)
        outcome = exc.code
        assert isinstance(exc, PermanentError) and exc.code in KNOWN_CODES
    else:
        # OR it parses to Markdown with text, every page of which the page map can name
        outcome = parsed.markdown.strip()
        assert outcome and parsed.page_count >= 1
        assert [span["page"] for span in parsed.page_map.spans(len(parsed.markdown))]
    assert outcome == EXPECTED.get(path.name, outcome)
    # AND the answer came within the bound (the sandbox kills a parse at its 10 s limit)
    assert time.monotonic() - started < BOUND_SECONDS


@pytest.mark.skipif(not FILES, reason=f"no malformed corpus at {MALFORMED}")
def test_the_corpus_is_the_one_the_expectations_describe() -> None:
    # A file added to the corpus is still checked above; one removed should be removed here too.
    assert set(EXPECTED) <= {path.name for path in FILES}


@pytest.mark.skipif(not FILES, reason=f"no malformed corpus at {MALFORMED}")
def test_docintake_parse_exits_0_with_markdown_or_2_with_a_code_for_every_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the command a user runs on each damaged file (without OCR: its engine is tested elsewhere)
    monkeypatch.setenv("OCR_ENGINE", "none")
    outcomes: dict[str, tuple[int, str]] = {}
    for path in FILES:
        # WHEN `docintake parse FILE --json` runs
        status = main(["parse", str(path), "--json"])
        captured = capsys.readouterr()
        # THEN it exits 0 with a JSON document holding Markdown, or 2 with the error code alone on stderr
        if status == 0:
            outcomes[path.name] = (0, json.loads(captured.out)["markdown"].strip())
        else:
            outcomes[path.name] = (status, captured.err.strip())
    expected = {name: (2 if outcome in KNOWN_CODES else 0, outcome) for name, outcome in EXPECTED.items()}
    assert {name: outcomes[name] for name in expected} == expected
    assert all(status in (0, 2) and text for status, text in outcomes.values())
