"""Policy fields as data: a document's insurance type and key values (insurer, policy number, dates, premium,
coverages; a health plan's deductibles, out-of-pocket limits and copays), each with its evidence.

The rules (``fields.rules``) read them from the parsed Markdown's tables and label/value text. An optional
language model (``fields.llm``) is asked only for what the rules missed, and its answer is kept only where
its quote is found in the Markdown; it never replaces a rule's value (a disagreement is noted). Evidence
then names the chunk that holds each value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol
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
]


class FieldsFiller(Protocol):
    """Fills what the rules missed (``fields.llm``): returns ``found`` with values added, never replaced."""

    def fill(self, found: DocumentFields, markdown: str, page_map: PageMap) -> DocumentFields: ...


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
