"""The local parser as the settings make it (parsing/local.py): the OCR engine OCR_ENGINE names, what it refuses
before any sandbox starts, and how the parts of a large document join with and without OCR."""

from __future__ import annotations

import pytest

from docintake.config import Settings
from docintake.errors import UnsupportedDocument
from docintake.parsing import ParsedPart
from docintake.parsing.local import LocalParser
from docintake.parsing.ocr import RapidOcrEngine
from docintake.parsing.textract import TextractEngine

NO_OCR = LocalParser(max_pages=50, max_scanned_page_ratio=0.5, timeout_seconds=5, memory_mb=256, ocr=None)
WITH_OCR = LocalParser(
    max_pages=50, max_scanned_page_ratio=0.5, timeout_seconds=5, memory_mb=256, ocr=TextractEngine(client=object())
)


@pytest.mark.parametrize(
    ("engine", "kind"), [("textract", TextractEngine), ("local", RapidOcrEngine), ("none", type(None))]
)
def test_ocr_engine_names_the_engine_and_the_limits_come_from_the_settings(engine: str, kind: type) -> None:
    settings = Settings(ocr_engine=engine, max_pages=77, parse_timeout_seconds=42, parse_memory_mb=640)
    parser = LocalParser.from_settings(settings)
    assert type(parser.ocr) is kind
    assert (parser.max_pages, parser.sandbox.timeout_seconds, parser.sandbox.memory_mb) == (77, 42, 640)


def test_textract_makes_no_client_until_a_page_is_read() -> None:
    # Building the parser at cold start must not reach AWS: the parse function's settings alone
    parser = LocalParser.from_settings(Settings(ocr_engine="textract"))
    assert isinstance(parser.ocr, TextractEngine)
    assert parser.ocr.client is None


@pytest.mark.parametrize("content_type", ["image/png", "image/jpeg", "image/tiff"])
def test_an_image_with_ocr_off_is_no_text_layer_before_anything_is_read(content_type: str) -> None:
    # GIVEN bytes that are no image at all: nothing may look at them when OCR is off
    with pytest.raises(UnsupportedDocument) as caught:
        NO_OCR.parse(b"not read", content_type, heartbeat=lambda: None)
    assert caught.value.code == "no_text_layer"


def test_only_a_pdf_has_pages_to_count_or_ranges_to_parse() -> None:
    assert NO_OCR.page_count(b"# Policy", "text/markdown") is None
    with pytest.raises(UnsupportedDocument) as caught:
        NO_OCR.parse_pages(b"# Policy", "text/markdown", 1, 2, heartbeat=lambda: None)
    assert caught.value.code == "unsupported_type"


def _part(first: int, last: int, markdown: str, without_text: int = 0) -> ParsedPart:
    pages = tuple(range(first, last + 1)) if markdown else ()
    starts = tuple(0 for _ in pages) if markdown else ()
    return ParsedPart(first, last, markdown, pages, starts, 4, without_text)


def test_parts_without_any_text_are_no_text_layer_without_ocr_and_empty_document_with_it() -> None:
    # GIVEN a four-page scan whose two parts found no text
    parts = [_part(3, 4, "", without_text=2), _part(1, 2, "", without_text=2)]
    # WHEN they are joined THEN without OCR the document lacks a text layer; with OCR it is empty
    with pytest.raises(UnsupportedDocument) as no_ocr:
        NO_OCR.join(parts)
    with pytest.raises(UnsupportedDocument) as with_ocr:
        WITH_OCR.join(parts)
    assert (no_ocr.value.code, with_ocr.value.code) == ("no_text_layer", "empty_document")


def test_parts_mostly_without_a_text_layer_fail_without_ocr() -> None:
    # GIVEN four pages of which three have no text layer (over the 0.5 ratio), one part with the one page of text
    parts = [_part(1, 1, "# Declarations"), _part(2, 4, "", without_text=3)]
    # WHEN they are joined without OCR THEN the document is refused as mostly scans
    with pytest.raises(UnsupportedDocument, match="3 of 4 pages have no text layer") as caught:
        NO_OCR.join(parts)
    assert caught.value.code == "no_text_layer"
    # AND with OCR the same parts join into the page that has text
    joined = WITH_OCR.join(parts)
    assert (joined.markdown, joined.page_count, joined.pages_without_text) == ("# Declarations", 4, 3)
