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


def test_a_table_inside_a_cell_is_flattened_into_the_cell() -> None:
    page = (
        "<table><tr><th>Plan</th><th>Limits</th></tr><tr><td>Gold</td><td>"
        "<table><tr><td>Child</td><td>$1,000</td></tr><tr><td>Adult</td><td>$500</td></tr></table>"
        "</td></tr></table>"
    )
    assert _parse(page).markdown == "| Plan | Limits |\n| --- | --- |\n| Gold | Child; $1,000 / Adult; $500 |\n"


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
