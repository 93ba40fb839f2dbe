"""Scores a parser's Markdown against a :class:`~docintake_local.ground_truth.TruthDocument`.

Owns the quality measures of the parse-quality tests and ``bench/parse``:

- **Headings.** Output headings are ATX lines (``#`` to ``######``); setext headings and bold lines do
  not count. A heading's key is its text, normalized (below), with emphasis removed, case-folded and
  trailing ``:``/``.`` dropped. Found and true headings are matched as multisets of keys:
  ``precision = matched / found``, ``recall = matched / true`` (0 when nothing was found). Levels are
  not part of the match; ``heading_level_accuracy`` is the share of matched pairs (paired in order)
  whose level differs from the truth by the most common difference, so a parser that writes the whole
  outline one level deeper still scores 1.
- **Tables.** Output tables are GitHub-style pipe tables (a header line, a ``---`` delimiter line, then
  rows). Cells are compared after normalization, case-folded, with emphasis and ``<br>`` removed. Each
  true table is paired with a distinct output table, best first by the number of its cells found at
  the same (row, column), header row being row 0. ``table_cell_accuracy`` = non-empty true cells found
  at their place / non-empty true cells, over the whole document.
- **Text.** :func:`markdown_text` turns Markdown into plain text: heading marks, emphasis, links,
  images, HTML tags, code fences, rules, table delimiter lines and pipes, and unordered list markers
  (``-``, ``*``, ``+`` and bullet characters) are removed; ordered markers (``1.``, ``a.``, ``(1)``)
  stay because they are printed on the page. Then :func:`normalize_text` applies Unicode NFKC, maps
  dashes to ``-`` and curly quotes to straight ones, drops soft hyphens and zero-width characters and
  collapses all whitespace to single spaces (case is kept). ``text_similarity`` is rapidfuzz's
  normalized Levenshtein similarity (``1 - distance / max(len)``) between the output's and the truth's
  normalized text, on the whole document, so reading-order mistakes cost what they move.
- **Lists** (reported, not asserted). ``list_item_recall`` = true list items whose normalized text
  (first 60 characters) starts an output list item of any marker.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

from rapidfuzz.distance import Levenshtein

from docintake_local.ground_truth import TruthDocument

__all__ = [
    "QualityScores",
    "combine",
    "markdown_headings",
    "markdown_tables",
    "markdown_text",
    "normalize_text",
    "score",
]

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")
_QUOTES = {
    **dict.fromkeys(map(ord, "\u2018\u2019\u201a\u201b\u2032"), "'"),
    **dict.fromkeys(map(ord, "\u201c\u201d\u201e\u201f\u2033"), '"'),
}
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\x00"), None)
_WHITESPACE = re.compile(r"\s+")

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_DELIMITER = re.compile(r"^\s*\|?\s*:?-{1,}:?\s*(?:\|\s*:?-{1,}:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_RULE = re.compile(r"^\s*([-*_])(?:\s*\1){2,}\s*$")
_UNORDERED = re.compile(r"^(\s*)(?:[-*+]|[\u2022\u25aa\u25cf\u25e6\u2023\u2043\u25a0\u25a1\u00b7])[ \t]+")
_BULLET_CHARS = re.compile(r"^\s*[\u2022\u25aa\u25cf\u25e6\u2023\u2043\u25a0\u25a1\u00b7]\s*")
_LIST_ITEM = re.compile(
    r"^\s*(?:[-*+\u2022\u25aa\u25cf\u25e6\u00b7]|\d{1,3}[.)]|[A-Za-z][.)]|\([0-9A-Za-z]{1,4}\))[ \t]+(.*)$"
)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|~~)(?=\S)(.+?)(?<=\S)\1")
_STRAY_EMPHASIS = re.compile(r"\*{2,}|(?<!\w)_{2,}(?!\w)")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")
_INLINE_CODE = re.compile(r"`([^`]*)`")
_LIST_PREFIX = 60


@dataclass(frozen=True)
class QualityScores:
    """Scores with the counts they come from, so documents can be combined (micro-averaged)."""

    headings_true: int
    headings_found: int
    headings_matched: int
    levels_agreeing: int
    cells_true: int
    cells_matched: int
    list_items_true: int
    list_items_found: int
    text_chars: int  # length of the truth's normalized text: the weight of text_similarity
    text_similarity: float

    @property
    def heading_precision(self) -> float:
        return self.headings_matched / self.headings_found if self.headings_found else 0.0

    @property
    def heading_recall(self) -> float:
        return self.headings_matched / self.headings_true if self.headings_true else 1.0

    @property
    def heading_f1(self) -> float:
        p, r = self.heading_precision, self.heading_recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def heading_level_accuracy(self) -> float:
        return self.levels_agreeing / self.headings_matched if self.headings_matched else 0.0

    @property
    def table_cell_accuracy(self) -> float:
        return self.cells_matched / self.cells_true if self.cells_true else 1.0

    @property
    def list_item_recall(self) -> float:
        return self.list_items_found / self.list_items_true if self.list_items_true else 1.0

    def summary(self) -> str:
        return (
            f"headings P {self.heading_precision:.3f} R {self.heading_recall:.3f} "
            f"(found {self.headings_found}, true {self.headings_true}, levels {self.heading_level_accuracy:.2f}); "
            f"table cells {self.table_cell_accuracy:.3f} ({self.cells_matched}/{self.cells_true}); "
            f"text {self.text_similarity:.4f}; list items {self.list_item_recall:.3f}"
        )


def score(markdown: str, truth: TruthDocument) -> QualityScores:
    """Every measure of the module docstring for one parser output against one truth document."""
    found = markdown_headings(markdown)
    true_keys = [_heading_key(text) for _, text, _ in truth.headings]
    found_keys = [_heading_key(text) for _, text in found]
    matched = sum((Counter(true_keys) & Counter(found_keys)).values())

    pairs = SequenceMatcher(None, true_keys, found_keys, autojunk=False).get_matching_blocks()
    diffs = [found[j + k][0] - truth.headings[i + k].level for i, j, size in pairs for k in range(size)]
    agreeing = Counter(diffs).most_common(1)[0][1] if diffs else 0

    cells_true, cells_matched = _table_cells(markdown_tables(markdown), truth.tables)

    expected = normalize_text(truth.text)
    actual = normalize_text(markdown_text(markdown))
    similarity = Levenshtein.normalized_similarity(expected, actual, score_hint=0.9) if expected or actual else 1.0

    found_items = _list_items_found(markdown, [item.text for item in truth.list_items])
    return QualityScores(
        headings_true=len(true_keys),
        headings_found=len(found_keys),
        headings_matched=matched,
        levels_agreeing=agreeing,
        cells_true=cells_true,
        cells_matched=cells_matched,
        list_items_true=len(truth.list_items),
        list_items_found=found_items,
        text_chars=len(expected),
        text_similarity=similarity,
    )


def combine(scores: Iterable[QualityScores]) -> QualityScores:
    """Counts summed; text similarity weighted by each document's text length."""
    items = list(scores)
    chars = sum(s.text_chars for s in items)
    return QualityScores(
        headings_true=sum(s.headings_true for s in items),
        headings_found=sum(s.headings_found for s in items),
        headings_matched=sum(s.headings_matched for s in items),
        levels_agreeing=sum(s.levels_agreeing for s in items),
        cells_true=sum(s.cells_true for s in items),
        cells_matched=sum(s.cells_matched for s in items),
        list_items_true=sum(s.list_items_true for s in items),
        list_items_found=sum(s.list_items_found for s in items),
        text_chars=chars,
        text_similarity=sum(s.text_similarity * s.text_chars for s in items) / chars if chars else 1.0,
    )


def normalize_text(text: str) -> str:
    """NFKC, dashes to ``-``, curly quotes straight, invisible characters dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).translate(_QUOTES).translate(_INVISIBLE)
    return _WHITESPACE.sub(" ", text).strip()


def markdown_text(markdown: str) -> str:
    """The plain text of a Markdown document (see the module docstring for what is removed)."""
    lines: list[str] = []
    in_fence = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            lines.append(line)
            continue
        if (_DELIMITER.match(line) and "|" in line) or _RULE.match(line):
            continue
        heading = _ATX.match(line)
        if heading:
            line = heading.group(2)
        elif line.lstrip().startswith("|"):
            line = " ".join(cell for cell in _split_row(line) if cell)
        else:
            line = _UNORDERED.sub(r"\1", line)
            line = _BULLET_CHARS.sub("", line)
        lines.append(_strip_inline(line))
    return html.unescape("\n".join(lines))


def markdown_headings(markdown: str) -> list[tuple[int, str]]:
    """(level, text) of each ATX heading outside code fences, emphasis removed."""
    headings: list[tuple[int, str]] = []
    in_fence = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _ATX.match(line)
        if match and match.group(2).strip():
            headings.append((len(match.group(1)), _strip_inline(match.group(2)).strip()))
    return headings


def markdown_tables(markdown: str) -> list[list[list[str]]]:
    """Each pipe table as rows of raw cell text, header row first, delimiter line left out."""
    lines = markdown.splitlines()
    tables: list[list[list[str]]] = []
    index = 1
    while index < len(lines):
        line, header = lines[index], lines[index - 1]
        if "|" in line and "-" in line and _DELIMITER.match(line) and "|" in header:
            rows = [_split_row(header)]
            index += 1
            while index < len(lines) and "|" in lines[index] and lines[index].strip():
                rows.append(_split_row(lines[index]))
                index += 1
            tables.append(rows)
        index += 1
    return tables


def _split_row(line: str) -> list[str]:
    text = line.strip()
    text = text.removeprefix("|")
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    return [cell.replace("\\|", "|").strip() for cell in re.split(r"(?<!\\)\|", text)]


def _strip_inline(text: str) -> str:
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _BR.sub(" ", text)
    text = _TAG.sub("", text)
    text = _INLINE_CODE.sub(r"\1", text)
    previous = None
    while previous != text:  # nested emphasis: ***x***, **_x_**
        previous, text = text, _EMPHASIS.sub(r"\2", text)
    text = _STRAY_EMPHASIS.sub("", text)
    return _ESCAPE.sub(r"\1", text)


def _list_items_found(markdown: str, items: list[str]) -> int:
    starts = [
        normalize_text(_strip_inline(match.group(1))).casefold()
        for match in map(_LIST_ITEM.match, markdown.splitlines())
        if match
    ]
    prefixes: dict[int, set[str]] = {}  # prefix length -> the output items' prefixes of that length
    found = 0
    for item in items:
        key = normalize_text(item).casefold()[:_LIST_PREFIX]
        if len(key) not in prefixes:
            prefixes[len(key)] = {start[: len(key)] for start in starts}
        found += key in prefixes[len(key)]
    return found


def _heading_key(text: str) -> str:
    return normalize_text(_strip_inline(text)).casefold().rstrip(":.").strip()


def _cell_key(text: str) -> str:
    return normalize_text(html.unescape(_strip_inline(text))).casefold()


def _table_cells(found: list[list[list[str]]], truth: tuple[tuple[tuple[str, ...], ...], ...]) -> tuple[int, int]:
    """(non-empty true cells, of them found at their place in the paired output table)."""
    found_keys = [[[_cell_key(cell) for cell in row] for row in table] for table in found]
    true_keys = [[[_cell_key(cell) for cell in row] for row in table] for table in truth]
    overlap = {
        (t, f): sum(
            1
            for r, row in enumerate(true_table)
            for c, cell in enumerate(row)
            if cell and r < len(found_table) and c < len(found_table[r]) and found_table[r][c] == cell
        )
        for t, true_table in enumerate(true_keys)
        for f, found_table in enumerate(found_keys)
    }
    matched = 0
    used_true: set[int] = set()
    used_found: set[int] = set()
    for (t, f), count in sorted(overlap.items(), key=lambda kv: (-kv[1], kv[0])):
        if count and t not in used_true and f not in used_found:
            used_true.add(t)
            used_found.add(f)
            matched += count
    total = sum(1 for table in true_keys for row in table for cell in row if cell)
    return total, matched
