"""Fields from the parsed Markdown by rule: table headers and label/value patterns (work in progress)."""

from __future__ import annotations

from docintake.fields.model import DocumentFields, InsuranceDocumentType
from docintake.parsing import PageMap


def extract_with_rules(markdown: str, page_map: PageMap) -> DocumentFields:
    return DocumentFields(document_type=InsuranceDocumentType.OTHER, document_type_confidence=0.0)
