"""Tables found on a page from its geometry alone: ruling strokes and placed glyphs, in the page's reading
frame (x to the right, y up, text upright). No PDF library here, so the OCR path can hand in lines found
in an image and the boxes of its words.

- Ruled tables follow pdfplumber's method (MIT): strokes become horizontal and vertical edges; edges
  within a few points of one position snap to it, collinear pieces with small gaps join (real borders are
  often drawn one cell edge at a time); the crossings of horizontal and vertical edges give the corners;
  each corner's smallest rectangle bounded by edges is a cell, so a spanning cell stays one cell; cells
  sharing corners form a table. A grid whose rows are single cells across (shading bands) is no table;
  row labels printed just left of the ruling become its first column.
- Unruled tables follow camelot's "stream" idea: glyphs grouped into text lines by position, lines cut
  into pieces at wide gaps, and a run of lines whose pieces leave the same vertical gutters free is a
  table, one row per text line. Prose (long cells, a paragraph beside the table) and lists with hanging
  indents are turned down. Where the cells wrap, a row is the lines between two wider gaps (or rules), its
  lines joined per cell, when the lines read on as sentences do rather than start entries of their own.
  Ruling that boxes groups of rows or columns only (cells holding several values on a line) gives way to
  the alignment.
- Glyphs go to the cell that holds their centre (not their box: a tall glyph's box reaches into the rows
  around it); a cell's lines are joined with a space, sideways text read in its own direction.
"""

from __future__ import annotations

import bisect
import itertools
import re
import statistics
from dataclasses import dataclass, field

SNAP = 3.0  # edges closer than this (points) are one border
JOIN = 3.0  # collinear pieces with gaps up to this are one edge
CROSS = 3.0  # a horizontal and a vertical edge this close to meeting do meet
MIN_EDGE = 3.0  # shorter edges are glyph parts or dots, not borders
MAX_CROSSINGS = 60_000  # horizontal x vertical edges: a 300 x 200 grid; real tables stay far below


@dataclass(frozen=True, slots=True)
class Segment:
    """A straight stroke (or the axis of a thin filled rectangle) in the page frame."""

    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(slots=True)
class Glyph:
    """One character with its box in the page frame; ``space_before`` when the text had white space just
    before it; ``x`` and ``y`` its centre."""

    text: str
    left: float
    bottom: float
    right: float
    top: float
    index: int = 0
    space_before: bool = False
    x: float = field(init=False)
    y: float = field(init=False)
    height: float = field(init=False)

    def __post_init__(self) -> None:
        self.x = (self.left + self.right) / 2
        self.y = (self.bottom + self.top) / 2
        self.height = self.top - self.bottom


@dataclass
class Table:
    left: float
    bottom: float
    right: float
    top: float
    rows: list[list[str]]
    ruled: bool = True
    crowded: bool = False  # many of its cells' lines hold several values far apart
    glyphs: frozenset[int] = frozenset()  # the indexes of the glyphs its cells hold

    def holds(self, x: float, y: float, slack: float = 1.0) -> bool:
        return self.left - slack <= x <= self.right + slack and self.bottom - slack <= y <= self.top + slack


def find_tables(
    segments: list[Segment],
    glyphs: list[Glyph],
    *,
    ruled: list[Table] | None = None,
    columns_at: float | None = None,
    wrapped_only: bool = False,
) -> list[Table]:
    """Ruled tables (``ruled``, when the caller found them already), then unruled ones among the glyphs no
    ruled table holds; top of the page first. On a page set in two text columns (``columns_at``, the x
    between them), unruled tables are looked for in each column apart: a table in one column is level
    with the other column's text, which is no part of it. ``wrapped_only``: of the unruled tables, only
    those whose cells wrap (the caller saw cells set one by one, not rows of cells far apart)."""
    found = ruled_tables(segments, glyphs) if ruled is None else ruled
    # Ruling round groups of rows or columns only (cells holding several values on a line): the columns
    # and rows come from the text's alignment, over the whole page (the ruled part may be a piece of it).
    ruled = [t for t in found if not t.crowded]
    boxes = [(t.left - 1, t.bottom - 1, t.right + 1, t.top + 1) for t in ruled]
    rest = [g for g in glyphs if not any(a <= g.x <= c and b <= g.y <= d for a, b, c, d in boxes)]
    rules = [s for s in segments if abs(s.y1 - s.y0) <= 1.0 and abs(s.x1 - s.x0) >= MIN_EDGE]
    parts = (
        [rest]
        if columns_at is None
        else [[g for g in rest if g.x < columns_at], [g for g in rest if g.x >= columns_at]]
    )
    aligned = [table for part in parts for table in aligned_tables(part, rules, wrapped_only=wrapped_only)]
    for table in found:
        if table.crowded and not any(_overlap(table, other) for other in aligned):
            ruled.append(table)
    tables = ruled + aligned
    tables.sort(key=lambda t: -t.top)
    return tables


def _overlap(a: Table, b: Table) -> bool:
    return a.left < b.right and b.left < a.right and a.bottom < b.top and b.bottom < a.top


# --- ruled tables ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Edge:
    at: float  # y of a horizontal edge, x of a vertical one
    start: float
    end: float


def ruled_tables(segments: list[Segment], glyphs: list[Glyph]) -> list[Table]:
    horizontal: list[_Edge] = []
    vertical: list[_Edge] = []
    for s in segments:
        if abs(s.y1 - s.y0) <= 1.0 and abs(s.x1 - s.x0) >= 1.0:
            horizontal.append(_Edge((s.y0 + s.y1) / 2, min(s.x0, s.x1), max(s.x0, s.x1)))
        elif abs(s.x1 - s.x0) <= 1.0 and abs(s.y1 - s.y0) >= 1.0:
            vertical.append(_Edge((s.x0 + s.x1) / 2, min(s.y0, s.y1), max(s.y0, s.y1)))
    if len(horizontal) < 2 or len(vertical) < 2:
        return []
    horizontal, vertical = _merged(horizontal), _merged(vertical)
    if len(horizontal) * len(vertical) > MAX_CROSSINGS:
        return []  # a drawing or a hatched area, not a table; finding its cells would cost quadratic time
    corners = _corners(horizontal, vertical)
    cells = _cells(corners)
    tables = []
    for group in _cell_groups(cells):
        table = _ruled_table(group, glyphs)
        if table is not None:
            tables.append(table)
    return tables


def _merged(edges: list[_Edge]) -> list[_Edge]:
    """Edges snapped to shared positions (the mean of each cluster), collinear pieces joined, short ones
    dropped."""
    edges.sort(key=lambda e: e.at)
    clusters: list[list[_Edge]] = []
    for edge in edges:
        if clusters and edge.at - clusters[-1][-1].at <= SNAP:
            clusters[-1].append(edge)
        else:
            clusters.append([edge])
    merged: list[_Edge] = []
    for cluster in clusters:
        at = statistics.fmean(e.at for e in cluster)
        cluster.sort(key=lambda e: e.start)
        current = _Edge(at, cluster[0].start, cluster[0].end)
        for edge in cluster[1:]:
            if edge.start <= current.end + JOIN:
                current.end = max(current.end, edge.end)
            else:
                merged.append(current)
                current = _Edge(at, edge.start, edge.end)
        merged.append(current)
    return [e for e in merged if e.end - e.start >= MIN_EDGE]


_Point = tuple[float, float]


def _corners(horizontal: list[_Edge], vertical: list[_Edge]) -> dict[_Point, tuple[set[int], set[int]]]:
    """Crossing points, each with the horizontal and vertical edges (by index) that make it."""
    vertical_sorted = sorted(range(len(vertical)), key=lambda i: vertical[i].at)
    xs = [vertical[i].at for i in vertical_sorted]
    corners: dict[_Point, tuple[set[int], set[int]]] = {}
    for hi, h in enumerate(horizontal):
        lo = bisect.bisect_left(xs, h.start - CROSS)
        hi_end = bisect.bisect_right(xs, h.end + CROSS)
        for vi in vertical_sorted[lo:hi_end]:
            v = vertical[vi]
            if v.start - CROSS <= h.at <= v.end + CROSS:
                point = (v.at, h.at)
                found = corners.setdefault(point, (set(), set()))
                found[0].add(hi)
                found[1].add(vi)
    return corners


_Cell = tuple[float, float, float, float]  # left, bottom, right, top


def _cells(corners: dict[_Point, tuple[set[int], set[int]]]) -> list[_Cell]:
    """For each corner, the smallest rectangle below and right of it whose four sides are edges."""
    columns: dict[float, list[float]] = {}
    rows: dict[float, list[float]] = {}
    for x, y in corners:
        columns.setdefault(x, []).append(y)
        rows.setdefault(y, []).append(x)
    for ys in columns.values():
        ys.sort(reverse=True)
    for xs in rows.values():
        xs.sort()
    cells: list[_Cell] = []
    for (x, y), (h_edges, v_edges) in corners.items():
        below = [b for b in columns[x] if b < y and corners[(x, b)][1] & v_edges]
        right = [r for r in rows[y] if r > x and corners[(r, y)][0] & h_edges]
        cell = _smallest_cell(corners, x, y, below, right)
        if cell is not None:
            cells.append(cell)
    return cells


def _smallest_cell(
    corners: dict[_Point, tuple[set[int], set[int]]], x: float, y: float, below: list[float], right: list[float]
) -> _Cell | None:
    for b in below:
        for r in right:
            opposite = corners.get((r, b))
            if opposite is None:
                continue
            if opposite[1] & corners[(r, y)][1] and opposite[0] & corners[(x, b)][0]:
                return (x, b, r, y)
    return None


def _cell_groups(cells: list[_Cell]) -> list[list[_Cell]]:
    """Cells that share a corner, transitively."""
    parent = list(range(len(cells)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[_Point, int] = {}
    for i, (left, bottom, right, top) in enumerate(cells):
        for corner in ((left, bottom), (left, top), (right, bottom), (right, top)):
            j = owner.setdefault(corner, i)
            parent[find(i)] = find(j)
    groups: dict[int, list[_Cell]] = {}
    for i, cell in enumerate(cells):
        groups.setdefault(find(i), []).append(cell)
    return [g for g in groups.values() if len(g) > 1]


def _ruled_table(cells: list[_Cell], glyphs: list[Glyph]) -> Table | None:
    xs = sorted({c[0] for c in cells} | {c[2] for c in cells})
    ys = sorted({c[1] for c in cells} | {c[3] for c in cells}, reverse=True)
    left, right, top, bottom = xs[0], xs[-1], ys[0], ys[-1]
    # A grid slot (row, column) to the cell covering it; a spanning cell covers several.
    slot_cell: dict[tuple[int, int], int] = {}
    origin: list[tuple[int, int]] = []
    negative_ys = [-y for y in ys]
    for i, (c_left, c_bottom, c_right, c_top) in enumerate(cells):
        c0, c1 = xs.index(c_left), xs.index(c_right)
        r0, r1 = negative_ys.index(-c_top), negative_ys.index(-c_bottom)
        origin.append((r0, c0))
        for r in range(r0, r1):
            for c in range(c0, c1):
                slot_cell[(r, c)] = i
    held: list[list[Glyph]] = [[] for _ in cells]
    # The slot left of and below each glyph's centre; a centre on the last border belongs to the last slot.
    column_hi, row_hi, place = len(xs) - 1, len(ys) - 1, bisect.bisect_right
    for g in [g for g in glyphs if left <= g.x <= right and bottom <= g.y <= top]:
        cell = slot_cell.get((place(negative_ys, -g.y, 1, row_hi) - 1, place(xs, g.x, 1, column_hi) - 1))
        if cell is not None:
            held[cell].append(g)
    # Shading behind each line of text, or bands across a block, make rows of one cell across the whole
    # width: not a table unless most rows with text have cells side by side.
    whole_width = {r for i, (r, c) in enumerate(origin) if c == 0 and cells[i][2] == right and held[i]}
    text_rows = {r for i, (r, _) in enumerate(origin) if held[i]}
    if len(text_rows) < 2 or len(whole_width) * 2 > len(text_rows):
        return None
    grid = [["" for _ in range(len(xs) - 1)] for _ in range(len(ys) - 1)]
    lines = split = 0
    for i, (r, c) in enumerate(origin):
        cell_lines = text_lines(held[i])
        grid[r][c] = cell_text(held[i], cell_lines)
        lines += len(cell_lines)
        split += sum(1 for line in cell_lines if _has_wide_gap(line))
    bands = [(ys[r], ys[r + 1]) for r in range(len(grid)) if any(grid[r])]
    rows = _without_empty(grid)
    if len(rows) < 2 or max(len(r) for r in rows) < 2 or sum(1 for r in rows for c in r if c) < 2:
        return None
    held_ids = frozenset(g.index for cell in held for g in cell)
    table = Table(left, bottom, right, top, rows, crowded=split >= 3 and split >= 0.3 * lines, glyphs=held_ids)
    return _with_row_labels(table, bands, glyphs)


_LABEL_REACH = 72.0  # row labels set outside the ruling sit at most this far (points) left of it
_LABEL_LENGTH = 40  # and are short


def _with_row_labels(table: Table, bands: list[tuple[float, float]], glyphs: list[Glyph]) -> Table:
    """Row labels printed left of the ruling, level with its rows, become the table's first column, when
    most rows have one. A label is the run of text nearest the ruling, starting close to it: the end of a
    line of prose in a column beside the table starts far away, so prose is never taken for labels."""
    beside = [g for g in glyphs if g.right <= table.left + 1 and table.bottom < g.y < table.top]
    if not beside:
        return table
    labels: list[str] = []
    used: list[Glyph] = []
    for top, bottom in bands:
        texts = []
        for line in text_lines([g for g in beside if bottom < g.y < top]):
            label = _pieces(line)[-1]
            if label.left < table.left - _LABEL_REACH:
                return table
            texts.append(label.text)
            used += label.glyphs
        labels.append(" ".join(texts))
    if sum(1 for label in labels if label) * 2 < len(labels) or any(len(label) > _LABEL_LENGTH for label in labels):
        return table
    rows = [[label, *row] for label, row in zip(labels, table.rows, strict=True)]
    return Table(
        min(g.left for g in used),
        table.bottom,
        table.right,
        table.top,
        rows,
        crowded=table.crowded,
        glyphs=table.glyphs | {g.index for g in used},
    )


def _without_empty(grid: list[list[str]]) -> list[list[str]]:
    rows = [row for row in grid if any(row)]
    if not rows:
        return []
    keep = [c for c in range(len(rows[0])) if any(row[c] for row in rows)]
    return [[row[c] for c in keep] for row in rows]


# --- text of a cell ----------------------------------------------------------------------------------------


def cell_text(glyphs: list[Glyph], lines: list[list[Glyph]] | None = None) -> str:
    """The glyphs' text line by line, top first, lines joined with a space; a cell set sideways (a
    vertical header) line by line in its own reading direction."""
    sideways = [g for g in glyphs if g.right - g.left > g.top - g.bottom]
    if len(sideways) * 2 > len(glyphs):
        return " ".join(_sideways_lines(glyphs))
    return " ".join(" ".join(_words(line)) for line in (text_lines(glyphs) if lines is None else lines))


def _sideways_lines(glyphs: list[Glyph]) -> list[str]:
    """Text set at 90 degrees: lines are columns of glyphs, read in the order the text was written."""
    columns: list[list[Glyph]] = []
    for g in sorted(glyphs, key=lambda g: g.x):
        if columns and g.x <= columns[-1][0].x + 0.3 * (columns[-1][0].right - columns[-1][0].left):
            columns[-1].append(g)
        else:
            columns.append([g])
    for column in columns:
        column.sort(key=lambda g: g.index)
    if len(columns) > 1 and columns[0][0].index > columns[-1][0].index:
        columns.reverse()  # read downwards, the next line is to the left
    lines = []
    for column in columns:
        text = column[0].text
        for a, b in itertools.pairwise(column):
            gap = max(b.bottom - a.top, a.bottom - b.top)
            space = (b.space_before and 0 < b.index - a.index <= 3) or gap > 0.12 * (b.right - b.left)
            text += (" " if space else "") + b.text
        lines.append(text)
    return lines


def text_lines(glyphs: list[Glyph]) -> list[list[Glyph]]:
    """Glyphs grouped into lines (a glyph joins the line whose first glyph's band holds its centre), top
    line first, each line left to right."""
    lines: list[list[Glyph]] = []
    bands: list[tuple[float, float]] = []
    for g in sorted(glyphs, key=lambda g: -g.y):
        if bands and bands[-1][0] <= g.y <= bands[-1][1]:
            lines[-1].append(g)
            continue
        # The band is the middle of the first glyph: a superscript stays on its line, the next line does not.
        quarter = max(g.height, 1.0) * 0.3
        bands.append((g.y - quarter, g.y + quarter))
        lines.append([g])
    lines = _with_raised_glyphs(lines)
    for line in lines:
        line.sort(key=lambda g: g.left)
    return lines


def _with_raised_glyphs(lines: list[list[Glyph]]) -> list[list[Glyph]]:
    """A "line" of glyphs smaller than the line next to it, with its middle inside that line's height, is
    superscripts or subscripts of it (footnote marks: "24.91²", a row of note numbers over the notes)."""
    merged: list[list[Glyph]] = []
    for i, line in enumerate(lines):
        host = None
        y = line[0].y
        for j in (i + 1, i - 1):
            if 0 <= j < len(lines) and lines[j][0].bottom <= y <= lines[j][0].top:
                other = lines[j]
                if (
                    len(other) > len(line)
                    and (len(line) <= 3 or not any(g.text.isalpha() for g in line))  # marks, not words
                    and max(g.height for g in line) < 0.85 * max(g.height for g in other)
                ):
                    host = other
                    break
        if host is None:
            merged.append(line)
        else:
            host.extend(line)
    return merged


def _gap_is_space(a: Glyph, b: Glyph) -> bool:
    """A wide gap, or white space in the text between two glyphs that follow each other there (at most a
    line break apart: the white space takes indexes of its own)."""
    gap = b.left - a.right
    return gap > 0.12 * max(a.height, b.height) or (b.space_before and 0 < b.index - a.index <= 3 and gap > -0.5)


def _words(line: list[Glyph]) -> list[str]:
    words: list[str] = []
    current = ""
    previous: Glyph | None = None
    for g in line:
        if previous is not None and _gap_is_space(previous, g) and current:
            words.append(current)
            current = ""
        current += g.text
        previous = g
    if current:
        words.append(current)
    return words


# --- unruled tables ----------------------------------------------------------------------------------------

_LIST_MARKER = re.compile(r"^(?:\(?[0-9]{1,3}[.)]|\(?[a-zA-Z]{1,2}[.)]|\(?[ivxlc]{1,5}[.)]|[•▪●◦‣∙·*\-–—])$")
_SEGMENT_GAP = 0.75  # a gap wider than this many line heights separates two cells of a row


@dataclass
class _Piece:
    """A run of a text line without wide gaps: one cell's text, as far as one line shows it."""

    left: float
    right: float
    glyphs: list[Glyph]

    @property
    def text(self) -> str:
        return " ".join(_words(self.glyphs))


@dataclass
class _Row:
    top: float
    bottom: float
    pieces: list[_Piece]

    @property
    def height(self) -> float:
        return self.top - self.bottom


def _has_wide_gap(line: list[Glyph]) -> bool:
    return any(b.left - a.right > _SEGMENT_GAP * a.height for a, b in itertools.pairwise(line))


def _pieces(line: list[Glyph]) -> list[_Piece]:
    """A text line (left to right) cut at its wide gaps."""
    height = statistics.median(g.height for g in line)
    pieces: list[_Piece] = []
    for g in line:
        if pieces and g.left - pieces[-1].right <= _SEGMENT_GAP * height:
            pieces[-1].glyphs.append(g)
            pieces[-1].right = max(pieces[-1].right, g.right)
        else:
            pieces.append(_Piece(g.left, g.right, [g]))
    return pieces


def _rows(glyphs: list[Glyph]) -> list[_Row]:
    return [_Row(max(g.top for g in line), min(g.bottom for g in line), _pieces(line)) for line in text_lines(glyphs)]


def aligned_tables(
    glyphs: list[Glyph], rules: list[Segment] | None = None, *, wrapped_only: bool = False
) -> list[Table]:
    """Tables without ruling: runs of text lines that share at least one free vertical gutter and whose
    pieces fall into the same columns. Where the cells wrap (``_wrapped_table``), a row is the lines between
    two row breaks; ``rules`` are the page's horizontal strokes, which may mark those breaks. ``wrapped_only``:
    no table of a row per line."""
    rows = [r for r in _rows([g for g in glyphs if g.text.strip()]) if r.pieces]
    tables: list[Table] = []
    runs: list[tuple[int, int]] = []
    start = 0
    while start < len(rows):
        table = None
        end = _table_run(rows, start, wrapped=True)
        if end > start:
            table = _wrapped_table(rows[start:end], rules or [])
        if table is None and not wrapped_only:
            end = _table_run(rows, start)
            table = _aligned_table(rows[start:end]) if end > start else None
        if table is None:
            start += 1
            continue
        if runs and runs[-1][1] == start and rows[start - 1].bottom - rows[start].top < 4 * rows[start].height:
            # A header block set apart, whose gutters differ from the body's (spanning headings): one
            # table, when the body's columns still hold with the header on top.
            joined = _aligned_table(rows[runs[-1][0] : end])
            if joined is not None and len(joined.rows[0]) >= len(table.rows[0]):
                tables[-1], runs[-1] = joined, (runs[-1][0], end)
                start = end
                continue
        tables.append(table)
        runs.append((start, end))
        start = end
    return tables


def _table_run(rows: list[_Row], start: int, *, wrapped: bool = False) -> int:
    """The end of the run of rows from ``start`` that keeps a common gutter; ``start`` when too short. Up to
    two single-piece lines in a row (a section label, a wrapped label) may sit between its rows; the run
    ends with its last row of several pieces. ``wrapped``: a single piece set close under the line above
    and within a column (a cell's text wrapping on after its neighbours end) is part of the run wherever
    it falls, after the last row of several pieces too."""
    if len(rows[start].pieces) < 2:
        return start
    gutters = _gutters([rows[start]])
    multi = 1
    end = start + 1  # just after the last row of several pieces (or its wrapped lines)
    index = start + 1
    while index < len(rows) and index - end <= 2:
        row, above = rows[index], rows[index - 1]
        if above.bottom - row.top > 3 * max(row.height, above.height):
            break
        if len(row.pieces) >= 2:
            narrowed = _narrow(gutters, row)
            if not narrowed:
                break
            gutters = narrowed
            multi += 1
            end = index + 1
        elif _crosses(row, gutters, every=not wrapped):
            # Text across the columns is no wrapped cell's line; text across all of them (a paragraph
            # between two tables) is no row at all. A section label across some of them is a row.
            break
        elif wrapped and index == end and _wraps_on(above, row, gutters):
            end = index + 1
        index += 1
    return end if multi >= 3 else start


def _wraps_on(above: _Row, row: _Row, gutters: list[tuple[float, float]]) -> bool:
    """A one-piece line closer under the line above than half its height, inside one column."""
    return above.bottom - row.top < 0.5 * max(row.height, above.height) and not _crosses(row, gutters)


def _crosses(row: _Row, gutters: list[tuple[float, float]], *, every: bool = False) -> bool:
    """Whether the row's pieces cover a gutter from side to side (``every``: each of them). A wrapped
    cell's line that is wider than the line above it only reaches into one."""
    covered = [any(p.left <= a and b <= p.right for p in row.pieces) for a, b in gutters]
    return bool(covered) and (all(covered) if every else any(covered))


def _gutters(rows: list[_Row]) -> list[tuple[float, float]]:
    """Vertical strips that no piece of these rows covers, between their first and last piece."""
    pieces = sorted((p.left, p.right) for r in rows for p in r.pieces)
    free: list[tuple[float, float]] = []
    reach = pieces[0][1]
    for left, right in pieces[1:]:
        if left > reach:
            free.append((reach, left))
        reach = max(reach, right)
    return free


def _narrow(gutters: list[tuple[float, float]], row: _Row) -> list[tuple[float, float]]:
    """The parts of the gutters this row's pieces leave free, at least a point wide."""
    result: list[tuple[float, float]] = []
    for left, right in gutters:
        parts = [(left, right)]
        for p in row.pieces:
            next_parts = []
            for a, b in parts:
                if p.right <= a or p.left >= b:
                    next_parts.append((a, b))
                    continue
                if p.left > a:
                    next_parts.append((a, p.left))
                if p.right < b:
                    next_parts.append((p.right, b))
            parts = next_parts
        result += [(a, b) for a, b in parts if b - a >= 1.0]
    return result


def _aligned_table(rows: list[_Row]) -> Table | None:
    multi = [r for r in rows if len(r.pieces) >= 2]
    # Columns: strips free in nearly every multi-piece row (a spanning header may cross one).
    bounds = _column_bounds(multi)
    if len(bounds) < 1:
        return None
    grid: list[list[str]] = []
    placed: list[list[tuple[int, _Piece]]] = []
    for row in rows:
        cells = ["" for _ in range(len(bounds) + 1)]
        placed.append([])
        for p in (part for piece in row.pieces for part in _split_at(piece, bounds)):
            column = bisect.bisect_left(bounds, (p.left + p.right) / 2)  # a spanning header by its middle
            cells[column] = f"{cells[column]} {p.text}".strip()
            placed[-1].append((column, p))
        grid.append(cells)
    prose = _prose_beside(grid)
    if prose is not None:
        # Prose in a column of the page beside the table, level with some of its rows: not part of it.
        grid = [[c for i, c in enumerate(row) if i != prose] for row in grid]
        kept = [[p for column, p in row if column != prose] for row in placed]
        rows = [_Row(r.top, r.bottom, pieces) for r, pieces in zip(rows, kept, strict=True) if pieces]
        grid = [g for g, pieces in zip(grid, kept, strict=True) if pieces]
        if len(rows) < 3:
            return None
    table_rows = _without_empty(grid)
    if not table_rows or len(table_rows[0]) < 2:
        return None
    filled = [c for r in table_rows for c in r if c]
    multi_cell_rows = sum(1 for r in table_rows if sum(1 for c in r if c) >= 2)
    if multi_cell_rows < 3:
        return None
    # Two columns of prose are not a table: table cells are short. Nor is a list set with hanging indents
    # (markers in a column of their own).
    if statistics.median(len(c) for c in filled) > 30:
        return None
    if all(_LIST_MARKER.match(row[0]) for row in table_rows if row[0]) and sum(1 for r in table_rows if r[0]) >= 2:
        return None
    left = min(p.left for r in rows for p in r.pieces)
    right = max(p.right for r in rows for p in r.pieces)
    held = frozenset(g.index for r in rows for p in r.pieces for g in p.glyphs)
    return Table(left, rows[-1].bottom, right, rows[0].top, table_rows, ruled=False, glyphs=held)


_MAX_WRAPPED_LINES = 24  # a row wrapping over more lines than this is a paragraph, not a cell
_WRAPPED_LINE_CHARS = 45  # two columns whose lines run longer than this (median) are text, not cells
_OPEN_END = re.compile(r"(?:[,/(&+–-]|\b(?:a|an|and|any|at|by|for|from|in|of|on|or|per|the|to|with|your?))$", re.I)
_CLOSED_END = re.compile(r"[.:;!?)]$")
_AMOUNT = re.compile(r"^\(?[$€£]?\s?-?[\d.,]+%?\)?$")
_NEW_ENTRY = re.compile(r"^(?:[A-Z0-9$€£(•▪●*–-])")


def _wrapped_table(rows: list[_Row], rules: list[Segment]) -> Table | None:
    """A table whose cells wrap over several lines: its rows are set apart by wider gaps than a cell's own
    lines (or by rules between them), and its cells' lines read on (a lower-case word, a line ending on
    "of" or a comma) rather than starting entries of their own. Each row's lines are joined per column.
    None when the run is no such table (then it is read one row per line, unless only wrapped tables are
    looked for)."""
    if len(rows) < 3:
        return None
    # Every line counts, a wrapped cell's lines too; a strip narrower than half a line's height is the ragged
    # right edge of a column of wrapped text, not a gap between columns.
    bounds = _column_bounds(rows, min_width=0.5 * statistics.median(r.height for r in rows))
    if not bounds:
        return None
    left = min(p.left for r in rows for p in r.pieces)
    right = max(p.right for r in rows for p in r.pieces)
    groups = _row_groups(rows, rules, left, right)
    if len(groups) < 2 or max(len(g) for g in groups) > _MAX_WRAPPED_LINES:
        return None
    lines = _cell_lines(rows, bounds)
    read_on, new_entries, wrapping = _reading_on(groups, lines)
    if read_on <= new_entries and not (new_entries == 0 and _only_the_label_goes_on(groups, lines)):
        return None
    # Its body's rows wrap, not just a header (a header over one-line rows reads well a line a row); a
    # header over a single row whose cells wrap in two columns or more is one too.
    one_row = len(groups) == 2 and sum(1 for c in lines[0] if c) >= 3
    if not (sum(len(g) > 1 for g in groups[1:]) >= 2 or (one_row and wrapping[1] >= 2)):
        return None
    grid = [[_joined([lines[i][c] for i in group]) for c in range(len(bounds) + 1)] for group in groups]
    table_rows = _without_empty(grid)
    if not table_rows or len(table_rows[0]) < 2 or sum(1 for r in table_rows if sum(1 for c in r if c) >= 2) < 2:
        return None
    if len(table_rows[0]) == 2 and not _label_and_value(groups, lines):
        return None
    if all(_LIST_MARKER.match(row[0]) for row in table_rows if row[0]) and sum(1 for r in table_rows if r[0]) >= 2:
        return None
    held = frozenset(g.index for r in rows for p in r.pieces for g in p.glyphs)
    return Table(left, rows[-1].bottom, right, rows[0].top, table_rows, ruled=False, glyphs=held)


def _label_and_value(groups: list[list[int]], lines: list[list[str]]) -> bool:
    """Whether two columns of wrapping text are a table's, not two columns of paragraphs side by side:
    the lines are short, and one column holds a line a row in most rows (a label beside its wrapped
    value, or a wrapped label beside its amount), where paragraphs wrap in both."""
    if statistics.median(len(t) for line in lines for t in line if t) > _WRAPPED_LINE_CHARS:
        return False
    body = groups[1:]
    columns = [c for c in range(len(lines[0])) if any(lines[i][c] for i in range(len(lines)))]
    return any(sum(sum(1 for i in g if lines[i][c]) <= 1 for g in body) * 3 >= 2 * len(body) for c in columns)


def _only_the_label_goes_on(groups: list[list[int]], lines: list[list[str]]) -> bool:
    """Whether each row's later lines hold its first column alone, under a first line that fills more (a
    label wrapping beside its one-line values). Later lines with values of their own are rows of their own,
    set in groups under a label printed once (a forms schedule by coverage part)."""
    later = [(group[0], i) for group in groups for i in group[1:]]
    filled = [sum(1 for c in line if c) for line in lines]
    return bool(later) and all(filled[i] == 1 and lines[i][0] and filled[first] > 1 for first, i in later)


def _row_groups(rows: list[_Row], rules: list[Segment], left: float, right: float) -> list[list[int]]:
    """The rows' lines grouped into table rows: a new one after a gap wider than the closest lines' by
    nearly half a line, or under a rule across at least half the table."""
    height = statistics.median(r.height for r in rows)
    gaps = [above.bottom - below.top for above, below in itertools.pairwise(rows)]
    closest = max(min(gaps), 0.0)
    groups: list[list[int]] = [[0]]
    for index, gap in enumerate(gaps, start=1):
        ruled = any(
            rows[index].top - 1 <= (s.y0 + s.y1) / 2 <= rows[index - 1].bottom + 1
            and min(right, max(s.x0, s.x1)) - max(left, min(s.x0, s.x1)) >= (right - left) / 2
            for s in rules
        )
        if ruled or gap > closest + 0.45 * height:
            groups.append([])
        groups[-1].append(index)
    return groups


def _cell_lines(rows: list[_Row], bounds: list[float]) -> list[list[str]]:
    """Each line's text by column."""
    lines = [["" for _ in range(len(bounds) + 1)] for _ in rows]
    for line, row in zip(lines, rows, strict=True):
        for p in (part for piece in row.pieces for part in _split_at(piece, bounds)):
            column = bisect.bisect_left(bounds, (p.left + p.right) / 2)
            line[column] = f"{line[column]} {p.text}".strip()
    return lines


def _reading_on(groups: list[list[int]], lines: list[list[str]]) -> tuple[int, int, list[int]]:
    """Within each group, how often a column's next line reads on from the one above, how often it starts
    an entry of its own (an amount, or a capital after a full stop), and per group the columns that read on."""
    read_on = new_entries = 0
    wrapping: list[int] = []
    for group in groups:
        columns = 0
        for column in range(len(lines[0])):
            texts = [lines[i][column] for i in group if lines[i][column]]
            on = 0
            for before, after in itertools.pairwise(texts):
                if _AMOUNT.match(before) or _AMOUNT.match(after):
                    new_entries += 1  # amounts do not wrap: a column of them is rows of their own
                elif after[:1].islower() or _OPEN_END.search(before):
                    on += 1
                elif _CLOSED_END.search(before) and _NEW_ENTRY.match(after):
                    new_entries += 1
            read_on += on
            columns += on > 0
        wrapping.append(columns)
    return read_on, new_entries, wrapping


_WORD_HYPHEN = re.compile(r"\w-$")


def _joined(texts: list[str]) -> str:
    """A cell's lines as one text: a space between them, none after a word broken at its hyphen
    ("out-of-" "pocket"); a dash set apart ("Deductible -" "Family") keeps its space."""
    text = ""
    for part in texts:
        if not part:
            continue
        text = f"{text}{part}" if not text or _WORD_HYPHEN.search(text) else f"{text} {part}"
    return text


def _prose_beside(grid: list[list[str]]) -> int | None:
    """The first or last column when it holds prose rather than cells: long texts, mostly alone on their
    row (the table's rows fall between the lines of a paragraph beside it)."""
    for column in (0, len(grid[0]) - 1):
        texts = [row[column] for row in grid if row[column]]
        alone = sum(1 for row in grid if row[column] and not any(c for i, c in enumerate(row) if i != column))
        if len(texts) >= 3 and alone * 2 >= len(texts) and statistics.fmean(len(t) for t in texts) > 30:
            return column
    return None


def _split_at(piece: _Piece, bounds: list[float]) -> list[_Piece]:
    """A piece cut where a column bound falls in a gap between its words wider than a plain space: header
    words of neighbouring columns set close together ("method method"). A spanning header's words, a
    plain space apart, stay together."""
    parts = [_Piece(piece.left, piece.left, [piece.glyphs[0]])]
    for a, b in itertools.pairwise(piece.glyphs):
        gap = b.left - a.right
        if gap > 0.4 * max(a.height, b.height) and any(a.right < x < b.left for x in bounds):
            parts.append(_Piece(b.left, b.left, []))
        parts[-1].glyphs.append(b)
    for part in parts:
        part.right = max(g.right for g in part.glyphs)
    return parts


def _column_bounds(rows: list[_Row], *, min_width: float = 1.0) -> list[float]:
    """x positions between columns: the middles of strips at least ``min_width`` wide that at most a tenth
    of the rows cover."""
    allowed = len(rows) // 10
    events: list[tuple[float, int]] = []
    for r in rows:
        for p in r.pieces:
            events += [(p.left, 1), (p.right, -1)]
    events.sort()
    lo, hi = events[0][0], events[-1][0]
    bounds: list[float] = []
    depth = 0
    free_from: float | None = None
    for x, step in events:
        depth += step
        if depth <= allowed and free_from is None:
            free_from = x
        elif depth > allowed and free_from is not None:
            if x - free_from >= min_width and lo < free_from and x < hi:
                bounds.append((free_from + x) / 2)
            free_from = None
    return bounds
