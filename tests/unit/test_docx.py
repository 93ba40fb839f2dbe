"""DOCX parsing: headings, lists, tables and pages from documents built with python-docx; hostile packages."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import docx
import pytest
from docx.enum.section import WD_SECTION
from docx.enum.text import WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from docintake.config import Settings
from docintake.errors import UnsupportedDocument
from docintake.parsing import ParsedDocument, parse_document
from docintake.parsing import docx as docx_parsing
from docintake.parsing.local import LocalParser
from docintake_cli.main import main
from tests.docx_documents import (
    BULLETS,
    DOCX,
    NUMBERS,
    benefits_docx,
    build,
    cell,
    compound_file,
    list_item,
    understated_size,
    with_body,
    with_footnote,
    with_member,
    zip_of,
)


def _parse(data: bytes, max_pages: int = 50) -> ParsedDocument:
    return parse_document(data, DOCX, max_pages=max_pages)


def _page_text(parsed: ParsedDocument, page: int) -> str:
    (span,) = [s for s in parsed.page_map.spans(len(parsed.markdown)) if s["page"] == page]
    return parsed.markdown[span["start"] : span["end"]]


def test_a_benefits_summary_reads_as_markdown_with_headings_lists_and_a_merged_table() -> None:
    parsed = _parse(benefits_docx())
    assert parsed.markdown.startswith(
        "# Summary of Benefits\n\n# Costs for Medical Care\n\n"
        "The **overall deductible** is $500. See the glossary.\n\n"
        "- Preventive care\n  - Screenings\n  - Immunizations\n    - Childhood\n- Emergency care\n\n"
        "## How to file a claim\n\n1. Call the plan\n2. Send the form\n\n"
    )
    # The office visit spans two rows (vMerge) and "Not covered" two columns (gridSpan): every row is 3 wide.
    assert (
        "| Service | In-network | Out-of-network |\n| --- | --- | --- |\n"
        "| Office visit | $20 copay | 40% coinsurance |\n|  | $40 copay | 50% coinsurance |\n"
        "| Hospital stay | Not covered |  |\n\n"
    ) in parsed.markdown
    assert parsed.parser == "local" and parsed.pages_without_text == 0


def test_a_page_break_and_a_second_section_make_three_pages() -> None:
    parsed = _parse(benefits_docx())
    assert parsed.page_count == 3 and parsed.page_map.pages == (1, 2, 3)
    # The break sits inside a paragraph: the text before it stays on page 1, the rest starts page 2.
    assert _page_text(parsed, 1).rstrip().endswith("Limits apply.")
    assert _page_text(parsed, 2) == "Page two begins here.\n\nNetwork providers are listed online.\n\n"
    assert _page_text(parsed, 3) == "# Exclusions\n\nCosmetic surgery is not covered.\n"


def test_a_continuous_section_break_and_a_rendered_page_break_start_no_page() -> None:
    def fill(document: docx.document.Document) -> None:
        first = document.add_paragraph("Declarations")
        # Where Word last broke the page when it rendered: a cache, not the author's page.
        run = first.add_run(" continued")
        run._r.insert(0, OxmlElement("w:lastRenderedPageBreak"))
        document.add_section(WD_SECTION.CONTINUOUS)
        document.add_paragraph("Same page")
        paragraph = document.add_paragraph("Forced new page")
        paragraph.paragraph_format.page_break_before = True

    parsed = _parse(build(fill))
    assert parsed.page_map.pages == (1, 2)
    assert _page_text(parsed, 1) == "Declarations continued\n\nSame page\n\n"
    assert _page_text(parsed, 2) == "Forced new page\n"


def test_headings_come_from_outline_levels_and_styles_based_on_headings() -> None:
    def fill(document: docx.document.Document) -> None:
        custom = document.styles.add_style("Benefit Heading", docx.enum.style.WD_STYLE_TYPE.PARAGRAPH)
        custom.base_style = document.styles["Heading 3"]
        document.add_paragraph("Inherited", style="Benefit Heading")
        outlined = document.add_paragraph("Outlined")
        outlined._p.get_or_add_pPr().append(_outline_level(1))
        document.add_paragraph("Heading 8 reads as 6", style="Heading 8")
        document.add_paragraph("Body text")

    assert _parse(build(fill)).markdown == "### Inherited\n\n## Outlined\n\n###### Heading 8 reads as 6\n\nBody text\n"


def _outline_level(level: int) -> OxmlElement:
    element = OxmlElement("w:outlineLvl")
    element.set(qn("w:val"), str(level))
    return element


def test_numbered_lists_count_per_level_and_restart_under_each_parent() -> None:
    def fill(document: docx.document.Document) -> None:
        list_item(document, "File the claim", NUMBERS, 0)
        list_item(document, "Online", NUMBERS, 1)
        list_item(document, "By mail", NUMBERS, 1)
        list_item(document, "Wait for the decision", NUMBERS, 0)
        list_item(document, "Appeal", NUMBERS, 1)
        document.add_paragraph("Between lists")
        list_item(document, "A bullet", BULLETS, 0)

    assert _parse(build(fill)).markdown == (
        "1. File the claim\n   1. Online\n   2. By mail\n2. Wait for the decision\n   1. Appeal\n\n"
        "Between lists\n\n- A bullet\n"
    )


def test_cells_join_paragraphs_and_escape_pipes() -> None:
    def fill(document: docx.document.Document) -> None:
        table = document.add_table(rows=2, cols=2)
        table.cell(0, 0).text = "Benefit"
        table.cell(0, 1).text = "Limit"
        cell = table.cell(1, 0)
        cell.text = "Dental"
        cell.add_paragraph("Preventive | basic")
        table.cell(1, 1).text = "$1,000"

    assert _parse(build(fill)).markdown == (
        "| Benefit | Limit |\n| --- | --- |\n| Dental Preventive \\| basic | $1,000 |\n"
    )


SBC_ROWS = [
    ("Important Questions", "Answers", "Why This Matters"),
    ("What is the overall deductible?", "$1,000 individual / $2,000 family", "Generally you must pay all."),
    ("What is the out-of-pocket limit?", "$4,000 individual", "The most you could pay."),
]


def _fill_rows(table: docx.table.Table, rows: list[tuple[str, ...]]) -> None:
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.cell(r, c).text = text


def test_a_document_laid_out_in_a_table_reads_as_headings_paragraphs_and_its_data_table() -> None:
    # GIVEN an SBC laid out in a one-column table: a heading and a paragraph, then the benefits table nested
    def fill(document: docx.document.Document) -> None:
        layout = document.add_table(rows=2, cols=1)
        top = layout.cell(0, 0)
        top.paragraphs[0].text = "Summary of Benefits and Coverage"
        top.paragraphs[0].style = "Heading 1"
        top.add_paragraph("Acme Health: Gold PPO Coverage Period: 01/01/2025 - 12/31/2025")
        _fill_rows(layout.cell(1, 0).add_table(rows=3, cols=3), SBC_ROWS)

    # WHEN it is parsed, THEN the layout is gone: the nested table is a pipe table of its own
    assert _parse(build(fill)).markdown == (
        "# Summary of Benefits and Coverage\n\n"
        "Acme Health: Gold PPO Coverage Period: 01/01/2025 - 12/31/2025\n\n"
        "| Important Questions | Answers | Why This Matters |\n| --- | --- | --- |\n"
        "| What is the overall deductible? | $1,000 individual / $2,000 family | Generally you must pay all. |\n"
        "| What is the out-of-pocket limit? | $4,000 individual | The most you could pay. |\n"
    )


def test_a_table_with_a_table_in_a_cell_is_layout_and_layouts_nest() -> None:
    # GIVEN a two-column table (a list beside a cell holding a one-column box around a data table)
    def fill(document: docx.document.Document) -> None:
        layout = document.add_table(rows=1, cols=2)
        side = layout.cell(0, 0)
        side.paragraphs[0].text = "Plans"
        side.paragraphs[0].style = "List Bullet"
        side.add_paragraph("Contact", style="List Bullet")
        box = layout.cell(0, 1).add_table(rows=2, cols=1)
        box.cell(0, 0).text = "Your plan:"
        _fill_rows(box.cell(1, 0).add_table(rows=2, cols=2), [("Tier", "Copay"), ("1", "$10")])

    # WHEN it is parsed, THEN its cells read in row then column order, each layout unwrapped
    assert _parse(build(fill)).markdown == (
        "- Plans\n- Contact\n\nYour plan:\n\n| Tier | Copay |\n| --- | --- |\n| 1 | $10 |\n"
    )


def test_a_single_column_table_of_paragraphs_reads_as_paragraphs() -> None:
    def fill(document: docx.document.Document) -> None:
        table = document.add_table(rows=3, cols=1)
        table.cell(0, 0).text = "Important notice"
        table.cell(1, 0).text = "Keep this page."
        table.cell(1, 0).add_paragraph("It explains your coverage.")
        table.cell(2, 0).text = "Call 1-800-555-0100 with questions."

    assert _parse(build(fill)).markdown == (
        "Important notice\n\nKeep this page.\n\nIt explains your coverage.\n\nCall 1-800-555-0100 with questions.\n"
    )


def test_a_page_break_inside_a_layout_table_starts_a_page() -> None:
    def fill(document: docx.document.Document) -> None:
        layout = document.add_table(rows=2, cols=1)
        layout.cell(0, 0).text = "Plan summary"
        layout.cell(1, 0).paragraphs[0].add_run().add_break(WD_BREAK.PAGE)
        _fill_rows(layout.cell(1, 0).add_table(rows=2, cols=2), [("Service", "Copay"), ("Visit", "$20")])

    parsed = _parse(build(fill))
    assert parsed.page_map.pages == (1, 2) and parsed.page_count == 2
    assert _page_text(parsed, 1) == "Plan summary\n\n"
    assert _page_text(parsed, 2) == "| Service | Copay |\n| --- | --- |\n| Visit | $20 |\n"


def _nested(levels: int) -> bytes:
    """``levels`` tables of two cells, each inside the last one's second cell."""
    opening = "".join(
        f"<w:tbl><w:tr>{cell(f'L{level}')}<w:tc><w:p><w:r><w:t>R{level}</w:t></w:r></w:p>" for level in range(levels)
    )
    return with_body(opening + "</w:tc></w:tr></w:tbl>" * levels)


def test_tables_nested_deeply_read_in_bounded_depth_and_time() -> None:
    # GIVEN 80 tables each inside the last one's cell (libxml2 refuses XML past 256 levels: 85 tables)
    started = time.perf_counter()
    # WHEN it is parsed
    markdown = _parse(_nested(80)).markdown
    # THEN eight layouts unwrap, the ninth is a table whose cell holds the rest flattened, all the text kept
    assert markdown.startswith("L0\n\nR0\n\nL1\n\n") and "R7\n\n| L8 | R8 L9; R9 L10; R10 L11" in markdown
    assert markdown.endswith("R78 L79 R79 |\n| --- | --- |\n") and time.perf_counter() - started < 5
    # AND 200 of them fail with a code, in no time
    with pytest.raises(UnsupportedDocument) as raised:
        _parse(_nested(200))
    assert raised.value.code == "corrupt_docx" and time.perf_counter() - started < 5


def test_a_declared_grid_wider_than_the_cells_adds_no_empty_columns() -> None:
    # GIVEN a table declaring 20,000 grid columns whose rows hold two cells each (a few KB of XML)
    grid = "<w:tblGrid>" + "<w:gridCol/>" * 20_000 + "</w:tblGrid>"
    rows = f"<w:tr>{cell('Plan')}{cell('Premium')}</w:tr><w:tr>{cell('Gold')}{cell('$9')}</w:tr>"
    # WHEN it is parsed, THEN the table is as wide as its text: two columns, not 20,000
    markdown = _parse(with_body(f"<w:tbl>{grid}{rows}</w:tbl>")).markdown
    assert markdown == "| Plan | Premium |\n| --- | --- |\n| Gold | $9 |\n"


def test_grid_before_is_bounded_like_a_span_and_empty_columns_are_dropped() -> None:
    # GIVEN rows offset by gridBefore (one by 100,000 columns), and a column empty in every row
    far = "<w:trPr><w:gridBefore w:val='100000'/></w:trPr>"
    body = (
        "<w:tbl>"
        f"<w:tr>{cell('Service')}{cell('')}{cell('Copay')}</w:tr>"
        f"<w:tr><w:trPr><w:gridBefore w:val='2'/></w:trPr>{cell('$20')}</w:tr>"
        f"<w:tr>{far}{cell('Far')}</w:tr>"
        "</w:tbl>"
    )
    # WHEN it is parsed, THEN the offset counts at most 64 columns and the empty ones are gone
    assert _parse(with_body(body)).markdown == (
        "| Service | Copay |  |\n| --- | --- | --- |\n|  | $20 |  |\n|  |  | Far |\n"
    )


def test_a_grid_over_the_cell_cap_reads_as_one_paragraph_per_row(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a table whose grid (rows times columns with text) is over the cap
    monkeypatch.setattr(docx_parsing, "_MAX_GRID_CELLS", 3)
    body = f"<w:tbl><w:tr>{cell('Plan')}{cell('Gold')}</w:tr><w:tr>{cell('')}{cell('Deductible')}</w:tr></w:tbl>"
    # WHEN it is parsed, THEN its rows read as paragraphs, cells joined as a nested table's are
    assert _parse(with_body(body)).markdown == "Plan; Gold\n\nDeductible\n"


def test_a_one_cell_table_reads_as_its_paragraphs() -> None:
    def fill(document: docx.document.Document) -> None:
        box = document.add_table(rows=1, cols=1).cell(0, 0)
        box.text = "Important notice"
        box.add_paragraph("Keep this page.")

    assert _parse(build(fill)).markdown == "Important notice\n\nKeep this page.\n"


def test_deleted_revisions_field_codes_and_hidden_text_are_not_read() -> None:
    def fill(document: docx.document.Document) -> None:
        paragraph = document.add_paragraph("Kept")
        deleted = OxmlElement("w:del")
        run = OxmlElement("w:r")
        text = OxmlElement("w:delText")
        text.text = "Deleted"
        run.append(text)
        deleted.append(run)
        paragraph._p.append(deleted)
        code = paragraph.add_run()
        instruction = OxmlElement("w:instrText")
        instruction.text = " PAGE "
        code._r.append(instruction)
        paragraph.add_run(" Hidden").font.hidden = True
        paragraph.add_run(" words")

    assert _parse(build(fill)).markdown == "Kept words\n"


def test_text_is_normalized_like_every_parser_s() -> None:
    def fill(document: docx.document.Document) -> None:
        document.add_paragraph("Out–of–pock\u00adet\u200b limit")

    assert _parse(build(fill)).markdown == "Out-of-pocket limit\n"


def test_more_pages_than_allowed_fail_with_too_many_pages() -> None:
    def fill(document: docx.document.Document) -> None:
        for page in range(4):
            document.add_paragraph(f"Page {page}").add_run().add_break(WD_BREAK.PAGE)

    assert _parse(build(fill), max_pages=5).page_count == 5  # the last break opens an empty fifth page
    with pytest.raises(UnsupportedDocument) as raised:
        _parse(build(fill), max_pages=3)
    assert raised.value.code == "too_many_pages"


def _blank(document: docx.document.Document) -> None:
    document.add_paragraph("   ")
    document.add_page_break()
    document.add_table(rows=2, cols=2)


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("not a zip", b"This is plain text, not a Word file.", "corrupt_docx"),
        ("truncated", benefits_docx()[:3000], "corrupt_docx"),
        ("zip of other things", zip_of({"notes.txt": b"hello"}), "corrupt_docx"),
        (
            "workbook-like package",
            zip_of(
                {
                    "[Content_Types].xml": b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
                }
            ),
            "corrupt_docx",
        ),
        ("malformed document.xml", with_member(benefits_docx(), "word/document.xml", b"<w:document"), "corrupt_docx"),
        (
            "entity expansion",
            with_member(
                benefits_docx(),
                "word/document.xml",
                b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
                + b"".join(
                    b'<!ENTITY a%d "%s">' % (i, b"&a%s;" % (str(i - 1).encode() if i > 1 else b"") * 10)
                    for i in range(1, 10)
                )
                + b']><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                b"<w:body><w:p><w:r><w:t>&a9;</w:t></w:r></w:p></w:body></w:document>",
            ),
            "corrupt_docx",
        ),
        # The directory says 100 bytes; zipfile stops there and the CRC check fails.
        ("understated size", understated_size(benefits_docx(), "word/document.xml", 100), "corrupt_docx"),
        (
            "main part is not WordprocessingML",
            with_member(benefits_docx(), "word/document.xml", b'<?xml version="1.0"?><root/>'),
            "corrupt_docx",
        ),
        (
            "document without a body",
            with_member(
                benefits_docx(),
                "word/document.xml",
                b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>',
            ),
            "empty_document",
        ),
        ("encrypted (OLE compound file)", compound_file("EncryptedPackage"), "encrypted_docx"),
        ("Word 97-2003 .doc", compound_file("WordDocument"), "unsupported_type"),
        ("no paragraphs", build(lambda document: None), "empty_document"),
        ("only blanks, breaks and empty cells", build(_blank), "empty_document"),
    ],
)
def test_hostile_and_empty_packages_fail_with_a_code(name: str, data: bytes, code: str) -> None:
    with pytest.raises(UnsupportedDocument) as raised:
        _parse(data)
    assert raised.value.code == code, name


def test_a_zip_bomb_is_refused_from_its_directory_before_anything_inflates() -> None:
    # 60 MB of zeros deflates to about 60 KB; the directory declares the 60 MB.
    bomb = zip_of({"[Content_Types].xml": b"<Types/>", "word/document.xml": bytes(60 << 20)})
    assert len(bomb) < 1 << 20
    started = time.perf_counter()
    with pytest.raises(UnsupportedDocument) as raised:
        _parse(bomb)
    assert raised.value.code == "too_large"
    assert time.perf_counter() - started < 0.5


def test_parts_that_inflate_past_the_total_cap_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = benefits_docx()
    monkeypatch.setattr(docx_parsing, "MAX_UNCOMPRESSED_BYTES", 20_000)
    with pytest.raises(UnsupportedDocument) as raised:
        _parse(data)
    assert raised.value.code == "too_large"


def test_the_local_parser_reads_docx_in_the_sandbox_and_returns_its_codes() -> None:
    parser = LocalParser.from_settings(Settings(max_pages=50))
    parsed = parser.parse(benefits_docx(), DOCX, heartbeat=lambda: None)
    assert parsed.page_map.pages == (1, 2, 3) and "| Hospital stay | Not covered |  |" in parsed.markdown
    with pytest.raises(UnsupportedDocument) as raised:
        parser.parse(compound_file("EncryptedPackage"), DOCX, heartbeat=lambda: None)
    assert raised.value.code == "encrypted_docx"


def test_docintake_parse_prints_a_docx_as_json_with_its_pages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "summary.docx"
    path.write_bytes(benefits_docx())
    assert main(["parse", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["page_count"] == 3 and document["parser"] == "local"
    assert [p["page"] for p in document["pages"]] == [1, 2, 3]
    assert document["pages"][-1]["end"] == len(document["markdown"])
    assert document["markdown"].startswith("# Summary of Benefits\n\n")
    assert "| Hospital stay | Not covered |  |" in document["markdown"]


def test_docintake_parse_exits_2_with_the_code_of_an_encrypted_docx(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "locked.docx"
    path.write_bytes(compound_file("EncryptedPackage"))
    assert main(["parse", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == "encrypted_docx" and captured.out == ""


def test_a_parser_crash_on_a_docx_is_reported_as_corrupt_docx(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGSEGV)  # what a libxml2 fault would do to the child

    monkeypatch.setattr("docintake.parsing.local.parse_document", crash)
    parser = LocalParser.from_settings(Settings())
    with pytest.raises(UnsupportedDocument) as raised:
        parser.parse(benefits_docx(), DOCX, heartbeat=lambda: None)
    assert raised.value.code == "corrupt_docx"


def test_tables_of_contents_are_not_read() -> None:
    def fill(document: docx.document.Document) -> None:
        entry = document.styles.add_style("toc 1", docx.enum.style.WD_STYLE_TYPE.PARAGRAPH)
        document.add_paragraph("Coverage\t3", style=entry)
        # Word's generated table of contents: a content control of the "Table of Contents" gallery.
        sdt = OxmlElement("w:sdt")
        sdt_pr = OxmlElement("w:sdtPr")
        part = OxmlElement("w:docPartObj")
        gallery = OxmlElement("w:docPartGallery")
        gallery.set(qn("w:val"), "Table of Contents")
        part.append(gallery)
        sdt_pr.append(part)
        content = OxmlElement("w:sdtContent")
        sdt.append(sdt_pr)
        sdt.append(content)
        document.element.body.insert(0, sdt)
        content.append(document.add_paragraph("Exclusions\t7")._p)
        document.add_heading("Coverage", 1)
        document.add_paragraph("We cover the dwelling.")

    assert _parse(build(fill)).markdown == "# Coverage\n\nWe cover the dwelling.\n"


_TEXT_BOX_RUN = (
    '<w:r xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    ' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    ' xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"'
    ' xmlns:v="urn:schemas-microsoft-com:vml">'
    '<mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:wsp><wps:txbx><w:txbxContent>'
    "<w:p><w:r><w:t>Call 1-800-555-0100</w:t></w:r></w:p><w:p><w:r><w:t>to file a claim.</w:t></w:r></w:p>"
    "</w:txbxContent></wps:txbx></wps:wsp></w:drawing></mc:Choice>"
    "<mc:Fallback><w:pict><v:shape><v:textbox><w:txbxContent>"
    "<w:p><w:r><w:t>Call 1-800-555-0100</w:t></w:r></w:p><w:p><w:r><w:t>to file a claim.</w:t></w:r></w:p>"
    "</w:txbxContent></v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r>"
)


def test_a_text_box_reads_once_after_its_paragraph() -> None:
    def fill(document: docx.document.Document) -> None:
        from docx.oxml import parse_xml

        anchor = document.add_paragraph("Claims")
        anchor._p.append(parse_xml(_TEXT_BOX_RUN))
        document.add_paragraph("Next paragraph")

    assert _parse(build(fill)).markdown == "Claims\n\nCall 1-800-555-0100 to file a claim.\n\nNext paragraph\n"


def test_footnotes_are_markdown_footnotes_at_the_end_of_their_page() -> None:
    data = with_footnote(benefits_docx(), "Limits apply.", "Per calendar year, in-network only.")
    parsed = _parse(data)
    assert _page_text(parsed, 1).endswith("Limits apply.[^1]\n\n[^1]: Per calendar year, in-network only.\n\n")
    assert parsed.markdown.count("Per calendar year") == 1 and parsed.page_map.pages == (1, 2, 3)


@pytest.mark.parametrize(
    "properties",
    [
        "<w:pPr><w:outlineLvl w:val='-1'/></w:pPr>",
        "<w:pPr><w:pStyle w:val='Negative'/></w:pPr>",
        "<w:pPr><w:pStyle w:val='HeadingZero'/></w:pPr>",
    ],
    ids=["own outline level -1", "style's outline level -5", "style named heading 0"],
)
def test_an_outline_level_below_zero_is_no_heading(properties: str) -> None:
    # GIVEN a paragraph with a bold run whose outline level is negative (its own, or its style's)
    styles = (
        '<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        '<w:style w:type="paragraph" w:styleId="Negative"><w:name w:val="Negative"/>'
        '<w:pPr><w:outlineLvl w:val="-5"/></w:pPr></w:style>'
        '<w:style w:type="paragraph" w:styleId="HeadingZero"><w:name w:val="heading 0"/>'
        '<w:pPr><w:outlineLvl w:val="-1"/></w:pPr></w:style></w:styles>'
    )
    body = f"<w:p>{properties}<w:r><w:rPr><w:b/></w:rPr><w:t>Note:</w:t></w:r><w:r><w:t> no copay</w:t></w:r></w:p>"
    data = with_member(with_body(body), "word/styles.xml", styles.encode())
    # WHEN it is parsed, THEN it reads as body text (its bold kept), not as a heading of level 0
    assert _parse(data).markdown == "**Note:** no copay\n"


def test_heading_levels_past_six_read_as_six_and_level_nine_is_body_text() -> None:
    body = "".join(
        f"<w:p><w:pPr><w:outlineLvl w:val='{level}'/></w:pPr><w:r><w:t>Level {level}</w:t></w:r></w:p>"
        for level in (0, 5, 8, 9)
    )
    assert _parse(with_body(body)).markdown == "# Level 0\n\n###### Level 5\n\n###### Level 8\n\nLevel 9\n"


def test_a_data_grid_with_a_small_table_in_a_cell_stays_a_grid() -> None:
    # GIVEN a benefits grid whose row holds a small table in one cell beside a label and a value
    def fill(document: docx.document.Document) -> None:
        grid = document.add_table(rows=3, cols=3)
        _fill_rows(
            grid, [("Service", "In-network", "Out-of-network"), ("Deductible", "$500", ""), ("OOP", "$3,000", "$6,000")]
        )
        _fill_rows(grid.cell(1, 2).add_table(rows=1, cols=2), [("$1,000", "individual")])

    # WHEN it is parsed, THEN the grid keeps its columns and the small table is flattened into its cell
    assert _parse(build(fill)).markdown == (
        "| Service | In-network | Out-of-network |\n| --- | --- | --- |\n"
        "| Deductible | $500 | $1,000; individual |\n| OOP | $3,000 | $6,000 |\n"
    )
