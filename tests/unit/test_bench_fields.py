"""bench/fields scores by its rules (each rule right and wrong once), catches evidence that does not hold its
value, and its truth is what the documents print: the generator's values are in its PDFs' text, and every
real document's true values are cells of the document, which names its source."""

from __future__ import annotations

import json
import re

import pypdfium2 as pdfium
import pytest

from bench.fields.run import MANIFEST
from bench.fields.score import (
    coverage_matches,
    evidence_problem,
    field_matches,
    money_matches,
    normalise,
    score_document,
)
from docintake.fields import Coverage, DocumentFields, Evidence, FieldName, FieldValue, InsuranceDocumentType, Money
from docintake_local.fields_corpus import (
    FieldsTruth,
    TrueCoverage,
    TrueValue,
    generated_truth,
    money_value,
    real_cases,
)
from docintake_local.sample_documents import sample_documents, sample_documents_with_values

_SPACE = re.compile(r"\s+")


def _found(value: str | None, text: str, **extra: str) -> FieldValue:
    return FieldValue(value=value, text=text, confidence=0.9, **extra)  # type: ignore[arg-type]


def _pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    try:
        return _SPACE.sub(" ", " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf))))
    finally:
        pdf.close()


# ---- the comparison rules -----------------------------------------------------------------------------


def test_money_is_right_by_amount_whatever_the_writing() -> None:
    truth = TrueValue("$1,500.00", money_value("$1,500.00"))

    assert field_matches(FieldName.DEDUCTIBLE, _found("1500.00", "$1,500"), truth)
    assert not field_matches(FieldName.DEDUCTIBLE, _found("3000.00", "$3,000.00"), truth)
    assert not field_matches(FieldName.DEDUCTIBLE, None, truth)


def test_dates_are_right_by_iso_date() -> None:
    truth = TrueValue("03/01/2026", "2026-03-01")

    assert field_matches(FieldName.EFFECTIVE_DATE, _found("2026-03-01", "March 1, 2026"), truth)
    assert not field_matches(FieldName.EFFECTIVE_DATE, _found("2026-01-03", "03/01/2026"), truth)


def test_text_is_right_whatever_its_case_spaces_and_dashes() -> None:
    truth = TrueValue("Ironmark Commercial Insurance Co.", "Ironmark Commercial Insurance Co.")

    assert field_matches(FieldName.INSURER, _found("IRONMARK  commercial insurance co", "x"), truth)
    assert normalise("HO 04 90 \u2013 Personal") == normalise("ho 04 90 - personal")
    assert not field_matches(FieldName.INSURER, _found("Ironmark", "Ironmark"), truth)


def test_a_cost_share_is_right_when_its_kind_and_amount_both_are() -> None:
    truth = TrueValue("20% coinsurance after deductible is met", "20", "coinsurance")

    assert field_matches(FieldName.PRIMARY_CARE, _found("20", "20% coinsurance", cost_share="coinsurance"), truth)
    assert not field_matches(FieldName.PRIMARY_CARE, _found("20.00", "$20 copay", cost_share="copay"), truth)
    assert not field_matches(FieldName.PRIMARY_CARE, _found("30", "30% coinsurance", cost_share="coinsurance"), truth)


def test_a_coverage_cell_is_right_by_amount_by_text_or_by_having_none() -> None:
    assert money_matches(Money(value="100000.00", text="$100,000"), TrueValue("$100,000 any one premises", "100000.00"))
    assert money_matches(Money(value=None, text="Actual cash value"), TrueValue("Actual cash value", None))
    assert money_matches(None, TrueValue("None", None))
    assert not money_matches(Money(value="500.00", text="$500"), TrueValue("$1,000", "1000.00"))
    assert not money_matches(None, TrueValue("$1,000", "1000.00"))


def test_a_coverage_row_is_right_only_when_limit_and_deductible_both_are() -> None:
    truth = TrueCoverage(
        "A. Dwelling",
        TrueValue("$565,000", "565000.00"),
        TrueValue("$500", "500.00"),
        TrueValue("$2,046.00", "2046.00"),
    )
    right = Coverage(
        name="Dwelling", limit=Money(value="565000.00", text="$565,000"), deductible=Money(value="500.00", text="$500")
    )
    wrong = right.model_copy(update={"deductible": Money(value="1000.00", text="$1,000")})

    assert coverage_matches(truth, [right])
    assert not coverage_matches(truth, [wrong])
    assert not coverage_matches(truth, [])


# ---- the evidence check -------------------------------------------------------------------------------

MARKDOWN = "| What is the overall deductible? | $1,500.00 Individual/$3,000.00 Family |\n"


def test_evidence_holding_its_value_passes() -> None:
    start = MARKDOWN.index("$1,500.00")
    evidence = Evidence(start=start, end=start + 20, quote=MARKDOWN[start : start + 20])

    assert evidence_problem(MARKDOWN, evidence, ["$1,500.00"]) is None


@pytest.mark.parametrize(
    ("start", "end", "quote", "problem"),
    [
        (2, 30, "What is the overall deductib", "does not contain"),  # a real slice, but not the value's
        (2, 30, "something else", "quote differs"),
        (60, 500, "", "outside the Markdown"),
    ],
)
def test_evidence_that_does_not_hold_its_value_is_caught(start: int, end: int, quote: str, problem: str) -> None:
    found = DocumentFields(
        document_type=InsuranceDocumentType.SUMMARY_OF_BENEFITS,
        document_type_confidence=0.9,
        fields={FieldName.DEDUCTIBLE: _found("1500.00", "$1,500.00")},
        evidence={FieldName.DEDUCTIBLE: Evidence(start=start, end=end, quote=quote)},
    )
    truth = FieldsTruth("summary_of_benefits", {"deductible": TrueValue("$1,500.00", "1500.00")})

    score = score_document("doc", "real", truth, found, MARKDOWN)

    assert score.fields == {"deductible": True}  # the value is right; its evidence is not
    assert score.evidence_checked == 1
    assert len(score.evidence_problems) == 1 and problem in score.evidence_problems[0]


def test_a_value_without_evidence_is_caught() -> None:
    assert evidence_problem(MARKDOWN, None, ["$1,500.00"]) == "no evidence"


# ---- the truth is what the documents print ------------------------------------------------------------


def test_generated_truth_is_printed_in_the_generated_pdf() -> None:
    for doc, values in sample_documents_with_values(8, seed=5):
        text = _pdf_text(doc.data)
        truth = generated_truth(values)
        cells = [value.text for value in truth.fields.values()]
        cells += [cell.text for row in truth.coverages for cell in (row.limit, row.deductible) if cell is not None]
        cells += [row.name for row in truth.coverages]

        assert truth.coverages, doc.filename  # every kind prints a coverage table
        assert {"insurer", "policy_number", "effective_date", "premium"} <= set(truth.fields)
        missing = [cell for cell in cells if _SPACE.sub(" ", cell) not in text]
        assert not missing, (doc.filename, missing)


def test_recording_the_values_leaves_the_documents_byte_identical() -> None:
    plain = sample_documents(4, seed=5)
    recorded = [doc for doc, _ in sample_documents_with_values(4, seed=5)]

    assert [doc.data for doc in plain] == [doc.data for doc in recorded]


def test_every_real_documents_truth_is_a_cell_it_prints_and_names_its_source() -> None:
    entries = json.loads(MANIFEST.read_text(encoding="utf-8"))["documents"]
    cases = real_cases(MANIFEST)

    assert len(cases) >= 12 and len({case.id for case in cases}) == len(cases)
    for entry, case in zip(entries, cases, strict=True):
        text = _pdf_text(case.pdf)
        assert case.source_url and case.source_url.startswith("http"), case.id
        scored = {"deductible", "out_of_pocket_limit", "emergency_room", "generic_drugs", "deductible_out_of_network"}
        assert scored & set(case.truth.fields) or case.truth.coverages, case.id
        for row in case.truth.coverages:
            cells = [row.name, *(cell.text for cell in (row.limit, row.deductible) if cell is not None)]
            assert all(_SPACE.sub(" ", cell) in text for cell in cells), (case.id, row.name)
        for name, value in case.truth.fields.items():
            if name.endswith("_date"):
                continue  # ISO in the truth; the document prints its coverage period as it wrote it
            assert _SPACE.sub(" ", value.text) in text, (case.id, name, value.text)
            if name not in ("insurer",) and value.cost_share is None:
                assert value.value is not None, (case.id, name)  # every amount parses
        if entry.get("carrier") and "insurer" in case.truth.fields:
            assert case.truth.fields["insurer"].text == entry["carrier"]
