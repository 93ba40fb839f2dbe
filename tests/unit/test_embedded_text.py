"""What a chunk is embedded as: the document's opening words and the headings of its sections, then its text."""

from __future__ import annotations

from docintake.vectors import embedded_text


def test_a_chunk_is_embedded_with_its_headings_and_the_sibling_sections_it_holds() -> None:
    chunk = {
        "content": "We cover direct loss caused by aircraft. We cover theft.",
        "heading_path": ["POLICY", "SECTION I – PERILS"],
        "sections": [
            ["POLICY", "SECTION I – PERILS", "A. Aircraft"],
            ["POLICY", "SECTION I – PERILS", "B. Theft"],
        ],
    }
    assert embedded_text(chunk, "HOMEOWNERS DECLARATIONS Named insured Jo Doe 12 Elm St") == (
        "HOMEOWNERS DECLARATIONS Named insured Jo Doe 12 Elm St\n"
        "POLICY › SECTION I – PERILS › A. Aircraft › B. Theft\n\n"
        "We cover direct loss caused by aircraft. We cover theft."
    )


def test_a_chunk_without_headings_or_context_is_embedded_as_its_text() -> None:
    assert embedded_text({"content": "Plain text.", "heading_path": [], "sections": []}) == "Plain text."
