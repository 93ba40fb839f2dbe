"""Scanned documents built in code for the OCR tests (nothing binary is committed): pages of text drawn with
reportlab, rasterised by pypdfium2 at 200 dpi, and the pictures embedded in a new PDF with no text layer.

``SCAN_PAGE`` is a heading, a sentence and a ruled two-row table; ``TEXT_PAGES`` the born-digital pages that
``scanned`` puts where its list holds None. Pages are short (``PAGE``), so OCR runs on them stay fast."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

PAGE = (612.0, 250.0)  # a short page: letter width, under a third of its height
TABLE = [["Service", "In network", "Out of network"], ["Primary care", "$20 copay", "40% coinsurance"]]
TEXT_PAGES = [("Policy Declarations", "Named insured: Harbor Freight Logistics LLC", False)]
SCAN_PAGE = ("Summary of Benefits", "The deductible applies before coinsurance.", True)


def text_page(c: canvas.Canvas, title: str, body: str, table: bool) -> None:
    """Draws a page: the title in 20-pt bold, the body line in 12 pt and, if ``table``, TABLE ruled."""
    c.setFont("Helvetica-Bold", 20)
    c.drawString(60, PAGE[1] - 50, title)
    c.setFont("Helvetica", 12)
    c.drawString(60, PAGE[1] - 85, body)
    if table:
        columns, rows = [60, 220, 380, 560], [140, 115, 90]
        for x in columns:
            c.line(x, rows[-1], x, rows[0])
        for y in rows:
            c.line(columns[0], y, columns[-1], y)
        for r, row in enumerate(TABLE):
            for k, cell in enumerate(row):
                c.drawString(columns[k] + 6, rows[r] - 17, cell)
    c.showPage()


def born_digital(pages: list[tuple[str, str, bool]]) -> bytes:
    """A PDF with a text layer, one page per (title, body, table)."""
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=PAGE)
    for title, body, table in pages:
        text_page(c, title, body, table)
    c.save()
    return buffer.getvalue()


def raster(pdf_bytes: bytes) -> list[Image.Image]:
    """Each page of the PDF as a grey picture at 200 dpi."""
    pdf = pdfium.PdfDocument(pdf_bytes)
    try:
        return [pdf[i].render(scale=200 / 72, grayscale=True).to_pil() for i in range(len(pdf))]
    finally:
        pdf.close()


def scanned(images: list[Image.Image | None], *, stamp: str = "") -> bytes:
    """A PDF whose pages are the images (no text layer, or only ``stamp`` in small type over the image, as a
    scanner's page number), or for None the next born-digital page of TEXT_PAGES."""
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=PAGE)
    texts = iter(TEXT_PAGES)
    for image in images:
        if image is None:
            text_page(c, *next(texts))
        else:
            c.drawImage(ImageReader(image), 0, 0, width=PAGE[0], height=PAGE[1])
            if stamp:
                c.setFont("Helvetica", 6)
                c.drawString(PAGE[0] - 40, 8, stamp)
            c.showPage()
    c.save()
    return buffer.getvalue()


def text_strip() -> Image.Image:
    """The top of a rendered text page: the title and one line, the rest of the page cropped away."""
    image = raster(born_digital(TEXT_PAGES))[0]
    return image.crop((0, 0, image.width, 280))
