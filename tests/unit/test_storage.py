"""Keys are built by the server: filenames are sanitized and only uploads/{uuid}/{uuid}/name is ours."""

from __future__ import annotations

import uuid

import pytest

from docintake.storage import MAX_FILENAME_BYTES, parse_upload_key, sanitize_filename, sha256_base64, upload_key


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("policy.pdf", "policy.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\Declarations Page.pdf", "Declarations-Page.pdf"),
        ("bad\x00name\x1f.pdf", "badname.pdf"),
        ("Résumé – Police d’assurance.pdf", "Résumé-Police-dassurance.pdf"),
        ("CON.pdf", "document-CON.pdf"),
        ("...", "document"),
        ("ＡＢＣ.pdf", "ABC.pdf"),
        # Names in any script stay readable; symbols (emoji among them) become "-" or go.
        ("保险单.pdf", "保险单.pdf"),
        ("住宅保険 証券（2024年度）.PDF", "住宅保険-証券-2024年度.PDF"),
        ("नमस्ते बीमा.txt", "नमस्ते-बीमा.txt"),
        ("🏠 Home policy 📄.pdf", "Home-policy.pdf"),
        ("v1.2 報告", "v1.2-報告"),
        # A name with nothing readable left is "document", never its bare extension.
        ("🏠📄.pdf", "document.pdf"),
        (".pdf", "document.pdf"),
        # Bidi overrides (which make "evil\u202egpj.exe" display as "evilexe.jpg") and fullwidth slashes go.
        ("evil\u202egpj.exe", "evilgpj.exe"),
        ("a/b／c.md", "c.md"),
    ],
)
def test_sanitize_filename(given: str, expected: str) -> None:
    assert sanitize_filename(given) == expected


@pytest.mark.parametrize("given", ["a" * 500 + ".pdf", "保" * 500 + ".pdf", "é" * 200 + ".pdf", "🏠" * 100 + "x.pdf"])
def test_sanitized_names_are_bounded_in_bytes_and_keep_their_extension(given: str) -> None:
    name = sanitize_filename(given)
    assert len(name.encode()) <= MAX_FILENAME_BYTES and name.endswith(".pdf") and len(name) > len(".pdf")
    # AND the upload key stays far inside S3's 1,024 bytes
    assert len(upload_key(uuid.uuid4(), uuid.uuid4(), name).encode()) <= 1024 // 4


def test_upload_key_round_trips_through_the_s3_event_encoding() -> None:
    user, document = uuid.uuid4(), uuid.uuid4()
    key = upload_key(user, document, "Declarations-Page.pdf")
    parsed = parse_upload_key(key)
    assert parsed is not None
    assert (parsed.user_id, parsed.document_id, parsed.key) == (user, document, key)
    # S3 events URL-encode keys, spaces as '+'.
    encoded = parse_upload_key(f"uploads/{user}/{document}/my+policy%281%29.pdf")
    assert encoded is not None and encoded.key == f"uploads/{user}/{document}/my policy(1).pdf"


@pytest.mark.parametrize(
    "key",
    [
        "derived/x/y/document.md",
        "uploads/not-a-uuid/00000000-0000-4000-8000-000000000001/a.pdf",
        "uploads/00000000-0000-4000-8000-000000000001/a.pdf",
        "uploads/00000000-0000-4000-8000-000000000001/00000000-0000-4000-8000-000000000002/",
        "uploads/00000000-0000-4000-8000-000000000001/00000000-0000-4000-8000-000000000002/a/b.pdf",
    ],
)
def test_keys_that_are_not_uploads_are_refused(key: str) -> None:
    assert parse_upload_key(key) is None


def test_sha256_base64_is_the_header_form_of_the_hex_digest() -> None:
    hex_digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert sha256_base64(hex_digest) == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
