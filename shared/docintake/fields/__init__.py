"""Policy fields as data: a document's insurance type and key values (insurer, policy number, dates, premium,
coverages; a health plan's deductibles, out-of-pocket limits and copays), each with its evidence.

The rules (``fields.rules``) read them from the parsed Markdown's tables and label/value text. An optional
language model (``fields.llm``) is asked only for what the rules missed, and its answer is kept only where
its quote is found in the Markdown; it never replaces a rule's value (a disagreement is noted). Evidence
then names the chunk that holds each value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from docintake.fields.model import (
    FIELD_KINDS,
    Coverage,
    DocumentFields,
    Evidence,
    FieldName,
    FieldValue,
    InsuranceDocumentType,
    Money,
    ValueKind,
)

if TYPE_CHECKING:
    from docintake.chunking import Chunk
    from docintake.parsing import PageMap

__all__ = [
    "FIELD_KINDS",
    "Coverage",
    "DocumentFields",
    "Evidence",
    "FieldName",
    "FieldValue",
    "FieldsFiller",
    "InsuranceDocumentType",
    "Money",
    "ValueKind",
    "attach_chunks",
    "extract_document_fields",
    "extract_in_stage",
]


class FieldsFiller(Protocol):
    """Fills what the rules missed (``fields.llm``): returns ``found`` with values added, never replaced; starts
    nothing that could outlast ``deadline`` (time.monotonic())."""

    def fill(
        self, found: DocumentFields, markdown: str, page_map: PageMap, *, deadline: float = math.inf
    ) -> DocumentFields: ...


def extract_document_fields(
    markdown: str,
    page_map: PageMap,
    *,
    chunks: Sequence[Chunk] = (),
    document_id: UUID | None = None,
    filler: FieldsFiller | None = None,
) -> DocumentFields:
    """The document's fields; with ``chunks`` and ``document_id``, each evidence names its chunk."""
    from docintake.fields.rules import extract_with_rules

    found = extract_with_rules(markdown, page_map)
    if filler is not None:
        found = filler.fill(found, markdown, page_map)
    if chunks and document_id is not None:
        found = attach_chunks(found, chunks, document_id)
    return found


def extract_in_stage(
    markdown: str,
    page_map: PageMap,
    *,
    chunks: Sequence[Chunk],
    document_id: UUID,
    filler: FieldsFiller | None,
    deadline: float,
) -> DocumentFields:
    """The chunk stage's extraction. Fields enrich a document; they never stop it being searchable:

    - a bug in the rules (any exception) leaves the document typed ``other`` with no fields and the note
      ``rules_failed:<exception type>``: retrying would fail the same way every time;
    - a model that refuses the request for good (a wrong model name, a request it will never take) leaves
      the rules' fields with the note ``llm_failed:<code>``;
    - a model that is unavailable now (throttled, down, out of this invocation's time) raises its
      TransientError: the stage is retried, then dead-lettered, and a replay extracts again.

    Each degradation is logged (the exception's type and code, never document text) and counted
    (``FieldsExtractionDegraded`` by ``reason``)."""
    from docintake.errors import PermanentError
    from docintake.metrics import emit

    try:
        found = extract_document_fields(markdown, page_map)
    except Exception as error:  # any bug at all: see the docstring, the document goes on without fields
        reason = f"rules_failed:{type(error).__name__}"
        _logger().warning("fields rules failed", extra={"error": type(error).__name__})
        emit("FieldsExtractionDegraded", 1, dimensions={"reason": "rules_failed"})
        found = DocumentFields(document_type=InsuranceDocumentType.OTHER, document_type_confidence=0.0, notes=[reason])
    else:
        if filler is not None:
            try:
                found = filler.fill(found, markdown, page_map, deadline=deadline)
            except PermanentError as error:
                _logger().warning("fields llm failed", extra={"error_code": error.code})
                emit("FieldsExtractionDegraded", 1, dimensions={"reason": "llm_failed"})
                found = found.model_copy(update={"notes": [*found.notes, f"llm_failed:{error.code}"]})
    return attach_chunks(found, chunks, document_id)


def _logger() -> Any:
    from aws_lambda_powertools import Logger

    return Logger(service="docintake", child=True)


def attach_chunks(found: DocumentFields, chunks: Sequence[Chunk], document_id: UUID) -> DocumentFields:
    """Name in each evidence the first chunk whose slice of the Markdown holds all of it (or, for a span
    wider than any chunk, the chunk it starts in)."""

    def named(evidence: Evidence | None) -> Evidence | None:
        if evidence is None:
            return None
        holder = next((c for c in chunks if c.start <= evidence.start and evidence.end <= c.end), None)
        holder = holder or next((c for c in chunks if c.start <= evidence.start < c.end), None)
        if holder is None:
            return evidence
        return evidence.model_copy(update={"chunk_id": holder.chunk_id(document_id)})

    return found.model_copy(
        update={
            "evidence": {name: named(ev) for name, ev in found.evidence.items()},
            "coverages": [row.model_copy(update={"evidence": named(row.evidence)}) for row in found.coverages],
        }
    )
