"""HTML parsing: a web page becomes Markdown (headings, paragraphs, lists, tables) on one page per
CSS page break, with the standard library's tolerant ``html.parser``.

- ``h1``-``h6`` are headings; ``p``, ``div`` and the other block elements end a paragraph, ``br`` a line.
- ``ul``/``ol``/``li`` are lists, nested as they are in the markup; ordered items are counted.
- ``table``/``tr``/``td``/``th`` become pipe tables at the grid's width: a cell spanning columns or rows
  (``colspan``, ``rowspan``) is one cell, its text in the first grid cell it covers and the others empty.
- A layout table is not data: one with a table inside any of its cells, or of a single column (no row has more
  than one cell). E-mails and benefit pages wrap the page in one, with the data table inside a cell. Its
  cells read, row by row, as the page's body (headings, paragraphs, lists, page breaks), and a table inside
  them as a table of its own, itself a layout table or not. A first pass over the markup sorts each table,
  in start-tag order, so the reading pass knows at a table's start tag how to read it.
- ``script``, ``style``, ``head``, ``nav``, ``footer`` (and ``template``, ``noscript``, ``svg``...) and
  hidden elements (``hidden``, ``display: none``) are dropped with their content; ``pre`` is fenced;
  entities are decoded; whitespace collapses as a browser collapses it.
- The charset is the BOM's, else a ``<meta>`` declaration's in the first 4 KiB, else UTF-8, else
  windows-1252 (what browsers assume of undeclared legacy pages). A declared name that is no text
  encoding (``base64``, ``rot13``, ``utf-32``...) is ignored, as browsers ignore a label they do not know.
- An element styled ``page-break-before: always`` (or ``break-before: page``) starts a new page; a page
  without it is one page.

Pure Python over a size-capped input, in two passes: no native code, memory linear in the input. The local
parser still runs it in the parse sandbox: html.parser has quadratic paths on malformed markup (``_closed``
avoids the known ones), and the sandbox's time limit bounds any other.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from docintake.errors import UnsupportedDocument
from docintake.parsing import ParsedDocument, join_pages, markdown_table
from docintake.vocabulary import ErrorCode

# Measured: html.parser alone reads about 2 MB/s, with this reader about 0.8 MB/s; the pass sorting tables
# costs about as much as html.parser alone (a whole parse is 1.7-2.2 times the reader's alone), so this cap is
# 20 s at most, well within the sandbox's limit; a benefits page is well under 1 MB.
MAX_HTML_BYTES = 10 * 1024 * 1024
_DROPPED = {"script", "style", "nav", "footer", "template", "noscript", "svg", "math", "iframe", "object"}
# What a <head> holds; any other element ends a <head> left open, as it does in a browser.
_HEAD_CONTENT = {"title", "meta", "link", "style", "script", "base", "noscript", "template"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_BLOCKS = {
    "p", "div", "section", "article", "main", "header", "aside", "blockquote", "address", "figure",
    "figcaption", "form", "fieldset", "dl", "dt", "dd", "hr", "pre", "caption", "center", "details", "summary",
}  # fmt: skip
# Deeper lists are drawn at this depth (indentation grows with depth, and Word's lists stop at 9 levels).
_MAX_LIST_DEPTH = 8
_MAX_GRID_CELLS = 1_000_000
# Tables open inside tables past this depth are not tables of their own: their rows and cells read as the
# enclosing table's (no real page nests layout this deep).
_MAX_TABLE_DEPTH = 8
# A layout table's tags that end what its previous cell held.
_LAYOUT_CELLS = {"caption", "tr", "td", "th"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_PAGE_BREAK = re.compile(r"(?:page-)?break-before\s*:\s*(?:always|page)", re.IGNORECASE)
_DECLARED_AS = {
    **dict.fromkeys(("utf-16", "utf-16-le", "utf-16-be"), "utf-8"),
    **dict.fromkeys(("iso8859-1", "ascii"), "cp1252"),
}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def parse_html(data: bytes) -> ParsedDocument:
    if len(data) > MAX_HTML_BYTES:
        raise UnsupportedDocument(f"HTML of {len(data)} bytes, over {MAX_HTML_BYTES}", code=ErrorCode.TOO_LARGE)
    text = _closed(decode_html(data))
    shapes = _TableShapes()
    try:
        shapes.feed(text)
        shapes.close()
        reader = _HtmlReader(shapes.finish())
        reader.feed(text)
        reader.close()
    except AssertionError as exc:
        # _markupbase asserts on declarations it cannot scan; parse_html_declaration below avoids the known one.
        raise UnsupportedDocument("HTML could not be read", code=ErrorCode.CORRUPT_HTML) from exc
    pages = reader.finish()
    markdown, page_map = join_pages((number, "\n\n".join(blocks)) for number, blocks in enumerate(pages, start=1))
    return ParsedDocument(markdown, page_map, len(pages), 0, parser="local")


def decode_html(data: bytes) -> str:
    for bom, bom_encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(bom_encoding, errors="replace")
    declared = _META_CHARSET.search(data[:4096])
    encoding = _declared_encoding(declared.group(1)) if declared else None
    if encoding is not None:
        try:
            return data.decode(encoding, errors="replace")
        except UnicodeError:
            pass  # idna, punycode: text codecs that take no error handler or no bytes past ASCII
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _declared_encoding(label: bytes) -> str | None:
    """The codec a ``<meta>`` charset names, or None when it names none a page can be in. Python's codec
    registry also holds bytes-to-bytes and str-to-str codecs (base64, zlib, rot13, uu): as a page's
    charset they raise instead of decoding, so only text encodings are taken, as browsers ignore a label
    they do not know."""
    try:
        codec = codecs.lookup(label.decode("ascii"))
    except (LookupError, UnicodeError):
        return None
    # UTF-32 is no charset to browsers (they ignore the label): the page reads as undeclared.
    if not codec._is_text_encoding or codec.name.startswith("utf-32"):
        return None
    # A <meta> readable in ASCII bytes is not in UTF-16 (browsers read such a page as UTF-8); latin-1 and
    # ASCII mean windows-1252, as they do in browsers.
    return _DECLARED_AS.get(codec.name, codec.name)


def _closed(text: str) -> str:
    """The text with its last unclosed construct closed at the end. html.parser rescans the rest of the input
    for each ``<!--``, ``<?``, ``</`` or ``<a`` it cannot close, so a run of them is quadratic (measured: 60 s
    for 200 KB of ``<!--``); closed at the end they read as one construct, as a browser reads them (an
    unclosed comment runs to the end of the file)."""
    if text.rfind("<!--") > text.rfind("-->"):
        text += "-->"
    if text.rfind("<") > text.rfind(">"):
        text += ">"
    return text


@dataclass
class _Cell:
    text: list[str] = field(default_factory=list)
    colspan: int = 1
    rowspan: int = 1


@dataclass
class _Table:
    rows: list[list[_Cell]] = field(default_factory=list)
    # Text before the first cell: the caption (or text a browser would move out in front of the table).
    caption: list[str] = field(default_factory=list)
    # A table inside a data table's cell: flattened into that table's cell at its end.
    nested_in: _Table | None = None

    def cell(self) -> _Cell | None:
        return self.rows[-1][-1] if self.rows and self.rows[-1] else None

    def grid(self) -> list[list[str]]:
        """Rows at the grid's width: spans reserve their grid cells, which stay empty."""
        height = len(self.rows)
        # Spans multiply the grid; past this many grid cells they are ignored rather than laid out.
        area = sum(cell.colspan * min(cell.rowspan, height - r) for r, row in enumerate(self.rows) for cell in row)
        spans = area <= _MAX_GRID_CELLS
        taken: dict[tuple[int, int], str] = {}
        for r, row in enumerate(self.rows):
            c = 0
            for cell in row:
                while (r, c) in taken:
                    c += 1
                text = " ".join(" ".join(cell.text).split())
                colspan = cell.colspan if spans else 1
                for dr in range(min(cell.rowspan, height - r) if spans else 1):
                    for dc in range(colspan):
                        taken[(r + dr, c + dc)] = text if dr == dc == 0 else ""
                c += colspan
        if not taken:
            return []
        width = max(c for _, c in taken) + 1
        grid = [[taken.get((r, c), "") for c in range(width)] for r in range(height)]
        return [row for row in grid if any(row)]


@dataclass
class _Layout:
    """An open layout table; ``lists`` is how many lists were open at its start, ``pre`` how deep in ``<pre>``
    it started: what a cell opens beyond that ends with the cell."""

    lists: int
    pre: int = 0


@dataclass
class _Shape:
    """What the first pass knows of an open table: how wide its rows are, and whether a table is inside it."""

    index: int
    widest: int = 0  # cells in the widest row so far
    cells: int = 0  # cells in the row being read
    nested: bool = False
    # The row being read: whether a table starts in it, how many of its cells have text of their own, and
    # whether the current cell has; ``mixed``: a row held a table beside other cells with text (a data grid).
    row_nested: bool = False
    holder: int = -1  # the cell (by count in its row) a table started in
    texts: int = 0
    cell_text: bool = False
    mixed: bool = False

    def end_cell(self) -> None:
        if self.cells != self.holder:
            self.texts += self.cell_text
        self.cell_text = False

    def end_row(self) -> None:
        self.end_cell()
        self.mixed = self.mixed or (self.row_nested and self.texts >= 2)
        self.widest, self.cells, self.texts = max(self.widest, self.cells), 0, 0
        self.row_nested, self.holder = False, -1

    def layout(self) -> bool:
        """One column, or a table in a cell beside at most one other cell with text (a page laid out in a table,
        a sidebar beside the content): layout. A row holding a small table in one cell beside two or more cells
        with text (a label and a value) is a data grid, its small table flattened into its cell."""
        return max(self.widest, self.cells) <= 1 or (self.nested and not self.mixed)


def _span(value: str | None) -> int:
    try:
        # Browsers clamp colspan to 1000 and rowspan to 65534; a page has no use for more than this.
        return min(max(int(value or "1"), 1), 64)
    except ValueError:
        return 1


class _VisibleMarkup(HTMLParser):
    """The start tags, end tags and text a browser shows, to ``start``, ``end`` and ``text``: the content of
    ``<head>``, of dropped elements and of hidden ones is skipped. Both passes read through it, so they see
    the same tables."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.dropped: list[str] = []  # open elements whose content is dropped
        self.in_head = False

    def parse_html_declaration(self, i: int) -> int:
        # "<![" is a bogus comment in HTML (browsers read it to the next ">"); html.parser's marked-section
        # scanner raises AssertionError on "<![" without a name after it.
        if self.rawdata.startswith("<![", i):
            return self.parse_bogus_comment(i)
        return super().parse_html_declaration(i)

    def handle_data(self, data: str) -> None:
        if not (self.dropped or self.in_head):
            self.text(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self.in_head = True
            return
        if self.in_head and tag not in _HEAD_CONTENT:
            self.in_head = False
        style = next((value for name, value in attrs if name == "style" and value), "")
        if self.dropped or tag in _DROPPED or _hidden(attrs, style):
            # Inside a dropped element every open element is tracked, so its own end tag is found.
            if tag not in _VOID:
                self.dropped.append(tag)
            return
        self.start(tag, attrs, style)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.in_head = False
        if self.dropped:
            if tag in self.dropped:
                # The innermost open element of that name closes, with anything left open inside it.
                del self.dropped[len(self.dropped) - 1 - self.dropped[::-1].index(tag) :]
            return
        self.end(tag)

    def start(self, tag: str, attrs: list[tuple[str, str | None]], style: str) -> None:
        pass

    def end(self, tag: str) -> None:
        pass

    def text(self, data: str) -> None:
        pass


class _TableShapes(_VisibleMarkup):
    """The first pass: whether each table, in start-tag order, is a layout table. A table past
    ``_MAX_TABLE_DEPTH`` is none: its rows and cells count as the enclosing table's, as the reader reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.layout: list[bool] = []
        self.open: list[_Shape] = []
        self.ignored = 0

    def finish(self) -> list[bool]:
        while self.open:  # tables left open at the end of the file
            self.end("table")
        return self.layout

    def text(self, data: str) -> None:
        if self.open and data.strip():
            self.open[-1].cell_text = True

    def start(self, tag: str, attrs: list[tuple[str, str | None]], style: str) -> None:
        if tag == "table":
            if len(self.open) >= _MAX_TABLE_DEPTH:
                self.ignored += 1
                return
            if self.open:
                parent = self.open[-1]
                parent.nested = parent.row_nested = True
                parent.holder = parent.cells
            self.open.append(_Shape(len(self.layout)))
            self.layout.append(False)
        elif self.open and tag == "tr":
            self.open[-1].end_row()
        elif self.open and tag in ("td", "th"):
            self.open[-1].end_cell()
            self.open[-1].cells += 1

    def end(self, tag: str) -> None:
        if tag != "table":
            return
        if self.ignored:
            self.ignored -= 1
        elif self.open:
            shape = self.open.pop()
            shape.end_row()
            self.layout[shape.index] = shape.layout()


class _HtmlReader(_VisibleMarkup):
    def __init__(self, layout: list[bool]) -> None:
        super().__init__()
        self.layout = layout  # by table, in start-tag order: the first pass's
        self.pages: list[list[str]] = [[]]
        self.inline: list[str] = []
        self.heading: int | None = None
        self.pre = 0
        # One entry per open ul/ol: (ordered, items so far); list_lines collects the items of the outermost.
        self.lists: list[list[int]] = []
        self.list_lines: list[str] = []
        self.list_columns: list[int] = []
        self.item_marker: tuple[int, str] | None = None  # (depth, marker) of the item whose text is open
        # Open tables, outermost first; a table inside a data table's cell is flattened into it at its end.
        self.tables: list[_Table | _Layout] = []
        self.started_tables = 0
        self.ignored_tables = 0

    def finish(self) -> list[list[str]]:
        while self.tables:  # tables left open at the end of the file
            self._table_end()
        self._flush()
        self._end_list()
        return self.pages

    def _data_table(self) -> _Table | None:
        table = self.tables[-1] if self.tables else None
        return table if isinstance(table, _Table) else None

    # Text goes to the open data table's cell, else to the paragraph (or list item) being read.
    def text(self, data: str) -> None:
        table = self._data_table()
        if table is not None:
            cell = table.cell()
            (cell.text if cell is not None else table.caption).append(data)
            return
        self.inline.append(data if self.pre else re.sub(r"\s+", " ", data))

    def start(self, tag: str, attrs: list[tuple[str, str | None]], style: str) -> None:
        table = self._data_table()
        if style and _PAGE_BREAK.search(style) and table is None:
            self._flush()
            self._end_list()
            if any(self.pages[-1]):
                self.pages.append([])
        if tag == "table":
            self._table_start()
            return
        if table is not None:
            self._cell_start(table, tag, attrs)
            return
        if tag in _LAYOUT_CELLS and self.tables:
            self._end_layout_cell()
        elif tag in _HEADINGS:
            self._flush()
            self._end_list()
            self.heading = _HEADINGS[tag]
        elif tag in ("ul", "ol"):
            self._flush()
            self.lists.append([1 if tag == "ol" else 0, _start(attrs) - 1])
        elif tag == "li":
            self._flush()
            if not self.lists:
                self.lists.append([0, 0])  # a stray <li> outside a list
            kind = self.lists[-1]
            kind[1] += 1
            self.item_marker = (len(self.lists) - 1, f"{kind[1]}. " if kind[0] else "- ")
        elif tag == "br":
            self.inline.append("\n" if not self.list_lines and self.item_marker is None else " ")
        elif tag in _BLOCKS:
            self._flush()
            if tag == "pre":
                self.pre += 1

    def end(self, tag: str) -> None:
        if tag == "table":
            if self.tables:
                self._table_end()
            return
        table = self._data_table()
        if table is not None:
            if tag in _BLOCKS or tag in ("li",) or tag in _HEADINGS:
                cell = table.cell()
                if cell is not None:
                    cell.text.append(" ")
            return
        if tag in _LAYOUT_CELLS and self.tables:
            self._end_layout_cell()
        elif tag in _HEADINGS:
            self._flush()
            self.heading = None
        elif tag in ("ul", "ol"):
            self._flush()
            self.item_marker = None
            if self.lists:
                self.lists.pop()
            if not self.lists:
                self._end_list()
        elif tag == "li":
            self._flush()
            self.item_marker = None
        elif tag in _BLOCKS:
            self._flush()
            if tag == "pre" and self.pre:
                self.pre -= 1

    def _table_start(self) -> None:
        if len(self.tables) >= _MAX_TABLE_DEPTH:
            self.ignored_tables += 1  # its rows and cells read as the enclosing table's
            if self._data_table() is None:
                self._end_layout_cell()
            return
        index = self.started_tables
        self.started_tables += 1
        outer = self._data_table()
        if outer is not None:
            # A table in a data grid's cell: read as a table of its own, then flattened into that cell.
            self.tables.append(_Table(nested_in=outer))
            return
        if index < len(self.layout) and self.layout[index]:
            self._flush()
            self.tables.append(_Layout(len(self.lists), self.pre))
        else:
            self._flush()
            self._end_list()
            self.tables.append(_Table())

    def _end_layout_cell(self) -> None:
        """Ends the heading, paragraph and lists a layout table's cell left open, as its end tag does in a
        browser."""
        layout = self.tables[-1]
        assert isinstance(layout, _Layout)
        self._flush()
        self.heading = None
        self.pre = min(self.pre, layout.pre)  # a <pre> left open in the cell ends with it
        if len(self.lists) > layout.lists:
            del self.lists[layout.lists :]
            if self.item_marker is not None and self.item_marker[0] >= layout.lists:
                self.item_marker = None
            if not self.lists:
                self._end_list()

    def _cell_start(self, table: _Table, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            table.rows.append([])
        elif tag in ("td", "th"):
            if not table.rows:
                table.rows.append([])
            values = dict(attrs)
            table.rows[-1].append(_Cell(colspan=_span(values.get("colspan")), rowspan=_span(values.get("rowspan"))))
        elif tag in _BLOCKS or tag in ("br", "li") or tag in _HEADINGS:
            cell = table.cell()
            if cell is not None:
                cell.text.append(" ")

    def _table_end(self) -> None:
        if self.ignored_tables:
            self.ignored_tables -= 1
            if self._data_table() is None:
                self._end_layout_cell()
            return
        if isinstance(self.tables[-1], _Layout):
            self._end_layout_cell()
            self.tables.pop()
            return
        table = self.tables.pop()
        assert isinstance(table, _Table)
        caption = " ".join(" ".join(table.caption).split())
        rows = table.grid()
        if table.nested_in is not None:
            flat = " / ".join("; ".join(c for c in row if c) for row in rows)
            cell = table.nested_in.cell()
            (cell.text if cell is not None else table.nested_in.caption).append(f" {caption} {flat} ")
            return
        if caption:
            self._emit(caption)
        if rows:
            self._emit(markdown_table(rows))

    def _flush(self) -> None:
        """Ends the paragraph, heading or list item being read."""
        text = "".join(self.inline)
        self.inline = []
        if self.pre:
            text = text.strip("\n")
            if text.strip() and self.heading is None and self.item_marker is None and not self.lists:
                # Preformatted text is fenced, so a line in it starting with "#" or "-" stays text.
                fence = "`" * max([3, *(len(run) + 1 for run in re.findall(r"`+", text))])
                self._emit(f"{fence}\n{text}\n{fence}")
                return
        else:
            text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
            text = re.sub(r"\n{2,}", "\n", text).strip()
        # An empty heading or item stays open: its text may come inside a nested block (<li><p>text</p>).
        if self.heading is not None:
            if text:
                self._emit("#" * self.heading + " " + " ".join(text.split()))
                self.heading = None
            return
        if self.item_marker is not None:
            if text:
                depth, marker = self.item_marker
                self.item_marker = None
                self._list_line(depth, marker, " ".join(text.split()))
            return
        if text:
            if self.lists:
                # Text inside a list but outside any item, or after an item's nested list: its own line.
                self._list_line(len(self.lists) - 1, "", " ".join(text.split()))
            else:
                self._emit(text)

    def _list_line(self, depth: int, marker: str, text: str) -> None:
        depth = min(depth, len(self.list_columns), _MAX_LIST_DEPTH)
        indent = self.list_columns[depth - 1] if depth else 0
        if marker:
            del self.list_columns[depth:]
            self.list_columns.append(indent + len(marker))
        else:
            indent = self.list_columns[depth] if depth < len(self.list_columns) else indent
        self.list_lines.append(" " * indent + marker + text)

    def _end_list(self) -> None:
        if self.list_lines:
            self.pages[-1].append("\n".join(self.list_lines))
        self.list_lines, self.list_columns = [], []

    def _emit(self, block: str) -> None:
        self._end_list()
        self.pages[-1].append(block)


def _hidden(attrs: list[tuple[str, str | None]], style: str) -> bool:
    """Not shown by a browser: the ``hidden`` attribute, or ``display: none`` / ``visibility: hidden``."""
    return any(name == "hidden" for name, _ in attrs) or bool(style and _HIDDEN_STYLE.search(style))


def _start(attrs: list[tuple[str, str | None]]) -> int:
    for name, value in attrs:
        if name == "start":
            try:
                return int(value or "1")
            except ValueError:
                return 1
    return 1
