"""A scanned PDF through the local stack: OCR in the parse stage (RapidOCR, as the stack sets it up), chunks,
and the user's view listing the OCR'd pages, their confidence and any warning."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from docintake.local.client import document_status, show_as, upload_bytes
from docintake.local.stack import LocalStack

pytest.importorskip("rapidocr")
from tests.unit.test_ocr import _born_digital, _raster, _scanned

pytestmark = pytest.mark.integration
USER = uuid.UUID("22222222-2222-4222-8222-222222222222")


def test_a_scanned_pdf_ends_ready_with_chunks_and_its_ocr_pages_shown(stack: LocalStack) -> None:
    # GIVEN a PDF of one born-digital page and one scanned page (no text layer), uploaded by a user
    scan = _raster(_born_digital([("Summary of Benefits", "The deductible applies before coinsurance.", True)]))[0]
    data = _scanned([None, scan])
    ticket = upload_bytes(stack, USER, "mixed.pdf", data, "application/pdf")
    # WHEN the pipeline runs it
    stack.run_until_idle()
    # THEN the document is ready with a chunk holding the scanned page's words, ending on page 2
    status = document_status(stack, USER, ticket.document_id)
    assert status is not None and (status["status"], status["stage"]) == ("ready", "done")
    with psycopg.connect(stack.database.admin_url) as conn:
        rows = conn.execute(
            "SELECT content, page_start, page_end FROM document_chunks WHERE document_id = %s", [ticket.document_id]
        ).fetchall()
    assert any("Primary care" in content and start <= 2 == end for content, start, end in rows)
    # AND GET /documents/{id} (what `docintake documents show` prints) lists page 2 as OCR'd, with its confidence
    view = show_as(stack, USER, ticket.document_id)
    assert view["ocr_pages"] == [2]
    [page] = view["page_confidence"]
    assert page["page"] == 2 and 0.8 <= page["confidence"] <= 1.0
    assert not [w for w in view["warnings"] if w.startswith("ocr_")]
