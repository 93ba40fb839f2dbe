"""The local parser: Markdown with headings and a page map from real-looking policy PDFs; damaged files
either parse or are refused with a stable code, quickly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from docintake.errors import UnsupportedDocument
from docintake.parsing import PageMap, parse_document
from docintake_local.sample_documents import policy_pdf, sample_documents

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "malformed"
SAMPLES = sample_documents(4)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.kind for s in SAMPLES])
def test_policy_pdfs_become_markdown_with_headings_and_a_page_map(sample: object) -> None:
    # GIVEN a generated policy with running headers and footers on every page
    parsed = parse_document(sample.data, "application/pdf", max_pages=100)  # type: ignore[attr-defined]
    # THEN every page is mapped, in order, from offset 0
    assert parsed.page_count == sample.pages  # type: ignore[attr-defined]
    assert parsed.page_map.pages == tuple(range(1, parsed.page_count + 1))
    assert parsed.page_map.starts[0] == 0 and list(parsed.page_map.starts) == sorted(parsed.page_map.starts)
    # AND the running footer ("Page N of M") and header lines are gone
    assert "Page 1 of" not in parsed.markdown
    assert "Synthetic specimen" not in parsed.markdown
    assert parsed.markdown.count("Policy Number:") == 0
    # AND section headings are Markdown headings
    headings = [line for line in parsed.markdown.splitlines() if line.startswith("#")]
    assert any("DECLARATIONS" in h for h in headings)
    assert len(headings) >= 8


def test_the_declarations_table_cells_survive() -> None:
    parsed = parse_document(SAMPLES[0].data, "application/pdf", max_pages=100)
    first_page = parsed.markdown[: parsed.page_map.starts[1]]
    for cell in ("A. Dwelling", "B. Other Structures", "Total Annual Premium"):
        assert cell in first_page


def test_page_map_offsets_point_at_each_pages_text() -> None:
    sample = policy_pdf(12)
    parsed = parse_document(sample.data, "application/pdf", max_pages=100)
    assert parsed.page_map.page_at(0) == 1
    assert parsed.page_map.page_at(len(parsed.markdown) - 1) == sample.pages
    assert PageMap.from_json(parsed.page_map.to_json()) == parsed.page_map


def test_too_many_pages_is_refused_before_any_text_is_read() -> None:
    with pytest.raises(UnsupportedDocument) as caught:
        parse_document(policy_pdf(12).data, "application/pdf", max_pages=5)
    assert caught.value.code == "too_many_pages"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"just text", "corrupt_pdf"),
        (b"%PDF-1.7\n" + b"\x00" * 200, "corrupt_pdf"),
    ],
)
def test_unreadable_pdfs_have_a_code(data: bytes, code: str) -> None:
    with pytest.raises(UnsupportedDocument) as caught:
        parse_document(data, "application/pdf", max_pages=10)
    assert caught.value.code == code


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.pdf")), ids=lambda p: p.name)
def test_damaged_pdfs_parse_or_fail_with_a_stable_code_in_bounded_time(path: Path) -> None:
    started = time.monotonic()
    try:
        parsed = parse_document(path.read_bytes(), "application/pdf", max_pages=2000)
    except UnsupportedDocument as exc:
        assert exc.code in {"corrupt_pdf", "encrypted_pdf", "no_text_layer", "empty_document", "too_many_pages"}
    else:
        assert parsed.page_count >= 1 and parsed.markdown.strip()
    assert time.monotonic() - started < 5


def test_text_and_markdown_pass_through_as_one_page() -> None:
    parsed = parse_document(b"# Summary\r\n\r\nDeductible: $500\r\n", "text/markdown", max_pages=1)
    assert parsed.markdown == "# Summary\n\nDeductible: $500\n"
    assert parsed.page_map == PageMap.single_page() and parsed.page_count == 1
    with pytest.raises(UnsupportedDocument) as caught:
        parse_document(b"\xff\xfe\x00bad", "text/plain", max_pages=1)
    assert caught.value.code == "not_utf8"


def test_windows_1252_text_is_decoded_with_a_warning() -> None:
    # GIVEN a text file saved on Windows in a Western European language (Windows-1252, not UTF-8)
    data = "Résumé de la police\r\nFranchise : 500 € – Größe, ação, ¿qué?\r\n".encode("cp1252")
    # WHEN it is parsed as the text it was declared
    parsed = parse_document(data, "text/plain", max_pages=1)
    # THEN it reads as written, and the guess is recorded
    assert parsed.markdown == "Résumé de la police\nFranchise : 500 € – Größe, ação, ¿qué?\n"
    assert parsed.warnings == ("decoded_as_cp1252",)
    # AND UTF-8 text carries no such warning
    assert parse_document("Résumé\n".encode(), "text/plain", max_pages=1).warnings == ()


@pytest.mark.parametrize(
    "data",
    [
        "Привет, страховой полис\n".encode("cp1251"),  # Cyrillic in its own charset: "Ïðèâåò" in Windows-1252
        "Καλημέρα ασφάλεια\n".encode("cp1253"),
        b"caf\xe9 \x81 undefined in Windows-1252\n",
        b"caf\xe9 \x01\x02 control bytes\n",
    ],
    ids=["cp1251", "cp1253", "undefined_byte", "control_bytes"],
)
def test_text_that_is_neither_utf8_nor_clear_windows_1252_is_not_utf8(data: bytes) -> None:
    with pytest.raises(UnsupportedDocument) as caught:
        parse_document(data, "text/plain", max_pages=1)
    assert caught.value.code == "not_utf8"
    assert "neither UTF-8 nor" in str(caught.value)
