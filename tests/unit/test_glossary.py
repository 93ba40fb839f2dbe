"""The insurance glossary: the issue's lay phrasings map to their policy terms, literal questions in the policy's
own words are left as they are, and every entry says why it exists."""

from __future__ import annotations

import pytest

from docintake.glossary import GLOSSARY, QUESTION_FRAME, expand, question_words


@pytest.mark.parametrize(
    ("question", "term"),
    [
        ("how much must I spend before my coverage kicks in", "deductible"),
        ("what's the most I would pay in a year", "out-of-pocket limit"),
        ("my car got hit in a parking lot", "collision"),
        ("the house was left empty for three months", "vacancy"),
        ("my house sat empty while I travelled", "vacancy"),
        ("someone crashed into my car", "collision"),
        ("nobody is living there this winter", "unoccupied"),
        ("someone stole my bike", "theft"),
        ("water came in through the basement", "flood"),
        ("who is covered under my policy", "named insured"),
        ("can I cancel any time", "cancellation"),
        ("what does an ER visit cost", "emergency room"),
        ("do I need a referral to see a specialist", "specialist visit"),
        ("how much are my pills at the pharmacy", "drug tiers"),
        ("is my rental car paid while mine is in the shop", "transportation expenses"),
        ("extra coverage on top of my home and auto", "umbrella"),
    ],
)
def test_a_lay_phrasing_expands_to_the_policy_term(question: str, term: str) -> None:
    assert term in expand(question).terms


def test_an_empty_lot_next_to_the_house_is_not_a_vacancy() -> None:
    assert expand("the empty lot next to my house").terms == []


@pytest.mark.parametrize(
    "question",
    ["HO 04 61", "What is the Coverage A Dwelling limit?", "premium for the declarations period"],
)
def test_a_question_in_the_policys_words_gets_no_terms(question: str) -> None:
    expansion = expand(question)
    assert expansion.terms == [] and expansion.lay == []


def test_a_phrasing_of_several_words_is_set_apart_and_a_single_word_stays() -> None:
    # GIVEN a phrasing that describes the term, and one that is the user's own word for the thing
    described = expand("how much must I spend before my coverage kicks in")
    named = expand("is mold damage covered")
    # THEN the description leaves the user's words (its words weigh less), the word stays one of them
    assert described.lay == ["before my coverage kicks"] and "coverage" not in described.remainder
    assert described.remainder == "how i spend in"  # "much" and "must" only frame the question
    assert named.lay == [] and "mold" in named.remainder and "fungi" in named.terms


def test_every_entry_has_phrasings_terms_and_a_reason() -> None:
    assert 80 <= len(GLOSSARY) <= 200
    for entry in GLOSSARY:
        assert entry.phrasings and all(entry.phrasings) and entry.terms and all(entry.terms)
        assert len(entry.reason) > 20
    assert question_words("How much must I pay?") == "How I pay?" and "much" in QUESTION_FRAME
