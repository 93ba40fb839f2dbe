"""Tables in PDFs as real files draw them: borders one cell edge at a time, landscape pages stored portrait,
shading behind lines of text, spanning and multi-line cells, bold labels, columns with no ruling at all;
and cases from the real-world corpus in ../shared/corpus/tables (camelot's test files, MIT)."""

from __future__ import annotations

import io
import json
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen.canvas import Canvas

from docintake.parsing import parse_document
from docintake.parsing.tables import Glyph, Segment, aligned_tables, cell_text, ruled_tables

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "tables"

Draw = Callable[[Canvas], None]


def _pdf(draw: Draw, *, rotate: int = 0, size: tuple[float, float] = letter) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=size)
    if rotate:
        canvas.setPageRotation(rotate)
    draw(canvas)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _markdown(data: bytes) -> str:
    return parse_document(data, "application/pdf", max_pages=10).markdown


def _tables(markdown: str) -> list[list[list[str]]]:
    """The pipe tables of a Markdown text, delimiter rows left out."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            if not all(set(cell) <= {"-", " "} for cell in cells):
                current.append([cell.strip("| ") for cell in cells])
        elif current:
            tables.append(current)
            current = []
    return tables


def _grid(
    canvas: Canvas,
    rows: list[list[str]],
    *,
    left: float = 72,
    top: float = 700,
    widths: tuple[float, ...] = (120, 120, 120),
    height: float = 20,
    font: str = "Helvetica",
) -> None:
    """A table whose every cell draws its own four borders as separate strokes, slightly short of the
    corners, as carrier PDFs do."""
    canvas.setLineWidth(0.5)
    y = top
    for row in rows:
        x = left
        for width, cell in zip(widths, row, strict=True):
            for x0, y0, x1, y1 in (
                (x + 0.4, y, x + width - 0.4, y),
                (x + 0.4, y - height, x + width - 0.4, y - height),
                (x, y - 0.4, x, y - height + 0.4),
                (x + width, y - 0.4, x + width, y - height + 0.4),
            ):
                canvas.line(x0, y0, x1, y1)
            canvas.setFont(font, 9)
            canvas.drawString(x + 4, y - 14, cell)
            x += width
        y -= height


ROWS = [
    ["Coverage", "Limit", "Deductible"],
    ["Dwelling", "$350,000", "$1,000"],
    ["Other Structures", "$35,000", "$500"],
    ["Personal Property", "$175,000", "$250"],
]


def test_borders_drawn_one_cell_edge_at_a_time_make_one_table() -> None:
    # GIVEN a table whose borders are separate short strokes per cell edge
    markdown = _markdown(_pdf(lambda c: _grid(c, ROWS)))
    # THEN it is one pipe table with every cell in its row
    assert _tables(markdown) == [ROWS]
    # AND none of its lines is repeated as a paragraph
    assert markdown.count("Other Structures") == 1


def test_a_landscape_page_stored_portrait_reads_upright() -> None:
    # GIVEN a portrait page with /Rotate 90 whose content is drawn turned, so it shows upright in landscape
    def draw(canvas: Canvas) -> None:
        canvas.translate(612, 0)
        canvas.rotate(90)
        canvas.setFont("Helvetica", 11)
        canvas.drawString(72, 560, "Schedule of coverages for the insured location")
        _grid(canvas, ROWS, top=520, widths=(200, 150, 150))

    markdown = _markdown(_pdf(draw, rotate=90, size=(792, 612)))  # reportlab swaps the size it stores
    # THEN the table comes out with its rows and columns in reading order, after the line above it
    assert _tables(markdown) == [ROWS]
    assert markdown.index("Schedule of coverages") < markdown.index("| Coverage")


def _y_down_page(*, ruled: bool) -> Draw:
    """A page drawn as Telerik Reporting draws it: every text object flips y with its text matrix
    (``1 0 0 -1 x y Tm``) and flips it back with a negative font size and horizontal scaling (``-10 Tf``,
    ``-100 Tz``), so the glyphs stand upright where they sit; the ruling is drawn with y running down
    (``1 0 0 -1 0 H cm``)."""
    height = letter[1]

    def text(canvas: Canvas, x: float, y: float, words: str) -> None:
        line = canvas.beginText()
        line.setTextTransform(1, 0, 0, -1, x, height - y)
        line.setFont("Helvetica", -10)
        line.setHorizScale(-100)
        line.textOut(words)
        canvas.drawText(line)

    def draw(canvas: Canvas) -> None:
        text(canvas, 72, 72, "Schedule of coverages for the insured location")
        widths, row_height, top = (160, 120, 120), 20, 100
        for r, row in enumerate(ROWS):
            for c, cell in enumerate(row):
                text(canvas, 76 + sum(widths[:c]), top + r * row_height + 14, cell)
        if ruled:
            canvas.saveState()
            canvas.transform(1, 0, 0, -1, 0, height)
            canvas.setLineWidth(0.5)
            right, bottom = 72 + sum(widths), top + len(ROWS) * row_height
            for r in range(len(ROWS) + 1):
                canvas.line(72, top + r * row_height, right, top + r * row_height)
            for c in range(len(widths) + 1):
                canvas.line(72 + sum(widths[:c]), top, 72 + sum(widths[:c]), bottom)
            canvas.restoreState()

    return draw


@pytest.mark.parametrize("ruled", [True, False], ids=["ruled", "unruled"])
def test_a_page_whose_text_matrix_flips_y_and_back_reads_forwards(ruled: bool) -> None:
    # GIVEN upright text whose text matrix flips y and whose negative font size and scaling flip it back
    # (pdfium calls every glyph turned 180 degrees, though each stands upright left of the next)
    markdown = _markdown(_pdf(_y_down_page(ruled=ruled)))
    # THEN the text reads forwards, the line above the table first
    assert markdown.startswith("Schedule of coverages for the insured location")
    # AND the table's rows and cells come out in order
    assert _tables(markdown) == [ROWS]


def test_shading_behind_each_line_of_text_is_not_a_table() -> None:
    # GIVEN a paragraph with a filled rectangle behind each of its lines
    lines = [
        "The company will pay for direct physical loss to the dwelling on the",
        "residence premises shown in the Declarations, including structures",
        "attached to the dwelling, and materials and supplies located on or",
        "next to the residence premises used to construct, alter or repair it.",
    ]

    def draw(canvas: Canvas) -> None:
        for i, line in enumerate(lines):
            y = 700 - i * 14
            canvas.setFillGray(0.9)
            canvas.rect(70, y - 4, 420, 14, stroke=0, fill=1)
            canvas.setFillGray(0)
            canvas.setFont("Helvetica", 10)
            canvas.drawString(72, y, line)

    markdown = _markdown(_pdf(draw))
    # THEN there is no table, and the text is one paragraph
    assert "|" not in markdown
    assert " ".join(lines) in markdown


def test_spanning_cells_come_out_once_and_rows_keep_their_cells() -> None:
    # GIVEN a header cell spanning two columns and a label cell spanning two rows
    def draw(canvas: Canvas) -> None:
        canvas.setLineWidth(0.5)
        left, top, w, h = 72.0, 700.0, 120.0, 20.0
        for y in (top, top - h, top - 2 * h, top - 3 * h):  # row rules
            canvas.line(left, y, left + 3 * w, y)
        canvas.line(left + w, top - h, left + 3 * w, top - h)
        for x in (left, left + 3 * w):
            canvas.line(x, top, x, top - 3 * h)
        canvas.line(left + w, top, left + w, top - 3 * h)
        canvas.line(left + 2 * w, top - h, left + 2 * w, top - 3 * h)  # not through the spanning header
        canvas.setFont("Helvetica", 9)
        canvas.drawString(left + 4, top - 14, "Plan")
        canvas.drawString(left + w + 4, top - 14, "Cost to you (in network and out of network)")
        canvas.drawString(left + 4, top - 2 * h - 4, "Specialist visit")  # centred in its two rows
        for r, (a, b) in enumerate([("$40 copay", "40% coinsurance"), ("$60 copay", "50% coinsurance")]):
            canvas.drawString(left + w + 4, top - (r + 1) * h - 14, a)
            canvas.drawString(left + 2 * w + 4, top - (r + 1) * h - 14, b)

    (table,) = _tables(_markdown(_pdf(draw)))
    # THEN the spanning header is one cell, once; the two-row label once; values in their rows
    flat = [cell for row in table for cell in row]
    assert flat.count("Cost to you (in network and out of network)") == 1
    assert flat.count("Specialist visit") == 1
    assert [c for c in table[1] if c and c != "Specialist visit"] == ["$40 copay", "40% coinsurance"]
    assert [c for c in table[2] if c and c != "Specialist visit"] == ["$60 copay", "50% coinsurance"]


def test_multi_line_cells_join_and_bold_labels_stay_cells() -> None:
    # GIVEN a table with bold labels in the first column and a value wrapped over three lines
    def draw(canvas: Canvas) -> None:
        canvas.setLineWidth(0.5)
        left, top = 72.0, 700.0
        heights = (20.0, 44.0, 20.0)
        ys = [top]
        for h in heights:
            ys.append(ys[-1] - h)
        for y in ys:
            canvas.line(left, y, left + 400, y)
        for x in (left, left + 150, left + 400):
            canvas.line(x, top, x, ys[-1])
        cells = [
            ("Deductible", ["$1,500 individual / $3,000 family"]),
            (
                "Out-of-pocket limit",
                ["$6,000 individual / $12,000 family;", "copayments and coinsurance", "count toward it"],
            ),
            ("Preventive care", ["No charge"]),
        ]
        for (label, value), y in zip(cells, ys, strict=False):
            canvas.setFont("Helvetica-Bold", 10)
            canvas.drawString(left + 4, y - 14, label)
            canvas.setFont("Helvetica", 10)
            for i, line in enumerate(value):
                canvas.drawString(left + 154, y - 14 - 12 * i, line)

    markdown = _markdown(_pdf(draw))
    # THEN the wrapped value is one cell, its lines joined with spaces, and no label became a heading
    assert _tables(markdown) == [
        [
            ["Deductible", "$1,500 individual / $3,000 family"],
            ["Out-of-pocket limit", "$6,000 individual / $12,000 family; copayments and coinsurance count toward it"],
            ["Preventive care", "No charge"],
        ]
    ]
    assert not [line for line in markdown.splitlines() if line.startswith("#")]


UNRULED = [
    ["Service", "In network", "Out of network"],
    ["Primary care visit", "$25 copay", "40% coinsurance"],
    ["Specialist visit", "$50 copay", "40% coinsurance"],
    ["Urgent care", "$75 copay", "50% coinsurance"],
    ["Emergency room", "$300 copay", "$300 copay"],
]


def test_a_table_without_ruling_is_found_from_aligned_columns() -> None:
    # GIVEN columns of text with no lines at all, under a paragraph
    def draw(canvas: Canvas) -> None:
        canvas.setFont("Helvetica", 10)
        canvas.drawString(72, 720, "What you will pay for common medical events is shown below.")
        for r, row in enumerate(UNRULED):
            for x, cell in zip((72, 260, 400), row, strict=True):
                canvas.setFont("Helvetica-Bold" if r == 0 else "Helvetica", 10)
                canvas.drawString(x, 690 - 16 * r, cell)

    markdown = _markdown(_pdf(draw))
    # THEN the columns make a table, and the paragraph stays text
    assert _tables(markdown) == [UNRULED]
    assert markdown.startswith("What you will pay for common medical events is shown below.")


def test_two_columns_of_prose_are_not_a_table() -> None:
    # GIVEN a page set in two columns of ordinary text
    left = "Coverage applies to bodily injury and property damage caused by an occurrence during the policy period"
    right = "We will pay those sums that the insured becomes legally obligated to pay as damages because of injury"

    def draw(canvas: Canvas) -> None:
        canvas.setFont("Helvetica", 10)
        words_left, words_right = left.split(), right.split()
        for r in range(0, len(words_left), 5):
            canvas.drawString(72, 700 - 3 * r, " ".join(words_left[r : r + 5]))
        for r in range(0, len(words_right), 5):
            canvas.drawString(320, 700 - 3 * r, " ".join(words_right[r : r + 5]))

    # THEN no table comes out of it
    assert "|" not in _markdown(_pdf(draw))


# Cells as printed: each a list of its lines. A benefits table whose cells wrap in every column.
WRAPPED = [
    [["Important Questions"], ["Answers"], ["Why This Matters:"]],
    [
        ["What is the overall", "deductible?"],
        ["$1,500 individual/$3,000", "family per calendar year"],
        [
            "Generally, you must pay all of the",
            "costs from providers up to the",
            "deductible amount before this plan",
            "begins to pay.",
        ],
    ],
    [
        ["Is there an out-of-pocket", "limit on my expenses?"],
        ["Yes. $6,000 individual -", "$12,000 family"],
        ["The out-of-pocket limit is the most", "you could pay in a year for covered", "services."],
    ],
]
WRAPPED_ROWS = [
    ["Important Questions", "Answers", "Why This Matters:"],
    [
        "What is the overall deductible?",
        "$1,500 individual/$3,000 family per calendar year",
        "Generally, you must pay all of the costs from providers up to the deductible amount before this plan begins to"
        " pay.",
    ],
    [
        "Is there an out-of-pocket limit on my expenses?",
        "Yes. $6,000 individual - $12,000 family",  # a dash set apart at a line's end keeps its space
        "The out-of-pocket limit is the most you could pay in a year for covered services.",
    ],
]


def _wrapped_table(
    canvas: Canvas,
    columns: tuple[float, ...],
    top: float,
    *,
    size: float = 6.0,
    row_gap: float = 6.0,
    rules: tuple[float, float] | None = None,
) -> float:
    """Draws WRAPPED cell by cell (as reportlab and most generators do: each cell's lines in turn), rows
    ``row_gap`` apart, with a rule across ``rules`` (x from, x to) between rows when given; returns the
    bottom."""
    leading = size * 1.2
    y = top
    for row in WRAPPED:
        for x, cell in zip(columns, row, strict=True):
            for i, line in enumerate(cell):
                canvas.setFont("Times-Roman", size)
                canvas.drawString(x, y - i * leading, line)
        y -= max(len(cell) for cell in row) * leading + row_gap
        if rules is not None:
            canvas.setLineWidth(0.5)
            canvas.line(rules[0], y + row_gap / 2 + size * 0.8, rules[1], y + row_gap / 2 + size * 0.8)
    return y


def test_an_unruled_table_whose_cells_wrap_reads_a_row_per_row() -> None:
    # GIVEN 6-point type in narrow columns, no rules, each cell wrapping over lines of its own
    def draw(canvas: Canvas) -> None:
        canvas.setFont("Times-Roman", 9)
        canvas.drawString(42, 740, "Summary of Benefits and Coverage: What this Plan Covers & What You Pay")
        _wrapped_table(canvas, (48, 132, 245), 700)
        canvas.setFont("Times-Roman", 6)
        canvas.drawString(
            42, 600, "Questions: call the number on the back of your card, or visit the plan's website for details."
        )

    markdown = _markdown(_pdf(draw))
    # THEN each row's lines join per cell: one Markdown row per table row, not a row per line
    assert _tables(markdown) == [WRAPPED_ROWS]
    # AND the text under the table stays text
    assert markdown.rstrip().endswith("or visit the plan's website for details.")


def test_a_table_in_one_of_two_text_columns_keeps_the_other_column_out() -> None:
    # GIVEN a page in two text columns: running text in the left, a table ruled across its column in the right
    prose = (
        "The Summary of Benefits and Coverage document will help you choose a health plan. It shows you how "
        "you and the plan would share the cost for covered health care services. Information about the cost "
        "of this plan, called the premium, will be provided separately. This is only a summary of the plan."
    )

    def draw(canvas: Canvas) -> None:
        canvas.setFont("Helvetica", 7)
        words = prose.split()
        for r in range(0, len(words), 11):
            canvas.drawString(36, 730 - 8.4 * (r // 11), " ".join(words[r : r + 11]))
        _wrapped_table(canvas, (319, 400, 482), 740, size=7.0, rules=(313, 584))

    markdown = _markdown(_pdf(draw))
    # THEN the table holds only its own cells, and the left column reads whole before it
    assert _tables(markdown) == [WRAPPED_ROWS]
    assert markdown.index("summary of the plan.") < markdown.index("| Important Questions")
    assert prose in " ".join(markdown.split())


def test_a_column_of_cells_across_the_page_middle_does_not_split_the_page() -> None:
    # GIVEN a three-column table whose answers run across the page's middle, prose in its last column
    def draw(canvas: Canvas) -> None:
        canvas.setFont("Times-Roman", 9)
        canvas.drawString(42, 740, "Important Questions, Answers and Why This Matters for the plan year")
        _wrapped_table(canvas, (48, 240, 372), 700, size=9.0)

    # THEN the middle column's lines stay whole in their cells
    assert _tables(_markdown(_pdf(draw))) == [WRAPPED_ROWS]


def test_section_labels_wider_than_the_first_column_stay_rows_of_their_table() -> None:
    # GIVEN an unruled declarations table with section labels running across its columns
    rows = [
        ("Coverage", "Limit", "Premium"),
        ("SECTION I - PROPERTY COVERAGES AND LIMITS OF LIABILITY", "", ""),
        ("Coverage A - Dwelling", "$350,000", "$1,200"),
        ("Coverage B - Other Structures", "$35,000", "$120"),
        ("SECTION II - LIABILITY COVERAGES AND LIMITS OF LIABILITY", "", ""),
        ("Coverage E - Personal Liability", "$300,000", "$45"),
        ("Coverage F - Medical Payments", "$5,000", "$10"),
    ]

    def draw(canvas: Canvas) -> None:
        canvas.setFont("Helvetica", 9)
        for r, row in enumerate(rows):
            for x, cell in zip((72, 300, 420), row, strict=True):
                if cell:
                    canvas.drawString(x, 690 - 14 * r, cell)

    # THEN it is one table, the labels rows of it (a label does not end the table or become text)
    assert _tables(_markdown(_pdf(draw))) == [[list(row) for row in rows]]


def test_a_schedule_grouped_under_labels_printed_once_keeps_a_row_per_line() -> None:
    # GIVEN a forms schedule: each coverage part named on its first line only, a little space between parts
    parts = [("Commercial Property", ["CP 00 10", "CP 00 30"]), ("General Liability", ["CG 00 01", "CG 21 06"])]

    def draw(canvas: Canvas) -> None:
        canvas.setFont("Helvetica", 8)
        y = 715.0
        for x, cell in zip((72, 200, 380), ("Coverage Part", "Form", "Premium"), strict=True):
            canvas.drawString(x, y, cell)
        canvas.setLineWidth(0.5)
        canvas.line(72, y - 3, 430, y - 3)
        y -= 14
        for part, forms in parts:
            for i, form in enumerate(forms):
                if i == 0:
                    canvas.drawString(72, y, part)
                canvas.drawString(200, y, form)
                canvas.drawString(380, y, "Included")
                y -= 10
            y -= 6

    # THEN each form keeps its own row (the parts are no cells that wrap)
    assert _tables(_markdown(_pdf(draw))) == [
        [
            ["Coverage Part", "Form", "Premium"],
            ["Commercial Property", "CP 00 10", "Included"],
            ["", "CP 00 30", "Included"],
            ["General Liability", "CG 00 01", "Included"],
            ["", "CG 21 06", "Included"],
        ]
    ]


def test_a_schedule_across_a_two_column_page_is_not_cut_at_the_middle() -> None:
    # GIVEN a page of two prose columns with a location schedule across both, set row by row, and more prose
    prose = (
        "We will pay for direct physical loss to property covered under Coverage A caused by a peril listed "
        "below unless the loss is excluded. This insurance applies only to loss which occurs during the policy "
        "period. Our payment will not exceed the limit of liability shown in the Declarations. "
    ) * 2
    schedule = [
        ("Location", "Building", "Limit", "Deductible"),
        ("1", "Main office, 12 Elm St", "$2,500,000", "$5,000"),
        ("2", "Warehouse, 4 Dock Rd", "$1,200,000", "$10,000"),
        ("3", "Garage, 9 Ash Ave", "$300,000", "$2,500"),
    ]

    def paragraph(canvas: Canvas, x: float, y: float) -> float:
        for line in textwrap.wrap(prose, 58):
            canvas.drawString(x, y, line)
            y -= 10
        return y

    def draw(canvas: Canvas) -> None:
        canvas.setFont("Helvetica", 8.5)
        y = paragraph(canvas, 40, 740) - 20
        paragraph(canvas, 315, 740)
        for row in schedule:
            for x, cell in zip((40, 110, 330, 470), row, strict=True):
                canvas.drawString(x, y, cell)
            y -= 12
        paragraph(canvas, 40, y - 12)
        paragraph(canvas, 315, y - 12)

    markdown = _markdown(_pdf(draw))
    # THEN no table holds the right half of the schedule alone: each limit stays with its location
    assert not any(table[0] == ["Limit", "Deductible"] for table in _tables(markdown))
    flat = " ".join(markdown.replace("|", " ").split())
    assert "1 Main office, 12 Elm St $2,500,000 $5,000 2 Warehouse, 4 Dock Rd $1,200,000 $10,000" in flat


# --- the geometry alone ------------------------------------------------------------------------------------


def _glyphs(text: str, left: float, baseline: float, size: float = 10.0, start: int = 0) -> list[Glyph]:
    glyphs: list[Glyph] = []
    x = left
    space = False
    for i, char in enumerate(text):
        if char == " ":
            x += size * 0.28
            space = True
            continue
        glyphs.append(Glyph(char, x, baseline - 0.2 * size, x + 0.5 * size, baseline + 0.9 * size, start + i, space))
        x += 0.5 * size
        space = False
    return glyphs


def test_collinear_pieces_join_and_glyphs_go_to_the_cell_holding_their_centre() -> None:
    # GIVEN a 2 x 2 grid drawn as pieces with small gaps, and a tall glyph whose box reaches the row above
    segments = [Segment(0, y, 50, y) for y in (0, 20, 40)] + [Segment(51.5, y, 100, y) for y in (0, 20, 40)]
    segments += [Segment(x, 0, x, 19) for x in (0, 50, 100)] + [Segment(x, 20.5, x, 40) for x in (0, 50, 100)]
    glyphs = _glyphs("Name", 4, 26) + _glyphs("Value", 54, 26) + _glyphs("Ann", 4, 6) + _glyphs("42", 54, 6)
    glyphs.append(Glyph("(", 70, 2, 73, 22.5, 99))  # centre in the lower row, box crossing the rule
    # WHEN tables are found
    (table,) = ruled_tables(segments, glyphs)
    # THEN one table with the cells in place
    assert table.rows == [["Name", "Value"], ["Ann", "42 ("]]


def test_a_grid_whose_rows_are_single_cells_is_not_a_table() -> None:
    # GIVEN boxes stacked like shading bands, one per line of text
    segments: list[Segment] = []
    glyphs: list[Glyph] = []
    for i in range(4):
        y = 100 - 20 * i
        segments += [Segment(0, y, 300, y), Segment(0, y - 20, 300, y - 20), Segment(0, y, 0, y - 20)]
        segments.append(Segment(300, y, 300, y - 20))
        glyphs += _glyphs("a line of running text in a shaded band", 4, y - 14, start=100 * i)
    # THEN no table
    assert ruled_tables(segments, glyphs) == []


def test_aligned_columns_make_a_table_and_a_wrapped_label_is_its_own_row() -> None:
    rows = [("Benefit", "Amount"), ("Deductible", "$500"), ("Coinsurance", "20%"), ("Maximum", "$5,000")]
    glyphs: list[Glyph] = []
    for r, (a, b) in enumerate(rows):
        glyphs += _glyphs(a, 0, 100 - 14 * r, start=100 * r) + _glyphs(b, 200, 100 - 14 * r, start=100 * r + 50)
    (table,) = aligned_tables(glyphs)
    assert table.rows == [list(row) for row in rows]
    assert not table.ruled


def test_paragraphs_side_by_side_are_not_a_table_of_wrapped_cells() -> None:
    # GIVEN two columns of short-lined paragraphs whose breaks fall level (the worst case for wrapped cells)
    left = ["We will pay those sums that the", "insured becomes legally obligated", "to pay as damages."]
    right = ["Coverage applies only if the", "injury is caused by an occurrence", "in the coverage territory."]
    glyphs: list[Glyph] = []
    y = 700.0
    for paragraph in range(4):
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            glyphs += _glyphs(a, 72, y, size=8, start=1000 * paragraph + 100 * i)
            glyphs += _glyphs(b, 250, y, size=8, start=1000 * paragraph + 100 * i + 50)
            y -= 10
        y -= 9
    # THEN no table of wrapping cells comes of them
    assert aligned_tables(glyphs, wrapped_only=True) == []
    # AND the right column's paragraphs with a short label beside each instead are a table of wrapped values
    values = [g for g in glyphs if g.left >= 240]
    labels = [g for p in range(4) for g in _glyphs(f"Part {p + 1}.", 72, 700.0 - 39 * p, size=8, start=5000 + 50 * p)]
    (table,) = aligned_tables(labels + values, wrapped_only=True)
    assert table.rows == [[f"Part {p + 1}.", " ".join(right)] for p in range(4)]


def test_wrapped_cells_from_word_boxes_join_a_word_broken_at_its_hyphen() -> None:
    # GIVEN word boxes (as OCR gives them, hyphens kept) of a table whose cells wrap, one word broken at "-"
    cells = [
        [["Benefit"], ["You pay"], ["Notes"]],
        [["Out-of-", "pocket limit"], ["$6,000 per", "person"], ["then the plan", "pays in full"]],
        [["Primary care", "visit"], ["$30 copay per", "visit"], ["deductible does", "not apply"]],
    ]
    glyphs: list[Glyph] = []
    y = 700.0
    for r, row in enumerate(cells):
        for c, cell in enumerate(row):
            for i, line in enumerate(cell):
                glyphs += _glyphs(line, 72 + 110 * c, y - 10 * i, size=8, start=1000 * r + 100 * c + 20 * i)
        y -= 10 * max(len(cell) for cell in row) + 8
    # THEN each row is one, and the broken word is whole again
    (table,) = aligned_tables(glyphs, wrapped_only=True)
    assert table.rows == [
        ["Benefit", "You pay", "Notes"],
        ["Out-of-pocket limit", "$6,000 per person", "then the plan pays in full"],
        ["Primary care visit", "$30 copay per visit", "deductible does not apply"],
    ]


def test_a_dense_hatching_of_strokes_is_refused_in_bounded_time() -> None:
    # GIVEN a page drawn with 1,000 horizontal and 1,000 vertical strokes (a hatched area, a hostile file)
    segments = [Segment(0, y * 4.0, 4000, y * 4.0) for y in range(1000)]  # 4 points apart: no snapping
    segments += [Segment(x * 4.0, 0, x * 4.0, 4000) for x in range(1000)]
    started = time.monotonic()
    # THEN no table comes of it, quickly
    assert ruled_tables(segments, _glyphs("text", 10, 10)) == []
    assert time.monotonic() - started < 2


def test_a_numbered_list_with_hanging_indents_is_not_a_table() -> None:
    # GIVEN list items whose markers stand in a column of their own, text at a tab stop, some lines wrapped
    lines = [("1.", "Bodily injury means harm,"), ("", "sickness or disease."), ("2.", "Business means a trade.")]
    lines += [("3.", "Insured means you and"), ("", "your relatives."), ("4.", "Occurrence means an accident.")]
    glyphs: list[Glyph] = []
    for r, (marker, text) in enumerate(lines):
        glyphs += _glyphs(marker, 0, 100 - 13 * r, start=100 * r) + _glyphs(text, 40, 100 - 13 * r, start=100 * r + 10)
    # THEN the columns do not make a table
    assert aligned_tables(glyphs) == []


def test_footnote_marks_raised_over_a_note_stay_with_the_note_not_the_table() -> None:
    # GIVEN an unruled table, then a note line whose footnote numbers are small raised glyphs far apart
    rows = [("Benefit", "Amount"), ("Deductible", "$500"), ("Coinsurance", "20%"), ("Maximum", "$5,000")]
    glyphs: list[Glyph] = []
    for r, (a, b) in enumerate(rows):
        glyphs += _glyphs(a, 0, 100 - 14 * r, start=100 * r) + _glyphs(b, 200, 100 - 14 * r, start=100 * r + 50)
    glyphs += _glyphs("Applies per person, each year, and to network providers only", 6, 40, start=900)
    for n, x in enumerate((0, 60, 150, 200)):
        glyphs += _glyphs(str(n + 1), x, 44, size=6, start=990 + n)
    # WHEN tables are found
    (table,) = aligned_tables(glyphs)
    # THEN the table ends with its last row; the marks went to the note's line, which is no row of it
    assert table.rows == [list(row) for row in rows]
    assert table.bottom > 44


def test_cell_text_joins_lines_top_first() -> None:
    glyphs = _glyphs("continued", 0, 0, start=20) + _glyphs("first line", 0, 12)
    assert cell_text(glyphs) == "first line continued"


# --- real-world cases ---------------------------------------------------------------------------------------


def _corpus_table(file: str) -> list[list[list[str]]]:
    if not CORPUS.is_dir():
        pytest.skip(reason=f"the tables corpus is not beside the repository ({CORPUS})")
    return _tables(_markdown((CORPUS / "pdf" / file).read_bytes()))


def _truth(case: str) -> list[list[str]]:
    cases = json.loads((CORPUS / "truth.json").read_text(encoding="utf-8"))
    return next(c["rows"] for c in cases if c["id"] == case)


def _has_row(tables: list[list[list[str]]], cells: list[str]) -> bool:
    return any([c for c in row if c] == cells for table in tables for row in table)


def test_corpus_sideways_table_on_a_page_turned_180_degrees() -> None:
    # GIVEN a table printed sideways on a page with /Rotate 180 (clockwise_table_1)
    tables = _corpus_table("clockwise_table_1.pdf")
    # THEN its rows read in order, the row label first
    assert _has_row(tables, ["Kerala", "5738", "6633", "8864", "8297", "245", "2161", "3195", "1645", "2391"])
    assert _has_row(tables, ["Pooled", "38742", "53618", "60601", "86898", "4459", "21918", "27041", "14312", "18519"])


def test_corpus_row_spanning_cells_are_written_once() -> None:
    # GIVEN row_span_1, whose plan type and county cells span several rows
    (table,) = [t for t in _corpus_table("row_span_1.pdf") if len(t) > 10]
    # THEN every truth row is a row of the table, the spanned text in the first row of its span only
    truth = _truth("row_span_1")
    assert [[c for c in row if c] for row in table] == [[c for c in row if c] for row in truth]


def test_corpus_background_bands_and_thin_fills_are_ruling() -> None:
    # GIVEN background_lines_2: row groups are filled bands, rules drawn as thin fills
    tables = _corpus_table("background_lines_2.pdf")
    # THEN the bands separate the group label rows from the value rows below them
    assert _has_row(tables, ["UI", "7429", "0", "2088", "1560", "3648", "0", "0", "0"])
    truth = _truth("background_lines_2")
    assert sum(_has_row(tables, [c for c in row if c]) for row in truth) >= len(truth) - 2


def test_corpus_unruled_table_rows_with_dot_leaders() -> None:
    # GIVEN population_growth: no ruling, columns only aligned
    tables = _corpus_table("population_growth.pdf")
    truth = _truth("population_growth")
    found = sum(_has_row(tables, [c for c in row if c]) for row in truth)
    assert found >= len(truth) - 1


def test_corpus_shaded_rows_without_ruling_are_an_unruled_table() -> None:
    # GIVEN health.pdf: alternating row shading, no ruling lines
    tables = _corpus_table("health.pdf")
    assert _has_row(
        tables,
        ["Andhra Pradesh", "47,824,589", "9,967,837", "1,275,000", "15,000", "59,082,426", "14,898,243", "73,980,669"],
    )


def test_corpus_row_labels_printed_beside_the_ruling_are_the_first_column() -> None:
    # GIVEN vertical_header: township names set left of the ruled grid, level with its rows
    tables = _corpus_table("vertical_header.pdf")
    # THEN each name heads its row of votes
    votes = ["963", "439", "55", "26", "47", "164", "173", "111", "268", "272", "275", "269", "271", "224", "76"]
    assert _has_row(tables, ["Alcona", *votes])


def test_corpus_a_table_beside_a_column_of_prose_keeps_the_prose_out() -> None:
    # GIVEN us-007: a small unruled table in one column of a page whose other column is running text
    markdown = _markdown((CORPUS / "pdf" / "us-007.pdf").read_bytes()) if CORPUS.is_dir() else ""
    tables = [t for t in _corpus_table("us-007.pdf") if _has_row([t], ["Weekly", "$ 71.15"])]
    # THEN the table is there, with no sentence of the text beside it in its cells
    assert len(tables) == 1
    assert _has_row(tables, ["Semiannually", "1,850.00"])
    assert max(len(cell) for row in tables[0] for cell in row) <= 35
    # AND its cells are not repeated in the text around it (pdfium runs text lines across both)
    assert markdown.count("71.15") == 1


def test_corpus_ruling_round_groups_of_rows_gives_way_to_the_text_alignment() -> None:
    # GIVEN district_health: boxes round whole sections, values set in aligned columns inside each box
    tables = _corpus_table("district_health.pdf")
    rows = [[c for c in row if c] for table in tables for row in table]
    # THEN each indicator is a row with its four values, not a box of run-together lines
    (row,) = [r for r in rows if r and r[0].startswith("Children age 6-9 months receiving solid")]
    assert row[1:] == ["78.6", "75.0", "85.9", "89.3"]
    assert sum(1 for r in rows if r[-2:] == ["NA", "NA"]) >= 10
