"""Word documents built with python-docx in code (nothing binary is committed), and hostile DOCX packages.

``benefits_docx`` is a small summary of benefits with everything the DOCX parser reads: a title and headings,
bold, nested bullets and numbered steps, a table with cells merged across columns and rows, an explicit page
break and a second section, so its page map has three pages.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import docx
from docx.enum.section import WD_SECTION
from docx.enum.text import WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# numIds of python-docx's default template: the "List Bullet" and "List Number" styles' lists.
BULLETS, NUMBERS = 1, 5


def build(fill: Callable[[docx.document.Document], None]) -> bytes:
    document = docx.Document()
    fill(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def list_item(document: docx.document.Document, text: str, num_id: int, ilvl: int) -> Paragraph:
    """A paragraph numbered directly (numPr in the paragraph), at nesting level ``ilvl``."""
    paragraph = document.add_paragraph(text)
    num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
    num_pr.get_or_add_ilvl().val = ilvl
    num_pr.get_or_add_numId().val = num_id
    return paragraph


def hyperlink(paragraph: Paragraph, text: str, url: str) -> None:
    rel = paragraph.part.relate_to(url, docx.opc.constants.RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel)
    run = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = text
    run.append(t)
    link.append(run)
    paragraph._p.append(link)


def _benefits(document: docx.document.Document) -> None:
    document.add_heading("Summary of Benefits", 0)
    document.add_heading("Costs for Medical Care", 1)
    intro = document.add_paragraph("The ")
    intro.add_run("overall deductible").bold = True
    intro.add_run(" is $500. See ")
    hyperlink(intro, "the glossary", "https://example.com/glossary")
    intro.add_run(".")
    list_item(document, "Preventive care", BULLETS, 0)
    list_item(document, "Screenings", BULLETS, 1)
    list_item(document, "Immunizations", BULLETS, 1)
    list_item(document, "Childhood", BULLETS, 2)
    list_item(document, "Emergency care", BULLETS, 0)
    document.add_heading("How to file a claim", 2)
    list_item(document, "Call the plan", NUMBERS, 0)
    list_item(document, "Send the form", NUMBERS, 0)
    table = document.add_table(rows=4, cols=3)
    for (row, col), text in {
        (0, 0): "Service",
        (0, 1): "In-network",
        (0, 2): "Out-of-network",
        (1, 1): "$20 copay",
        (1, 2): "40% coinsurance",
        (2, 1): "$40 copay",
        (2, 2): "50% coinsurance",
    }.items():
        table.cell(row, col).text = text
    table.cell(1, 0).merge(table.cell(2, 0)).text = "Office visit"  # vMerge over two rows
    table.cell(3, 0).text = "Hospital stay"
    table.cell(3, 1).merge(table.cell(3, 2)).text = "Not covered"  # gridSpan over two columns
    before = document.add_paragraph("Limits apply.")
    before.add_run().add_break(WD_BREAK.PAGE)
    before.add_run("Page two begins here.")
    document.add_paragraph("Network providers are listed online.")
    document.add_section(WD_SECTION.NEW_PAGE)
    document.add_heading("Exclusions", 1)
    document.add_paragraph("Cosmetic surgery is not covered.")


def benefits_docx() -> bytes:
    return build(_benefits)


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def with_member(data: bytes, name: str, content: bytes) -> bytes:
    """The package with one member's content replaced."""
    source = zipfile.ZipFile(io.BytesIO(data))
    return zip_of(
        {info.filename: content if info.filename == name else source.read(info) for info in source.infolist()}
    )


def understated_size(data: bytes, name: str, size: int) -> bytes:
    """The package with ``name``'s uncompressed size rewritten to ``size`` in its local header and the central
    directory: a zip whose directory lies about how much a member inflates to."""
    out = bytearray(data)
    encoded = name.encode()
    local = out.find(b"PK\x03\x04")
    while local != -1:
        name_length = int.from_bytes(out[local + 26 : local + 28], "little")
        if out[local + 30 : local + 30 + name_length] == encoded:
            out[local + 22 : local + 26] = size.to_bytes(4, "little")
        local = out.find(b"PK\x03\x04", local + 4)
    central = out.find(b"PK\x01\x02")
    while central != -1:
        name_length = int.from_bytes(out[central + 28 : central + 30], "little")
        if out[central + 46 : central + 46 + name_length] == encoded:
            out[central + 24 : central + 28] = size.to_bytes(4, "little")
        central = out.find(b"PK\x01\x02", central + 4)
    return bytes(out)


# An OLE compound file (the container of an encrypted OOXML package, and of Word 97-2003 .doc files): the
# header's magic, then padding, then a directory entry's UTF-16LE name.
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def compound_file(stream: str) -> bytes:
    return CFB_MAGIC + b"\x00" * 504 + stream.encode("utf-16-le") + b"\x00" * 1024


_FOOTNOTES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:footnotes xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
    '<w:footnote w:id="1"><w:p><w:r><w:footnoteRef/></w:r><w:r><w:t xml:space="preserve"> {note}</w:t></w:r></w:p>'
    "</w:footnote></w:footnotes>"
)


def with_footnote(data: bytes, after: str, note: str) -> bytes:
    """The package with a footnotes part holding ``note`` as footnote 1, referenced after the text ``after``
    (python-docx cannot write footnotes)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    members = {info.filename: source.read(info) for info in source.infolist()}
    members["word/footnotes.xml"] = _FOOTNOTES.format(note=note).encode()
    members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/word/footnotes.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/></Types>',
    )
    members["word/_rels/document.xml.rels"] = members["word/_rels/document.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rIdFootnotes" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/footnotes" Target="footnotes.xml"/></Relationships>',
    )
    anchor = f"{after}</w:t></w:r>".encode()
    assert anchor in members["word/document.xml"]
    members["word/document.xml"] = members["word/document.xml"].replace(
        anchor, anchor + b'<w:r><w:footnoteReference w:id="1"/></w:r>', 1
    )
    return zip_of(members)


def with_body(body: str) -> bytes:
    """A package whose document body is ``body``, WordprocessingML written by hand (the ``w`` prefix bound):
    for what python-docx would not write, such as hostile grids and out-of-range levels."""
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{body}</w:body></w:document>"
    )
    return with_member(build(lambda document: None), "word/document.xml", document.encode())


def cell(text: str, properties: str = "") -> str:
    """A table cell of one paragraph; ``properties`` go in its ``tcPr`` (gridSpan, vMerge)."""
    tcpr = f"<w:tcPr>{properties}</w:tcPr>" if properties else ""
    return f"<w:tc>{tcpr}<w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:tc>" if text else f"<w:tc>{tcpr}<w:p/></w:tc>"
