"""Large and degenerate documents for the large-document benchmark, the chaos suite and the tests: a long
policy PDF of any length (drawn page by page on a canvas, a few milliseconds a page, so 2,000 pages take
seconds), Markdown of one repeated word, and Markdown of varied text, each of a given size.

The text is varied on purpose: every page and section says something of its own (a coverage, an amount, a
condition), so a chunk that cites the wrong page or a join that drops a part is visible in the output.
"""

from __future__ import annotations

import io
import random
import textwrap

from reportlab.lib.pagesizes import LETTER
from reportlab.pdfgen.canvas import Canvas

_SUBJECTS = (
    "the dwelling",
    "other structures",
    "personal property",
    "loss of use",
    "personal liability",
    "medical payments to others",
    "the insured auto",
    "a covered loss",
    "the named insured",
    "any resident relative",
)
_VERBS = ("is covered for", "is excluded from", "must report", "may claim", "is limited to", "pays for")
_OBJECTS = (
    "direct physical loss caused by fire or lightning",
    "windstorm or hail damage to the roof",
    "water that backs up through sewers or drains",
    "theft of property from a locked vehicle",
    "bodily injury to a guest on the premises",
    "collapse caused by hidden decay",
    "reasonable repairs made to protect property",
    "additional living expenses while the home is repaired",
    "loss assessment charged by an association",
    "debris removal after a covered peril",
)


def page_marker(page: int) -> str:
    """The heading of page ``page`` of ``long_policy_pdf``: a test finds each page by it. Its words change
    with the page (not only its number), so the parser does not take it for a running header."""
    return f"Provision {page}: {_SUBJECTS[page % 10].title()} and {_OBJECTS[page * 3 % 10]}"


def long_policy_pdf(pages: int, *, seed: int = 7) -> bytes:
    """A born-digital policy of ``pages`` pages: a heading per page, three paragraphs of varied conditions
    with an amount each, and a running header and footer (which the parser drops)."""
    rng = random.Random(seed)
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=LETTER, invariant=True)
    width, height = LETTER
    for page in range(1, pages + 1):
        canvas.setFont("Helvetica", 8)
        canvas.drawString(72, height - 40, "HOMEOWNERS POLICY HO 00 03 - SPECIMEN FOR TESTING")
        canvas.drawString(width - 140, 36, f"Page {page} of {pages}")
        canvas.setFont("Helvetica-Bold", 14)
        canvas.drawString(72, height - 90, page_marker(page))
        canvas.setFont("Helvetica", 10)
        y = height - 120
        for _ in range(3):
            sentence = (
                f"{rng.choice(_SUBJECTS).capitalize()} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}, "
                f"up to ${rng.randrange(5, 500) * 100:,} per occurrence, subject to the deductible of "
                f"${rng.choice((250, 500, 1000, 2500)):,} shown in the Declarations for page {page}. "
                f"{rng.choice(_SUBJECTS).capitalize()} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}."
            )
            for line in textwrap.wrap(sentence, 95):
                canvas.drawString(72, y, line)
                y -= 13
            y -= 10
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def repeated_word_markdown(size: int, word: str = "coverage") -> bytes:
    """``size`` bytes of one word repeated, in lines: no structure, nothing to split on but spaces."""
    line = " ".join([word] * 12) + "\n"
    return (line * (size // len(line) + 1)).encode("ascii")[:size]


def varied_markdown(size: int, *, seed: int = 11) -> bytes:
    """``size`` bytes of Markdown with headings, paragraphs, lists and tables of varied policy text."""
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    section = 0
    while total < size:
        section += 1
        block = [f"## Section {section}: {rng.choice(_SUBJECTS).title()}\n"]
        for _ in range(3):
            block.append(
                f"{rng.choice(_SUBJECTS).capitalize()} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}, up to "
                f"${rng.randrange(5, 500) * 100:,} per occurrence (clause {section}.{rng.randrange(1, 99)}).\n"
            )
        block.append("".join(f"- {rng.choice(_OBJECTS)}\n" for _ in range(3)))
        block.append("| Coverage | Limit | Deductible |\n| --- | --- | --- |\n")
        block.append(
            "".join(
                f"| {rng.choice(_SUBJECTS)} | ${rng.randrange(1, 900) * 1000:,} | ${rng.choice((250, 500, 1000)):,} |\n"
                for _ in range(3)
            )
        )
        text = "\n".join(block) + "\n"
        parts.append(text)
        total += len(text)
    return "".join(parts).encode("utf-8")[:size]
