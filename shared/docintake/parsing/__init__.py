"""Parsing: an uploaded file becomes Markdown plus a page map (Markdown offset → page number)."""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from docintake.errors import UnsupportedDocument

if TYPE_CHECKING:
    from docintake.config import Settings

# Called by long-running parsers every few seconds: extends the job's lease and the message's visibility.
Heartbeat = Callable[[], None]


@dataclass(frozen=True)
class PageMap:
    """``starts[i]`` is the Markdown offset where page ``pages[i]`` begins; offsets ascend."""

    pages: tuple[int, ...]
    starts: tuple[int, ...]

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


class Parser(Protocol):
    """A parser provider. ``parse`` raises PermanentError or TransientError subclasses, nothing else."""

    @property
    def name(self) -> str: ...

    def parse(self, data: bytes, content_type: str, *, heartbeat: Heartbeat) -> ParsedDocument: ...


def parse_document(data: bytes, content_type: str, *, max_pages: int) -> ParsedDocument:
    """Dispatches on the (validated) content type. Raises ``UnsupportedDocument`` for what cannot be read."""
    if content_type == "application/pdf":
        from docintake.parsing.pdf import parse_pdf

        return parse_pdf(data, max_pages=max_pages)
    if content_type in ("text/plain", "text/markdown"):
        return parse_text(data)
    raise UnsupportedDocument(f"no parser for {content_type}", code="unsupported_type")


def parse_text(data: bytes) -> ParsedDocument:
    """Plain text and Markdown pass through as one page."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnsupportedDocument("text is not UTF-8", code="not_utf8") from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if not text.strip():
        raise UnsupportedDocument("document has no text", code="empty_document")
    return ParsedDocument(text, PageMap.single_page(), 1, 0)


def parser_from_settings(settings: Settings) -> Parser:
    if settings.parser == "llamaparse":
        from docintake.parsing.llamaparse import LlamaParseParser

        return LlamaParseParser.from_settings(settings)
    from docintake.parsing.local import LocalParser

    return LocalParser.from_settings(settings)
