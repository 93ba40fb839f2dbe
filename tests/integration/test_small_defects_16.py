"""Issue 16's smaller defects, end to end: a Windows-1252 text upload is read (or fails as not_utf8, never
as a type mismatch), and a filename in another script keeps a readable name through the pipeline."""

from __future__ import annotations

import pytest

from docintake_local.client import upload_bytes
from docintake_local.stack import LocalStack
from tests.kit import USER, chunks, documents, jobs

pytestmark = pytest.mark.integration
LATIN1_POLICY = "# Police d'assurance habitation\r\n\r\nFranchise : 500 € par sinistre. Dégâts des eaux.\r\n"


def test_a_windows_1252_text_upload_is_validated_decoded_and_ready_with_a_warning(stack: LocalStack) -> None:
    # GIVEN a .txt saved on Windows in French (Windows-1252: "é" is one byte 0xE9, "€" is 0x80)
    data = LATIN1_POLICY.encode("cp1252")
    # WHEN it is uploaded as text/plain and the pipeline runs
    ticket = upload_bytes(stack, USER, "police.txt", data, "text/plain")
    stack.run_until_idle()
    # THEN it is not a type mismatch: it is ready, its chunks read as written, and the guess is recorded
    assert jobs(stack, "stage", "state", "last_error_code") == [
        {"stage": "done", "state": "done", "last_error_code": None}
    ]
    document = documents(stack, "status", "parse_warnings", id=ticket.document_id)
    assert document == [{"status": "ready", "parse_warnings": ["decoded_as_cp1252"]}]
    content = "".join(r["content"] for r in chunks(stack, "content"))
    assert "Franchise : 500 € par sinistre. Dégâts des eaux." in content


def test_a_text_upload_in_another_single_byte_charset_fails_as_not_utf8(stack: LocalStack) -> None:
    # GIVEN a .txt in Russian saved as Windows-1251 (it would read as "Ïîëèñ" in Windows-1252)
    data = "Полис страхования жилья. Франшиза 500 рублей.\n".encode("cp1251")
    # WHEN it is uploaded and the pipeline runs
    upload_bytes(stack, USER, "polis.txt", data, "text/plain")
    stack.run_until_idle()
    # THEN it fails with the code that says what is wrong: the encoding, not the type
    assert jobs(stack, "state", "last_error_code") == [{"state": "failed", "last_error_code": "not_utf8"}]


# The other shapes of names are covered without the stack in tests/unit/test_storage.py.
@pytest.mark.parametrize(("filename", "stored"), [("住宅保険 証券.md", "住宅保険-証券.md"), ("🏠📄.md", "document.md")])
def test_a_filename_in_any_script_keeps_a_readable_name_through_the_pipeline(
    stack: LocalStack, filename: str, stored: str
) -> None:
    # GIVEN an upload whose name is not ASCII
    ticket = upload_bytes(stack, USER, filename, f"# {filename}\n\nDeductible: $500\n".encode(), "text/markdown")
    # THEN the key and the row carry the readable name, never the bare extension
    assert ticket.key == f"uploads/{USER}/{ticket.document_id}/{stored}"
    assert documents(stack, "filename") == [{"filename": stored}]
    # AND S3's URL-encoded event for that key is understood: the document is validated and finishes
    stack.run_until_idle()
    assert jobs(stack, "stage", "state") == [{"stage": "done", "state": "done"}]
