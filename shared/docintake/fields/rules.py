"""Fields from the parsed Markdown by rule: table headers and label/value text, no model.

Where carriers print the values:

- **Label and value.** A declarations page pairs a label with its value: in a two-column table
  (``| Policy Number | HO-123 |``), on a line (``Policy Number: HO-123``), or, in a PDF's text layer, in a
  run of pairs with no separator at all (``Policy Number HO-123 Policy Period 01/01/2026 to ...``). A run is
  cut at every label this module knows (the fields' own and the neighbours that end them: mailing address,
  agent, ...), and only in text that holds two labels or starts with one, so the policy form's prose ("the
  named insured shown in the Declarations") is never read as a value.
- **Coverage tables.** A table whose header names a coverage (or description) and a limit; its deductible
  and premium columns are found by their headers. Its "Total ... Premium" row is the premium.
- **Summaries of benefits** follow the federal template: the "Important Questions" table answers "What is
  the overall deductible?" and the out-of-pocket limit in one cell, amounts for a person and a family, in and
  out of network, in carriers' own words; the "Common Medical Event" table gives what a member pays for each
  service, the network provider's column first.

Each value keeps the text it was read from (``FieldValue.text``) and its span in the Markdown.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from docintake.document_types import DocumentType, scores_of
from docintake.fields.model import (
    CostShareKind,
    Coverage,
    DocumentFields,
    Evidence,
    FieldName,
    FieldValue,
    InsuranceDocumentType,
    Money,
)
from docintake.parsing import PageMap

# Declarations, a summary's questions and its first cost table are in the first pages; a policy packet's
# later endorsements repeat labels ("Policy Number") that say nothing new. About 15 printed pages.
HEAD_CHARS: Final = 40_000

# ----------------------------------------------------------------------------------------------------
# Normalising what is written
# ----------------------------------------------------------------------------------------------------

# "-$48.00" is a credit; "($2,500)" is an aside ("1% of Coverage A ($2,500)"), not a negative. "$1.125 million" and
# "$2M" are scaled; an amount with more than two decimals and no scale is no amount.
_MONEY: Final = re.compile(
    r"(?P<neg>(?<![\w$])[-\u2212])?(?:\$|USD\s?)\s?(?P<whole>\d{1,3}(?:,\d{3})+|\d+)"
    r"(?:(?:\.(?P<fraction>\d+))?(?P<scale>\s?(?:million|mil\b|m\b|k\b))|\.(?P<cents>\d{1,2})(?!\d)|(?![.,]?\d))",
    re.IGNORECASE,
)
_PERCENT: Final = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)\s?%")
_MONTHS: Final = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MONTH_NAME: Final = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE: Final = re.compile(
    r"(?<![\d/])(?P<m>\d{1,2})[/.-](?P<d>\d{1,2})[/.-](?P<y>\d{4}|\d{2})(?![\d/])"
    r"|(?P<iy>\d{4})[-/](?P<im>\d{1,2})[-/](?P<id>\d{1,2})(?!\d)"
    rf"|\b(?P<mn>{_MONTH_NAME})\.?\s+(?P<md>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<my>\d{{4}})"
    rf"|\b(?P<dd>\d{{1,2}})\s+(?P<dm>{_MONTH_NAME})\.?,?\s+(?P<dy>\d{{4}})",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Found:
    """A value found in a text: normalised, as written, and where in that text."""

    value: str | None
    text: str
    start: int
    end: int
    currency: str | None = None
    cost_share: CostShareKind | None = None


def find_money(text: str, start: int = 0) -> Found | None:
    """The first amount of money in ``text`` at or after ``start``: "$1,500" → 1500.00 USD."""
    for match in _MONEY.finditer(text, start):
        return _money_found(match)
    return None


def all_money(text: str) -> list[Found]:
    return [_money_found(match) for match in _MONEY.finditer(text)]


def _money_found(match: re.Match[str]) -> Found:
    whole = match["whole"].replace(",", "")
    if match["scale"]:
        factor = 1_000 if match["scale"].strip().lower() == "k" else 1_000_000
        amount = Decimal(f"{whole}.{match['fraction'] or '0'}") * factor
    else:
        amount = Decimal(f"{whole}.{(match['cents'] or '0').ljust(2, '0')}")
    if match["neg"]:
        amount = -amount
    begin = match.start()
    end = match.end("scale") if match["scale"] else match.end("cents") if match["cents"] else match.end("whole")
    return Found(f"{amount:.2f}", match.string[begin:end], begin, end, currency="USD")


def find_date(text: str, start: int = 0) -> Found | None:
    for match in _DATE.finditer(text, start):
        parsed = _date_of(match)
        if parsed is not None:
            return Found(parsed.isoformat(), match.group(0), match.start(), match.end())
    return None


def all_dates(text: str) -> list[Found]:
    found = []
    for match in _DATE.finditer(text):
        parsed = _date_of(match)
        if parsed is not None:
            found.append(Found(parsed.isoformat(), match.group(0), match.start(), match.end()))
    return found


def _date_of(match: re.Match[str]) -> date | None:
    try:
        if match["m"]:
            year = int(match["y"])
            year += 2000 if year < 100 else 0
            return date(year, int(match["m"]), int(match["d"]))
        if match["iy"]:
            return date(int(match["iy"]), int(match["im"]), int(match["id"]))
        if match["mn"]:
            return date(int(match["my"]), _MONTHS[match["mn"].lower()], int(match["md"]))
        return date(int(match["dy"]), _MONTHS[match["dm"].lower()], int(match["dd"]))
    except ValueError:  # 13/45/2026: not a date
        return None


_NO_CHARGE: Final = re.compile(r"\bno (?:charge|cost|copay(?:ment)?|cost[- ]shar\w*)\b|\bfree\b", re.IGNORECASE)
_NOT_COVERED: Final = re.compile(r"\bnot (?:covered|applicable)\b|\bno coverage\b", re.IGNORECASE)


def find_cost_share(text: str) -> Found | None:
    """What a member pays, from the start of a cell: "$30 copay/visit" (copay 30.00), "20% coinsurance"
    (coinsurance 20), "No charge" (0.00), "Not covered"; the earliest of them is the answer."""
    candidates: list[Found] = []
    money = find_money(text)
    if money is not None and money.value is not None and not money.value.startswith("-"):
        candidates.append(Found(money.value, money.text, money.start, money.end, "USD", "copay"))
    percent = _PERCENT.search(text)
    if percent is not None:
        value = f"{Decimal(percent.group(1)).normalize():f}"
        candidates.append(Found(value, percent.group(0), percent.start(), percent.end(), None, "coinsurance"))
    free = _NO_CHARGE.search(text)
    if free is not None:
        candidates.append(Found("0.00", free.group(0), free.start(), free.end(), "USD", "no_charge"))
    refused = _NOT_COVERED.search(text)
    if refused is not None:
        candidates.append(Found(None, refused.group(0), refused.start(), refused.end(), None, "not_covered"))
    return min(candidates, key=lambda found: found.start, default=None)


# ----------------------------------------------------------------------------------------------------
# The Markdown's structure: tables and text blocks, with their offsets
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str  # without emphasis marks
    start: int
    end: int
    raw: str = ""  # markdown[start:end]

    @property
    def spaced(self) -> str:
        """The cell with emphasis marks blanked: the same length as the Markdown, so offsets into it hold."""
        return _EMPHASIS.sub(lambda m: " " * len(m.group(0)), self.raw).replace("\\|", " |")


@dataclass(frozen=True)
class Table:
    header: tuple[Cell, ...]
    rows: tuple[tuple[Cell, ...], ...]
    start: int


@dataclass(frozen=True)
class Block:
    """A paragraph or a line of text that is not a table row."""

    text: str
    start: int


_RULE_ROW: Final = re.compile(r"^\s*\|(?:\s*:?-{3,}:?\s*\|)+\s*$")
_EMPHASIS: Final = re.compile(r"[*_`]+")


def _cells(line: str, offset: int) -> tuple[Cell, ...]:
    cells: list[Cell] = []
    inner_start = line.index("|") + 1
    inner_end = line.rstrip().rindex("|")
    position = inner_start
    for raw in _CELL_SEPARATOR.split(line[inner_start:inner_end]):
        stripped = raw.strip()
        lead = len(raw) - len(raw.lstrip())
        begin = offset + position + lead
        text = _EMPHASIS.sub("", stripped).replace("\\|", "|")
        cells.append(Cell(text, begin, begin + len(stripped), stripped))
        position += len(raw) + 1
    return tuple(cells)


_CELL_SEPARATOR: Final = re.compile(r"(?<!\\)\|")


def read_structure(markdown: str) -> tuple[list[Table], list[Block]]:
    tables: list[Table] = []
    blocks: list[Block] = []
    lines = markdown.split("\n")
    offsets = []
    position = 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|") and stripped.count("|") >= 2:
            rows: list[tuple[Cell, ...]] = []
            start = offsets[index]
            while index < len(lines) and lines[index].strip().startswith("|"):
                if not _RULE_ROW.match(lines[index]):
                    rows.append(_cells(lines[index], offsets[index]))
                index += 1
            if rows:
                tables.append(Table(rows[0], tuple(rows[1:]), start))
            continue
        if stripped:
            blocks.append(Block(line, offsets[index]))
        index += 1
    return tables, blocks


# ----------------------------------------------------------------------------------------------------
# Labels and their values
# ----------------------------------------------------------------------------------------------------

# What each field is called on a declarations page or a summary's header; stoppers are labels that end
# the value before them. Order matters where one label starts another ("Policy Period" vs "Policy").
_FIELD_LABELS: Final[tuple[tuple[FieldName | str, str], ...]] = (
    (FieldName.POLICY_NUMBER, r"(?:group\s*/\s*)?policy\s*(?:number|no\.?|num\.?|#)|certificate (?:number|no\.?)"),
    ("period", r"policy period|coverage period|policy term|term of (?:the )?policy|period of insurance"),
    (FieldName.EFFECTIVE_DATE, r"(?:policy )?effective(?: date)?|inception(?: date)?"),
    (FieldName.EXPIRATION_DATE, r"(?:policy )?expiration(?: date)?|expiry(?: date)?|expires"),
    (
        FieldName.NAMED_INSURED,
        r"(?:(?:first )?named insured(?:\(s\))?|name of insured|insured(?:'s)? name)(?: and (?:mailing )?address)?"
        r"|policyholder|policy holder|subscriber",
    ),
    (
        FieldName.INSURER,
        r"insurer|insurance company|insuring company|company name|underwritten by|issued by|carrier|company",
    ),
    (FieldName.PREMIUM, r"total (?:\w+[ -]?){0,2}premium|policy premium|premium total|total cost|total(?=\s*:)"),
    # A property or liability policy's own deductible ("Section I deductible: $2,500 all perils"); a summary of
    # benefits' deductible is read from its questions instead.
    ("policy_deductible", r"(?:section i |all[- ](?:other[- ])?perils? |policy |property )deductible|deductible"),
    (
        "stop",
        r"mailing address|address|residence premises|location of (?:residence|premises)|agent(?: name)?|producer"
        r"|agency|broker|form of business|business description|contact|phone|telephone|construction"
        r"|year built|protection class|territory|county|plan type|plan|coverage for|member services"
        r"|customer service|forms and endorsements|loss payee|mortgagee|lienholder|vehicles?|drivers?"
        r"|audit period|retroactive date|group name|group number|account number|billing|due date|rating",
    ),
)
_LABEL_ALTERNATION: Final = "|".join(f"(?P<l{i}>{pattern})" for i, (_, pattern) in enumerate(_FIELD_LABELS))
# A label as printed: capitalised (Title Case or CAPITALS), followed by a colon, a tab, spaces or the value.
_LABEL: Final = re.compile(rf"(?<![\w-])(?:{_LABEL_ALTERNATION})(?![\w-])\s*(?:[:#]|\.{{2,}})?\s*", re.IGNORECASE)


def _label_kind(match: re.Match[str]) -> FieldName | str:
    for index, (kind, _) in enumerate(_FIELD_LABELS):
        if match.group(f"l{index}") is not None:
            return kind
    raise AssertionError("a label matched no alternative")  # pragma: no cover - the alternation is built above


def _printed_as_label(match: re.Match[str]) -> bool:
    """Prose says "the named insured", and a form's defined terms "the Named Insured shown in the Declarations"
    or "If the Company pays"; a label is printed "Named Insured", "NAMED INSURED" or "Named insured:"."""
    word = match.group(0).strip()
    if not (word[:1].isupper() or word.endswith(":")):
        return False
    if word.endswith(":"):
        return True
    before = match.string[max(match.start() - 12, 0) : match.start()]
    after = match.string[match.end() : match.end() + 12]
    return not (_DETERMINER_BEFORE.search(before) or _VERB_AFTER.match(after))


_DETERMINER_BEFORE: Final = re.compile(r"\b(?:the|a|an|any|each|every|your|our|such|that|this|no|other)\s+$", re.I)
_VERB_AFTER: Final = re.compile(
    r"(?:shown|named|listed|means|includes?|shall|must|will|may|pays?|is|are|has|have|agrees?|does|who|which)\b",
    re.IGNORECASE,
)


def _inside_a_name(text: str, match: re.Match[str]) -> bool:
    """ "UnitedHealthcare Insurance Company: Surest Plan" names a company, and "HUMANA HEALTH BENEFIT PLAN OF
    LOUISIANA" a plan; "Company: Acme" labels one."""
    before = text[: match.start()].rstrip()
    word = before.rsplit(maxsplit=1)[-1] if before else ""
    label = match.group(0).strip()
    if _label_kind(match) is FieldName.INSURER:
        return word[:1].isupper() and word.isalpha() and not _LABEL.fullmatch(word)
    # A one-word label in capitals between words in capitals, with no colon: a word of the name.
    return " " not in label and label.isupper() and word.isalpha() and word.isupper() and not label.endswith(":")


@dataclass(frozen=True)
class Labelled:
    kind: FieldName | str
    value: str
    start: int  # of the value in the Markdown
    label_start: int


def labelled_values(markdown: str, tables: list[Table], blocks: list[Block]) -> Iterator[Labelled]:
    """Label → value pairs, in document order: a label cell and the next cell of its row; a header row of
    labels over a row of values; a label alone on its line (a heading, a bold line, "Insurer:") and the
    lines after it; and label/value text."""
    pairs = [pair for table in tables for pair in (*_header_row_pairs(table), *_row_pairs(table))]
    for index, block in enumerate(blocks):
        text = _EMPHASIS.sub(lambda m: " " * len(m.group(0)), block.text)
        alone = _label_cell(text.strip().lstrip("#").strip())
        if alone is not None:
            pairs.extend(_label_over_value(alone, block, blocks[index + 1 : index + 4]))
            continue
        labels = [m for m in _LABEL.finditer(text) if _printed_as_label(m) and not _inside_a_name(text, m)]
        if not labels:
            continue
        starts_with_label = text[: labels[0].start()].strip(" #-•>") == ""
        with_colon = [m for m in labels if m.group(0).rstrip().endswith((":", "#"))]
        if not starts_with_label and len(labels) < 2 and not with_colon:
            continue
        if not starts_with_label and len(labels) < 2:
            labels = with_colon
        for here, after in zip(labels, [*labels[1:], None], strict=True):
            end = after.start() if after is not None else len(text)
            raw = text[here.end() : end]
            stripped = raw.strip(" ,;–-")
            if stripped:
                begin = block.start + here.end() + len(raw) - len(raw.lstrip(" ,;–-"))
                pairs.append(Labelled(_label_kind(here), stripped, begin, block.start + here.start()))
    yield from sorted(pairs, key=lambda pair: pair.label_start)


def _label_cell(text: str) -> re.Match[str] | None:
    """A cell (or a line) that is a label and nothing else: "Policy Number", "NAMED INSURED:", "Item 2. Policy
    Period:"."""
    text = re.sub(r"^(?:item\s+)?\d{1,2}[.)]\s+", "", text.strip(), flags=re.IGNORECASE)
    return _LABEL.fullmatch(text) or _LABEL.fullmatch(text.rstrip(":").rstrip())


def _row_pairs(table: Table) -> Iterator[Labelled]:
    """| Policy Number | HO-123 |: a label cell and the next cell that is not a label too."""
    for row in (table.header, *table.rows):
        for index, cell in enumerate(row[:-1]):
            match = _label_cell(cell.text)
            if match is None:
                continue
            neighbour = next((c for c in row[index + 1 :] if c.text), None)
            if neighbour is not None and _label_cell(neighbour.text) is None:
                yield Labelled(_label_kind(match), neighbour.text, neighbour.start, cell.start)


def _header_row_pairs(table: Table) -> list[Labelled]:
    """| Carrier | Plan | Coverage Period | over | Regence | Silver HSA | 01/01/2017 – 12/31/2017 |."""
    labels = [_label_cell(cell.text) for cell in table.header]
    if not table.rows or sum(label is not None for label in labels) < 2:
        return []
    row = table.rows[0]
    return [
        Labelled(_label_kind(label), row[i].text, row[i].start, table.header[i].start)
        for i, label in enumerate(labels)
        if label is not None and i < len(row) and row[i].text and _label_cell(row[i].text) is None
    ]


def _label_over_value(label: re.Match[str], block: Block, following: list[Block]) -> list[Labelled]:
    """A label on its own line and its value on the lines after it, up to the next label."""
    values: list[Block] = []
    for after in following:
        plain = _EMPHASIS.sub("", after.text).strip().lstrip("#").strip()
        if _label_cell(plain) is not None or after.text.lstrip().startswith("#"):
            break
        values.append(after)
    if not values:
        return []
    first = values[0]
    # Two spaces between lines: a name ends at the first ("Town of Southold", then "Replacement No. …").
    text = "  ".join(_EMPHASIS.sub("", v.text).strip() for v in values)
    lead = len(first.text) - len(first.text.lstrip())
    return [Labelled(_label_kind(label), text, first.start + lead, block.start)]


# A policy number: tokens of capitals, digits and separators ("HO3-7943371-26", "CA 12 345 678"), at least one
# digit among them; a word in lower case ends it.
_POLICY_NUMBER: Final = re.compile(
    r"[A-Z0-9][A-Z0-9\-\u2010-\u2015\u2212/.#]*(?![^\s,;])(?:[ ][A-Z0-9][A-Z0-9\-\u2010-\u2015\u2212/.]*(?![^\s,;]))*"
)
_DASHES: Final = re.compile("[\u2010-\u2015\u2212]")
_NAME_END: Final = re.compile(r"\s{2,}|\s[-–]\s|,\s*(?=\d)|\s(?=\d{2,}\s)|;")


@dataclass(frozen=True)
class Placed:
    """A value and the Markdown offset its text starts at."""

    value: FieldValue
    start: int


def _field_value(field: FieldName, labelled: Labelled) -> Placed | None:
    text = labelled.value
    if field is FieldName.POLICY_NUMBER:
        match = _POLICY_NUMBER.match(text[:60])
        if match is None or not re.search(r"\d", match.group(0)):
            return None
        number = match.group(0).rstrip(".-/")
        placed = _value(number, number, labelled.start + match.start(), 0.9)
        # The value with plain hyphens (a PDF's U+2011 or an en dash), the text as printed.
        return Placed(placed.value.model_copy(update={"value": re.sub(_DASHES, "-", number)}), placed.start)
    if field is FieldName.NAMED_INSURED:
        name = _without_address(clean_name(_NAME_END.split(text, maxsplit=1)[0]))
        if not name or not re.search(r"[A-Za-z]{2}", name) or len(name) > 120 or name[:1].islower():
            return None
        return _value(name, name, labelled.start, 0.85)
    if field is FieldName.INSURER:
        name = clean_name(_NAME_END.split(text, maxsplit=1)[0])
        if not re.search(r"[A-Za-z]{3}", name) or len(name) > 100 or name[:1].islower():
            return None
        return _value(name, name, labelled.start, 0.85)
    if field in (FieldName.EFFECTIVE_DATE, FieldName.EXPIRATION_DATE):
        found = find_date(text[:40])
        return None if found is None else _found_value(found, labelled.start, 0.9)
    if field is FieldName.PREMIUM:
        money = find_money(text[:40])
        return None if money is None else _found_value(money, labelled.start, 0.85)
    return None  # pragma: no cover - every labelled field is handled above


_SUFFIX_THEN_ADDRESS: Final = re.compile(
    r"^(?P<name>.*?\b(?:Inc\.?|LLC|L\.L\.C\.|Corp(?:oration)?\.?|Company|Co\.|Ltd\.?|LLP))\s+(?P<rest>.*)$"
)


def _without_address(name: str) -> str:
    """ "Wichita State Innovation Alliance Inc Wichita, KS": a company's name, then its town and state."""
    match = _SUFFIX_THEN_ADDRESS.match(name)
    if match is not None and re.search(r",\s*[A-Z]{2}\b|\d", match["rest"]):
        return clean_name(match["name"])
    return name


def _value(value: str, text: str, start: int, confidence: float) -> Placed:
    return Placed(FieldValue(value=value, text=text, confidence=confidence), start)


# ----------------------------------------------------------------------------------------------------
# Putting it together
# ----------------------------------------------------------------------------------------------------


class _Collector:
    """The values found so far, each with the span of its text; the first one found wins."""

    def __init__(self, markdown: str, page_map: PageMap) -> None:
        self.markdown = markdown
        self.page_map = page_map
        self.fields: dict[FieldName, FieldValue] = {}
        self.evidence: dict[FieldName, Evidence] = {}

    def add(self, field: FieldName, placed: Placed) -> None:
        if field in self.fields:
            return
        value, start = placed.value, placed.start
        end = start + len(value.text)
        if self.markdown[start:end] != value.text:
            # The value's text must be what the Markdown holds there; a value built from text that was
            # cleaned of emphasis is located again.
            located = self.markdown.find(value.text, max(start - 200, 0))
            if located < 0:
                return
            start, end = located, located + len(value.text)
        self.fields[field] = value
        self.evidence[field] = self.evidence_at(start, end)

    def evidence_at(self, start: int, end: int) -> Evidence:
        return Evidence(page=self.page_map.page_at(start), start=start, end=end, quote=self.markdown[start:end])


def _found_value(found: Found, offset: int, confidence: float) -> Placed:
    value = FieldValue(
        value=found.value, text=found.text, currency=found.currency, cost_share=found.cost_share, confidence=confidence
    )
    return Placed(value, offset + found.start)


def extract_with_rules(markdown: str, page_map: PageMap) -> DocumentFields:
    head = markdown[:HEAD_CHARS]
    tables, blocks = read_structure(head)
    found = _Collector(markdown, page_map)
    document_type, confidence = classify_insurance_type(markdown)

    for labelled in labelled_values(head, tables, blocks):
        if labelled.kind == "period":
            _add_period(found, labelled)
        elif labelled.kind == "policy_deductible":
            money = find_money(labelled.value[:40])
            if money is not None and document_type is not InsuranceDocumentType.SUMMARY_OF_BENEFITS:
                found.add(FieldName.DEDUCTIBLE, _found_value(money, labelled.start, 0.8))
        elif isinstance(labelled.kind, FieldName):
            placed = _field_value(labelled.kind, labelled)
            if placed is not None:
                found.add(labelled.kind, placed)
    coverages = _coverages(found, tables) or _coverage_lines(found, blocks)
    if document_type is InsuranceDocumentType.SUMMARY_OF_BENEFITS or (
        document_type is InsuranceDocumentType.OTHER and _has_sbc_questions(tables, blocks)
    ):
        _benefit_summary(found, head, tables, blocks)
    if FieldName.INSURER not in found.fields:
        _insurer_from_title(found, head)
    return DocumentFields(
        document_type=document_type,
        document_type_confidence=confidence,
        fields=found.fields,
        coverages=coverages,
        evidence=found.evidence,
    )


def _add_period(found: _Collector, labelled: Labelled) -> None:
    dates = all_dates(labelled.value[:80])
    if dates:
        found.add(FieldName.EFFECTIVE_DATE, _found_value(dates[0], labelled.start, 0.9))
    if len(dates) > 1:
        found.add(FieldName.EXPIRATION_DATE, _found_value(dates[1], labelled.start, 0.9))


# Coverage tables ------------------------------------------------------------------------------------

_NAME_HEADER: Final = re.compile(r"coverage|covered|description|insurance|benefit|limits? of", re.IGNORECASE)
_LIMIT_HEADER: Final = re.compile(r"\blimits?\b|amount of insurance|sum insured", re.IGNORECASE)
_DEDUCTIBLE_HEADER: Final = re.compile(r"deductible", re.IGNORECASE)
_PREMIUM_HEADER: Final = re.compile(r"premium|cost", re.IGNORECASE)
# An endorsement's schedule that points back at the declarations names no coverage of its own.
# And a deductible printed among the limits is the policy's deductible (fields.deductible), not a coverage.
_NOT_A_COVERAGE: Final = re.compile(
    r"\s*(?:as shown|see|refer to)\b.*\bdeclarations?\b|.*\bdeductibles?\b", re.IGNORECASE
)
_TOTAL_ROW: Final = re.compile(r"^\s*total\b.*\bpremium\b|^\s*total\s*$|^\s*premium total\b", re.IGNORECASE)


def _column(header: tuple[Cell, ...], pattern: re.Pattern[str], skip: set[int]) -> int | None:
    return next((i for i, cell in enumerate(header) if i not in skip and pattern.search(cell.text)), None)


def _coverages(found: _Collector, tables: list[Table]) -> list[Coverage]:
    rows: list[Coverage] = []
    for table in tables:
        header = table.header
        limit = _column(header, _LIMIT_HEADER, set())
        if limit is None or (len(header) == 2 and limit == 0):
            rows.extend(_limit_pairs(found, table))
            continue
        name = _column(header, _NAME_HEADER, {limit})
        name = 0 if name is None and limit != 0 else name
        if name is None or name > limit:
            continue
        deductible = _column(header, _DEDUCTIBLE_HEADER, {name, limit})
        premium = _column(header, _PREMIUM_HEADER, {name, limit, deductible or -1})
        for row in table.rows:
            if len(row) <= limit or not row[name].text or _NOT_A_COVERAGE.match(row[name].text):
                continue
            label = row[name].text
            if _TOTAL_ROW.search(label):
                money = next((m for cell in reversed(row[1:]) if (m := find_money(cell.text))), None)
                cell = next((c for c in reversed(row[1:]) if find_money(c.text)), None)
                if money is not None and cell is not None:
                    found.add(FieldName.PREMIUM, _found_value(money, cell.start, 0.95))
                continue
            rows.append(
                Coverage(
                    name=label,
                    limit=_money_cell(row, limit),
                    deductible=_money_cell(row, deductible),
                    premium=_money_cell(row, premium),
                    page=found.page_map.page_at(row[name].start),
                    evidence=found.evidence_at(row[0].start, row[-1].end),
                )
            )
    return rows


# Limits printed as lines rather than a table: "EACH OCCURRENCE LIMIT $ 1,000,000", "Coverage A - Dwelling
# $250,000", "Bodily Injury Liability: $100,000 each person / $300,000 each accident"; in a run, each line's
# name begins where the previous amount's words end.
_COVERAGE_LINE: Final = re.compile(
    r"(?P<name>(?:Coverage [A-F]\b\s*[-\u2010-\u2015\u2212:]?\s*)?[A-Z][A-Za-z&/'\u2019,. \u2010-\u2015\u2212-]{2,80}?"
    r"(?:\blimits?\b|\bliability\b|\bdwelling\b|\bstructures\b|\bproperty\b|\bloss of use\b|\bpayments\b"
    r"|\binjury\b|\bdamage\b|\bexpense\b|\bcollision\b|\bcomprehensive\b|\bmotorists?\b)"
    r"(?:\s*\([^)]{0,80}\))?)\s*[:.]*\s*(?P<limit>(?:\$|USD)\s?[\d,]+(?:\.\d+)?(?:\s?(?:million|mil|m|k)\b)?"
    r"(?:[^$\n]{0,40}?/\s*\$\s?[\d,]+(?:\.\d+)?(?:\s?(?:million|mil|m|k)\b)?)?"
    r"(?:\s+(?:each|per|any one|aggregate)\b[\w ]{0,20}?(?=\s+[A-Z]|$|[.;]))?)",
    re.IGNORECASE,
)


def _coverage_lines(found: _Collector, blocks: list[Block]) -> list[Coverage]:
    rows: list[Coverage] = []
    for block in blocks:
        for match in _COVERAGE_LINE.finditer(block.text):
            name = clean_name(re.sub(r"\s+", " ", match["name"]))
            if not name[:1].isupper() or re.match(r"(?:total|the|this|our|we|you)\b", name, re.IGNORECASE):
                continue
            money = find_money(match["limit"])
            start = block.start + match.start("name") + match["name"].find(name.split()[0])
            end = block.start + match.end("limit")
            rows.append(
                Coverage(
                    name=name,
                    limit=Money(value=money.value if money else None, currency="USD", text=match["limit"].strip()),
                    page=found.page_map.page_at(start),
                    evidence=found.evidence_at(start, end),
                )
            )
    return rows


_LIMIT_NAME: Final = re.compile(r"\blimits?\b|\baggregate\b", re.IGNORECASE)


def _limit_pairs(found: _Collector, table: Table) -> list[Coverage]:
    """A limits schedule with no header row: every row "EACH OCCURRENCE LIMIT | $ 1,000,000" (the parser
    takes the first row for the header)."""
    pairs = [row for row in (table.header, *table.rows) if len(row) in (2, 3) and row[1].text]
    if len(pairs) < 2 or not all(_LIMIT_NAME.search(row[0].text) for row in pairs):
        return []
    return [
        Coverage(
            name=row[0].text,
            limit=_money_cell(row, 1),
            page=found.page_map.page_at(row[0].start),
            evidence=found.evidence_at(row[0].start, row[-1].end),
        )
        for row in pairs
    ]


def _money_cell(row: tuple[Cell, ...], column: int | None) -> Money | None:
    if column is None or column >= len(row) or not row[column].text or row[column].text in {"-", "–"}:
        return None
    text = row[column].text
    money = find_money(text)
    return Money(value=money.value if money else None, currency=money.currency if money else None, text=text)


# Summaries of benefits ------------------------------------------------------------------------------

_QUESTION_TEXT: Final = re.compile(
    r"(?P<q>what is the overall (?:annual )?deductible\??|(?:what is the|is there an) out[-\s\u2013\u2011]*of"
    r"[-\s\u2013\u2011]*pocket (?:limit|maximum)(?: for this plan| on my expenses)?\??)",
    re.IGNORECASE,
)
_SERVICES: Final[tuple[tuple[FieldName, re.Pattern[str]], ...]] = (
    (
        FieldName.PRIMARY_CARE,
        re.compile(
            r"primary care (?:physician |provider |doctor )?(?:office )?visit|primary (?:care )?(?:doctor|physician)"
            r"|\bPCP\b|primary care(?=\s*:)",
            re.I,
        ),
    ),
    (FieldName.SPECIALIST, re.compile(r"specialist(?:'s)? (?:office )?visit|^[\s*#]*specialist\b", re.I | re.M)),
    (FieldName.EMERGENCY_ROOM, re.compile(r"emergency room|emergency department", re.I)),
    (
        FieldName.GENERIC_DRUGS,
        re.compile(r"generic drugs?|generics|\btier 1\b|preferred generic|^[\s*#]*generic\b", re.I | re.M),
    ),
)
_OUT_OF_NETWORK: Final = re.compile(
    r"out[-\s\u2013\u2011]*of[-\s\u2013\u2011]*network|non[-\s]?(?:network|participating|preferred|par\b)"
    r"|out[-\s]of[-\s]plan|non[-\s]?contracted|\bOON\b",
    re.IGNORECASE,
)
_IN_NETWORK: Final = re.compile(
    r"(?<!out-of-)(?<!out of )(?<!non-)(?<!non)\b(?:in[-\s]?network|network|participating|preferred|par"
    r"|tier 1|in[-\s]plan|contracted)\b",
    re.IGNORECASE,
)
_COMBINED: Final = re.compile(
    r"combined\s+(?:for\s+)?(?:in[-\s]?network|network|participating)\s*(?:and|&|/)\s*"
    r"(?:out[-\s]?of[-\s]?network|non[-\s]?(?:network|participating))(?:\s+providers)?"
    r"|(?:in[-\s]?network|network|participating)\s*(?:and|&|/)\s*(?:out[-\s]?of[-\s]?network"
    r"|non[-\s]?(?:network|participating))(?:\s+providers)?\s+combined",
    re.IGNORECASE,
)
_ROLE_WORD: Final = (
    r"(?P<role>(?:individuals?|indiv\.?|ind\.?|person|single|self|member|employee|enrollee|subscriber|each insured)"
    r"(?:[- ]only)?|famil(?:y|ies)|fam\s?ily|fam\b|aggregate)"
)
# "$1,500 individual", "$1,500/person", "$1,500 per family" name the amount before them; "Family: $3,000" the one
# after (a role followed by a colon labels what comes next).
_ROLE_AFTER: Final = re.compile(
    rf"^\s*(?:/\s*|per\s+|each\s+|an?\s+|for\s+(?:an?\s+|each\s+)?|\(\s*)?{_ROLE_WORD}(?!\w)(?:\s+coverage)?(?!\s*[:=$])",
    re.IGNORECASE,
)
_ROLE_BEFORE: Final = re.compile(
    rf"{_ROLE_WORD}(?:\s+(?:coverage|deductible|limit|maximum))?\s*[:=\u2013-]?\s*$", re.IGNORECASE
)
_ROLE_PAIR_ANYWHERE: Final = re.compile(
    rf"{_ROLE_WORD}\s*/\s*(?:per\s+)?(?:individuals?|person|single|famil(?:y|ies))", re.IGNORECASE
)
_ROLE_PAIR: Final = re.compile(
    rf"{_ROLE_WORD}\s*/\s*(?:per\s+)?(?:individuals?|person|single|famil(?:y|ies))\)?\s*[:=]?\s*$", re.IGNORECASE
)
_SBC_FIELDS: Final = {
    "deductible": (
        FieldName.DEDUCTIBLE,
        FieldName.DEDUCTIBLE_FAMILY,
        FieldName.DEDUCTIBLE_OUT_OF_NETWORK,
        FieldName.DEDUCTIBLE_OUT_OF_NETWORK_FAMILY,
    ),
    "out_of_pocket": (
        FieldName.OUT_OF_POCKET_LIMIT,
        FieldName.OUT_OF_POCKET_LIMIT_FAMILY,
        FieldName.OUT_OF_POCKET_LIMIT_OUT_OF_NETWORK,
        FieldName.OUT_OF_POCKET_LIMIT_OUT_OF_NETWORK_FAMILY,
    ),
}


def _has_sbc_questions(tables: list[Table], blocks: list[Block]) -> bool:
    return any(_key_kind(row[0].text) for t in tables for row in t.rows if row) or any(
        _QUESTION_TEXT.search(b.text) for b in blocks[:200]
    )


_NEXT_QUESTION: Final = re.compile(
    r"\b(?:What is|What are|Are there|Is there|Will you|Do you|Does this plan|Do I|If you|Common Medical Event)\b"
    r"|^\||^#{1,6}\s|^\*\*",
    re.MULTILINE,
)


# What a summary calls its overall deductible and out-of-pocket limit, in a question ("What is the overall
# deductible?"), a table's first cell ("Deductible (Individual/Family)", "OON Family Deductible:"), a heading
# ("### Single deductible") or a bold line ("**Medical Deductible - Individual**"); not a drug's, a dental
# plan's or a specific service's own, and not the questions about what the deductible does.
_DEDUCTIBLE_KEY: Final = re.compile(r"\bdeductibles?\b", re.IGNORECASE)
_OOP_KEY: Final = re.compile(
    r"\bout[-\s\u2013\u2011]*of[-\s\u2013\u2011]*pocket\s+(?:limit|maximum|max)\b|\bOPM\b|\bMOOP\b", re.IGNORECASE
)
_NOT_OVERALL: Final = re.compile(
    r"(?<!medical and )(?<!medical & )\b(?:rx|prescription(?: drugs?)?|pharmacy|drugs?|brand|dental|vision|specialty)"
    r"\s+(?:deductible|out[-\s]of[-\s]pocket)|\bspecific\b|\bother deductibles\b|before you meet|not included"
    r"|\bper (?:admission|stay|visit)\b|\bwaived\b|does(?: not|n.t) apply|\bcount toward",
    re.IGNORECASE,
)


def _key_kind(text: str) -> str | None:
    if _NOT_OVERALL.search(text):
        return None
    if _OOP_KEY.search(text):
        return "out_of_pocket"
    if _DEDUCTIBLE_KEY.search(text):
        return "deductible"
    return None


def _key_role(text: str) -> str | None:
    """A key that names whose amount it is: "Single deductible", "Deductible - Family"; not a pair
    ("Deductible (Individual/Family)"), whose amounts follow in its order."""
    if _ROLE_PAIR_ANYWHERE.search(text):
        return None
    match = re.search(_ROLE_WORD, text, re.IGNORECASE)
    return None if match is None else _role_of(match["role"])


def _key_network(text: str) -> str | None:
    if _OUT_OF_NETWORK.search(text):
        return "out"
    if _IN_NETWORK.search(text) and not re.search(r"\band\b.{0,20}network|combined", text, re.IGNORECASE):
        return "in"
    return None


def _benefit_summary(found: _Collector, head: str, tables: list[Table], blocks: list[Block]) -> None:
    for table in tables:
        _keyed_rows(found, table)
    # Unruled, the template's three columns interleave line by line: the answer is what follows its question,
    # up to the next question, with the "why this matters" lines (no amounts) in between. Keys on their own
    # line (a heading, a bold line, "Individual Deductible: $5,000") are answered the same way.
    for match in _QUESTION_TEXT.finditer(head):
        if not _in_table_row(head, match.start()):
            kind = "deductible" if "deductible" in match.group(0).lower() else "out_of_pocket"
            _amounts(found, kind, _answer_window(head, match.end()), match.end())
    for line in re.finditer(r"^(?!\s*\|).{3,120}$", head, re.MULTILINE):
        key = line.group(0)
        keyed = _key_kind(key)
        if keyed is None or _QUESTION_TEXT.search(key):
            continue
        cut = _key_end(key)
        start = line.start() + cut
        _amounts(
            found,
            keyed,
            _answer_window(head, start),
            start,
            network=_key_network(key[:cut]),
            role=_key_role(key[:cut]),
        )
    _service_costs(found, tables, blocks)


def _key_end(line: str) -> int:
    """Where a key line's key ends: at its colon, else at its first amount, else at its end."""
    colon = line.find(":")
    money = _MONEY.search(line)
    if colon >= 0 and (money is None or colon < money.start()):
        return colon + 1
    return money.start() if money is not None else len(line)


def _answer_window(head: str, start: int) -> str:
    window = head[start : start + 500]
    stop = _NEXT_QUESTION.search(window, 1)
    return window[: stop.start()] if stop else window


def _in_table_row(head: str, offset: int) -> bool:
    line_start = head.rfind("\n", 0, offset) + 1
    return head[line_start:].lstrip().startswith("|")


_ANSWERS: Final = re.compile(r"answers?\b", re.IGNORECASE)
_YES_NO: Final = re.compile(r"(?:yes|no)\b", re.IGNORECASE)


def _keyed_rows(found: _Collector, table: Table) -> None:
    """Rows whose first cells name the deductible or the out-of-pocket limit: the answer is the grid's
    network columns, the "Answers" column (the template's middle one, though some print it last), or the first
    cell that holds an amount or a yes or no."""
    networks = _column_networks(table.header)
    answer_column = next((i for i, c in enumerate(table.header) if _ANSWERS.match(c.text)), None)
    for row in (table.header, *table.rows):
        index = 1 if len(row) > 2 and not row[0].text else 0  # the key column, or the one after a spanning cell
        kind = None if _MONEY.search(row[index].text) else _key_kind(row[index].text)
        if kind is None or len(row) < 2:
            continue
        key = row[index].text
        cells = [(i, c) for i, c in enumerate(row) if i > index and c.text]
        if networks:
            chosen = [(i, c) for i, c in cells if i in networks]
        elif answer_column is not None and answer_column > index and answer_column < len(row):
            chosen = [(answer_column, row[answer_column])]
        else:
            chosen = [(i, c) for i, c in cells if _MONEY.search(c.text) or _YES_NO.match(c.text)][:1] or cells[:1]
        for column, cell in chosen:
            _amounts(
                found,
                kind,
                cell.spaced,
                cell.start,
                network=networks.get(column) or _key_network(key),
                role=_key_role(key),
            )


def _column_networks(header: tuple[Cell, ...]) -> dict[int, str]:
    """A benefits grid's columns by network ("Cost if you use an In-Network Provider" | "... Non-Network ..."),
    when its header names both."""
    networks: dict[int, str] = {}
    for index, cell in enumerate(header):
        if _OUT_OF_NETWORK.search(cell.text):
            networks[index] = "out"
        elif _IN_NETWORK.search(cell.text):
            networks[index] = "in"
    return networks if set(networks.values()) == {"in", "out"} else {}


def _amounts(
    found: _Collector, kind: str, answer: str, offset: int, *, network: str | None = None, role: str | None = None
) -> None:
    """A summary's answer cell: amounts for a person and a family, in and out of network, in any order the
    carrier wrote them ("$1,500 individual / $3,000 family for combined in-network and out-of-network";
    "In-Network: $2,000 Individual / $4,000 Family; Out-of-Network: ..."; "$500/$1,000")."""
    person, family, person_out, family_out = _SBC_FIELDS[kind]
    text = _COMBINED.sub(lambda m: "~" * len(m.group(0)), answer)
    outside = [(m.start(), m.end()) for m in _OUT_OF_NETWORK.finditer(text)]
    inside = [m.start() for m in _IN_NETWORK.finditer(text)]
    # An in-network word inside an out-of-network phrase ("Out-of-Network") is not a marker of its own.
    markers = sorted(
        [(start, "out") for start, _ in outside] + [(at, "in") for at in inside if not _within(at, outside)]
    )
    amounts = [money for money in all_money(text) if money.value is not None and not money.value.startswith("-")]
    if not amounts:
        return
    columns = _network_columns(text, markers, amounts[0].start)
    postfix = bool(markers) and markers[0][0] > amounts[0].start
    seen = {"in": 0, "out": 0}
    in_row = 0
    for money in amounts:
        before = text[max(money.start - 30, 0) : money.start]
        labelled = _role_before(before)
        if network is not None:
            side = network  # the grid's column says
        elif columns:
            # "In-Network Out-of-Network / Employee-Only: $2,250 $2,250 / Family: $4,500 $4,500"
            in_row = 0 if labelled else in_row + 1
            side = "in" if in_row % 2 == 0 else "out"
        elif postfix:
            # "$0 Individual / $0 Family, In Network $300 Individual / $750 Family, Out of network"
            side = next((kind for position, kind in markers if position > money.end), markers[-1][1])
        else:
            side = next((kind for position, kind in reversed(markers) if position < money.start), "in")
        whose = _role(text[money.end : money.end + 30]) or labelled
        if whose is None and role is not None and seen[side] == 0:
            whose = role  # the key said whose: "Single deductible", "Deductible - Family"
        whose = whose or ("person" if seen[side] == 0 else "family")
        seen[side] += 1
        field = {
            ("in", "person"): person,
            ("in", "family"): family,
            ("out", "person"): person_out,
            ("out", "family"): family_out,
        }[(side, whose)]
        found.add(field, _found_value(money, offset, 0.9))


def _within(offset: int, spans: list[tuple[int, int]]) -> bool:
    """Whether ``offset`` falls in one of ``spans`` (ascending, not overlapping)."""
    index = bisect.bisect_right(spans, (offset, math.inf)) - 1
    return index >= 0 and offset < spans[index][1]


def _network_columns(text: str, markers: list[tuple[int, str]], first_amount: int) -> bool:
    """Whether the answer is a small table: an in-network and an out-of-network heading side by side before
    any amount, then a row per role."""
    heads = [marker for marker in markers if marker[0] < first_amount]
    if len(heads) < 2 or (heads[-2][1], heads[-1][1]) != ("in", "out"):
        return False
    between = text[heads[-2][0] : heads[-1][0]]
    return re.fullmatch(r"[\w-]+(?:\s+providers?)?[\s|/]*", between) is not None


def _role(after: str) -> str | None:
    match = _ROLE_AFTER.match(after)
    return None if match is None else _role_of(match["role"])


def _role_before(before: str) -> str | None:
    if _ROLE_PAIR.search(before):
        return None  # "per individual/per family: $3,000/$6,000": the amounts follow in the pair's order
    match = _ROLE_BEFORE.search(before)
    return None if match is None else _role_of(match["role"])


def _role_of(word: str) -> str:
    return "family" if re.match(r"fam|aggregate", word, re.IGNORECASE) else "person"


def _service_costs(found: _Collector, tables: list[Table], blocks: list[Block]) -> None:
    """What a member pays for each service: in the service's own cell right after its name ("Primary Care: $25
    copay"), else the first cell after it that says (the network provider's column comes first)."""
    for table in tables:
        for row in table.rows:
            for index, cell in enumerate(row):
                for field, pattern in _SERVICES:
                    match = pattern.search(cell.text)
                    if field in found.fields or match is None:
                        continue
                    inside = find_cost_share(cell.spaced[match.end() :])
                    if inside is not None and inside.start <= 25:
                        found.add(field, _found_value(inside, cell.start + match.end(), 0.85))
                        continue
                    share = next(
                        ((c, share) for c in row[index + 1 :] if (share := find_cost_share(c.spaced)) is not None), None
                    )
                    if share is not None:
                        found.add(field, _found_value(share[1], share[0].start, 0.85))
    _service_lines(found, blocks)


def _service_lines(found: _Collector, blocks: list[Block]) -> None:
    # Unruled, a row is a line ("Emergency room care 20% coinsurance 20% coinsurance None"), or the service is
    # a heading or a bold line with its figure on a line below: the figure follows the name closely.
    text = "\n\n".join(block.text for block in blocks)
    starts = [block.start for block in blocks]
    offsets = []
    position = 0
    for block in blocks:
        offsets.append(position)
        position += len(block.text) + 2
    for field, pattern in _SERVICES:
        if field in found.fields:
            continue
        for match in pattern.finditer(text):
            after = text[match.end() : match.end() + 90]
            share = find_cost_share(after)
            if share is None or share.start > 45 or re.search(r"\n\n\s*#", after[: share.start]):
                continue
            at = match.end() + share.start
            holder = max(i for i, offset in enumerate(offsets) if offset <= at)
            found.add(field, _found_value(share, starts[holder] + at - offsets[holder] - share.start, 0.7))
            break


# The insurer, when no label names it --------------------------------------------------------------

_COMPANY_WORD: Final = re.compile(
    r"\b(?:Insurance|Assurance|Casualty|Indemnity|Mutual|Underwriters|Company|Co\.|Corporation|Corp\.|Group"
    r"|Health|Healthcare|BlueCross|Blue Cross|Blue Shield|BCBS\w*|Life|Inc\.|LLC|Exchange|Alliance|Plan)(?!\w)"
)
_ABBREVIATION_END: Final = re.compile(r"\b(?:Co|Inc|Corp|Ltd|Assn|Cos|Bros|L\.L\.C|N\.A)\.$")


def clean_name(text: str) -> str:
    """A name without the punctuation around it, keeping an abbreviation's period ("Acme Insurance Co.")."""
    name = text.strip(" ,:;\u2013-")
    while name.endswith(".") and not _ABBREVIATION_END.search(name):
        name = name[:-1].rstrip()
    return name


# The summary of benefits' header, "Carrier: Plan name  Coverage Period: ...", after the form's own title.
_SBC_CARRIER: Final = re.compile(
    r"(?:^|covered services|what it costs|\n)\s*[#*\s]*(?P<name>[A-Z][\w&.'\u2019-]*(?:[ ][A-Z][\w&.'\u2019-]*){0,5})"
    r"\s*:\s*[^:\n]{2,90}?\s+coverage period\b",
    re.IGNORECASE,
)
# The federal template's first line: "Insurance Company 1: Plan Option 1".
_FIRST_LINE_CARRIER: Final = re.compile(r"\A\s*(?:#+\s*)?(?P<name>[A-Z][^:|\n]{2,60}?)\s*:\s+\S")
_NOT_A_CARRIER: Final = re.compile(
    r"summary of benefits|what this plan|what you pay|covered services|what it costs|declarations|coverage|policy"
    r"|important|questions|plan type|period|endorsement|schedule|notice|form\b",
    re.IGNORECASE,
)


def _insurer_from_title(found: _Collector, head: str) -> None:
    """A carrier prints its name at the top: the first short line that names a company (a heading or not),
    up to a colon or a dash; on a summary of benefits, the name before "Plan name  Coverage Period"."""
    opening = head[:1500]
    carrier = _SBC_CARRIER.search(opening)
    if carrier is not None and not _NOT_A_CARRIER.search(carrier["name"]) and _label_cell(carrier["name"]) is None:
        name = clean_name(carrier["name"])
        found.add(FieldName.INSURER, _value(name, name, carrier.start("name"), 0.7))
        return
    first = _FIRST_LINE_CARRIER.search(opening)
    if first is not None and not _NOT_A_CARRIER.search(first["name"]) and _label_cell(first["name"]) is None:
        name = clean_name(first["name"])
        found.add(FieldName.INSURER, _value(name, name, first.start("name"), 0.6))
        return
    for match in re.finditer(r"^.*$", opening, re.MULTILINE):
        plain = _EMPHASIS.sub("", match.group(0)).strip().lstrip("#").strip()
        if not plain or "|" in plain or len(plain) > 90 or _NOT_A_CARRIER.search(plain):
            continue
        name = clean_name(re.split(r":|\s[\u2013-]\s", plain, maxsplit=1)[0])
        shown = name.title() if name.isupper() else name
        if len(name) < 4 or not _COMPANY_WORD.search(shown) or re.search(r"\d{3}", name):
            continue
        start = head.find(name, match.start())
        if start >= 0:
            found.add(FieldName.INSURER, _value(name, name, start, 0.7))
        return


# Document type --------------------------------------------------------------------------------------

_LINE_CUES: Final[tuple[tuple[InsuranceDocumentType, re.Pattern[str], float], ...]] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE), weight)
    for kind, pattern, weight in (
        (InsuranceDocumentType.HOMEOWNERS, r"\bhomeowners?\b", 3.0),
        (InsuranceDocumentType.HOMEOWNERS, r"\bHO[- ]?\d{1,2}\b|\bHO 00 0\d\b", 2.0),
        (InsuranceDocumentType.HOMEOWNERS, r"\bdwelling\b", 1.0),
        (InsuranceDocumentType.HOMEOWNERS, r"\bresidence premises\b", 2.0),
        (InsuranceDocumentType.HOMEOWNERS, r"\bother structures\b|\bloss of use\b", 1.5),
        (InsuranceDocumentType.PERSONAL_AUTO, r"\bpersonal auto(?:mobile)?\b", 4.0),
        (InsuranceDocumentType.PERSONAL_AUTO, r"\bPP 00 01\b|\bauto(?:mobile)? policy\b", 2.0),
        (InsuranceDocumentType.PERSONAL_AUTO, r"\bvehicles?\b|\bVIN\b|\bgaraging\b", 1.0),
        (InsuranceDocumentType.PERSONAL_AUTO, r"\buninsured motorists?\b|\bcollision\b", 1.5),
        (InsuranceDocumentType.COMMERCIAL_GENERAL_LIABILITY, r"\bcommercial general liability\b", 5.0),
        (InsuranceDocumentType.COMMERCIAL_GENERAL_LIABILITY, r"\bCG 00 0[12]\b", 3.0),
        (InsuranceDocumentType.COMMERCIAL_GENERAL_LIABILITY, r"\beach occurrence limit\b|\bgeneral aggregate\b", 2.0),
        (InsuranceDocumentType.COMMERCIAL_GENERAL_LIABILITY, r"\bproducts[-\s]completed operations\b", 2.0),
        # A commercial package's common declarations: general liability is the line the taxonomy has for it.
        (
            InsuranceDocumentType.COMMERCIAL_GENERAL_LIABILITY,
            r"\bcommon policy declarations?\b|\bpackage policy\b",
            3.0,
        ),
        (InsuranceDocumentType.COMMERCIAL_GENERAL_LIABILITY, r"\bgeneral liability\b", 1.0),
        (InsuranceDocumentType.SUMMARY_OF_BENEFITS, r"\bsummary of benefits\b|\bbenefits? highlights\b", 5.0),
        (InsuranceDocumentType.SUMMARY_OF_BENEFITS, r"\bdeductible waived\b|\bin-network\b|\bprimary care\b", 1.0),
        (InsuranceDocumentType.SUMMARY_OF_BENEFITS, r"\bout[-\s]of[-\s]pocket\b|\bcoinsurance\b|\bcopay", 1.0),
    )
)
# Cues count in a document's opening this many characters (its declarations or its own title) three times.
_OPENING: Final = 6000
_MIN_LINE_SCORE: Final = 8.0


def classify_insurance_type(markdown: str) -> tuple[InsuranceDocumentType, float]:
    """The document's type and a confidence in 0..1: an endorsement, a claim form or a summary of benefits
    by what the paper says it is (docintake.document_types); a policy or declarations by its line of
    business, read from cue phrases, the opening counting most."""
    form, form_scores = scores_of(markdown)
    ranked = sorted(form_scores.values(), reverse=True)
    form_confidence = _margin(ranked)
    by_form = {
        DocumentType.BENEFIT_SUMMARY: InsuranceDocumentType.SUMMARY_OF_BENEFITS,
        DocumentType.ENDORSEMENT: InsuranceDocumentType.ENDORSEMENT,
        DocumentType.CLAIM_FORM: InsuranceDocumentType.CLAIM_FORM,
    }
    if form in by_form:
        return by_form[DocumentType(form)], form_confidence
    text = markdown[:HEAD_CHARS]
    scores: dict[InsuranceDocumentType, float] = {}
    for kind, pattern, weight in _LINE_CUES:
        hits = [m.start() for m in pattern.finditer(text)][:8]
        scores[kind] = scores.get(kind, 0.0) + weight * sum(3.0 if at < _OPENING else 1.0 for at in hits)
    best = max(scores, key=lambda kind: scores[kind])
    if scores[best] < _MIN_LINE_SCORE:
        return InsuranceDocumentType.OTHER, round(min(form_confidence, 0.5), 2)
    return best, _margin(sorted(scores.values(), reverse=True))


def _margin(ranked: list[float]) -> float:
    """How far the best score stands from the next: 0.5 for a tie, towards 1 as it pulls ahead."""
    if not ranked or ranked[0] <= 0:
        return 0.0
    second = ranked[1] if len(ranked) > 1 else 0.0
    return round(0.5 + 0.5 * (ranked[0] - second) / ranked[0], 2)
