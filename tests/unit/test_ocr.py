"""OCR with the local engine (RapidOCR): scanned PDFs, mixed PDFs and image uploads become Markdown with their
words, tables and a page map, and every OCR'd page is reported with its confidence.

The inputs are made in code (tests/scanned_documents.py): text drawn with reportlab, rasterised by pypdfium2,
and the picture embedded in a new PDF with no text layer (or saved here as PNG, JPEG, TIFF). Pages are small,
so the few OCR runs stay fast."""

from __future__ import annotations

import io
import json
import os
import signal
import struct
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from docintake.errors import UnsupportedDocument
from docintake.parsing import PageMap, ParsedDocument
from docintake.parsing.local import LocalParser
from docintake.parsing.ocr import (
    OcrPage,
    OcrResult,
    PageImage,
    RapidOcrEngine,
    Rule,
    TextBox,
    encode_png,
    find_rules,
    image_pages,
    page_from_boxes,
    tiff_directories,
    tiff_page,
    with_confidence_warnings,
)
from docintake.parsing.sandbox import Sandbox
from docintake_cli.main import main
from tests.scanned_documents import SCAN_PAGE, born_digital, raster, scanned, text_strip


@pytest.fixture(scope="module")
def scan_image() -> Image.Image:
    return raster(born_digital([SCAN_PAGE]))[0]


@pytest.fixture(scope="module")
def parser() -> LocalParser:
    return LocalParser(
        max_pages=50, max_scanned_page_ratio=0.5, timeout_seconds=120, memory_mb=1536, ocr=RapidOcrEngine()
    )


@pytest.fixture(scope="module")
def scanned_pdf(parser: LocalParser, scan_image: Image.Image) -> ParsedDocument:
    return parser.parse(scanned([scan_image]), "application/pdf", heartbeat=lambda: None)


def _assert_scan_read(markdown: str) -> None:
    assert "Summary of Benefits" in markdown
    assert "deductible applies before coinsurance" in markdown
    # The ruled table comes back as a pipe table with its cells in place.
    assert "| Service | In network | Out of network |" in markdown
    assert "| Primary care | $20 copay |" in markdown
    assert "coinsurance |" in markdown.split("| Primary care", 1)[1]


def test_scanned_pdf_is_read_in_the_sandbox_with_its_table_and_confidence(scanned_pdf: ParsedDocument) -> None:
    # GIVEN a one-page PDF that is a picture of a heading, a sentence and a ruled table (no text layer)
    # WHEN the local parser reads it (OCR inside the sandbox's child, under its memory cap)
    # THEN the Markdown has the words, the heading and the table, and the page is reported as OCR'd
    _assert_scan_read(scanned_pdf.markdown)
    # The 20-pt title is 1.67 times the 12-pt body: a second-level heading (a first needs 1.8 times).
    assert scanned_pdf.markdown.startswith("## Summary of Benefits\n\n")
    assert scanned_pdf.ocr_pages == (1,)
    [(page, confidence)] = scanned_pdf.page_confidence
    assert page == 1 and 0.9 <= confidence <= 1.0
    assert scanned_pdf.pages_without_text == 0
    assert not [w for w in scanned_pdf.warnings if w.startswith("ocr_")]


def test_mixed_pdf_keeps_text_and_scanned_pages_in_order(parser: LocalParser, scan_image: Image.Image) -> None:
    # GIVEN a PDF whose first page has a text layer and whose second is a scan under a text layer of only
    # a stamped page number (nearly empty, while the image covers the page)
    data = scanned([None, scan_image], stamp="p. 2")
    # WHEN it is parsed
    parsed = parser.parse(data, "application/pdf", heartbeat=lambda: None)
    # THEN both pages are there in order, the page map points at each, and only page 2 went through OCR
    markdown = parsed.markdown
    assert markdown.index("Harbor Freight Logistics") < markdown.index("Summary of Benefits")
    assert parsed.page_map.pages == (1, 2)
    assert parsed.page_map.page_at(markdown.index("Harbor Freight")) == 1
    assert parsed.page_map.page_at(markdown.index("Primary care")) == 2
    assert parsed.ocr_pages == (2,)
    assert [p for p, _ in parsed.page_confidence] == [2]


def test_images_png_jpeg_and_multipage_tiff(parser: LocalParser, scan_image: Image.Image) -> None:
    # GIVEN the scan as a PNG, and a TIFF of two pages (the top of the scan, then a line of other text)
    second = text_strip()
    png, tiff = io.BytesIO(), io.BytesIO()
    scan_image.save(png, format="PNG")
    first = scan_image.crop((0, 0, scan_image.width, 280))  # the heading and the sentence, not the table
    first.save(tiff, format="TIFF", save_all=True, append_images=[second], compression="tiff_deflate")
    # WHEN each is parsed
    from_png = parser.parse(png.getvalue(), "image/png", heartbeat=lambda: None)
    from_tiff = parser.parse(tiff.getvalue(), "image/tiff", heartbeat=lambda: None)
    # THEN the PNG reads as the scanned page did, and the TIFF is a two-page document in page order
    _assert_scan_read(from_png.markdown)
    assert from_png.ocr_pages == (1,) and from_png.page_count == 1
    assert from_tiff.page_count == 2 and from_tiff.ocr_pages == (1, 2)
    assert from_tiff.page_map.pages == (1, 2)
    assert from_tiff.page_map.page_at(from_tiff.markdown.index("Harbor Freight")) == 2
    assert from_tiff.markdown.index("Summary of Benefits") < from_tiff.markdown.index("Harbor Freight")


def test_jpeg_upload_is_read(parser: LocalParser) -> None:
    # GIVEN a JPEG photo-like scan of a page of text (no table: lossy compression blurs thin rules)
    image = text_strip()
    jpeg = io.BytesIO()
    image.convert("RGB").save(jpeg, format="JPEG", quality=70)
    # WHEN it is parsed
    parsed = parser.parse(jpeg.getvalue(), "image/jpeg", heartbeat=lambda: None)
    # THEN its words come back
    assert "Policy Declarations" in parsed.markdown
    assert "Harbor Freight Logistics" in parsed.markdown


def test_blank_scan_fails_empty_document_and_ocr_none_keeps_no_text_layer(scan_image: Image.Image) -> None:
    # GIVEN a small scanned page with nothing on it
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=(200, 100))
    c.drawImage(ImageReader(Image.new("L", (400, 200), 255)), 0, 0, width=200, height=100)
    c.showPage()
    c.save()
    blank = buffer.getvalue()
    ocr = LocalParser(max_pages=5, max_scanned_page_ratio=0.5, timeout_seconds=60, memory_mb=1536, ocr=RapidOcrEngine())
    no_ocr = LocalParser(max_pages=5, max_scanned_page_ratio=0.5, timeout_seconds=60, memory_mb=1536, ocr=None)
    # WHEN it is parsed with OCR, and a real scan without
    # THEN OCR finding nothing is empty_document, and with OCR off a scan is still refused as before
    with pytest.raises(UnsupportedDocument) as empty:
        ocr.parse(blank, "application/pdf", heartbeat=lambda: None)
    assert empty.value.code == "empty_document"
    with pytest.raises(UnsupportedDocument) as refused:
        no_ocr.parse(scanned([scan_image]), "application/pdf", heartbeat=lambda: None)
    assert refused.value.code == "no_text_layer"
    with pytest.raises(UnsupportedDocument) as image_refused:
        no_ocr.parse(encode_png(b"\xff" * 4, 2, 2), "image/png", heartbeat=lambda: None)
    assert image_refused.value.code == "no_text_layer"


# --- pieces without the engine -------------------------------------------------------------------------------


def test_boxes_become_lines_paragraphs_headings_and_a_grid_table() -> None:
    # GIVEN boxes as an engine returns them: a tall title, two lines of one paragraph (the second box of the
    # first line read before the first), a gap, a list item, and a 2x2 ruled table
    boxes = [
        TextBox("Coverage Summary", 0.99, 100, 100, 600, 160),
        TextBox("applies to all", 0.98, 420, 200, 700, 230),
        TextBox("The deductible", 0.97, 100, 202, 400, 232),
        TextBox("covered services.", 0.96, 100, 240, 450, 270),
        TextBox("1. Emergency care", 0.95, 100, 330, 450, 360),
        TextBox("Service", 0.9, 110, 420, 250, 450),
        TextBox("Copay", 0.9, 510, 420, 640, 450),
        TextBox("Specialist", 0.9, 110, 480, 280, 510),
        TextBox("$50", 0.9, 510, 480, 580, 510),
    ]
    rules = [Rule(True, y, 100, 900) for y in (400, 465, 530)] + [Rule(False, x, 400, 530) for x in (100, 500, 900)]
    # WHEN they become a page
    page = page_from_boxes(boxes, rules)
    # THEN each structure is where it belongs, in reading order
    assert page.blocks == (
        "# Coverage Summary",
        "The deductible applies to all covered services.",
        "1. Emergency care",
        "| Service | Copay |\n| --- | --- |\n| Specialist | $50 |",
    )
    assert 0.9 < page.confidence < 0.99


def test_low_confidence_and_empty_pages_are_warnings() -> None:
    # GIVEN OCR results: page 1 read well, page 2 poorly, page 3 with nothing
    result = OcrResult()
    result.pages[1] = page_from_boxes([TextBox("fine", 0.97, 0, 0, 10, 10)])
    result.pages[2] = page_from_boxes([TextBox("smudge", 0.41, 0, 0, 10, 10)])
    result.pages[3] = page_from_boxes([])
    parsed = ParsedDocument(
        "x\n",
        PageMap((1,), (0,)),
        3,
        1,
        ocr_pages=result.page_numbers,
        page_confidence=result.page_confidence,
        warnings=result.warnings,
    )
    # WHEN the parser applies its threshold
    warned = with_confidence_warnings(parsed, 0.8)
    # THEN the poor page and the empty page are named, the good one is not
    assert warned.warnings == ("ocr_no_text:3", "ocr_low_confidence:2")
    assert parsed.page_confidence == ((1, 0.97), (2, 0.41), (3, 0.0))


def test_png_encoder_and_tiff_split_need_no_image_library() -> None:
    # GIVEN 3x2 grey pixels and a two-page TIFF
    pixels = bytes([0, 128, 255, 255, 128, 0])
    png = encode_png(pixels, 3, 2)
    tiff = io.BytesIO()
    Image.new("L", (5, 4), 10).save(tiff, format="TIFF", save_all=True, append_images=[Image.new("L", (7, 3), 200)])
    # WHEN the PNG is decoded and the TIFF split
    decoded = Image.open(io.BytesIO(png))
    directories = tiff_directories(tiff.getvalue(), max_pages=10)
    pages = [Image.open(io.BytesIO(tiff_page(tiff.getvalue(), d))) for d in directories]
    # THEN the pixels survive, and each split file is one page of the right size
    assert decoded.mode == "L" and decoded.size == (3, 2) and decoded.tobytes() == pixels
    assert [page.size for page in pages] == [(5, 4), (7, 3)]
    assert [getattr(page, "n_frames", 1) for page in pages] == [1, 1]
    # The pages of an upload share its bytes until each is read (no copy of a 50 MB file per page).
    data = tiff.getvalue()
    uploaded = image_pages(data, "image/tiff", max_pages=10)
    assert len(uploaded) == 2 and all(page.encoded is data for page in uploaded)
    assert [Image.open(io.BytesIO(page.png())).size for page in uploaded] == [(5, 4), (7, 3)]
    assert PageImage(width=3, height=2, pixels=pixels).png() == png
    with pytest.raises(UnsupportedDocument) as too_many:
        tiff_directories(tiff.getvalue(), max_pages=1)
    assert too_many.value.code == "too_many_pages"
    # A directory chain that loops back on itself is refused, not followed forever.
    looped = bytearray(tiff.getvalue())
    first = struct.unpack_from("<I", looped, 4)[0]
    entries = struct.unpack_from("<H", looped, first)[0]
    struct.pack_into("<I", looped, first + 2 + 12 * entries, first)
    with pytest.raises(UnsupportedDocument) as loop:
        tiff_directories(bytes(looped), max_pages=10)
    assert loop.value.code == "corrupt_image"


def test_cli_parse_json_reports_ocr_pages_and_confidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a PNG scan of a line of text, and the default settings (OCR_ENGINE=local)
    path = tmp_path / "declarations.png"
    text_strip().save(path, format="PNG")
    # WHEN `docintake parse FILE --json` reads it
    assert main(["parse", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    # THEN the Markdown has its words and the JSON names the OCR'd page with its confidence
    assert "Harbor Freight Logistics" in document["markdown"]
    assert document["ocr_pages"] == [1]
    [page] = document["page_confidence"]
    assert page["page"] == 1 and 0.8 <= page["confidence"] <= 1.0


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"garbage" * 10, "image/jpeg"),
        (b"II*\x00" + b"\xff\xff\xff\x7f", "image/tiff"),
        (b"MM\x00+\x00\x08", "image/tiff"),  # BigTIFF
    ],
    ids=["png", "jpeg", "tiff-offset-past-end", "bigtiff"],
)
def test_broken_images_fail_with_corrupt_image(parser: LocalParser, data: bytes, content_type: str) -> None:
    # GIVEN image bytes that do not decode  WHEN parsed  THEN a permanent failure with its code
    with pytest.raises(UnsupportedDocument) as caught:
        parser.parse(data, content_type, heartbeat=lambda: None)
    assert caught.value.code == "corrupt_image"


def test_ruling_lines_are_found_in_the_image_even_scanned_askew() -> None:
    import cv2
    import numpy as np

    # GIVEN a white page with a level rule, a rule 1.4 degrees askew, a vertical rule and a line of "text"
    page = np.full((800, 1000), 255, dtype=np.uint8)
    cv2.line(page, (100, 100), (900, 100), 0, 2)
    cv2.line(page, (100, 300), (900, 320), 0, 2)
    cv2.line(page, (500, 400), (500, 700), 0, 2)
    for x in range(100, 600, 12):  # glyph-sized marks: no rule
        cv2.rectangle(page, (x, 500), (x + 7, 512), 0, -1)
    # WHEN rules are looked for
    rules = find_rules(page)
    # THEN the three rules are found with their extent, and the marks are not rules
    horizontal = sorted((round(r.at), round(r.start), round(r.end)) for r in rules if r.horizontal)
    vertical = [(round(r.at), round(r.start), round(r.end)) for r in rules if not r.horizontal]
    assert [(at // 10, start // 10, end // 10) for at, start, end in horizontal] == [(10, 10, 90), (31, 10, 90)]
    assert [(at // 10, start // 10, end // 10) for at, start, end in vertical] == [(50, 40, 70)]


def test_documents_show_prints_ocr_pages_their_confidence_and_warnings() -> None:
    from docintake_cli.documents import _parse_notes

    # GIVEN a document view as GET /documents/{id} returns it
    view = {
        "page_confidence": [{"page": 2, "confidence": 0.973}, {"page": 3, "confidence": 0.612}],
        "warnings": ["ocr_low_confidence:3"],
    }
    # WHEN `documents show` prints it THEN the user reads which pages were OCR'd, how well, and the warning
    assert _parse_notes(view) == [
        "  OCR'd pages (mean confidence): 2 (97%), 3 (61%)",
        "  warnings: ocr_low_confidence:3",
    ]
    assert _parse_notes({"page_confidence": [], "warnings": []}) == []


# --- hostile images and the engine's failures ---------------------------------------------------------------


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height grey pixels but holds almost none: PIL judges it by its header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_pages_a_few_pixels_thin_are_empty_pages_and_thin_strips_are_read(parser: LocalParser) -> None:
    # GIVEN 1 x 3000 and 4000 x 2 pixel pages, a PDF whose second page is 0.1 pt wide and 14400 pt tall (no
    # text layer), and a 3400 x 26 pixel strip holding one line of text
    thin = [
        PageImage(width=1, height=3000, pixels=b"\x00" * 3000),
        PageImage(width=4000, height=2, pixels=b"\x00" * 8000),
    ]
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=(300, 200))
    c.drawString(20, 150, "Declarations page with text")
    c.showPage()
    c.setPageSize((0.1, 14400))
    c.rect(0, 0, 0.1, 14400, fill=1)
    c.showPage()
    c.save()
    line = text_strip().crop((0, 204, 1700, 244)).resize((1105, 26))
    strip = Image.new("L", (3400, 26), 255)
    strip.paste(line, (0, 0))
    # WHEN they are read (RapidOCR's resizing to multiples of 32 px turned such sides into 0 and raised)
    # THEN the thin pages are empty pages, reported like any empty page, and the strip's words come back
    assert [RapidOcrEngine().read(page) for page in thin] == [OcrPage((), 0.0)] * 2
    parsed = parser.parse(buffer.getvalue(), "application/pdf", heartbeat=lambda: None)
    assert "Declarations page with text" in parsed.markdown
    assert parsed.ocr_pages == (2,) and "ocr_no_text:2" in parsed.warnings
    read = Sandbox(timeout_seconds=60, memory_mb=1536).run(
        lambda: RapidOcrEngine().read(PageImage(width=3400, height=26, pixels=strip.tobytes()))
    )
    assert read.blocks == ("Named insured: Harbor Freight Logistics LLC",)


def test_engine_failures_are_corrupt_image_or_out_of_memory() -> None:
    # GIVEN an engine whose OCR session raises, as RapidOCR and onnxruntime do
    def failing(message: str) -> RapidOcrEngine:
        def session(grey: object) -> None:
            raise RuntimeError(message)

        return RapidOcrEngine(_ocr=session)

    page = PageImage(width=100, height=100, pixels=b"\x00" * 10_000)
    # WHEN a page is read THEN a failed allocation is a MemoryError (the sandbox's parse_memory), anything
    # else about the image a permanent corrupt_image, not an unknown error retried then dead-lettered
    with pytest.raises(MemoryError):
        failing("onnxruntime: Failed to allocate memory for requested buffer").read(page)
    with pytest.raises(UnsupportedDocument) as caught:
        failing("ResizeImgError").read(page)
    assert caught.value.code == "corrupt_image"


def test_images_over_the_pixel_cap_are_too_large_without_a_warning() -> None:
    # GIVEN PNGs declaring 121 and 225 million pixels (past PIL's own limit it warned on stderr up to twice
    # it, and decoded the image anyway)
    engine = RapidOcrEngine()
    for side in (11_000, 15_000):
        page = PageImage(encoded=_png_header(side, side))
        # WHEN each is read THEN it is refused as too large before decoding, and nothing is warned
        with warnings.catch_warnings(record=True) as warned, pytest.raises(UnsupportedDocument) as caught:
            warnings.simplefilter("always")
            engine.read(page)
        assert caught.value.code == "too_large"
        assert not warned


def test_a_crash_reading_an_image_upload_says_the_image_is_damaged() -> None:
    # GIVEN an engine that dies by SIGSEGV in the sandbox's child (as a crash in PIL, libtiff or onnxruntime)
    class CrashingEngine:
        name = "crashing"
        concurrency = 1

        def read(self, page: PageImage) -> OcrPage:
            os.kill(os.getpid(), signal.SIGSEGV)
            raise AssertionError("unreachable")

    parser = LocalParser(
        max_pages=5, max_scanned_page_ratio=0.5, timeout_seconds=30, memory_mb=512, ocr=CrashingEngine()
    )
    # WHEN a PNG upload is parsed THEN the code names the image, not a PDF
    with pytest.raises(UnsupportedDocument) as caught:
        parser.parse(encode_png(b"\x00" * 400, 20, 20), "image/png", heartbeat=lambda: None)
    assert caught.value.code == "corrupt_image"


def test_the_cpu_limit_leaves_a_parse_on_every_cpu_its_whole_wall_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    # GIVEN a sandbox of 240.5 s, on a host where the child may use 4 CPUs (onnxruntime uses all of them),
    # then on one where only os.cpu_count() tells (3)
    sandbox = Sandbox(timeout_seconds=240.5, memory_mb=512)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    on_four = sandbox.cpu_seconds
    # WHEN the child sets its limits THEN RLIMIT_CPU is the wall limit on every CPU plus slack, not the wall
    # limit alone (which SIGXCPU'd a 2-CPU OCR parse at half its time)
    assert on_four == 241 * 4 + 2
    assert sandbox.run(lambda: resource.getrlimit(resource.RLIMIT_CPU)) == (on_four, on_four + 1)
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert sandbox.cpu_seconds == 241 * 3 + 2
