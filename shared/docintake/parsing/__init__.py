"""Parsing: an uploaded file becomes Markdown plus a page map (Markdown offset → page number)."""

from __future__ import annotations

import bisect
import dataclasses
import json
import re
import unicodedata
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from docintake.config import ContentType
from docintake.errors import UnsupportedDocument
from docintake.vocabulary import ErrorCode

if TYPE_CHECKING:
    from docintake.config import Settings

# Called by long-running parsers every few seconds: extends the job's lease and the message's visibility.
Heartbeat = Callable[[], None]


def _text_translation() -> dict[int, str | None]:
    # Control characters other than tab and newline, C1 controls, soft hyphens, byte-order marks, zero-width
    # spaces, noncharacters (U+FFFE is what PDFium leaves where a word was hyphenated at a line end) and lone
    # surrogates (which UTF-8 cannot encode) go; space-like characters become a space; Unicode hyphens become
    # "-"; the Latin ligatures (U+FB00-FB06: ff fi fl ffi ffl) are spelled out.
    table: dict[int, str | None] = dict.fromkeys((*range(0x09), *range(0x0E, 0x20), *range(0x7F, 0xA0)))
    table.update({0x0B: "\n", 0x0C: "\n", 0x0D: "\n"})
    table.update(dict.fromkeys((0xAD, 0xFEFF, 0x200B, 0x2060, *range(0xFDD0, 0xFDF0), *range(0xD800, 0xE000))))
    table.update(dict.fromkeys(plane + c for plane in range(0, 0x110000, 0x10000) for c in (0xFFFE, 0xFFFF)))
    table.update(dict.fromkeys((0xA0, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000), " "))
    table.update({0x2010: "-", 0x2011: "-"})
    table.update({c: unicodedata.normalize("NFKC", chr(c)) for c in range(0xFB00, 0xFB07)})
    return table


_TEXT_TRANSLATION = _text_translation()
# An en or em dash between two letters is a hyphen set in the wrong glyph ("out\u2013of\u2013pocket").
_DASH_IN_WORD = re.compile(r"(?<=[^\W\d_])[\u2013\u2014](?=[^\W\d_])")


# Bytes that text in a single-byte charset does not contain (all C0 controls but tab, LF, VT, FF and CR; DEL):
# their presence says binary data, not text in another charset.
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")
# Four or more letters outside ASCII in a row: a word of a non-Latin script read in the wrong charset.
_NON_ASCII_WORD = re.compile(r"[^\x00-\x7f\W\d_]{4,}")


# How a list item begins: 1. 1) a. a) (iv) or a bullet.
LIST_MARKER = re.compile(r"^(?:\d{1,3}[.)]|[a-z][.)]|\([a-z0-9]{1,4}\)|[•▪●◦\-–*])\s+")


def join_lines(lines: list[str]) -> str:
    """Lines of one paragraph as one: a word hyphenated across lines is joined again; any other break is a space."""
    text = lines[0]
    for line in lines[1:]:
        text = text[:-1] + line if text.endswith("-") and line[:1].islower() else f"{text} {line}"
    return text


def normalize_text(text: str) -> str:
    """Parsed text as plain Unicode: what a PDF, DOCX or OCR engine leaves in that is not text is removed,
    and look-alikes are replaced by the characters a search would type. It looks no further than a
    character's neighbours, so normalising page by page (before page offsets are taken) gives the same
    text as normalising the whole. Applied once, by each parser, to the Markdown it returns."""
    text = text.replace("\r\n", "\n").translate(_TEXT_TRANSLATION)
    return _DASH_IN_WORD.sub("-", text)


@dataclass(frozen=True)
class PageMap:
    """``starts[i]`` is the Markdown offset where page ``pages[i]`` begins; offsets ascend."""

    pages: tuple[int, ...]
    starts: tuple[int, ...]

    def __post_init__(self) -> None:
        # An empty map (a document whose every page came out blank) has no page for any offset.
        if not self.pages or len(self.pages) != len(self.starts):
            raise ValueError(f"a page map needs one start per page and at least one page, not {self!r}")

    def page_at(self, offset: int) -> int:
        index = bisect.bisect_right(self.starts, offset) - 1
        return self.pages[max(index, 0)]

    def to_json(self) -> str:
        return json.dumps([{"page": p, "start": s} for p, s in zip(self.pages, self.starts, strict=True)])

    @classmethod
    def from_json(cls, text: str) -> PageMap:
        entries = json.loads(text)
        if not entries:
            return cls((1,), (0,))
        return cls(tuple(int(e["page"]) for e in entries), tuple(int(e["start"]) for e in entries))

    @classmethod
    def single_page(cls) -> PageMap:
        return cls((1,), (0,))

    def spans(self, length: int) -> list[dict[str, int]]:
        """``[{"page", "start", "end"}]`` over a Markdown text of ``length`` characters."""
        ends = [*self.starts[1:], length]
        return [{"page": p, "start": s, "end": e} for p, s, e in zip(self.pages, self.starts, ends, strict=True)]


@dataclass(frozen=True)
class ParsedDocument:
    markdown: str
    page_map: PageMap
    page_count: int
    pages_without_text: int
    parser: str = "local"
    # Codes of what was noticed but not fatal, e.g. "pages_without_text:3". Never document text.
    warnings: tuple[str, ...] = ()
    # Pages (1-based) whose text came from OCR, and each one's mean OCR confidence (0..1).
    ocr_pages: tuple[int, ...] = ()
    page_confidence: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class ParsedPart:
    """Pages ``first``..``last`` of a large document, parsed on their own by one invocation (a part; see
    jobs.py). ``pages``/``starts`` map the part's Markdown like a PageMap; both are empty, and ``markdown``
    is "", when no page of the range has text. ``page_count`` is the whole document's."""

    first: int
    last: int
    markdown: str
    pages: tuple[int, ...]
    starts: tuple[int, ...]
    page_count: int
    pages_without_text: int
    parser: str = "local"
    warnings: tuple[str, ...] = ()
    page_confidence: tuple[tuple[int, float], ...] = ()

    def to_json(self) -> str:
        fields = dataclasses.asdict(self)
        return json.dumps(fields, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ParsedPart:
        fields = json.loads(text)
        return cls(
            first=int(fields["first"]),
            last=int(fields["last"]),
            markdown=str(fields["markdown"]),
            pages=tuple(int(page) for page in fields["pages"]),
            starts=tuple(int(start) for start in fields["starts"]),
            page_count=int(fields["page_count"]),
            pages_without_text=int(fields["pages_without_text"]),
            parser=str(fields["parser"]),
            warnings=tuple(str(code) for code in fields["warnings"]),
            page_confidence=tuple((int(page), float(score)) for page, score in fields["page_confidence"]),
        )


def join_parts(parts: Sequence[ParsedPart], *, empty: str, empty_code: str) -> ParsedDocument:
    """The parts of one document, in page order, as the document a whole parse would give: each part's
    Markdown after the previous one's with a blank line between (as pages are joined), its page starts
    shifted by where it begins. No part with text: ``UnsupportedDocument(empty, code=empty_code)``."""
    ordered = sorted(parts, key=lambda part: part.first)
    if not ordered:
        raise ValueError("join_parts needs at least one part")
    pieces: list[str] = []
    pages: list[int] = []
    starts: list[int] = []
    offset = 0
    for part in ordered:
        if not part.markdown:
            continue
        if pieces:
            pieces.append("\n")
            offset += 1
        pages.extend(part.pages)
        starts.extend(start + offset for start in part.starts)
        pieces.append(part.markdown)
        offset += len(part.markdown)
    if not pieces:
        raise UnsupportedDocument(empty, code=empty_code)
    without_text = sum(part.pages_without_text for part in ordered)
    confidence = tuple(pair for part in ordered for pair in part.page_confidence)
    return ParsedDocument(
        "".join(pieces),
        PageMap(tuple(pages), tuple(starts)),
        ordered[0].page_count,
        without_text,
        parser=ordered[0].parser,
        warnings=((f"pages_without_text:{without_text}",) if without_text else ())
        + tuple(code for part in ordered for code in part.warnings),
        ocr_pages=tuple(page for page, _ in confidence),
        page_confidence=confidence,
    )


def join_pages(
    pages: Iterable[tuple[int, str]], *, empty: str = "document has no text", continuing: Container[int] = ()
) -> tuple[str, PageMap]:
    """Each page's Markdown, normalised (``normalize_text``) and joined with blank lines, and the map of
    where each page with text begins. Normalised page by page, so every start is an offset into the
    result; a page left with no text is not in the map. No page with text: ``empty_document``.

    A page in ``continuing`` carries on the previous page's last block (the rows of a table broken by the
    page) and follows it after a single newline, so the block stays one while its page starts mid-block."""
    parts: list[str] = []
    numbers: list[int] = []
    starts: list[int] = []
    offset = 0
    for number, page in pages:
        text = normalize_text(page).strip("\n").rstrip()
        if not text.strip():
            continue
        if parts and number in continuing:
            parts[-1] = parts[-1][:-1]
            offset -= 1
        text += "\n\n"
        numbers.append(number)
        starts.append(offset)
        parts.append(text)
        offset += len(text)
    if not parts:
        raise UnsupportedDocument(empty, code=ErrorCode.EMPTY_DOCUMENT)
    return "".join(parts).rstrip() + "\n", PageMap(tuple(numbers), tuple(starts))


def markdown_table(rows: list[list[str]]) -> str:
    """A pipe table; the first row is the header. Pipes inside cells are escaped."""
    width = max(len(row) for row in rows)
    cells = [[cell.replace("|", "\\|") for cell in row] + [""] * (width - len(row)) for row in rows]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + " --- |" * width]
    lines += ["| " + " | ".join(row) + " |" for row in cells[1:]]
    return "\n".join(lines)


class Parser(Protocol):
    """A parser provider. ``parse`` raises PermanentError or TransientError subclasses, nothing else."""

    @property
    def name(self) -> str: ...

    def parse(self, data: bytes, content_type: str, *, heartbeat: Heartbeat) -> ParsedDocument: ...

    def page_count(self, data: bytes, content_type: str) -> int | None:
        """The document's pages when this parser can parse it by page range (a part per range), else None."""
        ...

    def parse_pages(self, data: bytes, content_type: str, first: int, last: int, *, heartbeat: Heartbeat) -> ParsedPart:
        """Pages ``first``..``last`` (1-based, inclusive) of a document ``page_count`` answered for."""
        ...

    def join(self, parts: Sequence[ParsedPart]) -> ParsedDocument:
        """The parts of one document as one, with the checks a whole parse makes."""
        ...


def parse_document(data: bytes, content_type: str, *, max_pages: int) -> ParsedDocument:
    """Dispatches on the (validated) content type. Raises ``UnsupportedDocument`` for what cannot be read."""
    if content_type == "application/pdf":
        from docintake.parsing.pdf import parse_pdf

        return parse_pdf(data, max_pages=max_pages)
    if content_type in ("text/plain", "text/markdown"):
        return parse_text(data)
    if content_type == ContentType.DOCX:
        from docintake.parsing.docx import parse_docx

        return parse_docx(data, max_pages=max_pages)
    if content_type == ContentType.HTML:
        from docintake.parsing.html import parse_html

        return parse_html(data)
    raise UnsupportedDocument(f"no parser for {content_type}", code=ErrorCode.UNSUPPORTED_TYPE)


def parse_text(data: bytes) -> ParsedDocument:
    """Plain text and Markdown pass through as one page, decoded by ``decode_text``."""
    text, warnings = decode_text(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if not text.strip():
        raise UnsupportedDocument("document has no text", code=ErrorCode.EMPTY_DOCUMENT)
    return ParsedDocument(text, PageMap.single_page(), 1, 0, warnings=warnings)


def decode_text(data: bytes) -> tuple[str, tuple[str, ...]]:
    """UTF-8 (a BOM is dropped); failing that, Windows-1252 when that reading is unambiguous, with the
    warning ``decoded_as_cp1252``; anything else is ``not_utf8``.

    Text saved on Windows in Western European languages is often Windows-1252 (which Latin-1 files also
    decode as, bar the C1 controls no one types). Every byte string decodes as some single-byte charset,
    so Windows-1252 is taken only when (1) every byte is defined in it, (2) there are no control bytes
    (binary data), and (3) no four letters outside ASCII follow each other: Western European words mix
    a few accented letters into ASCII ones ("Größe", "ação"), while Cyrillic, Greek or Hebrew text in its
    own single-byte charset reads as long runs of accented letters ("Ïðèâåò")."""
    try:
        return data.decode("utf-8-sig"), ()
    except UnicodeDecodeError as exc:
        utf8_error = exc
    if CONTROL_BYTES.search(data) is None:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            pass
        else:
            if _NON_ASCII_WORD.search(text) is None:
                return text, ("decoded_as_cp1252",)
    raise UnsupportedDocument(
        "text is neither UTF-8 nor unambiguous Windows-1252 (Latin-1)", code=ErrorCode.NOT_UTF8
    ) from utf8_error


def parser_from_settings(settings: Settings) -> Parser:
    if settings.parser == "llamaparse":
        from docintake.parsing.llamaparse import LlamaParseParser

        return LlamaParseParser.from_settings(settings)
    from docintake.parsing.local import LocalParser

    return LocalParser.from_settings(settings)
