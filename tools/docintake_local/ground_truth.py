"""Synthetic insurance PDFs with known ground truth, for the parse-quality tests and ``bench/parse``.

Owns the truth format (:class:`TruthDocument`) and the layouts it is measured on:

- ``single-column``: declarations page, then the policy form and an endorsement in one column;
- ``two-column``: declarations page, then the policy form under a full-width title in two columns
  (read left column, then right column), with a small table inside a column;
- ``tables``: declarations and schedules whose cells wrap onto two or more lines;
- ``clauses``: a policy form of numbered headings and lettered/numbered clause lists, and endorsements.

Every page carries a running header (carrier, policy number) and footer (form number, a specimen
notice, "Page N of M"); neither is part of the truth. The truth is what a careful human would write as
the Markdown of the document: ``#`` for titles, ``##`` for sections, ``###`` for subsections; paragraphs
re-flowed; clause lists with their printed markers (``1.``, ``a.``, ``(1)``), bullets as ``-``; tables as
pipe tables with the header row first and a wrapped cell's lines joined by one space.

The phrase banks and declarations builders are ``sample_documents``' content model, reused so that both
generators speak the same policy language. Everything is deterministic for a given seed.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple, TypeAlias
from xml.sax.saxutils import escape

from PIL import Image as PILImage
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    FrameBreak,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Table,
    TableStyle,
)

# sample_documents' content model is private to it; reused here on purpose (see the module docstring).
from docintake_local.sample_documents import (
    _CITIES,
    _PROFILES,
    _STREETS,
    PageCountingCanvas,
    _Context,
    _Fields,
    _Grid,
    _Lang,
    _letter,
    _make_context,
    _money,
    _Profile,
    _typeset,
)
from docintake_local.sample_documents import _Break as _SampleBreak
from docintake_local.sample_documents import _Heading as _SampleHeading
from docintake_local.sample_documents import _List as _SampleList
from docintake_local.sample_documents import _Para as _SamplePara
from docintake_local.sample_documents import _Title as _SampleTitle

__all__ = ["LAYOUTS", "TruthDocument", "TruthHeading", "TruthListItem", "ground_truth_corpus", "large_document"]

Layout: TypeAlias = Literal["single-column", "two-column", "tables", "clauses"]
LAYOUTS: Final[tuple[Layout, ...]] = ("single-column", "two-column", "tables", "clauses")

# Which policy kinds each layout is drawn with, one per corpus variant.
_LAYOUT_KINDS: Final[dict[Layout, tuple[str, ...]]] = {
    "single-column": ("homeowners_policy", "commercial_policy"),
    "two-column": ("auto_declarations", "homeowners_policy"),
    "tables": ("health_benefits_summary", "commercial_policy"),
    "clauses": ("commercial_policy", "auto_declarations"),
}


# ----------------------------------------------------------------------------------------------------
# Truth format
# ----------------------------------------------------------------------------------------------------


class TruthHeading(NamedTuple):
    level: int  # 1 title, 2 section, 3 subsection
    text: str
    page: int  # 1-based page the heading is printed on


class TruthListItem(NamedTuple):
    marker: str  # as printed: "1.", "a.", "(1)", "A."; "•" for bullets
    text: str  # the item's text, bold lead-in included, without the marker
    depth: int  # 0 for a clause, 1 for its sub-clauses


Row: TypeAlias = tuple[str, ...]
TruthTable: TypeAlias = tuple[Row, ...]  # header row first


@dataclass(frozen=True)
class TruthDocument:
    """One generated PDF and what a careful reader would write down from it.

    ``markdown`` is the whole document as Markdown; ``text`` is the same content as plain text in reading
    order (headings, paragraphs, list items with their printed markers except bullets, table cells row by
    row), blocks separated by blank lines. Running headers, footers and page numbers appear in neither.
    """

    name: str
    layout: Layout | Literal["mixed"]  # "mixed": the large document, every layout in turn
    pages: int
    data: bytes = field(repr=False)
    markdown: str = field(repr=False)
    text: str = field(repr=False)
    headings: tuple[TruthHeading, ...] = field(repr=False)
    tables: tuple[TruthTable, ...] = field(repr=False)
    list_items: tuple[TruthListItem, ...] = field(repr=False)


def ground_truth_corpus(seed: int = 0, *, variants: int = 2) -> list[TruthDocument]:
    """``variants`` documents (3-7 pages each) per layout, each layout drawn with a different policy kind.

    Document ``(layout, variant)`` depends only on ``(seed, layout, variant)``.
    """
    docs: list[TruthDocument] = []
    for variant in range(variants):
        for layout in LAYOUTS:
            kinds = _LAYOUT_KINDS[layout]
            profile = _PROFILES[kinds[variant % len(kinds)]]
            rng = random.Random(f"truth:{seed}:{layout}:{variant}")
            ctx = _make_context(profile, rng)
            blocks = _typeset_blocks(_COMPOSERS[layout](profile, ctx, rng))
            rendered = _render(blocks, _Running(ctx, profile.form_number, centred=layout == "two-column"))
            suffix = f"-{variant + 1}" if variant >= len(kinds) else ""
            docs.append(_truth(f"{layout}-{profile.kind}{suffix}", layout, blocks, rendered))
    return docs


def large_document(pages: int = 300, target_bytes: int = 25_000_000, *, seed: int = 0) -> TruthDocument:
    """A commercial package policy of exactly ``pages`` pages (when the content allows) and about
    ``target_bytes`` bytes: every coverage part in every layout in turn, under one carrier and policy
    number, each page with a seeded random-noise "inspection photo" (incompressible, so it sets the size).
    """
    if pages < 1:
        raise ValueError("pages must be >= 1")
    kinds = tuple(_PROFILES)
    ctx = _make_context(_PROFILES["commercial_policy"], random.Random(f"large:{seed}:context"))
    running = _Running(ctx, _PROFILES[kinds[0]].form_number, photo_band=True)

    def parts(count: int) -> list[_Block]:
        blocks: list[_Block] = []
        for index in range(count):
            profile = _PROFILES[kinds[(index // len(LAYOUTS)) % len(kinds)]]
            if index:
                # Set before the page break: the next page's footer then names this part's form.
                blocks += [_FormNumber(profile.form_number), _NewPage()]
            rng = random.Random(f"large:{seed}:{index}")
            blocks.extend(_COMPOSERS[LAYOUTS[index % len(LAYOUTS)]](profile, ctx, rng))
        return _typeset_blocks(blocks)

    # Size the content: build without photos until there is more than enough, then cut after the last
    # block that ends on page `pages`. Layout is sequential, so the cut prefix lays out the same.
    count = max(1, pages // 4)
    while True:
        blocks = parts(count)
        sizing = _render(blocks, _Running(ctx, running.form_number, photo_band=True))
        if sizing.pages > pages:
            break
        count = math.ceil(count * pages / sizing.pages * 1.1) + 1
    last = max(index for index, page in sizing.block_end_pages.items() if page <= pages)
    blocks = blocks[: last + 1]
    text_bytes = len(sizing.data) * pages / sizing.pages
    running.photo_bytes = max(0, int((target_bytes - text_bytes) / pages))
    rendered = _render(blocks, running, seed=seed)
    return _truth(f"package-policy-{rendered.pages}p", "mixed", blocks, rendered)


# ----------------------------------------------------------------------------------------------------
# Block model
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Heading:
    level: int
    text: str


@dataclass(frozen=True)
class _Para:
    text: str
    lead: str = ""
    style: Literal["body", "small", "notice", "subtitle", "field"] = "body"


@dataclass(frozen=True)
class _Item:
    marker: str
    text: str
    lead: str = ""
    depth: int = 0


@dataclass(frozen=True)
class _Table:
    rows: TruthTable  # header first
    widths: tuple[float, ...]  # fractions of the frame width
    total_row: bool = False


@dataclass(frozen=True)
class _NewPage:
    template: Literal["one", "two", "two_titled"] = "one"


@dataclass(frozen=True)
class _Columns:
    """After a full-width title on a ``two_titled`` page: continue in the columns below it."""


@dataclass(frozen=True)
class _FormNumber:
    """The form number printed in the footer from the next page on."""

    text: str


_Block: TypeAlias = _Heading | _Para | _Item | _Table | _NewPage | _Columns | _FormNumber

_BULLET: Final = "\u2022"
_MARKERS: Final[dict[str, Callable[[int], str]]] = {
    "1.": lambda n: f"{n}.",
    "a.": lambda n: f"{_letter(n - 1).lower()}.",
    "A.": lambda n: f"{_letter(n - 1)}.",
    "(1)": lambda n: f"({n})",
    "(a)": lambda n: f"({_letter(n - 1).lower()})",
}


# ----------------------------------------------------------------------------------------------------
# Composition
# ----------------------------------------------------------------------------------------------------


def _typeset_blocks(blocks: Sequence[_Block]) -> list[_Block]:
    """En dashes for the phrase banks' spaced hyphens, everywhere, as real policy forms print them."""
    out: list[_Block] = []
    for block in blocks:
        match block:
            case _Heading(level=level, text=text):
                out.append(_Heading(level, _typeset(text)))
            case _Para(text=text, lead=lead, style=style):
                out.append(_Para(_typeset(text), _typeset(lead), style))
            case _Item(marker=marker, text=text, lead=lead, depth=depth):
                out.append(_Item(marker, _typeset(text), _typeset(lead), depth))
            case _Table(rows=rows, widths=widths, total_row=total_row):
                out.append(_Table(tuple(tuple(_typeset(c) for c in row) for row in rows), widths, total_row))
            case _:
                out.append(block)
    return out


def _declarations(profile: _Profile, ctx: _Context, rng: random.Random) -> list[_Block]:
    """The kind's declarations page, from sample_documents' builder, in this module's blocks (not yet typeset)."""
    blocks: list[_Block] = []
    for block in profile.declarations(profile, ctx, rng):
        match block:
            case _SampleTitle(title=title, subtitle=subtitle):
                # The carrier is in the running header; its big-type repeat on page one is left out.
                blocks.append(_Heading(1, title))
                if subtitle:
                    blocks.append(_Para(subtitle, style="subtitle"))
            case _Fields(rows=rows):
                blocks.extend(_Para(value, lead=f"{label}:", style="field") for label, value in rows)
            case _SampleHeading(text=text):
                blocks.append(_Heading(2, text))
            case _Grid(header=header, rows=rows, widths=widths, totals=totals):
                table = (header, *rows, *((totals,) if totals is not None else ()))
                blocks.append(_Table(_rows(table), widths, total_row=totals is not None))
            case _SamplePara(text=text, lead=lead, style=style):
                blocks.append(_Para(text, lead=lead, style=style))
            case _SampleList(style=list_style, items=items, start=start):
                for offset, item in enumerate(items):
                    marker = f"{start + offset}." if list_style == "numbered" else _BULLET
                    blocks.append(_Item(marker, item.text, lead=item.lead))
            case _SampleBreak():
                blocks.append(_NewPage())
    return blocks


def _rows(rows: Sequence[Sequence[str]]) -> TruthTable:
    return tuple(tuple(cell for cell in row) for row in rows)


def _clauses(
    lang: _Lang, rng: random.Random, leads: Sequence[str], *, styles: tuple[str, str], start: int = 1
) -> list[_Block]:
    """Numbered clauses (bold lead-ins from ``leads``, else plain) with an occasional list of sub-clauses."""
    top, sub = (_MARKERS[s] for s in styles)
    count = max(len(leads), rng.randint(2, 3))
    blocks: list[_Block] = []
    for index in range(count):
        lead = f"{leads[index]}." if index < len(leads) else ""
        blocks.append(_Item(top(start + index), lang.paragraph(1, 2), lead=lead))
        if rng.random() < 0.35:
            blocks.extend(_Item(sub(n), lang.sentence(), depth=1) for n in range(1, rng.randint(2, 3) + 1))
    return blocks


def _bullets(lang: _Lang) -> list[_Block]:
    intro, items = lang.bullets()
    return [_Para(intro.text), *(_Item(_BULLET, item.text) for item in items.items)]


def _definitions(profile: _Profile, count: int) -> list[_Block]:
    blocks: list[_Block] = [
        _Para("The following words and phrases have special meaning wherever they appear in this document.")
    ]
    for number, (lead, text) in enumerate(profile.definitions[:count], start=1):
        blocks.append(_Item(f"{number}.", text, lead=lead))
    return blocks


def _services_table(rng: random.Random, items: Sequence[str]) -> _Table:
    header = (
        "Services You May Need",
        "Network Provider (You Will Pay the Least)",
        "Out-of-Network Provider (You Will Pay the Most)",
        "Limitations, Exceptions & Other Important Information",
    )
    rows = [
        (
            item.replace("/", " / "),  # SBCs write "care/screening/immunization": too wide for the column
            rng.choice(
                ("$30 copay/visit", "20% coinsurance", "No charge", "$60 copay/visit, deductible does not apply")
            ),
            rng.choice(("40% coinsurance", "50% coinsurance after the deductible", "Not covered")),
            rng.choice(
                (
                    "None",
                    "Preauthorization required; benefits are reduced by 50% without it.",
                    "Deductible does not apply to the first three visits.",
                    "Limited to 30 visits per year, combined for network and out-of-network providers.",
                )
            ),
        )
        for item in items
    ]
    return _Table(_rows([header, *rows]), (0.24, 0.22, 0.24, 0.30))


def _policy_form(
    profile: _Profile,
    lang: _Lang,
    rng: random.Random,
    *,
    sections: int,
    subs: int,
    styles: tuple[str, str] = ("1.", "a."),
    numbered_subs: bool = False,
    columns: bool = False,
) -> list[_Block]:
    """``sections`` sections of the kind's policy form with up to ``subs`` subsections each.

    In ``columns`` a small table goes into the first subsection, and the four-column services tables
    (too wide for a column) become clause lists.
    """
    blocks: list[_Block] = [_Heading(2, "AGREEMENT"), _Para(profile.agreement)]
    table_done = not columns
    for section in profile.sections[:sections]:
        blocks.append(_Heading(2, section.title))
        for u_index, sub in enumerate(section.subs[:subs]):
            if sub.mode == "definitions":
                blocks.extend(_definitions(profile, rng.randint(4, 6)))
                continue
            if sub.title and len(section.subs) > 1:
                label = f"{u_index + 1}." if numbered_subs else f"{_letter(u_index)}."
                blocks.append(_Heading(3, f"{label} {sub.title}"))
            elif sub.title:
                blocks.append(_Heading(3, sub.title))
            if sub.mode == "services" and not columns:
                blocks.append(_Para(lang.paragraph(1, 2)))
                blocks.append(_services_table(rng, sub.items))
                continue
            if sub.mode == "example":
                blocks.append(_Para(lang.paragraph(1, 1), style="small"))
                blocks.append(_example_table(rng))
                continue
            blocks.append(_Para(lang.paragraph(1, 3)))
            blocks.extend(_clauses(lang, rng, sub.items[:3], styles=styles))
            roll = rng.random()
            if roll < 0.4:
                blocks.extend(_bullets(lang))
            elif roll < 0.7:
                blocks.append(_Para(lang.paragraph(2, 3)))
            if not table_done:
                blocks.append(_Para(f"The following limits apply to {sub.title or section.title}:"))
                blocks.append(_column_table(rng))
                table_done = True
    return blocks


def _example_table(rng: random.Random) -> _Table:
    costs = [rng.randrange(20, 130) * 100, rng.choice((1500, 2000, 3000)), rng.randrange(1, 30) * 10]
    rows = (
        ("In this example, the member would pay:", "Cost"),
        ("Total Example Cost", _money(costs[0])),
        ("Deductibles", _money(costs[1])),
        ("Copayments", _money(costs[2])),
        ("The total the member would pay is", _money(costs[1] + costs[2])),
    )
    return _Table(rows, (0.7, 0.3), total_row=True)


def _column_table(rng: random.Random) -> _Table:
    """A narrow three-column table that fits in one column of a two-column page."""
    each = rng.choice((25, 50, 100))
    rows = (
        ("Coverage", "Each Person", "Each Accident or Occurrence"),
        ("Bodily injury", f"${each},000", f"${each * 2},000"),
        ("Property damage", "Not applicable", f"${rng.choice((25, 50, 100))},000"),
        ("Medical payments to others", f"${rng.choice((1, 5))},000", "Not applicable"),
    )
    return _Table(rows, (0.4, 0.27, 0.33))


def _forms_schedule(profile: _Profile, rng: random.Random) -> _Table:
    rows: list[Row] = [("Form Number", "Edition", "Title", "Premium")]
    for code, name in rng.sample(profile.endorsements, min(len(profile.endorsements), rng.randint(3, 5))):
        premium = "Included" if rng.random() < 0.3 else _money(rng.randrange(12, 400), cents=True)
        rows.append((code, profile.edition, f"{name} Endorsement" if "Endorsement" not in name else name, premium))
    return _Table(_rows(rows), (0.16, 0.12, 0.52, 0.2))


def _locations_schedule(rng: random.Random) -> _Table:
    rows: list[Row] = [("Loc", "Address", "Description Of Premises And Operations", "Limit Of Insurance")]
    for number in range(1, rng.randint(3, 4) + 1):
        rows.append(
            (
                str(number),
                f"{rng.randrange(100, 999)} {rng.choice(_STREETS)}, {rng.choice(_CITIES)}",
                rng.choice(
                    (
                        "Two-story frame dwelling with attached garage; owner occupied, no business on premises",
                        "Warehouse and distribution, sprinklered, central station alarm, 24-hour security",
                        "Office building, fire resistive construction, tenants' improvements and betterments",
                        "Light manufacturing of sample widgets; hot work permitted only under written procedure",
                    )
                ),
                _money(rng.randrange(10, 400) * 5_000),
            )
        )
    return _Table(_rows(rows), (0.07, 0.3, 0.43, 0.2))


def _endorsement(
    profile: _Profile, lang: _Lang, rng: random.Random, index: int, *, schedule: bool, styles: tuple[str, str]
) -> list[_Block]:
    code, name = profile.endorsements[index % len(profile.endorsements)]
    blocks: list[_Block] = [
        _Heading(1, "ENDORSEMENT"),
        _Para("THIS ENDORSEMENT CHANGES THE POLICY. PLEASE READ IT CAREFULLY.", style="notice"),
        _Heading(2, f"{code} {profile.edition} - {name}"),
        _Para(
            f"This endorsement modifies insurance provided under the following: {profile.form_title}.",
            style="small",
        ),
    ]
    if schedule:
        rows: list[Row] = [("Item", "Description", "Limit", "Premium")]
        for n in range(1, rng.randint(2, 4) + 1):
            description = rng.choice(
                (
                    "Description on file with the company",
                    "As shown in the Declarations",
                    f"Location {n}: {rng.randrange(100, 999)} {rng.choice(_STREETS)}, {rng.choice(_CITIES)}",
                )
            )
            rows.append((str(n), description, _money(rng.randrange(1, 60) * 500), _money(rng.randrange(5, 300))))
        blocks += [_Heading(3, "SCHEDULE"), _Table(_rows(rows), (0.1, 0.5, 0.2, 0.2))]
    blocks.append(_Para(lang.paragraph(2, 3)))
    blocks.extend(_clauses(lang, rng, (), styles=styles))
    if rng.random() < 0.5:
        blocks.extend(_bullets(lang))
    blocks.append(_Para("All other terms and conditions of this policy remain unchanged.", style="small"))
    return blocks


def _form_title(profile: _Profile) -> list[_Block]:
    return [_Heading(1, profile.form_title), _Para(profile.form_number, style="subtitle")]


def _single_column(profile: _Profile, ctx: _Context, rng: random.Random) -> list[_Block]:
    lang = _Lang(rng, profile)
    return [
        *_declarations(profile, ctx, rng),
        _NewPage(),
        *_form_title(profile),
        *_policy_form(profile, lang, rng, sections=3, subs=2),
        _NewPage(),
        *_endorsement(profile, lang, rng, 0, schedule=False, styles=("1.", "a.")),
    ]


def _two_column(profile: _Profile, ctx: _Context, rng: random.Random) -> list[_Block]:
    lang = _Lang(rng, profile)
    return [
        *_declarations(profile, ctx, rng),
        _NewPage("two_titled"),
        *_form_title(profile),
        _Columns(),
        *_policy_form(profile, lang, rng, sections=4, subs=2, columns=True),
        _NewPage("two"),
        *_endorsement(profile, lang, rng, 1, schedule=False, styles=("1.", "a.")),
    ]


def _tables(profile: _Profile, ctx: _Context, rng: random.Random) -> list[_Block]:
    lang = _Lang(rng, profile)
    blocks: list[_Block] = [
        *_declarations(profile, ctx, rng),
        _NewPage(),
        _Heading(1, "SUPPLEMENTAL SCHEDULES"),
        _Para(lang.paragraph(1, 2)),
        _Heading(2, "FORMS AND ENDORSEMENTS"),
        _forms_schedule(profile, rng),
        _Heading(2, "SCHEDULE OF LOCATIONS"),
        _locations_schedule(rng),
        _Para(lang.paragraph(1, 2)),
    ]
    services = [sub for section in profile.sections for sub in section.subs if sub.mode == "services"]
    for sub in services[:2]:
        blocks += [_Heading(2, sub.title), _services_table(rng, sub.items)]
    blocks += [_NewPage(), *_endorsement(profile, lang, rng, 2, schedule=True, styles=("1.", "a."))]
    return blocks


def _clause_form(profile: _Profile, ctx: _Context, rng: random.Random) -> list[_Block]:
    lang = _Lang(rng, profile)
    return [
        *_form_title(profile),
        *_policy_form(profile, lang, rng, sections=3, subs=3, styles=("a.", "(1)"), numbered_subs=True),
        _NewPage(),
        *_endorsement(profile, lang, rng, 3, schedule=True, styles=("A.", "(1)")),
        _NewPage(),
        *_endorsement(profile, lang, rng, 4, schedule=False, styles=("(a)", "(1)")),
    ]


_COMPOSERS: Final[dict[Layout, Callable[[_Profile, _Context, random.Random], list[_Block]]]] = {
    "single-column": _single_column,
    "two-column": _two_column,
    "tables": _tables,
    "clauses": _clause_form,
}


# ----------------------------------------------------------------------------------------------------
# Truth rendering (Markdown and plain text)
# ----------------------------------------------------------------------------------------------------


def _markdown_blocks(blocks: Sequence[_Block]) -> Iterator[tuple[str, str]]:
    """(Markdown, plain text) of each Markdown block; consecutive list items make one block."""
    items: list[_Item] = []

    def flush() -> Iterator[tuple[str, str]]:
        if items:
            yield (
                "\n".join(_item_markdown(item) for item in items),
                "\n".join(_item_text(item) for item in items),
            )
            items.clear()

    for block in blocks:
        if isinstance(block, _Item):
            items.append(block)
            continue
        yield from flush()
        match block:
            case _Heading(level=level, text=text):
                yield f"{'#' * level} {text}", text
            case _Para(text=text, lead=lead, style=style):
                body = f"**{lead}** {text}" if lead else text
                plain = f"{lead} {text}" if lead else text
                yield (f"**{body}**" if style == "notice" else body), plain
            case _Table(rows=rows):
                lines = [_pipe_row(rows[0]), "|" + "|".join("---" for _ in rows[0]) + "|"]
                lines += [_pipe_row(row) for row in rows[1:]]
                yield "\n".join(lines), "\n".join(" ".join(c for c in row if c) for row in rows)
    yield from flush()


def _item_markdown(item: _Item) -> str:
    marker = "-" if item.marker == _BULLET else item.marker
    lead = f"**{item.lead}** " if item.lead else ""
    return f"{'   ' * item.depth}{marker} {lead}{item.text}"


def _item_text(item: _Item) -> str:
    body = f"{item.lead} {item.text}" if item.lead else item.text
    return body if item.marker == _BULLET else f"{item.marker} {body}"


def _pipe_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


@dataclass
class _Rendered:
    data: bytes
    pages: int
    heading_pages: dict[int, int]  # block index -> page
    block_end_pages: dict[int, int]  # block index of a non-heading block -> page it ends on


def _truth(
    name: str, layout: Layout | Literal["mixed"], blocks: Sequence[_Block], rendered: _Rendered
) -> TruthDocument:
    pairs = list(_markdown_blocks(blocks))
    headings = tuple(
        TruthHeading(block.level, block.text, rendered.heading_pages[index])
        for index, block in enumerate(blocks)
        if isinstance(block, _Heading)
    )
    return TruthDocument(
        name=name,
        layout=layout,
        pages=rendered.pages,
        data=rendered.data,
        markdown="\n\n".join(md for md, _ in pairs) + "\n",
        text="\n\n".join(text for _, text in pairs) + "\n",
        headings=headings,
        tables=tuple(block.rows for block in blocks if isinstance(block, _Table)),
        list_items=tuple(
            TruthListItem(b.marker, f"{b.lead} {b.text}" if b.lead else b.text, b.depth)
            for b in blocks
            if isinstance(b, _Item)
        ),
    )


# ----------------------------------------------------------------------------------------------------
# PDF rendering (reportlab platypus)
# ----------------------------------------------------------------------------------------------------

_PAGE_W: Final[float] = float(LETTER[0])
_PAGE_H: Final[float] = float(LETTER[1])
_MARGIN_X: Final = 54.0
_MARGIN_TOP: Final = 66.0
_MARGIN_BOTTOM: Final = 58.0
_GUTTER: Final = 18.0
_TITLE_BAND: Final = 70.0  # height of the full-width title frame above two columns
_PHOTO_BAND: Final = 104.0  # space kept free above the footer for the large document's photo
_HEADER_Y: Final = _PAGE_H - 40.0
_FOOTER_Y: Final = 32.0
_FRAME_PAD: Final = 6.0  # platypus Frame padding on every side
_CELL_PAD: Final = 6.0  # platypus Table cell padding, left and right
_FULL_W: Final = _PAGE_W - 2 * _MARGIN_X - 2 * _FRAME_PAD
_COLUMN_W: Final = (_PAGE_W - 2 * _MARGIN_X - _GUTTER) / 2 - 2 * _FRAME_PAD


def _styles() -> dict[str, ParagraphStyle]:
    base: dict[str, Any] = {"fontName": "Helvetica", "fontSize": 9.2, "leading": 11.8}
    heading: dict[str, Any] = {"fontName": "Helvetica-Bold", "keepWithNext": 1}
    return {
        "body": ParagraphStyle("body", **base, alignment=TA_JUSTIFY, spaceAfter=5),
        "small": ParagraphStyle("small", **{**base, "fontSize": 8.2, "leading": 10.2}, spaceAfter=5),
        "field": ParagraphStyle("field", **base, alignment=TA_LEFT, spaceAfter=1.5),
        "notice": ParagraphStyle(
            "notice", **{**base, "fontName": "Helvetica-Bold"}, alignment=TA_CENTER, spaceBefore=2, spaceAfter=6
        ),
        "subtitle": ParagraphStyle(
            "subtitle", **{**base, "fontSize": 9.5, "leading": 12}, alignment=TA_CENTER, spaceAfter=10
        ),
        "item0": ParagraphStyle("item0", **base, alignment=TA_JUSTIFY, leftIndent=22, bulletIndent=2, spaceAfter=3),
        "item1": ParagraphStyle("item1", **base, alignment=TA_JUSTIFY, leftIndent=44, bulletIndent=24, spaceAfter=2),
        "h1": ParagraphStyle("h1", **heading, fontSize=15, leading=18.5, alignment=TA_CENTER, spaceAfter=4),
        "h2": ParagraphStyle("h2", **heading, fontSize=12.5, leading=15.5, spaceBefore=10, spaceAfter=5),
        "h3": ParagraphStyle("h3", **heading, fontSize=10.5, leading=13, spaceBefore=7, spaceAfter=4),
        "cell": ParagraphStyle("cell", fontName="Helvetica", fontSize=8.4, leading=10.2),
        "cell_bold": ParagraphStyle("cell_bold", fontName="Helvetica-Bold", fontSize=8.4, leading=10.2),
    }


class _Mark(Flowable):  # type: ignore[misc]  # reportlab ships no type information
    """Zero-size flowable after a block: records the page the block ended on."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.truth_index = index

    def wrap(self, _width: float, _height: float) -> tuple[float, float]:
        return 0.0, 0.0

    def draw(self) -> None:
        pass


class _SetFooter(_Mark):
    """Zero-size flowable: the form number printed in the footer from the next page on."""

    def __init__(self, text: str) -> None:
        super().__init__(-1)
        self.text = text


@dataclass
class _Running:
    """What every page carries besides the flow: header, footer and (large document) a photo."""

    ctx: _Context
    form_number: str
    centred: bool = False
    photo_band: bool = False
    photo_bytes: int = 0  # encoded bytes of each page's photo; 0 draws none


class _TruthDocTemplate(BaseDocTemplate):  # type: ignore[misc]  # reportlab ships no type information
    def __init__(self, buffer: io.BytesIO, running: _Running, seed: int) -> None:
        super().__init__(
            buffer,
            pagesize=LETTER,
            leftMargin=_MARGIN_X,
            rightMargin=_MARGIN_X,
            topMargin=_MARGIN_TOP,
            bottomMargin=_MARGIN_BOTTOM,
            title=_typeset(f"{running.ctx.carrier} - {running.ctx.policy_number}"),
            author=running.ctx.carrier,
            subject="Synthetic insurance document with ground truth (not a real policy)",
            creator="docintake ground_truth",
            invariant=1,
            pageCompression=1,
        )
        self.running = running
        self.seed = seed
        self.footer_label = running.form_number
        self.heading_pages: dict[int, int] = {}
        self.block_end_pages: dict[int, int] = {}
        bottom = self.bottomMargin + (_PHOTO_BAND if running.photo_band else 0.0)
        height = self.height - (_PHOTO_BAND if running.photo_band else 0.0)
        column = (self.width - _GUTTER) / 2
        left, right = self.leftMargin, self.leftMargin + column + _GUTTER
        below = height - _TITLE_BAND
        self.addPageTemplates(
            [
                PageTemplate("one", [Frame(left, bottom, self.width, height, id="body")], onPage=self._decorate),
                PageTemplate(
                    "two",
                    [Frame(left, bottom, column, height, id="left"), Frame(right, bottom, column, height, id="right")],
                    onPage=self._decorate,
                ),
                PageTemplate(
                    "two_titled",
                    [
                        Frame(left, bottom + below, self.width, _TITLE_BAND, id="title"),
                        Frame(left, bottom, column, below, id="left"),
                        Frame(right, bottom, column, below, id="right"),
                    ],
                    onPage=self._decorate,
                ),
            ]
        )

    def afterFlowable(self, flowable: Any) -> None:
        if isinstance(flowable, _SetFooter):
            self.footer_label = flowable.text
        elif isinstance(flowable, _Mark):
            self.block_end_pages[flowable.truth_index] = self.page
        elif (index := getattr(flowable, "truth_heading", None)) is not None:
            self.heading_pages[index] = self.page

    def _decorate(self, canvas: Any, _doc: Any) -> None:
        ctx = self.running.ctx
        right = _PAGE_W - _MARGIN_X
        canvas.saveState()
        canvas.setFont("Helvetica-Bold", 8.5)
        canvas.drawString(_MARGIN_X, _HEADER_Y, ctx.carrier)
        canvas.setFont("Helvetica", 8.5)
        canvas.drawRightString(right, _HEADER_Y, f"Policy Number: {ctx.policy_number}")
        canvas.setLineWidth(0.6)
        canvas.line(_MARGIN_X, _HEADER_Y - 5, right, _HEADER_Y - 5)
        if self.running.photo_bytes:
            self._draw_photo(canvas, int(canvas.getPageNumber()))
        canvas.restoreState()
        canvas.footer_label = self.footer_label

    def _draw_photo(self, canvas: Any, page: int) -> None:
        # Noise does not compress: the photo's encoded size is its pixel bytes (ASCII85 adds a quarter).
        factor = 1.25 if rl_config.useA85 else 1.0
        pixels = max(1, int(self.running.photo_bytes / factor / 3))
        height = max(1, int(math.sqrt(pixels * 3 / 4)))
        width = max(1, pixels // height)
        noise = random.Random(f"photo:{self.seed}:{page}").randbytes(width * height * 3)
        image = PILImage.frombytes("RGB", (width, height), noise)
        canvas.drawImage(ImageReader(image), _MARGIN_X, _MARGIN_BOTTOM + 8, width=128, height=96)


class _PagedCanvas(PageCountingCanvas):
    """The ground-truth documents' footer, "Page N of M" with the form's label."""

    def __init__(self, *args: Any, centred: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._centred = centred
        self.footer_label = ""

    def _draw_footer(self, number: int, total: int) -> None:
        right = _PAGE_W - _MARGIN_X
        self.saveState()
        self.setLineWidth(0.6)
        self.line(_MARGIN_X, _FOOTER_Y + 11, right, _FOOTER_Y + 11)
        self.setFont("Helvetica", 8)
        self.drawString(_MARGIN_X, _FOOTER_Y, self.footer_label)
        if self._centred:
            self.drawCentredString(_PAGE_W / 2, _FOOTER_Y, f"Page {number} of {total}")
            self.setFont("Helvetica-Oblique", 7)
            self.drawRightString(right, _FOOTER_Y, "Synthetic specimen")
        else:
            self.drawRightString(right, _FOOTER_Y, f"Page {number} of {total}")
            self.setFont("Helvetica-Oblique", 7)
            self.drawCentredString(_PAGE_W / 2, _FOOTER_Y, "Synthetic specimen - not an actual insurance contract")
        self.restoreState()


def _check_words_fit(rows: TruthTable, col_widths: Sequence[float]) -> None:
    """A word wider than its cell would be broken mid-word, and the truth could not say where."""
    for row in rows:
        for text, width in zip(row, col_widths, strict=True):
            for word in text.split():
                if stringWidth(word, "Helvetica-Bold", 8.4) > width - 2 * _CELL_PAD:
                    raise ValueError(f"table cell word {word!r} is wider than its column")


def _render(blocks: Sequence[_Block], running: _Running, *, seed: int = 0) -> _Rendered:  # noqa: C901 - case per block
    styles = _styles()
    flowables: list[Any] = []
    columns = False  # whether the flow is in a column of a two-column page

    def para(text: str, style: str, bullet: str | None = None) -> Paragraph:
        return Paragraph(text, styles[style], bulletText=bullet)

    def cell(text: str, bold: bool) -> Paragraph:
        return para(escape(text), "cell_bold" if bold else "cell")

    for index, block in enumerate(blocks):
        match block:
            case _Heading(level=level, text=text):
                heading = para(escape(text), f"h{level}")
                heading.truth_heading = index
                flowables.append(heading)
                continue
            case _Para(text=text, lead=lead, style=style):
                lead_markup = f"<b>{escape(lead)}</b> " if lead else ""
                flowables.append(para(lead_markup + escape(text), style))
            case _Item(marker=marker, text=text, lead=lead, depth=depth):
                lead_markup = f"<b>{escape(lead)}</b> " if lead else ""
                flowables.append(para(lead_markup + escape(text), f"item{depth}", escape(marker)))
            case _Table(rows=rows, widths=widths, total_row=total_row):
                last = len(rows) - 1
                data = [[cell(c, r == 0 or (total_row and r == last)) for c in row] for r, row in enumerate(rows)]
                commands: list[tuple[Any, ...]] = [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.85, 0.88, 0.93)),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 3),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ]
                if total_row:
                    commands.append(("BACKGROUND", (0, -1), (-1, -1), colors.Color(0.93, 0.93, 0.93)))
                col_widths = [w * (_COLUMN_W if columns else _FULL_W) for w in widths]
                _check_words_fit(rows, col_widths)
                table = Table(data, colWidths=col_widths, spaceBefore=4, spaceAfter=10, hAlign="LEFT")
                table.setStyle(TableStyle(commands))
                # A table never breaks across pages or columns: its truth is one table.
                flowables.append(KeepTogether([table]))
            case _NewPage(template=template):
                flowables += [NextPageTemplate(template), PageBreak()]
                columns = template == "two"
            case _Columns():
                flowables += [NextPageTemplate("two"), FrameBreak()]
                columns = True
            case _FormNumber(text=text):
                flowables.append(_SetFooter(text))
        if not isinstance(block, _NewPage | _Columns | _FormNumber):
            flowables.append(_Mark(index))

    buffer = io.BytesIO()
    doc = _TruthDocTemplate(buffer, running, seed)
    canvases: list[_PagedCanvas] = []

    def make_canvas(*args: Any, **kwargs: Any) -> _PagedCanvas:
        canvas = _PagedCanvas(*args, centred=running.centred, **kwargs)
        canvases.append(canvas)
        return canvas

    doc.build(flowables, canvasmaker=make_canvas)
    missing = [i for i, b in enumerate(blocks) if isinstance(b, _Heading) and i not in doc.heading_pages]
    if missing:
        raise RuntimeError(f"headings at blocks {missing} were not placed as one flowable")
    return _Rendered(buffer.getvalue(), canvases[-1].page_total, doc.heading_pages, doc.block_end_pages)
