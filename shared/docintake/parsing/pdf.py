"""The local PDF parser: pypdfium2 text, font sizes, weights, line positions and ruling lines, turned
into Markdown.

- Headings come from the document's own type: the size carrying the most characters is the body's, the
  sizes clearly above it are heading levels in rank order, and short bold or capitalised lines at body
  size are the lowest level where the body itself is not set in bold or capitals. Short labels among
  table-like lines (rows of short cells, a label over or beside its value) are not headings.
- Pages are read in their text's direction (a landscape page stored portrait with /Rotate, a table set
  sideways), and tables come from ``docintake.parsing.tables``: ruled ones from the path segments'
  crossings, unruled ones from aligned text; the lines they hold leave the text flow. A table continued
  on the next page under the same header row is merged into one.
- Running headers and footers (the same line, digits aside, at the top or bottom of half the pages,
  or of three pages in a row) are dropped, unless they are all a page holds: no page is emptied.
- The Markdown is normalised page by page (``docintake.parsing.normalize_text``); a document left
  without text fails ``empty_document``.
- Two-column pages are read column by column: lines that cross the page's middle separate bands, and
  within a band the left column comes before the right. On a page in two text columns (a free gutter,
  running text or rules kept to one side), tables are searched in each column apart.
- Lines re-flow into paragraphs by their vertical gaps, with hyphenation undone, across page breaks
  too when a sentence runs on; list items (1., a., (i), bullets) stay one per block.
- Pages without a text layer, and pages whose few characters sit on an image covering most of the page
  (a scan with a stamped page number), are read by the OCR engine passed in (``parse_pdf(..., ocr=)``,
  ``docintake.parsing.ocr``); its Markdown takes the page's place and the page is reported in
  ``ocr_pages`` with its confidence. Without an engine such pages count as pages without text.
"""

from __future__ import annotations

import ctypes
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from docintake.errors import UnsupportedDocument
from docintake.parsing import (
    LIST_MARKER,
    PageMap,
    ParsedDocument,
    ParsedPart,
    join_lines,
    join_pages,
    markdown_table,
)
from docintake.parsing.ocr import OcrEngine, OcrResult, ocr_pdf_pages
from docintake.parsing.tables import MIN_EDGE, Glyph, Segment, find_tables, ruled_tables
from docintake.parsing.tables import Table as _Table
from docintake.vocabulary import ErrorCode

_BULLET = re.compile(r"^[•▪●◦–*]\s+")
_DIGITS = re.compile(r"\d+")
# How a heading of its own begins (as opposed to the second line of a wrapped one).
_NEW_HEADING = re.compile(r"^(?:[A-Z0-9]{1,4}[.)]\s|[IVXLC]+\.\s|(?:SECTION|PART|ARTICLE|ENDORSEMENT|SCHEDULE)\b)")
_SENTENCE_END = (".", "!", "?", ":", ";")
_MIN_TEXT_CHARS = 1
_EDGE_LINES = 2
_RULE = 3.0  # a path thinner than this (points) is a rule, not an area
_LINE_SHADING = 16.0  # a fill up to this tall (points) shades one line of text
_DIRECTION_SAMPLES = 64  # characters sampled for the text's direction on a page
_SPREAD = 0.9  # a line wider than this many font sizes per character has gaps between cells
_PROSE_LINE = 40  # characters: a line this long in one of two columns is running text
_SIDE_BY_SIDE = 4  # lines level with a line beside them that make a page worth reading glyph by glyph


@dataclass
class _Line:
    text: str
    size: float
    top: float
    bottom: float
    left: float
    right: float
    bold: bool


@dataclass
class _Page:
    number: int
    width: float
    items: list[_Line | _Table] = field(default_factory=list)

    @property
    def lines(self) -> list[_Line]:
        return [item for item in self.items if isinstance(item, _Line)]


def parse_pdf(data: bytes, *, max_pages: int, ocr: OcrEngine | None = None) -> ParsedDocument:
    pdf = _open(data)
    try:
        page_count = _page_count(pdf, max_pages)
        pages, read = _read_pages(pdf, range(page_count), ocr)
    finally:
        pdf.close()
    empty = sum(1 for page in pages if not page.items and not read.has_text(page.number))
    if empty == page_count:
        if ocr is not None:
            raise UnsupportedDocument("no page has text, OCR included", code=ErrorCode.EMPTY_DOCUMENT)
        raise UnsupportedDocument("no page has a text layer", code=ErrorCode.NO_TEXT_LAYER)
    # Text objects with nothing in them that reads (spaces, control characters) leave no page: empty_document.
    markdown, page_map = _markdown(pages, read)
    warnings = ((f"pages_without_text:{empty}",) if empty else ()) + read.warnings
    return ParsedDocument(
        markdown,
        page_map,
        page_count,
        empty,
        parser="local",
        warnings=warnings,
        ocr_pages=read.page_numbers,
        page_confidence=read.page_confidence,
    )


def pdf_page_count(data: bytes, *, max_pages: int) -> int:
    """How many pages the PDF has, refused (``too_many_pages``) past ``max_pages``: the parse stage's plan."""
    pdf = _open(data)
    try:
        return _page_count(pdf, max_pages)
    finally:
        pdf.close()


# Pages read on each side of a part's range, not output: running headers and footers (on half the pages, or
# three in a row) and the body's type are then learnt as a whole parse would, even for a range of one page.
PART_CONTEXT_PAGES = 2
PART_HEAD_PAGES = 2


def parse_pdf_pages(data: bytes, first: int, last: int, *, max_pages: int, ocr: OcrEngine | None = None) -> ParsedPart:
    """Pages ``first``..``last`` (1-based, inclusive) as one part of a large document. Running lines and
    typography are learnt from the range and ``PART_CONTEXT_PAGES`` on each side (read, never OCR'd, not
    output), so a part of a uniform document reads as the same pages of a whole parse do (tested). They
    can differ where a whole parse learns from further away: a running line on half of all pages but not
    of this window, a type used only elsewhere, a scanned neighbour's stamp; and a table broken across the
    range's first page stays two blocks. A range with no text gives an empty part: whether the document has
    any is the join's question (``join_parts``)."""
    pdf = _open(data)
    try:
        page_count = _page_count(pdf, max_pages)
        if not 1 <= first <= last <= page_count:
            raise UnsupportedDocument(
                f"pages {first}-{last} are not in a {page_count}-page PDF", code=ErrorCode.PAGE_RANGE
            )
        start = max(first - 1 - PART_CONTEXT_PAGES, 0)
        # The document's opening pages set its type (the title, the top headings): a part far from them would
        # otherwise rank its own largest headings first. Read for the type only.
        head = [_read_page(pdf, i) for i in range(min(PART_HEAD_PAGES, start))]
        before = [_read_page(pdf, i) for i in range(start, first - 1)]
        pages, read = _read_pages(pdf, range(first - 1, last), ocr)
        after = [_read_page(pdf, i) for i in range(last, min(last + PART_CONTEXT_PAGES, page_count))]
    finally:
        pdf.close()
    empty = sum(1 for page in pages if not page.items and not read.has_text(page.number))
    markdown = ""
    numbers: tuple[int, ...] = ()
    starts: tuple[int, ...] = ()
    if empty < len(pages):
        try:
            markdown, page_map = _markdown(pages, read, context=(before, after), head=head)
            numbers, starts = page_map.pages, page_map.starts
        except UnsupportedDocument as exc:
            if exc.code != ErrorCode.EMPTY_DOCUMENT:
                raise
    return ParsedPart(
        first,
        last,
        markdown,
        numbers,
        starts,
        page_count,
        empty,
        parser="local",
        warnings=read.warnings,
        page_confidence=read.page_confidence,
    )


def _page_count(pdf: pdfium.PdfDocument, max_pages: int) -> int:
    page_count = len(pdf)
    if page_count == 0:
        raise UnsupportedDocument("PDF has no pages", code=ErrorCode.EMPTY_DOCUMENT)
    if page_count > max_pages:
        raise UnsupportedDocument(f"PDF has {page_count} pages, over {max_pages}", code=ErrorCode.TOO_MANY_PAGES)
    return page_count


def _read_pages(pdf: pdfium.PdfDocument, indexes: range, ocr: OcrEngine | None) -> tuple[list[_Page], OcrResult]:
    pages = [_read_page(pdf, i) for i in indexes]
    # OCR (see ocr.py): pages with no text layer, or a nearly empty one over a page-sized image.
    read = OcrResult()
    if ocr is not None:
        chars = [sum(len(line.text) for line in p.lines) + 100 * (len(p.items) - len(p.lines)) for p in pages]
        read = ocr_pdf_pages(pdf, chars, ocr, indexes.start)
    for number in read.pages:
        if read.has_text(number):  # OCR's text replaces the page's own (none, or a stamp over the scan)
            pages[number - 1 - indexes.start].items = []
    return pages, read


def _markdown(
    pages: list[_Page],
    read: OcrResult,
    context: tuple[list[_Page], list[_Page]] = ([], []),
    head: list[_Page] | None = None,
) -> tuple[str, PageMap]:
    """The pages' Markdown and map. ``context``: pages before and after them, used to learn the running
    lines and the type from, and not output; ``head``: the document's first pages, for the type alone."""
    before, after = context
    _drop_running_lines([*before, *pages, *after])
    if head:
        _drop_running_lines(head)
    typography = _typography([*(head or []), *before, *pages, *after])
    blocks_by_page = [
        list(read.pages[page.number].blocks) if read.has_text(page.number) else _blocks(page, typography)
        for page in pages
    ]
    continued = _join_across_pages(blocks_by_page)
    return join_pages(
        ((page.number, "\n\n".join(blocks)) for page, blocks in zip(pages, blocks_by_page, strict=True)),
        empty="no page has any text",
        continuing={pages[index].number for index in continued},
    )


def _open(data: bytes) -> pdfium.PdfDocument:
    if b"%PDF-" not in data[:1024]:
        raise UnsupportedDocument("not a PDF file", code=ErrorCode.CORRUPT_PDF)
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise UnsupportedDocument("PDF is encrypted", code=ErrorCode.ENCRYPTED_PDF) from exc
        raise UnsupportedDocument("PDF could not be read", code=ErrorCode.CORRUPT_PDF) from exc


# --- reading one page ----------------------------------------------------------------------------------


def _read_page(pdf: pdfium.PdfDocument, index: int) -> _Page:
    try:
        page = pdf[index]
    except pdfium.PdfiumError as exc:
        # A page in a looping or too deep page tree, or one whose object is missing, will not load.
        raise UnsupportedDocument(f"page {index + 1} could not be read", code=ErrorCode.CORRUPT_PDF) from exc
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
        frame = _frame(page, textpage, text)
        lines, spans = _page_lines(textpage, text, frame)
        result = _Page(index + 1, frame.width)
        tables: list[_Table] = []
        segments = _segments(page, frame) if lines else []
        two_columns = _text_columns(lines, frame.width, segments)  # before the tables take their lines
        if lines:
            tables, glyphs = _tables(textpage, text, frame, segments, lines, spans, two_columns=two_columns)
            if tables:
                lines, spans = _lines_outside(lines, spans, tables, glyphs, text)
        result.items = [*lines, *tables]
        result.items.sort(key=lambda item: -item.top)
        result.items = _reading_order(result.items, frame.width, two_columns=two_columns)
        return result
    finally:
        textpage.close()
        page.close()


@dataclass(frozen=True)
class _Frame:
    """The page turned so its text reads left to right, y up: quarter turns of the text's direction
    (counter-clockwise) and the page's size after them. A landscape page stored portrait (``/Rotate``)
    and a table set sideways both draw their text at 90 or 270 degrees in page space."""

    turns: int
    page_width: float
    page_height: float

    @property
    def width(self) -> float:
        return self.page_height if self.turns % 2 else self.page_width

    def point(self, x: float, y: float) -> tuple[float, float]:
        if self.turns == 1:
            return y, self.page_width - x
        if self.turns == 2:
            return self.page_width - x, self.page_height - y
        if self.turns == 3:
            return self.page_height - y, x
        return x, y

    def box(self, left: float, bottom: float, right: float, top: float) -> tuple[float, float, float, float]:
        x0, y0 = self.point(left, bottom)
        x1, y1 = self.point(right, top)
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _frame(page: pdfium.PdfPage, textpage: pdfium.PdfTextPage, text: str) -> _Frame:
    """The text's dominant direction, from where a sample of its characters sit on the page: a character
    and the next one on its line vote for the way the line runs. Not from the text matrix: a producer
    that flips y for the whole page (``1 0 0 -1 0 H cm``) and flips its text matrix back draws upright
    glyphs that pdfium reports at 180 degrees. pdfium's character angle decides only where no two
    characters sit side by side, and the page's /Rotate where there is no text."""
    width, height = float(page.get_width()), float(page.get_height())
    if page.get_rotation() % 180:
        width, height = height, width  # pdfium reports the rotated size; character boxes are unrotated
    votes = _direction_votes(textpage, text)
    if not any(votes):
        votes = _angle_votes(textpage, len(text))
    turns = votes.index(max(votes)) if any(votes) else (page.get_rotation() // 90) % 4
    return _Frame(turns, width, height)


def _direction_votes(textpage: pdfium.PdfTextPage, text: str) -> list[int]:
    """Votes for the quarter turns that make the text run left to right, one per sampled pair of
    neighbouring glyphs: the step from one glyph's centre to the next's points along the line."""
    votes = [0, 0, 0, 0]
    rect = pdfium_c.FS_RECTF()
    raw = textpage.raw

    def centre(index: int) -> tuple[float, float]:
        pdfium_c.FPDFText_GetLooseCharBox(raw, index, rect)
        return (rect.left + rect.right) / 2, (rect.bottom + rect.top) / 2

    for start in range(0, len(text) - 1, max(1, len(text) // _DIRECTION_SAMPLES)):
        # The sample may fall on a space or a line's end: take the next pair of glyphs close after it.
        pair = next((i for i in range(start, min(start + 8, len(text) - 1)) if _glyph_pair(text, i)), None)
        if pair is None:
            continue
        (x0, y0), (x1, y1) = centre(pair), centre(pair + 1)
        dx, dy = x1 - x0, y1 - y0
        if max(abs(dx), abs(dy)) < 0.1:
            continue  # a glyph drawn over the last one (an accent, a fake bold) points nowhere
        if abs(dx) >= abs(dy):
            votes[0 if dx > 0 else 2] += 1
        else:
            votes[1 if dy > 0 else 3] += 1  # text running up the page is a quarter turn counter-clockwise
    return votes


def _glyph_pair(text: str, index: int) -> bool:
    return all(not char.isspace() and char != "\ufffe" for char in text[index : index + 2])


def _angle_votes(textpage: pdfium.PdfTextPage, count: int) -> list[int]:
    votes = [0, 0, 0, 0]
    for i in range(0, count, max(1, count // _DIRECTION_SAMPLES)):
        angle = float(pdfium_c.FPDFText_GetCharAngle(textpage.raw, i))
        if angle >= 0:
            votes[-round(angle / (math.pi / 2)) % 4] += 1  # pdfium measures the angle clockwise
    return votes


def _page_lines(textpage: pdfium.PdfTextPage, text: str, frame: _Frame) -> tuple[list[_Line], list[range]]:
    """pdfium's text lines, with their boxes in the page frame, and each line's character indices."""
    lines: list[_Line] = []
    spans: list[range] = []
    position = 0
    rect = pdfium_c.FS_RECTF()
    for raw in text.split("\r\n"):
        start = position
        position += len(raw) + 2
        stripped = raw.strip()
        if len(stripped) < _MIN_TEXT_CHARS:
            continue
        first = start + (len(raw) - len(raw.lstrip()))
        last = start + len(raw.rstrip()) - 1
        size = float(pdfium_c.FPDFText_GetFontSize(textpage.raw, first))
        pdfium_c.FPDFText_GetLooseCharBox(textpage.raw, first, rect)
        a = frame.box(rect.left, rect.bottom, rect.right, rect.top)
        pdfium_c.FPDFText_GetLooseCharBox(textpage.raw, last, rect)
        b = frame.box(rect.left, rect.bottom, rect.right, rect.top)
        # Bold at both ends: a bold run-in label ("Policy Number:" then the value) is not a heading.
        bold = _is_bold(textpage, first) and _is_bold(textpage, last)
        top, bottom = max(a[3], b[3]), min(a[1], b[1])
        lines.append(_Line(" ".join(stripped.split()), size, top, bottom, min(a[0], b[0]), max(a[2], b[2]), bold))
        spans.append(range(first, last + 1))
    return lines, spans


def _is_bold(textpage: pdfium.PdfTextPage, index: int) -> bool:
    name = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    pdfium_c.FPDFText_GetFontInfo(textpage.raw, index, name, len(name), ctypes.byref(flags))
    weight = int(pdfium_c.FPDFText_GetFontWeight(textpage.raw, index))
    return weight >= 600 or any(mark in name.value for mark in (b"Bold", b"Black", b"Heavy", b"Semibold"))


def _glyphs(textpage: pdfium.PdfTextPage, text: str, frame: _Frame, spans: list[range]) -> dict[int, Glyph]:
    """The visible characters of these lines with their boxes in the page frame, by character index."""
    glyphs: dict[int, Glyph] = {}
    rect = pdfium_c.FS_RECTF()
    loose_box = pdfium_c.FPDFText_GetLooseCharBox
    raw = textpage.raw
    upright = frame.turns == 0
    for span in spans:
        space = False
        for index in span:
            char = text[index]
            if char.isspace():
                space = True
                continue
            if char == "\ufffe":  # pdfium's mark for a soft hyphen: no glyph, no word break
                continue
            loose_box(raw, index, rect)
            if upright:
                box = (rect.left, rect.bottom, rect.right, rect.top)
            else:
                box = frame.box(rect.left, rect.bottom, rect.right, rect.top)
            glyphs[index] = Glyph(char, *box, index, space)
            space = False
    return glyphs


def _lines_outside(
    lines: list[_Line], spans: list[range], tables: list[_Table], glyphs: dict[int, Glyph], text: str
) -> tuple[list[_Line], list[range]]:
    """The lines with the characters the tables hold taken out: a line wholly in a table goes, one that
    runs beside a table keeps only its own words. By character, not by box: pdfium may run one text line
    across a table and the text beside it, and a note may touch a table's box."""
    held = frozenset().union(*(t.glyphs for t in tables))
    kept: list[_Line] = []
    kept_spans: list[range] = []
    for line, span in zip(lines, spans, strict=True):
        inside = {i for i in span if i in held}
        if not inside:
            kept.append(line)
            kept_spans.append(span)
            continue
        rest = [glyphs[i] for i in span if i in glyphs and i not in inside]
        if not rest:
            continue
        kept.append(
            _Line(
                _rebuilt_text(text, span, inside),
                line.size,
                max(g.top for g in rest),
                min(g.bottom for g in rest),
                min(g.left for g in rest),
                max(g.right for g in rest),
                line.bold,
            )
        )
        kept_spans.append(span)
    return kept, kept_spans


def _rebuilt_text(text: str, span: range, inside: set[int]) -> str:
    return " ".join("".join(" " if i in inside else text[i] for i in span).split())


# --- tables: page geometry for docintake.parsing.tables -----------------------------------------------------


def _tables(
    textpage: pdfium.PdfTextPage,
    text: str,
    frame: _Frame,
    segments: list[Segment],
    lines: list[_Line],
    spans: list[range],
    *,
    two_columns: bool = False,
) -> tuple[list[_Table], dict[int, Glyph]]:
    """The page's tables and the glyphs read to find them. Reading every character's box costs more than
    the rest of the page, so it is done by steps: the lines within the ruling's reach for ruled tables,
    then every line only when three lines much wider than their text (cells far apart on one line) lie
    outside those tables, when four lines sit level beside another (cells set one by one), or when a ruled
    table holds several values on a line. ``two_columns``: the page is set in two text columns
    (``_text_columns``), each searched apart."""
    glyphs: dict[int, Glyph] = {}
    found: list[_Table] = []
    ruled = _ruled_area(segments)
    if ruled is not None:
        glyphs = _glyphs(textpage, text, frame, [span for line, span in zip(lines, spans, strict=True) if ruled(line)])
        found = ruled_tables(segments, list(glyphs.values()))
    settled = [t for t in found if not t.crowded]
    outside = [
        line
        for line in lines
        if not any(t.holds((line.left + line.right) / 2, (line.top + line.bottom) / 2) for t in settled)
    ]
    wide = [line for line in outside if _spread_out(line)]
    # Two tests of "two columns", on purpose: ``two_columns`` (``_text_columns``, strict) splits the page for
    # the table search; the looser ``_two_columns`` only keeps lines either side of the middle from counting
    # as cells set side by side.
    middle = frame.width / 2 if two_columns else None
    gutter = frame.width / 2 if _two_columns(lines, frame.width) else None
    # Cells set one by one (pdfium reads each as a line of its own) are looked at only for tables whose
    # cells wrap: rows of short lines side by side are as often two columns of text. Within one column of
    # a page in two, they are a table's.
    quiet = len(wide) < 3 and len(settled) == len(found)  # nothing yet says the page holds more tables
    if quiet and not _side_by_side(outside, gutter):
        return settled, glyphs
    rest = [span for line, span in zip(lines, spans, strict=True) if ruled is None or not ruled(line)]
    glyphs.update(_glyphs(textpage, text, frame, rest))
    wrapped_only = middle is None and quiet
    return find_tables(
        segments, list(glyphs.values()), ruled=found, columns_at=middle, wrapped_only=wrapped_only
    ), glyphs


def _text_columns(lines: list[_Line], width: float, segments: list[Segment]) -> bool:
    """A page set in two text columns: lines start right of its middle and few cross it, and one column
    holds running text or the page's rules all keep to one side (a table ruled within its column). Not a
    table whose values start right of the middle: its labels are short, its rules cross the page."""
    if not _two_columns(lines, width):
        return False
    middle = width / 2
    # The gutter is free: only running text across the page (a wide title, a note under both columns)
    # crosses it. A table's column does not (its cells run across the middle beside a column of text that
    # does not), nor does a table across the page (its rows are cells far apart: split, they would lose
    # their values). A short centred title also keeps the page whole: this test errs towards no split.
    text_width = max(line.right for line in lines) - min(line.left for line in lines)
    if any(
        line.left < middle < line.right and (line.right - line.left < 0.7 * text_width or _spread_out(line))
        for line in lines
    ):
        return False
    left = [line for line in lines if line.right < middle]
    right = [line for line in lines if line.left > middle]
    if any(sum(len(line.text) >= _PROSE_LINE for line in side) >= 3 for side in (left, right)):
        return True
    rules = [s for s in segments if abs(s.y1 - s.y0) <= 1 and abs(s.x1 - s.x0) >= MIN_EDGE]
    return len(rules) >= 2 and all(min(s.x0, s.x1) > middle or max(s.x0, s.x1) < middle for s in rules)


def _spread_out(line: _Line) -> bool:
    """A line much wider than its text: cells far apart on one line."""
    return line.right - line.left > _SPREAD * len(line.text) * max(line.size, 1.0)


def _side_by_side(lines: list[_Line], middle: float | None) -> bool:
    """Whether four lines or more are level with another line beside them, the gap between them not the
    page's gutter (``middle``, on a page in two text columns): cells set one by one, which pdfium reads as
    lines of their own."""
    marked: set[int] = set()
    by_top = sorted(lines, key=lambda line: -line.top)
    for i, line in enumerate(by_top):
        half = 0.5 * (line.top - line.bottom)
        for j in range(i + 1, len(by_top)):
            other = by_top[j]
            if other.top - line.bottom <= half:
                break  # this line and every later one start too low to be level with it
            if min(line.top, other.top) - max(line.bottom, other.bottom) <= half:
                continue
            a, b = (line, other) if line.right <= other.left else (other, line)
            if a.right <= b.left and not (middle is not None and a.right <= middle <= b.left):
                marked.update((i, j))
                if len(marked) >= _SIDE_BY_SIDE:
                    return True
    return False


def _ruled_area(segments: list[Segment]) -> Callable[[_Line], bool] | None:
    """Whether a line is within reach of the page's ruling: level with a vertical rule (a table's columns
    have them; a rule under a heading or over a footer does not) and within the horizontal rules' span.
    None without ruling in both directions."""
    horizontal = [s for s in segments if abs(s.y1 - s.y0) <= 1 and abs(s.x1 - s.x0) >= _RULE]
    vertical = [s for s in segments if abs(s.x1 - s.x0) <= 1 and abs(s.y1 - s.y0) >= _RULE]
    if len(horizontal) < 2 or len(vertical) < 2:
        return None
    left = min(min(s.x0, s.x1) for s in horizontal) - _RULE
    right = max(max(s.x0, s.x1) for s in horizontal) + _RULE
    spans: list[list[float]] = []
    for low, high in sorted((min(s.y0, s.y1) - _RULE, max(s.y0, s.y1) + _RULE) for s in vertical):
        if spans and low <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], high)
        else:
            spans.append([low, high])

    def near(line: _Line) -> bool:
        return line.left < right and left < line.right and any(lo < line.top and line.bottom < hi for lo, hi in spans)

    return near


def _segments(page: pdfium.PdfPage, frame: _Frame) -> list[Segment]:
    """The straight, axis-parallel pieces of the page's paths (inside form XObjects too), each piece of a
    path on its own: one path often draws a whole grid."""
    segments: list[Segment] = []
    count = pdfium_c.FPDFPage_CountObjects(page.raw)
    objects = [pdfium_c.FPDFPage_GetObject(page.raw, i) for i in range(count)]
    _path_segments(objects, _IDENTITY, frame, segments, depth=0)
    return segments


_Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: _Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _times(inner: _Matrix, outer: _Matrix) -> _Matrix:
    a, b, c, d, e, f = inner
    A, B, C, D, E, F = outer
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def _path_segments(objects: list[object], outer: _Matrix, frame: _Frame, out: list[Segment], depth: int) -> None:
    matrix = pdfium_c.FS_MATRIX()
    point_x, point_y = ctypes.c_float(), ctypes.c_float()
    fill_mode, stroked = ctypes.c_int(), ctypes.c_int()
    for obj in objects:
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_FORM and depth < 4:
            pdfium_c.FPDFPageObj_GetMatrix(obj, matrix)
            inner = _times((matrix.a, matrix.b, matrix.c, matrix.d, matrix.e, matrix.f), outer)
            count = pdfium_c.FPDFFormObj_CountObjects(obj)
            children = [pdfium_c.FPDFFormObj_GetObject(obj, i) for i in range(count)]
            _path_segments(children, inner, frame, out, depth + 1)
            continue
        if kind != pdfium_c.FPDF_PAGEOBJ_PATH:
            continue
        pdfium_c.FPDFPageObj_GetMatrix(obj, matrix)
        a, b, c, d, e, f = _times((matrix.a, matrix.b, matrix.c, matrix.d, matrix.e, matrix.f), outer)
        pdfium_c.FPDFPath_GetDrawMode(obj, fill_mode, stroked)
        subpath: list[Segment] = []
        start: tuple[float, float] | None = None
        current: tuple[float, float] | None = None
        for i in range(pdfium_c.FPDFPath_CountSegments(obj)):
            seg = pdfium_c.FPDFPath_GetPathSegment(obj, i)
            pdfium_c.FPDFPathSegment_GetPoint(seg, point_x, point_y)
            x, y = point_x.value, point_y.value
            here = frame.point(a * x + c * y + e, b * x + d * y + f)
            kind = pdfium_c.FPDFPathSegment_GetType(seg)
            if kind == pdfium_c.FPDF_SEGMENT_MOVETO:
                _keep_subpath(subpath, bool(stroked.value), frame, out)
                subpath = []
                start = here
            elif kind == pdfium_c.FPDF_SEGMENT_LINETO and current is not None:
                subpath.append(Segment(current[0], current[1], here[0], here[1]))
            current = here
            if pdfium_c.FPDFPathSegment_GetClose(seg) and start is not None and start != here:
                subpath.append(Segment(here[0], here[1], start[0], start[1]))
                current = start
        _keep_subpath(subpath, bool(stroked.value), frame, out)


def _keep_subpath(subpath: list[Segment], stroked: bool, frame: _Frame, out: list[Segment]) -> None:
    """A stroked outline's sides are rules, and so are a filled area's when it is thin (a rule drawn as a
    bar), or a band across much of the page (row shading that also marks the rows). Not the sides of a
    short fill one text line tall (shading behind the text of one cell: it would cut the cell into
    slivers), nor of a page's or a whole block's background (it would frame everything on it). Shading
    behind each line of a paragraph makes rows of one cell, which the table finder turns down."""
    if not subpath:
        return
    if not stroked:
        xs = [v for s in subpath for v in (s.x0, s.x1)]
        ys = [v for s in subpath for v in (s.y0, s.y1)]
        width, height = max(xs) - min(xs), max(ys) - min(ys)
        if min(width, height) >= _RULE and (
            (height <= _LINE_SHADING and width < frame.width / 4)
            or width * height > frame.page_width * frame.page_height / 4
        ):
            return
    out.extend(subpath)


# --- page structure -----------------------------------------------------------------------------------


def _two_columns(lines: list[_Line], width: float) -> bool:
    """Whether a page is set in two text columns: lines start right of its middle, few cross it."""
    middle = width / 2
    if len(lines) < 6:
        return False
    right_column = [line for line in lines if line.left > middle + 5]
    crossing = [line for line in lines if line.left < middle - 5 and line.right > middle + 5]
    return len(right_column) >= 3 and len(crossing) <= len(lines) * 0.4


def _reading_order(items: list[_Line | _Table], width: float, *, two_columns: bool = False) -> list[_Line | _Table]:
    """Two-column pages column by column; anything else in the order pdfium read it. ``two_columns``: the
    page's lines said so before its tables took theirs (a table may be all one column holds)."""
    middle = width / 2
    if not two_columns and not _two_columns([i for i in items if isinstance(i, _Line)], width):
        return items
    ordered: list[_Line | _Table] = []
    band: list[_Line | _Table] = []

    def flush() -> None:
        band.sort(key=lambda item: (item.left > middle - 5, -item.top))
        ordered.extend(band)
        band.clear()

    for item in sorted(items, key=lambda item: -item.top):
        if item.left < middle - 5 and item.right > middle + 5:
            flush()
            ordered.append(item)
        else:
            band.append(item)
    flush()
    return ordered


# A heading is never a value: an amount, a rate or a date, or one of the words a benefit table answers with.
_VALUE = re.compile(r"[$€£¥]\s?\d|\d\s?%|\b\d{1,2}/\d{1,2}/\d{2,4}\b")
_VALUE_WORDS = frozenset({"yes", "no", "n/a", "na", "none", "covered", "not covered", "no charge", "included"})
_DOT_LEADER = re.compile(r"(?:\.\s?){4,}|…")
_SHORT_CELL = 40  # characters: text beside a line that is no longer than this is a cell, not a prose column
_HEADING_CHARS = 80  # a size whose lines hold more than this on average sets prose, not headings


def _drop_running_lines(pages: list[_Page]) -> None:
    """Removes running headers and footers: lines (digits aside) at the top or bottom of half the pages,
    or of three pages in a row — a package policy prints each coverage part's own form number in its
    footer, so no one footer covers half of it, while a heading at the top of three pages in a row is rare.
    A page is never emptied: where every line of a page repeats (a damaged file, a form whose pages print
    the same words), those lines are its content and stay."""
    if len(pages) < 2:
        return
    edges = [_edge_lines(page) for page in pages]
    where: dict[str, list[int]] = {}
    for index, lines in enumerate(edges):
        for text in {_DIGITS.sub("#", line.text) for line in lines}:
            where.setdefault(text, []).append(index)
    half = max(2, (len(pages) + 1) // 2)
    running = {
        text
        for text, indexes in where.items()
        if len(indexes) >= half or any(b - a == 2 for a, b in zip(indexes, indexes[2:], strict=False))
    }
    for page, lines in zip(pages, edges, strict=True):
        dropped = {id(line) for line in lines if _DIGITS.sub("#", line.text) in running}
        kept = [item for item in page.items if id(item) not in dropped]
        if kept:
            page.items = kept


def _edge_lines(page: _Page) -> list[_Line]:
    by_height = sorted(page.lines, key=lambda line: -line.top)
    return by_height[:_EDGE_LINES] + by_height[-_EDGE_LINES:]


@dataclass(frozen=True)
class _Typography:
    """The document's own type, measured over all its lines: what its body text looks like, so that a
    heading is whatever stands out from that body, in this document."""

    body_size: float
    levels: dict[float, int]  # a size that stands out above the body's → its heading level (1 the largest)
    bold_stands_out: bool  # bold is not the body's common weight
    caps_stand_out: bool  # capitals are not the body's common case
    # The document sets all its text at one font size and scales it with the text matrix ("1 Tf", which
    # PDFium reports as size 1): the height of a line's glyph boxes is then what tells its sizes apart.
    by_height: bool = False

    def size_of(self, line: _Line) -> float:
        return _size_of(line, by_height=self.by_height)

    @property
    def lowest_level(self) -> int:
        return min(max(self.levels.values(), default=0) + 1, 6)


def _size_of(line: _Line, *, by_height: bool) -> float:
    # Glyph box heights vary by a few hundredths between fonts and edges; half points are close enough.
    return round((line.top - line.bottom) * 2) / 2 if by_height else round(line.size, 1)


def _typography(pages: list[_Page]) -> _Typography:
    """The size carrying the most characters is the body's. A size at least a tenth larger that carries
    much less text than the body, in short lines, is a heading level, ranked by size; sizes a rounding
    error apart (9.96 and 10.04) share a level. Bold and capitals mark a heading at body size only where the body itself
    is not set that way, so a document set all in bold or all in capitals does not become all headings."""
    lines = [line for page in pages for line in page.lines]
    if not lines:
        return _Typography(10.0, {}, True, True)
    heights = {_size_of(line, by_height=True) for line in lines}
    by_height = len({round(line.size, 1) for line in lines}) == 1 and max(heights) >= 1.1 * max(min(heights), 1.0)
    chars: Counter[float] = Counter()
    count: Counter[float] = Counter()
    for line in lines:
        chars[_size_of(line, by_height=by_height)] += len(line.text)
        count[_size_of(line, by_height=by_height)] += 1
    body, body_chars = chars.most_common(1)[0]
    at_body = [line for line in lines if _size_of(line, by_height=by_height) == body]
    bold_chars = sum(len(line.text) for line in at_body if line.bold)
    caps_chars = sum(len(line.text) for line in at_body if _in_capitals(line.text))
    # Box heights also differ with the font and where two columns share a line: they need a wider margin.
    step = 1.2 if by_height else 1.1
    larger = sorted(
        (s for s, n in chars.items() if s >= body * step and n < body_chars / 2 and n <= _HEADING_CHARS * count[s]),
        reverse=True,
    )
    levels: dict[float, int] = {}
    for size in larger:
        close = next((levels[s] for s in levels if s - size < 0.4), None)
        levels[size] = close if close is not None else min(max(levels.values(), default=0) + 1, 6)
    return _Typography(body, levels, bold_chars < 0.4 * body_chars, caps_chars < 0.3 * body_chars, by_height)


def _in_capitals(text: str) -> bool:
    # The case test first: it runs in C and turns down nearly every line before letters are counted.
    return text.upper() == text and sum(1 for ch in text if ch.isalpha()) >= 3


def _heading_level(line: _Line, typography: _Typography, *, tabular: bool) -> int:
    """The heading level of a line, 0 for none: a short line that reads like a title, in a size that stands
    out, or at body size in bold or capitals where those stand out. ``tabular``: the lines around it on
    its page are a table's (see _tabular_lines), where short bold or capitalised text is a row label or
    a column head, not a heading."""
    text = line.text
    size = typography.size_of(line)
    level = typography.levels.get(size, 0)
    if not level:
        # Most lines are body text: settled by their type before their words are looked at.
        emphasised = (line.bold and typography.bold_stands_out) or (typography.caps_stand_out and _in_capitals(text))
        at_body_size = typography.body_size - 0.5 <= size < typography.body_size * 1.1
        if not emphasised or not at_body_size or tabular or len(text) > 100 or LIST_MARKER.match(text):
            return 0
    first_letter = next((ch for ch in text if ch.isalpha()), "")
    if (
        len(text) > 120
        or not first_letter.isupper()
        or text.endswith((*_SENTENCE_END, ","))
        or sum(map(str.isalpha, text)) < 3
        or _BULLET.match(text)
        or _VALUE.search(text)
        or text.casefold() in _VALUE_WORDS
        or _DOT_LEADER.search(text)
    ):
        return 0
    # A title may carry a form or section number ("PP 03 02 09 18 - Coverage for …"); a row of figures
    # in a larger type is still no title, and at body size a third of digits makes a value.
    digits = sum(map(str.isdigit, text)) / len(text.replace(" ", ""))
    if digits > (0.5 if level else 0.3):
        return 0
    return level or typography.lowest_level


def _is_value(text: str) -> bool:
    """An amount, a rate, a date or a count: what a table cell or a label's value holds, never a heading."""
    digits = sum(map(str.isdigit, text))
    return bool(_VALUE.search(text)) or digits > 0.3 * len(text.replace(" ", "")) or text.casefold() in _VALUE_WORDS


def _tabular_lines(page: _Page) -> set[int]:
    """Ids of the page's lines that sit in a table its ruling did not show: a line with a short value beside
    it or right below it (a label and its value), a line in a row of short cells next to another such row,
    and a line between two such rows. Prose beside or below a line is long, so a heading in one column of
    a two-column page, or one over a paragraph that quotes an amount, is not taken for a cell."""
    lines = page.lines
    cells = {id(line) for line in lines if len(line.text) <= _SHORT_CELL}
    values = {id(line) for line in lines if id(line) in cells and _is_value(line.text)}
    rows: list[list[_Line]] = []
    for line in sorted(lines, key=lambda line: -line.top):
        row = rows[-1] if rows else None
        height = min(line.top - line.bottom, row[0].top - row[0].bottom) if row else 0.0
        if row and height > 0 and min(line.top, row[0].top) - max(line.bottom, row[0].bottom) >= 0.5 * height:
            row.append(line)
        else:
            rows.append([line])
    tabular: set[int] = set()
    cell_rows = [len(row) >= 2 and all(id(line) in cells for line in row) for row in rows]
    for index, row in enumerate(rows):
        # The next row of the same table starts within a few line heights (a wrapped cell, a row gap).
        reach = 3 * max(row[0].top - row[0].bottom, 1.0)
        neighbours = [
            cell_rows[other]
            for other in (index - 1, index + 1)
            if 0 <= other < len(rows) and abs(rows[other][0].top - row[0].top) <= reach
        ]
        if (len(row) >= 2 and any(id(line) in values for line in row)) or (cell_rows[index] and any(neighbours)):
            tabular.update(id(line) for line in row)
    for above, line, below in zip([None, *lines[:-1]], lines, [*lines[1:], None], strict=bool(lines)):
        if (
            below is not None
            and id(below) in values
            and not LIST_MARKER.match(below.text)
            and 0 <= line.bottom - below.top < 1.5 * max(line.top - line.bottom, 1.0)
        ):
            tabular.add(id(line))
        if above is not None and below is not None and id(above) in tabular and id(below) in tabular:
            tabular.add(id(line))
    return tabular


def _blocks(page: _Page, typography: _Typography) -> list[str]:
    """Markdown blocks of one page: headings, tables, list items and re-flowed paragraphs."""
    blocks: list[str] = []
    current: list[str] = []
    previous: _Line | None = None
    heading: tuple[_Line, int] | None = None  # the heading just emitted, while nothing else followed
    tabular = _tabular_lines(page)
    # Where the lines starting at each left edge end at the furthest: a line that gets near it was full,
    # and its sentence wrapped onto the next line.
    column_right: dict[int, float] = {}
    for line in page.lines:
        column_right[round(line.left / 10)] = max(column_right.get(round(line.left / 10), 0.0), line.right)

    def flush() -> None:
        if current:
            blocks.append(join_lines(current))
            current.clear()

    for item in page.items:
        if isinstance(item, _Table):
            flush()
            blocks.append(markdown_table(item.rows))
            previous = heading = None
            continue
        if heading is not None and _continues_heading(heading, item, typography):
            # A heading wrapped onto a second line (a narrow column): one heading.
            blocks[-1] = f"{blocks[-1]} {item.text}"
            heading = (item, heading[1])
            continue
        # The end of a full line above it in the same type (a wrapped title whose first line did not stand
        # out, a paragraph's last line) is no heading of its own.
        level = 0
        full = previous is not None and previous.right >= 0.85 * column_right[round(previous.left / 10)]
        if not (full and _runs_on(previous, item, typography)):
            level = _heading_level(item, typography, tabular=id(item) in tabular)
        if level:
            flush()
            blocks.append(f"{'#' * level} {item.text}")
            previous, heading = None, (item, level)
            continue
        heading = None
        height = max(item.top - item.bottom, 1.0)
        gap = (previous.bottom - item.top) if previous is not None else 0.0
        if LIST_MARKER.match(item.text) or abs(gap) > 0.8 * height:
            flush()
        current.append(_BULLET.sub("- ", item.text))
        previous = item
    flush()
    return blocks


def _runs_on(above: _Line | None, line: _Line, typography: _Typography) -> bool:
    """Whether ``line`` carries on the sentence of the line right above it, set in the same type."""
    return (
        above is not None
        and above.bold == line.bold
        and typography.size_of(above) == typography.size_of(line)
        and 0 <= above.bottom - line.top < 0.8 * max(line.top - line.bottom, 1.0)
        and not above.text.endswith(_SENTENCE_END)
        and not LIST_MARKER.match(line.text)
    )


def _continues_heading(heading: tuple[_Line, int], line: _Line, typography: _Typography) -> bool:
    """The line right below a heading, in the same type, is its second line, unless it starts a heading of
    its own (SECTION II, B., 2.), ends a sentence or leaves the capitals of a heading set in capitals (a
    paragraph's first line, right under a heading in the body's type), or the heading above ended a
    sentence."""
    above, _ = heading
    height = max(line.top - line.bottom, 1.0)
    return (
        line.bold == above.bold
        and (_in_capitals(line.text) or not _in_capitals(above.text))
        and not line.text.endswith(_SENTENCE_END)
        and abs(typography.size_of(line) - typography.size_of(above)) < 0.25
        and 0 <= above.bottom - line.top < 0.8 * height
        and len(line.text) <= 100
        and not _NEW_HEADING.match(line.text)
        and not LIST_MARKER.match(line.text)
        and not above.text.endswith(_SENTENCE_END)
    )


def _join_across_pages(pages: list[list[str]]) -> set[int]:
    """A sentence that runs on over a page break becomes one block on the first page. A table whose header
    row is repeated at the top of the next page goes on there without it; the indexes of such pages are
    returned, for their rows to follow the table with no blank line: one table, each row on its own page."""
    continued: set[int] = set()
    previous: list[str] | None = None
    header: str | None = None  # the header row of the table that ends the last page with text, if one does
    for index, blocks in enumerate(pages):
        if previous and blocks:
            last, first = previous[-1], blocks[0]
            if _is_prose(last) and _is_prose(first) and not last.endswith(_SENTENCE_END) and first[:1].islower():
                previous[-1] = join_lines([last, first])
                blocks.pop(0)
            elif header is not None and first.startswith("|") and first.split("\n", 1)[0] == header:
                if first.count("\n") >= 2:
                    blocks[0] = first.split("\n", 2)[2]
                    continued.add(index)
                else:
                    blocks.pop(0)  # the header alone: nothing goes on
        if blocks:
            if not blocks[-1].startswith("|"):
                header = None
            elif not (index in continued and len(blocks) == 1):
                header = blocks[-1].split("\n", 1)[0]
            previous = blocks
    return continued


def _is_prose(block: str) -> bool:
    return not block.startswith(("#", "|", "- ")) and not LIST_MARKER.match(block)
