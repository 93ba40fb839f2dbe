"""The Textract OCR engine against responses of AnalyzeDocument's documented shape, through botocore's Stubber:
Blocks become headings, paragraphs, list items and pipe tables; confidences are averaged per page; errors
become transient or permanent codes. No network: the Stubber answers every call."""

from __future__ import annotations

import io
from typing import Any

import boto3
import pypdfium2 as pdfium
import pytest
from botocore.stub import ANY, Stubber
from reportlab.pdfgen import canvas

from docintake.errors import DependencyUnavailable, UnsupportedDocument
from docintake.parsing.local import LocalParser
from docintake.parsing.ocr import PageImage
from docintake.parsing.textract import TextractEngine, page_from_blocks


def _box(left: float, top: float, width: float = 0.3, height: float = 0.02) -> dict[str, Any]:
    return {
        "BoundingBox": {"Left": left, "Top": top, "Width": width, "Height": height},
        "Polygon": [{"X": left, "Y": top}, {"X": left + width, "Y": top + height}],
    }


def _block(kind: str, block_id: str, *, text: str | None = None, confidence: float = 99.0, top: float = 0.1,
           left: float = 0.1, children: list[str] | None = None, **extra: Any) -> dict[str, Any]:  # fmt: skip
    block: dict[str, Any] = {"BlockType": kind, "Id": block_id, "Confidence": confidence, "Geometry": _box(left, top)}
    if text is not None:
        block["Text"] = text
    if children:
        block["Relationships"] = [{"Type": "CHILD", "Ids": children}]
    block.update(extra)
    return block


def _words(prefix: str, text: str, top: float, confidence: float = 99.0) -> tuple[list[dict[str, Any]], list[str]]:
    words = [
        _block("WORD", f"{prefix}-w{i}", text=word, top=top, confidence=confidence, TextType="PRINTED")
        for i, word in enumerate(text.split())
    ]
    return words, [w["Id"] for w in words]


def _line(block_id: str, text: str, top: float, confidence: float = 99.0) -> list[dict[str, Any]]:
    words, ids = _words(block_id, text, top, confidence)
    return [_block("LINE", block_id, text=text, top=top, confidence=confidence, children=ids), *words]


def _benefits_page() -> list[dict[str, Any]]:
    """A page as AnalyzeDocument with TABLES and LAYOUT describes it: a title, a section header, a paragraph
    of two lines, a list of two items, a page number, and a 3x3 table whose first header cell spans two rows."""
    blocks: list[dict[str, Any]] = []
    blocks += _line("l-title", "Summary of Benefits", 0.05)
    blocks += _line("l-header", "Medical Events", 0.10)
    blocks += _line("l-p1", "The deductible applies", 0.15, confidence=90.0)
    blocks += _line("l-p2", "before coinsurance.", 0.17, confidence=80.0)
    blocks += _line("l-i1", "Emergency care", 0.22)
    blocks += _line("l-i2", "Urgent care", 0.24)
    blocks += _line("l-page", "Page 1 of 2", 0.95)
    cells = [
        # (row, column, row span, column span, text)
        (1, 1, 2, 1, "Service"),
        (1, 2, 1, 2, "Cost"),
        (2, 2, 1, 1, "In network"),
        (2, 3, 1, 1, "Out of network"),
        (3, 1, 1, 1, "Primary care"),
        (3, 2, 1, 1, "$20 copay"),
        (3, 3, 1, 1, "40% coinsurance"),
    ]
    cell_ids: list[str] = []
    table_lines: list[str] = []
    for row, column, row_span, column_span, text in cells:
        line_id = f"l-cell-{row}-{column}"
        blocks += _line(line_id, text, 0.3 + 0.05 * row)
        table_lines.append(line_id)
        cell_id = f"c-{row}-{column}"
        cell_ids.append(cell_id)
        blocks.append(
            _block(
                "CELL",
                cell_id,
                top=0.3 + 0.05 * row,
                children=[f"{line_id}-w{i}" for i in range(len(text.split()))],
                RowIndex=row,
                ColumnIndex=column,
                RowSpan=row_span,
                ColumnSpan=column_span,
            )
        )
    table = _block("TABLE", "t-1", top=0.33, children=cell_ids, EntityTypes=["STRUCTURED_TABLE"])
    table["Geometry"] = _box(0.1, 0.33, 0.8, 0.2)
    blocks.append(table)
    layout = [
        _block("LAYOUT_TITLE", "y-title", top=0.05, children=["l-title"]),
        _block("LAYOUT_SECTION_HEADER", "y-header", top=0.10, children=["l-header"]),
        _block("LAYOUT_TEXT", "y-text", top=0.15, children=["l-p1", "l-p2"]),
        _block("LAYOUT_LIST", "y-list", top=0.22, children=["y-i1", "y-i2"]),
        _block("LAYOUT_TEXT", "y-i1", top=0.22, children=["l-i1"]),
        _block("LAYOUT_TEXT", "y-i2", top=0.24, children=["l-i2"]),
        _block("LAYOUT_TABLE", "y-table", top=0.33, children=table_lines),
        _block("LAYOUT_PAGE_NUMBER", "y-page", top=0.95, children=["l-page"]),
    ]
    layout[6]["Geometry"] = _box(0.1, 0.33, 0.8, 0.2)
    page = _block("PAGE", "p-1", top=0.0, children=[b["Id"] for b in blocks if b["BlockType"] == "LINE"])
    return [page, *blocks, *layout]


def _response(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"DocumentMetadata": {"Pages": 1}, "Blocks": blocks, "AnalyzeDocumentModelVersion": "1.0"}


@pytest.fixture
def textract() -> Any:
    return boto3.client("textract", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_blocks_become_markdown_with_headings_lists_and_a_spanning_table(textract: Any) -> None:
    # GIVEN Textract's answer for one page image
    png = PageImage(width=2, height=1, pixels=b"\x00\xff")
    with Stubber(textract) as stub:
        stub.add_response(
            "analyze_document",
            _response(_benefits_page()),
            {"Document": {"Bytes": png.png()}, "FeatureTypes": ["TABLES", "LAYOUT"]},
        )
        # WHEN the engine reads the page
        page = TextractEngine(client=textract).read(png)
        stub.assert_no_pending_responses()
    # THEN the layout gives the structure, the table keeps its cells (a spanning cell's text once), the page
    # number is left out, and the confidence is the LINEs' mean on a 0..1 scale
    assert page.blocks == (
        "# Summary of Benefits",
        "## Medical Events",
        "The deductible applies before coinsurance.",
        "- Emergency care",
        "- Urgent care",
        "| Service | Cost |  |\n| --- | --- | --- |\n|  | In network | Out of network |\n"
        "| Primary care | $20 copay | 40% coinsurance |",
    )
    lines = [b for b in _benefits_page() if b["BlockType"] == "LINE"]
    expected = sum(b["Confidence"] * len(b["Text"]) for b in lines) / sum(len(b["Text"]) for b in lines) / 100
    assert page.confidence == pytest.approx(expected)
    assert 0.9 < page.confidence < 0.99


def test_without_layout_lines_are_read_top_to_bottom_and_table_words_not_repeated() -> None:
    # GIVEN blocks from an analysis without LAYOUT: a line below a table, a line above it
    blocks = [b for b in _benefits_page() if not b["BlockType"].startswith("LAYOUT_")]
    # WHEN they become a page
    page = page_from_blocks(blocks)
    # THEN lines come by position, the table sits between them, and cell words appear only in the table
    assert page.blocks[0] == "Summary of Benefits"
    table = next(i for i, b in enumerate(page.blocks) if b.startswith("|"))
    assert page.blocks[table - 1] == "Urgent care" and page.blocks[table + 1] == "Page 1 of 2"
    assert sum("Primary care" in b for b in page.blocks) == 1


@pytest.mark.parametrize(
    ("error", "raised", "code"),
    [
        ("ThrottlingException", DependencyUnavailable, "ocr_throttled"),
        ("ProvisionedThroughputExceededException", DependencyUnavailable, "ocr_throttled"),
        ("InternalServerError", DependencyUnavailable, "ocr_unavailable"),
        ("InvalidParameterException", UnsupportedDocument, "ocr_invalid_parameter"),
        ("UnsupportedDocumentException", UnsupportedDocument, "ocr_unsupported_document"),
        ("BadDocumentException", UnsupportedDocument, "ocr_bad_document"),
    ],
)
def test_errors_become_transient_or_permanent_codes(textract: Any, error: str, raised: type, code: str) -> None:
    # GIVEN Textract answering with an error
    with Stubber(textract) as stub:
        stub.add_client_error("analyze_document", service_error_code=error, http_status_code=400)
        # WHEN a page is read
        with pytest.raises(raised) as caught:
            TextractEngine(client=textract).read(PageImage(encoded=b"\x89PNG fake"))
    # THEN the error carries its code, and its class decides retry (transient) or failure (permanent)
    assert caught.value.code == code


def test_a_scanned_pdf_page_is_sent_as_a_png_and_the_document_reports_it(textract: Any) -> None:
    # GIVEN a PDF of two pages, the second with no text layer (a drawn rectangle only)
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=(300, 200))
    c.drawString(20, 150, "Declarations page with text")
    c.showPage()
    c.rect(20, 20, 100, 50, fill=1)
    c.showPage()
    c.save()
    blocks = _line("l-1", "Endorsement scanned", 0.1, confidence=62.0)
    with Stubber(textract) as stub:
        stub.add_response(
            "analyze_document", _response(blocks), {"Document": {"Bytes": ANY}, "FeatureTypes": ["TABLES", "LAYOUT"]}
        )
        parser = LocalParser(
            max_pages=10, max_scanned_page_ratio=0.5, timeout_seconds=60, memory_mb=512, ocr=TextractEngine(textract)
        )
        # WHEN it is parsed in process (the sandbox forks; the stubbed client answers in the child)
        parsed = parser.parse(buffer.getvalue(), "application/pdf", heartbeat=lambda: None)
        # (the child consumed the stubbed answer in its own copy of the client)
    # THEN page 2's text is from Textract, in page order, reported with its low confidence
    assert parsed.markdown.index("Declarations page") < parsed.markdown.index("Endorsement scanned")
    assert parsed.ocr_pages == (2,)
    assert parsed.page_confidence == ((2, 0.62),)
    assert "ocr_low_confidence:2" in parsed.warnings


def test_page_images_over_ten_megabytes_are_refused_before_any_call(textract: Any) -> None:
    # GIVEN a client that records every call it is asked to make, stubbed with no answer queued
    calls: list[str] = []
    textract.meta.events.register(
        "before-parameter-build.textract.*", lambda model, **_: calls.append(model.name), unique_id="record-calls"
    )
    with Stubber(textract) as stub:
        # WHEN a page image of 10 MB + 1 byte is read
        with pytest.raises(UnsupportedDocument) as caught:
            TextractEngine(client=textract).read(PageImage(encoded=b"\x00" * (10 * 1024 * 1024 + 1)))
        # THEN it is refused with its code, and Textract was never called
        stub.assert_no_pending_responses()
    assert caught.value.code == "ocr_document_too_large"
    assert calls == []
    # (the recorder does see a call: one of 10 MB exactly is sent)
    with Stubber(textract) as stub:
        stub.add_response("analyze_document", _response([]))
        TextractEngine(client=textract).read(PageImage(encoded=b"\x00" * (10 * 1024 * 1024)))
    assert calls == ["AnalyzeDocument"]


def test_rendered_pages_are_valid_pngs() -> None:
    # GIVEN a rendered page (what is sent for a scanned PDF page)
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=(100, 50))
    c.drawString(10, 20, "x")
    c.showPage()
    c.save()
    from docintake.parsing.ocr import render_page

    pdf = pdfium.PdfDocument(buffer.getvalue())
    page = render_page(pdf, 0)
    pdf.close()
    # THEN it is a PNG of the page at 200 dpi
    png = page.png()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert (page.width, page.height) == (round(100 * 200 / 72), round(50 * 200 / 72))


def test_a_service_engine_reads_several_pages_at_once_and_keeps_their_order() -> None:
    import struct
    import threading
    import time

    from docintake.parsing.ocr import OcrPage, ocr_pdf_pages

    # GIVEN a six-page scan (no text layer; each page a drawn box, each page a different height) and an engine
    # that takes a moment per page and may read three at once
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=(100, 100))
    for number in range(1, 7):
        c.setPageSize((100, 60 + 10 * number))
        c.rect(10, 10, 50, 30, fill=1)
        c.showPage()
    c.save()

    class SlowService:
        name = "slow"
        concurrency = 3

        def __init__(self) -> None:
            self.active = self.most = 0
            self.lock = threading.Lock()

        def read(self, page: PageImage) -> OcrPage:
            with self.lock:
                self.active += 1
                self.most = max(self.most, self.active)
            time.sleep(0.05)
            with self.lock:
                self.active -= 1
            height = struct.unpack(">I", page.png()[20:24])[0]  # the PNG's IHDR height
            return OcrPage((f"page {height}",), 0.9)

    engine = SlowService()
    pdf = pdfium.PdfDocument(buffer.getvalue())
    # WHEN the pages are read
    result = ocr_pdf_pages(pdf, [0] * 6, engine)
    pdf.close()
    # THEN calls overlapped (up to the engine's concurrency), and each page got its own answer, in page order
    assert 1 < engine.most <= 3
    assert result.page_numbers == (1, 2, 3, 4, 5, 6)
    heights = [int(result.pages[n].blocks[0].split()[1]) for n in result.page_numbers]
    assert heights == sorted(heights) and len(set(heights)) == 6
    assert all(abs(h - (60 + 10 * n) * 200 / 72) <= 2 for n, h in enumerate(heights, start=1))
