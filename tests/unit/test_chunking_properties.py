"""Property tests of the chunker over generated policy-like Markdown and page maps: coverage and order,
sizes, overlap, determinism, page spans, that each chunk is its slice of the Markdown and that it cites the
sections its text is in.

Every property is checked against the chunk's public fields only (``start``/``end`` offsets, ``content``,
pages), with oracles written here rather than calls back into the chunker's helpers.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import random
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docintake.chunking import Chunk, chunk_markdown
from docintake.parsing import PageMap

# Enough examples to shake out structure bugs while the whole file stays under ~20 s on 2 cores. Documents
# run to tens of kB, so no deadline; a failure's shrunk example is kept in .hypothesis/ (which ignores itself
# in git) and replayed first on the next run.
PROPERTY_SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DOCUMENT_ID = uuid.UUID("00000000-0000-4000-8000-00000000c0de")
_WHITESPACE = re.compile(r"\s+")
# A Markdown table's separator row, as the chunker's docstring describes a split table's repeated header.
_TABLE_RULE = re.compile(r"^\s*\|(?:\s*:?-{3,}:?\s*\|)+\s*$")

# --------------------------------------------------------------------------------------------------
# Strategies: policy-like Markdown
# --------------------------------------------------------------------------------------------------

_VOCABULARY_TEXT = (
    "we cover the dwelling on residence premises shown in Declarations insured you your loss "
    "caused by fire lightning windstorm hail theft vandalism earth movement neglect water damage "
    "not exceed limit of liability deductible applies per occurrence property other structures "
    "personal additional living expense coverage section condition exclusion endorsement policy "
    "$1,000 $350,000 10% (a) (ii) e.g. i.e. U.S. No. § 12-month “actual cash value” don't "
    "A. B. 1. 2) C# #1 | - * + 3: Inc. – — ½"
)
_VOCABULARY = tuple(_VOCABULARY_TEXT.split())
_TITLES = (
    "HOMEOWNERS POLICY",
    "DECLARATIONS",
    "DEFINITIONS",
    "SECTION I – PROPERTY COVERAGES",
    "SECTION II – LIABILITY COVERAGES",
    "A. Coverage A – Dwelling",
    "B. Other Structures",
    "Perils Insured Against",
    "EXCLUSIONS",
    "CONDITIONS",
    "Loss Settlement – Replacement Cost",
    "1. Earth Movement",
    "Schedule of Forms",
)
_BULLETS = ("- ", "* ", "+ ", "1. ", "12. ", "2) ", "a. ", "b) ", "(iv) ", "(a) ", "  - ")
_BLOCK_SEPARATORS = ("\n\n", "\n\n", "\n\n", "\n\n\n", "\n \n", "\n\t\n", "\n")


def _long_word(length: int) -> str:
    # Deterministic and cheap to shrink: a long word is only ever characterised by its length.
    return ("Notwithstanding" * (length // 15 + 1))[:length]


def _pick_words(count: int, seed: int) -> list[str]:
    return random.Random(seed).choices(_VOCABULARY, k=count)


_SEEDS = st.integers(0, 2**16)


def phrases(min_words: int, max_words: int) -> st.SearchStrategy[str]:
    """Words of the vocabulary, picked by a seeded generator so that Hypothesis draws only two numbers:
    large documents stay cheap to generate and still shrink."""
    return st.builds(lambda n, seed: " ".join(_pick_words(n, seed)), st.integers(min_words, max_words), _SEEDS)


_WORD_COUNTS = st.one_of(st.integers(1, 25), st.integers(1, 25), st.integers(60, 400))  # some very long
_LONG_WORDS = st.one_of(st.none(), st.none(), st.none(), st.integers(16, 40), st.integers(150, 3200))
_SENTENCE_ENDS = st.sampled_from(".!?;:")


@st.composite
def _sentences(draw: st.DrawFn) -> str:
    """A sentence of 1-25 or (sometimes) 60-400 words, maybe holding one word longer than any chunk."""
    count = draw(_WORD_COUNTS)
    chosen = _pick_words(count, draw(_SEEDS))
    long_word = draw(_LONG_WORDS)
    if long_word is not None:
        chosen.insert(draw(st.integers(0, count)), _long_word(long_word))
    body = " ".join(chosen)
    return body[:1].upper() + body[1:] + draw(_SENTENCE_ENDS)


sentences = _sentences()
# Soft line breaks as PDF text extraction leaves them, as well as spaces.
_JOINED_SENTENCES = st.lists(st.tuples(sentences, st.sampled_from((" ", " ", " ", "\n", "  "))), min_size=1, max_size=6)
paragraphs = _JOINED_SENTENCES.map(lambda parts: "".join(p + j for p, j in parts).rstrip())
headings = st.builds(
    lambda level, space, title, trailing: "#" * level + space + title + trailing,
    st.integers(1, 4),
    st.sampled_from((" ", " ", "  ")),
    st.one_of(st.sampled_from(_TITLES), phrases(1, 8)),
    st.sampled_from(("", "", " ")),
)
list_blocks = st.lists(st.tuples(st.sampled_from(_BULLETS), sentences), min_size=1, max_size=8).map(
    lambda items: "\n".join(bullet + text for bullet, text in items)
)
_CELLS = st.one_of(st.sampled_from(_VOCABULARY), phrases(1, 6), phrases(30, 250))  # some long cells
_RULES = st.sampled_from((" --- ", "---", ":---:", " ---: "))


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


@st.composite
def _tables(draw: st.DrawFn) -> str:
    columns = draw(st.integers(1, 6))
    header = _row(draw(st.lists(st.sampled_from(_TITLES), min_size=columns, max_size=columns)))
    rule = "|" + "|".join(draw(_RULES) for _ in range(columns)) + "|"
    body = draw(st.lists(st.lists(_CELLS, min_size=columns, max_size=columns).map(_row), max_size=30))
    return "\n".join([header, rule, *body])


tables = _tables()
blocks = st.one_of(headings, headings, paragraphs, paragraphs, paragraphs, list_blocks, tables)
_SEPARATORS = st.sampled_from(_BLOCK_SEPARATORS)
_LEADING = st.sampled_from(("", "", "\n", "  \n\n"))


def markdown_documents(block_strategy: st.SearchStrategy[str] = blocks) -> st.SearchStrategy[str]:
    """Blocks, each followed by a blank line (of several kinds) or only a newline, which merges it with the next."""
    return st.builds(
        lambda leading, parts: leading + "".join(block + separator for block, separator in parts),
        _LEADING,
        st.lists(st.tuples(block_strategy, _SEPARATORS), min_size=1, max_size=25),
    )


_PAGE_STEPS = st.integers(1, 3)


@st.composite
def page_maps(draw: st.DrawFn, length: int) -> PageMap:
    """Ascending starts beginning at 0 (a blank page repeats a start), ascending page numbers from 1 on."""
    cuts = draw(st.lists(st.integers(0, max(length, 0)), max_size=25))
    starts = (0, *sorted(cuts))
    steps = draw(st.lists(_PAGE_STEPS, min_size=len(starts) - 1, max_size=len(starts) - 1))
    pages = tuple(itertools.accumulate(steps, initial=draw(_PAGE_STEPS)))
    return PageMap(pages, starts)


@dataclass(frozen=True)
class Case:
    markdown: str
    page_map: PageMap
    size: int
    overlap: int
    max_tokens: int | None = None  # the optional token ceiling; every property must hold with it too


_SETTINGS = st.one_of(
    st.just((1000, 200)),  # the defaults
    st.integers(200, 1500).flatmap(lambda size: st.tuples(st.just(size), st.integers(0, size - 1))),
    st.integers(200, 1500).flatmap(lambda size: st.tuples(st.just(size), st.integers(0, size // 4))),
)
_MAX_TOKENS = st.one_of(st.none(), st.none(), st.none(), st.integers(16, 400))
_DOCUMENTS = markdown_documents()


@st.composite
def cases(draw: st.DrawFn, documents: st.SearchStrategy[str] = _DOCUMENTS) -> Case:
    markdown = draw(documents)
    size, overlap = draw(_SETTINGS)
    return Case(markdown, draw(page_maps(len(markdown))), size, overlap, draw(_MAX_TOKENS))


def _chunk(case: Case) -> list[Chunk]:
    return chunk_markdown(
        case.markdown, case.page_map, size=case.size, overlap=case.overlap, max_tokens=case.max_tokens
    )


# --------------------------------------------------------------------------------------------------
# Oracles
# --------------------------------------------------------------------------------------------------


def _page_of(page_map: PageMap, offset: int) -> int:
    """The page on which ``offset`` lies: the last page starting at or before it (the first if none)."""
    index = bisect.bisect_right(page_map.starts, offset) - 1
    return page_map.pages[max(index, 0)]


def _split_table_header(content: str, piece: str) -> str | None:
    """The repeated header (header row + separator) in front of a table piece, or None if there is none."""
    if not content.endswith(piece) or content == piece:
        return None
    header = content[: len(content) - len(piece)]
    lines = header.rstrip("\n").split("\n")
    if len(lines) == 2 and lines[0].lstrip().startswith("|") and _TABLE_RULE.match(lines[1]):
        return header
    return None


def _is_one_table_row(markdown: str, chunk: Chunk) -> bool:
    """A chunk that holds one table row and nothing else but, in front of it, its table's header row and
    separator (repeated, or where they stand at the table's start). A row is never cut, so this is the one
    unit a chunk may be over the size for."""
    lines = markdown[chunk.start : chunk.end].strip().split("\n")
    body = lines[2:] if len(lines) >= 2 and _TABLE_RULE.match(lines[1]) else lines
    return len(body) <= 1 and lines[0].lstrip().startswith("|")


def _assert_covers_in_order(markdown: str, chunks: list[Chunk]) -> None:
    """Every non-whitespace character lies inside some chunk's span, and the chunks' new text (each past the
    previous chunk's end), concatenated, is the input without its whitespace."""
    covered = bytearray(len(markdown) + 1)
    for chunk in chunks:
        assert 0 <= chunk.start < chunk.end <= len(markdown)
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    missing = [i for i, ch in enumerate(markdown) if not ch.isspace() and not covered[i]]
    assert not missing, f"characters outside every chunk at {missing[:10]}"
    new_text = []
    previous_end = 0
    for chunk in chunks:
        new_text.append(markdown[max(previous_end, chunk.start) : chunk.end])
        previous_end = chunk.end
    assert _WHITESPACE.sub("", "".join(new_text)) == _WHITESPACE.sub("", markdown)


# --------------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------------


def _every_non_whitespace_character_is_in_a_chunk_in_order(case: Case, chunks: list[Chunk]) -> None:
    # The chunks run forward: ordinals count up, starts and ends ascend, each adds new text
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for before, after in itertools.pairwise(chunks):
        assert before.start <= after.start
        assert before.end < after.end
    # AND every non-whitespace character lies in some chunk, and the chunks' new text is the input
    _assert_covers_in_order(case.markdown, chunks)


def _each_chunk_is_its_slice_of_the_markdown(case: Case, chunks: list[Chunk]) -> None:
    for chunk in chunks:
        piece = case.markdown[chunk.start : chunk.end].strip()
        assert chunk.content, "empty chunk"
        assert chunk.chars == len(chunk.content)
        # The one documented difference: a piece of a split table begins with its header repeated.
        assert chunk.content == piece or _split_table_header(chunk.content, piece) is not None, (
            chunk.content[:200],
            piece[:200],
        )


def _no_chunk_exceeds_the_size_unless_it_is_one_table_row(case: Case, chunks: list[Chunk]) -> None:
    # GIVEN Markdown whose headings are all shorter than the smallest size drawn (200)
    # WHEN it is chunked, THEN every chunk fits, except one that is a single (uncuttable) table row
    for chunk in chunks:
        if chunk.chars > case.size:
            assert _is_one_table_row(case.markdown, chunk), (case.size, chunk.chars, chunk.content)


def _the_text_two_chunks_share_never_exceeds_the_overlap(case: Case, chunks: list[Chunk]) -> None:
    for before, after in itertools.pairwise(chunks):
        if after.start < before.end:
            shared = case.markdown[after.start : before.end].strip()
            assert len(shared) <= case.overlap, (case.overlap, shared)
            # The shared text is whole: the end of what the previous chunk holds, the start of the next.
            assert shared and before.content.endswith(shared) and shared in after.content


def _the_same_input_gives_the_same_chunks_and_ids(case: Case, chunks: list[Chunk]) -> None:
    first, second = chunks, _chunk(case)
    assert first == second
    first_ids = [c.chunk_id(DOCUMENT_ID) for c in first]
    assert first_ids == [c.chunk_id(DOCUMENT_ID) for c in second]
    # Ids are unique within a document: the ordinal is part of them.
    assert len(set(first_ids)) == len(first_ids)


_CHILD = """
import json, sys, uuid
from docintake.chunking import chunk_markdown
from docintake.parsing import PageMap
request = json.load(sys.stdin)
chunks = chunk_markdown(request["markdown"], PageMap.from_json(request["pages"]), size=request["size"], overlap=200)
print(json.dumps([str(c.chunk_id(uuid.UUID(request["document"]))) for c in chunks]))
"""


def test_ids_are_the_same_in_other_processes() -> None:
    # GIVEN a policy and a page map
    from docintake_local.sample_documents import policy_markdown

    markdown = policy_markdown(40_000, seed=3)
    page_map = PageMap(tuple(range(1, 11)), tuple(range(0, 40_000, 4_000)))
    expected = [str(c.chunk_id(DOCUMENT_ID)) for c in chunk_markdown(markdown, page_map, size=700, overlap=200)]
    request = json.dumps({"markdown": markdown, "pages": page_map.to_json(), "size": 700, "document": str(DOCUMENT_ID)})
    shared = str(Path(__file__).resolve().parents[2] / "shared")
    # WHEN two fresh interpreters with different hash seeds chunk it
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": shared}
        child = subprocess.run(
            [sys.executable, "-c", _CHILD], input=request, capture_output=True, text=True, env=env, check=True
        )
        # THEN they produce exactly the same chunk ids
        assert json.loads(child.stdout) == expected


def _page_spans_match_the_page_map(case: Case, chunks: list[Chunk]) -> None:
    for chunk in chunks:
        assert chunk.page_start == _page_of(case.page_map, chunk.start)
        assert chunk.page_end == _page_of(case.page_map, chunk.end - 1)
        assert chunk.page_start <= chunk.page_end


@PROPERTY_SETTINGS
@given(st.text(alphabet="ab .#|-\n\t:1(", max_size=600), st.integers(200, 400), st.data())
def test_loose_text_keeps_the_coverage_size_and_overlap_properties(text: str, size: int, data: st.DataObject) -> None:
    # GIVEN text that is only loosely Markdown: stray '#', '|', list markers and whitespace runs
    case = Case(text, data.draw(page_maps(len(text))), size, data.draw(st.integers(0, size - 1)))
    chunks = _chunk(case)
    # THEN the structural properties still hold
    if not text.strip():
        assert chunks == []
    _assert_covers_in_order(text, chunks)
    for before, after in itertools.pairwise(chunks):
        assert before.end < after.end
        if after.start < before.end:
            assert len(text[after.start : before.end].strip()) <= case.overlap
    for chunk in chunks:
        assert chunk.chars <= size or _is_one_table_row(text, chunk)
        assert chunk.page_start == _page_of(case.page_map, chunk.start)


# --------------------------------------------------------------------------------------------------
# Documented limits, probed directly
# --------------------------------------------------------------------------------------------------


_TABLE_HEAVY = markdown_documents(st.one_of(tables, tables, paragraphs, headings))


@PROPERTY_SETTINGS
@given(cases(_TABLE_HEAVY))
def test_a_table_piece_is_over_the_size_only_when_its_one_row_is(case: Case) -> None:
    # GIVEN documents dense with tables, some with long cells, split into pieces with the header repeated
    # WHEN they are chunked, THEN a chunk over the size is one row with its table's header and separator,
    # as the module docstring promises ("one row with its table's header row and separator is the one
    # unit that can make a chunk over the size. Everything else is cut to fit")
    for chunk in _chunk(case):
        if chunk.chars > case.size:
            assert _is_one_table_row(case.markdown, chunk), (
                case.size,
                chunk.chars,
                chunk.content,
            )


@PROPERTY_SETTINGS
@given(
    cases(
        markdown_documents(
            st.one_of(paragraphs, st.integers(1, 4).map(lambda level: "#" * level + " " + _long_word(1700)))
        )
    )
)
def test_a_heading_longer_than_the_size_is_cut_to_fit_like_any_other_unit(case: Case) -> None:
    # GIVEN a heading line longer than the size (a parser can turn a long bold paragraph into one)
    # WHEN it is chunked, THEN it is cut like everything else ("Everything else is cut to fit")
    for chunk in _chunk(case):
        assert chunk.chars <= case.size, (case.size, chunk.content[:80])


# --------------------------------------------------------------------------------------------------
# Citations: a chunk cites the section its text is in
# --------------------------------------------------------------------------------------------------

_HEADING_TEXT = re.compile(r"(#{1,6})\s+(.*\S)\s*$")


def _sections_by_line(markdown: str) -> list[tuple[int, tuple[str, ...], bool]]:
    """(line start, heading path in force there, whether the line is a heading or blank: no text), for
    every line: the oracle reads a heading as a line that is, once stripped, hashes, whitespace and a title."""
    lines: list[tuple[int, tuple[str, ...], bool]] = []
    path: list[tuple[int, str]] = []
    position = 0
    for line in markdown.split("\n"):
        heading = _HEADING_TEXT.match(line.strip())
        if heading:
            level = len(heading.group(1))
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, heading.group(2)))
        lines.append((position, tuple(title for _, title in path), bool(heading) or not line.strip()))
        position += len(line) + 1
    return lines


def _every_line_of_text_is_cited_under_its_own_section(case: Case, chunks: list[Chunk]) -> None:
    lines = _sections_by_line(case.markdown)
    starts = [start for start, _, _ in lines]
    for chunk in chunks:
        assert chunk.sections and chunk.heading_path == _common_prefix(chunk.sections)
        first = bisect.bisect_right(starts, chunk.start) - 1
        last = bisect.bisect_right(starts, chunk.end - 1) - 1
        for _, section, no_text in lines[first : last + 1]:
            if not no_text:
                # The text's section is one the chunk lists, and the chunk's heading path leads to it.
                assert section in chunk.sections, (section, chunk.sections)
                assert section[: len(chunk.heading_path)] == chunk.heading_path


def _overlap_stays_in_one_section(case: Case, chunks: list[Chunk]) -> None:
    lines = _sections_by_line(case.markdown)
    starts = [start for start, _, _ in lines]
    for before, after in itertools.pairwise(chunks):
        if after.start < before.end:
            first = bisect.bisect_right(starts, after.start) - 1
            last = bisect.bisect_right(starts, before.end - 1) - 1
            # No heading begins inside the repeated text (it may open with its own section's heading).
            assert lines[first][1] == lines[last][1]


# Each property above, over the same documents: generated and chunked once for all of them rather than once for
# each, so every property sees twice the examples it saw as a test of its own, in a fraction of the time (the
# chunker is the code coverage traces hardest). A failure names its property in the traceback.
_PROPERTIES = (
    _every_non_whitespace_character_is_in_a_chunk_in_order,
    _each_chunk_is_its_slice_of_the_markdown,
    _no_chunk_exceeds_the_size_unless_it_is_one_table_row,
    _the_text_two_chunks_share_never_exceeds_the_overlap,
    _the_same_input_gives_the_same_chunks_and_ids,
    _page_spans_match_the_page_map,
    _every_line_of_text_is_cited_under_its_own_section,
    _overlap_stays_in_one_section,
)


@settings(PROPERTY_SETTINGS, max_examples=2 * PROPERTY_SETTINGS.max_examples)
@given(cases())
def test_any_policy_like_markdown_is_chunked_with_every_property(case: Case) -> None:
    # GIVEN any policy-like Markdown, WHEN it is chunked
    chunks = _chunk(case)
    # THEN every property holds
    for holds in _PROPERTIES:
        holds(case, chunks)


def _common_prefix(paths: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    prefix = paths[0]
    for path in paths[1:]:
        while path[: len(prefix)] != prefix:
            prefix = prefix[:-1]
    return prefix
