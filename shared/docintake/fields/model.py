"""What extraction returns: a document's insurance type and its key values, each with the text it was read
from and where that text is (page, chunk, character span of the Markdown).

One shape serves the database row (``document_fields``), the API, the CLI's ``--json`` and the benchmark.
Every value is a string: a decimal amount ("1500.00"), an ISO 8601 date ("2026-03-01"), a percentage
("20") or the text itself, so JSON round trips are exact; ``text`` keeps it as the document wrote it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class InsuranceDocumentType(StrEnum):
    """What a document is to a policyholder: the line of business it insures, or the paper it is."""

    HOMEOWNERS = "homeowners"
    PERSONAL_AUTO = "personal_auto"
    COMMERCIAL_GENERAL_LIABILITY = "commercial_general_liability"
    SUMMARY_OF_BENEFITS = "summary_of_benefits"
    ENDORSEMENT = "endorsement"
    CLAIM_FORM = "claim_form"
    OTHER = "other"


class ValueKind(StrEnum):
    TEXT = "text"
    MONEY = "money"
    DATE = "date"
    # A health plan's share of a service: a copay (an amount), coinsurance (a percentage), or no charge.
    COST_SHARE = "cost_share"


class FieldName(StrEnum):
    INSURER = "insurer"
    POLICY_NUMBER = "policy_number"
    NAMED_INSURED = "named_insured"
    EFFECTIVE_DATE = "effective_date"
    EXPIRATION_DATE = "expiration_date"
    PREMIUM = "premium"
    # Summary of benefits: the plan's overall deductible and out-of-pocket limit. The bare names hold the
    # in-network amounts for one person, the figure a member compares plans by. On a property or liability
    # policy, ``deductible`` is the one its declarations print for the policy ("Section I deductible").
    DEDUCTIBLE = "deductible"
    DEDUCTIBLE_FAMILY = "deductible_family"
    DEDUCTIBLE_OUT_OF_NETWORK = "deductible_out_of_network"
    DEDUCTIBLE_OUT_OF_NETWORK_FAMILY = "deductible_out_of_network_family"
    OUT_OF_POCKET_LIMIT = "out_of_pocket_limit"
    OUT_OF_POCKET_LIMIT_FAMILY = "out_of_pocket_limit_family"
    OUT_OF_POCKET_LIMIT_OUT_OF_NETWORK = "out_of_pocket_limit_out_of_network"
    OUT_OF_POCKET_LIMIT_OUT_OF_NETWORK_FAMILY = "out_of_pocket_limit_out_of_network_family"
    # Summary of benefits: what a member pays in network.
    PRIMARY_CARE = "primary_care"
    SPECIALIST = "specialist"
    EMERGENCY_ROOM = "emergency_room"
    GENERIC_DRUGS = "generic_drugs"


FIELD_KINDS: Final[dict[FieldName, ValueKind]] = {
    FieldName.INSURER: ValueKind.TEXT,
    FieldName.POLICY_NUMBER: ValueKind.TEXT,
    FieldName.NAMED_INSURED: ValueKind.TEXT,
    FieldName.EFFECTIVE_DATE: ValueKind.DATE,
    FieldName.EXPIRATION_DATE: ValueKind.DATE,
    FieldName.PREMIUM: ValueKind.MONEY,
    FieldName.DEDUCTIBLE: ValueKind.MONEY,
    FieldName.DEDUCTIBLE_FAMILY: ValueKind.MONEY,
    FieldName.DEDUCTIBLE_OUT_OF_NETWORK: ValueKind.MONEY,
    FieldName.DEDUCTIBLE_OUT_OF_NETWORK_FAMILY: ValueKind.MONEY,
    FieldName.OUT_OF_POCKET_LIMIT: ValueKind.MONEY,
    FieldName.OUT_OF_POCKET_LIMIT_FAMILY: ValueKind.MONEY,
    FieldName.OUT_OF_POCKET_LIMIT_OUT_OF_NETWORK: ValueKind.MONEY,
    FieldName.OUT_OF_POCKET_LIMIT_OUT_OF_NETWORK_FAMILY: ValueKind.MONEY,
    FieldName.PRIMARY_CARE: ValueKind.COST_SHARE,
    FieldName.SPECIALIST: ValueKind.COST_SHARE,
    FieldName.EMERGENCY_ROOM: ValueKind.COST_SHARE,
    FieldName.GENERIC_DRUGS: ValueKind.COST_SHARE,
}

Source = Literal["rules", "llm"]
CostShareKind = Literal["copay", "coinsurance", "no_charge", "not_covered"]


class Evidence(BaseModel):
    """Where a value was read: ``markdown[start:end]`` is ``quote`` and contains the value's text."""

    model_config = ConfigDict(frozen=True)

    page: int | None = None
    chunk_id: UUID | None = None
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    quote: str


class FieldValue(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: str | None  # normalised (see the module docstring); None when the text holds no such value
    text: str  # as written
    currency: str | None = None  # money and copays
    cost_share: CostShareKind | None = None  # cost shares only
    confidence: float = Field(ge=0.0, le=1.0)
    source: Source = "rules"

    @property
    def amount(self) -> Decimal | None:
        """The value as a number, for money, copays and coinsurance."""
        return parse_decimal(self.value)


class Money(BaseModel):
    """An amount in a coverage row; ``value`` is None for words ("Included", "See endorsement")."""

    model_config = ConfigDict(frozen=True)

    value: str | None
    currency: str | None = None
    text: str


class Coverage(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    limit: Money | None = None
    deductible: Money | None = None
    premium: Money | None = None
    page: int | None = None
    evidence: Evidence | None = None
    source: Source = "rules"


class DocumentFields(BaseModel):
    model_config = ConfigDict(frozen=True)

    document_type: InsuranceDocumentType
    document_type_confidence: float = Field(ge=0.0, le=1.0)
    fields: dict[FieldName, FieldValue] = Field(default_factory=dict)
    coverages: list[Coverage] = Field(default_factory=list)
    evidence: dict[FieldName, Evidence] = Field(default_factory=dict)
    # "rules", or "rules+llm" when a language model was asked to fill what the rules missed.
    extractor: str = "rules"
    # What the extractors disagreed on or refused, e.g. "llm_disagrees:premium" (the rule's value is kept).
    notes: list[str] = Field(default_factory=list)


def parse_decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None
