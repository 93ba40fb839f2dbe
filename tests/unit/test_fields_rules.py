"""The rule extractor on the shapes carriers print: amounts, dates and cost shares as written; summary-of-
benefits answer cells in several carriers' words; declarations as label/value runs, tables and lines."""

from __future__ import annotations

import pytest

from docintake.fields import FieldName, InsuranceDocumentType, extract_document_fields
from docintake.fields.rules import clean_name, find_cost_share, find_date, find_money
from docintake.parsing import PageMap

ONE_PAGE = PageMap.single_page()


@pytest.mark.parametrize(
    ("text", "value", "written"),
    [
        ("Limit $1,500", "1500.00", "$1,500"),
        ("premium: $3,612.00 due", "3612.00", "$3,612.00"),
        ("credit -$48.00", "-48.00", "-$48.00"),
        ("$ 1,000,000 each occurrence", "1000000.00", "$ 1,000,000"),
        ("$2 million aggregate", "2000000.00", "$2 million"),
        ("USD 250", "250.00", "USD 250"),
    ],
)
def test_money_is_a_decimal_amount_with_the_text_as_written(text: str, value: str, written: str) -> None:
    found = find_money(text)
    assert found is not None
    assert (found.value, found.text, found.currency) == (value, written, "USD")
    assert text[found.start : found.end] == written


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("02/10/2026 to 02/10/2027", "2026-02-10"),
        ("1/1/19 - 12/31/19", "2019-01-01"),
        ("January 1, 2026", "2026-01-01"),
        ("Sept. 30 2025", "2025-09-30"),
        ("2026-07-04", "2026-07-04"),
        ("1 July 2026", "2026-07-01"),
    ],
)
def test_dates_become_iso_8601(text: str, iso: str) -> None:
    found = find_date(text)
    assert found is not None and found.value == iso


def test_an_impossible_date_is_no_date() -> None:
    assert find_date("13/45/2026") is None


@pytest.mark.parametrize(
    ("cell", "kind", "value"),
    [
        ("$30 copay/visit", "copay", "30.00"),
        ("20% coinsurance", "coinsurance", "20"),
        ("No charge", "no_charge", "0.00"),
        ("Not covered", "not_covered", None),
        ("$250 copay per visit after deductible; 50% coinsurance out of network", "copay", "250.00"),
        ("30% coinsurance after $500 deductible", "coinsurance", "30"),
    ],
)
def test_a_cost_share_is_the_first_thing_the_cell_says(cell: str, kind: str, value: str | None) -> None:
    found = find_cost_share(cell)
    assert found is not None
    assert (found.cost_share, found.value) == (kind, value)


def test_a_company_keeps_the_period_of_its_abbreviation() -> None:
    assert clean_name("Ironmark Insurance Co.") == "Ironmark Insurance Co."
    assert clean_name("Sample Logistics Inc., ") == "Sample Logistics Inc."
    assert clean_name("Jordan Example.") == "Jordan Example"


def _sbc(answer_deductible: str, answer_oop: str = "$5,000 individual / $10,000 family") -> str:
    return (
        "Example Health Plan: Gold PPO\n\n"
        "## Summary of Benefits and Coverage: What this Plan Covers & What You Pay for Covered Services\n\n"
        "| Important Questions | Answers | Why This Matters: |\n| --- | --- | --- |\n"
        f"| What is the overall deductible? | {answer_deductible} | Generally, you must pay all of the costs. |\n"
        "| Are there services covered before you meet your deductible? | Yes. Preventive care. | Some items. |\n"
        f"| What is the out-of-pocket limit for this plan? | {answer_oop} | The most you could pay in a year. |\n"
        "| What is not included in the out-of-pocket limit? | Premiums, $99 charges | Even though you pay these. |\n"
    )


# Answer cells as carriers wrote them on published summaries (bench/fields lists real documents).
@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            "$1,500.00 Individual/$3,000.00 Family for combined in-network and out-of-network. True family aggregate.",
            {"deductible": "$1,500.00", "deductible_family": "$3,000.00"},
        ),
        (
            "$500 person / $1,000 family Doesn't apply to preventive care",
            {"deductible": "$500", "deductible_family": "$1,000"},
        ),
        (
            "Yes. For participating providers $2,500 person / $5,000 family For non-participating providers "
            "$4,000 person / $8,000 family",
            {
                "deductible": "$2,500",
                "deductible_family": "$5,000",
                "deductible_out_of_network": "$4,000",
                "deductible_out_of_network_family": "$8,000",
            },
        ),
        (
            "$200 individual/$400 family combined network and out-of-network.",
            {"deductible": "$200", "deductible_family": "$400"},
        ),
        (
            "In-Network: $2,000 Individual / $4,000 Family; Out-of-Network: $4,000 Individual / $8,000 Family",
            {
                "deductible": "$2,000",
                "deductible_family": "$4,000",
                "deductible_out_of_network": "$4,000",
                "deductible_out_of_network_family": "$8,000",
            },
        ),
        ("Individual: $1,500 Family: $3,000", {"deductible": "$1,500", "deductible_family": "$3,000"}),
        ("$1,000/$2,000", {"deductible": "$1,000", "deductible_family": "$2,000"}),
        ("$3,000 per family / $1,500 per person", {"deductible": "$1,500", "deductible_family": "$3,000"}),
        ("$0", {"deductible": "$0"}),
    ],
)
def test_a_summary_answer_cell_in_carriers_words(answer: str, expected: dict[str, str]) -> None:
    found = extract_document_fields(_sbc(answer), ONE_PAGE)
    assert found.document_type is InsuranceDocumentType.SUMMARY_OF_BENEFITS
    got = {name.value: value.text for name, value in found.fields.items() if name.value.startswith("deductible")}
    assert got == expected
    assert found.fields[FieldName.OUT_OF_POCKET_LIMIT].value == "5000.00"
    assert found.fields[FieldName.OUT_OF_POCKET_LIMIT_FAMILY].value == "10000.00"


def test_no_out_of_pocket_limit_is_no_value() -> None:
    found = extract_document_fields(_sbc("$500", "No. There's no limit on how much you could pay."), ONE_PAGE)
    assert FieldName.OUT_OF_POCKET_LIMIT not in found.fields
    # The "not included" row's $99 is never read as the limit.
    assert all(value.text != "$99" for value in found.fields.values())


def test_service_costs_come_from_the_network_column() -> None:
    markdown = _sbc("$500") + (
        "\n| Common Medical Event | Services You May Need | Network Provider (You will pay the least) "
        "| Out-of-Network Provider (You will pay the most) | Limitations |\n| --- | --- | --- | --- | --- |\n"
        "| If you visit a health care provider's office or clinic | Primary care visit to treat an injury or illness "
        "| $25 copay/visit; deductible does not apply | 40% coinsurance | None |\n"
        "|  | Specialist visit | $50 copay/visit | 40% coinsurance | Referral required |\n"
        "| If you need immediate medical attention | Emergency room care | 20% coinsurance | 20% coinsurance | - |\n"
        "| If you need drugs | Generic drugs (Tier 1) | $10 copay/prescription (retail) | Not covered | - |\n"
    )
    fields = extract_document_fields(markdown, ONE_PAGE).fields
    assert (fields[FieldName.PRIMARY_CARE].cost_share, fields[FieldName.PRIMARY_CARE].value) == ("copay", "25.00")
    assert fields[FieldName.SPECIALIST].text == "$50"
    assert (fields[FieldName.EMERGENCY_ROOM].cost_share, fields[FieldName.EMERGENCY_ROOM].value) == (
        "coinsurance",
        "20",
    )
    assert fields[FieldName.GENERIC_DRUGS].value == "10.00"


def test_a_declarations_run_without_separators() -> None:
    markdown = (
        "Maplecrest Home Assurance Co.\n\n## HOMEOWNERS POLICY DECLARATIONS\n\n"
        "Policy Number HO3-7943371-26 Policy Period 02/10/2026 to 02/10/2027 - 12:01 A.M. standard time "
        "Named Insured Avery Placeholder and Morgan Placeholder Mailing Address 552 Example Avenue\n\n"
        "| Coverage | Limit | Deductible | Premium |\n| --- | --- | --- | --- |\n"
        "| A. Dwelling | $800,000 | $2,500 | $2,791.00 |\n| D. Loss Of Use | $240,000 | None | Included |\n"
        "| Total Annual Premium |  |  | $3,612.00 |\n\n"
        "Deductibles. Section I deductible: $2,500 all perils.\n\n"
        "## HOMEOWNERS 3 - SPECIAL FORM\n\nThe named insured shown in the Declarations means you.\n"
    )
    found = extract_document_fields(markdown, PageMap((1, 2), (0, markdown.index("| A."))))
    assert found.document_type is InsuranceDocumentType.HOMEOWNERS
    values = {name.value: value.value for name, value in found.fields.items()}
    assert values == {
        "deductible": "2500.00",
        "insurer": "Maplecrest Home Assurance Co.",
        "policy_number": "HO3-7943371-26",
        "effective_date": "2026-02-10",
        "expiration_date": "2027-02-10",
        "named_insured": "Avery Placeholder and Morgan Placeholder",
        "premium": "3612.00",
    }
    dwelling, loss_of_use = found.coverages
    assert (dwelling.name, dwelling.limit.value, dwelling.deductible.value, dwelling.page) == (
        "A. Dwelling",
        "800000.00",
        "2500.00",
        2,
    )
    assert loss_of_use.deductible is not None and loss_of_use.deductible.value is None
    assert loss_of_use.premium is not None and loss_of_use.premium.text == "Included"
    for name, evidence in found.evidence.items():
        assert markdown[evidence.start : evidence.end] == evidence.quote
        assert found.fields[name].text in evidence.quote


def test_labels_in_a_table_and_on_lines() -> None:
    markdown = (
        "# Declarations\n\n| Insurer | Harbor Mutual Insurance Company |\n| --- | --- |\n"
        "| Policy No. | CA 12 345 678 |\n\n**Named Insured:** Sample Widgets LLC\n\n"
        "Effective Date: March 1, 2026\n\nExpiration Date: March 1, 2027\n\nTotal Premium: $1,204.50\n"
    )
    values = {n.value: v.value for n, v in extract_document_fields(markdown, ONE_PAGE).fields.items()}
    assert values == {
        "insurer": "Harbor Mutual Insurance Company",
        "policy_number": "CA 12 345 678",
        "named_insured": "Sample Widgets LLC",
        "effective_date": "2026-03-01",
        "expiration_date": "2027-03-01",
        "premium": "1204.50",
    }


def test_prose_is_not_read_as_labels() -> None:
    markdown = "## Conditions\n\nThe named insured must pay the premium. The policy period is one year.\n"
    found = extract_document_fields(markdown, ONE_PAGE)
    assert found.fields == {}
    assert found.document_type is InsuranceDocumentType.OTHER


def test_limits_printed_as_lines_are_coverages() -> None:
    markdown = (
        "# COMMERCIAL GENERAL LIABILITY DECLARATIONS\n\nPolicy Number: CGL 100 200\n\n## LIMITS OF INSURANCE\n\n"
        "EACH OCCURRENCE LIMIT $ 1,000,000\n\n"
        "GENERAL AGGREGATE LIMIT (Other Than Products-Completed Operations) $ 2,000,000\n\n"
        "DAMAGE TO PREMISES RENTED TO YOU LIMIT $ 100,000 Any one premises\n\n"
        "MEDICAL EXPENSE LIMIT $ 5,000 Any one person\n"
    )
    found = extract_document_fields(markdown, ONE_PAGE)
    assert found.document_type is InsuranceDocumentType.COMMERCIAL_GENERAL_LIABILITY
    rows = [(row.name, row.limit.value if row.limit else None) for row in found.coverages]
    assert rows == [
        ("EACH OCCURRENCE LIMIT", "1000000.00"),
        ("GENERAL AGGREGATE LIMIT (Other Than Products-Completed Operations)", "2000000.00"),
        ("DAMAGE TO PREMISES RENTED TO YOU LIMIT", "100000.00"),
        ("MEDICAL EXPENSE LIMIT", "5000.00"),
    ]
    for row in found.coverages:
        assert row.evidence is not None and row.name in row.evidence.quote and row.limit.text in row.evidence.quote


def test_evidence_names_the_chunk_that_holds_the_value() -> None:
    from uuid import uuid4

    from docintake.chunking import chunk_markdown

    markdown = (
        "# HOMEOWNERS POLICY DECLARATIONS\n\nPolicy Number: HO-555 Named Insured: Jordan Example\n\n"
        + "## Conditions\n\n"
        + "We will pay for covered loss. " * 80
        + "\n\n| Coverage | Limit | Deductible |\n| --- | --- | --- |\n| A. Dwelling | $300,000 | $1,000 |\n"
    )
    page_map = PageMap.single_page()
    chunks = chunk_markdown(markdown, page_map, size=400, overlap=0)
    document_id = uuid4()
    found = extract_document_fields(markdown, page_map, chunks=chunks, document_id=document_id)
    by_id = {chunk.chunk_id(document_id): chunk for chunk in chunks}
    spans = [*found.evidence.values(), *(row.evidence for row in found.coverages if row.evidence)]
    assert len(spans) == 3
    for evidence in spans:
        chunk = by_id[evidence.chunk_id]
        assert chunk.start <= evidence.start and evidence.end <= chunk.end
        assert evidence.quote in chunk.content
    assert found.evidence[FieldName.POLICY_NUMBER].chunk_id != found.coverages[0].evidence.chunk_id


# More answer cells as carriers wrote them: roles named before the amounts, networks named after them, a small
# table inside the cell, "combined" after the networks, a dash before an amount (not a minus).
@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            "Yes, per individual/per family: $3,000/$6,000 for medical only, $2,500/$3,500 for prescription drugs",
            {"deductible": "$3,000", "deductible_family": "$6,000"},
        ),
        (
            "$0 Individual / $0 Family, In Network $300 Individual / $750 Family, Out of network",
            {
                "deductible": "$0",
                "deductible_family": "$0",
                "deductible_out_of_network": "$300",
                "deductible_out_of_network_family": "$750",
            },
        ),
        (
            "In-Network Out-of-Network Employee-Only: $2,250 $2,250 Family: $4,500 $4,500",
            {
                "deductible": "$2,250",
                "deductible_out_of_network": "$2,250",
                "deductible_family": "$4,500",
                "deductible_out_of_network_family": "$4,500",
            },
        ),
        (
            "In-network and out-of-network combined: $1,300 individual/ $2,600 family.",
            {"deductible": "$1,300", "deductible_family": "$2,600"},
        ),
        (
            "In-Network – $4,000 Employee-Only Coverage; $8,000 Family Coverage Out-of-Network - $5,500 "
            "Employee-Only Coverage; $11,000 Family Coverage",
            {
                "deductible": "$4,000",
                "deductible_family": "$8,000",
                "deductible_out_of_network": "$5,500",
                "deductible_out_of_network_family": "$11,000",
            },
        ),
        ("Network: $3,000 Indiv / $6,000 Family", {"deductible": "$3,000", "deductible_family": "$6,000"}),
    ],
)
def test_more_answer_cells(answer: str, expected: dict[str, str]) -> None:
    found = extract_document_fields(_sbc(answer), ONE_PAGE)
    got = {name.value: value.text for name, value in found.fields.items() if name.value.startswith("deductible")}
    assert got == expected


def test_an_unruled_summary_whose_columns_interleave() -> None:
    markdown = (
        "# Summary of Benefits and Coverage: What this Plan Covers & What it Costs\n\n"
        "Important Questions Answers Why This Matters: What is the overall deductible? For each Calendar Year, "
        "Network:\n\nYou must pay all the costs up to the deductible amount Individual $500 / Family $1,000.\n\n"
        "before this plan begins to pay for covered services you Out-of-Network: Individual $2,500 /\n\n"
        "use. Family $5,000. Does not apply to office visits.\n\n## Are there other deductibles for specific\n\n"
        "No. Is there an out-of-pocket limit on my\n\nYes. Network: Individual $2,000 /\n\n"
        "The out-of-pocket limit is the most you could pay during expenses?\n\nFamily $4,000.\n"
    )
    texts = {n.value: v.text for n, v in extract_document_fields(markdown, ONE_PAGE).fields.items()}
    assert texts == {
        "deductible": "$500",
        "deductible_family": "$1,000",
        "deductible_out_of_network": "$2,500",
        "deductible_out_of_network_family": "$5,000",
        "out_of_pocket_limit": "$2,000",
        "out_of_pocket_limit_family": "$4,000",
    }


def test_a_benefits_grid_by_network_column_and_its_carrier() -> None:
    markdown = (
        "Anthem Blue Cross of California: Anthem Silver Select PPO 2000 Coverage Period: 01/01/2026-12/31/2026\n\n"
        "# Summary of Benefits\n\n"
        "| Covered Medical Benefits | Cost if you use an In-Network Provider | Cost if you use a Non-Network Provider |"
        "\n| --- | --- | --- |\n"
        "| Overall Deductible | $2,000 single/ $2,600 per member/ $4,000 family | $4,000 single/ $10,400 family |\n"
        "| Out-of-Pocket Max (Individual/Family) | $5,400 / $10,800 | $10,800 / $21,600 |\n"
        "| Generic | $10 copay (deductible waived) | 50% coinsurance |\n"
    )
    found = extract_document_fields(markdown, ONE_PAGE)
    texts = {n.value: v.text for n, v in found.fields.items()}
    assert texts["insurer"] == "Anthem Blue Cross of California"
    assert (texts["deductible"], texts["deductible_family"]) == ("$2,000", "$4,000")
    assert (texts["deductible_out_of_network"], texts["deductible_out_of_network_family"]) == ("$4,000", "$10,400")
    assert (texts["out_of_pocket_limit"], texts["out_of_pocket_limit_out_of_network_family"]) == ("$5,400", "$21,600")
    assert texts["generic_drugs"] == "$10"
    assert (texts["effective_date"], texts["expiration_date"]) == ("01/01/2026", "12/31/2026")


def test_a_limits_schedule_without_a_header_and_a_name_followed_by_its_town() -> None:
    markdown = (
        "# COMMERCIAL GENERAL LIABILITY DECLARATIONS\n\nJAMES RIVER INSURANCE COMPANY\n\n"
        "1. NAMED INSURED AND MAILING ADDRESS: Wichita Innovation Alliance Inc Wichita, KS PRODUCER: Partners\n\n"
        "## LIMITS OF INSURANCE\n\n| EACH OCCURRENCE LIMIT | $ 1,000,000 |\n| --- | --- |\n"
        "| GENERAL AGGREGATE LIMIT | $ 2,000,000 |\n| PRODUCTS/COMPLETED OPERATIONS AGGREGATE LIMIT | Excluded |\n"
    )
    found = extract_document_fields(markdown, ONE_PAGE)
    assert found.fields[FieldName.INSURER].value == "JAMES RIVER INSURANCE COMPANY"
    assert found.fields[FieldName.NAMED_INSURED].value == "Wichita Innovation Alliance Inc"
    assert [(row.name, row.limit.value if row.limit else None) for row in found.coverages] == [
        ("EACH OCCURRENCE LIMIT", "1000000.00"),
        ("GENERAL AGGREGATE LIMIT", "2000000.00"),
        ("PRODUCTS/COMPLETED OPERATIONS AGGREGATE LIMIT", None),
    ]


def test_a_company_in_a_carriers_name_is_not_a_label() -> None:
    markdown = (
        "UnitedHealthcare Insurance Company: Surest Plan F7000 RX2 Coverage Period: 01/01/2024 - 12/31/2024\n\n"
        "# Summary of Benefits and Coverage\n"
    )
    assert extract_document_fields(markdown, ONE_PAGE).fields[FieldName.INSURER].value == (
        "UnitedHealthcare Insurance Company"
    )


def test_keys_on_their_own_lines_and_in_a_grid_of_keys() -> None:
    # A benefits page with a key per heading or bold line and its figure below, and a grid of "Key: | value".
    markdown = (
        "# Benefits Summary\n\nCarrier: Example Health\n\nPlan: Bronze Saver\n\n"
        "### Single deductible\n\nBronze Saver\n\n$2,000\n\n### Family deductible\n\nBronze Saver\n\n$4,000\n\n"
        "**Combined Medical and Drug Out of Pocket Maximum - Individual**\n\n$8,700\n\n"
        "**Prescription Drug Deductible - Individual**\n\n$4,500\n\n"
        "### Emergency room\n\nBronze Saver\n\n$400\n\n"
        "| Plan Details |  |\n| --- | --- |\n| OON Individual Deductible: | $10,000 |\n"
        "| OON Family Deductible: | $30,000 |\n| Primary Doctor - CoPay | $50.00 |\n"
    )
    texts = {n.value: v.text for n, v in extract_document_fields(markdown, ONE_PAGE).fields.items()}
    assert texts == {
        "insurer": "Example Health",
        "deductible": "$2,000",
        "deductible_family": "$4,000",
        "out_of_pocket_limit": "$8,700",
        "emergency_room": "$400",
        "deductible_out_of_network": "$10,000",
        "deductible_out_of_network_family": "$30,000",
        "primary_care": "$50.00",
    }


def test_answers_printed_last_and_a_pipe_inside_a_cell() -> None:
    markdown = (
        "Carrier: HUMANA HEALTH BENEFIT PLAN OF LOUISIANA INC Plan: LA HDHP Coverage Period: 01/01/2015 - 12/31/2015"
        "\n\n# Summary of Benefits and Coverage\n\n| Important Questions | Why This Matters: | Answers |\n"
        "| --- | --- | --- |\n| What is the overall deductible? | Generally, you must pay all of the costs. | "
        "$1,000 per person/ $2,000 per family in-network and $1,500 per person/ $3,000 per family for "
        "out-of-network services. |\n\n"
        "| Provisions | In-Network Providers | Out-of-Network providers |\n| --- | --- | --- |\n"
        "| **Annual out-of-pocket maximum (OPM)** | Medical OPM $5,000 Single \\| $10,000 Family |  |\n"
        "| **Office Visits** | Primary Care: $25 copay Specialist visit: $50 copay | 40% coinsurance |\n"
    )
    found = extract_document_fields(markdown, ONE_PAGE)
    texts = {n.value: v.text for n, v in found.fields.items()}
    assert texts["insurer"] == "HUMANA HEALTH BENEFIT PLAN OF LOUISIANA INC"
    assert (texts["deductible"], texts["deductible_family"]) == ("$1,000", "$2,000")
    assert (texts["deductible_out_of_network"], texts["deductible_out_of_network_family"]) == ("$1,500", "$3,000")
    assert (texts["out_of_pocket_limit"], texts["out_of_pocket_limit_family"]) == ("$5,000", "$10,000")
    assert (texts["primary_care"], texts["specialist"]) == ("$25", "$50")
    for name, evidence in found.evidence.items():
        assert markdown[evidence.start : evidence.end] == evidence.quote == found.fields[name].text


def test_declarations_with_labels_over_their_values() -> None:
    markdown = (
        "# COMMON POLICY DECLARATIONS\n\nInsurer\n\nU.S. SPECIALTY INSURANCE COMPANY\n\nPOLICY NUMBER\n\n"
        "CPKG80320109\n\nNAMED INSURED AND MAILING ADDRESS:\n\nTown of Southold\n\nReplacement No.\n\n"
        "POLICY PERIOD:\n\nFrom 1/1/2012 To 1/1/2013 at 12:01 a.m.\n\n### TOTAL ANNUAL PREMIUM\n\nPremium\n\n"
        "$182,641.00\n\n| Insurer | POLICY NUMBER |\n| --- | --- |\n| Nautilus Insurance Company | CLA 1000001-1 |\n"
    )
    found = extract_document_fields(markdown, ONE_PAGE)
    assert found.document_type is InsuranceDocumentType.COMMERCIAL_GENERAL_LIABILITY
    values = {n.value: v.value for n, v in found.fields.items()}
    assert values == {
        "insurer": "U.S. SPECIALTY INSURANCE COMPANY",
        "policy_number": "CPKG80320109",
        "named_insured": "Town of Southold",
        "effective_date": "2012-01-01",
        "expiration_date": "2013-01-01",
        "premium": "182641.00",
    }


def test_a_header_row_of_labels_over_a_row_of_values() -> None:
    markdown = (
        "Summary of Benefits and Coverage\n\n| Carrier | Plan | Coverage Period | Plan Type |\n"
        "| --- | --- | --- | --- |\n| Regence BlueShield | Silver HSA 2500 | 01/01/2017 – 12/31/2017 | PPO |\n"
    )
    values = {n.value: v.value for n, v in extract_document_fields(markdown, ONE_PAGE).fields.items()}
    assert values == {"insurer": "Regence BlueShield", "effective_date": "2017-01-01", "expiration_date": "2017-12-31"}


def test_an_endorsement_schedule_pointing_at_the_declarations_is_no_coverage() -> None:
    markdown = (
        "# Declarations\n\n| Coverage | Limit | Deductible |\n| --- | --- | --- |\n"
        "| A. Dwelling | $300,000 | $1,000 |\n\n"
        "## SCHEDULE\n\n| Item | Description | Limit | Premium |\n| --- | --- | --- | --- |\n"
        "| 1 | As shown in the Declarations | $27,500 | $13.00 |\n"
    )
    assert [row.name for row in extract_document_fields(markdown, ONE_PAGE).coverages] == ["A. Dwelling"]


# Review findings: a policy form's defined terms are not labels; a parenthesised amount is not a credit; scaled
# amounts keep their scale in lines too; a property policy's deductible lines give no health-plan fields; dashes
# of every kind inside a policy number or a coverage's name.
def test_a_forms_defined_terms_are_not_labels() -> None:
    markdown = (
        "# COMMERCIAL GENERAL LIABILITY COVERAGE FORM\n\n"
        "Throughout this policy the words you and your refer to the Named Insured shown in the Declarations, and any "
        "other person or organization qualifying as a Named Insured under this policy. If the Company pays a claim "
        "under this policy, the Named Insured shall reimburse the Company.\n"
    )
    assert extract_document_fields(markdown, ONE_PAGE).fields == {}


def test_amounts_in_parentheses_and_with_scales() -> None:
    assert find_money("1% of Coverage A ($2,500)").value == "2500.00"  # type: ignore[union-attr]
    assert find_money("-$48.00 credit").value == "-48.00"  # type: ignore[union-attr]
    assert find_money("$1.125 million").value == "1125000.00"  # type: ignore[union-attr]
    assert find_money("$100k").value == "100000.00"  # type: ignore[union-attr]
    assert find_money("$1,000.555") is None
    markdown = "## LIMITS OF INSURANCE\n\nEACH OCCURRENCE LIMIT $1.5 million\n\nGENERAL AGGREGATE LIMIT $2M\n"
    rows = extract_document_fields(markdown, ONE_PAGE).coverages
    assert [(row.name, row.limit.value if row.limit else None) for row in rows] == [
        ("EACH OCCURRENCE LIMIT", "1500000.00"),
        ("GENERAL AGGREGATE LIMIT", "2000000.00"),
    ]


def test_a_homeowners_deductible_table_gives_no_health_plan_fields() -> None:
    markdown = (
        "# HOMEOWNERS POLICY DECLARATIONS\n\nPolicy Number: HO3\u20111234567\n\n"
        "| Coverage | Limit | Premium |\n| --- | --- | --- |\n| Coverage A \u2013 Dwelling | $300,000 | $900.00 |\n"
        "| Section I Deductible | $1,000 |  |\n\nDeductibles: $1,000 All Other Perils; $5,000 Windstorm or Hail\n"
    )
    found = extract_document_fields(markdown, ONE_PAGE)
    assert found.document_type is InsuranceDocumentType.HOMEOWNERS
    assert {name.value for name in found.fields} == {"policy_number", "deductible"}
    number = found.fields[FieldName.POLICY_NUMBER]
    assert (number.value, number.text) == ("HO3-1234567", "HO3\u20111234567")
    assert [row.name for row in found.coverages] == ["Coverage A \u2013 Dwelling"]
