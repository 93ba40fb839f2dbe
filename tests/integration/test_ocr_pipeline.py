"""A scanned PDF and a PNG upload through the local stack: OCR in the parse stage (RapidOCR, as the stack sets
it up), chunks, and the user's view listing the OCR'd pages, their confidence and any warning."""

from __future__ import annotations

import io
import uuid

import psycopg
import pytest

from docintake_local.client import document_status, show_as, upload_bytes
from docintake_local.stack import LocalStack
from tests.scanned_documents import SCAN_PAGE, born_digital, raster, scanned

pytestmark = pytest.mark.integration
USER = uuid.UUID("22222222-2222-4222-8222-222222222222")


def _chunk_pages(stack: LocalStack, document_id: uuid.UUID) -> list[tuple[str, int, int]]:
    """(content, page_start, page_end) of each of the document's chunks."""
    with psycopg.connect(stack.database.admin_url) as conn:
        return conn.execute(
            "SELECT content, page_start, page_end FROM document_chunks WHERE document_id = %s", [document_id]
        ).fetchall()


def test_a_scanned_pdf_ends_ready_with_chunks_and_its_ocr_pages_shown(stack: LocalStack) -> None:
    # GIVEN a PDF of one born-digital page and one scanned page (no text layer), uploaded by a user
    scan = raster(born_digital([SCAN_PAGE]))[0]
    data = scanned([None, scan])
    ticket = upload_bytes(stack, USER, "mixed.pdf", data, "application/pdf")
    # WHEN the pipeline runs it
    stack.run_until_idle()
    # THEN the document is ready with a chunk holding the scanned page's words, ending on page 2
    status = document_status(stack, USER, ticket.document_id)
    assert status is not None and (status["status"], status["stage"]) == ("ready", "done")
    rows = _chunk_pages(stack, ticket.document_id)
    assert any("Primary care" in content and start <= 2 == end for content, start, end in rows)
    # AND GET /documents/{id} (what `docintake documents show` prints) lists page 2 as OCR'd, with its confidence
    view = show_as(stack, USER, ticket.document_id)
    assert view["ocr_pages"] == [2]
    [page] = view["page_confidence"]
    assert page["page"] == 2 and 0.8 <= page["confidence"] <= 1.0
    assert not [w for w in view["warnings"] if w.startswith("ocr_")]


def test_a_png_upload_ends_ready_with_chunks_and_page_1_ocrd(stack: LocalStack) -> None:
    # GIVEN a PNG of the scanned page (a heading, a sentence and a ruled table), uploaded by a user
    png = io.BytesIO()
    raster(born_digital([SCAN_PAGE]))[0].save(png, format="PNG")
    ticket = upload_bytes(stack, USER, "benefits.png", png.getvalue(), "image/png")
    # WHEN the pipeline runs it
    stack.run_until_idle()
    # THEN the document is ready, its chunks hold the image's words on page 1, and page 1 is listed as OCR'd
    status = document_status(stack, USER, ticket.document_id)
    assert status is not None and (status["status"], status["stage"]) == ("ready", "done")
    rows = _chunk_pages(stack, ticket.document_id)
    assert any("Primary care" in content and (start, end) == (1, 1) for content, start, end in rows)
    view = show_as(stack, USER, ticket.document_id)
    assert view["ocr_pages"] == [1]
    [page] = view["page_confidence"]
    assert page["page"] == 1 and 0.8 <= page["confidence"] <= 1.0
