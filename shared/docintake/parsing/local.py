"""The local parser provider: no network; PDFs through pypdfium2 in the sandbox, text and Markdown passed through."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

from docintake.config import ContentType, Settings
from docintake.errors import UnsupportedDocument
from docintake.parsing import Heartbeat, ParsedDocument, parse_document

# Imported here, before any fork, so the sandboxed child finds the parser loaded instead of importing it.
from docintake.parsing.docx import parse_docx  # noqa: F401
from docintake.parsing.pdf import parse_pdf
from docintake.parsing.sandbox import Sandbox


@dataclass(frozen=True)
class LocalParser:
    max_pages: int
    max_scanned_page_ratio: float
    timeout_seconds: float
    memory_mb: int
    name: str = "local"

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalParser:
        return cls(
            max_pages=settings.max_pages,
            max_scanned_page_ratio=settings.max_scanned_page_ratio,
            timeout_seconds=settings.parse_timeout_seconds,
            memory_mb=settings.parse_memory_mb,
        )

    @property
    def sandbox(self) -> Sandbox:
        return Sandbox(timeout_seconds=self.timeout_seconds, memory_mb=self.memory_mb)

    def parse(self, data: bytes, content_type: str, *, heartbeat: Heartbeat) -> ParsedDocument:
        if content_type == "application/pdf":
            # Untrusted bytes into a C library: see sandbox.py for the limits and what each failure becomes.
            parsed = self.sandbox.run(partial(parse_pdf, data, max_pages=self.max_pages), heartbeat=heartbeat)
        elif content_type in (ContentType.DOCX, ContentType.HTML):
            # DOCX: lxml (C) on untrusted XML, a tree several times the inflated part's size. HTML: html.parser
            # has quadratic paths on malformed markup (html.py avoids the known ones). Same limits as PDFs.
            work = partial(parse_document, data, content_type, max_pages=self.max_pages)
            crash_code = "corrupt_docx" if content_type == ContentType.DOCX else "corrupt_html"
            parsed = replace(self.sandbox, crash_code=crash_code).run(work, heartbeat=heartbeat)
        else:
            # Decoding UTF-8 cannot hang or balloon, so text and Markdown stay in-process.
            parsed = parse_document(data, content_type, max_pages=self.max_pages)
        if parsed.page_count and parsed.pages_without_text / parsed.page_count > self.max_scanned_page_ratio:
            raise UnsupportedDocument(
                f"{parsed.pages_without_text} of {parsed.page_count} pages have no text layer", code="no_text_layer"
            )
        return parsed
