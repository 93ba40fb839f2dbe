"""The language-model filler of policy fields (docintake.fields.llm) against fakes of the documented APIs: an
OpenAI-compatible chat completions server behind httpx.MockTransport and Bedrock Converse through botocore's
Stubber. What the model says is kept only where the document says it, a rule's value is never replaced, and
failures are the pipeline's errors; sleeps are recorded, so no test waits or reaches the network."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, cast

import httpx
import pytest
from botocore.stub import ANY, Stubber
from pydantic import SecretStr

from docintake.config import Settings
from docintake.errors import DependencyUnavailable, PermanentError, TransientError
from docintake.fields import (
    Coverage,
    DocumentFields,
    Evidence,
    FieldName,
    FieldValue,
    InsuranceDocumentType,
    Money,
    extract_document_fields,
)
from docintake.fields import llm as fields_llm
from docintake.fields.llm import (
    DEFAULT_MODELS,
    SYSTEM_PROMPT,
    BedrockConverse,
    LLMFieldsFiller,
    OpenAIChat,
    build_fields_filler,
)
from docintake.parsing import PageMap
from tests.fakes.bedrock_fake import CLAUDE_HAIKU, bedrock_runtime_client, converse_answer
from tests.fakes.openai_fake import (
    API_KEY,
    BASE_URL,
    CHAT_MODEL,
    FakeOpenAIChat,
    error,
    rate_limited,
    server_error,
)

DECLARATIONS = """# Homeowners Policy Declarations

**Insurer:** Acme Mutual Insurance Company
**Policy Number:** HO-2026-0042
**Named Insured:** Jordan Rivera
**Policy Period:** 03/01/2026 to 03/01/2027, 12:01 a.m. standard time

## Coverages

| Coverage | Limit | Deductible | Premium |
|---|---|---|---|
| Coverage A - Dwelling | $300,000 | $1,000 | $812.00 |
| Coverage B - Other Structures | $30,000 | $1,000 | Included |

Total Annual Premium: $1,245.50
"""
# Page 2 begins at the coverages.
PAGES = PageMap((1, 2), (0, DECLARATIONS.index("## Coverages")))

SUMMARY = """# Summary of Benefits and Coverage: Example Health Plan PPO

Coverage Period: 01/01/2026 - 12/31/2026

| Important Questions | Answers | Why This Matters |
|---|---|---|
| What is the overall deductible? | $1,500 individual / $3,000 family | You pay all costs up to it. |
| What is the out-of-pocket limit for this plan? | $6,000 individual / $12,000 family | The most you could pay. |

| Common Medical Event | Services You May Need | What You Will Pay (In-network) |
|---|---|---|
| If you visit a health care provider's office | Primary care visit to treat an injury or illness | $30 copay/visit |
| | Specialist visit | 20% coinsurance |
| If you need immediate medical attention | Emergency room care | No charge |
"""


def nothing_found(document_type: InsuranceDocumentType = InsuranceDocumentType.OTHER) -> DocumentFields:
    return DocumentFields(
        document_type=document_type, document_type_confidence=0.0 if document_type == "other" else 0.9
    )


def answer(*fields: tuple[str, str, str], document_type: str | None = None, coverages: Any = ()) -> str:
    """The model's JSON: (field, value, quote) triples, a document type, coverage rows."""
    body: dict[str, Any] = {"fields": [{"field": f, "value": v, "quote": q} for f, v, q in fields]}
    if document_type is not None:
        body["document_type"] = document_type
    body["coverages"] = list(coverages)
    return json.dumps(body)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class RecordingLogger:
    """Stands in for the module's logger: what was logged, to assert no document text is in it."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def info(self, message: str, *, extra: dict[str, Any]) -> None:
        self.lines.append(("info", message, extra))

    def warning(self, message: str, *, extra: dict[str, Any]) -> None:
        self.lines.append(("warning", message, extra))


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> RecordingLogger:
    recorder = RecordingLogger()
    monkeypatch.setattr(fields_llm, "logger", recorder)
    return recorder


def openai_filler(fake: FakeOpenAIChat, sleeps: Sleeps, **settings: Any) -> LLMFieldsFiller:
    values: dict[str, Any] = {
        "fields_llm_provider": "openai",
        "openai_base_url": BASE_URL,
        "openai_api_key": SecretStr(API_KEY),
    } | settings
    filler = build_fields_filler(Settings(**values), http_client=fake.client(), sleep=sleeps)
    assert isinstance(filler, LLMFieldsFiller)
    return filler


def assert_evidence_holds(found: DocumentFields, markdown: str) -> None:
    """Every evidence is the Markdown's own text at its span, and holds its value's text."""
    for name, evidence in found.evidence.items():
        assert markdown[evidence.start : evidence.end] == evidence.quote, name
        squeezed_quote = " ".join(evidence.quote.replace("*", "").replace("|", " ").split())
        assert " ".join(found.fields[name].text.split()) in squeezed_quote, name
    for row in found.coverages:
        assert row.evidence is not None
        assert markdown[row.evidence.start : row.evidence.end] == row.evidence.quote


# --- OpenAI-compatible: what is kept ---------------------------------------------------------------------------------


def test_missing_fields_are_filled_with_evidence_pointing_at_text_that_holds_them(sleeps: Sleeps) -> None:
    # GIVEN rules that found nothing, and a model that answers from the declarations (quoting without the bold marks)
    reply = answer(
        ("insurer", "Acme Mutual Insurance Company", "Insurer: Acme Mutual Insurance Company"),
        ("policy_number", "HO-2026-0042", "Policy Number: HO-2026-0042"),
        ("effective_date", "03/01/2026", "Policy Period: 03/01/2026 to 03/01/2027"),
        ("expiration_date", "03/01/2027", "Policy Period: 03/01/2026 to 03/01/2027"),
        ("premium", "$1,245.50", "Total Annual Premium: $1,245.50"),
        document_type="homeowners",
        coverages=[
            {
                "name": "Coverage A - Dwelling",
                "limit": "$300,000",
                "deductible": "$1,000",
                "premium": "$812.00",
                "quote": "| Coverage A - Dwelling | $300,000 | $1,000 | $812.00 |",
            }
        ],
    )
    fake = FakeOpenAIChat(reply=reply)
    # WHEN the filler fills them
    filled = openai_filler(fake, sleeps).fill(nothing_found(), DECLARATIONS, PAGES)
    # THEN each value is normalised as the rules write values, marked as the model's, with its text as written
    assert filled.fields[FieldName.INSURER].value == "Acme Mutual Insurance Company"
    assert filled.fields[FieldName.POLICY_NUMBER].value == "HO-2026-0042"
    assert filled.fields[FieldName.EFFECTIVE_DATE].value == "2026-03-01"
    assert filled.fields[FieldName.EXPIRATION_DATE].value == "2027-03-01"
    premium = filled.fields[FieldName.PREMIUM]
    assert (premium.value, premium.currency, premium.text) == ("1245.50", "USD", "$1,245.50")
    assert {(v.source, v.confidence) for v in filled.fields.values()} == {("llm", 0.6)}
    # AND each evidence is the document's own text at its span, on its page, holding the value
    assert_evidence_holds(filled, DECLARATIONS)
    assert filled.evidence[FieldName.POLICY_NUMBER].quote == "HO-2026-0042"  # the value's span in the quote
    assert filled.evidence[FieldName.POLICY_NUMBER].page == 1
    assert filled.evidence[FieldName.PREMIUM].page == 2
    # AND the type and the coverage row the rules missed are added, the row on the page its quote is on
    assert (filled.document_type, filled.document_type_confidence) == ("homeowners", 0.5)
    [row] = filled.coverages
    assert (row.name, row.source, row.page) == ("Coverage A - Dwelling", "llm", 2)
    assert row.limit == Money(value="300000.00", currency="USD", text="$300,000")
    assert row.deductible is not None and row.deductible.value == "1000.00"
    assert row.premium is not None and row.premium.value == "812.00"
    assert (filled.extractor, filled.notes) == ("rules+llm", [])


def test_the_request_is_the_documented_chat_completion_with_a_strict_schema(sleeps: Sleeps) -> None:
    # GIVEN a homeowners document whose rules found the policy number and a coverage, but not the rest
    found = nothing_found(InsuranceDocumentType.HOMEOWNERS).model_copy(
        update={
            "fields": {FieldName.POLICY_NUMBER: rule_value("HO-2026-0042")},
            "coverages": [Coverage(name="Coverage A - Dwelling")],
        }
    )
    fake = FakeOpenAIChat(reply=answer())
    # WHEN the filler asks
    openai_filler(fake, sleeps).fill(found, DECLARATIONS, PAGES)
    # THEN one POST to {base}/chat/completions with the key, the default model, temperature 0 and a strict schema
    # (the fake refuses a schema strict mode would refuse)
    [request] = fake.requests
    assert (request.method, str(request.url)) == ("POST", f"{BASE_URL}/chat/completions")
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    [body] = fake.payloads()
    assert (body["model"], body["temperature"]) == (CHAT_MODEL, 0)
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    schema = body["response_format"]["json_schema"]["schema"]
    # AND it asks only for this type's missing fields, cross-checks the found one by name, and asks for no type
    # (the rules know it) and no coverages (the rules found some)
    assert set(schema["properties"]) == {"fields"}
    field_enum = schema["properties"]["fields"]["items"]["properties"]["field"]["enum"]
    assert field_enum == sorted(name.value for name in fields_llm._POLICY_FIELDS)
    system, user = body["messages"]
    assert (system["role"], system["content"], user["role"]) == ("system", SYSTEM_PROMPT, "user")
    asked, checked = user["content"].split("Report these fields too")
    assert "- named_insured" in asked and "- policy_number" not in asked
    assert "- policy_number" in checked.split("<document>")[0]
    assert "HO-2026-0042" not in user["content"].split("<document>")[0]  # the rule's value is not shown to the model
    assert "deductible" not in user["content"].split("<document>")[0]  # no health-plan fields for homeowners
    assert f"<document>\n{DECLARATIONS}\n</document>" in user["content"]


def test_only_the_first_max_chars_of_the_markdown_are_sent_or_searched(sleeps: Sleeps) -> None:
    # GIVEN a budget that ends before the total premium, and a model that quotes it anyway
    budget = DECLARATIONS.index("Total Annual Premium")
    fake = FakeOpenAIChat(reply=answer(("premium", "$1,245.50", "Total Annual Premium: $1,245.50")))
    # WHEN the filler fills
    filler = dataclasses.replace(openai_filler(fake, sleeps), max_chars=budget)
    filled = filler.fill(nothing_found(), DECLARATIONS, PAGES)
    # THEN the model read only the first `budget` characters, and a quote from beyond them is not believed
    user = fake.payloads()[0]["messages"][1]["content"]
    assert f"<document>\n{DECLARATIONS[:budget]}\n</document>" in user
    assert "The document (its beginning)" in user
    assert FieldName.PREMIUM not in filled.fields
    assert filled.notes == ["llm_unverified:premium"]


def test_a_quote_that_is_not_in_the_document_is_a_hallucination_and_dropped(sleeps: Sleeps) -> None:
    # GIVEN a model that invents a named insured, quotes a premium that is not the one it names, and quotes a
    # coverage row the document does not have
    reply = answer(
        ("named_insured", "Jordan A. Rivera", "Named Insured: Jordan A. Rivera"),
        ("premium", "$1,500.00", "Total Annual Premium: $1,245.50"),
        ("policy_number", "HO-2026-0042", "Policy Number: HO-2026-0042"),
        coverages=[{"name": "Flood", "limit": "$250,000", "deductible": None, "premium": None, "quote": "Flood"}],
    )
    fake = FakeOpenAIChat(reply=reply)
    # WHEN the filler fills
    filled = openai_filler(fake, sleeps).fill(nothing_found(), DECLARATIONS, PAGES)
    # THEN only the value the document confirms is kept, and each dropped answer is noted by field
    assert set(filled.fields) == {FieldName.POLICY_NUMBER}
    assert filled.coverages == []
    assert filled.notes == ["llm_unverified:named_insured", "llm_unverified:premium", "llm_unverified:coverages"]
    assert_evidence_holds(filled, DECLARATIONS)


def test_a_coverage_amount_not_in_its_rows_quote_is_left_out(sleeps: Sleeps) -> None:
    reply = answer(
        coverages=[
            {
                "name": "Coverage B - Other Structures",
                "limit": "$30,000",
                "deductible": "$2,500",  # not in the row
                "premium": "Included",
                "quote": "Coverage B - Other Structures | $30,000 | $1,000 | Included",
            }
        ]
    )
    filled = openai_filler(FakeOpenAIChat(reply=reply), sleeps).fill(nothing_found(), DECLARATIONS, PAGES)
    [row] = filled.coverages
    assert row.limit == Money(value="30000.00", currency="USD", text="$30,000")
    assert row.deductible is None
    assert row.premium == Money(value=None, text="Included")


def rule_value(value: str, **extra: Any) -> FieldValue:
    return FieldValue(value=value, text=extra.pop("text", value), confidence=0.9, **extra)


def test_a_rules_value_is_never_replaced_and_a_disagreement_is_noted(sleeps: Sleeps) -> None:
    # GIVEN rules that read the premium as 1245.50 and the policy number, and found a coverage row
    rule_evidence = Evidence(page=2, start=DECLARATIONS.index("Total"), end=len(DECLARATIONS) - 1, quote="x")
    found = nothing_found(InsuranceDocumentType.HOMEOWNERS).model_copy(
        update={
            "fields": {
                FieldName.PREMIUM: rule_value("1245.50", currency="USD", text="$1,245.50"),
                FieldName.POLICY_NUMBER: rule_value("HO-2026-0042"),
            },
            "evidence": {FieldName.PREMIUM: rule_evidence},
            "coverages": [Coverage(name="Coverage A - Dwelling")],
        }
    )
    # AND a model that reads the premium as Coverage A's $812.00 (a real line of the document), agrees on the
    # policy number (written differently), and offers a coverage row
    reply = answer(
        ("premium", "$812.00", "| Coverage A - Dwelling | $300,000 | $1,000 | $812.00 |"),
        ("policy_number", "HO-2026-0042", "HO-2026-0042"),
        ("named_insured", "Jordan Rivera", "Named Insured:** Jordan Rivera"),
        coverages=[
            {
                "name": "Coverage B - Other Structures",
                "limit": "$30,000",
                "deductible": None,
                "premium": None,
                "quote": "Coverage B - Other Structures | $30,000",
            }
        ],
    )
    # WHEN the filler fills
    filled = openai_filler(FakeOpenAIChat(reply=reply), sleeps).fill(found, DECLARATIONS, PAGES)
    # THEN the rules' values and evidence stand, the disagreement is noted, the agreement is not
    assert filled.fields[FieldName.PREMIUM] == found.fields[FieldName.PREMIUM]
    assert filled.evidence[FieldName.PREMIUM] == rule_evidence
    assert filled.fields[FieldName.POLICY_NUMBER] == found.fields[FieldName.POLICY_NUMBER]
    assert filled.notes == ["llm_disagrees:premium"]
    # AND only the missing field is added, and no coverage row joins the rules' rows
    assert filled.fields[FieldName.NAMED_INSURED].source == "llm"
    assert filled.coverages == found.coverages
    assert filled.document_type == "homeowners"


def test_health_plan_values_are_normalised_as_the_rules_write_them(sleeps: Sleeps) -> None:
    # GIVEN a summary of benefits the rules typed but read nothing from
    reply = answer(
        ("deductible", "$1,500", "| What is the overall deductible? | $1,500 individual / $3,000 family |"),
        ("deductible_family", "$3,000", "$1,500 individual / $3,000 family"),
        ("out_of_pocket_limit", "$6,000", "$6,000 individual / $12,000 family"),
        ("primary_care", "$30 copay/visit", "Primary care visit to treat an injury or illness | $30 copay/visit"),
        ("specialist", "20% coinsurance", "| Specialist visit | 20% coinsurance |"),
        ("emergency_room", "No charge", "Emergency room care | No charge"),
        ("effective_date", "01/01/2026", "Coverage Period: 01/01/2026 - 12/31/2026"),
    )
    fake = FakeOpenAIChat(reply=reply)
    found = nothing_found(InsuranceDocumentType.SUMMARY_OF_BENEFITS)
    # WHEN the filler fills
    filled = openai_filler(fake, sleeps).fill(found, SUMMARY, PageMap.single_page())
    # THEN amounts are decimals with their currency, cost shares say which they are, dates are ISO
    values = {name: (v.value, v.currency, v.cost_share) for name, v in filled.fields.items()}
    assert values == {
        FieldName.DEDUCTIBLE: ("1500.00", "USD", None),
        FieldName.DEDUCTIBLE_FAMILY: ("3000.00", "USD", None),
        FieldName.OUT_OF_POCKET_LIMIT: ("6000.00", "USD", None),
        FieldName.PRIMARY_CARE: ("30.00", "USD", "copay"),
        FieldName.SPECIALIST: ("20", None, "coinsurance"),
        FieldName.EMERGENCY_ROOM: ("0.00", "USD", "no_charge"),
        FieldName.EFFECTIVE_DATE: ("2026-01-01", None, None),
    }
    assert filled.fields[FieldName.DEDUCTIBLE].text == "$1,500"
    assert_evidence_holds(filled, SUMMARY)
    # AND the request asked for the health-plan fields but for no coverage rows and no type
    schema = fake.payloads()[0]["response_format"]["json_schema"]["schema"]
    assert set(schema["properties"]) == {"fields"}
    assert "generic_drugs" in schema["properties"]["fields"]["items"]["properties"]["field"]["enum"]


def test_a_value_that_does_not_read_as_its_kind_is_dropped(sleeps: Sleeps) -> None:
    reply = answer(("effective_date", "12:01 a.m.", "03/01/2027, 12:01 a.m. standard time"))
    filled = openai_filler(FakeOpenAIChat(reply=reply), sleeps).fill(nothing_found(), DECLARATIONS, PAGES)
    assert filled.fields == {}
    assert filled.notes == ["llm_unverified:effective_date"]


def test_a_number_written_as_a_json_number_is_read_as_its_text(sleeps: Sleeps) -> None:
    # GIVEN a policy number of digits only, which a model may answer as a JSON number
    letter = "Your policy number is 4402187 and renews each March.\n"
    reply = json.dumps({"fields": [{"field": "policy_number", "value": 4402187, "quote": "policy number is 4402187"}]})
    # WHEN the filler fills THEN the number is kept as the text it is
    filled = openai_filler(FakeOpenAIChat(reply=reply), sleeps).fill(nothing_found(), letter, PageMap.single_page())
    assert filled.fields[FieldName.POLICY_NUMBER].value == "4402187"


def test_a_cross_check_the_document_does_not_confirm_is_not_noted(sleeps: Sleeps) -> None:
    found = nothing_found().model_copy(update={"fields": {FieldName.POLICY_NUMBER: rule_value("HO-2026-0042")}})
    reply = answer(("policy_number", "HO-9999", "Policy Number: HO-9999"))
    filled = openai_filler(FakeOpenAIChat(reply=reply), sleeps).fill(found, DECLARATIONS, PAGES)
    assert (filled.fields, filled.notes) == (found.fields, [])


def test_nothing_left_to_fill_asks_nothing(sleeps: Sleeps) -> None:
    # GIVEN a homeowners document whose rules found every policy field and the coverages
    found = nothing_found(InsuranceDocumentType.HOMEOWNERS).model_copy(
        update={
            "fields": {name: rule_value("x") for name in fields_llm._POLICY_FIELDS},
            "coverages": [Coverage(name="Coverage A - Dwelling")],
        }
    )
    fake = FakeOpenAIChat(reply=answer())
    # WHEN the filler runs THEN no request is made and the result is the rules' own
    assert openai_filler(fake, sleeps).fill(found, DECLARATIONS, PAGES) is found
    assert fake.requests == []


def test_the_pipelines_entry_point_takes_the_filler(sleeps: Sleeps) -> None:
    # GIVEN a letter whose policy number is in prose, where the rules read no label
    letter = "# Renewal\n\nThank you for renewing your homeowners policy HO-2026-0042 with us.\n"
    rules_alone = extract_document_fields(letter, PageMap.single_page())
    assert FieldName.POLICY_NUMBER not in rules_alone.fields
    reply = answer(("policy_number", "HO-2026-0042", "homeowners policy HO-2026-0042"))
    filler = openai_filler(FakeOpenAIChat(reply=reply), sleeps)
    # WHEN the document's fields are extracted with the filler
    found = extract_document_fields(letter, PageMap.single_page(), filler=filler)
    # THEN the model's verified value is added to what the rules found
    assert found.fields[FieldName.POLICY_NUMBER].value == "HO-2026-0042"
    assert found.fields[FieldName.POLICY_NUMBER].source == "llm"
    assert found.document_type == rules_alone.document_type
    assert found.extractor == "rules+llm"
    assert_evidence_holds(found, letter)


# --- OpenAI-compatible: unusable answers never fail the document ----------------------------------------------------


@pytest.mark.parametrize(
    ("fake", "reason"),
    [
        (FakeOpenAIChat(reply="Sure! The policy number for Jordan Rivera is HO-2026-0042."), "not_json"),
        (FakeOpenAIChat(reply='{"fields": "Jordan Rivera"}'), "not_the_schema"),
        (FakeOpenAIChat(reply='{"fields": [{"field": "insurer", "value": "Acme Mutual'), "not_json"),
        (FakeOpenAIChat(reply='{"fields": []', finish_reason="length"), "cut_short"),
        (FakeOpenAIChat(reply="", refusal="I can't help with Jordan Rivera's policy."), "refused"),
    ],
    ids=["prose", "wrong shape", "broken json", "cut short", "refusal"],
)
def test_an_answer_that_is_not_the_json_asked_for_leaves_the_rules_result_with_a_note(
    fake: FakeOpenAIChat, reason: str, sleeps: Sleeps, logged: RecordingLogger
) -> None:
    # GIVEN rules that found the policy number, and a model whose answer is unusable
    found = nothing_found().model_copy(update={"fields": {FieldName.POLICY_NUMBER: rule_value("HO-2026-0042")}})
    # WHEN the filler fills
    filled = openai_filler(fake, sleeps).fill(found, DECLARATIONS, PAGES)
    # THEN the document does not fail: the rules' result stands, noted, asked once
    assert filled.fields == found.fields
    assert (filled.document_type, filled.coverages) == (found.document_type, found.coverages)
    assert (filled.extractor, filled.notes) == ("rules+llm", ["llm_unusable_answer"])
    assert len(fake.requests) == 1
    # AND one warning says why, with no text of the document or of the answer
    assert logged.lines == [("warning", "fields llm answer unusable", {"provider": "openai", "reason": reason})]


# --- OpenAI-compatible: failures ------------------------------------------------------------------------------------


def test_429_waits_what_the_server_asks_then_succeeds(sleeps: Sleeps, logged: RecordingLogger) -> None:
    # GIVEN a server that rate-limits the first request, asking for 7 seconds
    reply = answer(("policy_number", "HO-2026-0042", "Policy Number:** HO-2026-0042"))
    fake = FakeOpenAIChat(reply=reply, scripted=[rate_limited(Retry_After="7")])
    # WHEN the filler fills
    filled = openai_filler(fake, sleeps).fill(nothing_found(), DECLARATIONS, PAGES)
    # THEN it waited 7 s, asked twice, and kept the answer
    assert sleeps == [7.0]
    assert len(fake.requests) == 2
    assert filled.fields[FieldName.POLICY_NUMBER].value == "HO-2026-0042"
    assert (
        "warning",
        "fields llm retry",
        {"provider": "openai", "reason": "429", "delay_seconds": 7.0},
    ) in logged.lines


def test_no_attempt_and_no_wait_outlasts_the_invocation(sleeps: Sleeps) -> None:
    # GIVEN an invocation with 20 s left, shorter than one attempt may take (its 60 s timeout and 10 to connect)
    fake = FakeOpenAIChat(reply=answer())
    filler = openai_filler(fake, sleeps)
    # WHEN the filler fills THEN it asks nothing and fails transiently, so the message returns with time
    with pytest.raises(DependencyUnavailable, match="no time left"):
        filler.fill(nothing_found(), DECLARATIONS, PAGES, deadline=time.monotonic() + 20)
    assert (fake.requests, sleeps) == ([], [])
    # AND a server asking to wait a minute, with 100 s left, is not waited for
    waiting = FakeOpenAIChat(reply=answer(), scripted=[rate_limited(Retry_After="60")])
    with pytest.raises(DependencyUnavailable, match="longer than this invocation has"):
        openai_filler(waiting, sleeps).fill(nothing_found(), DECLARATIONS, PAGES, deadline=time.monotonic() + 100)
    assert (len(waiting.requests), sleeps) == (1, [])


def test_timeouts_and_server_errors_are_retried_with_backoff(sleeps: Sleeps) -> None:
    fake = FakeOpenAIChat(reply=answer(), scripted=[httpx.ReadTimeout("slow"), server_error(503)])
    filled = openai_filler(fake, sleeps).fill(nothing_found(), DECLARATIONS, PAGES)
    assert sleeps == [1.0, 2.0]
    assert filled.extractor == "rules+llm"


def test_an_outage_that_outlasts_the_attempts_is_transient_so_the_stage_retries(sleeps: Sleeps) -> None:
    fake = FakeOpenAIChat(scripted=[server_error(500)] * 4)
    with pytest.raises(DependencyUnavailable) as caught:
        openai_filler(fake, sleeps).fill(nothing_found(), DECLARATIONS, PAGES)
    assert isinstance(caught.value, TransientError)
    assert "4 times (last: 500)" in str(caught.value)
    assert sleeps == [1.0, 2.0, 4.0]


def test_a_bad_request_is_permanent_without_the_providers_message(sleeps: Sleeps) -> None:
    # GIVEN a server that refuses the request with a message quoting the document
    refusal = error(400, "Invalid prompt: 'Jordan Rivera' ...", "invalid_request_error", "context_length_exceeded")
    fake = FakeOpenAIChat(scripted=[refusal])
    # WHEN the filler asks THEN it fails for good (the chunk stage keeps the rules' fields and notes it), at once,
    # naming the status and code but not the text
    with pytest.raises(PermanentError) as caught:
        openai_filler(fake, sleeps).fill(nothing_found(), DECLARATIONS, PAGES)
    assert "400, type invalid_request_error, code context_length_exceeded" in str(caught.value)
    assert "Jordan" not in str(caught.value)
    assert (len(fake.requests), sleeps) == (1, [])


def test_a_refused_key_is_an_operators_fix_not_the_documents(sleeps: Sleeps) -> None:
    # GIVEN a key the server does not know. As with the embedder and LlamaParse, a 401 is not the document's
    # fault: it is a DependencyUnavailable (a TransientError), so the stage retries and dead-letters it, and the
    # document is replayed once the key is fixed, rather than failed for good.
    fake = FakeOpenAIChat(api_key="sk-another-key")
    with pytest.raises(DependencyUnavailable) as caught:
        openai_filler(fake, sleeps).fill(nothing_found(), DECLARATIONS, PAGES)
    assert not isinstance(caught.value, PermanentError)
    assert "refused the API key (401)" in str(caught.value)
    assert (len(fake.requests), sleeps) == (1, [])


# --- Bedrock Converse -------------------------------------------------------------------------------------------------


@pytest.fixture
def bedrock_runtime() -> Any:
    return bedrock_runtime_client()


def bedrock_filler(client: Any, sleeps: Sleeps) -> LLMFieldsFiller:
    filler = build_fields_filler(Settings(fields_llm_provider="bedrock"), bedrock_client=client, sleep=sleeps)
    assert isinstance(filler, LLMFieldsFiller)
    return filler


CONVERSE_REQUEST = {
    "modelId": CLAUDE_HAIKU,
    "system": ANY,
    "messages": ANY,
    "inferenceConfig": {"maxTokens": 4096, "temperature": 0.0},
}


def test_bedrock_converse_fills_from_a_fenced_json_answer(bedrock_runtime: Any, sleeps: Sleeps) -> None:
    # GIVEN a Claude answer in a ```json fence, as Claude often writes one
    reply = answer(("policy_number", "HO-2026-0042", "Policy Number:** HO-2026-0042"), document_type="homeowners")
    recorded: list[dict[str, Any]] = []
    bedrock_runtime.meta.events.register(
        "provide-client-params.bedrock-runtime.Converse", lambda **event: recorded.append(event)
    )
    # WHEN the filler fills through Converse
    with Stubber(bedrock_runtime) as stubber:
        stubber.add_response("converse", converse_answer(f"```json\n{reply}\n```"), CONVERSE_REQUEST)
        filled = bedrock_filler(bedrock_runtime, sleeps).fill(nothing_found(), DECLARATIONS, PAGES)
        stubber.assert_no_pending_responses()
    # THEN the value is kept with its evidence
    assert filled.fields[FieldName.POLICY_NUMBER].value == "HO-2026-0042"
    assert filled.document_type == "homeowners"
    assert_evidence_holds(filled, DECLARATIONS)
    # AND the request carried the JSON-only instruction with the schema, and the document as the user's message
    [params] = [cast(dict[str, Any], event["params"]) for event in recorded]
    [instruction] = params["system"]
    assert instruction["text"].startswith(SYSTEM_PROMPT)
    assert '"additionalProperties": false' in instruction["text"]
    [message] = params["messages"]
    assert message["role"] == "user"
    assert f"<document>\n{DECLARATIONS}\n</document>" in message["content"][0]["text"]


def test_bedrock_throttling_is_retried_then_succeeds(bedrock_runtime: Any, sleeps: Sleeps) -> None:
    reply = answer(("policy_number", "HO-2026-0042", "Policy Number:** HO-2026-0042"))
    with Stubber(bedrock_runtime) as stubber:
        stubber.add_client_error("converse", "ThrottlingException", "Too many requests", 429)
        stubber.add_client_error("converse", "ModelTimeoutException", "Model timed out", 408)
        stubber.add_response("converse", converse_answer(reply), CONVERSE_REQUEST)
        filled = bedrock_filler(bedrock_runtime, sleeps).fill(nothing_found(), DECLARATIONS, PAGES)
    assert filled.fields[FieldName.POLICY_NUMBER].value == "HO-2026-0042"
    assert sleeps == [1.0, 2.0]


def test_bedrock_throttling_that_outlasts_the_attempts_is_transient(bedrock_runtime: Any, sleeps: Sleeps) -> None:
    with Stubber(bedrock_runtime) as stubber:
        for _ in range(4):
            stubber.add_client_error("converse", "ServiceUnavailableException", "Unavailable", 503)
        with pytest.raises(DependencyUnavailable) as caught:
            bedrock_filler(bedrock_runtime, sleeps).fill(nothing_found(), DECLARATIONS, PAGES)
    assert "last: ServiceUnavailableException" in str(caught.value)
    assert sleeps == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("code", "status", "error_type"),
    [
        ("ValidationException", 400, PermanentError),
        ("ResourceNotFoundException", 404, PermanentError),
        ("AccessDeniedException", 403, DependencyUnavailable),
        ("ServiceQuotaExceededException", 400, DependencyUnavailable),
    ],
)
def test_bedrock_refusals_are_translated_at_once(
    bedrock_runtime: Any, sleeps: Sleeps, code: str, status: int, error_type: type[Exception]
) -> None:
    with Stubber(bedrock_runtime) as stubber:
        stubber.add_client_error("converse", code, "Jordan Rivera's document", status)
        with pytest.raises(error_type) as caught:
            bedrock_filler(bedrock_runtime, sleeps).fill(nothing_found(), DECLARATIONS, PAGES)
    assert code in str(caught.value)
    assert "Jordan" not in str(caught.value)
    assert sleeps == []


def test_a_converse_answer_cut_at_max_tokens_is_unusable(bedrock_runtime: Any, sleeps: Sleeps) -> None:
    with Stubber(bedrock_runtime) as stubber:
        stubber.add_response("converse", converse_answer('{"fields": [', stop_reason="max_tokens"), CONVERSE_REQUEST)
        filled = bedrock_filler(bedrock_runtime, sleeps).fill(nothing_found(), DECLARATIONS, PAGES)
    assert (filled.fields, filled.notes) == ({}, ["llm_unusable_answer"])


# --- built from settings --------------------------------------------------------------------------------------------


def test_no_provider_means_the_rules_alone() -> None:
    assert Settings().fields_llm_provider == "none"
    assert build_fields_filler(Settings()) is None


def test_openai_takes_the_embedders_base_url_and_key_and_a_default_model() -> None:
    filler = build_fields_filler(
        Settings(fields_llm_provider="openai", openai_base_url=BASE_URL + "/", openai_api_key=SecretStr(API_KEY))
    )
    assert isinstance(filler, LLMFieldsFiller)
    transport = filler.transport
    assert isinstance(transport, OpenAIChat)
    assert (transport.model, transport.base_url, transport.api_key) == (DEFAULT_MODELS["openai"], BASE_URL, API_KEY)
    assert API_KEY not in repr(filler)
    assert filler.max_chars == 40_000


def test_openai_without_a_key_fails_at_cold_start() -> None:
    with pytest.raises(ValueError, match="FIELDS_LLM_PROVIDER=openai needs OPENAI_API_KEY"):
        build_fields_filler(Settings(fields_llm_provider="openai"))


def test_bedrock_is_built_with_its_own_retries_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    filler = build_fields_filler(
        Settings(fields_llm_provider="bedrock", fields_llm_model="", fields_llm_timeout_seconds=12)
    )
    assert isinstance(filler, LLMFieldsFiller)
    transport = filler.transport
    assert isinstance(transport, BedrockConverse)
    assert transport.model == CLAUDE_HAIKU == DEFAULT_MODELS["bedrock"]
    config = cast(Any, transport.client).meta.config
    assert (config.retries["total_max_attempts"], config.read_timeout) == (1, 12)
