"""The local parser provider: PDFs through pypdfium2 in the sandbox, scanned pages and image uploads through
an OCR engine (RapidOCR on this machine, Textract on AWS; see ocr.py), text and Markdown passed through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

from docintake.config import ContentType, Settings
from docintake.errors import UnsupportedDocument
from docintake.parsing import Heartbeat, ParsedDocument, ParsedPart, join_parts, parse_document

# Imported here, before any fork, so the sandboxed child finds the parser loaded instead of importing it.
from docintake.parsing.docx import parse_docx  # noqa: F401
from docintake.parsing.ocr import IMAGE_TYPES, OcrEngine, RapidOcrEngine, parse_images, with_confidence_warnings
from docintake.parsing.pdf import parse_pdf, parse_pdf_pages, pdf_page_count
from docintake.parsing.sandbox import Sandbox
from docintake.vocabulary import ErrorCode


@dataclass(frozen=True)
class LocalParser:
    max_pages: int
    max_scanned_page_ratio: float
    timeout_seconds: float
    memory_mb: int
    name: str = "local"
    # None: no OCR, and a document mostly of scans fails with no_text_layer (max_scanned_page_ratio).
    ocr: OcrEngine | None = None
    ocr_min_confidence: float = 0.8

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalParser:
        return cls(
            max_pages=settings.max_pages,
            max_scanned_page_ratio=settings.max_scanned_page_ratio,
            timeout_seconds=settings.parse_timeout_seconds,
            memory_mb=settings.parse_memory_mb,
            ocr=ocr_engine_from_settings(settings),
            ocr_min_confidence=settings.ocr_min_confidence,
        )

    @property
    def sandbox(self) -> Sandbox:
        return Sandbox(timeout_seconds=self.timeout_seconds, memory_mb=self.memory_mb)

    def parse(self, data: bytes, content_type: str, *, heartbeat: Heartbeat) -> ParsedDocument:
        if isinstance(self.ocr, RapidOcrEngine) and content_type in (ContentType.PDF, *IMAGE_TYPES):
            self.ocr.preload()  # once per process, before the fork
        if content_type == "application/pdf":
            # Untrusted bytes into a C library: see sandbox.py for the limits and what each failure becomes.
            # The OCR engine, if any, starts in the child too (onnxruntime's threads do not survive a fork).
            work = partial(parse_pdf, data, max_pages=self.max_pages, ocr=self.ocr)
            parsed = self.sandbox.run(work, heartbeat=heartbeat)
        elif content_type in IMAGE_TYPES:
            if self.ocr is None:
                raise UnsupportedDocument(
                    "an image needs OCR, which is off (OCR_ENGINE=none)", code=ErrorCode.NO_TEXT_LAYER
                )
            work = partial(parse_images, data, content_type, self.ocr, max_pages=self.max_pages)
            # A crash here is in PIL, libtiff, OpenCV or onnxruntime on the image: not "the PDF is damaged".
            parsed = replace(self.sandbox, crash_code=ErrorCode.CORRUPT_IMAGE).run(work, heartbeat=heartbeat)
        elif content_type in (ContentType.DOCX, ContentType.HTML):
            # DOCX: lxml (C) on untrusted XML, a tree several times the inflated part's size. HTML: html.parser
            # has quadratic paths on malformed markup (html.py avoids the known ones). Same limits as PDFs.
            work = partial(parse_document, data, content_type, max_pages=self.max_pages)
            crash_code = ErrorCode.CORRUPT_DOCX if content_type == ContentType.DOCX else ErrorCode.CORRUPT_HTML
            parsed = replace(self.sandbox, crash_code=crash_code).run(work, heartbeat=heartbeat)
        else:
            # Decoding UTF-8 cannot hang or balloon, so text and Markdown stay in-process.
            parsed = parse_document(data, content_type, max_pages=self.max_pages)
        return self._checked(parsed)

    def page_count(self, data: bytes, content_type: str) -> int | None:
        """PDFs are parsed by page range when large; the count is read in the sandbox like a parse."""
        if content_type != ContentType.PDF:
            return None
        count: int = self.sandbox.run(partial(pdf_page_count, data, max_pages=self.max_pages), heartbeat=lambda: None)
        return count

    def parse_pages(self, data: bytes, content_type: str, first: int, last: int, *, heartbeat: Heartbeat) -> ParsedPart:
        if content_type != ContentType.PDF:
            raise UnsupportedDocument(f"no page-range parser for {content_type}", code=ErrorCode.UNSUPPORTED_TYPE)
        if isinstance(self.ocr, RapidOcrEngine):
            self.ocr.preload()
        work = partial(parse_pdf_pages, data, first, last, max_pages=self.max_pages, ocr=self.ocr)
        part: ParsedPart = self.sandbox.run(work, heartbeat=heartbeat)
        return part

    def join(self, parts: Sequence[ParsedPart]) -> ParsedDocument:
        if self.ocr is None:
            parsed = join_parts(parts, empty="no page has a text layer", empty_code=ErrorCode.NO_TEXT_LAYER)
        else:
            parsed = join_parts(parts, empty="no page has text, OCR included", empty_code=ErrorCode.EMPTY_DOCUMENT)
        return self._checked(parsed)

    def _checked(self, parsed: ParsedDocument) -> ParsedDocument:
        """A document mostly of scans fails without OCR; OCR'd pages of low confidence are warned of."""
        if (
            self.ocr is None
            and parsed.page_count
            and parsed.pages_without_text / parsed.page_count > self.max_scanned_page_ratio
        ):
            raise UnsupportedDocument(
                f"{parsed.pages_without_text} of {parsed.page_count} pages have no text layer",
                code=ErrorCode.NO_TEXT_LAYER,
            )
        return with_confidence_warnings(parsed, self.ocr_min_confidence)


def ocr_engine_from_settings(settings: Settings) -> OcrEngine | None:
    if settings.ocr_engine == "textract":
        from docintake.parsing.textract import TextractEngine

        return TextractEngine()
    if settings.ocr_engine == "local":
        return RapidOcrEngine()
    return None
