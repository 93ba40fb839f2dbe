"""The upload types: which the API accepts, what the validate stage's sniffing lets through for each declared
type, and which type a file name gives the CLI."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from pydantic import ValidationError

from docintake.api.uploads import UploadRequest
from docintake.config import ALLOWED_CONTENT_TYPES, ContentType
from docintake.validation import sniff_matches
from docintake_local.client import content_type_for
from tests.docx_documents import benefits_docx, compound_file, zip_of
from tests.hostile_pdfs import HEADER

PDF = HEADER + b"1 0 obj << /Type /Catalog >> endobj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)
TIFF_LE = b"II*\x00\x08\x00\x00\x00" + bytes(64)
TIFF_BE = b"MM\x00*\x00\x00\x00\x08" + bytes(64)
DOCX = benefits_docx()[:8192]
ENCRYPTED_DOCX = compound_file("EncryptedPackage")[:8192]
HTML = b"<!DOCTYPE html><html><body><h1>Summary of Benefits</h1></body></html>"
LEGACY_HTML = b"<p>Caf\xe9 \x96 menu</p>"  # windows-1252, not UTF-8
UTF16_HTML = codecs.BOM_UTF16_LE + "<p>Café</p>".encode("utf-16-le")
TEXT = b"Policy number HO-123\n"
LATIN1_TEXT = "Résumé de la police: franchise 500 €\r\n".encode("cp1252")
ZIP = zip_of({"photos/a.txt": b"not an office document"})
SAMPLES = {
    "pdf": PDF,
    "png": PNG,
    "jpeg": JPEG,
    "tiff_le": TIFF_LE,
    "tiff_be": TIFF_BE,
    "docx": DOCX,
    "encrypted_docx": ENCRYPTED_DOCX,
    "html": HTML,
    "legacy_html": LEGACY_HTML,
    "utf16_html": UTF16_HTML,
    "text": TEXT,
    "latin1_text": LATIN1_TEXT,
    "zip": ZIP,
}
# What each declared type lets through; every other sample is a type_mismatch.
ACCEPTED = {
    ContentType.PDF: {"pdf"},
    ContentType.PNG: {"png"},
    ContentType.JPEG: {"jpeg"},
    ContentType.TIFF: {"tiff_le", "tiff_be"},
    # An encrypted DOCX is an OLE file: it passes, and the parser fails it with encrypted_docx.
    ContentType.DOCX: {"docx", "encrypted_docx"},
    ContentType.HTML: {"html", "legacy_html", "utf16_html", "text", "latin1_text"},
    # Text that is not UTF-8 but has no control bytes is text in a single-byte charset: the parser decodes
    # it (Windows-1252) or fails it with not_utf8.
    ContentType.TEXT: {"html", "legacy_html", "text", "latin1_text"},
    ContentType.MARKDOWN: {"html", "legacy_html", "text", "latin1_text"},
}


@pytest.mark.parametrize("declared", list(ContentType))
@pytest.mark.parametrize("sample", list(SAMPLES))
def test_sniffing_accepts_exactly_the_declared_type(declared: ContentType, sample: str) -> None:
    assert sniff_matches(declared.value, SAMPLES[sample]) is (sample in ACCEPTED[declared])


def test_every_content_type_is_allowed_and_sniffed() -> None:
    assert ALLOWED_CONTENT_TYPES == {t.value for t in ContentType} == set(ACCEPTED)
    assert {
        "image/png",
        "image/jpeg",
        "image/tiff",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "text/html",
    } <= ALLOWED_CONTENT_TYPES


@pytest.mark.parametrize(
    ("declared", "stored"),
    [("image/png", "image/png"), ("Text/HTML; charset=utf-8", "text/html"), (ContentType.DOCX.value, ContentType.DOCX)],
)
def test_the_upload_api_accepts_the_new_types(declared: str, stored: str) -> None:
    request = UploadRequest(filename="a", content_type=declared, size_bytes=1, sha256="0" * 64)
    assert request.content_type == stored


@pytest.mark.parametrize("declared", ["application/msword", "image/gif", "application/zip", "text/csv"])
def test_the_upload_api_refuses_other_types(declared: str) -> None:
    with pytest.raises(ValidationError, match="type not allowed"):
        UploadRequest(filename="a", content_type=declared, size_bytes=1, sha256="0" * 64)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("policy.pdf", "application/pdf"),
        ("scan.PNG", "image/png"),
        ("scan.jpg", "image/jpeg"),
        ("scan.jpeg", "image/jpeg"),
        ("fax.tif", "image/tiff"),
        ("fax.tiff", "image/tiff"),
        ("summary.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("page.html", "text/html"),
        ("page.HTM", "text/html"),
        ("notes.md", "text/markdown"),
        ("notes.txt", "text/plain"),
    ],
)
def test_the_cli_guesses_the_type_from_the_file_name(name: str, content_type: str) -> None:
    assert content_type_for(Path(name)) == content_type
