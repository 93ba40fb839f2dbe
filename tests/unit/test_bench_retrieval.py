"""bench/retrieval's question file is well-formed: enough questions, each answer really on its page and
under its section, each asked twice in different words, and every real document's source written down."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.retrieval.corpus import CORPUS, documents, page_texts
from bench.retrieval.questions import contains, load, locate, normalise

QUESTIONS = load()
CORPUS_BY_NAME = {document.name: document for document in documents()}


def test_there_are_at_least_150_questions_a_third_of_them_on_real_documents() -> None:
    real = [q for q in QUESTIONS if CORPUS_BY_NAME[q.document].kind == "real"]

    assert len(QUESTIONS) >= 150
    assert len(real) * 3 >= len(QUESTIONS)
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS)
    assert {q.document for q in QUESTIONS} == set(CORPUS_BY_NAME)  # every document is asked about


@pytest.mark.parametrize("question", QUESTIONS, ids=[q.id for q in QUESTIONS])
def test_the_evidence_is_on_its_page_and_under_its_section(question) -> None:  # type: ignore[no-untyped-def]
    document = CORPUS_BY_NAME[question.document]
    pages = page_texts(document.pdf)

    assert 1 <= question.page <= len(pages)
    assert contains(pages[question.page - 1], question.evidence)
    assert question.section, "every answer sits under a heading"
    assert locate(question, document) == (question.page, question.section)


@pytest.mark.parametrize("question", QUESTIONS, ids=[q.id for q in QUESTIONS])
def test_each_question_is_asked_literally_and_in_other_words(question) -> None:  # type: ignore[no-untyped-def]
    literal, paraphrase = normalise(question.literal), normalise(question.paraphrase)

    assert literal and paraphrase and literal != paraphrase
    assert normalise(question.evidence) not in paraphrase  # the lay wording does not quote the answer


def test_the_lay_wordings_are_all_different() -> None:
    repeated = [text for text, n in Counter(normalise(q.paraphrase) for q in QUESTIONS).items() if n > 1]

    assert repeated == []


def test_every_real_document_names_its_public_domain_source() -> None:
    sources = (CORPUS.parent / "SOURCES.md").read_text(encoding="utf-8")

    for document in CORPUS_BY_NAME.values():
        if document.kind == "real":
            assert document.truth.name in sources
            assert document.pdf.is_file()


def test_normalising_folds_markup_quotes_dashes_and_line_breaks() -> None:
    assert normalise("| A. Dwelling | $305,000 |") == normalise("A. Dwelling $305,000")
    assert normalise("“Cook-out” grills") == normalise('"Cook-out" grills')
    assert normalise("Agent – Code") == normalise("Agent - Code")
    assert normalise("Post-\r\nFIRM  Building") == "post-firm building"
    assert normalise("Contractors –\r\nScheduled") == "contractors - scheduled"
    assert not contains("Dwelling $780,000", "Dwelling $305,000")
