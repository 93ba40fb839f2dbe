"""DOCX parsing: a Word document's body becomes Markdown (headings, lists, tables) plus a page map.

python-docx opens the package (it finds the main part through the package relationships and parses every
XML part with lxml, entities unresolved); the body is then read from its element tree, because python-docx's
objects give neither the body order of paragraphs and tables, nor page breaks, nor numbering formats.

- Headings: the paragraph style's name ("heading 1".."heading 9", "title"), else its outline level, looked up
  through the style's ``basedOn`` chain; a paragraph's own outline level wins. Levels past 6 read as 6.
- Lists: a paragraph's numbering (``numPr``, its own or its style's) is a list item, nested by ``ilvl``;
  bullet or numbered from the level's ``numFmt``; numbered items are counted per list and level.
- Tables: one pipe table per top-level table, the first row as its header. Every row has the grid's width:
  a cell spanning columns (``gridSpan``) or rows (``vMerge``) is one cell, its text in the first grid cell it
  covers and the others empty; rows and columns empty throughout are dropped. A cell's paragraphs are joined
  by spaces. A grid of more than a million cells is no real table's: its rows read as paragraphs.
- A layout table is not data: one with a table inside a cell (beside at most one other cell with text in its
  row: two or more make a data grid, the inner table flattened into its cell), or whose text is all in one column
  (a box of one cell, or a page laid out in a one-column table with the data table inside a cell). Its
  cells read, row by row, as the body does (headings, paragraphs, lists, page breaks), and a table inside
  them as a table of its own, itself a layout table or not. Past ``_MAX_TABLE_DEPTH`` tables inside tables
  are data tables, and a table inside their cells (or in a footnote or text box) is flattened into the cell's
  text: its cells joined by "; ", its rows by " / ".
- Direct bold (``w:b`` on a run) is kept as ``**bold**`` outside headings; hyperlinks keep their text;
  a text box reads as a paragraph after the paragraph it is anchored in; footnotes are Markdown footnotes
  (``[^1]`` where referenced, ``[^1]: text`` at the end of that page); deleted revisions, field codes,
  hidden text, tables of contents (they repeat the headings), headers, footers, endnotes and comments are
  not read.

Pages: Word does not store pages; it lays them out when it renders. A page starts after an explicit page
break (``w:br w:type="page"``, or ``pageBreakBefore`` on a paragraph) and at each section break that starts a
new page (every type but ``continuous``). ``w:lastRenderedPageBreak`` is ignored although it marks where Word
last broke a page: it is a cache written only by Word, absent from files other programs write, stale after
any edit elsewhere and dependent on the fonts and printer at that save, so pages built on it would change
with whoever saved the file last. The page numbers cited are therefore the author's explicit pages.

Hostile packages fail with a code before anything is inflated: an OLE compound file is an encrypted DOCX
(``encrypted_docx``) or a legacy .doc (``unsupported_type``); a zip whose central directory declares more
than the caps (``too_large``; zipfile stops at the declared size, so the directory cannot lie about it); a
zip that is not a Word document (``corrupt_docx``); no text (``empty_document``); more pages than allowed
(``too_many_pages``). The local parser runs this in the parse sandbox: lxml is C on untrusted XML and a 50 MB
part builds a tree several times its size, so the same time and memory limits as for PDFs apply.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docx
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.parser import parse_xml

from docintake.config import COMPOUND_FILE_MAGIC
from docintake.errors import UnsupportedDocument
from docintake.parsing import ParsedDocument, join_pages, markdown_table
from docintake.vocabulary import ErrorCode

# Inflated sizes the zip's central directory may declare: every member, and the largest one.
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_MEMBER_BYTES = 50 * 1024 * 1024
MAX_MEMBERS = 10_000
# Word caps a table at 63 columns; a span or an offset past this is no table's.
_MAX_SPAN = 64
# Grid cells a table's Markdown may have once its empty rows and columns are dropped (as in html.py): a
# table's grid grows with rows times columns while its XML grows with cells, so a few KB of sparse cells
# placed far apart could otherwise make gigabytes of empty cells.
_MAX_GRID_CELLS = 1_000_000
# Layout tables read inside layout tables up to this depth, and tables flattened into cells inside each other
# up to it again: deeper ones are plain text. No real document nests layout this deep; the bound keeps the
# recursion and the text copied into flattened cells small.
_MAX_TABLE_DEPTH = 8
# The stream an encrypted OOXML package keeps inside its OLE compound file, named in UTF-16LE.
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_HEADING_NAME = re.compile(r"heading ([1-9])")
# Word's "List Bullet 2" is a separate list whose level 0 is indented further: its depth is in its name.
_TOC_NAME = re.compile(r"toc [1-9]|toc heading|table of figures")
_LIST_STYLE_NAME = re.compile(r"list (?:bullet|number) ([2-9])")
# Inline containers whose runs are the paragraph's text (hyperlinks, insertions, content controls, fields).
_RUN_CONTAINERS = {
    f"{_W}hyperlink",
    f"{_W}ins",
    f"{_W}moveTo",
    f"{_W}smartTag",
    f"{_W}customXml",
    f"{_W}fldSimple",
    f"{_W}sdt",
    f"{_W}sdtContent",
    f"{_W}dir",
    f"{_W}bdo",
}
_BLOCK_CONTAINERS = {f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml"}
_FALSE = {"0", "false", "off", "none"}

Element = Any  # an lxml element; lxml ships no type information


def parse_docx(data: bytes, *, max_pages: int) -> ParsedDocument:
    document = _open(data)
    try:
        # A part whose content type or root element is not the expected one loads as a plain part, or as
        # an element without these children; a relationship marked external has no part (ValueError).
        body, styles = document.element.body, document.styles.element
    except (AttributeError, ValueError) as exc:
        raise UnsupportedDocument("DOCX parts are not WordprocessingML", code=ErrorCode.CORRUPT_DOCX) from exc
    if body is None:
        raise UnsupportedDocument("document has no body", code=ErrorCode.EMPTY_DOCUMENT)
    paragraph_styles = _Styles(styles)
    numbering = _Numbering(document, paragraph_styles)
    reader = _BodyReader(paragraph_styles, numbering, _Notes(_footnotes(document)), max_pages)
    reader.read(body)
    pages = reader.finish()
    markdown, page_map = join_pages((number, "\n\n".join(blocks)) for number, blocks in enumerate(pages, start=1))
    return ParsedDocument(markdown, page_map, len(pages), 0, parser="local")


def _open(data: bytes) -> Any:
    if data.startswith(COMPOUND_FILE_MAGIC):
        if _ENCRYPTED_PACKAGE in data:
            raise UnsupportedDocument("DOCX is password-protected", code=ErrorCode.ENCRYPTED_DOCX)
        raise UnsupportedDocument(
            "an OLE compound file (Word 97-2003 .doc?), not a DOCX", code=ErrorCode.UNSUPPORTED_TYPE
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise UnsupportedDocument("not a DOCX (zip) file", code=ErrorCode.CORRUPT_DOCX) from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise UnsupportedDocument(f"DOCX has {len(members)} parts, over {MAX_MEMBERS}", code=ErrorCode.TOO_LARGE)
        total = sum(member.file_size for member in members)
        largest = max((member.file_size for member in members), default=0)
        if total > MAX_UNCOMPRESSED_BYTES or largest > MAX_MEMBER_BYTES:
            raise UnsupportedDocument(
                f"DOCX inflates to {total} bytes (largest part {largest})", code=ErrorCode.TOO_LARGE
            )
        if "[Content_Types].xml" not in archive.namelist():
            raise UnsupportedDocument("zip is not an Office document", code=ErrorCode.CORRUPT_DOCX)
    try:
        return docx.Document(io.BytesIO(data))
    except MemoryError:
        raise  # the sandbox reports it as parse_memory
    except Exception as exc:
        # What python-docx, lxml and zipfile raise on a damaged package is not one tree: PackageNotFoundError,
        # ValueError (the main part is a workbook or a presentation), XMLSyntaxError (bad XML, or an entity
        # expansion past libxml2's amplification limit), KeyError (a relationship to a missing part),
        # BadZipFile (a CRC error: a member inflating past the size its directory entry declares),
        # EOFError, NotImplementedError (a compression method or zip encryption). All mean: unreadable.
        raise UnsupportedDocument(
            f"DOCX could not be read ({type(exc).__name__})", code=ErrorCode.CORRUPT_DOCX
        ) from exc


def _attr(element: Element | None, name: str = "val") -> str | None:
    if element is None:
        return None
    value: str | None = element.get(f"{_W}{name}")
    return value


def _is_on(element: Element | None) -> bool:
    """A toggle property (``<w:b/>``, ``<w:b w:val="false"/>``): present and not switched off."""
    if element is None:
        return False
    value = _attr(element)
    return value is None or value.lower() not in _FALSE


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


@dataclass(frozen=True)
class _Style:
    name: str
    based_on: str | None
    outline_level: int | None
    num_id: str | None
    ilvl: int | None


class _Styles:
    """Paragraph styles by id: heading level and numbering, inherited through ``basedOn``."""

    def __init__(self, root: Element) -> None:
        self.styles: dict[str, _Style] = {}
        self.default: str | None = None
        for style in root.iter(f"{_W}style"):
            if _attr(style, "type") not in (None, "paragraph"):
                continue
            style_id = _attr(style, "styleId")
            if style_id is None:
                continue
            ppr = style.find(f"{_W}pPr")
            num_pr = ppr.find(f"{_W}numPr") if ppr is not None else None
            outline = _attr(ppr.find(f"{_W}outlineLvl")) if ppr is not None else None
            self.styles[style_id] = _Style(
                name=(_attr(style.find(f"{_W}name")) or "").strip().lower(),
                based_on=_attr(style.find(f"{_W}basedOn")),
                outline_level=_int(outline, 9) if outline is not None else None,
                num_id=_attr(num_pr.find(f"{_W}numId")) if num_pr is not None else None,
                ilvl=_int(_attr(num_pr.find(f"{_W}ilvl")), 0) if num_pr is not None else None,
            )
            if _is_on_attr(_attr(style, "default")):
                self.default = style_id

    def _chain(self, style_id: str | None) -> Iterator[_Style]:
        seen: set[str] = set()
        current = style_id if style_id in self.styles else self.default
        while current is not None and current in self.styles and current not in seen and len(seen) < 32:
            seen.add(current)
            style = self.styles[current]
            yield style
            current = style.based_on

    def heading_level(self, style_id: str | None) -> int | None:
        for style in self._chain(style_id):
            match = _HEADING_NAME.fullmatch(style.name)
            if match:
                return _heading_of_outline_level(int(match.group(1)) - 1)
            if style.name == "title":
                return 1
            if style.outline_level is not None:
                return _heading_of_outline_level(style.outline_level)
        return None

    def is_toc(self, style_id: str | None) -> bool:
        return any(_TOC_NAME.fullmatch(style.name) for style in self._chain(style_id))

    def list_depth(self, style_id: str | None) -> int:
        for style in self._chain(style_id):
            match = _LIST_STYLE_NAME.fullmatch(style.name)
            if match:
                return int(match.group(1)) - 1
        return 0

    def numbering(self, style_id: str | None) -> tuple[str | None, int | None]:
        for style in self._chain(style_id):
            if style.num_id is not None:
                return style.num_id, style.ilvl
        return None, None


def _heading_of_outline_level(outline_level: int) -> int | None:
    """The Markdown heading level of Word's outline level: 0-8 are headings 1-9, read as 1-6 (Markdown has
    six); 9 is body text, and a level out of range (a negative one) is no heading."""
    return min(outline_level + 1, 6) if 0 <= outline_level < 9 else None


def _is_on_attr(value: str | None) -> bool:
    return value is not None and value.lower() not in _FALSE


@dataclass(frozen=True)
class _Level:
    bullet: bool
    start: int


class _Numbering:
    """List levels by (numId, ilvl): bullet or numbered, and where the count starts."""

    def __init__(self, document: Any, styles: _Styles) -> None:
        self.levels: dict[tuple[str, int], _Level] = {}
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError, ValueError):
            # No numbering part, or not one (a plain part, an external target): every numPr is a bullet.
            return
        abstract: dict[str, dict[int, _Level]] = {}
        style_links: dict[str, str] = {}
        for node in root.iter(f"{_W}abstractNum"):
            abstract_id = _attr(node, "abstractNumId") or ""
            abstract[abstract_id] = self._levels(node)
            link = _attr(node.find(f"{_W}numStyleLink"))
            if link:
                style_links[abstract_id] = link
        nums = {_attr(num, "numId") or "": num for num in root.iter(f"{_W}num")}
        for num_id, num in nums.items():
            abstract_id = _attr(num.find(f"{_W}abstractNumId")) or ""
            if abstract_id in style_links:
                # The levels live with the numbering the linked style points at.
                linked, _ = styles.numbering(style_links[abstract_id])
                if linked in nums:
                    abstract_id = _attr(nums[linked].find(f"{_W}abstractNumId")) or abstract_id
            levels = dict(abstract.get(abstract_id, {}))
            for override in num.iter(f"{_W}lvlOverride"):
                ilvl = _int(_attr(override, "ilvl"), 0)
                levels.update(self._levels(override))
                start = override.find(f"{_W}startOverride")
                if start is not None and ilvl in levels:
                    levels[ilvl] = _Level(levels[ilvl].bullet, _int(_attr(start), 1))
            for ilvl, level in levels.items():
                self.levels[(num_id, ilvl)] = level

    @staticmethod
    def _levels(node: Element) -> dict[int, _Level]:
        levels: dict[int, _Level] = {}
        for lvl in node.findall(f"{_W}lvl"):
            fmt = _attr(lvl.find(f"{_W}numFmt")) or "decimal"
            levels[_int(_attr(lvl, "ilvl"), 0)] = _Level(
                bullet=fmt in ("bullet", "none"), start=_int(_attr(lvl.find(f"{_W}start")), 1)
            )
        return levels

    def level(self, num_id: str, ilvl: int) -> _Level:
        # A level the list does not define is numbered like its first level; an unknown list is bulleted.
        return self.levels.get((num_id, ilvl)) or self.levels.get((num_id, 0)) or _Level(bullet=True, start=1)


@dataclass
class _Paragraph:
    """One paragraph's text, split where it has explicit page breaks."""

    segments: list[str] = field(default_factory=lambda: [""])
    notes: _Notes | None = None

    def add(self, text: str) -> None:
        self.segments[-1] += text

    def page_break(self) -> None:
        self.segments.append("")


@dataclass
class _Notes:
    """Footnote texts by id, and the ids referenced on the page being read, in order: a page's footnotes
    are written at its end, as Markdown footnotes, so they are cited with the page that prints them."""

    texts: dict[str, str]
    pending: list[str] = field(default_factory=list)

    def reference(self, note_id: str | None) -> str:
        if note_id is None or note_id not in self.texts:
            return ""
        if note_id not in self.pending:
            self.pending.append(note_id)
        return f"[^{note_id}]"

    def definitions(self) -> str:
        lines = [f"[^{note_id}]: {self.texts[note_id]}" for note_id in self.pending]
        self.pending.clear()
        return "\n".join(lines)


def _footnotes(document: Any) -> dict[str, str]:
    """The footnotes part's notes by id (python-docx does not read that part; its XML is parsed with
    python-docx's parser, entities unresolved). Separators are not notes."""
    for rel in document.part.rels.values():
        if rel.reltype == RT.FOOTNOTES and not rel.is_external:
            try:
                root = parse_xml(rel.target_part.blob)
            except MemoryError:
                raise
            except Exception:
                return {}  # the body is still worth reading without its footnotes
            notes = {}
            for note in root.iter(f"{_W}footnote"):
                note_id = _attr(note, "id")
                if note_id is not None and _attr(note, "type") in (None, "normal") and (text := _cell_text(note)):
                    notes[note_id] = text
            return notes
    return {}


class _BodyReader:
    def __init__(self, styles: _Styles, numbering: _Numbering, notes: _Notes, max_pages: int) -> None:
        self.styles = styles
        self.numbering = numbering
        self.notes = notes
        self.max_pages = max_pages
        self.pages: list[list[str]] = [[]]
        self.list_lines: list[str] = []
        # Content column of the last item at each list level, so a nested item indents under its parent.
        self.list_columns: list[int] = []
        self.counters: dict[tuple[str, int], int] = {}
        self.list_id: str | None = None  # numId of the open list's top-level items
        self.section_starts: list[str] = []
        self.anything = False
        # Inside a table of contents: its lines repeat the headings with page numbers, so they are not read.
        self.in_toc = 0
        self.layout_depth = 0  # layout tables being read, one inside the other

    # Body order: paragraphs and tables, content controls opened; a sectPr in a paragraph ends a section.
    def read(self, body: Element) -> None:
        self.section_starts = [_attr(sect.find(f"{_W}type")) or "nextPage" for sect in body.iter(f"{_W}sectPr")]
        self._blocks(body)

    def _blocks(self, container: Element) -> None:
        for child in container:
            tag = child.tag
            if tag == f"{_W}p":
                self._paragraph(child)
            elif tag == f"{_W}tbl":
                self._table(child)
            elif tag in _BLOCK_CONTAINERS:
                toc = tag == f"{_W}sdt" and _attr(child.find(f"{_W}sdtPr/{_W}docPartObj/{_W}docPartGallery")) == (
                    "Table of Contents"
                )
                self.in_toc += toc
                self._blocks(child)
                self.in_toc -= toc

    def finish(self) -> list[list[str]]:
        self._end_page()
        return self.pages

    def _end_page(self) -> None:
        self._end_list()
        if notes := self.notes.definitions():
            self.pages[-1].append(notes)

    def _new_page(self) -> None:
        self._end_page()
        self.pages.append([])
        if len(self.pages) > self.max_pages:
            raise UnsupportedDocument(f"document has more than {self.max_pages} pages", code=ErrorCode.TOO_MANY_PAGES)

    def _emit(self, block: str) -> None:
        self._end_list()
        self.pages[-1].append(block)
        self.anything = True

    def _end_list(self) -> None:
        if self.list_lines:
            self.pages[-1].append("\n".join(self.list_lines))
            self.anything = True
        self.list_lines, self.list_columns = [], []

    def _paragraph(self, p: Element) -> None:
        ppr = p.find(f"{_W}pPr")
        style_id = _attr(ppr.find(f"{_W}pStyle")) if ppr is not None else None
        if ppr is not None and _is_on(ppr.find(f"{_W}pageBreakBefore")) and self.anything:
            self._new_page()
        level = self._heading_level(ppr, style_id)
        content = _Paragraph(notes=self.notes)
        _runs(p, content, bold_allowed=level is None)
        for index, segment in enumerate(content.segments):
            if index:
                self._new_page()
            text = " ".join(segment.split())
            if not text or self.in_toc or self.styles.is_toc(style_id):
                continue
            if level is not None:
                self._emit("#" * level + " " + text)
            elif (item := self._list_item(ppr, style_id)) is not None:
                self._list_line(*item, text)
            else:
                self._emit(text)
        for box in _text_boxes(p):
            if text := _cell_text(box, self.notes):
                self._emit(text)
        if ppr is not None and ppr.find(f"{_W}sectPr") is not None:
            self._end_section()

    def _end_section(self) -> None:
        # The break's kind is the next section's: its sectPr says how it starts.
        if self.section_starts:
            self.section_starts.pop(0)
        following = self.section_starts[0] if self.section_starts else "nextPage"
        if following != "continuous":
            self._new_page()

    def _heading_level(self, ppr: Element | None, style_id: str | None) -> int | None:
        outline = _attr(ppr.find(f"{_W}outlineLvl")) if ppr is not None else None
        if outline is not None:
            return _heading_of_outline_level(_int(outline, 9))
        return self.styles.heading_level(style_id)

    def _list_item(self, ppr: Element | None, style_id: str | None) -> tuple[str, int] | None:
        num_pr = ppr.find(f"{_W}numPr") if ppr is not None else None
        num_id = _attr(num_pr.find(f"{_W}numId")) if num_pr is not None else None
        ilvl = _int(_attr(num_pr.find(f"{_W}ilvl")), -1) if num_pr is not None else -1
        if num_id is None:
            num_id, style_ilvl = self.styles.numbering(style_id)
            ilvl = style_ilvl if style_ilvl is not None else ilvl
        if num_id is None or num_id == "0":
            return None
        return num_id, min(max(ilvl, self.styles.list_depth(style_id), 0), 8)

    def _list_line(self, num_id: str, ilvl: int, text: str) -> None:
        if ilvl == 0 and self.list_lines and num_id != self.list_id:
            self._end_list()  # another list begins (a numbered one after bullets, say)
        if ilvl == 0:
            self.list_id = num_id
        level = self.numbering.level(num_id, ilvl)
        for key in [k for k in self.counters if k[0] == num_id and k[1] > ilvl]:
            del self.counters[key]  # a deeper list restarts under each new parent item
        if level.bullet:
            marker = "- "
        else:
            count = self.counters.get((num_id, ilvl), level.start - 1) + 1
            self.counters[(num_id, ilvl)] = count
            marker = f"{count}. "
        depth = min(ilvl, len(self.list_columns))
        indent = self.list_columns[depth - 1] if depth else 0
        del self.list_columns[depth:]
        self.list_columns.append(indent + len(marker))
        self.list_lines.append(" " * indent + marker + text)

    def _table(self, tbl: Element) -> None:
        unwraps = self.layout_depth < _MAX_TABLE_DEPTH
        if unwraps and _holds_a_table(tbl):
            self._layout(tbl)
            return
        cells = _cell_texts(tbl, self.notes)
        rows = _grid(cells)
        if rows is None:
            # Wider and longer than any real table (a hostile grid): its text, one paragraph per row, rather
            # than refusing a document whose text is all there, or laying out a grid that could be gigabytes.
            for row in cells:
                if row:
                    self._emit("; ".join(text for _, text in row))
            return
        if unwraps and rows and len(rows[0]) == 1:
            self._layout(tbl)
        elif rows:
            self._emit(markdown_table(rows))

    def _layout(self, tbl: Element) -> None:
        """A layout table's cells, row by row, read as the body is."""
        self.layout_depth += 1
        for tr in _rows(tbl):
            for tc in _cells(tr):
                if not _continues(tc):
                    self._blocks(tc)
        self.layout_depth -= 1


def _runs(container: Element, out: _Paragraph, *, bold_allowed: bool) -> None:
    """Appends the text of a paragraph's runs, in order, to ``out``; page breaks split it."""
    for child in container:
        tag = child.tag
        if tag == f"{_W}r":
            _run(child, out, bold_allowed=bold_allowed)
        elif tag in _RUN_CONTAINERS:
            _runs(child, out, bold_allowed=bold_allowed)


def _run(r: Element, out: _Paragraph, *, bold_allowed: bool) -> None:
    rpr = r.find(f"{_W}rPr")
    bold = bold_allowed and rpr is not None and _is_on(rpr.find(f"{_W}b"))
    if rpr is not None and _is_on(rpr.find(f"{_W}vanish")):
        return  # hidden text
    text = ""
    for child in r:
        tag = child.tag
        if tag == f"{_W}t":
            text += child.text or ""
        elif tag in (f"{_W}tab", f"{_W}cr"):
            text += " "
        elif tag == f"{_W}noBreakHyphen":
            text += "-"
        elif tag == f"{_W}footnoteReference" and out.notes is not None:
            text += out.notes.reference(_attr(child, "id"))
        elif tag == f"{_W}br":
            if _attr(child, "type") == "page":
                _add(out, text, bold)
                text = ""
                out.page_break()
            else:
                text += " "
    _add(out, text, bold)


def _add(out: _Paragraph, text: str, bold: bool) -> None:
    if not text:
        return
    core = text.strip()
    if not bold or not core:
        out.add(text)
        return
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    current = out.segments[-1]
    if current.endswith("**") and not lead and not current.endswith("\\**"):
        # Adjacent bold runs (Word splits runs at every edit) make one bold span.
        out.segments[-1] = current[:-2] + core + "**" + trail
    else:
        out.add(f"{lead}**{core}**{trail}")


def _text_boxes(p: Element) -> Iterator[Element]:
    """The paragraph's text boxes (shapes anchored in its runs). Word writes each twice, as a DrawingML shape
    and as a VML fallback inside markup-compatibility content: the fallback copy is skipped."""
    for box in p.iter(f"{_W}txbxContent"):
        if not any(ancestor.tag == f"{_MC}Fallback" for ancestor in box.iterancestors()):
            yield box


def _cell_text(tc: Element, notes: _Notes | None = None, depth: int = 0) -> str:
    """A cell's paragraphs joined by spaces; a nested table's cells by "; ", its rows by " / ". ``depth`` is
    how many flattened tables the cell is inside: past ``_MAX_TABLE_DEPTH`` a table inside is plain text."""
    parts: list[str] = []
    for child in tc:
        if child.tag == f"{_W}p":
            paragraph = _Paragraph(notes=notes)
            _runs(child, paragraph, bold_allowed=True)
            parts.append(" ".join("".join(paragraph.segments).split()))
        elif child.tag == f"{_W}tbl":
            parts.append(_flat_table(child, notes, depth + 1))
        elif child.tag in _BLOCK_CONTAINERS:
            parts.append(_cell_text(child, notes, depth))
    return " ".join(part for part in parts if part)


def _flat_table(tbl: Element, notes: _Notes | None, depth: int) -> str:
    """A table as one line of text: its cells joined by "; ", its rows by " / "."""
    if depth > _MAX_TABLE_DEPTH:
        # lxml walks the rest without recursion: linear however deep the tables go.
        return " ".join(" ".join(text.text or "" for text in tbl.iter(f"{_W}t")).split())
    rows = _cell_texts(tbl, notes, depth)
    return " / ".join("; ".join(text for _, text in row) for row in rows if row)


def _grid(cells: list[list[tuple[int, str]]]) -> list[list[str]] | None:
    """The rows on the table's grid (a spanning cell's text in the first grid cell it covers), without the
    rows and columns that are empty throughout; None when that grid is over ``_MAX_GRID_CELLS``."""
    rows = [row for row in cells if row]
    columns = sorted({column for row in rows for column, _ in row})
    if len(rows) * len(columns) > _MAX_GRID_CELLS:
        return None
    position = {column: index for index, column in enumerate(columns)}
    grid = [[""] * len(columns) for _ in rows]
    for row, line in zip(rows, grid, strict=True):
        for column, text in row:
            line[position[column]] = text
    return grid


def _cell_texts(tbl: Element, notes: _Notes | None, depth: int = 0) -> list[list[tuple[int, str]]]:
    """Each row's cells that hold text, as (grid column, text). Only text is kept: the widths a table declares
    (``tblGrid``, ``gridBefore``, ``gridAfter``) add nothing but empty cells, and cost nothing here."""
    rows: list[list[tuple[int, str]]] = []
    for tr in _rows(tbl):
        trpr = tr.find(f"{_W}trPr")
        column = _grid_span(_attr(trpr.find(f"{_W}gridBefore")) if trpr is not None else None, 0)
        cells: list[tuple[int, str]] = []
        for tc in _cells(tr):
            tcpr = tc.find(f"{_W}tcPr")
            if not _continues(tc) and (text := _cell_text(tc, notes, depth)):
                cells.append((column, text))
            column += _grid_span(_attr(tcpr.find(f"{_W}gridSpan")) if tcpr is not None else None, 1)
        rows.append(cells)
    return rows


def _continues(tc: Element) -> bool:
    """Whether the cell continues the cell above (``vMerge`` without "restart"): its text is already there."""
    tcpr = tc.find(f"{_W}tcPr")
    merge = tcpr.find(f"{_W}vMerge") if tcpr is not None else None
    return merge is not None and (_attr(merge) or "continue") != "restart"


def _holds_a_table(tbl: Element) -> bool:
    """Whether the table lays out a page: a table inside one of its cells (not a deeper one), beside at most one
    other cell of its row with text (a sidebar). A row holding a small table in one cell beside two or more
    cells with text (a label and a value) is a data grid's, the small table flattened into its cell."""
    holds = False
    for tr in _rows(tbl):
        cells = [tc for tc in _cells(tr) if not _continues(tc)]
        holders = [tc for tc in cells if next(_children(tc, f"{_W}tbl"), None) is not None]
        if not holders:
            continue
        others = sum(1 for tc in cells if tc not in holders and _has_text(tc))
        if others >= 2:
            return False
        holds = True
    return holds


def _has_text(tc: Element) -> bool:
    return any((t.text or "").strip() for t in tc.iter(f"{_W}t"))


def _grid_span(value: str | None, least: int) -> int:
    """A count of grid columns (``gridSpan``, ``gridBefore``), bounded: Word's tables have at most 63 columns."""
    return min(max(_int(value, least), least), _MAX_SPAN)


def _children(parent: Element, tag: str) -> Iterator[Element]:
    """``parent``'s children with ``tag`` (a table's rows, a row's cells), looking through the containers
    (content controls, custom XML) Word may wrap them in."""
    for child in parent:
        if child.tag == tag:
            yield child
        elif child.tag in _BLOCK_CONTAINERS:
            yield from _children(child, tag)


def _rows(tbl: Element) -> Iterator[Element]:
    return _children(tbl, f"{_W}tr")


def _cells(tr: Element) -> Iterator[Element]:
    return _children(tr, f"{_W}tc")
