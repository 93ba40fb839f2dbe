"""docintake.document_types.classify: each generated document's type from its own words, and hand-written
texts in the shape of real forms (a proof of loss, claim forms, an SBC page, standalone endorsements and
declarations pages, and papers that are none of them)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from docintake.document_types import DocumentType, classify
from docintake_local.ground_truth import ground_truth_corpus
from docintake_local.sample_documents import policy_markdown

ROOT = Path(__file__).resolve().parents[2]
REAL_POLICIES = ROOT / "bench" / "retrieval" / "corpus" / "real"

# (name, type, text). Wording follows the public forms' own (the federal SBC template, FEMA's NFIP proof of
# loss); names, numbers and the rest are made up. Plain text as a PDF's text layer gives it, or Markdown.
HAND_TEXTS: list[tuple[str, str, str]] = [
    (
        "nfip-proof-of-loss",
        "claim_form",
        """NATIONAL FLOOD INSURANCE PROGRAM
PROOF OF LOSS
Policy Number: 87654321   Claim Number: 2026-000123   Date of Loss: 08/29/2026
Insured: Casey Example   Property Address: 12 Sample Street, Exampleton
THE AMOUNT OF LOSS CLAIMED
Building: $48,200.00   Contents: $9,150.00   Less deductible: $2,000.00
Net amount claimed under the above numbered policy: $55,350.00
The said loss did not originate by any act, design or procurement on the part of your insured. No other
person has any interest in the property. I declare under penalty of perjury that the above is true.
Signature of Insured ______________________   Date ________
""",
    ),
    (
        "auto-claim-form",
        "claim_form",
        """# Auto Claim Form

Please complete this claim form and return it within 30 days of the accident.

**Policy number:** PA-123-456   **Claim number:** (office use)

## About the accident
- Date of accident: ____  Time: ____  Location: ____
- Describe how the damage to your vehicle happened:
- Was a police report filed? Yes / No

## Other driver
Name, address, insurer and policy number of every other driver involved.

## Declaration
I certify that the information in this claim is true. Signature of policyholder: ________
""",
    ),
    (
        "medical-claim-form",
        "claim_form",
        """MEMBER REIMBURSEMENT CLAIM FORM
Use this form to ask us to pay you back for covered services you paid for yourself.
Member ID ______ Patient name ______ Date of birth ______
Provider name and address ______ Date of service ______ Amount paid ______
Attach an itemized bill for each service. Claimant's signature ______ Date ______
Mail the completed claim form to: Claims Department, PO Box 1000, Anytown.
""",
    ),
    (
        "notice-of-loss",
        "claim_form",
        """Homeowners Notice of Loss
Policy number HO3-5550001   Date of loss 03/14/2026   Type of loss: wind / hail
Description of damage claimed: roof shingles torn off, water stains in the upstairs bedroom ceiling.
Estimated amount of loss: $12,400. Contact phone for the adjuster: 555-0100.
Sworn statement in proof of loss to follow within 60 days.
""",
    ),
    (
        "sbc-first-page",
        "benefit_summary",
        """Example Health Plan: Gold PPO 1500
Summary of Benefits and Coverage: What this Plan Covers & What You Pay for Covered Services
Coverage Period: 01/01/2026 - 12/31/2026   Coverage for: Individual + Family | Plan Type: PPO
The Summary of Benefits and Coverage (SBC) document will help you choose a health plan. The SBC shows you
how you and the plan would share the cost for covered health care services.
Important Questions   Answers   Why This Matters:
What is the overall deductible?  $1,500 individual / $3,000 family
What is the out-of-pocket limit for this plan?  $6,000 individual / $12,000 family
Common Medical Event  Services You May Need  What You Will Pay (In-network Provider)
If you visit a health care provider's office or clinic  Primary care visit  $25 copay/visit
""",
    ),
    (
        "standalone-endorsement",
        "endorsement",
        """POLICY NUMBER: HO3-5550001
THIS ENDORSEMENT CHANGES THE POLICY. PLEASE READ IT CAREFULLY.
WATER BACK-UP AND SUMP DISCHARGE OR OVERFLOW
SCHEDULE
Limit of Liability: $10,000
A. Coverage. We will pay up to the limit shown in the Schedule for direct physical loss caused by water
which backs up through sewers or drains.
B. Section I Exclusions. The Water exclusion is replaced by the following ...
All other provisions of this policy apply.
""",
    ),
    (
        "amendatory-rider",
        "endorsement",
        """# Amendatory Rider – Dental Benefits

This rider is attached to and forms part of the group policy named below. It changes the policy as stated
here; all other terms and conditions of the policy remain unchanged.

Group policy number: G-22-0199   Effective date of this rider: 01/01/2026
""",
    ),
    (
        "auto-declarations-plain",
        "declarations",
        """PERSONAL AUTO POLICY DECLARATIONS
Policy Number: PA-7654321   Policy Period: 01/15/2026 to 07/15/2026 12:01 A.M. standard time
Named Insured and Mailing Address: Jordan Example, 44 Mock Lane, Fictionburg ST 00001
Agent: Sample Agency, Agent Code 12-3456
Veh  Year Make Model        VIN                 Coverage A Liability  Collision Deductible  Premium
1    2019 Exemplar Sedan    1EXMPL0000000001    $100,000/$300,000     $500                  $412.00
Total Six-Month Premium: $812.00
Forms and endorsements: PP 00 01 09 18, PP 03 06 09 18
""",
    ),
    (
        "cover-letter",
        "other",
        """Dear Customer,

Thank you for choosing Example Mutual. Your renewal documents are enclosed. If your address has changed,
please call us at 555-0100 so that we can update our records. We appreciate your business.

Sincerely,
Customer Service
""",
    ),
    (
        "privacy-notice",
        "other",
        """# Privacy Notice

We collect information you give us on applications and forms, and information about your transactions
with us. We do not disclose it to anyone except as the law permits. You may ask to see the information we
keep about you by writing to our privacy office.
""",
    ),
]


@cache
def _generated() -> list[tuple[str, str, str]]:
    """(name, type, markdown) of generated documents, each labelled by what its generator put in it: a
    policy packet (declarations, policy form, endorsements) is a policy; a benefit summary is one; the
    'tables' layout (declarations, schedules and one endorsement, no policy form) is a declarations page;
    each endorsement cut out alone is an endorsement; a declarations page cut out alone (up to the next
    title) is one."""
    labelled = []
    for document in ground_truth_corpus(0, variants=2):
        kind = (
            "benefit_summary"
            if "health_benefits_summary" in document.name
            else "declarations"
            if document.layout == "tables"
            else "policy"
        )
        labelled.append((document.name, kind, document.markdown))
        for index, part in enumerate(re.split(r"(?m)^(?=# ENDORSEMENT\s*$)", document.markdown)[1:]):
            labelled.append((f"{document.name}/endorsement-{index}", "endorsement", part))
        title = document.markdown.partition("\n")[0]
        titles = [m.start() for m in re.finditer(r"(?m)^# ", document.markdown)]
        if "DECLARATIONS" in title and "SUMMARY OF BENEFITS" not in title and len(titles) > 1:
            labelled.append((f"{document.name}/declarations", "declarations", document.markdown[: titles[1]]))
    labelled.append(("declarations-page", "declarations", policy_markdown(300, seed=5)))
    return labelled


def test_every_generated_kind_is_present() -> None:
    assert {kind for _, kind, _ in _generated()} == {"policy", "declarations", "benefit_summary", "endorsement"}


def test_generated_documents_are_classified_as_what_they_are() -> None:
    # GIVEN every generated document, and their parts cut out alone WHEN each is classified
    wrong = [(name, kind, classify(text, "upload.pdf")) for name, kind, text in _generated()]
    wrong = [w for w in wrong if w[1] != w[2]]
    # THEN at most one in twenty is wrong
    assert len(wrong) <= len(_generated()) // 20, wrong


@pytest.mark.parametrize(("name", "kind", "text"), HAND_TEXTS, ids=[t[0] for t in HAND_TEXTS])
def test_forms_in_the_shape_of_real_ones_are_classified(name: str, kind: str, text: str) -> None:
    assert classify(text, "upload.pdf") == kind


@pytest.mark.skipif(not REAL_POLICIES.is_dir(), reason="the retrieval corpus's real documents are not here")
def test_the_real_flood_policies_are_policies() -> None:
    forms = sorted(REAL_POLICIES.glob("*.md"))
    assert forms
    assert {form.name: classify(form.read_text(encoding="utf-8"), form.name) for form in forms} == {
        form.name: "policy" for form in forms
    }


def test_the_file_name_only_breaks_near_ties() -> None:
    # GIVEN a summary of benefits named as if it were a policy, and a text with no cue named as a claim
    sbc = next(text for name, _, text in HAND_TEXTS if name == "sbc-first-page")
    # THEN its words win over its name, and a name alone is not enough to give a type
    assert classify(sbc, "policy.pdf") == "benefit_summary"
    assert classify("Notes from the call on Tuesday.", "claim.pdf") == "other"


def test_an_empty_document_is_other_and_every_answer_is_a_known_type() -> None:
    assert classify("", "") == "other"
    known = {t.value for t in DocumentType}
    assert {classify(text) for _, _, text in HAND_TEXTS} <= known
