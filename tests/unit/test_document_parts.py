"""A large document's parts: the ranges a stage fans out into, and the join of parsed page ranges."""

from __future__ import annotations

from pathlib import Path

import pytest

from docintake.errors import UnsupportedDocument
from docintake.parsing import ParsedPart, join_parts
from docintake.parsing.pdf import parse_pdf, parse_pdf_pages
from docintake.stages import page_ranges
from docintake_local.large_documents import long_policy_pdf, repeated_word_markdown, varied_markdown


@pytest.mark.parametrize(
    ("count", "per_part", "first", "expected"),
    [
        (10, 3, 1, ((1, 3), (4, 6), (7, 8), (9, 10))),
        (5, 5, 1, ((1, 5),)),
        (6, 5, 1, ((1, 3), (4, 6))),
        (9, 4, 0, ((0, 2), (3, 5), (6, 8))),
    ],
)
def test_ranges_cover_every_item_once_in_even_parts_of_at_most_the_size(
    count: int, per_part: int, first: int, expected: tuple[tuple[int, int], ...]
) -> None:
    ranges = page_ranges(count, per_part, first)
    assert ranges == expected
    covered = [item for a, b in ranges for item in range(a, b + 1)]
    assert covered == list(range(first, first + count))


def test_ranges_of_a_2000_page_document_are_50_parts_of_40() -> None:
    ranges = page_ranges(2000, 40)
    assert len(ranges) == 50 and {b - a + 1 for a, b in ranges} == {40}


def test_parts_of_a_pdf_join_into_what_a_whole_parse_gives_even_for_one_page_parts() -> None:
    data = long_policy_pdf(7)
    whole = parse_pdf(data, max_pages=10)
    for size in (1, 2, 3):
        parts = [parse_pdf_pages(data, a, b, max_pages=10) for a, b in page_ranges(7, size)]
        # a part survives its trip through S3 as JSON
        parts = [ParsedPart.from_json(part.to_json()) for part in parts]
        joined = join_parts(parts, empty="none", empty_code="empty_document")
        assert (joined.markdown, joined.page_map, joined.page_count) == (whole.markdown, whole.page_map, 7), size


def test_empty_parts_are_skipped_and_a_document_of_only_empty_parts_fails_with_the_code() -> None:
    text = ParsedPart(1, 1, "page one\n", (1,), (0,), 3, 0)
    blank = ParsedPart(2, 2, "", (), (), 3, 1)
    last = ParsedPart(3, 3, "page three\n", (3,), (0,), 3, 0)
    joined = join_parts([last, blank, text], empty="none", empty_code="empty_document")
    assert joined.markdown == "page one\n\npage three\n"
    assert (joined.page_map.pages, joined.page_map.starts) == ((1, 3), (0, 10))
    assert joined.page_map.page_at(joined.markdown.index("three")) == 3
    assert (joined.pages_without_text, joined.warnings) == (1, ("pages_without_text:1",))
    with pytest.raises(UnsupportedDocument) as raised:
        join_parts([blank], empty="no page has a text layer", empty_code="no_text_layer")
    assert raised.value.code == "no_text_layer"


def test_a_range_outside_the_pdf_is_refused_with_a_code() -> None:
    with pytest.raises(UnsupportedDocument) as raised:
        parse_pdf_pages(long_policy_pdf(2), 2, 3, max_pages=10)
    assert raised.value.code == "page_range"


def test_the_degenerate_documents_are_the_size_asked_for() -> None:
    repeated = repeated_word_markdown(1000)
    assert len(repeated) == 1000 and set(repeated.split()[:-1]) == {b"coverage"}  # the last word cut at the size
    varied = varied_markdown(50_000)
    assert len(varied) == 50_000 and varied.count(b"\n## Section ") > 50


REAL_FORM = (
    Path(__file__).resolve().parents[2] / "bench" / "retrieval" / "corpus" / "real" / "nfip-sfip-dwelling-form.pdf"
)


@pytest.mark.parametrize("size", [1, 2, 3])
def test_parts_of_a_real_form_join_into_its_whole_parse_heading_levels_included(size: int) -> None:
    # GIVEN the NFIP Standard Flood Insurance Policy dwelling form (18 pages of public-domain text): its title
    # is on page 1, so a part far from it must still rank its headings as the whole document does
    data = REAL_FORM.read_bytes()
    whole = parse_pdf(data, max_pages=100)
    parts = [parse_pdf_pages(data, a, b, max_pages=100) for a, b in page_ranges(whole.page_count, size)]
    joined = join_parts(parts, empty="none", empty_code="empty_document")
    assert whole.page_count == 18
    assert (joined.markdown, joined.page_map) == (whole.markdown, whole.page_map)
