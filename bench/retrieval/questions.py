"""The questions and where their answers are: loading ``questions.json``, the one text normalisation every
system is judged by, and locating each answer's page and section in the corpus.

Each question names its document and an evidence string, a short exact phrase of the answer's text. It is
asked twice: ``literal`` (in the document's words) and ``paraphrase`` (as a lay user would, avoiding the
document's key terms). ``page`` and ``section`` are not typed by hand: ``python -m bench.retrieval.questions``
finds the evidence in the PDF's pages and in the truth Markdown's blocks and writes them back, and fails
when an evidence string is missing from its document.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from bench.retrieval.corpus import Document, blocks_with_sections, documents, page_texts

QUESTIONS = Path(__file__).resolve().parent / "questions.json"

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "″": '"', "‘": "'", "’": "'", "‚": "'", "′": "'"})
_DASHES = re.compile(r"[\u2010\u2011\u2012\u2013\u2014\u2015\u2212]")
# Markdown's table pipes, emphasis and heading marks are markup, not text: a chunk stored as Markdown and
# a page read by pypdf must compare equal when they hold the same words.
_MARKUP = re.compile(r"[|*#`]+|(?<=\s)-{3,}(?=\s)")
_BROKEN = re.compile(r"(?<=\w)-[ \t]*\r?\n\s*")  # a word broken at a line end: keep the hyphen, drop the break


def normalise(text: str) -> str:
    """Case, whitespace, quotes, dashes, hyphenation at line ends and Markdown markup folded away."""
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "")
    text = _DASHES.sub("-", text.translate(_QUOTES))
    text = _BROKEN.sub("-", text)
    text = _MARKUP.sub(" ", text)
    return " ".join(text.lower().split())


def contains(text: str, evidence: str) -> bool:
    return normalise(evidence) in normalise(text)


@dataclass
class Question:
    id: str
    document: str  # the corpus document's name (its PDF's stem)
    evidence: str
    literal: str
    paraphrase: str
    page: int = 0  # 1-based: the first page whose text holds the evidence
    section: list[str] = field(default_factory=list)  # the heading path of the block holding it

    def asked(self, style: str) -> str:
        return self.literal if style == "literal" else self.paraphrase


STYLES = ("literal", "paraphrase")


def load(path: Path = QUESTIONS) -> list[Question]:
    return [Question(**row) for row in json.loads(path.read_text(encoding="utf-8"))]


class EvidenceMissing(Exception):
    """An evidence string is not in its document's pages or its truth Markdown."""


def locate(question: Question, document: Document) -> tuple[int, list[str]]:
    pages = [n for n, text in enumerate(page_texts(document.pdf), start=1) if contains(text, question.evidence)]
    if not pages:
        raise EvidenceMissing(f"{question.id}: evidence not on any page of {document.filename}")
    evidence = normalise(question.evidence)
    for path, block in _blocks(document.truth, document.kind == "real"):
        if evidence in block:
            return pages[0], list(path)
    raise EvidenceMissing(f"{question.id}: evidence not within one block of {document.truth.name}")


@cache
def _blocks(truth: Path, real: bool) -> tuple[tuple[tuple[str, ...], str], ...]:
    """The truth Markdown's blocks, normalised, with their heading paths."""
    markdown = truth.read_text(encoding="utf-8")
    return tuple((tuple(path), normalise(block)) for path, block in blocks_with_sections(markdown, real=real))


def other_documents(question: Question, corpus: Sequence[Document]) -> list[str]:
    """The other documents whose text also holds the evidence (a result from them is not a hit)."""
    return [
        d.name
        for d in corpus
        if d.name != question.document and any(contains(text, question.evidence) for text in page_texts(d.pdf))
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=QUESTIONS, help="questions to locate (default: the file)")
    args = parser.parse_args(argv)
    rows = json.loads(args.source.read_text(encoding="utf-8"))
    corpus = {d.name: d for d in documents()}
    located, failures = [], []
    counters: dict[str, int] = {}
    for row in rows:
        prefix = "r" if corpus[row["document"]].kind == "real" else "g"
        counters[prefix] = counters.get(prefix, 0) + 1
        row.setdefault("id", f"{prefix}{counters[prefix]:03d}")
        question = Question(**{k: row[k] for k in ("id", "document", "evidence", "literal", "paraphrase")})
        try:
            question.page, question.section = locate(question, corpus[question.document])
        except EvidenceMissing as exc:
            failures.append(str(exc))
            continue
        if others := other_documents(question, list(corpus.values())):
            print(f"note: {question.id} evidence also in {', '.join(others)}", file=sys.stderr)
        located.append(asdict(question))
    for failure in failures:
        print(failure, file=sys.stderr)
    if failures:
        return 1
    QUESTIONS.write_text(json.dumps(located, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(located)} questions located and written to {QUESTIONS.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
