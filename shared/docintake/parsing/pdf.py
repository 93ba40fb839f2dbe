"""The local PDF parser: pypdfium2 text with font sizes and line positions, turned into Markdown.

Headings come from font size (larger than the body text) or from short all-capital lines; running
headers and footers (the same line, digits aside, at the top or bottom of most pages) are dropped;
lines are re-flowed into paragraphs by their vertical gaps, with hyphenation undone.
"""

from __future__ import annotations

import ctypes
import re
from collections import Counter
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from docintake.errors import UnsupportedDocument
from docintake.parsing import PageMap, ParsedDocument

_LIST_MARKER = re.compile(r"^(?:\d{1,3}[.)]|[a-z][.)]|\([a-z0-9]{1,4}\)|[•▪●◦\-–*])\s+")
_BULLET = re.compile(r"^[•▪●◦–*]\s+")
_DIGITS = re.compile(r"\d+")
_MIN_TEXT_CHARS = 1
_EDGE_LINES = 2


@dataclass
class _Line:
    text: str
    size: float
    top: float
    bottom: float
    bold: bool


def parse_pdf(data: bytes, *, max_pages: int) -> ParsedDocument:
    pdf = _open(data)
    try:
        page_count = len(pdf)
        if page_count == 0:
            raise UnsupportedDocument("PDF has no pages", code="empty_document")
        if page_count > max_pages:
            raise UnsupportedDocument(f"PDF has {page_count} pages, over {max_pages}", code="too_many_pages")
        pages = [_page_lines(pdf, i) for i in range(page_count)]
    finally:
        pdf.close()
    empty = sum(1 for lines in pages if sum(len(line.text.strip()) for line in lines) < _MIN_TEXT_CHARS)
    if empty == page_count:
        raise UnsupportedDocument("no page has a text layer", code="no_text_layer")
    _drop_running_lines(pages)
    body_size = _body_size(pages)
    heading_sizes = sorted({round(line.size) for lines in pages for line in lines if line.size > body_size * 1.15})
    heading_sizes.reverse()

    parts: list[str] = []
    page_numbers: list[int] = []
    starts: list[int] = []
    offset = 0
    for number, lines in enumerate(pages, start=1):
        blocks = _blocks(lines, body_size, heading_sizes)
        if not blocks:
            continue
        text = "\n\n".join(blocks) + "\n\n"
        page_numbers.append(number)
        starts.append(offset)
        parts.append(text)
        offset += len(text)
    markdown = "".join(parts).rstrip() + "\n"
    return ParsedDocument(markdown, PageMap(tuple(page_numbers), tuple(starts)), page_count, empty)


def _open(data: bytes) -> pdfium.PdfDocument:
    if b"%PDF-" not in data[:1024]:
        raise UnsupportedDocument("not a PDF file", code="not_a_pdf")
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise UnsupportedDocument("PDF is encrypted", code="encrypted_pdf") from exc
        raise UnsupportedDocument("PDF could not be read", code="not_a_pdf") from exc


def _page_lines(pdf: pdfium.PdfDocument, index: int) -> list[_Line]:
    page = pdf[index]
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
        lines: list[_Line] = []
        position = 0
        for raw in text.split("\r\n"):
            start = position
            position += len(raw) + 2
            stripped = raw.strip()
            if not stripped:
                continue
            first = start + (len(raw) - len(raw.lstrip()))
            size = float(pdfium_c.FPDFText_GetFontSize(textpage.raw, first))
            _, bottom, _, top = textpage.get_charbox(first, loose=True)
            lines.append(_Line(" ".join(stripped.split()), size, top, bottom, _is_bold(textpage, first)))
        return lines
    finally:
        textpage.close()
        page.close()


def _is_bold(textpage: pdfium.PdfTextPage, index: int) -> bool:
    name = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    pdfium_c.FPDFText_GetFontInfo(textpage.raw, index, name, len(name), ctypes.byref(flags))
    weight = int(pdfium_c.FPDFText_GetFontWeight(textpage.raw, index))
    return weight >= 600 or any(mark in name.value for mark in (b"Bold", b"Black", b"Heavy", b"Semibold"))


def _drop_running_lines(pages: list[list[_Line]]) -> None:
    """Removes lines repeated (digits aside) at the top or bottom of at least half the pages."""
    if len(pages) < 2:
        return
    counts: Counter[str] = Counter()
    for lines in pages:
        edge = {_DIGITS.sub("#", line.text) for line in lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]}
        counts.update(edge)
    threshold = max(2, (len(pages) + 1) // 2)
    running = {text for text, n in counts.items() if n >= threshold}
    for i, lines in enumerate(pages):
        edge_ids = {id(line) for line in lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]}
        pages[i] = [line for line in lines if not (id(line) in edge_ids and _DIGITS.sub("#", line.text) in running)]


def _body_size(pages: list[list[_Line]]) -> float:
    sizes: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            sizes[round(line.size, 1)] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0


def _heading_level(line: _Line, body_size: float, heading_sizes: list[int]) -> int:
    if round(line.size) in heading_sizes and len(line.text) <= 120:
        return min(heading_sizes.index(round(line.size)) + 1, 4)
    letters = [ch for ch in line.text if ch.isalpha()]
    short_title = (
        len(letters) >= 4
        and len(line.text) <= 100
        and line.text[:1].isupper()
        and not line.text.endswith((".", ",", ";", ":"))
    )
    # A short bold line, or a short line in capitals, at body size: the policy's lowest heading level.
    if short_title and (line.bold or (line.text.upper() == line.text and not _LIST_MARKER.match(line.text))):
        return min(len(heading_sizes) + 1, 4)
    return 0


def _blocks(lines: list[_Line], body_size: float, heading_sizes: list[int]) -> list[str]:
    """Markdown blocks of one page: headings, list items and re-flowed paragraphs."""
    blocks: list[str] = []
    current: list[str] = []
    previous: _Line | None = None

    def flush() -> None:
        if current:
            blocks.append(_join(current))
            current.clear()

    for line in lines:
        level = _heading_level(line, body_size, heading_sizes)
        if level:
            flush()
            blocks.append(f"{'#' * level} {line.text}")
            previous = None
            continue
        height = max(line.top - line.bottom, 1.0)
        gap = (previous.bottom - line.top) if previous is not None else 0.0
        if _LIST_MARKER.match(line.text) or gap > 0.8 * height:
            flush()
        text = _BULLET.sub("- ", line.text)
        current.append(text)
        previous = line
    flush()
    return blocks


def _join(lines: list[str]) -> str:
    text = lines[0]
    for line in lines[1:]:
        # A word hyphenated across lines is joined again; any other line break is a space.
        text = text[:-1] + line if text.endswith("-") and line[:1].islower() else f"{text} {line}"
    return text
