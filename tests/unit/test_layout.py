"""PDF layout: headings from each document's own type (body size and weight), never from short capitalised
table labels; running headers and footers removed without ever emptying a page; text normalised once, with
the page map still pointing at each page's text."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from reportlab.pdfgen.canvas import Canvas

from docintake.errors import UnsupportedDocument
from docintake.parsing import ParsedDocument, normalize_text, parse_document

BODY = "Helvetica"
BOLD = "Helvetica-Bold"
PROSE = (
    "The plan pays its share of the cost of covered services after you meet the deductible for the year.",
    "You pay a copayment for each visit to a provider in the network, and coinsurance for other services.",
    "Services from providers outside the network cost more and may not count toward your yearly limit.",
)


@dataclass(frozen=True)
class Text:
    text: str
    y: float
    x: float = 72
    size: float = 10
    font: str = BODY


def pdf(*pages: list[Text]) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(612, 792), invariant=1)
    for page in pages:
        for item in page:
            canvas.setFont(item.font, item.size)
            canvas.drawString(item.x, item.y, item.text)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def prose(top: float, lines: int = 3, **style: object) -> list[Text]:
    return [Text(PROSE[i % len(PROSE)], top - 14 * i, **style) for i in range(lines)]  # type: ignore[arg-type]


def parse(data: bytes) -> ParsedDocument:
    return parse_document(data, "application/pdf", max_pages=50)


def headings(parsed: ParsedDocument) -> list[str]:
    return [line for line in parsed.markdown.splitlines() if line.startswith("#")]


# --- headings ----------------------------------------------------------------------------------------------


def test_heading_levels_are_the_documents_larger_sizes_ranked_and_bold_at_body_size_is_the_lowest() -> None:
    # GIVEN a document with 10 pt body text, titles in 18 and 13 pt and a bold 10 pt subheading
    data = pdf(
        [
            Text("Summary of Benefits", 740, size=18, font=BOLD),
            *prose(710),
            Text("Medical Services", 650, size=13, font=BOLD),
            *prose(625),
            Text("Emergency care", 570, font=BOLD),
            *prose(550),
        ]
    )
    # WHEN it is parsed
    parsed = parse(data)
    # THEN the sizes rank as levels 1 and 2 and the bold body-size line is level 3; the prose is no heading
    assert headings(parsed) == ["# Summary of Benefits", "## Medical Services", "### Emergency care"]
    assert PROSE[0] in parsed.markdown


def test_the_body_is_the_size_with_the_most_characters_not_the_smallest() -> None:
    # GIVEN 12 pt body text, with a 9 pt footnote and a 16 pt title: 12 pt carries most characters
    data = pdf([Text("Plan Overview", 740, size=16), *prose(710, 6, size=12), Text("Footnote text", 600, size=9)])
    parsed = parse(data)
    # THEN only the title is a heading: 12 pt prose and 9 pt notes are not
    assert headings(parsed) == ["# Plan Overview"]


def test_sizes_set_by_the_text_matrix_rank_as_headings_too() -> None:
    # GIVEN a document that sets every string at "1 Tf" and scales it with the text matrix (PDFium then
    # reports every font size as 1): an 18 pt title, a 13 pt section title and 10 pt prose
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(612, 792), invariant=1)

    def scaled(text: str, size: float, y: float, font: str = BODY) -> None:
        line = canvas.beginText()
        line.setFont(font, 1)
        line.setTextTransform(size, 0, 0, size, 72, y)
        line.textOut(text)
        canvas.drawText(line)

    scaled("Summary of Benefits", 18, 740, BOLD)
    for i in range(4):
        scaled(PROSE[i % 3], 10, 710 - 14 * i)
    scaled("Medical Services", 13, 640, BOLD)
    for i in range(4):
        scaled(PROSE[i % 3], 10, 620 - 14 * i)
    canvas.showPage()
    canvas.save()
    # WHEN it is parsed  THEN the sizes as printed rank the two titles, and the prose is no heading
    assert headings(parse(buffer.getvalue())) == ["# Summary of Benefits", "## Medical Services"]


@pytest.mark.parametrize("font", [BOLD, BODY], ids=["all_bold", "all_caps"])
def test_a_document_set_all_in_bold_or_all_in_capitals_does_not_become_all_headings(font: str) -> None:
    # GIVEN a document whose body is set in bold (or in capitals), with short lines among long ones
    upper = font == BODY
    lines = [
        "Covered Services",
        *PROSE,
        "Limitations",
        *PROSE,
        "Member Rights",
        *PROSE,
    ]
    if upper:
        lines = [line.upper() for line in lines]
    data = pdf([Text(line, 740 - 14 * i, font=font) for i, line in enumerate(lines)])
    # WHEN it is parsed
    parsed = parse(data)
    # THEN bold (or capitals) marks nothing, because that is how the body is set: no headings at all
    assert headings(parsed) == []
    assert lines[0] in parsed.markdown


def test_bold_labels_in_an_unruled_table_are_not_headings() -> None:
    # GIVEN a benefits grid with no ruling: bold capitalised labels in one column, what you pay in the next
    # (drawn column by column, as many generators do), and a bold label with its value on the line below
    labels = ["COMMON MEDICAL EVENT", "PRIMARY CARE", "SPECIALIST VISIT", "URGENT CARE"]
    values = ["WHAT YOU PAY", "Copay per visit", "Copay per visit", "Coinsurance"]
    data = pdf(
        [
            Text("Your Costs", 750, size=14, font=BOLD),
            *prose(725),
            *[Text(label, 670 - 14 * i, font=BOLD) for i, label in enumerate(labels)],
            *[Text(value, 670 - 14 * i, x=330) for i, value in enumerate(values)],
            Text("OVERALL DEDUCTIBLE", 580, font=BOLD),
            Text("$1,500 individual / $3,000 family", 566),
            *prose(530),
        ]
    )
    # WHEN it is parsed
    parsed = parse(data)
    # THEN the title is the only heading; every label is still there as text
    assert headings(parsed) == ["# Your Costs"]
    for text in [*labels, *values, "OVERALL DEDUCTIBLE", "$1,500 individual"]:
        assert text in parsed.markdown


def test_the_header_and_labels_of_a_benefits_grid_drawn_row_by_row_are_not_headings() -> None:
    # GIVEN a summary of benefits whose unruled grid has a bold two-line header row and bold row labels,
    # its cells wrapped and drawn row by row (the layout that lost real summaries' tables to headings)
    columns = (40, 190, 360, 480)
    rows = [
        (["Common", "Medical Event"], ["Services You Need"], ["What You Will Pay", "In Network"], ["Out-of-Network"]),
        (["If you visit a doctor's", "office or clinic"], ["Primary care visit"], ["$20 copay"], ["40% coinsurance"]),
        (["Emergency Care"], ["Emergency room"], ["$250 copay"], ["$250 copay"]),
        (["HOSPITAL STAY"], ["Facility fee"], ["20% coinsurance"], ["40% coinsurance"]),
    ]
    items = [Text("Summary of Benefits and Coverage", 760, x=40, size=14, font=BOLD), *prose(735)]
    y = 680.0
    for index, row in enumerate(rows):
        for column, (x, cell) in enumerate(zip(columns, row, strict=True)):
            font = BOLD if index == 0 or column == 0 else BODY
            items += [Text(text, y - 11 * i, x=x, size=9, font=font) for i, text in enumerate(cell)]
        y -= 11 * max(len(cell) for cell in row) + 8
    parsed = parse(pdf(items))
    # THEN the title is the only heading, and every label is still in the text
    assert headings(parsed) == ["# Summary of Benefits and Coverage"]
    for label in ("Medical Event", "Out-of-Network", "Emergency Care", "HOSPITAL STAY"):
        assert label in parsed.markdown


def test_a_bold_line_between_paragraphs_is_a_heading_when_bold_is_not_the_bodys_weight() -> None:
    # GIVEN a document in one size whose body is regular, with short bold and capitalised lines between
    data = pdf(
        [
            *prose(740),
            Text("Prescription Drugs", 690, font=BOLD),
            *prose(670),
            Text("EXCLUDED SERVICES", 620),
            *prose(600),
        ]
    )
    # THEN both stand out from the body, as the only (lowest) level there is
    assert headings(parse(data)) == ["# Prescription Drugs", "# EXCLUDED SERVICES"]


def test_a_heading_over_prose_that_quotes_amounts_stays_a_heading() -> None:
    # GIVEN a bold heading over a paragraph whose first line quotes an amount, and a second heading in the
    # left column of two, level with a line of the right column (drawn first) that quotes a rate
    right_column = [
        "Coinsurance is 20% after the deductible for",
        "covered services from network providers, and",
        "you pay the difference for other providers.",
    ]
    data = pdf(
        [
            *[Text(line, 600 - 14 * i, x=320) for i, line in enumerate(right_column)],
            *prose(750),
            Text("Emergency Room Care", 700, font=BOLD),
            Text("You pay $250 for each visit to an emergency room, waived if you are admitted.", 686),
            *prose(672),
            Text("Ambulance Services", 600, font=BOLD),
            Text("Ground and air ambulance to the", 586),
            Text("nearest facility that can treat you.", 572),
        ]
    )
    # THEN both are headings: a value that makes a label a label is a short one
    assert headings(parse(data)) == ["# Emergency Room Care", "# Ambulance Services"]


def test_the_capitalised_end_of_a_wrapped_sentence_is_not_a_heading_but_one_after_a_short_line_is() -> None:
    # GIVEN a full line whose sentence runs on to a line set in capitals (a name, a wrapped title), and a
    # short list item followed, as closely, by a heading in capitals in the same type
    data = pdf(
        [
            *prose(740),
            Text("Complaints about this plan, or about a decision we made on your claim, may be sent to", 690),
            Text("THE STATE DEPARTMENT OF INSURANCE", 676),
            *prose(650),
            Text("1. Coverage for the dwelling", 590),
            Text("SECTION II - LIABILITY", 576),
            *prose(556),
        ]
    )
    parsed = parse(data)
    # THEN the first stays in its sentence and the second is a heading
    assert headings(parsed) == ["# SECTION II - LIABILITY"]
    assert "may be sent to THE STATE DEPARTMENT OF INSURANCE" in parsed.markdown


# --- running headers and footers ---------------------------------------------------------------------------


def test_running_headers_and_footers_go_and_every_page_keeps_its_content() -> None:
    # GIVEN three pages with the same header and a numbered footer around different content
    pages = [
        [
            Text("Example Health Plan", 770, size=8),
            Text(f"Coverage Period {year}", 740, font=BOLD, size=13),
            *prose(710),
            Text(f"Page {n} of 3", 30, size=8),
        ]
        for n, year in ((1, "One"), (2, "Two"), (3, "Three"))
    ]
    parsed = parse(pdf(*pages))
    # THEN the header and footer are gone and every page's own text stays, mapped to its page
    assert "Example Health Plan" not in parsed.markdown and "Page 2 of 3" not in parsed.markdown
    assert parsed.page_map.pages == (1, 2, 3)
    for page, year in ((1, "One"), (2, "Two"), (3, "Three")):
        start = parsed.markdown.index(f"Coverage Period {year}")
        assert parsed.page_map.page_at(start) == page


def test_a_page_whose_every_line_repeats_is_not_emptied() -> None:
    # GIVEN a file whose every page holds only the same line, digits aside (as in a damaged qpdf test file)
    data = pdf(*[[Text(f"Potato {n}", 720)] for n in range(1, 6)])
    # WHEN it is parsed
    parsed = parse(data)
    # THEN each page keeps its line, and the page map has every page (its spans no longer fail)
    assert parsed.markdown == "".join(f"Potato {n}\n\n" for n in range(1, 6)).rstrip() + "\n"
    assert parsed.page_map.pages == (1, 2, 3, 4, 5)
    assert [span["page"] for span in parsed.page_map.spans(len(parsed.markdown))] == [1, 2, 3, 4, 5]


def test_a_page_holding_only_repeated_lines_keeps_them_while_the_other_pages_lose_them() -> None:
    # GIVEN three pages with a running header; the middle page has nothing else
    header = Text("Example Health Plan", 770, size=8)
    data = pdf([header, *prose(740)], [header], [header, Text("Appeals and grievances", 740), *prose(720)])
    parsed = parse(data)
    # THEN the middle page keeps the header as its only content; the others lose it
    assert parsed.markdown.count("Example Health Plan") == 1
    assert parsed.page_map.pages == (1, 2, 3)
    assert parsed.page_map.page_at(parsed.markdown.index("Example Health Plan")) == 2


# --- text normalisation and clean failures -------------------------------------------------------------------


def test_normalize_text_turns_pdf_artefacts_into_plain_text() -> None:
    raw = (
        "out\u2013of\u2013pocket max\u00a0$500, insur\ufffeance, \ufb01ling \ufb02at\u00ad, "
        "1\u20135 days \u2013 or not\x00\ufeff\x07"
    )
    assert normalize_text(raw) == "out-of-pocket max $500, insurance, filing flat, 1\u20135 days \u2013 or not"
    # AND other noncharacters, C1 controls and lone surrogates (UTF-8 cannot encode them) go too
    assert normalize_text("a\uffffb\U0010fffec\x85d\ud800e") == "abcde"
    # AND line breaks and tabs stay
    assert normalize_text("a\r\nb\tc\n") == "a\nb\tc\n"


def test_the_page_map_points_at_each_pages_normalised_text() -> None:
    # GIVEN two pages whose text carries en dashes and a text layer whose character codes map to U+FEFF
    # (normalising changes lengths)
    data = pdf(
        [Text("First page: out\u2013of\u2013network", 720)],
        [Text("Second page: in\u2013network", 720)],
    )
    parsed = parse(data)
    # THEN the Markdown is normalised and page 2 starts exactly where its text starts
    assert parsed.markdown.startswith("First page: out-of-network")
    assert parsed.markdown[parsed.page_map.starts[1] :].startswith("Second page: in-network")
    # AND characters that are not text are gone before the offsets are taken
    marked = raw_pdf(b"(AAA) Tj (Page one) Tj", b"(Page two) Tj")
    parsed = parse(marked)
    assert parsed.markdown == "Page one\n\nPage two\n"
    assert parsed.page_map.starts == (0, len("Page one\n\n"))


@pytest.mark.parametrize("code", ["FEFF", "FDD0", "00AD", "0007"])
def test_a_pdf_whose_text_is_nothing_readable_fails_empty_document(code: str) -> None:
    # GIVEN a text layer whose characters are all U+FEFF (or a noncharacter, a soft hyphen, a control)
    data = raw_pdf(b"(AAA AAA) Tj", b"(A) Tj", unicode=code)
    # WHEN parsed  THEN it is refused as empty, not passed on as a document that makes no chunks
    with pytest.raises(UnsupportedDocument) as caught:
        parse(data)
    assert caught.value.code == "empty_document"


def raw_pdf(*contents: bytes, unicode: str = "FEFF") -> bytes:
    """A PDF with one page per content stream, in Helvetica whose ToUnicode map sends "A" to ``unicode``
    and every other code to itself: the way PDFs with broken or hostile text layers carry such characters."""
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Broken def /CMapType 2 def "
        b"1 begincodespacerange <00> <FF> endcodespacerange "
        b"1 beginbfchar <41> <" + unicode.encode() + b"> endbfchar "
        b"1 beginbfrange <20> <40> <0020> endbfrange 1 beginbfrange <42> <7E> <0042> endbfrange "
        b"endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    count = len(contents)
    kids = b" ".join(b"%d 0 R" % (5 + 2 * i) for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream",
    ]
    for i, content in enumerate(contents):
        stream = b"BT /F1 12 Tf 72 720 Td " + content + b" ET"
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % (6 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _ruled_table_page(canvas: Canvas, rows: list[list[str]]) -> None:
    canvas.setLineWidth(0.5)
    top, height, widths = 700.0, 20.0, (150.0, 120.0, 120.0)
    for r, row in enumerate(rows):
        x = 72.0
        for width, cell in zip(widths, row, strict=True):
            canvas.rect(x, top - (r + 1) * height, width, height)
            canvas.setFont("Helvetica", 9)
            canvas.drawString(x + 4, top - r * height - 14, cell)
            x += width
    canvas.showPage()


def test_a_table_continued_under_its_repeated_header_is_one_table_whose_rows_keep_their_pages() -> None:
    # GIVEN a schedule whose table breaks over a page, its header row repeated on the second page
    header = ["Coverage", "Limit", "Deductible"]
    first = [["Dwelling", "$350,000", "$1,000"], ["Other Structures", "$35,000", "$500"]]
    second = [["Personal Property", "$175,000", "$250"], ["Loss of Use", "$70,000", "None"]]
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    _ruled_table_page(canvas, [header, *first])
    _ruled_table_page(canvas, [header, *second])
    canvas.save()
    # WHEN it is parsed
    parsed = parse_document(buffer.getvalue(), "application/pdf", max_pages=10)
    markdown = parsed.markdown
    # THEN the Markdown holds one table: the header once, every row in order, no blank line inside
    table = markdown.strip()
    assert table.count("Coverage") == 1
    assert "\n\n" not in table
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split(" | ")[0].strip("| ") for row in rows] == [
        "Coverage",
        "Dwelling",
        "Other Structures",
        "Personal Property",
        "Loss of Use",
    ]
    # AND each row is cited on the page it is printed on: page 2 begins at its first row
    assert parsed.page_map.pages == (1, 2)
    assert markdown[parsed.page_map.starts[1] :].startswith("| Personal Property")
    assert parsed.page_map.page_at(markdown.index("Other Structures")) == 1
    assert parsed.page_map.page_at(markdown.index("Loss of Use")) == 2
