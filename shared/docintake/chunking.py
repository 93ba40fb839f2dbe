"""Chunking: Markdown becomes chunks that each hold a contiguous slice of it, with a heading path,
a page span and a deterministic id.

The Markdown is cut into units (headings, list items, table rows, sentences; a unit longer than the
chunk size is cut at spaces) and units are packed greedily up to ``size`` characters. A new top-level
section starts a new chunk, unless the chunk so far holds only headings. A chunk that continues the
section its previous chunk ended in begins with that chunk's last whole units of the same section (no
heading crossed, no table), as long as they add up to no more than ``overlap`` characters.

A citation must name where the text is: ``sections`` lists the heading path of every section a chunk
holds text of, in order, and ``heading_path`` is their longest common prefix, so small sibling
sections packed together ("A. Aircraft", "B. Theft") cite their parent and list each.

A pipe table is one unit when it fits; a larger one is cut between rows into pieces that each start a
chunk with the header row and separator repeated. A row is never cut, and never stands without its
header: one row with its table's header row and separator is the one unit that can make a chunk
over the size. Everything else is cut to fit.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from uuid import UUID

from docintake.parsing import PageMap

if TYPE_CHECKING:
    from docintake.config import Settings

CHUNK_NAMESPACE = UUID("6f1c7a52-3b1e-4a8e-9d57-0c4b1d2e8f10")
_HEADING = re.compile(r"(#{1,6})\s+(.*\S)\s*$")  # used with match(): anchored at its start
_LINE_UNIT = re.compile(r"^\s*(?:[-*+]\s|\d{1,3}[.)]\s|[a-z][.)]\s|\(\w{1,4}\)\s|\|)")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=[\"'(\[A-Z0-9])")
_BLANK_LINES = re.compile(r"\n\s*\n")
_NEWLINE = re.compile(r"\n")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_TABLE_RULE = re.compile(r"^\s*\|(?:\s*:?-{3,}:?\s*\|)+\s*$")
# "#" at a line start, written literal-first: the engine then jumps from one "#" to the next instead of
# trying every position of the document (the same matches as r"^(#{1,6})\s+\S", 8x faster).
_ANY_HEADING = re.compile(r"(#(?<=^#)#{0,5})\s+\S", re.MULTILINE)


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    content: str
    heading_path: tuple[str, ...]
    page_start: int
    page_end: int
    start: int
    end: int
    # The heading path of each section the chunk holds, in document order; heading_path is their common prefix.
    sections: tuple[tuple[str, ...], ...] = ()

    @property
    def chars(self) -> int:
        return len(self.content)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.content.encode("utf-8")).hexdigest()

    def chunk_id(self, document_id: UUID) -> UUID:
        return uuid.uuid5(CHUNK_NAMESPACE, f"{document_id}:{self.ordinal}:{self.content_hash}")


# Not frozen: a frozen dataclass's __init__ takes 6x as long, and a document makes a unit per sentence.
@dataclass(slots=True)
class _Unit:
    start: int
    end: int
    heading_path: tuple[str, ...]
    section: int  # index of the top-level section the unit belongs to
    is_heading: bool = False
    is_table: bool = False
    # Text a chunk starting with this unit begins with: a split table's header row and separator.
    prefix: str = ""
    tokens: int = 0


def estimate_tokens(text: str) -> int:
    """A conservative stand-in for an embedding model's tokenizer: words and punctuation marks, or a
    quarter of the characters, whichever is more (BPE tokenizers average about 4 characters a token)."""
    return max(len(_TOKEN.findall(text)), (len(text) + 3) // 4)


def chunk_with_settings(markdown: str, page_map: PageMap, settings: Settings) -> list[Chunk]:
    """The chunks the chunk stage makes: ``chunk_markdown`` with the configured size, overlap and token cap."""
    return chunk_markdown(
        markdown,
        page_map,
        size=settings.chunk_size,
        overlap=settings.chunk_overlap,
        max_tokens=settings.chunk_max_tokens,
    )


def chunk_markdown(
    markdown: str,
    page_map: PageMap,
    *,
    size: int = 1000,
    overlap: int = 200,
    max_tokens: int | None = None,
    count_tokens: Callable[[str], int] = estimate_tokens,
) -> list[Chunk]:
    """``size`` and ``overlap`` are in characters; ``max_tokens`` (optional) also caps each chunk by
    ``count_tokens``, summed over its units."""
    if overlap >= size:
        raise ValueError("overlap must be smaller than size")
    units = _units(markdown, size)
    if max_tokens is not None:
        units = [replace(u, tokens=count_tokens(u.prefix + markdown[u.start : u.end])) for u in units]
    chunks: list[Chunk] = []
    previous_first = -1  # the first unit the previous chunk added (not counting its overlap)
    i = 0
    while i < len(units):
        # Overlap first: the previous chunk's trailing whole units under the same heading path (so never
        # across a heading) and not of a table, adding up to no more than `overlap` characters and never
        # all of what the previous chunk added.
        k = i
        path = units[i].heading_path
        if chunks and overlap and not units[i].prefix:
            while (
                k - 1 > previous_first
                and units[k - 1].heading_path is path  # one object per heading: see _units
                and not units[k - 1].is_table
                and units[i].start - units[k - 1].start <= overlap
            ):
                k -= 1
            while k < i and (  # leave room for the next unit
                units[i].end - units[k].start > size or not _within_tokens(units, k, i + 1, max_tokens)
            ):
                k += 1
        # Then pack forward. A chunk stays in its section, unless all it holds so far is headings.
        j = i + 1
        while (
            j < len(units)
            and (units[j].section == units[j - 1].section or all(u.is_heading for u in units[i:j]))
            and not units[j].prefix  # a table piece with its repeated header starts its own chunk
            and len(units[k].prefix) + units[j].end - units[k].start <= size
            and _within_tokens(units, k, j + 1, max_tokens)
        ):
            j += 1
        # A heading belongs with the text under it, not at the end of the chunk before.
        while j < len(units) and j - 1 > i and units[j - 1].is_heading:
            j -= 1
        content_start, content_end = units[k].start, units[j - 1].end
        sections = _sections(units, k, j)
        chunks.append(
            Chunk(
                ordinal=len(chunks),
                content=(units[k].prefix + markdown[content_start:content_end]).strip(),
                heading_path=_common_prefix(sections),
                sections=sections,
                page_start=page_map.page_at(content_start),
                page_end=page_map.page_at(max(content_start, content_end - 1)),
                start=content_start,
                end=content_end,
            )
        )
        previous_first, i = i, j
    return chunks


def _sections(units: list[_Unit], first: int, stop: int) -> tuple[tuple[str, ...], ...]:
    """The heading paths of the sections units[first:stop] hold, in order. A heading whose own text (or
    subsection) follows it in the chunk is covered by what follows: a chunk opening with "# TITLE" and
    "## SECTION I" is under both, not a section of its own; a heading with nothing under it in the chunk
    is listed."""
    if units[first].heading_path is units[stop - 1].heading_path:
        # One path object per heading (see _units): the same object at both ends is one section throughout.
        return (units[first].heading_path,)
    sections: list[tuple[str, ...]] = []
    for n in range(first, stop):
        path = units[n].heading_path
        if sections and sections[-1] is path:
            continue
        if units[n].is_heading and n + 1 < stop:
            following = units[n + 1].heading_path
            if following is path or following[: len(path)] == path:
                continue
        sections.append(path)
    return tuple(sections)


def _common_prefix(paths: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    common = paths[0]
    for path in paths[1:]:
        n = 0
        while n < len(common) and n < len(path) and common[n] == path[n]:
            n += 1
        common = common[:n]
    return common


def _within_tokens(units: list[_Unit], first: int, stop: int, max_tokens: int | None) -> bool:
    return max_tokens is None or stop - first <= 1 or sum(u.tokens for u in units[first:stop]) <= max_tokens


def _units(markdown: str, size: int) -> list[_Unit]:
    units: list[_Unit] = []
    path: list[tuple[int, str]] = []
    heading_path: tuple[str, ...] = ()  # one object per heading, shared by the units under it
    section_level = _section_level(markdown)
    section = 0
    for block_start, block_end in _blocks(markdown):
        block = markdown[block_start:block_end]
        heading = _HEADING.match(block) if "\n" not in block else None
        if heading:
            level = len(heading.group(1))
            if level <= section_level:
                section += 1
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, heading.group(2)))
            heading_path = tuple(t for _, t in path)
            # A heading longer than a chunk (a parser can make one of a long bold line) is cut like text.
            units += [
                _Unit(start, end, heading_path, section, is_heading=True)
                for start, end in _fit(markdown, block_start, block_end, size)
            ]
            continue
        if _is_table(block):
            units += [
                _Unit(start, end, heading_path, section, is_table=True, prefix=prefix)
                for start, end, prefix in _table_pieces(markdown, block_start, block_end, size)
            ]
            continue
        for start, end in _block_units(markdown, block_start, block_end):
            for piece_start, piece_end in _fit(markdown, start, end, size):
                units.append(_Unit(piece_start, piece_end, heading_path, section))
    return units


def _is_table(block: str) -> bool:
    lines = block.split("\n")
    return (
        len(lines) >= 2 and all(line.lstrip().startswith("|") for line in lines) and bool(_TABLE_RULE.match(lines[1]))
    )


def _table_pieces(markdown: str, start: int, end: int, size: int) -> list[tuple[int, int, str]]:
    """A table that fits is one unit. A larger one is cut between rows into pieces that each fit with
    the header row and separator repeated in front; a row is never cut, so one row whose header and
    separator with it are longer than the size makes a piece (and a chunk) over the size — the one
    unsplittable unit."""
    if end - start <= size:
        return [(start, end, "")]
    rows = _spans(markdown, _NEWLINE, start, end)
    header_end = rows[1][1]
    header = markdown[start:header_end] + "\n"
    pieces: list[tuple[int, int, str]] = []
    piece_start, prefix = start, ""
    for (row_start, row_end), (_, previous_end) in zip(rows[3:], rows[2:], strict=False):
        if len(prefix) + row_end - piece_start > size:
            pieces.append((piece_start, previous_end, prefix))
            piece_start, prefix = row_start, header
    pieces.append((piece_start, end, prefix))
    return pieces


def _blocks(markdown: str) -> list[tuple[int, int]]:
    """Blank-line separated blocks, with every heading line a block of its own."""
    blocks: list[tuple[int, int]] = []
    for start, end in _spans(markdown, _BLANK_LINES):
        if "#" not in markdown[start:end]:
            blocks.append((start, end))
            continue
        lines = _spans(markdown, _NEWLINE, start, end)
        run_start: int | None = None
        previous_end = start
        for line_start, line_end in lines:
            if _HEADING.match(markdown, line_start, line_end):
                if run_start is not None:
                    blocks.append((run_start, previous_end))
                    run_start = None
                blocks.append((line_start, line_end))
            elif run_start is None:
                run_start = line_start
            previous_end = line_end
        if run_start is not None:
            blocks.append((run_start, previous_end))
    return blocks


def _section_level(markdown: str) -> int:
    """The heading level that divides the document into sections: the shallowest that occurs more than
    once, so a lone title (``# HOMEOWNERS POLICY``) does not make the whole policy one section."""
    counts: dict[int, int] = {}
    for match in _ANY_HEADING.finditer(markdown):
        level = len(match.group(1))
        counts[level] = counts.get(level, 0) + 1
    repeated = [level for level, n in counts.items() if n > 1]
    return min(repeated) if repeated else min(counts, default=1)


def _spans(text: str, separator: re.Pattern[str], start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Non-blank spans of text[start:end] between separator matches, as absolute offsets, whitespace-trimmed."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    position = start
    for match in separator.finditer(text, start, end):
        spans.append((position, match.start()))
        position = match.end()
    spans.append((position, end))
    trimmed = []
    for a, b in spans:
        piece = text[a:b]
        stripped = piece.strip()
        if stripped:
            a += len(piece) - len(piece.lstrip())
            trimmed.append((a, a + len(stripped)))
    return trimmed


def _block_units(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Lines for lists and tables, sentences for prose."""
    block = text[start:end]
    if any(_LINE_UNIT.match(line) for line in block.split("\n")):
        return _spans(text, _NEWLINE, start, end)
    return _spans(text, _SENTENCE_END, start, end)


def _fit(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Cuts a unit longer than ``size`` at spaces (or hard, for a single longer word)."""
    pieces: list[tuple[int, int]] = []
    while end - start > size:
        cut = text.rfind(" ", start + 1, start + size + 1)
        if cut <= start:
            cut = start + size
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        pieces.append((start, end))
    return pieces
