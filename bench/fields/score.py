"""How bench/fields scores what ``extract_document_fields`` found against a document's truth.

- **Money** (premium, deductibles, out-of-pocket limits): right when the amounts are equal (``"1500.00"``
  against "$1,500.00"), or when the text matches (below) for a truth with no single amount.
- **Dates**: right when the ISO dates are equal.
- **Text** (insurer, policy number, named insured): right when equal after Unicode NFKC, dashes and quotes
  made plain, whitespace collapsed, case folded and trailing ``.,;:`` dropped.
- **Cost shares** (primary care, specialist, emergency room, generic drugs): right when the kind (copay,
  coinsurance) and the amount or percentage are both equal.
- **Coverages**: each true row is matched to a found row by name (the text rule; failing that, the names
  with a leading "A." / "1." marker removed, or one name containing the other); the row is right only
  when its limit AND its deductible are right. A cell is right when its text matches, or when both hold an
  amount and the amounts are equal, or when the truth holds no amount ("None", "-", "Included") and nothing
  was found for it.
- **Evidence**: every value found (each field and each coverage row) must carry evidence whose ``quote``
  equals ``markdown[start:end]`` and whose slice contains the value's text (for a coverage: its name, and
  its limit's and deductible's text); whitespace runs are compared collapsed, since a cell may wrap.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from docintake.fields import Coverage, DocumentFields, Evidence, FieldName, FieldValue, Money
from docintake.fields.model import FIELD_KINDS, ValueKind, parse_decimal
from docintake_local.fields_corpus import FieldsTruth, TrueCoverage, TrueValue

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")
_QUOTES = {**dict.fromkeys(map(ord, "\u2018\u2019\u201b"), "'"), **dict.fromkeys(map(ord, "\u201c\u201d"), '"')}
_SPACE = re.compile(r"\s+")
_MARKER = re.compile(r"^(?:[A-Za-z]|\d{1,2})[.)]\s+")
_NO_AMOUNT = frozenset({"", "-", "none", "n/a", "not applicable", "included", "not covered"})


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).translate(_QUOTES)
    return _SPACE.sub(" ", text).strip().casefold().rstrip(".,;:").strip()


def _collapsed(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def field_matches(name: FieldName, found: FieldValue | None, truth: TrueValue) -> bool:
    """One field, by the rule of its kind (module docstring)."""
    if found is None:
        return False
    kind = FIELD_KINDS[name]
    if kind is ValueKind.DATE:
        return found.value == truth.value
    if kind is ValueKind.MONEY:
        if truth.value is not None:
            return parse_decimal(found.value) == parse_decimal(truth.value)
        return normalise(found.text) == normalise(truth.text)
    if kind is ValueKind.COST_SHARE:
        if found.cost_share != truth.cost_share:
            return False
        return truth.value is None or parse_decimal(found.value) == parse_decimal(truth.value)
    return normalise(found.value or found.text) == normalise(truth.text)


def money_matches(found: Money | None, truth: TrueValue | None) -> bool:
    """One coverage cell (module docstring)."""
    if truth is None:
        return found is None
    if found is not None and normalise(found.text) == normalise(truth.text):
        return True
    if truth.value is not None:
        return found is not None and parse_decimal(found.value) == parse_decimal(truth.value)
    if normalise(truth.text) in _NO_AMOUNT:
        return found is None or (found.value is None and normalise(found.text) in _NO_AMOUNT)
    return False


def _bare(name: str) -> str:
    return _MARKER.sub("", normalise(name))


def match_coverage(truth: TrueCoverage, found: list[Coverage]) -> Coverage | None:
    key = normalise(truth.name)
    exact = next((row for row in found if normalise(row.name) == key), None)
    if exact is not None:
        return exact
    bare = _bare(truth.name)
    return next((row for row in found if _bare(row.name) == bare or bare in _bare(row.name)), None) or next(
        (row for row in found if _bare(row.name) and _bare(row.name) in bare), None
    )


def coverage_matches(truth: TrueCoverage, found: list[Coverage]) -> bool:
    row = match_coverage(truth, found)
    return row is not None and money_matches(row.limit, truth.limit) and money_matches(row.deductible, truth.deductible)


def evidence_problem(markdown: str, evidence: Evidence | None, texts: list[str]) -> str | None:
    """Why this evidence does not hold ``texts`` (None when it does)."""
    if evidence is None:
        return "no evidence"
    if not 0 <= evidence.start <= evidence.end <= len(markdown):
        return f"span {evidence.start}:{evidence.end} outside the Markdown ({len(markdown)} characters)"
    piece = markdown[evidence.start : evidence.end]
    if piece != evidence.quote:
        return "quote differs from markdown[start:end]"
    missing = [text for text in texts if text and _collapsed(text) not in _collapsed(piece)]
    if missing:
        return f"span does not contain {missing[0]!r}"
    return None


@dataclass
class DocumentScore:
    """One document: per field, right or wrong (only fields its truth holds); evidence problems."""

    id: str
    origin: str
    kind: str
    type_right: bool
    found_type: str
    fields: dict[str, bool] = field(default_factory=dict)
    coverages: list[tuple[str, bool]] = field(default_factory=list)
    evidence_checked: int = 0
    evidence_problems: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)  # "field: found X, true Y", for the report's detail


def score_document(
    case_id: str, origin: str, truth: FieldsTruth, found: DocumentFields, markdown: str
) -> DocumentScore:
    result = DocumentScore(
        case_id, origin, truth.document_type, found.document_type == truth.document_type, str(found.document_type)
    )
    for name, true_value in truth.fields.items():
        field_name = FieldName(name)
        value = found.fields.get(field_name)
        right = field_matches(field_name, value, true_value)
        result.fields[name] = right
        if not right:
            shown = "nothing" if value is None else repr(value.text)
            result.misses.append(f"{name}: found {shown}, true {true_value.text!r}")
    for row in truth.coverages:
        right = coverage_matches(row, found.coverages)
        result.coverages.append((row.name, right))
        if not right:
            match = match_coverage(row, found.coverages)
            shown = "no row" if match is None else f"{_cell(match.limit)} / {_cell(match.deductible)}"
            true = f"{row.limit.text if row.limit else None} / {row.deductible.text if row.deductible else None}"
            result.misses.append(f"coverage {row.name!r}: found {shown}, true {true}")
    for name, value in found.fields.items():
        result.evidence_checked += 1
        problem = evidence_problem(markdown, found.evidence.get(name), [value.text])
        if problem is not None:
            result.evidence_problems.append(f"{name}: {problem}")
    for found_row in found.coverages:
        result.evidence_checked += 1
        texts = [found_row.name, *(cell.text for cell in (found_row.limit, found_row.deductible) if cell is not None)]
        problem = evidence_problem(markdown, found_row.evidence, texts)
        if problem is not None:
            result.evidence_problems.append(f"coverage {found_row.name!r}: {problem}")
    return result


def _cell(money: Money | None) -> str:
    return "nothing" if money is None else repr(money.text)
