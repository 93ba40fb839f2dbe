"""Deterministic synthetic insurance documents (PDFs and policy Markdown) for demos, tests and benchmarks."""

from __future__ import annotations

import io
import math
import pathlib
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final, Literal, Protocol, TypeAlias
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import CondPageBreak, PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle

__all__ = [
    "DeclaredCoverage",
    "DeclaredValues",
    "SampleDocument",
    "policy_markdown",
    "policy_pdf",
    "sample_documents",
    "sample_documents_with_values",
    "write_sample_documents",
]

# ----------------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleDocument:
    """One generated PDF: its suggested file name, document kind, page count and bytes."""

    filename: str
    kind: str
    pages: int
    data: bytes = field(repr=False)


def sample_documents(count: int = 4, *, seed: int = 7) -> list[SampleDocument]:
    """Return `count` demo documents (3-8 pages each), cycling through every document kind.

    Document ``i`` depends only on ``(seed, i)``, so a longer list starts with the shorter one.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    return [_sample_document(seed, index)[0] for index in range(count)]


def sample_documents_with_values(count: int = 4, *, seed: int = 7) -> list[tuple[SampleDocument, DeclaredValues]]:
    """:func:`sample_documents`, each with the values its declarations page prints (a benchmark's truth)."""
    if count < 0:
        raise ValueError("count must be >= 0")
    pairs: list[tuple[SampleDocument, DeclaredValues]] = []
    for index in range(count):
        doc, values = _sample_document(seed, index, record=True)
        assert values is not None
        pairs.append((doc, values))
    return pairs


def _sample_document(seed: int, index: int, *, record: bool = False) -> tuple[SampleDocument, DeclaredValues | None]:
    profile = _PROFILES[_KINDS[index % len(_KINDS)]]
    rng = random.Random(f"sample:{seed}:{index}")
    ctx = _make_context(profile, rng)
    target = profile.demo_pages + rng.randint(0, 1)
    cycle = index // len(_KINDS)
    suffix = "" if cycle == 0 else f"-{cycle + 1}"
    filename = f"{profile.stem}-{ctx.effective.year}{suffix}.pdf"
    blocks: list[_Block] | None = [] if record else None
    doc = _render_pdf(profile, ctx, rng, filename, float(target) - _PDF_SLACK, complete=True, record=blocks)
    return doc, None if blocks is None else _declared_values(profile, ctx, blocks)


def write_sample_documents(dest: pathlib.Path, count: int = 4, *, seed: int = 7) -> list[pathlib.Path]:
    """Write :func:`sample_documents` into `dest` (created if missing) and return the written paths."""
    dest.mkdir(parents=True, exist_ok=True)
    paths: list[pathlib.Path] = []
    for doc in sample_documents(count, seed=seed):
        path = dest / doc.filename
        path.write_bytes(doc.data)
        paths.append(path)
    return paths


def policy_pdf(pages: int, *, seed: int = 7, kind: str = "homeowners_policy") -> SampleDocument:
    """Return one document of about `pages` pages (a long tail of endorsements pads big documents).

    Build time grows linearly with `pages`; 10 to 1000 pages is the intended range.
    """
    if pages < 1:
        raise ValueError("pages must be >= 1")
    profile = _PROFILES.get(kind)
    if profile is None:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(_KINDS)}")
    rng = random.Random(f"policy:{seed}:{kind}:{pages}")
    ctx = _make_context(profile, rng)
    filename = f"{profile.stem}-{ctx.effective.year}-{pages}p.pdf"
    return _render_pdf(profile, ctx, rng, filename, pages - _PDF_SLACK, complete=False)


def policy_markdown(approx_bytes: int, *, seed: int = 7) -> str:
    """Return synthetic policy Markdown of about `approx_bytes` UTF-8 bytes.

    The text is a run of complete policies (``#`` title, ``##`` sections, ``###`` subsections, numbered
    clauses, bullet lists and pipe tables), cycling through the document kinds; the last one is cut short
    at a block boundary once the size is reached. The result is never shorter than one Declarations page
    (about 2 KB).
    """
    if approx_bytes < 0:
        raise ValueError("approx_bytes must be >= 0")
    sink = _MarkdownSink()
    target = approx_bytes / _MD_PAGE_BYTES
    index = 0
    while index == 0 or sink.used < target:
        profile = _PROFILES[_KINDS[index % len(_KINDS)]]
        rng = random.Random(f"markdown:{seed}:{index}")
        ctx = _make_context(profile, rng)
        stop = min(target, sink.used + rng.uniform(25.0, 70.0))
        _compose(profile, ctx, rng, sink, stop, complete=False)
        index += 1
    return sink.text()


# ----------------------------------------------------------------------------------------------------
# Document model shared by the PDF and Markdown renderers
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Title:
    title: str
    carrier: str = ""
    subtitle: str = ""
    major: bool = True  # the document title (Markdown "#") rather than a policy-form title


@dataclass(frozen=True)
class _Heading:
    level: Literal[1, 2]
    text: str


@dataclass(frozen=True)
class _Para:
    text: str
    lead: str = ""
    style: Literal["body", "notice", "small"] = "body"


@dataclass(frozen=True)
class _Item:
    text: str
    lead: str = ""
    children: tuple[str, ...] = ()


@dataclass(frozen=True)
class _List:
    style: Literal["numbered", "bullet"]
    items: tuple[_Item, ...]
    start: int = 1


@dataclass(frozen=True)
class _Fields:
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Grid:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]  # fractions of the text width
    totals: tuple[str, ...] | None = None


@dataclass(frozen=True)
class _Break:
    pass


_Block: TypeAlias = _Title | _Heading | _Para | _List | _Fields | _Grid | _Break


class _Sink(Protocol):
    def add(self, block: _Block) -> None: ...

    @property
    def used(self) -> float: ...  # pages (or page equivalents) consumed so far


_DASH: Final = "\u2013"
_BULLET: Final = "\u2022"


def _typeset(text: str) -> str:
    """Turn the source's spaced hyphens into the en dashes real policy forms use."""
    return text.replace(" - ", f" {_DASH} ")


def _money(amount: float, *, cents: bool = False) -> str:
    text = f"${abs(amount):,.2f}" if cents else f"${abs(amount):,.0f}"
    return f"-{text}" if amount < 0 else text


def _letter(index: int) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[index % 26] * (1 + index // 26)


# ----------------------------------------------------------------------------------------------------
# Per-kind content
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sub:
    title: str
    items: tuple[str, ...] = ()
    mode: Literal["clauses", "definitions", "services", "example"] = "clauses"


@dataclass(frozen=True)
class _Section:
    title: str
    subs: tuple[_Sub, ...]


@dataclass(frozen=True)
class _Context:
    carrier: str
    policy_number: str
    insured: str
    co_insured: str
    street: str
    city_line: str
    agent: str
    effective: date
    expiration: date

    @property
    def address(self) -> str:
        return f"{self.street}, {self.city_line}"


_DeclBuilder: TypeAlias = Callable[["_Profile", _Context, random.Random], list[_Block]]


@dataclass(frozen=True)
class _Profile:
    kind: str
    stem: str
    carriers: tuple[str, ...]
    number_prefix: str
    form_number: str  # e.g. "HO 00 03 05 11"
    form_title: str
    edition: str  # e.g. "05 11"
    agreement: str
    sections: tuple[_Section, ...]
    definitions: tuple[tuple[str, str], ...]
    templates: tuple[str, ...]
    slots: dict[str, tuple[str, ...]]
    bullets: tuple[str, ...]
    bullet_intros: tuple[str, ...]
    endorsements: tuple[tuple[str, str], ...]
    declarations: _DeclBuilder
    demo_pages: int
    term_months: int = 12


_FIRST_NAMES: Final = (
    "Jordan",
    "Casey",
    "Riley",
    "Morgan",
    "Taylor",
    "Avery",
    "Quinn",
    "Alex",
    "Jamie",
    "Skyler",
)
_LAST_NAMES: Final = ("Example", "Sample", "Specimen", "Placeholder", "Testcase", "Demo")
_STREETS: Final = (
    "Sample Street",
    "Example Avenue",
    "Placeholder Lane",
    "Specimen Road",
    "Demo Court",
    "Mock Way",
)
_CITIES: Final = ("Springfield", "Anytown", "Sampleville", "Exampleton", "Fictionburg")
_AGENCIES: Final = ("Sample Agency LLC", "Example Insurance Brokers", "Placeholder & Partners Agency")
_BANKS: Final = (
    "First Fictional Savings Bank",
    "Example Federal Credit Union",
    "Sample Mortgage Servicing Co.",
)


def _make_context(profile: _Profile, rng: random.Random) -> _Context:
    last = rng.choice(_LAST_NAMES)
    first, second = rng.sample(_FIRST_NAMES, 2)
    effective = date(2026, 1, 1) + timedelta(days=rng.randrange(0, 330))
    years, months = divmod(effective.month - 1 + profile.term_months, 12)
    expiration = date(effective.year + years, months + 1, min(effective.day, 28))
    number = f"{profile.number_prefix}-{rng.randrange(1_000_000, 9_999_999)}-{effective.year % 100:02d}"
    return _Context(
        carrier=rng.choice(profile.carriers),
        policy_number=number,
        insured=f"{first} {last}",
        co_insured=f"{second} {last}",
        street=f"{rng.randrange(100, 999)} {rng.choice(_STREETS)}",
        city_line=f"{rng.choice(_CITIES)}, ST {rng.randrange(1, 99):05d}",
        agent=f"{rng.choice(_AGENCIES)} - Agent Code {rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}",
        effective=effective,
        expiration=expiration,
    )


def _period(ctx: _Context, where: str) -> str:
    return f"{ctx.effective:%m/%d/%Y} to {ctx.expiration:%m/%d/%Y} - 12:01 A.M. standard time {where}"


def _endorsement_codes(profile: _Profile, count: int) -> str:
    codes = [profile.form_number] + [f"{code} {profile.edition}" for code, _ in profile.endorsements[:count]]
    return ", ".join(codes)


def _ho_declarations(profile: _Profile, ctx: _Context, rng: random.Random) -> list[_Block]:
    dwelling = rng.randrange(50, 180) * 5_000
    deductible = rng.choice((500, 1_000, 2_500))
    rate = rng.uniform(0.0030, 0.0042)
    premium_a = round(dwelling * rate, 0)
    rows: list[tuple[str, float, str, str]] = [
        ("A. Dwelling", dwelling, _money(deductible), ""),
        ("B. Other Structures", dwelling * 0.10, _money(deductible), ""),
        ("C. Personal Property", dwelling * 0.50, _money(deductible), ""),
        ("D. Loss Of Use", dwelling * 0.30, "None", "Included"),
        ("E. Personal Liability (each occurrence)", rng.choice((300_000, 500_000)), "None", ""),
        ("F. Medical Payments To Others (each person)", rng.choice((1_000, 5_000)), "None", ""),
    ]
    premiums = [premium_a, round(premium_a * 0.06), round(premium_a * 0.21), 0.0, rng.randrange(18, 41), 9.0]
    grid_rows: list[tuple[str, ...]] = []
    total = 0.0
    for (name, limit, ded, note), premium in zip(rows, premiums, strict=True):
        grid_rows.append((name, _money(limit), ded, note or _money(premium, cents=True)))
        total += premium
    extras = (
        (profile.endorsements[0], rng.randrange(40, 95)),
        (profile.endorsements[2], -rng.randrange(20, 60)),
    )
    for (code, name), premium in extras:
        grid_rows.append((f"{code} - {name}", "See endorsement", "-", _money(premium, cents=True)))
        total += premium
    return [
        _Title("HOMEOWNERS POLICY DECLARATIONS", ctx.carrier, "Homeowners 3 - Special Form"),
        _Fields(
            (
                ("Policy Number", ctx.policy_number),
                ("Policy Period", _period(ctx, "at the residence premises")),
                ("Named Insured", f"{ctx.insured} and {ctx.co_insured}"),
                ("Mailing Address", ctx.address),
                ("Residence Premises", "Same as mailing address"),
                (
                    "Construction / Year Built",
                    f"{rng.choice(('Frame', 'Masonry', 'Brick veneer'))}, {rng.randrange(1958, 2022)}",
                ),
                ("Protection Class / Territory", f"{rng.randrange(1, 9)} / {rng.randrange(10, 99)}"),
                ("Agent", ctx.agent),
            )
        ),
        _Heading(1, "COVERAGES, LIMITS OF LIABILITY AND PREMIUM"),
        _Grid(
            ("Coverage", "Limit", "Deductible", "Premium"),
            tuple(grid_rows),
            (0.46, 0.2, 0.14, 0.2),
            ("Total Annual Premium", "", "", _money(total, cents=True)),
        ),
        _Para(
            f"Section I deductible: {_money(deductible)} all perils. Windstorm or hail deductible: "
            f"{rng.choice((1, 2, 5))}% of the Coverage A limit of liability.",
            lead="Deductibles.",
        ),
        _Para(_endorsement_codes(profile, 3), lead="Forms and endorsements made part of this policy:"),
        _Para(
            f"{rng.choice(_BANKS)}, ISAOA/ATIMA, PO Box {rng.randrange(1000, 9999)}, "
            f"{rng.choice(_CITIES)}, ST {rng.randrange(1, 99):05d}. "
            f"Loan No. 000-{rng.randrange(10**6, 10**7)}.",
            lead="First mortgagee:",
        ),
        _Para("The premium shown above reflects the following credits:"),
        _List(
            "bullet",
            tuple(
                _Item(text)
                for text in rng.sample(
                    (
                        "Protective device credit (central station fire and burglar alarm)",
                        "Claim-free credit - five years",
                        "Multi-policy credit (personal auto policy with this company)",
                        "New roof credit",
                        "Paperless billing credit",
                    ),
                    3,
                )
            ),
        ),
        _Para(
            "This Declarations page, together with the policy form and any endorsements shown above, "
            "completes your policy. Please read your policy carefully.",
            style="small",
        ),
    ]


def _auto_declarations(profile: _Profile, ctx: _Context, rng: random.Random) -> list[_Block]:
    makes = ("Exemplar", "Specimen Motors", "Placeholder Auto", "Mockworks")
    models = ("Voyager", "Stride", "Pathway", "Meridian", "Harbor", "Summit")
    vehicles = tuple(
        (
            str(n),
            f"{rng.randrange(2014, 2026)} {rng.choice(makes)} {rng.choice(models)}",
            "1EXMPL" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(11)),
            rng.choice(("Commute", "Pleasure", "Business")),
            f"{rng.randrange(1, 99):05d}",
        )
        for n in (1, 2)
    )
    drivers = (
        (
            ctx.insured,
            f"XX/XX/{rng.randrange(1960, 2000)}",
            "Named insured",
            f"S{rng.randrange(10**7, 10**8)}",
        ),
        (ctx.co_insured, f"XX/XX/{rng.randrange(1960, 2005)}", "Spouse", f"S{rng.randrange(10**7, 10**8)}"),
    )
    bi = rng.choice(((50, 100), (100, 300), (250, 500)))
    coverages: list[tuple[str, str, str, float]] = [
        (
            "A. Liability - Bodily Injury",
            f"${bi[0]},000 each person / ${bi[1]},000 each accident",
            "None",
            rng.uniform(180, 420),
        ),
        (
            "A. Liability - Property Damage",
            f"${rng.choice((50, 100))},000 each accident",
            "None",
            rng.uniform(90, 220),
        ),
        ("B. Medical Payments", f"${rng.choice((1, 5, 10))},000 each person", "None", rng.uniform(12, 40)),
        (
            "C. Uninsured Motorists - Bodily Injury",
            f"${bi[0]},000 / ${bi[1]},000",
            "None",
            rng.uniform(30, 90),
        ),
        ("D. Collision", "Actual cash value", _money(rng.choice((250, 500, 1000))), rng.uniform(150, 390)),
        (
            "D. Other Than Collision",
            "Actual cash value",
            _money(rng.choice((100, 250, 500))),
            rng.uniform(60, 160),
        ),
        ("Towing And Labor Costs", "$75 each disablement", "None", 8.0),
        ("Transportation Expenses", "$40 per day / $1,200 maximum", "None", 16.0),
    ]
    rows = tuple((name, limit, ded, _money(round(p, 0), cents=True)) for name, limit, ded, p in coverages)
    total = sum(round(p, 0) for *_, p in coverages)
    return [
        _Title("PERSONAL AUTO POLICY DECLARATIONS", ctx.carrier, "Personal Auto Policy - Six-Month Term"),
        _Fields(
            (
                ("Policy Number", ctx.policy_number),
                ("Policy Period", _period(ctx, "at the address of the named insured")),
                ("Named Insured", ctx.insured),
                ("Mailing Address", ctx.address),
                ("Agent", ctx.agent),
            )
        ),
        _Heading(1, "SCHEDULE OF COVERED AUTOS"),
        _Grid(
            ("Veh", "Year / Make / Model", "VIN", "Use", "Garaging ZIP"),
            vehicles,
            (0.07, 0.36, 0.27, 0.14, 0.16),
        ),
        _Heading(1, "DRIVERS"),
        _Grid(("Driver", "Date Of Birth", "Relationship", "License No."), drivers, (0.34, 0.2, 0.22, 0.24)),
        _Heading(1, "COVERAGES, LIMITS AND PREMIUM"),
        _Grid(
            ("Coverage", "Limit", "Deductible", "Premium"),
            rows,
            (0.36, 0.34, 0.13, 0.17),
            ("Total Six-Month Premium", "", "", _money(total, cents=True)),
        ),
        _Para(
            'Coverage is provided only where a premium or "Included" is shown for the coverage. '
            f"Loss payee for vehicle 1: {rng.choice(_BANKS)}, ISAOA.",
            style="small",
        ),
        _Para(_endorsement_codes(profile, 3), lead="Forms and endorsements:"),
    ]


def _health_declarations(profile: _Profile, ctx: _Context, rng: random.Random) -> list[_Block]:
    ded = rng.choice((1_500, 2_000, 3_000, 4_500))
    oop = rng.choice((7_500, 8_200, 9_200))
    premium = round(rng.uniform(380, 640), 2)
    dental = round(rng.uniform(20, 35), 2)
    rows: tuple[tuple[str, ...], ...] = (
        (
            "Medical - In-Network",
            f"{_money(oop)} individual / {_money(2 * oop)} family out-of-pocket limit",
            f"{_money(ded)} / {_money(2 * ded)}",
            _money(premium, cents=True),
        ),
        (
            "Medical - Out-of-Network",
            f"{_money(2 * oop)} individual / {_money(4 * oop)} family",
            f"{_money(2 * ded)} / {_money(4 * ded)}",
            "Included",
        ),
        (
            "Prescription Drugs",
            "Combined with medical out-of-pocket limit",
            _money(rng.choice((0, 250, 500))),
            "Included",
        ),
        ("Pediatric Dental", "Covered to age 19", "$0", _money(dental, cents=True)),
        ("Pediatric Vision", "One exam and one pair of glasses per year", "$0", "Included"),
        ("Behavioral Health", "Same as medical", "Same as medical", "Included"),
    )
    total = premium + dental
    questions: tuple[tuple[str, ...], ...] = (
        (
            "What is the overall deductible?",
            f"{_money(ded)} individual / {_money(2 * ded)} family",
            "Generally, you must pay all of the costs from providers up to the deductible amount before this "
            "plan begins to pay.",
        ),
        (
            "Are there services covered before you meet your deductible?",
            "Yes. Preventive care and primary care visits are covered before you meet your deductible.",
            "This plan covers some items and services even if you haven't yet met the deductible amount.",
        ),
        (
            "What is the out-of-pocket limit for this plan?",
            f"{_money(oop)} individual / {_money(2 * oop)} family",
            "The out-of-pocket limit is the most you could pay in a year for covered services.",
        ),
        (
            "Will you pay less if you use a network provider?",
            "Yes. See www.example.com/providers or call 1-800-555-0142 for a list of network providers.",
            "You pay the least if you use a provider in the plan's network.",
        ),
        (
            "Do you need a referral to see a specialist?",
            "No.",
            "You can see the specialist you choose without a referral.",
        ),
    )
    return [
        _Title(
            "SUMMARY OF BENEFITS AND COVERAGE - PLAN DECLARATIONS",
            ctx.carrier,
            "What this Plan Covers & What You Pay for Covered Services",
        ),
        _Fields(
            (
                ("Plan", f"{rng.choice(('Silver', 'Gold', 'Bronze'))} PPO {ded}"),
                ("Group / Policy Number", ctx.policy_number),
                ("Coverage Period", f"{ctx.effective:%m/%d/%Y} - {ctx.expiration:%m/%d/%Y}"),
                ("Subscriber", ctx.insured),
                ("Coverage For", rng.choice(("Individual + Family", "Individual", "Employee + Spouse"))),
                ("Plan Type", "PPO"),
                ("Member Services", "1-800-555-0142 (TTY 711) - www.example.com/sbc"),
            )
        ),
        _Heading(1, "DECLARATIONS - COVERAGE, LIMITS AND MONTHLY PREMIUM"),
        _Grid(
            ("Coverage", "Limit", "Deductible", "Premium"),
            rows,
            (0.26, 0.38, 0.18, 0.18),
            ("Total Monthly Premium", "", "", _money(total, cents=True)),
        ),
        _Heading(1, "IMPORTANT QUESTIONS"),
        _Grid(("Important Questions", "Answers", "Why This Matters"), questions, (0.28, 0.32, 0.4)),
    ]


def _cgl_declarations(profile: _Profile, ctx: _Context, rng: random.Random) -> list[_Block]:
    occurrence = rng.choice((1_000_000, 2_000_000))
    rows: list[tuple[str, str, str, float]] = [
        (
            "Each Occurrence Limit",
            _money(occurrence),
            _money(rng.choice((0, 500, 1_000))),
            rng.uniform(2400, 5200),
        ),
        (
            "General Aggregate Limit (Other Than Products-Completed Operations)",
            _money(2 * occurrence),
            "None",
            0.0,
        ),
        (
            "Products-Completed Operations Aggregate Limit",
            _money(2 * occurrence),
            "None",
            rng.uniform(600, 1800),
        ),
        ("Personal And Advertising Injury Limit", _money(occurrence), "None", rng.uniform(150, 400)),
        ("Damage To Premises Rented To You Limit", "$100,000 any one premises", "None", rng.uniform(40, 90)),
        ("Medical Expense Limit", "$5,000 any one person", "None", rng.uniform(25, 60)),
    ]
    grid = tuple(
        (name, limit, ded, "Included" if p == 0.0 else _money(round(p, 0), cents=True)) for name, limit, ded, p in rows
    )
    total = sum(round(p, 0) for *_, p in rows)
    classes = tuple(
        (
            str(n),
            rng.choice(
                (
                    "Light Manufacturing - Sample Widgets",
                    "Warehouses - Example Goods",
                    "Offices - Demo",
                    "Contractors - Placeholder Subcontracted Work",
                )
            ),
            f"{rng.randrange(10000, 99999)}",
            rng.choice(("Gross sales", "Payroll", "Area (sq. ft.)")),
            f"${rng.randrange(200, 4000) * 1000:,}",
            f"{rng.uniform(0.5, 9.0):.3f}",
        )
        for n in (1, 2)
    )
    business = rng.choice(("Example Widgets LLC", "Sample Logistics Inc.", "Placeholder Fabrication Co."))
    return [
        _Title("COMMERCIAL GENERAL LIABILITY DECLARATIONS", ctx.carrier, "Occurrence Form"),
        _Fields(
            (
                ("Policy Number", ctx.policy_number),
                ("Named Insured", business),
                ("Mailing Address", ctx.address),
                ("Policy Period", _period(ctx, "at the mailing address shown above")),
                ("Form Of Business", "Limited liability company"),
                ("Contact", f"{ctx.insured}, Managing Member"),
                ("Producer", ctx.agent),
            )
        ),
        _Heading(1, "LIMITS OF INSURANCE"),
        _Grid(
            ("Coverage", "Limit", "Deductible", "Premium"),
            grid,
            (0.46, 0.22, 0.14, 0.18),
            ("Total Advance Premium", "", "", _money(total, cents=True)),
        ),
        _Heading(1, "CLASSIFICATION AND PREMIUM BASIS"),
        _Grid(
            ("Loc", "Classification", "Code", "Premium Basis", "Exposure", "Rate"),
            classes,
            (0.06, 0.38, 0.1, 0.17, 0.17, 0.12),
        ),
        _Para(_endorsement_codes(profile, 4), lead="Forms and endorsements applicable:"),
        _Para("The premium shown is an advance premium and is subject to audit.", style="small"),
    ]


_COMMON_TEMPLATES: Final = (
    "We may cancel this policy by {delivery} to the first Named Insured written notice of "
    "cancellation at least "
    "{days} days before the effective date of cancellation.",
    "If this policy is cancelled, we will send the first Named Insured any premium refund due, computed {refund}.",
    "The terms of this policy which are in conflict with the statutes of the state in which this "
    "policy is issued "
    "are amended to conform to such statutes.",
    "No legal action may be brought against us unless there has been full compliance with all of the "
    "terms of "
    "this policy and the action is started within {years} years after the date of {trigger}.",
    "We do not provide coverage for any person who has intentionally concealed or misrepresented any "
    "material "
    "fact or circumstance, or made false statements, relating to this insurance.",
    "Your rights and duties under this policy may not be transferred without our written consent, "
    "except in the "
    "case of death of an individual named insured.",
    "If we adopt any revision which would broaden the coverage under this policy without additional premium "
    "within {days} days prior to or during the policy period, the broadened coverage will immediately apply.",
    "A waiver or change of a provision of this policy must be in writing by us to be valid, and our "
    "request for "
    "an appraisal or examination will not waive any of our rights.",
    "If any person to or for whom we make payment under this policy has rights to recover damages "
    "from another, "
    "those rights are transferred to us to the extent of our payment.",
    "Any {document} required by this condition must be sent to us within {days} days after our request.",
    "We will pay no more than our share of the {measure}, and in no event will we pay more than the "
    "applicable "
    "limit shown in the Declarations.",
    "Premium, deductible and limit changes resulting from {change} take effect on the date of the change and "
    "are shown on a revised Declarations page.",
)

_COMMON_SLOTS: Final[dict[str, tuple[str, ...]]] = {
    "delivery": (
        "mailing or delivering",
        "delivering by electronic means, where permitted by law,",
        "mailing",
    ),
    "days": ("10", "15", "30", "45", "60", "90"),
    "years": ("two", "three", "five"),
    "refund": ("pro rata", "on a pro rata basis", "according to our short-rate table"),
    "trigger": ("loss", "the accident or loss", "the final adverse determination", "the occurrence"),
    "document": ("sworn proof of loss", "record or document", "signed statement", "inventory of property"),
    "measure": ("loss or claim", "damages and expenses", "covered charges"),
    "change": ("a policy change you request", "an audit", "a change in the rating classification"),
}

_HO_TEMPLATES: Final = (
    "We insure against direct physical loss to {ho_prop} caused by {ho_peril}, unless the loss is excluded "
    "in Section I - Exclusions.",
    "We will pay up to {pct} of the {ho_limit} for {ho_addl}, and this coverage is additional insurance.",
    "This coverage does not apply to loss caused by {ho_peril} to {ho_prop} if the dwelling has been "
    "vacant for "
    "more than {days} consecutive days immediately before the loss.",
    "Loss to {ho_prop} will be settled at replacement cost without deduction for depreciation, "
    "subject to the "
    "conditions of this policy.",
    "If the cost to repair or replace the damage is more than {ho_small}, we will pay no more than "
    "the actual "
    "cash value of the damage until actual repair or replacement is complete.",
    "You must protect the property from further damage, make reasonable and necessary repairs to protect the "
    "property, and keep an accurate record of repair expenses.",
    "We will pay the reasonable expenses you incur for {ho_addl} when {ho_when}.",
    "The special limit for each category of property shown below is the total limit for each loss for all "
    "property in that category: {ho_special}.",
    "Our limit of liability for {ho_prop} will not be more than the smallest of the limit of liability under "
    "this policy, the replacement cost of the damaged part, or the amount actually and necessarily spent.",
    "Any loss payable under {ho_cov} will be paid to the mortgagee and you, as interests appear.",
    "The deductible shown in the Declarations applies to each loss caused by {ho_peril}, unless another "
    "deductible is shown for that peril.",
    'We will pay those damages which an "insured" is legally liable to pay because of "bodily injury" or '
    '"property damage" caused by an "occurrence" to which this coverage applies.',
    "We will pay the necessary medical expenses that are incurred or medically ascertained within "
    "three years "
    'from the date of an accident causing "bodily injury".',
    "Coverage under {ho_cov} is not increased by the number of persons or organizations who are "
    '"insureds" or '
    "by the number of claims made.",
    'An "insured" does not include a tenant, roomer or boarder at the "residence premises" unless '
    "that person "
    "is a relative of yours.",
)

_HO_SLOTS: Final[dict[str, tuple[str, ...]]] = {
    "ho_prop": (
        'the dwelling on the "residence premises"',
        'other structures on the "residence premises"',
        'personal property owned or used by an "insured"',
        "trees, shrubs, plants or lawns",
        "building equipment and fixtures",
        "outdoor antennas and satellite dishes",
        "glass or safety glazing material that is part of a covered building",
        'landlord\'s furnishings in an apartment on the "residence premises"',
        "grave markers, including mausoleums",
    ),
    "ho_peril": (
        "fire or lightning",
        "windstorm or hail",
        "explosion",
        "riot or civil commotion",
        "aircraft",
        "vehicles",
        "smoke",
        "vandalism or malicious mischief",
        "theft",
        "falling objects",
        "weight of ice, snow or sleet",
        "accidental discharge or overflow of water or steam",
        "freezing of a plumbing, heating or air conditioning system",
        "sudden and accidental damage from artificially generated electrical current",
        "volcanic eruption",
    ),
    "ho_addl": (
        "debris removal",
        "reasonable repairs",
        "trees, shrubs and other plants",
        "fire department service charges",
        "property removed from premises endangered by a Peril Insured Against",
        "credit card, electronic fund transfer card or access device losses",
        "loss assessment charged by a corporation or association of property owners",
        "ordinance or law compliance",
        "additional living expense",
    ),
    "ho_when": (
        'a loss to covered property makes the "residence premises" not fit to live in',
        "covered property is removed from the premises because it is endangered by a Peril Insured Against",
        'a civil authority prohibits you from use of the "residence premises"',
        "you are required to comply with an ordinance or law regulating the repair of the dwelling",
    ),
    "ho_limit": (
        "Coverage A limit of liability",
        "Coverage C limit of liability",
        "Section I limit of liability",
    ),
    "ho_cov": (
        "Coverage A",
        "Coverage B",
        "Coverage C",
        "Coverage D",
        "Coverage E",
        "Coverage F",
        "Section I",
    ),
    "ho_small": ("$2,500", "$5,000", "$1,500"),
    "ho_special": (
        "$200 on money, bank notes, bullion, gold other than goldware, platinum, coins and medals",
        "$1,500 on securities, accounts, deeds, evidences of debt, letters of credit and passports",
        "$1,500 on watercraft of all types, including their trailers, furnishings and equipment",
        "$1,500 for loss by theft of jewelry, watches, furs, precious and semiprecious stones",
        "$2,500 for loss by theft of firearms and related equipment",
        "$2,500 for loss by theft of silverware, silver-plated ware and goldware",
        '$2,500 on property, on the "residence premises", used primarily for "business" purposes',
    ),
    "pct": ("5%", "10%", "20%", "25%"),
}

_AUTO_TEMPLATES: Final = (
    'We will pay damages for "bodily injury" or "property damage" for which any "insured" becomes legally '
    "responsible because of an auto accident.",
    "We will settle or defend, as we consider appropriate, any claim or suit asking for these "
    "damages, and our "
    "duty to settle or defend ends when our limit of liability for this coverage has been exhausted.",
    'We do not provide Liability Coverage for any "insured" {auto_excl}.',
    "We will pay for direct and accidental loss to {auto_prop}, including its equipment, minus any "
    "applicable "
    "deductible shown in the Declarations.",
    'Loss caused by {auto_peril} is considered other than "collision".',
    "If there is a loss to {auto_prop}, we may pay for the loss in money or repair or replace the damaged or "
    "stolen property.",
    "We will pay, without application of a deductible, up to {auto_daily} per day, to a maximum of "
    "{auto_max}, for temporary transportation expenses incurred because of the total theft of {auto_prop}.",
    "Our limit of liability for loss will be the lesser of the actual cash value of the stolen or damaged "
    "property or the amount necessary to repair or replace the property with other property of like kind and "
    "quality.",
    "A person seeking any coverage must cooperate with us in the investigation, settlement or defense of any "
    "claim or suit and promptly send us copies of any notices or legal papers received.",
    "This policy applies only to accidents and losses which occur during the policy period and within the "
    "policy territory.",
    'We will pay reasonable expenses incurred for necessary medical and funeral services because of "bodily '
    'injury" caused by accident and sustained by an "insured".',
    'We will pay compensatory damages which an "insured" is legally entitled to recover from the owner or '
    'operator of an "uninsured motor vehicle" because of "bodily injury" caused by an accident.',
    "The limit of liability shown in the Declarations for each person for {auto_cov} is our maximum limit of "
    'liability for all damages arising out of "bodily injury" sustained by any one person in any one auto '
    "accident.",
    "Any payment under {auto_cov} will be reduced by any amount paid or payable for the same "
    "elements of loss "
    "by or on behalf of persons or organizations who may be legally responsible.",
)

_AUTO_SLOTS: Final[dict[str, tuple[str, ...]]] = {
    "auto_excl": (
        'who intentionally causes "bodily injury" or "property damage"',
        'for "property damage" to property owned or being transported by that "insured"',
        "while employed or otherwise engaged in the business of selling, repairing, servicing or parking vehicles",
        'for that "insured\'s" liability arising out of the use of a vehicle as a public or livery conveyance',
        'using a vehicle without a reasonable belief that that "insured" is entitled to do so',
        'for "bodily injury" to an employee of that "insured" during the course of employment',
    ),
    "auto_prop": (
        '"your covered auto"',
        'any "non-owned auto"',
        'a "trailer" you own',
        'custom furnishings or equipment in or upon "your covered auto"',
        'electronic equipment that is permanently installed in "your covered auto"',
    ),
    "auto_peril": (
        "missiles or falling objects",
        "fire",
        "theft or larceny",
        "explosion or earthquake",
        "windstorm",
        "hail, water or flood",
        "malicious mischief or vandalism",
        "riot or civil commotion",
        "contact with bird or animal",
        "breakage of glass",
    ),
    "auto_cov": ("Part A", "Part B", "Part C", "Part D", "this coverage"),
    "auto_daily": ("$20", "$30", "$40"),
    "auto_max": ("$600", "$900", "$1,200"),
}

_HEALTH_TEMPLATES: Final = (
    "{svc} {share} after the deductible when you use a network provider.",
    "You will pay the most if you use an out-of-network provider, and you might receive a bill from "
    "a provider "
    "for the difference between the provider's charge and what your plan pays (balance billing).",
    "Preauthorization is required for {svc_lc}; if you don't get preauthorization, benefits will be "
    "reduced by "
    "{pct} of the total cost of the service.",
    "The plan will pay for {svc_lc} only when the service is medically necessary and provided by a network "
    "provider, except in an emergency.",
    "Copayments for {svc_lc} do not count toward the deductible but do count toward the out-of-pocket limit.",
    "If you have other coverage, the rules that determine which plan pays first are described in the "
    "Coordination of Benefits provision of your plan document.",
    "You may have the right to continue coverage after it ends under {continuation}; contact Member Services "
    "at 1-800-555-0142 for details.",
    "Coverage for {svc_lc} is limited to {visits} visits per calendar year, combined for network and "
    "out-of-network providers.",
    "Cost sharing under this plan does not include premiums, balance-billed charges, or health care "
    "this plan "
    "doesn't cover.",
    "A claim for {svc_lc} must be submitted within {days} days after the date of service.",
    "If we deny a claim for {svc_lc}, you may file an appeal within 180 days after you receive the notice of "
    "adverse benefit determination.",
    "Prior approval is not required for emergency services, and cost sharing for emergency services from an "
    "out-of-network provider is the same as for a network provider.",
    "The allowed amount for {svc_lc} is the maximum amount on which payment is based for covered health care services.",
)

_HEALTH_SLOTS: Final[dict[str, tuple[str, ...]]] = {
    "svc": (
        "Primary care visits",
        "Specialist visits",
        "Diagnostic tests",
        "Imaging (CT/PET scans, MRIs)",
        "Outpatient surgery",
        "Emergency room care",
        "Urgent care",
        "Hospital stays",
        "Home health care",
        "Rehabilitation services",
        "Durable medical equipment",
    ),
    "svc_lc": (
        "specialist visits",
        "imaging services",
        "outpatient surgery facility fees",
        "hospital stays",
        "home health care",
        "skilled nursing care",
        "rehabilitation services",
        "durable medical equipment",
        "outpatient mental health services",
        "specialty drugs",
    ),
    "share": (
        "are covered at 20% coinsurance",
        "require a $30 copay per visit",
        "require a $60 copay per visit",
        "are covered at 40% coinsurance",
        "are covered with no charge",
    ),
    "continuation": ("COBRA", "the state continuation program", "a Health Insurance Marketplace plan"),
    "visits": ("20", "30", "60"),
    "pct": ("25%", "50%"),
}

_CGL_TEMPLATES: Final = (
    "We will pay those sums that the insured becomes legally obligated to pay as damages because of "
    "{harm} to "
    "which this insurance applies.",
    'We will have the right and duty to defend the insured against any "suit" seeking those damages, but we '
    'will have no duty to defend against any "suit" seeking damages for {harm} to which this insurance does '
    "not apply.",
    "This insurance does not apply to {harm} arising out of {source}.",
    "The amount we will pay for damages is limited as described in Section III - Limits Of Insurance.",
    "Damages because of {harm} include damages claimed by any person or organization for care, loss of "
    "services or death resulting at any time from the {harm}.",
    'You must see to it that we are notified as soon as practicable of an "occurrence" or an offense which '
    'may result in a claim, including how, when and where the "occurrence" or offense took place.',
    "The {cgl_limit} is the most we will pay for the sum of {cgl_sum}.",
    "The premium shown in the Declarations as advance premium is a deposit premium only; at the "
    "close of each "
    "audit period we will compute the earned premium for that period.",
    'This insurance applies to {harm} only if it is caused by an "occurrence" that takes place in the '
    '"coverage territory" and occurs during the policy period.',
    "Except with respect to the Limits of Insurance, this insurance applies as if each Named Insured "
    "were the "
    'only Named Insured, and separately to each insured against whom claim is made or "suit" is brought.',
    "If other valid and collectible insurance is available to the insured for a loss we cover, our "
    "obligations "
    "are limited as described in the Other Insurance condition.",
    "No insured will, except at that insured's own cost, voluntarily make a payment, assume any "
    "obligation, or "
    "incur any expense, other than for first aid, without our consent.",
)

_CGL_SLOTS: Final[dict[str, tuple[str, ...]]] = {
    "harm": ('"bodily injury"', '"property damage"', '"personal and advertising injury"'),
    "source": (
        'the ownership, maintenance or use of any aircraft, "auto" or watercraft owned or operated by any insured',
        'the actual, alleged or threatened discharge, dispersal, seepage or release of "pollutants"',
        "the rendering of or failure to render any professional service",
        "any access to or disclosure of any person's or organization's confidential or personal information",
        'the failure of "your product" or "your work" to meet the level of performance represented',
        "any obligation under a workers' compensation, disability benefits or unemployment compensation law",
        "the selling, serving or furnishing of any alcoholic beverage",
    ),
    "cgl_limit": (
        "General Aggregate Limit",
        "Products-Completed Operations Aggregate Limit",
        "Each Occurrence Limit",
        "Personal And Advertising Injury Limit",
        "Medical Expense Limit",
    ),
    "cgl_sum": (
        "damages under Coverage A and medical expenses under Coverage C",
        'all "bodily injury" and "property damage" arising out of any one "occurrence"',
        'damages under Coverage B because of all "personal and advertising injury" sustained by any one person',
    ),
}

_HO_SECTIONS: Final = (
    _Section("DEFINITIONS", (_Sub("", mode="definitions"),)),
    _Section(
        "SECTION I - PROPERTY COVERAGES",
        (
            _Sub("Coverage A - Dwelling", ("Dwelling", "Attached Structures", "Materials And Supplies")),
            _Sub("Coverage B - Other Structures", ("Separated Structures", "Structures Rented To Others")),
            _Sub(
                "Coverage C - Personal Property",
                ("Covered Property", "Special Limits Of Liability", "Property Not Covered"),
            ),
            _Sub(
                "Coverage D - Loss Of Use",
                ("Additional Living Expense", "Fair Rental Value", "Civil Authority"),
            ),
            _Sub(
                "Additional Coverages",
                (
                    "Debris Removal",
                    "Reasonable Repairs",
                    "Trees, Shrubs And Other Plants",
                    "Fire Department Service Charge",
                    "Collapse",
                    "Loss Assessment",
                ),
            ),
        ),
    ),
    _Section(
        "SECTION I - PERILS INSURED AGAINST",
        (
            _Sub("Coverage A - Dwelling And Coverage B - Other Structures", ("Collapse", "Freezing", "Seepage")),
            _Sub(
                "Coverage C - Personal Property",
                ("Fire Or Lightning", "Windstorm Or Hail", "Theft", "Falling Objects", "Freezing"),
            ),
        ),
    ),
    _Section(
        "SECTION I - EXCLUSIONS",
        (
            _Sub(
                "Exclusions Applying To All Coverages",
                (
                    "Ordinance Or Law",
                    "Earth Movement",
                    "Water",
                    "Power Failure",
                    "Neglect",
                    "War",
                    "Nuclear Hazard",
                    "Intentional Loss",
                    "Governmental Action",
                ),
            ),
            _Sub(
                "Exclusions Applying To Coverages A And B",
                ("Weather Conditions", "Acts Or Decisions", "Faulty, Inadequate Or Defective Planning"),
            ),
        ),
    ),
    _Section(
        "SECTION I - CONDITIONS",
        (
            _Sub("Insurable Interest And Limit Of Liability"),
            _Sub(
                "Duties After Loss",
                (
                    "Give prompt notice",
                    "Notify the police in case of theft",
                    "Protect the property",
                    "Prepare an inventory",
                    "Send a signed, sworn proof of loss",
                ),
            ),
            _Sub("Loss Settlement", ("Property Of The Following Types", "Buildings Covered Under Coverage A")),
            _Sub("Appraisal"),
            _Sub("Mortgage Clause"),
        ),
    ),
    _Section(
        "SECTION II - LIABILITY COVERAGES",
        (
            _Sub("Coverage E - Personal Liability", ("Pay up to our limit", "Provide a defense")),
            _Sub(
                "Coverage F - Medical Payments To Others",
                ("On the insured location", "Off the insured location"),
            ),
        ),
    ),
    _Section(
        "SECTION II - EXCLUSIONS",
        (
            _Sub(
                "Motor Vehicle, Watercraft And Aircraft Liability",
                ("Motor Vehicle Liability", "Watercraft Liability", "Aircraft Liability"),
            ),
            _Sub(
                "Coverage E - Personal Liability And Coverage F - Medical Payments To Others",
                (
                    "Expected Or Intended Injury",
                    '"Business"',
                    "Professional Services",
                    "Communicable Disease",
                    "Controlled Substance",
                ),
            ),
        ),
    ),
    _Section(
        "SECTIONS I AND II - CONDITIONS",
        (
            _Sub("Liberalization Clause"),
            _Sub("Cancellation", ("When you cancel", "When we cancel", "Return premium")),
            _Sub("Nonrenewal"),
            _Sub("Concealment Or Fraud"),
        ),
    ),
)

_HO_DEFINITIONS: Final = (
    (
        '"Bodily injury"',
        "means bodily harm, sickness or disease, including required care, loss of services and death that results.",
    ),
    (
        '"Business"',
        "means a trade, profession or occupation engaged in on a full-time, part-time or occasional "
        "basis, or any other activity engaged in for money or other compensation.",
    ),
    (
        '"Insured"',
        "means you and residents of your household who are your relatives, or other persons under the "
        "age of 21 and in the care of any person named above.",
    ),
    (
        '"Insured location"',
        'means the "residence premises", any premises used by you in connection with the '
        '"residence premises", and any part of a premises not owned by an "insured" where an "insured" is '
        "temporarily residing.",
    ),
    (
        '"Occurrence"',
        "means an accident, including continuous or repeated exposure to substantially the same "
        'general harmful conditions, which results during the policy period in "bodily injury" or "property '
        'damage".',
    ),
    ('"Property damage"', "means physical injury to, destruction of, or loss of use of tangible property."),
    (
        '"Residence employee"',
        'means an employee of an "insured" whose duties are related to the maintenance '
        'or use of the "residence premises", including household or domestic services.',
    ),
    (
        '"Residence premises"',
        "means the one-family dwelling where you reside and which is shown as the "
        '"residence premises" in the Declarations.',
    ),
)

_AUTO_SECTIONS: Final = (
    _Section("DEFINITIONS", (_Sub("", mode="definitions"),)),
    _Section(
        "PART A - LIABILITY COVERAGE",
        (
            _Sub("Insuring Agreement", ('"Insured" as used in this Part', "Covered persons")),
            _Sub(
                "Supplementary Payments",
                (
                    "Bail bonds",
                    "Premiums on appeal bonds",
                    "Interest accruing after a judgment",
                    "Loss of earnings",
                ),
            ),
            _Sub(
                "Exclusions",
                (
                    "Intentional acts",
                    "Property owned or transported",
                    "Public or livery conveyance",
                    "Vehicle business",
                    "Vehicles with fewer than four wheels",
                ),
            ),
            _Sub("Limit Of Liability"),
            _Sub("Out Of State Coverage"),
            _Sub("Other Insurance"),
        ),
    ),
    _Section(
        "PART B - MEDICAL PAYMENTS COVERAGE",
        (
            _Sub("Insuring Agreement", ("Occupying a motor vehicle", "As a pedestrian")),
            _Sub(
                "Exclusions",
                (
                    "Motorized vehicles with fewer than four wheels",
                    "Public or livery conveyance",
                    "Vehicle used as a residence",
                ),
            ),
            _Sub("Limit Of Liability"),
        ),
    ),
    _Section(
        "PART C - UNINSURED MOTORISTS COVERAGE",
        (
            _Sub("Insuring Agreement", ('"Uninsured motor vehicle"', "Hit-and-run vehicle")),
            _Sub("Exclusions", ("Settlement without consent", "Public or livery conveyance")),
            _Sub("Limit Of Liability"),
            _Sub("Arbitration", ("Selection of arbitrators", "Expenses of arbitration")),
        ),
    ),
    _Section(
        "PART D - COVERAGE FOR DAMAGE TO YOUR AUTO",
        (
            _Sub("Insuring Agreement", ("Collision", "Other than collision")),
            _Sub("Transportation Expenses"),
            _Sub(
                "Exclusions",
                (
                    "Wear and tear",
                    "Mechanical or electrical breakdown",
                    "Racing",
                    "Confiscation by governmental authority",
                    "Electronic equipment",
                ),
            ),
            _Sub("Limit Of Liability"),
            _Sub("Payment Of Loss"),
            _Sub("Appraisal"),
        ),
    ),
    _Section(
        "PART E - DUTIES AFTER AN ACCIDENT OR LOSS",
        (
            _Sub("General Duties", ("Prompt notice", "Cooperation", "Legal papers", "Medical examination")),
            _Sub(
                "Additional Duties For Coverage For Damage To Your Auto",
                ("Prevent further loss", "Notify the police", "Permit inspection"),
            ),
        ),
    ),
    _Section(
        "PART F - GENERAL PROVISIONS AND CONDITIONS",
        (
            _Sub("Bankruptcy"),
            _Sub("Changes"),
            _Sub("Fraud"),
            _Sub("Policy Period And Territory", ("Policy period", "Policy territory")),
            _Sub("Termination", ("Cancellation", "Nonrenewal", "Automatic termination")),
            _Sub("Two Or More Auto Policies"),
        ),
    ),
)

_AUTO_DEFINITIONS: Final = (
    ('"Bodily injury"', "means bodily harm, sickness or disease, including death that results."),
    ('"Business"', "includes trade, profession or occupation."),
    (
        '"Family member"',
        "means a person related to you by blood, marriage or adoption who is a resident of your "
        "household, including a ward or foster child.",
    ),
    ('"Occupying"', "means in, upon, getting in, on, out or off."),
    ('"Property damage"', "means physical injury to, destruction of or loss of use of tangible property."),
    (
        '"Trailer"',
        "means a vehicle designed to be pulled by a private passenger auto or pickup or van, or a "
        "farm wagon or farm implement while towed by such a vehicle.",
    ),
    (
        '"Your covered auto"',
        "means any vehicle shown in the Declarations, a newly acquired auto, any "
        '"trailer" you own, and any temporary substitute for such a vehicle.',
    ),
    (
        '"Non-owned auto"',
        'means any private passenger auto, pickup, van or "trailer" not owned by or furnished '
        'or available for the regular use of you or any "family member".',
    ),
)

_HEALTH_SECTIONS: Final = (
    _Section("DEFINITIONS", (_Sub("", mode="definitions"),)),
    _Section(
        "SECTION 1 - COMMON MEDICAL EVENTS",
        (
            _Sub(
                "If You Visit A Health Care Provider's Office Or Clinic",
                (
                    "Primary care visit to treat an injury or illness",
                    "Specialist visit",
                    "Preventive care/screening/immunization",
                ),
                "services",
            ),
            _Sub(
                "If You Have A Test",
                ("Diagnostic test (x-ray, blood work)", "Imaging (CT/PET scans, MRIs)"),
                "services",
            ),
            _Sub(
                "If You Need Drugs To Treat Your Illness Or Condition",
                (
                    "Generic drugs (Tier 1)",
                    "Preferred brand drugs (Tier 2)",
                    "Non-preferred brand drugs (Tier 3)",
                    "Specialty drugs (Tier 4)",
                ),
                "services",
            ),
            _Sub(
                "If You Have Outpatient Surgery",
                ("Facility fee (e.g., ambulatory surgery center)", "Physician/surgeon fees"),
                "services",
            ),
            _Sub(
                "If You Need Immediate Medical Attention",
                ("Emergency room care", "Emergency medical transportation", "Urgent care"),
                "services",
            ),
            _Sub(
                "If You Have A Hospital Stay",
                ("Facility fee (e.g., hospital room)", "Physician/surgeon fees"),
                "services",
            ),
            _Sub(
                "If You Need Mental Health, Behavioral Health, Or Substance Use Disorder Services",
                ("Outpatient services", "Inpatient services"),
                "services",
            ),
            _Sub(
                "If You Are Pregnant",
                (
                    "Office visits",
                    "Childbirth/delivery professional services",
                    "Childbirth/delivery facility services",
                ),
                "services",
            ),
        ),
    ),
    _Section(
        "SECTION 2 - EXCLUSIONS AND LIMITATIONS",
        (
            _Sub(
                "Excluded Services",
                (
                    "Cosmetic surgery",
                    "Dental care (adult)",
                    "Long-term care",
                    "Non-emergency care when traveling outside the U.S.",
                    "Private-duty nursing",
                    "Routine foot care",
                    "Weight loss programs",
                ),
            ),
            _Sub(
                "Other Covered Services (Limitations May Apply)",
                (
                    "Acupuncture (20 visits per year)",
                    "Bariatric surgery",
                    "Chiropractic care",
                    "Hearing aids",
                    "Routine eye care (adult)",
                ),
            ),
        ),
    ),
    _Section(
        "SECTION 3 - CONDITIONS OF COVERAGE",
        (
            _Sub(
                "Eligibility And Enrollment",
                ("Eligible employees", "Eligible dependents", "Special enrollment periods"),
            ),
            _Sub("Preauthorization", ("Services requiring preauthorization", "Timelines for decisions")),
            _Sub("Coordination Of Benefits"),
            _Sub("Your Rights To Continue Coverage"),
            _Sub(
                "Your Grievance And Appeals Rights",
                ("Internal appeal", "External review", "Expedited appeal"),
            ),
            _Sub("Claims Submission"),
        ),
    ),
    _Section(
        "SECTION 4 - COVERAGE EXAMPLES",
        (
            _Sub(
                "Jordan Is Having A Baby (9 Months Of In-Network Pre-Natal Care And A Hospital Delivery)",
                mode="example",
            ),
            _Sub("Managing Alex's Type 2 Diabetes (A Year Of Routine In-Network Care)", mode="example"),
            _Sub("Casey's Simple Fracture (In-Network Emergency Room Visit And Follow Up Care)", mode="example"),
        ),
    ),
)

_HEALTH_DEFINITIONS: Final = (
    (
        "Allowed Amount",
        "means the maximum amount on which payment is based for covered health care services.",
    ),
    (
        "Balance Billing",
        "means when a provider bills you for the difference between the provider's charge and the allowed amount.",
    ),
    (
        "Coinsurance",
        "means your share of the costs of a covered health care service, calculated as a percent of "
        "the allowed amount for the service.",
    ),
    (
        "Copayment",
        "means a fixed amount you pay for a covered health care service, usually when you receive the service.",
    ),
    (
        "Deductible",
        "means the amount you owe for covered health care services before your plan begins to pay.",
    ),
    (
        "Out-of-Pocket Limit",
        "means the most you pay during a policy period before your plan begins to pay 100% of the allowed amount.",
    ),
    (
        "Preauthorization",
        "means a decision by your plan that a health care service, treatment plan or drug is medically necessary.",
    ),
    (
        "Network Provider",
        "means a provider who has a contract with your plan to provide services to you at a discount.",
    ),
)

_CGL_SECTIONS: Final = (
    _Section(
        "SECTION I - COVERAGES",
        (
            _Sub(
                "Coverage A - Bodily Injury And Property Damage Liability",
                ("Insuring Agreement", "Coverage territory", "Known injury or damage"),
            ),
            _Sub(
                "Coverage B - Personal And Advertising Injury Liability",
                ("Insuring Agreement", "Offenses covered"),
            ),
            _Sub("Coverage C - Medical Payments", ("Insuring Agreement", "Amounts we will pay")),
            _Sub(
                "Supplementary Payments - Coverages A And B",
                (
                    "Expenses we incur",
                    "Cost of bail bonds",
                    "Reasonable expenses incurred by the insured",
                    "Prejudgment interest",
                ),
            ),
        ),
    ),
    _Section(
        "SECTION I - EXCLUSIONS",
        (
            _Sub(
                "Exclusions Applicable To Coverage A",
                (
                    "Expected Or Intended Injury",
                    "Contractual Liability",
                    "Liquor Liability",
                    "Workers' Compensation And Similar Laws",
                    "Pollution",
                    "Aircraft, Auto Or Watercraft",
                    "Damage To Your Product",
                    "Damage To Your Work",
                    "Recall Of Products, Work Or Impaired Property",
                ),
            ),
            _Sub(
                "Exclusions Applicable To Coverage B",
                (
                    "Knowing Violation Of Rights Of Another",
                    "Material Published With Knowledge Of Falsity",
                    "Breach Of Contract",
                    "Infringement Of Copyright, Patent, Trademark Or Trade Secret",
                ),
            ),
            _Sub("Exclusions Applicable To Coverage C", ("Any Insured", "Hired Person", "Athletics Activities")),
        ),
    ),
    _Section(
        "SECTION II - WHO IS AN INSURED",
        (
            _Sub(
                "Named Insured Designations",
                (
                    "An individual",
                    "A partnership or joint venture",
                    "A limited liability company",
                    "An organization",
                ),
            ),
            _Sub("Employees And Volunteer Workers"),
            _Sub("Newly Acquired Organizations"),
        ),
    ),
    _Section(
        "SECTION III - LIMITS OF INSURANCE",
        (
            _Sub("General Aggregate Limit"),
            _Sub("Products-Completed Operations Aggregate Limit"),
            _Sub("Each Occurrence Limit"),
            _Sub("Damage To Premises Rented To You Limit"),
        ),
    ),
    _Section(
        "SECTION IV - COMMERCIAL GENERAL LIABILITY CONDITIONS",
        (
            _Sub("Bankruptcy"),
            _Sub(
                "Duties In The Event Of Occurrence, Offense, Claim Or Suit",
                ("Notice of occurrence", "Notice of claim or suit", "Cooperation"),
            ),
            _Sub("Other Insurance", ("Primary insurance", "Excess insurance", "Method of sharing")),
            _Sub("Premium Audit"),
            _Sub("Separation Of Insureds"),
            _Sub("Transfer Of Rights Of Recovery Against Others To Us"),
        ),
    ),
    _Section("SECTION V - DEFINITIONS", (_Sub("", mode="definitions"),)),
)

_CGL_DEFINITIONS: Final = (
    (
        '"Advertisement"',
        "means a notice that is broadcast or published to the general public or specific "
        "market segments about your goods, products or services for the purpose of attracting customers.",
    ),
    (
        '"Auto"',
        "means a land motor vehicle, trailer or semitrailer designed for travel on public roads, "
        "including any attached machinery or equipment.",
    ),
    (
        '"Bodily injury"',
        "means bodily injury, sickness or disease sustained by a person, including death "
        "resulting from any of these at any time.",
    ),
    (
        '"Coverage territory"',
        "means the United States of America (including its territories and possessions), "
        "Puerto Rico and Canada, and international waters or airspace during travel between them.",
    ),
    (
        '"Occurrence"',
        "means an accident, including continuous or repeated exposure to substantially the same "
        "general harmful conditions.",
    ),
    (
        '"Pollutants"',
        "mean any solid, liquid, gaseous or thermal irritant or contaminant, including smoke, vapor, "
        "soot, fumes, acids, alkalis, chemicals and waste.",
    ),
    (
        '"Products-completed operations hazard"',
        'includes all "bodily injury" and "property damage" occurring '
        'away from premises you own or rent and arising out of "your product" or "your work".',
    ),
    (
        '"Suit"',
        'means a civil proceeding in which damages because of "bodily injury", "property damage" or '
        '"personal and advertising injury" to which this insurance applies are alleged.',
    ),
    (
        '"Your work"',
        "means work or operations performed by you or on your behalf, and materials, parts or "
        "equipment furnished in connection with such work or operations.",
    ),
)

_PROFILES: Final[dict[str, _Profile]] = {
    "homeowners_policy": _Profile(
        kind="homeowners_policy",
        stem="homeowners-policy-HO3",
        carriers=("Harborline Mutual Insurance Company", "Maplecrest Home Assurance Co."),
        number_prefix="HO3",
        form_number="HO 00 03 05 11",
        form_title="HOMEOWNERS 3 - SPECIAL FORM",
        edition="05 11",
        agreement="We will provide the insurance described in this policy in return for the premium and "
        "compliance with all applicable provisions of this policy.",
        sections=_HO_SECTIONS,
        definitions=_HO_DEFINITIONS,
        templates=_HO_TEMPLATES,
        slots=_HO_SLOTS,
        bullets=_HO_SLOTS["ho_peril"] + _HO_SLOTS["ho_addl"],
        bullet_intros=(
            "This coverage applies to direct physical loss caused by the following perils:",
            "The following additional coverages are subject to the deductible shown in the Declarations:",
            "We do not cover loss to property described in this section caused by:",
        ),
        endorsements=(
            ("HO 04 90", "Personal Property Replacement Cost Loss Settlement"),
            ("HO 04 61", "Scheduled Personal Property Endorsement"),
            ("HO 04 16", "Premises Alarm Or Fire Protection System"),
            ("HO 04 95", "Water Back-up And Sump Discharge Or Overflow"),
            ("HO 04 20", "Specified Additional Amount Of Insurance For Coverage A"),
            ("HO 04 41", "Additional Insured - Residence Premises"),
            ("HO 04 42", "Permitted Incidental Occupancies - Residence Premises"),
            ("HO 04 65", "Coverage C Increased Special Limits Of Liability"),
            ("HO 24 82", "Personal Injury"),
        ),
        declarations=_ho_declarations,
        demo_pages=5,
    ),
    "auto_declarations": _Profile(
        kind="auto_declarations",
        stem="auto-declarations-PAP",
        carriers=("Copperline Casualty Company", "Roadwise Mutual Auto Insurance Co."),
        number_prefix="PA",
        form_number="PP 00 01 09 18",
        form_title="PERSONAL AUTO POLICY",
        edition="09 18",
        agreement="In return for payment of the premium and subject to all the terms of this policy, "
        "we agree with you as follows.",
        sections=_AUTO_SECTIONS,
        definitions=_AUTO_DEFINITIONS,
        templates=_AUTO_TEMPLATES,
        slots=_AUTO_SLOTS,
        bullets=_AUTO_SLOTS["auto_peril"] + _AUTO_SLOTS["auto_prop"],
        bullet_intros=(
            'Loss caused by the following is considered other than "collision":',
            "This coverage applies to the following vehicles and equipment:",
            "We will not pay for loss to any of the following:",
        ),
        endorsements=(
            ("PP 03 03", "Towing And Labor Costs Coverage"),
            ("PP 03 02", "Coverage For Damage To Your Auto (Maximum Limit Of Liability)"),
            ("PP 03 13", "Extended Non-Owned Coverage - Vehicles Furnished Or Available For Regular Use"),
            ("PP 03 06", "Named Non-Owner Coverage"),
            ("PP 03 22", "Named Driver Exclusion"),
            ("PP 13 01", "Coverage For Audio, Visual And Data Electronic Equipment"),
        ),
        declarations=_auto_declarations,
        demo_pages=4,
        term_months=6,
    ),
    "health_benefits_summary": _Profile(
        kind="health_benefits_summary",
        stem="health-benefits-summary-SBC",
        carriers=("Ellisworth Health Alliance", "Bluefen Health Plan, Inc."),
        number_prefix="HB",
        form_number="HB 00 10 01 26",
        form_title="SUMMARY OF BENEFITS AND COVERAGE",
        edition="01 26",
        agreement="This Summary of Benefits and Coverage (SBC) document will help you choose a health "
        "plan. The SBC shows you how you and the plan would share the cost for covered health care services. "
        "This is only a summary; the plan document controls.",
        sections=_HEALTH_SECTIONS,
        definitions=_HEALTH_DEFINITIONS,
        templates=_HEALTH_TEMPLATES,
        slots=_HEALTH_SLOTS,
        bullets=_HEALTH_SLOTS["svc"],
        bullet_intros=(
            "Services your plan generally does NOT cover (check your policy for more information):",
            "Other covered services (limitations may apply to these services):",
            "The following services require preauthorization:",
        ),
        endorsements=(
            ("HB 20 14", "Pediatric Dental Rider"),
            ("HB 20 22", "Adult Vision Rider"),
            ("HB 21 03", "Infertility Services Rider"),
            ("HB 22 41", "Domestic Partner Coverage Endorsement"),
            ("HB 23 10", "Telehealth Services Endorsement"),
        ),
        declarations=_health_declarations,
        demo_pages=4,
    ),
    "commercial_policy": _Profile(
        kind="commercial_policy",
        stem="commercial-general-liability-CGL",
        carriers=("Granitefield Indemnity Company", "Ironmark Commercial Insurance Co."),
        number_prefix="CGL",
        form_number="CG 00 01 04 13",
        form_title="COMMERCIAL GENERAL LIABILITY COVERAGE FORM",
        edition="04 13",
        agreement="Various provisions in this policy restrict coverage. Read the entire policy carefully to "
        'determine rights, duties and what is and is not covered. Throughout this policy the words "you" and '
        '"your" refer to the Named Insured shown in the Declarations.',
        sections=_CGL_SECTIONS,
        definitions=_CGL_DEFINITIONS,
        templates=_CGL_TEMPLATES,
        slots=_CGL_SLOTS,
        bullets=_CGL_SLOTS["source"],
        bullet_intros=(
            "This insurance does not apply to damages arising out of:",
            "Each of the following is also an insured:",
            "The limits apply regardless of the number of:",
        ),
        endorsements=(
            (
                "CG 20 10",
                "Additional Insured - Owners, Lessees Or Contractors - Scheduled Person Or Organization",
            ),
            ("CG 21 47", "Employment-Related Practices Exclusion"),
            ("CG 24 04", "Waiver Of Transfer Of Rights Of Recovery Against Others To Us"),
            ("CG 21 06", "Exclusion - Access Or Disclosure Of Confidential Or Personal Information"),
            ("CG 25 03", "Designated Construction Project(s) General Aggregate Limit"),
            ("CG 21 67", "Fungi Or Bacteria Exclusion"),
        ),
        declarations=_cgl_declarations,
        demo_pages=5,
    ),
}

_KINDS: Final = tuple(_PROFILES)

# ----------------------------------------------------------------------------------------------------
# Composition: declarations, policy form, endorsements, sized to a page budget
# ----------------------------------------------------------------------------------------------------

_SLOT = re.compile(r"\{(\w+)\}")
_MIN_SUB: Final = 0.2  # pages a subsection needs at least (heading, a short paragraph, a clause or two)
_MAX_SUB: Final = 1.25
_SECTION_COST: Final = 0.07
_ENDORSEMENT_RESERVE: Final = 0.45


class _Lang:
    """Policy-language generator: fills the kind's sentence templates from its slot vocabularies."""

    def __init__(self, rng: random.Random, profile: _Profile) -> None:
        self._rng = rng
        self._slots: dict[str, tuple[str, ...]] = {**_COMMON_SLOTS, **profile.slots}
        self._templates: tuple[str, ...] = profile.templates + _COMMON_TEMPLATES
        self._profile = profile

    def _fill(self, match: re.Match[str]) -> str:
        return self._rng.choice(self._slots[match.group(1)])

    def _realise(self, template: str) -> str:
        text = _SLOT.sub(self._fill, template)
        return text[:1].upper() + text[1:]

    def sentence(self) -> str:
        return self._realise(self._rng.choice(self._templates))

    def paragraph(self, low: int = 2, high: int = 4) -> str:
        chosen = self._rng.sample(self._templates, self._rng.randint(low, high))
        return " ".join(self._realise(t) for t in chosen)

    def item(self, lead: str = "") -> _Item:
        children: tuple[str, ...] = ()
        if self._rng.random() < 0.3:
            children = tuple(self.sentence() for _ in range(self._rng.randint(2, 3)))
        return _Item(self.paragraph(1, 2), lead=f"{lead}." if lead else "", children=children)

    def bullets(self) -> tuple[_Para, _List]:
        intro = _Para(self._rng.choice(self._profile.bullet_intros))
        picked = self._rng.sample(self._profile.bullets, min(len(self._profile.bullets), self._rng.randint(3, 6)))
        return intro, _List("bullet", tuple(_Item(b[0].upper() + b[1:]) for b in picked))


def _compose(
    profile: _Profile, ctx: _Context, rng: random.Random, sink: _Sink, budget: float, *, complete: bool
) -> None:
    """Feed `sink` one policy: declarations, the policy form and endorsements, stopping near `budget` pages.

    With `complete`, every section and one endorsement appear whatever the budget.
    """
    lang = _Lang(rng, profile)
    for block in profile.declarations(profile, ctx, rng):
        sink.add(block)
    if not complete and sink.used >= budget:
        return
    sink.add(_Break())
    sink.add(_Title(profile.form_title, subtitle=profile.form_number, major=False))
    sink.add(_Heading(1, "AGREEMENT"))
    sink.add(_Para(profile.agreement))

    body_end = budget - _ENDORSEMENT_RESERVE
    sections = profile.sections
    if not complete:
        fit = int((body_end - sink.used) / (_SECTION_COST + _MIN_SUB))
        sections = sections[: max(1, min(len(sections), fit))]
    kept = _pick_subsections(sections, body_end - sink.used - _SECTION_COST * len(sections), rng)

    subs_left = len(kept)
    for s_index, section in enumerate(sections):
        if not complete and sink.used >= budget:
            return
        sink.add(_Heading(1, section.title))
        letter = 0
        for u_index, sub in enumerate(section.subs):
            if (s_index, u_index) not in kept:
                continue
            title = f"{_letter(letter)}. {sub.title}" if sub.title and len(section.subs) > 1 else sub.title
            letter += 1
            # Share what is left of the body budget among the subsections still to come, so that early
            # overshoots are absorbed by later subsections.
            room = body_end - sink.used - _SECTION_COST * (len(sections) - s_index - 1)
            share = min(_MAX_SUB, max(0.0, room / subs_left))
            subs_left -= 1
            _emit_sub(profile, lang, rng, sink, sub, title, sink.used + share)
            if not complete and sink.used >= budget:
                return

    # Endorsements start on a fresh page when one fits; the first may share the last page of the form.
    count = 0
    while True:
        if budget - math.ceil(sink.used) >= 0.35:
            sink.add(_Break())
        elif count or (budget - sink.used < 0.2 and not complete):
            break
        end = min(budget, sink.used + rng.uniform(0.45, 1.4))
        _emit_endorsement(profile, lang, rng, sink, count, end)
        count += 1


def _pick_subsections(sections: tuple[_Section, ...], budget: float, rng: random.Random) -> set[tuple[int, int]]:
    """Keep each section's first subsection and its "Exclusions", plus as many others as the budget allows."""
    first = {
        (s, u)
        for s, section in enumerate(sections)
        for u, sub in enumerate(section.subs)
        if u == 0 or sub.title == "Exclusions"
    }
    others = [(s, u) for s, section in enumerate(sections) for u in range(len(section.subs)) if (s, u) not in first]
    room = max(0, int(budget / (_MIN_SUB + 0.04)) - len(first))
    if room >= len(others):
        return first | set(others)
    return first | set(rng.sample(others, room))


def _emit_sub(  # noqa: C901 - one branch per subsection mode, each stopping when the page is full
    profile: _Profile, lang: _Lang, rng: random.Random, sink: _Sink, sub: _Sub, title: str, end: float
) -> None:
    tight = sink.used + 0.3 > end  # little room: keep the paragraphs short
    if title:
        sink.add(_Heading(2, title))
    number = 1
    if sub.mode == "definitions":
        sink.add(_Para("The following words and phrases have special meaning wherever they appear in this document."))
        for lead, text in profile.definitions:
            sink.add(_List("numbered", (_Item(text, lead=lead),), start=number))
            number += 1
            if sink.used >= end and number > 3:
                return
    elif sub.mode == "services":
        sink.add(_Para(lang.paragraph(1, 2)))
        rows = tuple(
            (
                item,
                rng.choice(("$30 copay/visit", "20% coinsurance", "No charge", "$60 copay/visit", "$250 copay")),
                rng.choice(("40% coinsurance", "50% coinsurance", "Not covered")),
                rng.choice(
                    (
                        "None",
                        "Preauthorization required.",
                        "Deductible does not apply.",
                        "Limited to 30 visits per year.",
                    )
                ),
            )
            for item in sub.items
        )
        sink.add(
            _Grid(
                (
                    "Services You May Need",
                    "Network Provider (You Will Pay the Least)",
                    "Out-of-Network Provider (You Will Pay the Most)",
                    "Limitations, Exceptions & Other Important Information",
                ),
                rows,
                (0.27, 0.22, 0.22, 0.29),
            )
        )
    elif sub.mode == "example":
        costs = [
            rng.randrange(20, 130) * 100,
            rng.choice((1500, 2000, 3000)),
            rng.randrange(1, 30) * 10,
            rng.randrange(2, 40) * 50,
            rng.randrange(0, 10) * 10,
        ]
        sink.add(
            _Para(
                "This is not a cost estimator. Treatments shown are just examples of how this plan might "
                "cover medical care; your actual costs will be different.",
                style="small",
            )
        )
        sink.add(
            _Grid(
                ("In this example, the member would pay:", "Cost"),
                (
                    ("Total Example Cost", _money(costs[0])),
                    ("Deductibles", _money(costs[1])),
                    ("Copayments", _money(costs[2])),
                    ("Coinsurance", _money(costs[3])),
                    ("Limits or exclusions", _money(costs[4])),
                ),
                (0.7, 0.3),
                ("The total the member would pay is", _money(sum(costs[1:]))),
            )
        )
    else:
        sink.add(_Para(lang.paragraph(1, 2) if tight else lang.paragraph(2, 4)))
        for lead in sub.items:
            sink.add(_List("numbered", (lang.item(lead),), start=number))
            number += 1
            if sink.used >= end:
                return
    while sink.used < end:
        roll = rng.random()
        if roll < 0.5:
            sink.add(_Para(lang.paragraph()))
        elif roll < 0.75:
            for block in lang.bullets():
                sink.add(block)
        else:
            items = tuple(lang.item() for _ in range(rng.randint(2, 3)))
            sink.add(_List("numbered", items, start=number))
            number += len(items)


def _emit_endorsement(profile: _Profile, lang: _Lang, rng: random.Random, sink: _Sink, index: int, end: float) -> None:
    code, name = profile.endorsements[index % len(profile.endorsements)]
    rounds = index // len(profile.endorsements)
    if rounds:
        name = f"{name} - Amendment {rounds}"
    tight = sink.used + 0.35 > end  # little room: a short endorsement without a schedule
    sink.add(_Heading(1, "ENDORSEMENT"))
    sink.add(_Para("THIS ENDORSEMENT CHANGES THE POLICY. PLEASE READ IT CAREFULLY.", style="notice"))
    sink.add(_Heading(2, f"{code} {profile.edition} - {name}"))
    sink.add(
        _Para(
            f"This endorsement modifies insurance provided under the following: {profile.form_title}.",
            style="small",
        )
    )
    if not tight and rng.random() < 0.6:
        rows = tuple(
            (
                str(n),
                rng.choice(
                    (
                        "Description on file with the company",
                        "As shown in the Declarations",
                        f"Location {n}: {rng.randrange(100, 999)} {rng.choice(_STREETS)}",
                    )
                ),
                _money(rng.randrange(1, 60) * 500),
                _money(rng.randrange(5, 300), cents=True),
            )
            for n in range(1, rng.randint(2, 4))
        )
        sink.add(_Heading(2, "SCHEDULE"))
        sink.add(_Grid(("Item", "Description", "Limit", "Premium"), rows, (0.1, 0.5, 0.2, 0.2)))
    sink.add(_Para(lang.paragraph(1, 2) if tight else lang.paragraph(2, 3)))
    number = 1
    while number == 1 or sink.used < end:  # at least one numbered clause
        roll = 0.0 if number == 1 else rng.random()
        if roll < 0.55:
            items = tuple(lang.item() for _ in range(rng.randint(1, 2 if tight else 3)))
            sink.add(_List("numbered", items, start=number))
            number += len(items)
        elif roll < 0.8:
            sink.add(_Para(lang.paragraph()))
        else:
            for block in lang.bullets():
                sink.add(block)
    sink.add(_Para("All other terms and conditions of this policy remain unchanged.", style="small"))


# ----------------------------------------------------------------------------------------------------
# What a declarations page prints, for benchmarks that need the truth (bench/fields)
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeclaredCoverage:
    """One row of a declarations page's coverage table, each cell as printed."""

    name: str
    limit: str
    deductible: str
    premium: str


@dataclass(frozen=True)
class DeclaredValues:
    """The values a generated document's declarations page prints, as printed (en dashes included).

    ``premium`` is the coverage table's total (its label in ``premium_label``); ``answers`` holds a health
    summary's "Important Questions" with their answers; ``rows`` every label/value row of the header box.
    """

    kind: str
    carrier: str
    policy_number: str
    named_insured: str | None
    effective: date
    expiration: date
    premium: str | None
    premium_label: str | None
    coverages: tuple[DeclaredCoverage, ...]
    answers: tuple[tuple[str, str], ...]
    rows: tuple[tuple[str, str], ...]


_COVERAGE_HEADER: Final = ("Coverage", "Limit", "Deductible", "Premium")
_POLICY_NUMBER_LABELS: Final = ("Policy Number", "Group / Policy Number")


class _RecordingSink:
    """Passes blocks on to a sink and keeps them, so the values a document prints can be read back."""

    def __init__(self, inner: _Sink, record: list[_Block]) -> None:
        self._inner = inner
        self._record = record

    @property
    def used(self) -> float:
        return self._inner.used

    def add(self, block: _Block) -> None:
        self._record.append(block)
        self._inner.add(block)


def _declared_values(profile: _Profile, ctx: _Context, blocks: list[_Block]) -> DeclaredValues:
    """Read the declarations (the blocks before the first page break) as the PDF prints them."""
    end = next((i for i, block in enumerate(blocks) if isinstance(block, _Break)), len(blocks))
    rows: tuple[tuple[str, str], ...] = ()
    coverages: tuple[DeclaredCoverage, ...] = ()
    answers: tuple[tuple[str, str], ...] = ()
    premium = premium_label = None
    for block in blocks[:end]:
        match block:
            case _Fields(rows=fields):
                rows += tuple((label, _typeset(value)) for label, value in fields)
            case _Grid(header=header, rows=grid, totals=totals) if header == _COVERAGE_HEADER:
                coverages = tuple(DeclaredCoverage(*(_typeset(cell) for cell in row)) for row in grid)
                if totals is not None:
                    premium_label, premium = _typeset(totals[0]), _typeset(totals[-1])
            case _Grid(header=header, rows=grid) if header[0] == "Important Questions":
                answers = tuple((_typeset(row[0]), _typeset(row[1])) for row in grid)
            case _:
                pass
    by_label = dict(rows)
    number = next(by_label[label] for label in _POLICY_NUMBER_LABELS if label in by_label)
    return DeclaredValues(
        kind=profile.kind,
        carrier=_typeset(ctx.carrier),
        policy_number=number,
        named_insured=by_label.get("Named Insured"),
        effective=ctx.effective,
        expiration=ctx.expiration,
        premium=premium,
        premium_label=premium_label,
        coverages=coverages,
        answers=answers,
        rows=rows,
    )


# ----------------------------------------------------------------------------------------------------
# PDF rendering (reportlab platypus)
# ----------------------------------------------------------------------------------------------------

_PAGE_W: Final[float] = float(LETTER[0])
_PAGE_H: Final[float] = float(LETTER[1])
_MARGIN_X: Final = 54.0
_MARGIN_TOP: Final = 66.0
_MARGIN_BOTTOM: Final = 58.0
_HEADER_Y: Final = _PAGE_H - 40.0
_FOOTER_Y: Final = 32.0
_FRAME_PAD: Final = 6.0  # SimpleDocTemplate's frame padding on every side
_TEXT_W: Final = _PAGE_W - 2 * _MARGIN_X - 2 * _FRAME_PAD
_TEXT_H: Final = _PAGE_H - _MARGIN_TOP - _MARGIN_BOTTOM - 2 * _FRAME_PAD
_PDF_SLACK: Final = 0.4  # aim this far below the requested page count: the last block may overshoot


def _styles() -> dict[str, Any]:
    base = {"fontName": "Helvetica", "fontSize": 9.2, "leading": 11.8}
    return {
        "body": ParagraphStyle("body", **base, alignment=TA_JUSTIFY, spaceAfter=5),
        "small": ParagraphStyle("small", **{**base, "fontSize": 8.2, "leading": 10.2}, spaceAfter=5),
        "notice": ParagraphStyle(
            "notice",
            **{**base, "fontName": "Helvetica-Bold"},
            alignment=TA_CENTER,
            spaceBefore=2,
            spaceAfter=6,
        ),
        "item": ParagraphStyle("item", **base, alignment=TA_JUSTIFY, leftIndent=20, bulletIndent=4, spaceAfter=3),
        "child": ParagraphStyle("child", **base, alignment=TA_JUSTIFY, leftIndent=40, bulletIndent=24, spaceAfter=2),
        "h1": ParagraphStyle(
            "h1", fontName="Helvetica-Bold", fontSize=12.5, leading=15.5, spaceBefore=12, spaceAfter=6
        ),
        "h2": ParagraphStyle("h2", fontName="Helvetica-Bold", fontSize=10.5, leading=13, spaceBefore=8, spaceAfter=4),
        "carrier": ParagraphStyle(
            "carrier", fontName="Helvetica-Bold", fontSize=16, leading=20, alignment=TA_CENTER, spaceAfter=4
        ),
        "title": ParagraphStyle(
            "title", fontName="Helvetica-Bold", fontSize=13.5, leading=17, alignment=TA_CENTER, spaceAfter=2
        ),
        "subtitle": ParagraphStyle(
            "subtitle", fontName="Helvetica", fontSize=9.5, leading=12, alignment=TA_CENTER, spaceAfter=10
        ),
        "cell": ParagraphStyle("cell", fontName="Helvetica", fontSize=8.4, leading=10.2),
        "cell_bold": ParagraphStyle("cell_bold", fontName="Helvetica-Bold", fontSize=8.4, leading=10.2),
    }


def _markup(text: str) -> str:
    return escape(_typeset(text))


class _PdfSink:
    """Turns blocks into platypus flowables while tracking how many pages they fill."""

    def __init__(self) -> None:
        self.flowables: list[Any] = []
        self._styles = _styles()
        self._pages = 0
        self._y = 0.0  # height used on the current page

    @property
    def used(self) -> float:
        return self._pages + self._y / _TEXT_H

    def _new_page(self) -> None:
        if self._y > 0:
            self._pages += 1
            self._y = 0.0

    def _push(self, flowable: Any) -> None:
        self.flowables.append(flowable)
        _, height = flowable.wrap(_TEXT_W, _TEXT_H)
        # Like a platypus frame: space before is dropped at the top of a page, and a flowable fits when
        # it does without its space after. Whatever does not fit is split onto the following pages.
        self._y += float(height) + (float(flowable.getSpaceBefore()) if self._y > 0 else 0.0)
        while self._y > _TEXT_H:
            self._pages += 1
            self._y -= _TEXT_H
        self._y += float(flowable.getSpaceAfter())
        if self._y >= _TEXT_H:
            self._pages += 1
            self._y = 0.0

    def _keep_room(self, height: float) -> None:
        self.flowables.append(CondPageBreak(height))
        if _TEXT_H - self._y < height:
            self._new_page()

    def _para(self, text: str, style: str, bullet: str | None = None) -> None:
        self._push(Paragraph(text, self._styles[style], bulletText=bullet))

    def add(self, block: _Block) -> None:  # noqa: C901 - one case per block kind
        match block:
            case _Title(title=title, carrier=carrier, subtitle=subtitle):
                if carrier:
                    self._para(_markup(carrier), "carrier")
                self._para(_markup(title), "title")
                if subtitle:
                    self._para(_markup(subtitle), "subtitle")
            case _Heading(level=level, text=text):
                self._keep_room(80.0 if level == 1 else 60.0)
                self._para(_markup(text), "h1" if level == 1 else "h2")
            case _Para(text=text, lead=lead, style=style):
                lead_markup = f"<b>{_markup(lead)}</b> " if lead else ""
                self._para(lead_markup + _markup(text), style)
            case _List(style=list_style, items=items, start=start):
                for offset, item in enumerate(items):
                    marker = f"{start + offset}." if list_style == "numbered" else _BULLET
                    lead_markup = f"<b>{_markup(item.lead)}</b> " if item.lead else ""
                    self._para(lead_markup + _markup(item.text), "item", marker)
                    for c_index, child in enumerate(item.children):
                        self._para(_markup(child), "child", f"{'abcdefghij'[c_index % 10]}.")
            case _Fields(rows=rows):
                self._push(
                    self._table(
                        [[self._cell(label, bold=True), self._cell(value)] for label, value in rows],
                        (0.27, 0.73),
                        [
                            ("BOX", (0, 0), (-1, -1), 0.75, colors.black),
                            ("BACKGROUND", (0, 0), (0, -1), colors.Color(0.93, 0.93, 0.93)),
                        ],
                        spacing=8,
                    )
                )
            case _Grid(header=header, rows=rows, widths=widths, totals=totals):
                data = [[self._cell(h, bold=True) for h in header]]
                data += [[self._cell(c) for c in row] for row in rows]
                commands: list[tuple[Any, ...]] = [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.85, 0.88, 0.93)),
                ]
                if totals is not None:
                    data.append([self._cell(c, bold=True) for c in totals])
                    commands.append(("BACKGROUND", (0, -1), (-1, -1), colors.Color(0.93, 0.93, 0.93)))
                self._push(self._table(data, widths, commands, spacing=10))
            case _Break():
                self.flowables.append(PageBreak())
                self._new_page()

    def _cell(self, text: str, *, bold: bool = False) -> Any:
        return Paragraph(_markup(text), self._styles["cell_bold" if bold else "cell"])

    @staticmethod
    def _table(data: list[list[Any]], widths: tuple[float, ...], style: list[tuple[Any, ...]], spacing: float) -> Any:
        table = Table(
            data,
            colWidths=[w * _TEXT_W for w in widths],
            repeatRows=1,
            hAlign="LEFT",
            spaceBefore=4,
            spaceAfter=spacing,
        )
        table.setStyle(
            TableStyle(
                [
                    *style,
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 3),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ]
            )
        )
        return table


class PageCountingCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no type information
    """A canvas that holds pages back until the end so that every footer can say "Page N of M"
    (``_draw_footer``, each generator's own); ``page_total`` is the count once saved."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held_pages: list[dict[str, Any]] = []
        self.page_total = 0

    def showPage(self) -> None:
        self._held_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._held_pages)
        for number, state in enumerate(self._held_pages, start=1):
            self.__dict__.update(state)
            self._draw_footer(number, total)
            super().showPage()
        self.page_total = total
        super().save()

    def _draw_footer(self, number: int, total: int) -> None:
        raise NotImplementedError


class _NumberedCanvas(PageCountingCanvas):
    """The sample documents' footer: form number, a specimen notice, "Page N of M"."""

    def __init__(self, *args: Any, form_number: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._form_number = form_number

    def _draw_footer(self, number: int, total: int) -> None:
        right = _PAGE_W - _MARGIN_X
        self.saveState()
        self.setStrokeColor(colors.black)
        self.setFillColor(colors.black)
        self.setLineWidth(0.6)
        self.line(_MARGIN_X, _FOOTER_Y + 11, right, _FOOTER_Y + 11)
        self.setFont("Helvetica", 8)
        self.drawString(_MARGIN_X, _FOOTER_Y, self._form_number)
        self.drawRightString(right, _FOOTER_Y, f"Page {number} of {total}")
        self.setFont("Helvetica-Oblique", 7)
        self.drawCentredString(_PAGE_W / 2, _FOOTER_Y, "Synthetic specimen - not an actual insurance contract")
        self.restoreState()


def _page_header(ctx: _Context) -> Callable[[Any, Any], None]:
    def decorate(canvas: Any, _doc: Any) -> None:
        canvas.saveState()
        right = _PAGE_W - _MARGIN_X
        canvas.setFont("Helvetica-Bold", 8.5)
        canvas.drawString(_MARGIN_X, _HEADER_Y, ctx.carrier)
        canvas.setFont("Helvetica", 8.5)
        canvas.drawRightString(right, _HEADER_Y, f"Policy Number: {ctx.policy_number}")
        canvas.setLineWidth(0.6)
        canvas.line(_MARGIN_X, _HEADER_Y - 5, right, _HEADER_Y - 5)
        canvas.restoreState()

    return decorate


def _render_pdf(
    profile: _Profile,
    ctx: _Context,
    rng: random.Random,
    filename: str,
    budget: float,
    *,
    complete: bool,
    record: list[_Block] | None = None,
) -> SampleDocument:
    sink = _PdfSink()
    _compose(profile, ctx, rng, sink if record is None else _RecordingSink(sink, record), budget, complete=complete)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=_MARGIN_X,
        rightMargin=_MARGIN_X,
        topMargin=_MARGIN_TOP,
        bottomMargin=_MARGIN_BOTTOM,
        title=_typeset(f"{profile.form_title} - {ctx.policy_number}"),
        author=ctx.carrier,
        subject="Synthetic sample insurance document (not a real policy)",
        creator="docintake sample_documents",
        invariant=1,
        pageCompression=1,
    )
    canvases: list[Any] = []

    def make_canvas(*args: Any, **kwargs: Any) -> Any:
        canvas = _NumberedCanvas(*args, form_number=profile.form_number, **kwargs)
        canvases.append(canvas)
        return canvas

    header = _page_header(ctx)  # drawn when a page starts; the canvas adds the footer when it knows M
    doc.build(sink.flowables, onFirstPage=header, onLaterPages=header, canvasmaker=make_canvas)
    pages = int(canvases[0].page_total)
    return SampleDocument(filename=filename, kind=profile.kind, pages=pages, data=buffer.getvalue())


# ----------------------------------------------------------------------------------------------------
# Markdown rendering
# ----------------------------------------------------------------------------------------------------

_MD_PAGE_BYTES: Final = 3600.0  # Markdown bytes standing in for one PDF page when sizing the composition


class _MarkdownSink:
    """Renders blocks as Markdown, counting UTF-8 bytes."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._bytes = 0
        self._last_list: tuple[str, int] | None = None  # (style, next number) of the list being continued

    @property
    def used(self) -> float:
        return self._bytes / _MD_PAGE_BYTES

    def text(self) -> str:
        return "".join(self._parts)

    def _emit(self, text: str, *, continues: bool = False) -> None:
        if self._parts:
            text = ("\n" if continues else "\n\n") + text
        self._parts.append(text)
        self._bytes += len(text.encode())

    def add(self, block: _Block) -> None:
        last, self._last_list = self._last_list, None
        for text, continues in self._render(block, last):
            self._emit(text, continues=continues)

    def _render(self, block: _Block, last: tuple[str, int] | None) -> Iterator[tuple[str, bool]]:
        match block:
            case _Title(title=title, carrier=carrier, subtitle=subtitle, major=major):
                heading = f"# {carrier} - {title}" if carrier else f"{'#' if major else '##'} {title}"
                yield _typeset(heading), False
                if subtitle:
                    yield f"*{_typeset(subtitle)}*", False
            case _Heading(level=level, text=text):
                yield f"{'#' * (level + 1)} {_typeset(text)}", False
            case _Para(text=text, lead=lead, style=style):
                body = f"**{_typeset(lead)}** {_typeset(text)}" if lead else _typeset(text)
                yield (f"**{body}**" if style == "notice" else body), False
            case _List(style=list_style, items=items, start=start):
                lines: list[str] = []
                for offset, item in enumerate(items):
                    marker = f"{start + offset}." if list_style == "numbered" else "-"
                    lead = f"**{_typeset(item.lead)}** " if item.lead else ""
                    lines.append(f"{marker} {lead}{_typeset(item.text)}")
                    lines.extend(f"   - ({'abcdefghij'[i % 10]}) {_typeset(c)}" for i, c in enumerate(item.children))
                continues = last is not None and last == (list_style, start)
                self._last_list = (list_style, start + len(items))
                yield "\n".join(lines), continues
            case _Fields(rows=rows):
                yield "\n".join(f"- **{label}:** {_typeset(value)}" for label, value in rows), False
            case _Grid(header=header, rows=rows, totals=totals):
                lines = [_pipe_row(header), "|" + "|".join(" --- " for _ in header) + "|"]
                lines += [_pipe_row(row) for row in rows]
                if totals is not None:
                    lines.append(_pipe_row(tuple(f"**{c}**" if c else "" for c in totals)))
                yield "\n".join(lines), False
            case _Break():
                return


def _pipe_row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(_typeset(c) for c in cells) + " |"
