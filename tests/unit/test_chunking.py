"""Chunking: sizes, overlap in characters, page spans, heading paths and deterministic ids."""

from __future__ import annotations

import itertools
import uuid

import pytest

from docintake.chunking import chunk_markdown
from docintake.parsing import PageMap

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
    # GIVEN three pages of text
    pages = ["Page one text. " * 40, "Page two text. " * 40, "Page three text. " * 40]
    markdown, starts = "", []
    for page in pages:
        starts.append(len(markdown))
        markdown += page.strip() + "\n\n"
    page_map = PageMap((1, 2, 3), tuple(starts))
    chunks = chunk_markdown(markdown, page_map, size=500, overlap=0)
    # THEN each chunk's page span is where its text is
    for chunk in chunks:
        assert chunk.page_start == page_map.page_at(chunk.start)
        assert chunk.page_end >= chunk.page_start
        if "Page two" in chunk.content and "Page one" not in chunk.content and "Page three" not in chunk.content:
            assert (chunk.page_start, chunk.page_end) == (2, 2)
    assert chunks[0].page_start == 1 and chunks[-1].page_end == 3


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
