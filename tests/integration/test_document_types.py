"""Word and HTML uploads through the local stack: presigned upload, validation's sniffing, the sandboxed parse,
chunks with their pages; and bytes that are not the declared type, refused before parsing."""

from __future__ import annotations

import pytest

from docintake_local.client import document_status, upload_bytes
from docintake_local.stack import LocalStack
from tests.docx_documents import DOCX, benefits_docx, compound_file, zip_of
from tests.kit import USER, chunks, documents, jobs, upload_bytes_declared_only
from tests.unit.test_html import PAGE

pytestmark = pytest.mark.integration
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)


def test_a_docx_upload_ends_ready_with_chunks_on_its_pages(stack: LocalStack) -> None:
    # GIVEN a three-page Word summary of benefits uploaded through the presigned URL
    ticket = upload_bytes(stack, USER, "Summary of Benefits.docx", benefits_docx(), DOCX)
    # WHEN the pipeline runs
    stack.run_until_idle()
    # THEN the document is ready, its page count is the DOCX's, and its chunks carry text from every page
    status = document_status(stack, USER, ticket.document_id)
    assert status is not None and (status["status"], status["stage"], status["state"]) == ("ready", "done", "done")
    [document] = documents(stack, "content_type", "page_count", id=ticket.document_id)
    assert document == {"content_type": DOCX, "page_count": 3}
    pieces = chunks(stack, "content", "page_start", "page_end", "heading_path", document_id=ticket.document_id)
    assert pieces and pieces[0]["page_start"] == 1 and pieces[-1]["page_end"] == 3
    text = "\n".join(c["content"] for c in pieces)
    assert "| Hospital stay | Not covered |  |" in text and "Cosmetic surgery is not covered." in text
    assert any(c["page_start"] == 3 and "Exclusions" in " ".join(c["heading_path"]) for c in pieces)


def test_an_html_upload_ends_ready_with_chunks(stack: LocalStack) -> None:
    ticket = upload_bytes(stack, USER, "benefits.html", PAGE.encode(), "text/html")
    stack.run_until_idle()
    status = document_status(stack, USER, ticket.document_id)
    assert status is not None and status["status"] == "ready"
    pieces = chunks(stack, "content", document_id=ticket.document_id)
    text = "\n".join(c["content"] for c in pieces)
    assert "| Office visit | $20 copay |" in text and "drop me" not in text


def test_an_encrypted_docx_passes_validation_and_fails_parsing_with_its_code(stack: LocalStack) -> None:
    ticket = upload_bytes(stack, USER, "locked.docx", compound_file("EncryptedPackage"), DOCX)
    stack.run_until_idle()
    [job] = jobs(stack, "stage", "state", "last_error_code", document_id=ticket.document_id)
    assert job == {"stage": "parsing", "state": "failed", "last_error_code": "encrypted_docx"}


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (PNG, "application/pdf"),  # a PNG declared as a PDF
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", DOCX),  # a PDF declared as a Word file
        (zip_of({"notes.txt": b"a zip, but no Office package"}), DOCX),
        (b"<html><body>a page</body></html>", "image/png"),
        (PNG, "text/html"),
    ],
)
def test_bytes_of_another_type_are_a_type_mismatch(stack: LocalStack, data: bytes, content_type: str) -> None:
    ticket = upload_bytes_declared_only(stack, data, content_type)
    stack.client("s3").put_object(Bucket=stack.bucket, Key=ticket["key"], Body=data)
    stack.run_until_idle()
    [job] = jobs(stack, "stage", "state", "last_error_code")
    assert job == {"stage": "awaiting_upload", "state": "failed", "last_error_code": "type_mismatch"}
