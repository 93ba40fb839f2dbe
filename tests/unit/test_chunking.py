"""Chunking: sizes, overlap in characters, page spans, heading paths and deterministic ids."""

from __future__ import annotations

import bisect
import itertools
import re
import uuid
from collections.abc import Callable

import pytest

from docintake.chunking import Chunk, chunk_markdown
from docintake.parsing import PageMap
from docintake_local.ground_truth import ground_truth_corpus
from docintake_local.sample_documents import policy_markdown

POLICY = (
    """# HOMEOWNERS POLICY

## DECLARATIONS

| Coverage | Limit | Deductible |
| --- | --- | --- |
| A. Dwelling | $350,000 | $1,000 |

## SECTION I – PROPERTY COVERAGES

### A. Coverage A – Dwelling

"""
    + " ".join(
        f"Sentence {i} says we cover the dwelling on the residence premises shown in the Declarations."
        for i in range(60)
    )
    + """

## EXCLUSIONS

We do not insure for loss caused by earth movement. We do not insure for neglect.
"""
)


def test_chunks_respect_size_and_character_overlap() -> None:
    # GIVEN a policy with a long section of ~90-character sentences
    # WHEN it is chunked at 400 characters with 100 of overlap
    chunks = chunk_markdown(POLICY, PageMap.single_page(), size=400, overlap=100)
    # THEN no chunk is larger than the size
    assert all(c.chars <= 400 for c in chunks)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    # AND every chunk that continues a section repeats the previous chunk's last sentence: 1 to 100 chars
    continuing = [
        (before, after)
        for before, after in itertools.pairwise(chunks)
        if after.heading_path == before.heading_path and not after.content.startswith("#")
    ]
    assert len(continuing) >= 10
    for before, after in continuing:
        shared = POLICY[after.start : before.end].strip()
        assert 0 < len(shared) <= 100
        assert before.content.endswith(shared) and after.content.startswith(shared)


def test_every_sentence_lands_in_a_chunk_in_order() -> None:
    chunks = chunk_markdown(POLICY, PageMap.single_page(), size=400, overlap=100)
    text = "\n".join(c.content for c in chunks)
    positions = [text.find(f"Sentence {i} says") for i in range(60)]
    assert all(p >= 0 for p in positions)


def test_top_level_sections_never_share_a_chunk() -> None:
    chunks = chunk_markdown(POLICY, PageMap.single_page(), size=1000, overlap=200)
    exclusions = [c for c in chunks if "EXCLUSIONS" in c.content]
    assert len(exclusions) == 1
    assert exclusions[0].content.startswith("## EXCLUSIONS")
    assert exclusions[0].heading_path == ("HOMEOWNERS POLICY", "EXCLUSIONS")
    dwelling = [c for c in chunks if "Sentence 30 says" in c.content]
    assert dwelling[0].heading_path == (
        "HOMEOWNERS POLICY",
        "SECTION I – PROPERTY COVERAGES",
        "A. Coverage A – Dwelling",
    )


def test_page_spans_follow_the_page_map() -> None:
    # GIVEN three pages of text, each longer than a chunk, so some chunk lies wholly on the middle page
    pages = ["Page one text. " * 80, "Page two text. " * 80, "Page three text. " * 80]
    markdown, starts = "", []
    for page in pages:
        starts.append(len(markdown))
        markdown += page.strip() + "\n\n"
    page_map = PageMap((1, 2, 3), tuple(starts))
    # WHEN it is chunked
    chunks = chunk_markdown(markdown, page_map, size=500, overlap=0)
    # THEN each chunk's page span runs from the page of its first character to the page of its last
    spans = [(chunk.page_start, chunk.page_end) for chunk in chunks]
    assert spans == [(page_map.page_at(chunk.start), page_map.page_at(chunk.end - 1)) for chunk in chunks]
    # AND chunks of page two's text alone lie on page two, and the chunks across each page break span both pages
    only_two = [span for chunk, span in zip(chunks, spans, strict=True) if _pages_named(chunk.content) == {"two"}]
    assert only_two and set(only_two) == {(2, 2)}
    assert (1, 2) in spans and (2, 3) in spans
    assert spans[0][0] == 1 and spans[-1][1] == 3


def _pages_named(text: str) -> set[str]:
    return set(re.findall(r"Page (one|two|three)", text))


def test_ids_are_deterministic_and_depend_on_content() -> None:
    document_id = uuid.UUID("00000000-0000-4000-8000-000000000001")
    first = [c.chunk_id(document_id) for c in chunk_markdown(POLICY, PageMap.single_page())]
    second = [c.chunk_id(document_id) for c in chunk_markdown(POLICY, PageMap.single_page())]
    other = [c.chunk_id(document_id) for c in chunk_markdown(POLICY + "\nMore.", PageMap.single_page())]
    assert first == second
    assert len(set(first)) == len(first)
    assert first[-1] != other[-1]


def test_a_word_longer_than_the_size_is_cut_hard() -> None:
    chunks = chunk_markdown("x" * 2500, PageMap.single_page(), size=1000, overlap=0)
    assert [c.chars for c in chunks] == [1000, 1000, 500]


def test_overlap_must_be_smaller_than_size() -> None:
    with pytest.raises(ValueError):
        chunk_markdown("text", PageMap.single_page(), size=100, overlap=100)


def test_a_heading_without_a_blank_line_still_starts_a_section() -> None:
    markdown = '## DEFINITIONS\n"You" means the named insured.\n## EXCLUSIONS\nWe do not cover neglect.\n'
    chunks = chunk_markdown(markdown, PageMap.single_page())
    assert [c.heading_path for c in chunks] == [("DEFINITIONS",), ("EXCLUSIONS",)]
    assert chunks[1].content == "## EXCLUSIONS\nWe do not cover neglect."


def test_a_lone_title_joins_the_first_section_instead_of_becoming_a_chunk() -> None:
    markdown = "# HOMEOWNERS POLICY\n\n## DEFINITIONS\n\nYou means the insured.\n\n## EXCLUSIONS\n\nNo neglect.\n"
    chunks = chunk_markdown(markdown, PageMap.single_page())
    assert [c.content for c in chunks] == [
        "# HOMEOWNERS POLICY\n\n## DEFINITIONS\n\nYou means the insured.",
        "## EXCLUSIONS\n\nNo neglect.",
    ]
    assert chunks[0].heading_path == ("HOMEOWNERS POLICY", "DEFINITIONS")


def test_a_hash_inside_a_line_does_not_count_as_a_heading_when_finding_the_sections() -> None:
    # GIVEN a lone title and two sections, with "# 3" and "# 4" inside a sentence (were they headings, level 1
    # would occur three times and the whole policy would be one section)
    markdown = "# HOMEOWNERS POLICY\n\n## DEFINITIONS\n\nForm # 3 and form # 4 apply.\n\n## EXCLUSIONS\n\nNo neglect.\n"
    # WHEN it is chunked
    chunks = chunk_markdown(markdown, PageMap.single_page())
    # THEN each ## section is a chunk of its own
    assert [c.heading_path for c in chunks] == [
        ("HOMEOWNERS POLICY", "DEFINITIONS"),
        ("HOMEOWNERS POLICY", "EXCLUSIONS"),
    ]


def _table(rows: int, cell: str = "Coverage text") -> str:
    body = "\n".join(f"| {i}. {cell} | ${i},000 | $500 |" for i in range(rows))
    return f"| Coverage | Limit | Deductible |\n| --- | --- | --- |\n{body}"


def test_a_table_that_fits_stays_whole_in_one_chunk() -> None:
    markdown = "## DECLARATIONS\n\nIntro sentence.\n\n" + _table(5) + "\n\nAfter the table.\n"
    chunks = chunk_markdown(markdown, PageMap.single_page(), size=1000, overlap=200)
    holding = [c for c in chunks if "| Coverage |" in c.content]
    assert len(holding) == 1 and _table(5) in holding[0].content


def test_a_large_table_is_split_between_rows_with_the_header_repeated() -> None:
    # GIVEN a table of 60 rows (~2.4 KB) and chunks of 500 characters
    table = _table(60)
    chunks = chunk_markdown("## SCHEDULE\n\n" + table + "\n", PageMap.single_page(), size=500, overlap=100)
    pieces = [c for c in chunks if "| Coverage | Limit | Deductible |" in c.content]
    # THEN every piece starts with the header and separator, fits, and holds whole rows only
    assert len(pieces) >= 5
    for piece in pieces:
        lines = piece.content.split("\n")
        start = lines.index("| Coverage | Limit | Deductible |")
        assert lines[start + 1] == "| --- | --- | --- |"
        assert piece.chars <= 500
        assert all(line.startswith("| ") and line.endswith(" |") for line in lines[start:])
    # AND every row appears exactly once across the pieces, in order
    rows = [line for p in pieces for line in p.content.split("\n") if line.startswith("| ") and "Coverage text" in line]
    assert rows == table.split("\n")[2:]


def test_a_row_longer_than_the_size_is_never_cut() -> None:
    table = "| Item | Description |\n| --- | --- |\n| 1 | " + "word " * 200 + "|\n| 2 | short |"
    chunks = chunk_markdown(table, PageMap.single_page(), size=300, overlap=0)
    long_row = [c for c in chunks if "word word" in c.content]
    assert len(long_row) == 1 and long_row[0].content.count("word") == 200


def test_a_token_ceiling_caps_chunks_below_the_character_size() -> None:
    markdown = " ".join(f"Sentence {i} is short." for i in range(300))
    chunks = chunk_markdown(markdown, PageMap.single_page(), size=2000, overlap=0, max_tokens=50)
    assert all(len(c.content.split()) + c.content.count(".") <= 50 for c in chunks)
    assert max(c.chars for c in chunks) < 400
    assert chunks[-1].content.endswith("Sentence 299 is short.")


# Citations: a chunk cites the section its text is in.

_HEADING_LINE = re.compile(r"^(#{1,6})\s+(.*\S)\s*$", re.MULTILINE)
_SENTENCE = re.compile(r"[^\n]+?(?:[.!?;:](?=\s)|$)", re.MULTILINE)


def _section_at(markdown: str) -> Callable[[int], tuple[str, ...]]:
    """An oracle written here: the heading path in force at an offset of the Markdown."""
    starts: list[int] = []
    paths: list[tuple[str, ...]] = []
    path: list[tuple[int, str]] = []
    for match in _HEADING_LINE.finditer(markdown):
        level = len(match.group(1))
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, match.group(2)))
        starts.append(match.start())
        paths.append(tuple(title for _, title in path))

    def at(offset: int) -> tuple[str, ...]:
        index = bisect.bisect_right(starts, offset) - 1
        return paths[index] if index >= 0 else ()

    return at


def _miscited(markdown: str, chunks: list[Chunk]) -> tuple[int, int]:
    """(sentences, sentences whose chunk's heading_path is not a prefix of the section they are in)."""
    section_at = _section_at(markdown)
    sentences = wrong = 0
    for chunk in chunks:
        for match in _SENTENCE.finditer(markdown, chunk.start, chunk.end):
            if not match.group(0).strip() or _HEADING_LINE.match(match.group(0).strip()):
                continue
            section = section_at(match.start())
            sentences += 1
            wrong += section[: len(chunk.heading_path)] != chunk.heading_path
            assert any(section[: len(s)] == s for s in chunk.sections), (section, chunk.sections)
    return sentences, wrong


def test_no_sentence_of_the_generated_policies_is_cited_under_another_section() -> None:
    # GIVEN the generated policies (the ground-truth corpus and policy Markdown of several seeds)
    documents = [d.markdown for d in ground_truth_corpus(variants=2)]
    documents += [policy_markdown(40_000, seed=seed) for seed in range(4)]
    # WHEN each is chunked with the defaults
    sentences = wrong = 0
    for markdown in documents:
        counted, miscited = _miscited(markdown, chunk_markdown(markdown, PageMap.single_page()))
        sentences, wrong = sentences + counted, wrong + miscited
    # THEN every sentence's chunk cites its section or a parent of it: 0 of thousands (it was 8%)
    assert sentences > 2000
    assert wrong == 0


SIBLINGS = """# PERSONAL PROPERTY POLICY

## SECTION I – PERILS INSURED AGAINST

### A. Coverage For Aircraft

We cover direct loss caused by aircraft, including self-propelled missiles and spacecraft.

### B. Coverage For Theft

We cover theft, including attempted theft and loss of property from a known place.

## SECTION II – EXCLUSIONS

We do not cover neglect.
"""


def test_sibling_sections_sharing_a_chunk_cite_their_parent_and_list_each() -> None:
    # GIVEN two small sibling sections that fit in one chunk together
    chunks = chunk_markdown(SIBLINGS, PageMap.single_page(), size=1000, overlap=200)
    both = [c for c in chunks if "aircraft" in c.content and "theft" in c.content]
    # THEN the chunk holding both cites their parent and lists each section
    assert len(both) == 1
    assert both[0].heading_path == ("PERSONAL PROPERTY POLICY", "SECTION I – PERILS INSURED AGAINST")
    assert both[0].sections == (
        ("PERSONAL PROPERTY POLICY", "SECTION I – PERILS INSURED AGAINST", "A. Coverage For Aircraft"),
        ("PERSONAL PROPERTY POLICY", "SECTION I – PERILS INSURED AGAINST", "B. Coverage For Theft"),
    )
    # AND a chunk of one section cites that section, and lists it alone
    exclusions = chunks[-1]
    assert exclusions.heading_path == ("PERSONAL PROPERTY POLICY", "SECTION II – EXCLUSIONS")
    assert exclusions.sections == (exclusions.heading_path,)


def test_a_chunk_of_sibling_sections_with_a_small_size_cites_each_alone() -> None:
    # GIVEN chunks too small for both siblings
    chunks = chunk_markdown(SIBLINGS, PageMap.single_page(), size=260, overlap=100)
    # THEN the theft text is cited under theft, never under aircraft
    theft = [c for c in chunks if "attempted theft" in c.content]
    assert theft and all(c.heading_path[-1] == "B. Coverage For Theft" for c in theft)
    assert all("aircraft" not in c.content for c in theft)


def test_overlap_never_crosses_a_heading_nor_carries_a_table_row() -> None:
    # GIVEN subsections of long prose, one with a table at its end, and chunks with overlap
    prose = " ".join(f"Sentence {i} of the clause describes what we pay for." for i in range(12))
    markdown = (
        "# POLICY\n\n## SECTION I\n\n### A. Dwelling\n\n"
        + prose
        + "\n\n"
        + _table(2)
        + "\n\nThe table's limits apply per occurrence.\n\n### B. Other Structures\n\n"
        + prose
        + "\n\n### C. Personal Property\n\n"
        + prose
        + "\n\n## SECTION II\n\nWe do not cover neglect.\n"
    )
    chunks = chunk_markdown(markdown, PageMap.single_page(), size=400, overlap=200)
    section_at = _section_at(markdown)
    overlapped = 0
    for before, after in itertools.pairwise(chunks):
        if after.start >= before.end:
            continue
        overlapped += 1
        carried = markdown[after.start : before.end]
        # THEN what a chunk repeats of the previous one is of its own section (it may open with the
        # section's own heading), with no heading inside it
        assert section_at(after.start) == section_at(before.end - 1)
        assert not _HEADING_LINE.search(carried, 1)
        # AND never a table row
        assert "|" not in carried
    assert overlapped >= 5
    # AND the chunk after the table's starts after the table
    table_end = markdown.index("| $500 |\n\nThe table") + len("| $500 |")
    holding = [c for c in chunks if c.start < table_end <= c.end]
    assert len(holding) == 1 and chunks[holding[0].ordinal + 1].start > table_end
