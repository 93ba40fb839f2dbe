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

import io
import json
import pathlib
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from docintake_local.sample_documents import DeclaredValues, sample_documents_with_values

__all__ = [
    "FieldsCase",
    "FieldsTruth",
    "TrueCoverage",
    "TrueValue",
    "generated_cases",
    "generated_truth",
    "money_value",
    "real_cases",
    "render_real_document",
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
    """One document of the benchmark: ``origin`` is "generated" or "real"."""

    id: str
    origin: str
    kind: str
    pdf: bytes = field(repr=False)
    truth: FieldsTruth
    source_url: str | None = None
    look: str = ""  # how a real document was typeset, e.g. "ruled landscape Helvetica"


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
                    pdf=doc.data,
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


def real_cases(manifest: pathlib.Path) -> list[FieldsCase]:
    """Every document of the manifest, typeset (about 20 ms a document)."""
    entries = json.loads(manifest.read_text(encoding="utf-8"))["documents"]
    cases: list[FieldsCase] = []
    for index, entry in enumerate(entries):
        fields = {name: raw for name, raw in entry["truth"].items() if name != "coverages" and raw is not None}
        coverages = tuple(
            TrueCoverage(
                row["name"], _money(row.get("limit")), _money(row.get("deductible")), _money(row.get("premium"))
            )
            for row in entry["truth"].get("coverages", ())
        )
        truth = FieldsTruth(
            entry["document_type"], {name: _true_value(name, raw) for name, raw in fields.items()}, coverages
        )
        cases.append(
            FieldsCase(
                id=f"real-{entry['id']}",
                origin="real",
                kind=entry["document_type"],
                pdf=render_real_document(entry, index),
                truth=truth,
                source_url=entry["source_url"],
                look=_LOOKS[index % len(_LOOKS)].describe(),
            )
        )
    return cases


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
    carrier_line = f"{entry['carrier']}: {entry['plan']}" if entry.get("carrier") else entry["plan"]
    period = entry.get("coverage_period")
    lines: list[Any] = [Paragraph(escape(heading), title)]
    if carrier_line or period:
        top = [[cell(carrier_line, bold), cell(f"Coverage Period: {period}" if period else "", body)]]
        lines.insert(0 if look.title_first else 1, Table(top, colWidths=[width * 0.65, width * 0.35], hAlign="LEFT"))
    story += lines
    coverage_for = " | ".join(
        part
        for part in (
            f"Coverage for: {entry['coverage_for']}" if entry.get("coverage_for") else "",
            f"Plan Type: {entry['plan_type']}" if entry.get("plan_type") else "",
        )
        if part
    )
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
