"""The retrieval corpus: which documents there are, their PDFs, their text by page and their sections.

Two kinds, both committed under ``bench/retrieval/corpus/`` so that the questions keep pointing at the same
pages when a generator changes:

- ``generated/``: ``docintake_local.ground_truth.ground_truth_corpus(seed=0, variants=2)``, eight synthetic
  policies (homeowners, auto, commercial, a benefit summary) in four layouts, each PDF beside the truth
  Markdown it was drawn from (its headings are the sections the questions cite);
- ``real/``: public-domain federal text (SOURCES.md says where each came from), kept as the source's own
  Markdown (``## `` before each heading) and typeset here into a PDF with reportlab, one heading style per
  level of the form's outline (title, I., A., 1., a.).

``python -m bench.retrieval.corpus`` rebuilds every PDF and truth file; the runner only reads them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
GENERATED, REAL = CORPUS / "generated", CORPUS / "real"
GENERATED_SEED, GENERATED_VARIANTS = 0, 2

# Real documents: file stem -> how many leading headings are the form's title (all level 1).
TITLE_LINES = 4


@dataclass(frozen=True)
class Document:
    """One corpus document: ``name`` is the PDF's file name without ``.pdf``; ``kind`` generated or real."""

    name: str
    kind: str
    pdf: Path
    truth: Path  # the Markdown its sections come from

    @property
    def filename(self) -> str:
        return self.pdf.name


def documents() -> list[Document]:
    found = []
    for kind, folder in (("generated", GENERATED), ("real", REAL)):
        for pdf in sorted(folder.glob("*.pdf")):
            found.append(Document(pdf.stem, kind, pdf, pdf.with_suffix(".md")))
    return found


@cache
def page_texts(pdf: Path) -> tuple[str, ...]:
    """Each page's text as pypdfium2 reads it (the text layer the PDF carries)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        return tuple(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


# --- sections -----------------------------------------------------------------------------------------

_ROMAN = re.compile(r"^[IVX]+\.\s")
_UPPER = re.compile(r"^[A-Z]\.\s")
_DIGIT = re.compile(r"^\d+\.\s")
_LOWER = re.compile(r"^[a-z]\.\s")


_ROMANS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")


def real_heading_levels(headings: Sequence[str]) -> list[int]:
    """The outline level of each heading of a real form: the title lines 1, then I. 2, A. 3, 1. 4, a. 5.
    "I." is an article only while articles still count up: Article VII's paragraphs run A. … I. … P."""
    levels, article = [], 0
    for index, text in enumerate(headings):
        numeral = text.split(".", 1)[0]
        if index < TITLE_LINES:
            level = 1
        elif _ROMAN.match(text) and numeral in _ROMANS and _ROMANS.index(numeral) + 1 > article:
            level, article = 2, _ROMANS.index(numeral) + 1
        else:
            level = next((lvl for lvl, pattern in ((3, _UPPER), (4, _DIGIT), (5, _LOWER)) if pattern.match(text)), 2)
        levels.append(level)
    return levels


def blocks_with_sections(markdown: str, *, real: bool) -> Iterator[tuple[list[str], str]]:
    """Each block of the Markdown (blank-line separated; table rows and list items one by one) with the
    heading path above it. Headings themselves are yielded under their own path."""
    path: list[tuple[int, str]] = []
    headings = [line[3:].strip() for line in markdown.splitlines() if line.startswith("## ")]
    levels = iter(real_heading_levels(headings))
    for block in re.split(r"\n\s*\n", markdown):
        block = block.strip()
        if not block:
            continue
        match = re.match(r"^(#{1,6})\s+(.*)$", block)
        if match and "\n" not in block:
            text = match.group(2).strip()
            level = next(levels) if real else len(match.group(1))
            path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, text)]
            yield [t for _, t in path], text
            continue
        for line in block.splitlines() if block.startswith(("|", "-", "1.", " ")) or "\n|" in block else [block]:
            yield [t for _, t in path], line


# --- typesetting the real documents -------------------------------------------------------------------------


def _styles() -> dict[int | str, object]:
    from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
    from reportlab.lib.styles import ParagraphStyle

    heading = {"fontName": "Helvetica-Bold", "keepWithNext": 1}
    return {
        "body": ParagraphStyle(
            "body", fontName="Times-Roman", fontSize=10, leading=12.5, alignment=TA_JUSTIFY, spaceAfter=5
        ),
        1: ParagraphStyle("h1", **heading, fontSize=14, leading=17, alignment=TA_CENTER, spaceAfter=4),
        2: ParagraphStyle("h2", **heading, fontSize=12.5, leading=15, spaceBefore=10, spaceAfter=5),
        3: ParagraphStyle("h3", **heading, fontSize=11.5, leading=14, spaceBefore=8, spaceAfter=4),
        4: ParagraphStyle("h4", **heading, fontSize=10.8, leading=13, spaceBefore=6, spaceAfter=3),
        5: ParagraphStyle("h5", **heading, fontSize=10.4, leading=12.5, spaceBefore=5, spaceAfter=3),
    }


def real_pdf(markdown: str, title: str) -> bytes:
    """The form typeset on Letter pages: its headings in the outline's styles, every paragraph as written."""
    import io

    from reportlab.lib.pagesizes import LETTER
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    styles = _styles()
    story = []
    headings = [line[3:].strip() for line in markdown.splitlines() if line.startswith("## ")]
    levels = iter(real_heading_levels(headings))
    for block in re.split(r"\n\s*\n", markdown.strip()):
        block = block.strip()
        if block.startswith("## "):
            story.append(Paragraph(escape(block[3:].strip()), styles[next(levels)]))
        else:
            story.append(Paragraph(escape(" ".join(block.split())), styles["body"]))
    out = io.BytesIO()
    SimpleDocTemplate(
        out,
        pagesize=LETTER,
        title=title,
        author="Federal Emergency Management Agency",
        invariant=1,
        leftMargin=64,
        rightMargin=64,
        topMargin=60,
        bottomMargin=60,
    ).build(story)
    return out.getvalue()


def build() -> list[Path]:
    """Writes every PDF (and the generated documents' truth Markdown); returns the paths written."""
    from docintake_local.ground_truth import ground_truth_corpus

    written = []
    GENERATED.mkdir(parents=True, exist_ok=True)
    for doc in ground_truth_corpus(GENERATED_SEED, variants=GENERATED_VARIANTS):
        pdf, truth = GENERATED / f"{doc.name}.pdf", GENERATED / f"{doc.name}.md"
        pdf.write_bytes(doc.data)
        truth.write_text(doc.markdown, encoding="utf-8")
        written += [pdf, truth]
    for source in sorted(REAL.glob("*.md")):
        markdown = source.read_text(encoding="utf-8")
        titles = [line[3:] for line in markdown.splitlines() if line.startswith("## ")][:TITLE_LINES]
        pdf = source.with_suffix(".pdf")
        pdf.write_bytes(real_pdf(markdown, " – ".join(titles[2:])))
        written.append(pdf)
    return written


if __name__ == "__main__":
    for path in build():
        print(path.relative_to(ROOT))
