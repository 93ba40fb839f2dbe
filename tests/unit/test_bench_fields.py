"""bench/fields scores by its rules (each rule right and wrong once), catches evidence that does not hold its
value, and its truth is what the documents print: the generator's values are in its PDFs' text, and every
real document's true values are cells of the document, which names its source; the same holds for the held-out
real documents (DOCX, HTML and PDF), which share no source with the development set, and a target missed on
either set fails ``--strict``."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import date
from typing import Any

import pypdfium2 as pdfium
import pytest

from bench.fields.run import HELDOUT_MANIFEST, MANIFEST, report, summarise, targets
from bench.fields.score import (
    DocumentScore,
    coverage_matches,
    evidence_problem,
    field_matches,
    money_matches,
    normalise,
    score_document,
)
from docintake.fields import Coverage, DocumentFields, Evidence, FieldName, FieldValue, InsuranceDocumentType, Money
from docintake_local.fields_corpus import (
    HELDOUT_LOOKS,
    RELOOKS,
    FieldsCase,
    FieldsTruth,
    TrueCoverage,
    TrueValue,
    generated_truth,
    heldout_cases,
    money_value,
    real_cases,
    relooked_cases,
)
from docintake_local.sample_documents import sample_documents, sample_documents_with_values

_SPACE = re.compile(r"\s+")


def _found(value: str | None, text: str, **extra: str) -> FieldValue:
    return FieldValue(value=value, text=text, confidence=0.9, **extra)


def _pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    try:
        return _SPACE.sub(" ", " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf))))
    finally:
        pdf.close()


def _docx_text(data: bytes) -> str:
    import docx

    def tables(found: list[Any]) -> list[str]:  # cells, and the tables nested in them
        return [
            text
            for table in found
            for row in table.rows
            for cell in row.cells
            for text in (cell.text, *tables(cell.tables))
        ]

    document = docx.Document(io.BytesIO(data))
    texts = [paragraph.text for paragraph in document.paragraphs] + tables(document.tables)
    return _SPACE.sub(" ", " ".join(texts))


def _html_text(data: bytes) -> str:
    return _SPACE.sub(" ", html.unescape(re.sub(r"<[^>]+>", " ", data.decode("utf-8"))))


def _text(case_data: bytes, content_type: str) -> str:
    if content_type == "application/pdf":
        return _pdf_text(case_data)
    if content_type == "text/html":
        return _html_text(case_data)
    return _docx_text(case_data)


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
        text = _text(case.data, case.content_type)
        assert case.source_url and case.source_url.startswith("http"), case.id
        scored = {"deductible", "out_of_pocket_limit", "emergency_room", "generic_drugs", "deductible_out_of_network"}
        scored |= {"policy_number", "insurer"}
        assert scored & set(case.truth.fields) or case.truth.coverages, case.id
        for row in case.truth.coverages:
            cells = [row.name, *(cell.text for cell in (row.limit, row.deductible) if cell is not None)]
            assert all(_SPACE.sub(" ", cell) in text for cell in cells), (case.id, row.name)
        for name, value in case.truth.fields.items():
            if name.endswith("_date"):
                continue  # ISO in the truth; the document prints its coverage period as it wrote it
            assert _SPACE.sub(" ", value.text) in text, (case.id, name, value.text)
            if name not in ("insurer", "named_insured", "policy_number") and value.cost_share is None:
                assert value.value is not None, (case.id, name)  # every amount parses
            if value.cost_share is not None:
                assert value.cost_share in ("copay", "coinsurance") and value.value is not None, (case.id, name)
        if entry.get("carrier") and "insurer" in case.truth.fields:
            assert case.truth.fields["insurer"].text == entry["carrier"]


def test_the_second_batch_keeps_the_formats_and_looks_it_was_held_out_in() -> None:
    """The 31 documents held out until 2026-12-02 are development data now, still rendered as DOCX, HTML and
    PDF in the looks they were measured in."""
    second = [case for case in real_cases(MANIFEST) if not case.look.startswith(("ruled", "unruled"))]
    entries = [entry for entry in json.loads(MANIFEST.read_text(encoding="utf-8"))["documents"] if entry.get("look")]

    assert len(second) == len(entries) == 31
    assert all(entry["batch"].startswith("second") for entry in entries)
    assert {case.content_type for case in second} == {
        "application/pdf",
        "text/html",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    }
    assert [case.look for case in second] == [entry["look"] for entry in entries]


# ---- the held-out real documents -----------------------------------------------------------------------


Heldout = list[tuple[dict[str, Any], FieldsCase]]


@pytest.fixture(scope="module")
def heldout() -> Heldout:
    entries = json.loads(HELDOUT_MANIFEST.read_text(encoding="utf-8"))["documents"]
    return list(zip(entries, heldout_cases(HELDOUT_MANIFEST), strict=True))


@pytest.fixture(scope="module")
def rendered(heldout: Heldout) -> Heldout:
    """Every real document rendered as DOCX, HTML or PDF in a look other than the federal form's: the second
    development batch and the held-out set."""
    entries = json.loads(MANIFEST.read_text(encoding="utf-8"))["documents"]
    second = [(entry, case) for entry, case in zip(entries, real_cases(MANIFEST), strict=True) if entry.get("look")]
    return second + heldout


def test_every_heldout_truth_is_a_cell_its_rendered_document_prints(heldout: Heldout) -> None:
    for entry, case in heldout:
        text = _text(case.data, case.content_type)
        scored = {"deductible", "out_of_pocket_limit", "deductible_out_of_network", "policy_number", "insurer"}
        assert scored & set(case.truth.fields) or case.truth.coverages, case.id
        for row in case.truth.coverages:
            cells = [row.name, *(cell.text for cell in (row.limit, row.deductible) if cell is not None)]
            assert all(_SPACE.sub(" ", cell) in text for cell in cells), (case.id, row.name)
        for name, value in case.truth.fields.items():
            if name.endswith("_date"):
                continue  # ISO in the truth; checked against the printed period below
            assert _SPACE.sub(" ", value.text) in text, (case.id, name, value.text)
            if name not in ("insurer", "named_insured", "policy_number") and value.cost_share is None:
                assert value.value is not None, (case.id, name)  # every amount parses
            if value.cost_share is not None:
                assert value.cost_share in ("copay", "coinsurance") and value.value is not None, (case.id, name)
        if "insurer" in case.truth.fields:
            assert case.truth.fields["insurer"].text == entry["carrier"], case.id


def _writings(iso: str) -> set[str]:
    """The ways a period on these pages writes a date: 07/01/2016, 7/1/2016, 01-01-2012, December 1, 2009."""
    day = date.fromisoformat(iso)
    return {
        f"{day:%m/%d/%Y}",
        f"{day.month}/{day.day}/{day.year}",
        f"{day:%m-%d-%Y}",
        f"{day:%B} {day.day}, {day.year}",
    }


def test_dates_are_the_printed_periods(rendered: Heldout) -> None:
    """An ISO date in the truth is only there when the document printed both ends of the period, as written."""
    for _, case in rendered:
        dates = {name: value.value or "" for name, value in case.truth.fields.items() if name.endswith("_date")}
        if not dates:
            continue
        text = _text(case.data, case.content_type)
        assert set(dates) == {"effective_date", "expiration_date"}, case.id
        for iso in dates.values():
            assert any(writing in text for writing in _writings(iso)), (case.id, iso)
        assert dates["effective_date"] < dates["expiration_date"], case.id


def test_heldout_documents_name_their_sources_and_share_none_with_the_development_set(
    heldout: Heldout,
) -> None:
    development = {entry["source_url"] for entry in json.loads(MANIFEST.read_text(encoding="utf-8"))["documents"]}
    urls = [case.source_url for _, case in heldout]

    assert all(url and url.startswith("http") for url in urls)
    assert len(set(urls)) == len(urls) and not set(urls) & development
    assert len({case.id for _, case in heldout}) == len(heldout)
    kinds = [case.kind for _, case in heldout]
    assert kinds.count("summary_of_benefits") >= 25 and "commercial_general_liability" in kinds
    formats = {case.content_type for _, case in heldout}
    assert formats == {
        "application/pdf",
        "text/html",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    }


def test_heldout_looks_are_not_the_development_sets(heldout: Heldout) -> None:
    """Every held-out look is one neither development batch is rendered in (the federal form's look is the
    commonest real layout, set apart from the first batch's five looks by its own top row and widths)."""
    development = {case.look for case in real_cases(MANIFEST)}
    looks = {case.look for _, case in heldout}

    assert looks == {look.name for look in HELDOUT_LOOKS.values()}
    assert not looks & development
    assert all(entry["look"] in HELDOUT_LOOKS for entry, _ in heldout)


def test_relooked_cases_are_the_development_summaries_in_the_named_heldout_looks() -> None:
    """The parser's development renderings: every development summary of benefits once per look in RELOOKS,
    with the development truth, apart from the held-out documents (none of theirs is among them)."""
    summaries = [
        e for e in json.loads(MANIFEST.read_text())["documents"] if e["document_type"] == "summary_of_benefits"
    ]
    heldout_ids = {e["id"] for e in json.loads(HELDOUT_MANIFEST.read_text())["documents"]}
    cases = relooked_cases(MANIFEST, looks=RELOOKS[:1])

    assert [case.id for case in cases] == [f"relooked-{RELOOKS[0]}-{e['id']}" for e in summaries]
    assert {case.origin for case in cases} == {"relooked"}
    assert {case.look for case in cases} == {HELDOUT_LOOKS[RELOOKS[0]].name}
    assert all(case.data.startswith(b"%PDF") for case in cases)
    truths = {case.id: case.truth for case in real_cases(MANIFEST)}
    assert all(case.truth == truths[f"real-{entry['id']}"] for case, entry in zip(cases, summaries, strict=True))
    assert not {e["id"] for e in summaries} & heldout_ids


def test_every_rendered_document_parses_as_the_pipeline_parses_it(rendered: Heldout) -> None:
    from docintake.parsing import parse_document

    for _, case in rendered:
        parsed = parse_document(case.data, case.content_type, max_pages=20)
        assert parsed.markdown.strip(), case.id
        amounts = [value.text for name, value in case.truth.fields.items() if name in ("deductible", "policy_number")]
        for text in amounts:  # what the targets hinge on reaches the Markdown
            assert _SPACE.sub(" ", text) in _SPACE.sub(" ", parsed.markdown.replace("\\", "")), case.id


# ---- the held-out set has its own targets ----------------------------------------------------------------


def _score(origin: str, right: bool) -> DocumentScore:
    return DocumentScore(
        id=f"{origin}-x",
        origin=origin,
        kind="summary_of_benefits",
        type_right=True,
        found_type="summary_of_benefits",
        fields={"deductible": right, "out_of_pocket_limit": right},
        coverages=[("Each Occurrence Limit", True)],
        evidence_checked=2,
    )


def test_a_target_missed_on_the_heldout_set_alone_fails_strict() -> None:
    met = summarise([_score("generated", True), _score("real", True), _score("heldout", True)])
    missed = summarise([_score("generated", True), _score("real", True), _score("heldout", False)])

    assert all(ok for _, ok in targets(met).values())
    checks = targets(missed)
    assert not checks["held-out: real summaries of benefits, deductible >= 0.9"][1]
    assert checks["development: real summaries of benefits, deductible >= 0.9"][1]
    text, ok = report(missed, 1.0, {})
    assert not ok
    assert "| field | generated | real (development) | held-out real |" in text
    assert "| deductible | 1.00 (1/1) | 1.00 (1/1) | 0.00 (0/1) |" in text


def test_the_baseline_reads_the_first_amounts_after_the_terms_first_mention() -> None:
    from bench.fields.run import baseline

    markdown = "The deductible is $1,500 per person and $3,000 per family. Your out-of-pocket limit is $6,000.\n"
    found = {name: value.value for name, value in baseline(markdown).items()}
    assert found == {
        "deductible": "1500.00",
        "deductible_family": "3000.00",
        "out_of_pocket_limit": "6000.00",
    }
