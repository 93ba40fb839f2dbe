"""The documents bench/fields scores policy-field extraction on, each with its true values.

- **Generated**: the declarations pages of :mod:`docintake_local.sample_documents` (homeowners, personal
  auto, health summary, commercial general liability), with the values they print read back from the
  generator itself (``sample_documents_with_values``), so the truth cannot drift from the PDF.
- **Real**: values and answer cells of carriers' published Summaries of Benefits and Coverage, as those
  documents wrote them, recorded in a JSON manifest with each source's address, typeset here into PDFs in
  the layout of the federal SBC template (CMS's public-domain form) or, for the two benefit summaries that
  are not SBCs, as a benefits grid. The typesetting varies from document to document (page orientation,
  fonts, ruled or unruled tables, column widths, header order, one or two pages); the fixed text of the
  template is written here from the public federal form. No third-party text beyond short cells is kept.

Money truth keeps the text as written and its amount (``"1500.00"``) when the text holds exactly one amount;
cost shares keep the kind (copay or coinsurance) and the amount or percentage; dates are ISO 8601.
"""

from __future__ import annotations

import html
import io
import json
import pathlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from docintake_local.sample_documents import DeclaredValues, sample_documents_with_values

__all__ = [
    "HELDOUT_LOOKS",
    "RELOOKS",
    "FieldsCase",
    "FieldsTruth",
    "TrueCoverage",
    "TrueValue",
    "generated_cases",
    "generated_truth",
    "heldout_cases",
    "manifest_truth",
    "money_value",
    "real_cases",
    "relooked_cases",
    "render_heldout_document",
    "render_real_document",
    "render_second_batch_document",
]

# ----------------------------------------------------------------------------------------------------
# Truth
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrueValue:
    """A value as the document wrote it (``text``) and normalised (``value``: amount, ISO date, percentage,
    or None when the text holds no single amount); ``cost_share`` for a health plan's copay or coinsurance."""

    text: str
    value: str | None
    cost_share: str | None = None


@dataclass(frozen=True)
class TrueCoverage:
    name: str
    limit: TrueValue | None
    deductible: TrueValue | None
    premium: TrueValue | None


@dataclass(frozen=True)
class FieldsTruth:
    document_type: str
    fields: dict[str, TrueValue]
    coverages: tuple[TrueCoverage, ...] = ()


@dataclass(frozen=True)
class FieldsCase:
    """One document of the benchmark: ``origin`` is "generated", "real" (the development set, which the rules
    were tuned on), "relooked" (development documents set in held-out PDF looks, for the parser's work on
    them) or "heldout" (real documents collected after tuning, never shown to the rules' author);
    ``data`` is the document's bytes, of ``content_type`` (a PDF, or for held-out documents DOCX or HTML)."""

    id: str
    origin: str
    kind: str
    data: bytes = field(repr=False)
    truth: FieldsTruth
    source_url: str | None = None
    look: str = ""  # how a real document was typeset, e.g. "ruled landscape Helvetica"
    content_type: str = "application/pdf"


_AMOUNT: Final = re.compile(r"-?\$\s?\d[\d,]*(?:\.\d+)?|-?\b\d{1,3}(?:,\d{3})+(?:\.\d+)?\b")


def money_value(text: str) -> str | None:
    """The amount of a money text holding exactly one amount ("$1,500.00" -> "1500.00"), else None."""
    found = _AMOUNT.findall(text)
    if len(found) != 1:
        return None
    digits = found[0].replace("$", "").replace(",", "").replace(" ", "")
    return str(Decimal(digits).quantize(Decimal("0.01")))


def _money(text: str | None) -> TrueValue | None:
    if text is None:
        return None
    return TrueValue(text, money_value(text))


# ----------------------------------------------------------------------------------------------------
# Generated documents
# ----------------------------------------------------------------------------------------------------

_GENERATED_TYPES: Final = {
    "homeowners_policy": "homeowners",
    "auto_declarations": "personal_auto",
    "health_benefits_summary": "summary_of_benefits",
    "commercial_policy": "commercial_general_liability",
}
_DEDUCTIBLE_QUESTION: Final = "What is the overall deductible?"
_OUT_OF_POCKET_QUESTION: Final = "What is the out-of-pocket limit for this plan?"
_INDIVIDUAL_FAMILY: Final = re.compile(r"^(?P<individual>\$[\d,]+) individual / (?P<family>\$[\d,]+) family$")


def generated_truth(values: DeclaredValues) -> FieldsTruth:
    """What a generated document's declarations page prints, as the benchmark's truth.

    A health summary names a subscriber, not a named insured, so it has no named insured; its deductible
    and out-of-pocket limit are the "Important Questions" answers (one person's amount, and the family's).
    """
    fields: dict[str, TrueValue] = {
        "insurer": TrueValue(values.carrier, values.carrier),
        "policy_number": TrueValue(values.policy_number, values.policy_number),
        "effective_date": TrueValue(f"{values.effective:%m/%d/%Y}", values.effective.isoformat()),
        "expiration_date": TrueValue(f"{values.expiration:%m/%d/%Y}", values.expiration.isoformat()),
    }
    if values.named_insured is not None:
        fields["named_insured"] = TrueValue(values.named_insured, values.named_insured)
    if values.premium is not None:
        fields["premium"] = TrueValue(values.premium, money_value(values.premium))
    answers = dict(values.answers)
    for question, name in ((_DEDUCTIBLE_QUESTION, "deductible"), (_OUT_OF_POCKET_QUESTION, "out_of_pocket_limit")):
        match = _INDIVIDUAL_FAMILY.match(answers.get(question, ""))
        if match is not None:
            fields[name] = TrueValue(match["individual"], money_value(match["individual"]))
            fields[f"{name}_family"] = TrueValue(match["family"], money_value(match["family"]))
    coverages = tuple(
        TrueCoverage(row.name, _money(row.limit), _money(row.deductible), _money(row.premium))
        for row in values.coverages
    )
    return FieldsTruth(_GENERATED_TYPES[values.kind], fields, coverages)


def generated_cases(seeds: tuple[int, ...] = (11, 29), per_seed: int = 20) -> list[FieldsCase]:
    """``per_seed`` documents for each seed, cycling through the four kinds (40 by default, 10 a kind)."""
    cases: list[FieldsCase] = []
    for seed in seeds:
        for index, (doc, values) in enumerate(sample_documents_with_values(per_seed, seed=seed)):
            cases.append(
                FieldsCase(
                    id=f"generated-{seed}-{index:02d}-{values.kind}",
                    origin="generated",
                    kind=_GENERATED_TYPES[values.kind],
                    data=doc.data,
                    truth=generated_truth(values),
                )
            )
    return cases


# ----------------------------------------------------------------------------------------------------
# Real documents: the manifest, typeset
# ----------------------------------------------------------------------------------------------------


def _true_value(name: str, raw: Any) -> TrueValue:
    if isinstance(raw, dict):
        return TrueValue(str(raw["text"]), raw.get("value"), raw.get("cost_share"))
    text = str(raw)
    if name.endswith("_date"):
        date.fromisoformat(text)  # the manifest writes dates as ISO 8601
        return TrueValue(text, text)
    if name == "insurer" or name == "named_insured" or name == "policy_number":
        return TrueValue(text, text)
    return TrueValue(text, money_value(text))


def manifest_truth(entry: dict[str, Any]) -> FieldsTruth:
    """A manifest entry's ``truth`` (real_documents.json and heldout_documents.json share the format)."""
    fields = {name: raw for name, raw in entry["truth"].items() if name != "coverages" and raw is not None}
    coverages = tuple(
        TrueCoverage(row["name"], _money(row.get("limit")), _money(row.get("deductible")), _money(row.get("premium")))
        for row in entry["truth"].get("coverages", ())
    )
    return FieldsTruth(
        entry["document_type"], {name: _true_value(name, raw) for name, raw in fields.items()}, coverages
    )


def real_cases(manifest: pathlib.Path) -> list[FieldsCase]:
    """Every document of the manifest, typeset (about 20 ms a document)."""
    entries = json.loads(manifest.read_text(encoding="utf-8"))["documents"]
    cases: list[FieldsCase] = []
    for index, entry in enumerate(entries):
        if entry.get("look"):  # the second batch (a held-out set until 2026-12-02): rendered as it was then
            look_index = _look_index(entry["look"])
            data = render_second_batch_document(entry, look_index)
            look, content_type = entry["look"], _SECOND_BATCH_LOOKS[look_index].content_type
        else:
            data, content_type = render_real_document(entry, index), PDF_TYPE
            look = _LOOKS[index % len(_LOOKS)].describe()
        cases.append(
            FieldsCase(
                id=f"real-{entry['id']}",
                origin="real",
                kind=entry["document_type"],
                data=data,
                truth=manifest_truth(entry),
                source_url=entry["source_url"],
                look=look,
                content_type=content_type,
            )
        )
    return cases


def _look_index(name: str) -> int:
    names = [look.name for look in _SECOND_BATCH_LOOKS]
    if name not in names:
        raise ValueError(f"unknown look {name!r}: one of {names}")
    return names.index(name)


# The federal SBC template's fixed text (CMS's public-domain form, 2017 edition and the 2012 edition the
# older documents use), written out here: questions and "Why This Matters" in both wordings.
_TITLE: Final = {
    "2017": "Summary of Benefits and Coverage: What this Plan Covers & What You Pay for Covered Services",
    "2012": "Summary of Benefits and Coverage: What this Plan Covers & What it Costs",
}
_INTRO: Final = {
    "2017": (
        "The Summary of Benefits and Coverage (SBC) document will help you choose a health plan. The SBC shows "
        "you how you and the plan would share the cost for covered health care services. NOTE: Information about "
        "the cost of this plan (called the premium) will be provided separately. This is only a summary."
    ),
    "2012": (
        "This is only a summary. If you want more detail about your coverage and costs, you can get the "
        "complete terms in the policy or plan document."
    ),
}
_QUESTIONS: Final = {
    "deductible": {
        "2017": (
            "What is the overall deductible?",
            "Generally, you must pay all of the costs from providers up to "
            "the deductible amount before this plan begins to pay.",
        ),
        "2012": (
            "What is the overall deductible?",
            "You must pay all the costs up to the deductible amount before "
            "this plan begins to pay for covered services you use.",
        ),
    },
    "other_deductibles": {
        "2017": (
            "Are there other deductibles for specific services?",
            "You must pay all of the costs for these "
            "services up to the specific deductible amount before this plan begins to pay for these services.",
        ),
        "2012": (
            "Are there other deductibles for specific services?",
            "You don't have to meet deductibles for "
            "specific services, but see the chart starting on page 2 for other costs for services this plan "
            "covers.",
        ),
    },
    "out_of_pocket_limit": {
        "2017": (
            "What is the out-of-pocket limit for this plan?",
            "The out-of-pocket limit is the most you could pay in a year for covered services.",
        ),
        "2012": (
            "Is there an out-of-pocket limit on my expenses?",
            "The out-of-pocket limit is the most you could "
            "pay during a coverage period (usually one year) for your share of the cost of covered services.",
        ),
    },
}
_EVENT_HEADER: Final = ("Common Medical Event", "Services You May Need")
_NETWORK_HEADER: Final = (
    "Network Provider (You will pay the least)",
    "Out-of-Network Provider (You will pay the most)",
)
_LIMITATIONS_HEADER: Final = "Limitations, Exceptions, & Other Important Information"


@dataclass(frozen=True)
class _Look:
    """How one real document is typeset: every choice varies across the corpus."""

    orientation: str  # "landscape" (the federal form's) or "portrait"
    font: str  # "Helvetica" or "Times-Roman"
    ruled: bool  # a grid on every cell, or rules under the header and between rows only
    question_widths: tuple[float, float, float]
    title_first: bool  # the title line above the carrier line, or below it
    events_on_new_page: bool
    split_network_header: bool  # "What You Will Pay" spanning two columns over a second header row
    font_size: float

    def describe(self) -> str:
        return f"{'ruled' if self.ruled else 'unruled'} {self.orientation} {self.font}"


_LOOKS: Final = (
    _Look("landscape", "Helvetica", True, (0.22, 0.33, 0.45), False, True, True, 8.5),
    _Look("portrait", "Times-Roman", False, (0.3, 0.3, 0.4), True, False, False, 9.0),
    _Look("landscape", "Times-Roman", True, (0.18, 0.42, 0.4), True, False, True, 9.5),
    _Look("portrait", "Helvetica", True, (0.25, 0.25, 0.5), False, True, False, 8.0),
    _Look("landscape", "Helvetica", False, (0.2, 0.3, 0.5), True, True, False, 8.8),
)


def _bold(font: str) -> str:
    return "Times-Bold" if font == "Times-Roman" else "Helvetica-Bold"


def _carrier_line(entry: dict[str, Any]) -> str:
    """The summary's header line, "Carrier: Plan", as the federal form prints it (the plan alone without one)."""
    return f"{entry['carrier']}: {entry['plan']}" if entry.get("carrier") else str(entry["plan"])


def _coverage_for(entry: dict[str, Any]) -> str:
    """ "Coverage for: … | Plan Type: …", what of it the entry has."""
    parts = (
        f"Coverage for: {entry['coverage_for']}" if entry.get("coverage_for") else "",
        f"Plan Type: {entry['plan_type']}" if entry.get("plan_type") else "",
    )
    return " | ".join(part for part in parts if part)


def render_real_document(entry: dict[str, Any], index: int) -> bytes:
    """One manifest entry as a PDF in the federal SBC layout, a benefits grid or a CGL declarations page,
    in look ``index``."""
    look = _LOOKS[index % len(_LOOKS)]
    if entry.get("layout") == "cgl_declarations":  # declarations pages are portrait forms
        look = _Look("portrait", look.font, look.ruled, look.question_widths, look.title_first, False, False, 9.0)
    pagesize = landscape(LETTER) if look.orientation == "landscape" else LETTER
    width = float(pagesize[0]) - 72.0
    body = ParagraphStyle("body", fontName=look.font, fontSize=look.font_size, leading=look.font_size * 1.22)
    bold = ParagraphStyle("bold", parent=body, fontName=_bold(look.font))
    title = ParagraphStyle("title", parent=bold, fontSize=look.font_size + 3, leading=(look.font_size + 3) * 1.2)

    def cell(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph("<br/>".join(escape(line) for line in text.split("\n")), style)

    if entry.get("layout") == "cgl_declarations":
        return _build(entry, look, pagesize, _declarations_story(entry, look, width, cell, bold, title), "")
    story: list[Any] = []
    form = entry.get("form", "2017")
    heading = entry.get("title") or _TITLE[form]
    carrier_line = _carrier_line(entry)
    period = entry.get("coverage_period")
    lines: list[Any] = [Paragraph(escape(heading), title)]
    if carrier_line or period:
        top = [[cell(carrier_line, bold), cell(f"Coverage Period: {period}" if period else "", body)]]
        lines.insert(0 if look.title_first else 1, Table(top, colWidths=[width * 0.65, width * 0.35], hAlign="LEFT"))
    story += lines
    coverage_for = _coverage_for(entry)
    if coverage_for:
        story.append(cell(coverage_for, body))
    if entry.get("layout") == "benefits_grid":  # a carrier's or employer's benefit summary, not an SBC
        story += [Spacer(1, 8), _benefits_grid(entry, look, width, cell, bold)]
    else:
        story += [Spacer(1, 6), cell(_INTRO[form], body), Spacer(1, 8)]
        if entry["answers"]:
            story.append(_questions_table(entry, look, form, width, cell, bold))
        if entry.get("services"):
            story.append(PageBreak() if look.events_on_new_page else Spacer(1, 12))
            story.append(_events_table(entry, look, width, cell, bold))
    return _build(entry, look, pagesize, story, f"{carrier_line or 'Untitled'} - {heading}")


def _build(entry: dict[str, Any], look: _Look, pagesize: Any, story: list[Any], title: str) -> bytes:
    buffer = io.BytesIO()

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(look.font, 7)
        canvas.drawRightString(float(pagesize[0]) - 36, 20, f"{doc.page}")
        canvas.restoreState()

    SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=36,
        rightMargin=36,
        topMargin=36,
        bottomMargin=36,
        title=title or entry["id"],
        creator="docintake bench/fields (typesetting ours; values and answer cells from the source named)",
        invariant=1,
    ).build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _table_style(look: _Look, header_rows: int) -> list[tuple[Any, ...]]:
    style: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.Color(0.82, 0.87, 0.94)),
    ]
    if look.ruled:
        style.append(("GRID", (0, 0), (-1, -1), 0.5, colors.black))
    else:
        style += [
            ("LINEBELOW", (0, header_rows - 1), (-1, header_rows - 1), 1.0, colors.black),
            ("LINEBELOW", (0, header_rows), (-1, -1), 0.25, colors.grey),
        ]
    return style


def _questions_table(entry: dict[str, Any], look: _Look, form: str, width: float, cell: Any, bold: Any) -> Table:
    rows = [[cell("Important Questions", bold), cell("Answers", bold), cell("Why This Matters:", bold)]]
    for key, answer in entry["answers"].items():
        question, why = _QUESTIONS[key][form]
        rows.append([cell(question, bold), cell(answer), cell(why)])
    table = Table(rows, colWidths=[width * w for w in look.question_widths], repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(_table_style(look, 1)))
    return table


def _events_table(entry: dict[str, Any], look: _Look, width: float, cell: Any, bold: Any) -> Table:
    widths = [0.17, 0.2, 0.18, 0.18, 0.27]
    if look.split_network_header:
        header = [
            [
                cell(_EVENT_HEADER[0], bold),
                cell(_EVENT_HEADER[1], bold),
                cell("What You Will Pay", bold),
                "",
                cell(_LIMITATIONS_HEADER, bold),
            ],
            ["", "", cell(_NETWORK_HEADER[0], bold), cell(_NETWORK_HEADER[1], bold), ""],
        ]
        spans: list[tuple[Any, ...]] = [
            ("SPAN", (2, 0), (3, 0)),
            ("SPAN", (0, 0), (0, 1)),
            ("SPAN", (1, 0), (1, 1)),
            ("SPAN", (4, 0), (4, 1)),
        ]
    else:
        header = [
            [
                cell(_EVENT_HEADER[0], bold),
                cell(_EVENT_HEADER[1], bold),
                cell(_NETWORK_HEADER[0], bold),
                cell(_NETWORK_HEADER[1], bold),
                cell(_LIMITATIONS_HEADER, bold),
            ]
        ]
        spans = []
    rows: list[list[Any]] = [*header]
    previous_event = None
    for service in entry["services"]:
        event = service["event"]
        rows.append(
            [
                cell(event if event != previous_event else "", bold),
                cell(service["service"]),
                cell(service["in_network"]),
                cell(service.get("out_of_network") or ""),
                cell(service.get("limitations") or ""),
            ]
        )
        previous_event = event
    table = Table(rows, colWidths=[width * w for w in widths], repeatRows=len(header), hAlign="LEFT")
    table.setStyle(TableStyle([*_table_style(look, len(header)), *spans]))
    return table


def _benefits_grid(entry: dict[str, Any], look: _Look, width: float, cell: Any, bold: Any) -> Table:
    header = entry["grid_header"]
    rows = [[cell(text, bold) for text in header]]
    rows += [[cell(row[0], bold), *(cell(text) for text in row[1:])] for row in entry["grid"]]
    first = 0.34 if len(header) == 3 else 0.45
    rest = (1.0 - first) / (len(header) - 1)
    table = Table(rows, colWidths=[width * first, *([width * rest] * (len(header) - 1))], hAlign="LEFT")
    table.setStyle(TableStyle(_table_style(look, 1)))
    return table


def _declarations_story(
    entry: dict[str, Any], look: _Look, width: float, cell: Any, bold: Any, title: Any
) -> list[Any]:
    """A commercial general liability declarations page: the insurer and policy number, the numbered items
    (named insured, policy period, ...) as the source printed them, then the limits of insurance."""
    top = Table(
        [[cell(entry["carrier"], bold), cell(f"POLICY NUMBER\n{entry['policy_number']}", bold)]],
        colWidths=[width * 0.65, width * 0.35],
        hAlign="LEFT",
    )
    story: list[Any] = [Paragraph(escape(entry["title"]), title), top, Spacer(1, 8)]
    for label, value in entry["items"]:
        story += [cell(f"{label} {value}"), Spacer(1, 4)]
    story += [Spacer(1, 6), cell("LIMITS OF INSURANCE", bold)]
    limits = Table(
        [[cell(name), cell(limit)] for name, limit in entry["limits"]],
        colWidths=[width * 0.55, width * 0.45],
        hAlign="LEFT",
    )
    style: list[tuple[Any, ...]] = [("VALIGN", (0, 0), (-1, -1), "TOP")]
    if look.ruled:
        style.append(("GRID", (0, 0), (-1, -1), 0.5, colors.black))
    limits.setStyle(TableStyle(style))
    story += [limits, Spacer(1, 8)]
    story += [cell(f"{label} {value}") for label, value in entry.get("after", ())]
    return story


# ----------------------------------------------------------------------------------------------------
# The second batch of real documents (a held-out set until 2026-12-02, now development data) and the
# held-out manifest: DOCX, HTML and PDF in looks the first batch lacks, parsed by content type
# ----------------------------------------------------------------------------------------------------

DOCX_TYPE: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HTML_TYPE: Final = "text/html"
PDF_TYPE: Final = "application/pdf"

_HELDOUT_QUESTIONS: Final = {
    **_QUESTIONS,
    "covered_before": {
        "2017": (
            "Are there services covered before you meet your deductible?",
            "This plan covers some items and services even if you haven't yet met the deductible amount. But a "
            "copayment or coinsurance may apply.",
        ),
    },
}


@dataclass(frozen=True)
class _HeldoutLook:
    """How one held-out document is set: a format and a layout the development set does not use."""

    name: str
    content_type: str


# The looks the second batch was rendered in while it was held out (rotated over it in order, index % 6, so
# each format held every kind of document); each of its entries now names its look in real_documents.json.
_SECOND_BATCH_LOOKS: Final = (
    _HeldoutLook("docx: header block as a table, Word tables", DOCX_TYPE),
    _HeldoutLook("pdf: answers in the last column, Courier, portrait", PDF_TYPE),
    _HeldoutLook("html: tables with th headers", HTML_TYPE),
    _HeldoutLook("pdf: narrow answer column (cells wrap), header block as a table, hairlines, shaded rows", PDF_TYPE),
    _HeldoutLook("docx: no tables, bold labels over their answers", DOCX_TYPE),
    _HeldoutLook("html: definition lists, no tables", HTML_TYPE),
)


def heldout_cases(manifest: pathlib.Path) -> list[FieldsCase]:
    """Every document of the held-out manifest, rendered in the look its entry names (``HELDOUT_LOOKS``)."""
    entries = json.loads(manifest.read_text(encoding="utf-8"))["documents"]
    cases: list[FieldsCase] = []
    for entry in entries:
        look = HELDOUT_LOOKS[entry["look"]]
        cases.append(
            FieldsCase(
                id=f"heldout-{entry['id']}",
                origin="heldout",
                kind=entry["document_type"],
                data=render_heldout_document(entry),
                truth=manifest_truth(entry),
                source_url=entry["source_url"],
                look=look.name,
                content_type=look.content_type,
            )
        )
    return cases


# The held-out PDF looks the parser was developed on (2026-12-02): unruled 6-point tables whose cells wrap,
# and a table in one of two text columns. The development documents are set in them for that work; the
# held-out documents stay unseen.
RELOOKS: Final = ("pdf-tiny", "pdf-two-column")


def relooked_cases(manifest: pathlib.Path, looks: tuple[str, ...] = RELOOKS) -> list[FieldsCase]:
    """Every development summary of benefits set in each of ``looks`` (keys of ``HELDOUT_LOOKS``): the
    parser's development data for those layouts, origin "relooked"."""
    entries = json.loads(manifest.read_text(encoding="utf-8"))["documents"]
    return [
        FieldsCase(
            id=f"relooked-{key}-{entry['id']}",
            origin="relooked",
            kind=entry["document_type"],
            data=render_heldout_document({**entry, "look": key}),
            truth=manifest_truth(entry),
            source_url=entry["source_url"],
            look=HELDOUT_LOOKS[key].name,
            content_type=HELDOUT_LOOKS[key].content_type,
        )
        for key in looks
        for entry in entries
        if entry["document_type"] == "summary_of_benefits"
    ]


@dataclass(frozen=True)
class _Block:
    """What a held-out document says, in reading order, before any format: a title, lines, key/value
    header rows, and tables (a header row, then rows) or label/value sections."""

    kind: str  # "title", "line", "header", "table", "pairs"
    rows: tuple[tuple[str, ...], ...] = ()
    text: str = ""


def _heldout_blocks(entry: dict[str, Any], look_index: int) -> list[_Block]:
    layout = entry.get("layout")
    carrier = entry.get("carrier")
    if layout == "declarations":
        blocks = [_Block("title", text=entry["title"])]
        top: list[tuple[str, ...]] = [("Insurer", str(carrier))]
        if entry.get("policy_number"):
            top.append(("POLICY NUMBER", entry["policy_number"]))
        blocks.append(_Block("header", tuple(top)))
        blocks.append(_Block("pairs", tuple((label, value) for label, value in entry["items"])))
        if entry["limits"]:
            blocks.append(_Block("line", text="LIMITS OF INSURANCE"))
            blocks.append(_Block("table", (("Coverage", "Limit of Insurance"), *map(tuple, entry["limits"]))))
        if entry["premiums"]:
            blocks.append(_Block("line", text="COVERAGE PARTS FOR WHICH A PREMIUM IS INDICATED"))
            blocks.append(_Block("table", (("Coverage Part", "Premium"), *map(tuple, entry["premiums"]))))
        if entry["after"]:
            blocks.append(_Block("pairs", tuple((label, value) for label, value in entry["after"])))
        return blocks
    form = entry.get("form", "2017")
    heading = entry.get("title") or ("Benefits Summary" if layout == "benefits_grid" else _TITLE[form])
    header: list[tuple[str, ...]] = []
    if carrier:
        header.append(("Carrier", carrier))
    header.append(("Plan", entry["plan"]))
    for key, label in (
        ("coverage_period", "Coverage Period"),
        ("coverage_for", "Coverage for"),
        ("plan_type", "Plan Type"),
    ):
        if entry.get(key):
            header.append((label, entry[key]))
    blocks = [_Block("title", text=heading), _Block("header", tuple(header))]
    if layout == "benefits_grid":
        rows = tuple(tuple(row) for row in entry["grid"])
        blocks.append(_Block("table", (tuple(entry["grid_header"]), *rows)))
        return blocks
    blocks.append(_Block("line", text=_INTRO[form]))
    questions = []
    for key, answer in entry["answers"].items():
        question, why = _HELDOUT_QUESTIONS[key][form]
        questions.append((question, answer, why))
    if look_index == 1:  # answers in the last column
        table = (("Important Questions", "Why This Matters:", "Answers"), *((q, w, a) for q, a, w in questions))
    else:
        table = (("Important Questions", "Answers", "Why This Matters:"), *questions)
    blocks.append(_Block("table", tuple(table)))
    return blocks


def render_second_batch_document(entry: dict[str, Any], index: int) -> bytes:
    """One second-batch entry (real_documents.json, ``batch: second``) in look ``index % 6`` (see
    ``_SECOND_BATCH_LOOKS``), as it was rendered while it was held out."""
    look_index = index % len(_SECOND_BATCH_LOOKS)
    blocks = _heldout_blocks(entry, look_index)
    content_type = _SECOND_BATCH_LOOKS[look_index].content_type
    if content_type == DOCX_TYPE:
        return _heldout_docx(blocks, tables=look_index == 0)
    if content_type == HTML_TYPE:
        return _heldout_html(blocks, entry, tables=look_index == 2)
    return _heldout_pdf(blocks, entry, narrow=look_index == 3)


def _heldout_docx(blocks: list[_Block], *, tables: bool) -> bytes:
    import docx  # python-docx: a dependency of the product (DOCX fixtures), imported only when rendering

    document = docx.Document()
    document.core_properties.author = "docintake bench/fields (typesetting ours; values from the source named)"
    document.core_properties.created = datetime(2026, 1, 1, tzinfo=UTC)
    for block in blocks:
        if block.kind == "title":
            _docx_paragraph(document, block.text, bold=True, size=13)
        elif block.kind == "line":
            _docx_paragraph(document, block.text)
        elif tables:
            _docx_table(document, block.rows, header=block.kind == "table")
        elif block.kind in ("header", "pairs"):
            for label, value in block.rows:
                _docx_paragraph(document, f"{label} {value}" if label.endswith(":") else f"{label}: {value}")
        else:  # each row as its bold label over its cells, a paragraph a cell (named when there are several)
            header = block.rows[0]
            for row in block.rows[1:]:
                _docx_paragraph(document, row[0], bold=True)
                for name, text in zip(header[1:], row[1:], strict=True):
                    if text:
                        _docx_paragraph(document, f"{name}: {text}" if _names_cells(header) else text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _names_cells(header: tuple[str, ...]) -> bool:
    """Whether a table's cells, set as paragraphs, need their column's name: only beside another column of
    values (a network grid), not under a question's answer or a single value column."""
    return len(header) > 2 and header[0] != "Important Questions"


def _docx_paragraph(document: Any, text: str, *, bold: bool = False, size: float | None = None) -> None:
    from docx.shared import Pt

    run = document.add_paragraph().add_run(text)
    run.bold = bold
    if size is not None:
        run.font.size = Pt(size)


def _docx_table(document: Any, rows: tuple[tuple[str, ...], ...], *, header: bool) -> None:
    grid = document.add_table(rows=len(rows), cols=len(rows[0]))
    grid.style = "Table Grid"
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            cell = grid.cell(r, c)
            cell.text = text
            if (header and r == 0) or c == 0:
                for run in cell.paragraphs[0].runs:
                    run.bold = True


def _heldout_html(blocks: list[_Block], entry: dict[str, Any], *, tables: bool) -> bytes:
    def h(text: str) -> str:
        return "<br>".join(html.escape(line) for line in text.split("\n"))

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(entry.get('plan') or entry.get('title') or entry['id'])}</title>",
        "<style>table{border-collapse:collapse}td,th{border:1px solid #444;padding:4px;vertical-align:top}</style>",
        "</head><body>",
        "<!-- typesetting ours (docintake bench/fields); values and cells from the source named in the manifest -->",
    ]
    for block in blocks:
        if block.kind == "title":
            parts.append(f"<h1>{h(block.text)}</h1>")
        elif block.kind == "line":
            parts.append(f"<p>{h(block.text)}</p>")
        elif block.kind in ("header", "pairs"):
            if tables:
                parts.append("<table>")
                parts += [f"<tr><th>{h(label)}</th><td>{h(value)}</td></tr>" for label, value in block.rows]
                parts.append("</table>")
            else:
                parts.append("<dl>")
                parts += [f"<dt>{h(label)}</dt><dd>{h(value)}</dd>" for label, value in block.rows]
                parts.append("</dl>")
        elif tables:
            header, *rows = block.rows
            parts.append("<table><thead><tr>" + "".join(f"<th>{h(cell)}</th>" for cell in header) + "</tr></thead>")
            parts.append("<tbody>")
            parts += ["<tr>" + "".join(f"<td>{h(cell)}</td>" for cell in row) + "</tr>" for row in rows]
            parts.append("</tbody></table>")
        else:
            header, *rows = block.rows
            for row in rows:
                parts.append(f"<h3>{h(row[0])}</h3><dl>")
                parts += [
                    f"<dt>{h(name)}</dt><dd>{h(text)}</dd>"
                    for name, text in zip(header[1:], row[1:], strict=True)
                    if text
                ]
                parts.append("</dl>")
    parts.append("</body></html>")
    return "\n".join(parts).encode("utf-8")


def _heldout_pdf(blocks: list[_Block], entry: dict[str, Any], *, narrow: bool) -> bytes:
    font = "Helvetica" if narrow else "Courier"
    bold_font = "Helvetica-Bold" if narrow else "Courier-Bold"
    size = 7.5 if narrow else 8.0
    body = ParagraphStyle("hbody", fontName=font, fontSize=size, leading=size * 1.25)
    bold = ParagraphStyle("hbold", parent=body, fontName=bold_font)
    title = ParagraphStyle("htitle", parent=bold, fontSize=size + 3, leading=(size + 3) * 1.2)
    width = float(LETTER[0]) - 72.0

    def cell(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph("<br/>".join(escape(line) for line in text.split("\n")), style)

    story: list[Any] = []
    for block in blocks:
        if block.kind == "title":
            story += [Paragraph(escape(block.text), title), Spacer(1, 4)]
        elif block.kind == "line":
            story += [cell(block.text), Spacer(1, 4)]
        elif block.kind in ("header", "pairs"):
            if narrow:  # the header block as a table of labels over values
                labels = [cell(label, bold) for label, _ in block.rows]
                values = [cell(value) for _, value in block.rows]
                grid = Table([labels, values], colWidths=[width / len(labels)] * len(labels), hAlign="LEFT")
                grid.setStyle(
                    TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")])
                )
                story += [grid, Spacer(1, 6)]
            else:
                story += [
                    cell(f"{label} {value}" if label.endswith(":") else f"{label}: {value}")
                    for label, value in block.rows
                ]
                story.append(Spacer(1, 6))
        else:
            columns = len(block.rows[0])
            if narrow and columns == 3 and block.rows[0][0] == "Important Questions":
                widths = [0.2, 0.18, 0.62]  # the answers squeezed, so they wrap line after line
            elif columns == 3:
                widths = [0.28, 0.44, 0.28] if block.rows[0][2] == "Answers" else [0.3, 0.35, 0.35]
            else:
                widths = [0.55 if narrow else 0.5, *([(0.45 if narrow else 0.5) / (columns - 1)] * (columns - 1))]
            rows = [[cell(text, bold) for text in block.rows[0]]]
            rows += [[cell(row[0], bold), *(cell(text) for text in row[1:])] for row in block.rows[1:]]
            grid = Table(rows, colWidths=[width * w for w in widths], repeatRows=1, hAlign="LEFT")
            style: list[tuple[Any, ...]] = [("VALIGN", (0, 0), (-1, -1), "TOP")]
            if narrow:  # hairlines and shaded rows
                style += [
                    ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.Color(0.92, 0.92, 0.92)]),
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ]
            else:
                style.append(("GRID", (0, 0), (-1, -1), 0.5, colors.black))
            grid.setStyle(TableStyle(style))
            story += [grid, Spacer(1, 8)]
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=36,
        rightMargin=36,
        topMargin=36,
        bottomMargin=36,
        title=entry.get("plan") or entry.get("title") or entry["id"],
        creator="docintake bench/fields (typesetting ours; values and cells from the source named)",
        invariant=1,
    ).build(story)
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------------
# The held-out set (heldout_documents.json): looks neither development batch uses, and the federal form
# ----------------------------------------------------------------------------------------------------

HELDOUT_LOOKS: Final = {
    "pdf-federal": _HeldoutLook(
        "pdf: the federal SBC form as carriers print it (landscape, title and period in a top row, shaded header)",
        PDF_TYPE,
    ),
    "pdf-two-column": _HeldoutLook("pdf: two text columns a page, 7-point type, header block boxed", PDF_TYPE),
    "pdf-boxed-centered": _HeldoutLook("pdf: header as a boxed table, answers centered, portrait", PDF_TYPE),
    "pdf-tiny": _HeldoutLook("pdf: 6-point Times in narrow columns (tight wrapping), no rules", PDF_TYPE),
    "docx-styled": _HeldoutLook("docx: Word heading styles and a styled table (Light Grid Accent 1)", DOCX_TYPE),
    "docx-nested": _HeldoutLook("docx: a layout table with tables nested in its cells", DOCX_TYPE),
    "html-divs": _HeldoutLook("html: CSS-grid divs, no table elements", HTML_TYPE),
    "html-nested": _HeldoutLook("html: a layout table with tables nested in its cells", HTML_TYPE),
}


def render_heldout_document(entry: dict[str, Any]) -> bytes:
    """One held-out manifest entry in the look it names (``entry["look"]``, a key of ``HELDOUT_LOOKS``)."""
    look = entry["look"]
    if look not in HELDOUT_LOOKS:
        raise ValueError(f"unknown held-out look {look!r}: one of {sorted(HELDOUT_LOOKS)}")
    if look == "pdf-federal":
        if entry.get("layout"):
            raise ValueError(f"{entry['id']}: the federal form is for SBC-form entries only")
        return _federal_pdf(entry)
    blocks = _heldout_blocks(entry, look_index=0)
    if look == "docx-styled":
        return _styled_docx(blocks)
    if look == "docx-nested":
        return _nested_docx(blocks)
    if look == "html-divs":
        return _divs_html(blocks, entry)
    if look == "html-nested":
        return _nested_html(blocks, entry)
    return _heldout_look_pdf(blocks, entry, look)


def _centered_columns(header: tuple[str, ...]) -> range:
    """The value columns a centered look centers: an answer column, or every column after the first."""
    if header and header[0] == "Important Questions":
        return range(1, 2)
    return range(1, len(header))


def _federal_pdf(entry: dict[str, Any]) -> bytes:
    """The federal SBC form as most carriers print it: landscape, the title and the coverage period in one
    top row, the carrier and plan line beside "Coverage for | Plan Type", the questions in a three-column grid
    under a shaded header row."""
    from reportlab.lib.enums import TA_RIGHT

    form = entry.get("form", "2017")
    pagesize = landscape(LETTER)
    width = float(pagesize[0]) - 54.0
    body = ParagraphStyle("fbody", fontName="Helvetica", fontSize=8.0, leading=9.6)
    bold = ParagraphStyle("fbold", parent=body, fontName="Helvetica-Bold")
    right = ParagraphStyle("fright", parent=bold, alignment=TA_RIGHT)
    title = ParagraphStyle("ftitle", parent=bold, fontSize=10.5, leading=12.5)

    def cell(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph("<br/>".join(escape(line) for line in text.split("\n")), style)

    period = entry.get("coverage_period")
    carrier_line = _carrier_line(entry)
    coverage_for = _coverage_for(entry)
    top = Table(
        [
            [
                cell(entry.get("title") or _TITLE[form], title),
                cell(f"Coverage Period: {period}" if period else "", right),
            ],
            [cell(carrier_line, bold), cell(coverage_for, right)],
        ],
        colWidths=[width * 0.62, width * 0.38],
        hAlign="LEFT",
    )
    top.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM"), ("LINEBELOW", (0, 1), (-1, 1), 1.2, colors.black)])
    )
    intro = Table([[cell(_INTRO[form])]], colWidths=[width], hAlign="LEFT")
    intro.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.6, colors.black)]))
    why = "Why This Matters:" if form == "2017" else "Why this Matters:"
    rows = [[cell("Important Questions", bold), cell("Answers", bold), cell(why, bold)]]
    for key, answer in entry["answers"].items():
        question, matters = _HELDOUT_QUESTIONS[key][form]
        rows.append([cell(question, bold), cell(answer), cell(matters)])
    grid = Table(rows, colWidths=[width * 0.19, width * 0.31, width * 0.5], repeatRows=1, hAlign="LEFT")
    grid.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.73, 0.83, 0.93)),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ]
        )
    )
    story: list[Any] = [top, Spacer(1, 6), intro, Spacer(1, 8), grid]
    return _simple_pdf(story, entry, pagesize, margin=27)


def _simple_pdf(story: list[Any], entry: dict[str, Any], pagesize: Any, *, margin: float = 36) -> bytes:
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=entry.get("plan") or entry.get("title") or entry["id"],
        creator="docintake bench/fields (typesetting ours; values and cells from the source named)",
        invariant=1,
    ).build(story)
    return buffer.getvalue()


def _heldout_look_pdf(blocks: list[_Block], entry: dict[str, Any], look: str) -> bytes:
    """The three held-out PDF looks over a document's blocks: two columns a page (``pdf-two-column``), a boxed
    header table with centered answers (``pdf-boxed-centered``), or 6-point Times in narrow columns
    (``pdf-tiny``)."""
    from reportlab.lib.enums import TA_CENTER
    from reportlab.platypus import BaseDocTemplate, Frame, FrameBreak, PageTemplate

    font, bold_font, size = {
        "pdf-two-column": ("Helvetica", "Helvetica-Bold", 7.0),
        "pdf-boxed-centered": ("Helvetica", "Helvetica-Bold", 8.5),
        "pdf-tiny": ("Times-Roman", "Times-Bold", 6.0),
    }[look]
    body = ParagraphStyle(f"{look}-body", fontName=font, fontSize=size, leading=size * 1.18)
    bold = ParagraphStyle(f"{look}-bold", parent=body, fontName=bold_font)
    centered = ParagraphStyle(f"{look}-center", parent=body, alignment=TA_CENTER)
    title = ParagraphStyle(f"{look}-title", parent=bold, fontSize=size + 3, leading=(size + 3) * 1.2)
    page_width = float(LETTER[0]) - 72.0
    gap = 14.0
    width = (page_width - gap) / 2 if look == "pdf-two-column" else page_width * (0.58 if look == "pdf-tiny" else 1.0)

    def cell(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph("<br/>".join(escape(line) for line in text.split("\n")), style)

    story: list[Any] = []
    right_column = False
    for block in blocks:
        if block.kind == "title":
            story += [cell(block.text, title), Spacer(1, 4)]
        elif block.kind == "line":
            story += [cell(block.text), Spacer(1, 4)]
        elif block.kind in ("header", "pairs"):
            box = Table(
                [[cell(label, bold), cell(value)] for label, value in block.rows],
                colWidths=[width * 0.34, width * 0.66],
                hAlign="LEFT",
            )
            style: list[tuple[Any, ...]] = [("VALIGN", (0, 0), (-1, -1), "TOP")]
            if look != "pdf-tiny":
                style.append(("BOX", (0, 0), (-1, -1), 1.0, colors.black))
            if look == "pdf-boxed-centered":
                style.append(("INNERGRID", (0, 0), (-1, -1), 0.4, colors.grey))
            box.setStyle(TableStyle(style))
            story += [box, Spacer(1, 6)]
        else:
            if look == "pdf-two-column" and not right_column:
                story.append(FrameBreak())  # the first table opens the right-hand column
                right_column = True
            grid = _look_grid(block.rows, look, width, cell, (body, bold, centered))
            story += [grid, Spacer(1, 6)]
    buffer = io.BytesIO()
    meta = {
        "title": entry.get("plan") or entry.get("title") or entry["id"],
        "creator": "docintake bench/fields (typesetting ours; values and cells from the source named)",
        "invariant": 1,
    }
    if look == "pdf-two-column":
        template = BaseDocTemplate(
            buffer, pagesize=LETTER, leftMargin=36, rightMargin=36, topMargin=36, bottomMargin=36, **meta
        )
        height = float(LETTER[1]) - 72.0
        frames = [
            Frame(36, 36, width, height, id="left", leftPadding=0, rightPadding=0),
            Frame(36 + width + gap, 36, width, height, id="right", leftPadding=0, rightPadding=0),
        ]
        template.addPageTemplates([PageTemplate(id="two", frames=frames)])
        template.build(story)
    else:
        SimpleDocTemplate(
            buffer, pagesize=LETTER, leftMargin=36, rightMargin=36, topMargin=36, bottomMargin=36, **meta
        ).build(story)
    return buffer.getvalue()


def _look_grid(
    rows_in: tuple[tuple[str, ...], ...], look: str, width: float, cell: Any, styles: tuple[Any, Any, Any]
) -> Table:
    """A table of a held-out PDF look: ruled above and below (two columns), boxed with centered answers
    (boxed-centered), or bare (tiny)."""
    body, bold, centered = styles
    header = rows_in[0]
    centre = _centered_columns(header) if look == "pdf-boxed-centered" else range(0)
    rows = [[cell(text, bold) for text in header]]
    rows += [
        [
            cell(row[0], bold),
            *(cell(text, centered if c in centre else body) for c, text in enumerate(row) if c),
        ]
        for row in rows_in[1:]
    ]
    if len(header) == 3 and header[0] == "Important Questions":
        shares = [0.27, 0.36, 0.37] if look != "pdf-boxed-centered" else [0.24, 0.3, 0.46]
    else:
        shares = [0.4, *([0.6 / (len(header) - 1)] * (len(header) - 1))]
    grid = Table(rows, colWidths=[width * share for share in shares], repeatRows=1, hAlign="LEFT")
    style: list[tuple[Any, ...]] = [("VALIGN", (0, 0), (-1, -1), "TOP" if look != "pdf-boxed-centered" else "MIDDLE")]
    if look == "pdf-two-column":
        style += [
            ("LINEABOVE", (0, 0), (-1, 0), 0.8, colors.black),
            ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.grey),
        ]
    elif look == "pdf-boxed-centered":
        style += [
            ("BOX", (0, 0), (-1, -1), 1.0, colors.black),
            ("INNERGRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ]
    grid.setStyle(TableStyle(style))
    return grid


def _new_docx() -> Any:
    import docx  # python-docx: a dependency of the product (DOCX fixtures), imported only when rendering

    document = docx.Document()
    document.core_properties.author = "docintake bench/fields (typesetting ours; values from the source named)"
    document.core_properties.created = datetime(2026, 1, 1, tzinfo=UTC)
    return document


def _docx_bytes(document: Any) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _styled_docx(blocks: list[_Block]) -> bytes:
    """Word's own styles: the title as Heading 1, the header block as a styled two-column table, the intro as
    a Subtitle-styled paragraph, every table in "Light Grid Accent 1" (first row and first column emphasised by
    the style, not by direct bold)."""
    document = _new_docx()
    for block in blocks:
        if block.kind == "title":
            document.add_heading(block.text, level=1)
        elif block.kind == "line":
            document.add_paragraph(block.text, style="Subtitle" if len(block.text) < 80 else "Quote")
        else:
            rows = block.rows
            grid = document.add_table(rows=len(rows), cols=len(rows[0]))
            grid.style = "Light Grid Accent 1" if block.kind == "table" else "Light List Accent 1"
            for r, row in enumerate(rows):
                for c, text in enumerate(row):
                    grid.cell(r, c).text = text
    return _docx_bytes(document)


def _nested_docx(blocks: list[_Block]) -> bytes:
    """One layout table of two columns: section names on the left, and in each right-hand cell a table nested
    inside it (the header block, the questions, the grid or the limits)."""
    document = _new_docx()
    titles = [block.text for block in blocks if block.kind == "title"]
    if titles:
        document.add_paragraph().add_run(titles[0]).bold = True
    rest = [block for block in blocks if block.kind != "title"]
    layout = document.add_table(rows=len(rest), cols=2)
    layout.style = "Table Grid"
    names = {"header": "Plan", "pairs": "Details", "table": "Summary", "line": ""}
    for r, block in enumerate(rest):
        left, right = layout.cell(r, 0), layout.cell(r, 1)
        left.text = names[block.kind]
        if block.kind == "line":
            right.text = block.text
            continue
        right.text = ""
        inner = right.add_table(rows=len(block.rows), cols=len(block.rows[0]))
        inner.style = "Table Grid"
        for i, row in enumerate(block.rows):
            for c, text in enumerate(row):
                inner.cell(i, c).text = text
    return _docx_bytes(document)


def _html_text(text: str) -> str:
    return "<br>".join(html.escape(line) for line in text.split("\n"))


def _html_page(entry: dict[str, Any], style: str, body: list[str]) -> bytes:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(entry.get('plan') or entry.get('title') or entry['id'])}</title>",
        f"<style>{style}</style>",
        "</head><body>",
        "<!-- typesetting ours (docintake bench/fields); values and cells from the source named in the manifest -->",
        *body,
        "</body></html>",
    ]
    return "\n".join(parts).encode("utf-8")


def _divs_html(blocks: list[_Block], entry: dict[str, Any]) -> bytes:
    """No table elements: every row a div of cell divs laid out by CSS grid, headers as divs with a class."""
    style = (
        ".row{display:grid;grid-template-columns:1fr 1fr 2fr;gap:4px;border-bottom:1px solid #999}"
        ".pair{display:grid;grid-template-columns:12em 1fr}.head{font-weight:bold;background:#dde}"
        ".label{font-weight:bold}"
    )
    body: list[str] = []
    for block in blocks:
        if block.kind == "title":
            body.append(f'<div class="title" role="heading" aria-level="1">{_html_text(block.text)}</div>')
        elif block.kind == "line":
            body.append(f'<div class="intro">{_html_text(block.text)}</div>')
        elif block.kind in ("header", "pairs"):
            body.append('<div class="block">')
            body += [
                f'<div class="pair"><div class="label">{_html_text(label)}</div><div>{_html_text(value)}</div></div>'
                for label, value in block.rows
            ]
            body.append("</div>")
        else:
            header, *rows = block.rows
            body.append('<div class="grid" role="table">')
            body.append(
                '<div class="row head" role="row">'
                + "".join(f'<div role="columnheader">{_html_text(text)}</div>' for text in header)
                + "</div>"
            )
            body += [
                '<div class="row" role="row">'
                + "".join(f'<div role="cell">{_html_text(text)}</div>' for text in row)
                + "</div>"
                for row in rows
            ]
            body.append("</div>")
    return _html_page(entry, style, body)


def _nested_html(blocks: list[_Block], entry: dict[str, Any]) -> bytes:
    """A layout table (no borders) whose cells hold tables: the header block and each table nested inside it."""
    style = "table.inner{border-collapse:collapse}table.inner td{border:1px solid #444;padding:3px;vertical-align:top}"
    body = ['<table class="layout" role="presentation">']
    for block in blocks:
        if block.kind == "title":
            body.append(f'<tr><td colspan="2"><b>{_html_text(block.text)}</b></td></tr>')
        elif block.kind == "line":
            body.append(f'<tr><td colspan="2"><font size="2">{_html_text(block.text)}</font></td></tr>')
        else:
            inner = ['<table class="inner">']
            inner += ["<tr>" + "".join(f"<td>{_html_text(text)}</td>" for text in row) + "</tr>" for row in block.rows]
            inner.append("</table>")
            side = "&nbsp;" if block.kind == "table" else ""
            body.append(f"<tr><td>{side}</td><td>{''.join(inner)}</td></tr>")
    body.append("</table>")
    return _html_page(entry, style, body)
