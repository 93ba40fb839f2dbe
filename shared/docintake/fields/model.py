"""What extraction returns: a document's insurance type and its key values, each with the text it was read
from and where that text is (page, chunk, character span of the Markdown).

One shape serves the database row (``document_fields``), the API, the CLI's ``--json`` and the benchmark.
Every value is a string: a decimal amount ("1500.00"), an ISO 8601 date ("2026-03-01"), a percentage
("20") or the text itself, so JSON round trips are exact; ``text`` keeps it as the document wrote it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

# The fields' words live with the pipeline's (the Search API filters by them without loading these models).
from docintake.vocabulary import FIELD_KINDS, FieldName, InsuranceDocumentType, ValueKind

__all__ = [
    "FIELD_KINDS",
    "CostShareKind",
    "Coverage",
    "DocumentFields",
    "Evidence",
    "FieldName",
    "FieldValue",
    "InsuranceDocumentType",
    "Money",
    "Source",
    "ValueKind",
    "parse_decimal",
]


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
