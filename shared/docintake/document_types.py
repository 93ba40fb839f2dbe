"""What an insurance document is, read from its own words: policy, declarations, endorsement,
benefit_summary, claim_form or other.

Each type has cue phrases that its documents print about themselves (an SBC's "Summary of Benefits and
Coverage", a declarations page's "Named Insured" and "Policy Period", an endorsement's "This endorsement
changes the policy", a claim form's "Proof of Loss"). A cue counts more in a heading and much more on the
first page, where a document says what it is; the packet a carrier sends (declarations, then the policy
form, then endorsements) is a policy, so a declarations page only wins when no policy form follows it, and
an endorsement only when it comes first. No cue strong enough: other. The file name breaks near-ties only:
users name files carelessly.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Final


class DocumentType(StrEnum):
    POLICY = "policy"
    DECLARATIONS = "declarations"
    ENDORSEMENT = "endorsement"
    BENEFIT_SUMMARY = "benefit_summary"
    CLAIM_FORM = "claim_form"
    OTHER = "other"


@dataclass(frozen=True)
class _Cue:
    kind: DocumentType
    phrase: str
    weight: float
    # Counted once however often it appears (a form's section names), or at each appearance (capped).
    once: bool = False

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        # Compiled on first use, not at import: the Search API imports this module for DocumentType alone,
        # and compiling the cues took about 15 ms of its cold start.
        return re.compile(self.phrase, re.IGNORECASE | re.MULTILINE)


def _cue(kind: DocumentType, phrase: str, weight: float, *, once: bool = False) -> _Cue:
    return _Cue(kind, phrase, weight, once)


P, D, E, B, C = (
    DocumentType.POLICY,
    DocumentType.DECLARATIONS,
    DocumentType.ENDORSEMENT,
    DocumentType.BENEFIT_SUMMARY,
    DocumentType.CLAIM_FORM,
)
_CUES: Final = (
    # Summary of benefits and coverage (the federal template's own phrases).
    _cue(B, r"summary of benefits(?: (?:and|&) coverage)?", 6.0),
    _cue(B, r"what this plan covers", 4.0),
    _cue(B, r"what you (?:will )?pay for covered services", 3.0),
    _cue(B, r"\bcoverage period\b", 1.5, once=True),
    _cue(B, r"important questions", 2.0, once=True),
    _cue(B, r"out-of-pocket limit", 1.0, once=True),
    _cue(B, r"\bin-network\b", 0.8, once=True),
    _cue(B, r"\bcopay(?:ment)?\b", 0.8, once=True),
    _cue(B, r"\bcoinsurance\b", 0.6, once=True),
    _cue(B, r"common medical event", 2.0, once=True),
    _cue(B, r"\bplan type\b", 1.0, once=True),
    # Declarations: the page that names the insured, the period, the limits and the premium.
    # Its title says so; the policy form's "as shown in the Declarations" is a reference, worth little.
    _cue(D, r"^#+\s.*\bdeclarations?(?: page)?\b", 4.0, once=True),
    _cue(D, r"\bdeclarations?(?: page)?\b", 0.3),
    _cue(D, r"\bpolicy period\b", 2.0, once=True),
    _cue(D, r"\bnamed insured\b", 1.0, once=True),
    _cue(D, r"\bpolicy (?:number|no\.?)\s*:", 1.5, once=True),
    _cue(D, r"\bmailing address\b", 1.0, once=True),
    _cue(D, r"\b(?:total )?(?:annual |monthly )?premium\b", 0.5),
    _cue(D, r"\b(?:agent|producer)\b.{0,40}\bcode\b", 1.0, once=True),
    _cue(D, r"schedule of (?:covered autos|locations|forms)", 1.0, once=True),
    _cue(D, r"limits of (?:insurance|liability)", 0.5, once=True),
    # Endorsements: they announce that they change the policy.
    _cue(E, r"this endorsement (?:changes|modifies) (?:the|insurance provided under the following|your) policy", 8.0),
    _cue(E, r"please read it carefully", 1.0, once=True),
    _cue(E, r"\bendorsement\b", 2.0),
    _cue(E, r"\brider\b", 1.5),
    _cue(E, r"attached to and forms? (?:a )?part of", 3.0, once=True),
    _cue(E, r"all other terms and conditions (?:of the policy )?remain unchanged", 3.0, once=True),
    # Claim forms: the insured states a loss.
    _cue(C, r"\bproof of loss\b", 6.0),
    _cue(C, r"\bclaim form\b", 6.0),
    _cue(C, r"\bnotice of (?:loss|claim)\b", 3.0),
    _cue(C, r"\bdate of (?:loss|accident|injury)\b", 2.0),
    _cue(C, r"\bclaim(?:ant|ant's)?\b", 0.5),
    _cue(C, r"\bclaim (?:number|no\.?)\b", 2.0, once=True),
    _cue(C, r"\b(?:signature of (?:the )?(?:insured|claimant|policyholder)|sworn statement)\b", 3.0),
    _cue(C, r"\bunder penalty of perjury\b", 2.0, once=True),
    _cue(C, r"\b(?:amount|description) of (?:loss|damage) claimed\b", 3.0, once=True),
    # Policy forms: the parts every form has, counted once each, and the insuring language.
    _cue(P, r"^#+\s.*\bagreement\b", 3.0, once=True),
    _cue(P, r"^#+\s.*\bdefinitions\b", 3.0, once=True),
    _cue(P, r"^#+\s.*\bexclusions?\b", 3.0, once=True),
    _cue(P, r"^#+\s.*\bconditions\b", 3.0, once=True),
    _cue(P, r"^#+\s.*\b(?:section|part) (?:i|1|a)\b", 2.0, once=True),
    _cue(P, r"^#+\s.*\b(?:section|part) (?:ii|2|b)\b", 1.5, once=True),
    _cue(P, r"^#+\s.*\binsuring agreements?\b", 2.0, once=True),
    _cue(P, r"^#+\s.*\b(?:coverage form|policy form|special form|dwelling form|standard .{0,30}policy)\b", 3.0),
    _cue(P, r"^#+\s.*\blimits? of (?:liability|insurance)\b", 1.0, once=True),
    _cue(P, r"^#+\s.*\bloss settlement\b", 1.0, once=True),
    _cue(P, r"\bwe will pay\b", 1.0),
    _cue(P, r"\bwe do not (?:cover|insure|pay)\b", 1.0),
    _cue(P, r"\bthroughout this policy\b", 2.0, once=True),
    _cue(P, r"\bsubject to all the terms of this policy\b", 2.0, once=True),
    _cue(P, r"\bin return for (?:the )?payment of the premium\b", 2.0, once=True),
    _cue(P, r"\bplease read (?:the|this|your) (?:entire )?policy carefully\b", 2.0, once=True),
)
# Cues in the first FIRST_PAGE characters (about a printed page) count FIRST_PAGE_WEIGHT times; in the next
# three pages EARLY_WEIGHT times; later ones once. Headings count HEADING_WEIGHT times.
FIRST_PAGE: Final = 2500
FIRST_PAGE_WEIGHT: Final = 3.0
EARLY_WEIGHT: Final = 1.5
HEADING_WEIGHT: Final = 2.0
# Where a document states its own title or banner.
OPENING: Final = 400
# A cue repeated through a long document stops adding after this many appearances.
MAX_REPEATS: Final = 6
# What a document says about itself is in its first pages: a long one is read that far (about 80 pages).
MAX_CHARS: Final = 200_000
# Below this a document is "other": no type said enough about itself.
MIN_SCORE: Final = 6.0
_FILENAME_CUES: Final = (
    (B, re.compile(r"\b(?:sbc|summary[-_ ]of[-_ ]benefits|benefits?[-_ ]summary)", re.IGNORECASE)),
    (D, re.compile(r"(?:declarations?|\bdec(?:s|[-_ ]page)\b)", re.IGNORECASE)),
    (E, re.compile(r"(?:endorsement|\brider\b)", re.IGNORECASE)),
    (C, re.compile(r"(?:claim|proof[-_ ]of[-_ ]loss)", re.IGNORECASE)),
    (P, re.compile(r"(?:policy|coverage[-_ ]form)", re.IGNORECASE)),
)
_FILENAME_WEIGHT: Final = 2.0


def classify(markdown: str, filename: str = "") -> str:
    """The document's type, one of DocumentType's values."""
    return scores_of(markdown, filename)[0]


def scores_of(markdown: str, filename: str = "") -> tuple[str, dict[str, float]]:
    """The type and every type's score (for tests and tuning)."""
    scores = dict(_text_scores(markdown[:MAX_CHARS]))
    for kind, pattern in _FILENAME_CUES:
        if pattern.search(filename):
            scores[kind] += _FILENAME_WEIGHT
    best = max((k for k in scores if k is not DocumentType.OTHER), key=lambda k: scores[k])
    kind = best if scores[best] >= MIN_SCORE else DocumentType.OTHER
    return kind.value, {k.value: round(v, 1) for k, v in scores.items()}


@functools.lru_cache(maxsize=2)
def _text_scores(markdown: str) -> tuple[tuple[DocumentType, float], ...]:
    """Every type's score from the text alone. Cached for the last texts: the chunk stage asks for the paper's
    type (``classify``) and, through the policy fields, the line of business of the same Markdown."""
    text = _plain(markdown)
    headings = [(m.start(), m.end()) for m in re.finditer(r"^#+\s.*$", text, re.MULTILINE)]
    heading_starts = [start for start, _ in headings]
    scores = dict.fromkeys(DocumentType, 0.0)
    for cue in _CUES:
        weights = sorted(
            (
                _position_weight(m.start()) * (HEADING_WEIGHT if _inside(m.start(), headings, heading_starts) else 1.0)
                for m in cue.pattern.finditer(text)
            ),
            reverse=True,
        )
        taken = weights[:1] if cue.once else weights[:MAX_REPEATS]
        scores[cue.kind] += cue.weight * sum(taken)
    _settle_packets(text, scores)
    return tuple(scores.items())


def _settle_packets(text: str, scores: dict[DocumentType, float]) -> None:
    """A policy packet starts with its declarations and ends with endorsements, and its conditions speak of
    claims and proofs of loss: none of that makes it one of them. An endorsement or a claim form says what it
    is at its top (a banner or a title), so without that its cues count a quarter."""
    opening = text[:OPENING].lower()
    if not re.search(r"\bendorsement\b|\brider\b|changes the policy", opening):
        scores[DocumentType.ENDORSEMENT] *= 0.25
    if not re.search(r"\bclaim\b|proof of loss|notice of (?:loss|claim)", opening):
        scores[DocumentType.CLAIM_FORM] *= 0.25
    # A policy form after the declarations: the form's structure outweighs the page before it.
    if scores[DocumentType.POLICY] >= 20.0 and len(text) > 2 * FIRST_PAGE:
        scores[DocumentType.DECLARATIONS] *= 0.5


def _plain(markdown: str) -> str:
    """Markdown without emphasis and table pipes, so cue phrases match across formatting; a short line in
    capitals (a title in a PDF's text layer or a plain-text upload) reads as a heading."""
    text = re.sub(r"[*_`]+", "", markdown)
    text = re.sub(r"[ \t]*\|[ \t]*", " | ", text)
    return _CAPITALS_LINE.sub(lambda m: "# " + m.group(0), text)


_CAPITALS_LINE: Final = re.compile(r"^(?!#)(?=[^a-z\n]*[A-Z]{3})[^a-z\n]{3,80}$", re.MULTILINE)


def _position_weight(offset: int) -> float:
    if offset < FIRST_PAGE:
        return FIRST_PAGE_WEIGHT
    if offset < 4 * FIRST_PAGE:
        return EARLY_WEIGHT
    return 1.0


def _inside(offset: int, headings: list[tuple[int, int]], starts: list[int]) -> bool:
    index = bisect.bisect_right(starts, offset) - 1
    return index >= 0 and offset < headings[index][1]
