"""HTML parsing: headings, paragraphs, lists and spanning tables; what is dropped; charsets; pages; limits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from docintake.config import Settings
from docintake.errors import UnsupportedDocument
from docintake.parsing import ParsedDocument, parse_document
from docintake.parsing import html as html_parsing
from docintake.parsing.local import LocalParser
from docintake_cli.main import main

HTML = "text/html"


def _parse(data: bytes | str) -> ParsedDocument:
    return parse_document(data.encode() if isinstance(data, str) else data, HTML, max_pages=50)


PAGE = """<!DOCTYPE html>
<html><head><title>SBC</title><style>td { color: red }</style><script>var secret = "drop me";</script></head>
<body>
<nav><a href="/">Home</a> <a href="/plans">Plans</a></nav>
<h1>Summary of Benefits &amp; Coverage</h1>
<p>The <b>overall deductible</b> is&nbsp;$500.<br>Per   calendar
   year.</p>
<div>See <a href="/glossary">the glossary</a>.</div>
<ul>
  <li>Preventive care
    <ul><li>Screenings</li><li><p>Immunizations</p></li></ul>
  </li>
  <li>Emergency care</li>
</ul>
<ol start="3"><li>Call</li><li>Write</li></ol>
<h3>Costs</h3>
<table>
  <thead><tr><th>Service</th><th colspan="2">What you pay</th></tr></thead>
  <tbody>
  <tr><td rowspan="2">Office visit</td><td>$20 copay</td><td>40% | after deductible</td></tr>
  <tr><td>$40 copay</td><td>50%</td></tr>
  <tr><td>Lab</td><td colspan="2">Not covered</td></tr>
  </tbody>
</table>
<script>document.write("never")</script>
<footer>Copyright 2026 Example Health</footer>
</body></html>
"""


def test_a_benefits_page_reads_as_markdown() -> None:
    parsed = _parse(PAGE)
    assert parsed.markdown == (
        "# Summary of Benefits & Coverage\n\n"
        "The overall deductible is $500.\nPer calendar year.\n\n"
        "See the glossary.\n\n"
        "- Preventive care\n  - Screenings\n  - Immunizations\n- Emergency care\n\n"
        "3. Call\n4. Write\n\n"
        "### Costs\n\n"
        "| Service | What you pay |  |\n| --- | --- | --- |\n"
        "| Office visit | $20 copay | 40% \\| after deductible |\n"
        "|  | $40 copay | 50% |\n"
        "| Lab | Not covered |  |\n"
    )
    assert parsed.page_map.pages == (1,) and parsed.page_count == 1


@pytest.mark.parametrize("dropped", ["drop me", "never", "Home", "Copyright", "SBC", "color"])
def test_scripts_styles_head_navigation_and_footers_are_dropped(dropped: str) -> None:
    assert dropped not in _parse(PAGE).markdown


SBC_IN_A_LAYOUT_TABLE = """<table width="600"><tr><td>
<h1>Summary of Benefits and Coverage</h1><p>Acme Health: Gold PPO Coverage Period: 01/01/2025 - 12/31/2025</p>
</td></tr><tr><td><table border=1>
<tr><th>Important Questions</th><th>Answers</th><th>Why This Matters</th></tr>
<tr><td>What is the overall deductible?</td><td>$1,000 individual / $2,000 family</td>
<td>Generally you must pay all.</td></tr>
<tr><td>What is the out-of-pocket limit?</td><td>$4,000 individual</td><td>The most you could pay.</td></tr>
</table></td></tr></table>"""


def test_a_page_laid_out_in_a_table_reads_as_headings_paragraphs_and_its_data_table() -> None:
    # GIVEN an SBC whose page is a one-column layout table, the benefits table nested in its second row
    # WHEN it is parsed
    markdown = _parse(SBC_IN_A_LAYOUT_TABLE).markdown
    # THEN the layout is gone: the heading and paragraph are blocks, the nested table a pipe table of its own
    assert markdown == (
        "# Summary of Benefits and Coverage\n\n"
        "Acme Health: Gold PPO Coverage Period: 01/01/2025 - 12/31/2025\n\n"
        "| Important Questions | Answers | Why This Matters |\n| --- | --- | --- |\n"
        "| What is the overall deductible? | $1,000 individual / $2,000 family | Generally you must pay all. |\n"
        "| What is the out-of-pocket limit? | $4,000 individual | The most you could pay. |\n"
    )


def test_a_table_with_a_table_in_a_cell_is_layout_and_the_inner_table_its_own() -> None:
    # GIVEN a two-column table, one of whose cells holds a table (unclosed cells, as e-mails write them)
    page = (
        "<table><tr><th>Plan<th>Limits<tr><td>Gold<td>"
        "<table><tr><td>Child</td><td>$1,000</td></tr><tr><td>Adult</td><td>$500</td></tr></table>"
        "</table>"
    )
    # WHEN it is parsed, THEN its cells read in row then column order, the inner table as a pipe table
    assert _parse(page).markdown == ("Plan\n\nLimits\n\nGold\n\n| Child | $1,000 |\n| --- | --- |\n| Adult | $500 |\n")


def test_layout_tables_inside_layout_tables_unwrap_too() -> None:
    # GIVEN a two-column layout table (a sidebar and a content column) inside a one-column one
    page = (
        "<table><tr><td><h2>Acme Health</h2></td></tr><tr><td><table><tr>"
        "<td><ul><li>Plans<li>Contact</ul></td>"
        "<td><p>Your plan:</p><table><tr><th>Tier</th><th>Copay</th></tr><tr><td>1</td><td>$10</td></tr></table></td>"
        "</tr></table></td></tr></table>"
    )
    # WHEN it is parsed, THEN both layouts unwrap and the list ends with its cell
    assert _parse(page).markdown == (
        "## Acme Health\n\n- Plans\n- Contact\n\nYour plan:\n\n| Tier | Copay |\n| --- | --- |\n| 1 | $10 |\n"
    )


def test_a_single_column_table_of_paragraphs_reads_as_paragraphs() -> None:
    page = (
        "<table><caption>Important notice</caption>"
        "<tr><td><p>Keep this page.</p><p>It explains your coverage.</p></td></tr>"
        "<tr><td>Call 1-800-555-0100 with questions.</td></tr></table>"
    )
    assert _parse(page).markdown == (
        "Important notice\n\nKeep this page.\n\nIt explains your coverage.\n\nCall 1-800-555-0100 with questions.\n"
    )


def test_a_hidden_table_in_a_cell_leaves_a_data_table_as_data() -> None:
    # GIVEN a data table with a hidden table in a cell: both passes skip what a browser does not show
    page = (
        "<table><tr><th>Tier</th><th>Copay</th></tr>"
        "<tr><td>1</td><td>$10<div hidden><table><tr><td>tooltip</td></tr></table></div></td></tr></table>"
        "<table><tr><td>Next</td></tr></table><table><tr><td>a</td><td>b</td></tr></table>"
    )
    # WHEN it is parsed, THEN it stays a pipe table, and the tables after it are read as before
    assert _parse(page).markdown == (
        "| Tier | Copay |\n| --- | --- |\n| 1 | $10 |\n\nNext\n\n| a | b |\n| --- | --- |\n"
    )


def test_a_page_break_inside_a_layout_table_starts_a_page() -> None:
    page = (
        "<table><tr><td><h1>Plan summary</h1></td></tr>"
        "<tr style='page-break-before: always'><td><table><tr><th>Service</th><th>Copay</th></tr>"
        "<tr><td>Visit</td><td>$20</td></tr></table></td></tr></table>"
    )
    parsed = _parse(page)
    assert parsed.page_map.pages == (1, 2) and parsed.page_count == 2
    spans = parsed.page_map.spans(len(parsed.markdown))
    assert [parsed.markdown[s["start"] : s["end"]] for s in spans] == [
        "# Plan summary\n\n",
        "| Service | Copay |\n| --- | --- |\n| Visit | $20 |\n",
    ]


def test_tables_nested_200_deep_read_in_bounded_depth_and_time() -> None:
    # GIVEN 200 tables of two cells, each inside the last one's second cell
    page = "".join(f"<table><tr><td>L{level}</td><td>R{level}" for level in range(200))
    # WHEN it is parsed
    started = time.perf_counter()
    markdown = _parse(page).markdown
    # THEN the first seven unwrap, the eighth is a data table (no deeper table is one: its rows are the
    # eighth's), every cell's text is kept, and it takes a fraction of a second
    assert markdown.startswith("L0\n\nR0\n\nL1\n\n") and "R6\n\n| L7 | R7 |\n| --- | --- |\n| L8 | R8 |\n" in markdown
    assert markdown.endswith("| L199 | R199 |\n") and markdown.count("| --- |") == 1
    assert time.perf_counter() - started < 5


def test_page_break_styles_start_pages() -> None:
    page = (
        "<p>First page</p><h2 style='page-break-before: always'>Second</h2><p>More</p>"
        '<div style="break-before:page">Third</div>'
    )
    parsed = _parse(page)
    assert parsed.page_map.pages == (1, 2, 3) and parsed.page_count == 3
    spans = parsed.page_map.spans(len(parsed.markdown))
    assert [parsed.markdown[s["start"] : s["end"]] for s in spans] == [
        "First page\n\n",
        "## Second\n\nMore\n\n",
        "Third\n",
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('<meta charset="windows-1252"><p>Caf\xe9 \x96 bar</p>'.encode("latin-1"), "Café – bar\n"),
        (
            '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><p>Caf\xe9</p>'.encode("latin-1"),
            "Café\n",
        ),
        ("\ufeff<p>Café</p>".encode("utf-16-le"), "Café\n"),
        ("<p>Café</p>".encode(), "Café\n"),
        # Undeclared and not UTF-8: windows-1252, as browsers read it.
        (b"<p>Caf\xe9</p>", "Café\n"),
    ],
)
def test_the_charset_comes_from_the_bom_or_meta_else_utf8_else_windows_1252(data: bytes, expected: str) -> None:
    assert _parse(data).markdown == expected


@pytest.mark.parametrize(
    "declared", ["rot13", "zlib", "base64", "uu", "hex", "idna", "punycode", "undefined", "mbcs", "no-such-codec"]
)
def test_a_declared_charset_that_is_no_text_encoding_reads_as_undeclared(declared: str) -> None:
    # GIVEN a windows-1252 page whose <meta> names a codec Python has but that decodes no page (or none at all)
    page = f'<html><head><meta charset="{declared}"></head><body><p>Hello d\xe9ductible</p></body></html>'
    # WHEN it is parsed, THEN the declaration is ignored: not UTF-8, so windows-1252
    assert _parse(page.encode("latin-1")).markdown == "Hello déductible\n"


@pytest.mark.parametrize(
    ("declared", "body", "expected"),
    [
        # UTF-32 is no label browsers know; ASCII bytes declared as UTF-32 or UTF-16 are not (browsers agree).
        ("utf-32", b"Hello", "Hello\n"),
        ("UTF-32LE", "Caf\u00e9".encode(), "Café\n"),
        ("utf-16", "Caf\u00e9".encode(), "Café\n"),
        # ISO-8859-1 and ASCII mean windows-1252, as in browsers: 0x96 is an en dash.
        ("ISO-8859-1", b"a \x96 b", "a – b\n"),
        ("us-ascii", b"Caf\xe9", "Café\n"),
    ],
)
def test_declared_charsets_read_as_browsers_read_them(declared: str, body: bytes, expected: str) -> None:
    assert _parse(f'<meta charset="{declared}"><p>'.encode() + body + b"</p>").markdown == expected


def test_docintake_parse_exits_0_on_a_page_declaring_a_bytes_codec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rot.html"
    path.write_bytes(b'<meta charset="zlib"><p>Deductible</p>')
    assert main(["parse", str(path)]) == 0
    assert capsys.readouterr().out == "Deductible\n"


def test_text_is_normalized_like_every_parser_s() -> None:
    assert _parse("<p>out&ndash;of&ndash;pocket&shy; costs&#xFEFF;</p>").markdown == "out-of-pocket costs\n"


@pytest.mark.parametrize(
    "page",
    ["", "   \n", "<html><head><title>Only a title</title></head><body></body></html>", "<script>x()</script>"],
)
def test_a_page_without_text_fails_with_empty_document(page: str) -> None:
    with pytest.raises(UnsupportedDocument) as raised:
        _parse(page)
    assert raised.value.code == "empty_document"


def test_a_page_over_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(html_parsing, "MAX_HTML_BYTES", 1000)
    with pytest.raises(UnsupportedDocument) as raised:
        _parse("<p>" + "x" * 1000 + "</p>")
    assert raised.value.code == "too_large"


@pytest.mark.parametrize(
    "page",
    [
        "<table><td>no row</td><td colspan='x' rowspan='99999'>spans</td></table>",
        "<ul><li>unclosed<li>items<ol><li>deep",
        "</p></div></li></ul></table><p>stray end tags</p>",
        "<li>item outside any list</li>",
        "<head><title>t</title><p>text after an unclosed head</p>",
        "<" * 5000 + "text",
    ],
)
def test_broken_markup_still_yields_its_text(page: str) -> None:
    parsed = _parse(page)
    assert parsed.markdown.strip() and "\n\n\n" not in parsed.markdown


@pytest.mark.parametrize(
    "unit",
    [
        "<!--",
        "<?",
        "</",
        "<a ",
        "<![",
        '<a b="',
        "<!--<?</<a ",
        "<table><tr><td>x",
        "<ul><li>x",
        "<td rowspan=64 colspan=64>",
    ],
)
def test_runs_of_unclosed_constructs_parse_in_linear_time(unit: str) -> None:
    # html.parser rescans the rest of the input for each construct it cannot close; 200 KB of "<!--" took 60 s.
    # Linear, the worst unit takes ~1 s, ~3 s under coverage's tracer on a busy 2-core machine: 10 s leaves room
    # for both and still fails the quadratic 60 s.
    data = (unit * (200_000 // len(unit)) + " end").encode()
    started = time.perf_counter()
    try:
        parsed = _parse(data)
    except UnsupportedDocument as exc:
        assert exc.code == "empty_document"
    else:
        assert parsed.markdown.strip()
    assert time.perf_counter() - started < 10


def test_the_local_parser_reads_html_in_the_sandbox() -> None:
    parser = LocalParser.from_settings(Settings())
    parsed = parser.parse(PAGE.encode(), HTML, heartbeat=lambda: None)
    assert "| Lab | Not covered |  |" in parsed.markdown and parsed.parser == "local"


def test_docintake_parse_prints_an_html_page_as_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "benefits.htm"
    path.write_text(PAGE)
    assert main(["parse", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Summary of Benefits & Coverage\n\n") and "| Lab | Not covered |  |\n" in out


def test_hidden_elements_are_dropped_to_their_own_end_tag() -> None:
    page = (
        "<div hidden><div>help dialog</div><p>shortcuts</div>"
        "<section style='display: none'><section>menu</section></section>"
        "<span style='visibility:hidden'>x</span><p>Visible text</p>"
    )
    assert _parse(page).markdown == "Visible text\n"


def test_preformatted_text_is_fenced_so_its_lines_stay_text() -> None:
    page = "<p>Example:</p><pre># not a heading\n- not an item\n```\n  indented</pre><p>After</p>"
    assert _parse(page).markdown == "Example:\n\n````\n# not a heading\n- not an item\n```\n  indented\n````\n\nAfter\n"


def test_a_table_caption_reads_as_a_paragraph_before_the_table() -> None:
    page = (
        "<table><caption>Prescription drugs</caption>"
        "<tr><th>Tier</th><th>Copay</th></tr><tr><td>1</td><td>$10</td></tr></table>"
    )
    assert _parse(page).markdown == "Prescription drugs\n\n| Tier | Copay |\n| --- | --- |\n| 1 | $10 |\n"


def test_preformatted_text_without_backticks_gets_a_three_backtick_fence() -> None:
    assert _parse("<pre>Plan  ID: 42</pre>").markdown == "```\nPlan  ID: 42\n```\n"


def test_a_data_grid_with_a_small_table_in_a_cell_stays_a_grid_and_a_sidebar_stays_layout() -> None:
    grid = (
        "<table><tr><th>Service</th><th>In-network</th><th>Out-of-network</th></tr><tr><td>Deductible</td>"
        "<td>$500</td><td><table><tr><td>$1,000</td><td>individual</td></tr></table></td></tr>"
        "<tr><td>OOP</td><td>$3,000</td><td>$6,000</td></tr></table>"
    )
    assert _parse(grid).markdown == (
        "| Service | In-network | Out-of-network |\n| --- | --- | --- |\n"
        "| Deductible | $500 | $1,000; individual |\n| OOP | $3,000 | $6,000 |\n"
    )
    sidebar = (
        "<table><tr><td><p>Plans</p></td><td><h2>Benefits</h2><table><tr><th>Service</th><th>Copay</th></tr>"
        "<tr><td>Visit</td><td>$20</td></tr></table></td></tr></table>"
    )
    assert _parse(sidebar).markdown == "Plans\n\n## Benefits\n\n| Service | Copay |\n| --- | --- |\n| Visit | $20 |\n"


def test_a_pre_left_open_in_a_layout_cell_ends_with_the_cell() -> None:
    markdown = _parse("<table><tr><td><pre>x</td></tr></table><h1>Deductibles</h1><p>The   deductible is $500.</p>")
    assert markdown.markdown == "```\nx\n```\n\n# Deductibles\n\nThe deductible is $500.\n"
