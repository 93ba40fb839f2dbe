"""The hostile-input corpus: broken and malicious PDFs built byte by byte in code, the same bytes on every run.

Nothing here is committed as a binary. Each file says what it is and which content type it is declared as;
the expected outcome lives with the tests, which run every file through the sandboxed parser.
"""

from __future__ import annotations

import hashlib
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

# The binary comment on line 2 tells transfer tools the file is binary (and makes it invalid UTF-8).
HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
ASCII_HEADER = b"%PDF-1.7\n"
CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
# Policy wording the tests look for in successful parses.
MARKER = "Coverage A Dwelling"
# The padding string of the standard security handler (PDF 1.7, 7.6.3.3).
_PASSWORD_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
_MIB = 1 << 20


@dataclass(frozen=True)
class HostileFile:
    name: str
    data: bytes
    # What the upload declared: the renamed-file cases declare the wrong type on purpose.
    content_type: str = "application/pdf"


def hostile_corpus(*, max_pages: int) -> list[HostileFile]:
    """Every hostile file; ``max_pages`` is the parser's limit, which ``too_many_pages`` exceeds by one."""
    valid = text_pdf([_page_text(n) for n in (1, 2, 3)])
    return [
        HostileFile("valid_policy", valid),
        HostileFile("zero_bytes", b""),
        HostileFile("truncated", valid[: len(valid) * 2 // 3]),
        HostileFile("truncated_header_only", valid[:20]),
        HostileFile("garbage_after_header", ASCII_HEADER + random.Random(1).randbytes(64 * 1024)),
        HostileFile("xref_prev_points_at_itself", xref_prev_loop()),
        HostileFile("xref_prev_cycle", xref_prev_cycle()),
        HostileFile("xref_stream_prev_loop", xref_stream_prev_loop()),
        HostileFile("startxref_past_the_end", startxref_past_the_end()),
        HostileFile("decompression_bomb", decompression_bomb(4096)),
        HostileFile("nested_flate_bomb", nested_flate_bomb(4096)),
        HostileFile("count_lies_high", count_lies(2_147_483_647, kids=1)),
        HostileFile("count_lies_low", count_lies(1, kids=3)),
        HostileFile("pages_kids_loop", pages_kids_loop()),
        HostileFile("deeply_nested_arrays", deeply_nested(b"[", b"]", 100_000)),
        HostileFile("deeply_nested_dicts", deeply_nested(b"<< /A ", b">>", 50_000)),
        HostileFile("deep_page_tree", deep_page_tree(5_000)),
        HostileFile("form_xobject_cycle", form_xobject_cycle()),
        HostileFile("encrypted_with_password", encrypted_pdf(user_password=b"secret", owner_password=b"owner")),
        HostileFile("encrypted_empty_user_password", encrypted_pdf(user_password=b"", owner_password=b"owner")),
        HostileFile("too_many_pages", text_pdf([_page_text(n) for n in range(1, max_pages + 2)])),
        HostileFile("no_page_has_text", text_pdf([None, None])),
        HostileFile("mostly_scanned", text_pdf([_page_text(1), None, None])),
        HostileFile("empty_page_tree", pdf_file([CATALOG, b"<< /Type /Pages /Kids [] /Count 0 >>"])),
        HostileFile("pdf_renamed_txt", valid, "text/plain"),
        HostileFile("ascii_pdf_renamed_txt", text_pdf([_page_text(1)], header=ASCII_HEADER), "text/plain"),
        HostileFile("text_renamed_pdf", _page_text(1).encode() + b"\n", "application/pdf"),
    ]


# --- building blocks ---------------------------------------------------------------------------------------


def pdf_file(
    objects: Sequence[bytes], *, header: bytes = HEADER, trailer: bytes = b"", streams: dict[int, bytes] | None = None
) -> bytes:
    """A classic PDF: ``objects[i]`` is the dictionary of object ``i + 1``; ``streams`` adds stream data."""
    out = bytearray(header)
    offsets = _write_objects(out, objects, streams or {})
    xref = len(out)
    out += _xref_table(offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, trailer, xref)
    return bytes(out)


def text_pdf(pages: Sequence[str | None], *, header: bytes = HEADER) -> bytes:
    """One Letter page per entry, its lines of text in Helvetica; ``None`` is a page without text (a scan)."""
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(len(pages)))
    objects = [CATALOG, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)), FONT]
    streams: dict[int, bytes] = {}
    for i, text in enumerate(pages):
        content = 4 + 2 * i + 1
        objects.append(_page(content))
        objects.append(b"<< >>")
        streams[content] = _text_content(text) if text is not None else b"q Q\n"
    return pdf_file(objects, header=header, streams=streams)


def xref_prev_loop() -> bytes:
    """The trailer's /Prev names the xref table it belongs to."""
    body, offsets = _one_page_body()
    xref = len(body)
    body += _xref_table(offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref, xref)
    return bytes(body)


def xref_prev_cycle() -> bytes:
    """An incremental update whose two xref sections name each other as /Prev: A → B → A."""
    body, offsets = _one_page_body()
    # Offsets are written as 10 digits (leading zeros are legal), so each is known before it is written.
    first = len(body)
    first_section = _xref_table(offsets) + b"trailer\n<< /Size %d /Root 1 0 R /Prev %010d >>\n"
    # The update rewrites the content stream with the same text.
    update_at = first + len(first_section % (len(offsets) + 1, 0))
    update = _stream_object(5, _text_content(_page_text(1)))
    second = update_at + len(update)
    body += first_section % (len(offsets) + 1, second)
    body += update
    body += b"xref\n0 1\n0000000000 65535 f \n5 1\n%010d 00000 n \n" % update_at
    body += b"trailer\n<< /Size %d /Root 1 0 R /Prev %010d >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(offsets) + 1,
        first,
        second,
    )
    return bytes(body)


def xref_stream_prev_loop() -> bytes:
    """A PDF 1.5 cross-reference stream whose /Prev is its own offset."""
    body, offsets = _one_page_body()
    number = len(offsets) + 1
    at = len(body)
    entries = b"\x00\x00\x00\x00\x00\xff\xff" + b"".join(
        b"\x01" + offset.to_bytes(4, "big") + b"\x00\x00" for offset in offsets
    )
    entries += b"\x01" + at.to_bytes(4, "big") + b"\x00\x00"
    body += b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Prev %d /Length %d >>\nstream\n" % (
        number,
        number + 1,
        at,
        len(entries),
    )
    body += entries + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % at
    return bytes(body)


def startxref_past_the_end() -> bytes:
    """startxref points beyond the end of the file; readers must rebuild the table by scanning."""
    valid = text_pdf([_page_text(1)])
    cut = valid.rindex(b"startxref")
    return valid[:cut] + b"startxref\n999999999\n%%EOF\n"


def zeros_deflated(mebibytes: int) -> bytes:
    """A zlib stream of ``mebibytes`` MiB of zeros, about 1 KB per MiB, assembled without inflating anything:
    after a full flush deflate forgets its window, so every further MiB compresses to the same block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(_MIB)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush(zlib.Z_FINISH)
    # Adler-32 of n zero bytes: a stays 1 and b counts the bytes.
    adler = (((mebibytes * _MIB) % 65521) << 16) | 1
    return b"\x78\xda" + first + repeat * (mebibytes - 1) + end + adler.to_bytes(4, "big")


def decompression_bomb(mebibytes: int) -> bytes:
    """Page 2's content stream is ``mebibytes`` MiB of zeros, FlateDecoded (4 GiB is a 4 MB file)."""
    return _bomb_pdf(zeros_deflated(mebibytes), b"/FlateDecode")


def nested_flate_bomb(mebibytes: int) -> bytes:
    """The same, deflated twice (/Filter [/FlateDecode /FlateDecode]): a few KB on disk."""
    return _bomb_pdf(zlib.compress(zeros_deflated(mebibytes), 9), b"[/FlateDecode /FlateDecode]")


def count_lies(count: int, *, kids: int) -> bytes:
    """The page tree's /Count says ``count`` while /Kids holds ``kids`` pages."""
    pages = text_pdf([_page_text(n) for n in range(1, kids + 1)])
    return pages.replace(b"/Count %d >>" % kids, b"/Count %d >>" % count, 1)


def pages_kids_loop() -> bytes:
    """The root /Pages node lists itself among its kids."""
    body = [CATALOG, b"<< /Type /Pages /Kids [4 0 R 2 0 R] /Count 2 >>", FONT, _page(5), b"<< >>"]
    return pdf_file(body, streams={5: _text_content(_page_text(1))})


def deeply_nested(open_token: bytes, close_token: bytes, depth: int) -> bytes:
    """A page carrying a value nested ``depth`` levels deep (recursive parsers overflow their stack)."""
    nested = open_token * depth + close_token * depth
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R /Resources %s /Junk %s >>" % (
        _RESOURCES,
        nested,
    )
    body = [CATALOG, b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", FONT, page, b"<< >>"]
    return pdf_file(body, streams={5: _text_content(_page_text(1))})


def deep_page_tree(depth: int) -> bytes:
    """A chain of ``depth`` intermediate /Pages nodes above the one real page."""
    # Objects: 1 catalog, 2 root pages, 3 font, 4 page, 5 contents, 6.. intermediate nodes.
    first_inner = 6
    objects = [CATALOG, b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % first_inner, FONT, b"", b"<< >>"]
    parent = 2
    for level in range(depth):
        number = first_inner + level
        child = number + 1 if level < depth - 1 else 4
        objects.append(b"<< /Type /Pages /Parent %d 0 R /Kids [%d 0 R] /Count 1 >>" % (parent, child))
        parent = number
    objects[3] = _page(5, parent=parent)
    return pdf_file(objects, streams={5: _text_content(_page_text(1))})


def form_xobject_cycle() -> bytes:
    """A form XObject that paints itself, forever unless the reader counts."""
    resources = b"<< /Font << /F1 3 0 R >> /XObject << /Fm1 6 0 R >> >>"
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R /Resources %s >>" % resources
    form = b"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources %s >>" % resources
    body = [CATALOG, b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", FONT, page, b"<< >>", form]
    content = _text_content(_page_text(1)) + b"/Fm1 Do\n"
    return pdf_file(body, streams={5: content, 6: b"/Fm1 Do\n"})


def encrypted_pdf(*, user_password: bytes, owner_password: bytes) -> bytes:
    """One text page under the standard security handler, revision 2 (RC4, 40-bit key), by PDF 1.7 7.6.3."""
    file_id = hashlib.md5(b"docintake hostile corpus", usedforsecurity=False).digest()
    permissions = -4
    owner_key = hashlib.md5(_pad(owner_password), usedforsecurity=False).digest()[:5]
    owner_entry = _rc4(owner_key, _pad(user_password))
    key = hashlib.md5(
        _pad(user_password) + owner_entry + permissions.to_bytes(4, "little", signed=True) + file_id,
        usedforsecurity=False,
    ).digest()[:5]
    user_entry = _rc4(key, _PASSWORD_PAD)
    encrypt = b"<< /Filter /Standard /V 1 /R 2 /Length 40 /P %d /O <%s> /U <%s> >>" % (
        permissions,
        owner_entry.hex().encode(),
        user_entry.hex().encode(),
    )
    # Streams are encrypted with a key derived from the file key and their object number.
    object_key = hashlib.md5(key + (5).to_bytes(3, "little") + b"\x00\x00", usedforsecurity=False).digest()[:10]
    content = _rc4(object_key, _text_content(_page_text(1)))
    body = [CATALOG, b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", FONT, _page(5), b"<< >>", encrypt]
    trailer = b"/Encrypt 6 0 R /ID [<%s> <%s>] " % (file_id.hex().encode(), file_id.hex().encode())
    return pdf_file(body, trailer=trailer, streams={5: content})


# --- internals ---------------------------------------------------------------------------------------------

_RESOURCES = b"<< /Font << /F1 3 0 R >> >>"
_POLICY_PAGES = (
    (
        "SECTION I PROPERTY COVERAGES",
        f"{MARKER}: we cover the dwelling on the residence premises shown in the Declarations.",
        "Coverage B Other Structures: we cover structures set apart from the dwelling by clear space.",
    ),
    (
        "SECTION II LIABILITY COVERAGES",
        "Coverage E Personal Liability: we pay damages an insured is legally liable for.",
        "Coverage F Medical Payments: we pay necessary medical expenses incurred within three years.",
    ),
    (
        "CONDITIONS",
        "Loss Settlement: covered losses to buildings are settled at replacement cost without deduction.",
        "Mortgage Clause: the word mortgagee includes a trustee named in the Declarations.",
    ),
)


def _page_text(number: int) -> str:
    # Every line differs from page to page: lines repeated on most pages are running headers and are dropped.
    heading, *clauses = _POLICY_PAGES[(number - 1) % len(_POLICY_PAGES)]
    return "\n".join([heading, *clauses])


def _page(contents: int, *, parent: int = 2) -> bytes:
    return b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R /Resources %s >>" % (
        parent,
        contents,
        _RESOURCES,
    )


def _text_content(text: str) -> bytes:
    lines = []
    for i, line in enumerate(text.splitlines()):
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")
        lines.append(b"BT /F1 11 Tf 72 %d Td (%s) Tj ET" % (720 - 16 * i, escaped))
    return b"\n".join(lines) + b"\n"


def _write_objects(out: bytearray, objects: Sequence[bytes], streams: dict[int, bytes]) -> list[int]:
    offsets = []
    for number, dictionary in enumerate(objects, start=1):
        offsets.append(len(out))
        if number in streams:
            data = streams[number]
            # Every stream dictionary here is "<< ... >>": /Length goes in before the closing brackets.
            out += b"%d 0 obj\n%s /Length %d >>\nstream\n" % (number, dictionary[:-2], len(data))
            out += data + b"\nendstream\nendobj\n"
        else:
            out += b"%d 0 obj\n%s\nendobj\n" % (number, dictionary)
    return offsets


def _xref_table(offsets: Sequence[int]) -> bytes:
    rows = [b"0000000000 65535 f \n"] + [b"%010d 00000 n \n" % offset for offset in offsets]
    return b"xref\n0 %d\n" % len(rows) + b"".join(rows)


def _one_page_body() -> tuple[bytearray, list[int]]:
    body = bytearray(HEADER)
    objects = [CATALOG, b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", FONT, _page(5), b"<< >>"]
    offsets = _write_objects(body, objects, {5: _text_content(_page_text(1))})
    return body, offsets


def _stream_object(number: int, data: bytes) -> bytes:
    return b"%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (number, len(data), data)


def _bomb_pdf(stream: bytes, filters: bytes) -> bytes:
    """Two pages: page 1 has text, page 2's content is the bomb."""
    body = [
        CATALOG,
        b"<< /Type /Pages /Kids [4 0 R 6 0 R] /Count 2 >>",
        FONT,
        _page(5),
        b"<< >>",
        _page(7),
        b"<< /Filter %s >>" % filters,
    ]
    return pdf_file(body, streams={5: _text_content(_page_text(1)), 7: stream})


def _pad(password: bytes) -> bytes:
    return (password + _PASSWORD_PAD)[:32]


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)
