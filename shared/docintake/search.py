"""Search over a user's chunks: hybrid (vector and keyword rankings fused by reciprocal rank fusion), vector
or keyword alone, with filters (documents, document types, current versions, policy fields) and one hit per
content.

Everything runs in one transaction under the user's RLS context and is exact: every one of the user's
eligible chunks is scored, no approximate index decides what is seen. Two round trips: the user's search
model (the question is embedded once, with it), then one statement with both rankings as CTEs.

The keyword ranking is the full-text search of migration 0013, scored like BM25 in SQL: each unit of the
question (a word, a quoted phrase, the whole question as one phrase, each glossary term) counts by its
rarity among the user's eligible chunks (idf) times a saturated ts_rank_cd (headings weigh more than text).
The units are OR-ed: a question in a user's own words never has all of its words in the clause.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, LiteralString
from uuid import UUID

import psycopg
from psycopg import sql
from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from docintake import glossary as insurance_glossary
from docintake.db import Database, Row
from docintake.embedding import Embedder, vector_literal
from docintake.vectors import active_model, prepare_search
from docintake.vocabulary import FIELD_KINDS, FieldName, InsuranceDocumentType, ValueKind


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    VECTOR = "vector"
    KEYWORD = "keyword"


# Reciprocal rank fusion (Cormack et al. 2009): a hit's fused score is the sum over rankings of
# weight / (RRF_K + rank). The usual 60 let a chunk ranked 15th by both rankings beat one ranking's first
# place, and keyword's first places are often the answer (a form number, a literal clause). On
# bench/retrieval's 157 questions with MiniLM (headings and the document's opening words embedded):
# RRF_K 60 → 10 moved hit@5 from 0.879 to 0.917 on literal questions, paraphrased 0.516 → 0.497 (a few
# questions either way; tuned on the benchmark's own questions, so read it as a direction, not a figure).
RRF_K = 10
# The keyword ranking counts 1.5 times the vector one (at RRF_K 10: 1.0 gave 0.892 literal, 0.529
# paraphrased).
KEYWORD_WEIGHT = 1.5
# Each ranking's candidates before fusion (at least k).
CANDIDATES = 50
# BM25's term-frequency saturation, on ts_rank_cd's weighted count (a heading occurrence 1.0, text 0.4).
_SATURATION = 0.6
# The glossary's policy terms stand for the lay phrasing they matched; that phrasing's own words ("coverage"
# in "before my coverage kicks in") keep a lower weight, since they describe the term rather than name it.
_EXPANSION_WEIGHT = 1.0
_LAY_WEIGHT = 0.3


class FieldOp(StrEnum):
    EQ = "eq"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"


_ORDERED = frozenset({FieldOp.LT, FieldOp.LTE, FieldOp.GT, FieldOp.GTE})
# The SQL of each operator: a fixed string per member, never text from the request.
_OPERATORS: dict[FieldOp, LiteralString] = {
    FieldOp.EQ: "=",
    FieldOp.LT: "<",
    FieldOp.LTE: "<=",
    FieldOp.GT: ">",
    FieldOp.GTE: ">=",
}


class FieldFilter(BaseModel):
    """Only documents whose extracted policy fields (docintake.fields, table document_fields) match, e.g.
    ``{"field": "deductible", "op": "lte", "value": 1000}`` or ``{"field": "document_type", "op": "eq",
    "value": "homeowners"}``. Amounts (money, copays, coinsurance percentages) compare as numbers and take
    every operator; dates compare as dates; text and the document type only by ``eq``, text ignoring case.
    A cost share (primary_care, specialist, emergency_room, generic_drugs) is written with its unit: "$40" finds
    copays (and no charge), "20%" coinsurance; a bare number is refused, as a $40 copay and 40% coinsurance
    are not comparable. A document without the field, or whose value is not a number (or a date), does not
    match."""

    model_config = ConfigDict(extra="forbid")

    field: FieldName | Literal["document_type"]
    op: FieldOp = FieldOp.EQ
    value: str | int | float
    # For a cost share, the kinds its unit names (set from the value).
    _cost_shares: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _normalised(self) -> FieldFilter:
        kind = self.kind
        raw = str(self.value).strip()
        if self.op in _ORDERED and kind not in (ValueKind.MONEY, ValueKind.COST_SHARE, ValueKind.DATE):
            raise ValueError(f"{self.field} compares only with eq")
        if self.field == "document_type":
            value = InsuranceDocumentType(raw.lower()).value  # a ValueError names the bad type
        elif kind is ValueKind.COST_SHARE:
            if not (raw.startswith("$") or raw.endswith("%")):
                raise ValueError(
                    f"{self.field} needs its unit: a copay in dollars ($40) or coinsurance in percent (20%)"
                )
            self._cost_shares = ("copay", "no_charge") if raw.startswith("$") else ("coinsurance",)
            value = _number(raw)
        elif kind is ValueKind.MONEY:
            value = _number(raw)
        elif kind is ValueKind.DATE:
            value = date.fromisoformat(raw).isoformat()
        else:
            if not raw:
                raise ValueError("value is empty")
            value = raw
        self.value = value
        return self

    @property
    def kind(self) -> ValueKind | None:
        """The field's kind; None for the document type."""
        return None if self.field == "document_type" else FIELD_KINDS[FieldName(self.field)]


def _number(raw: str) -> str:
    """An amount as written ("1,000", "$1,000.00", "20%") as the decimal string the fields store."""
    cleaned = raw.replace(",", "").removeprefix("$").removesuffix("%").strip()
    if not re.fullmatch(r"-?\d{1,15}(?:\.\d{1,6})?", cleaned):  # no exponent: 1e1000000 would overflow numeric
        raise ValueError(f"{raw!r} is not an amount (up to 15 digits, 6 decimals)")
    return str(Decimal(cleaned))


# Per kind (None: the document type), a field filter's condition; {stored} is the stored value's text. An
# amount or date is compared only when the stored text is one (a cast of anything else would fail the search).
_FIELD_CONDITIONS: dict[ValueKind | None, LiteralString] = {
    None: "f.document_type {op} %({value})s",
    ValueKind.MONEY: "CASE WHEN {stored} ~ '^-?[0-9]+([.][0-9]+)?$'"
    " THEN {stored}::numeric {op} %({value})s::numeric END",
    ValueKind.DATE: "CASE WHEN {stored} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$'"
    " THEN {stored}::date {op} %({value})s::date END",
    ValueKind.TEXT: "lower({stored}) {op} lower(%({value})s)",
}
_FIELD_CONDITIONS[ValueKind.COST_SHARE] = (
    _FIELD_CONDITIONS[ValueKind.MONEY] + " AND (f.fields -> %({name})s ->> 'cost_share') = ANY(%({units})s)"
)


def field_conditions(filters: Sequence[FieldFilter], params: dict[str, Any]) -> sql.Composable:
    """The filters as one SQL condition on the candidate's document ``d``, their field names and values as
    parameters added to ``params``; ``true`` without filters."""
    if not filters:
        return sql.SQL("true")
    conditions: list[sql.Composable] = []
    for index, condition in enumerate(filters):
        name, value = f"field_{index}", f"field_value_{index}"
        params[name], params[value] = str(condition.field), condition.value
        operator = sql.SQL(_OPERATORS[condition.op])
        units = f"field_units_{index}"
        params[units] = list(condition._cost_shares)
        stored = sql.SQL("(f.fields -> %({})s ->> 'value')").format(sql.SQL(name))
        template = _FIELD_CONDITIONS[condition.kind]
        conditions.append(
            sql.SQL(template).format(
                stored=stored, op=operator, value=sql.SQL(value), name=sql.SQL(name), units=sql.SQL(units)
            )
        )
    return sql.SQL(
        "EXISTS (SELECT 1 FROM document_fields f WHERE f.document_id = d.id AND f.user_id = d.user_id AND {})"
    ).format(sql.SQL(" AND ").join(conditions))


@dataclass(frozen=True)
class SearchHit:
    chunk_id: UUID
    document_id: UUID
    filename: str
    page_start: int
    page_end: int
    heading_path: list[str]
    # Each section the chunk holds, as heading paths; heading_path is their common prefix. Empty for a
    # chunk written before sections were stored.
    sections: list[list[str]]
    # hybrid: the fused reciprocal-rank score; vector: cosine similarity; keyword: the BM25-like score.
    score: float
    content: str
    # Which ranking found the hit among its candidates: "vector", "keyword" or "both".
    match: str
    document_type: str | None = None


def search(
    db: Database,
    user_id: UUID,
    query: str,
    *,
    k: int,
    embedder_for: Callable[[str, int], Embedder],
    mode: str = SearchMode.HYBRID,
    document_ids: Sequence[UUID] | None = None,
    document_types: Sequence[str] | None = None,
    include_superseded: bool = False,
    expand: bool = True,
    where: Sequence[FieldFilter] = (),
) -> list[SearchHit]:
    """The user's top-k chunks for ``query``, best first, never two with the same content: of identical
    chunks (the same text in two documents) the best-ranked stands for all. Ready documents only, and
    only their current versions unless ``include_superseded``; with ``where``, only documents whose policy
    fields match every filter. ``expand`` adds the glossary's policy terms for the question's lay words to
    the keyword ranking and to the text that is embedded."""
    mode = SearchMode(mode)
    glossary = (
        insurance_glossary.expand(query)
        if expand
        else insurance_glossary.Expansion([], [], insurance_glossary.question_words(query))
    )
    params: dict[str, Any] = {
        "question": query,
        "own_words": glossary.remainder,
        "lay_words": " ".join(glossary.lay),
        "expansions": glossary.terms,
        "expansion_weight": _EXPANSION_WEIGHT,
        "lay_weight": _LAY_WEIGHT,
        "saturation": _SATURATION,
        "document_ids": list(document_ids) if document_ids else None,
        "document_types": [str(kind) for kind in document_types] if document_types else None,
        "include_superseded": include_superseded,
        "candidates": max(CANDIDATES, k),
        "rrf_k": RRF_K,
        "keyword_weight": KEYWORD_WEIGHT,
        "k": k,
    }
    fields = field_conditions(where, params)
    with db.transaction(user_id) as conn:
        vectors = None
        if mode is not SearchMode.KEYWORD:
            vectors = _vector_ranking(conn, query, embedder_for, params, fields)
            if vectors is None and mode is SearchMode.VECTOR:
                return []
        keywords = (
            sql.SQL(_KEYWORD_RANKING).format(filter=_eligible("c", fields))
            if mode is not SearchMode.VECTOR
            else sql.SQL(_NO_RANKING)
        )
        statement = sql.SQL(_SEARCH).format(
            vector_ranked=vectors if vectors is not None else sql.SQL(_NO_RANKING),
            keyword_ranked=keywords,
            score=sql.SQL(_SCORES[mode]),
        )
        rows = conn.execute(statement, params).fetchall()
    return [SearchHit(**{**row, "score": float(row["score"])}) for row in rows]


def _vector_ranking(
    conn: psycopg.Connection[Row],
    query: str,
    embedder_for: Callable[[str, int], Embedder],
    params: dict[str, Any],
    fields: sql.Composable,
) -> sql.Composed | None:
    """The vector ranking's CTE body over the model the user searches with (migration 0012's table per
    model), with the question embedded once into ``params["vector"]``; None before the user's first vector."""
    model = active_model(conn)
    table = model and prepare_search(conn, *model)
    if model is None or table is None:
        return None
    params["vector"] = vector_literal(embedder_for(*model).embed([_embedded_text(query, params)])[0])
    return sql.SQL(_VECTOR_RANKING).format(vectors=sql.Identifier(table), filter=_eligible("v", fields))


def _embedded_text(query: str, params: dict[str, Any]) -> str:
    """The text the question is embedded as: the question, and the glossary's terms (none when not expanding).
    Embedding the terms too: MiniLM vector mode, paraphrased questions, hit@1 0.15 → 0.20, hit@5 0.42 → 0.46;
    literal unchanged."""
    return " ".join([query, *params["expansions"]])


# A chunk ``c`` of document ``d`` may be returned: the user's, ready, within the filters (fields: the policy
# fields' condition, field_conditions), and current (no ready document of the user supersedes it) unless
# superseded versions were asked for.
_ELIGIBLE: LiteralString = """
    {c}.user_id = app_user_id() AND d.status = 'ready'
    AND (%(document_ids)s::uuid[] IS NULL OR {c}.document_id = ANY(%(document_ids)s::uuid[]))
    AND (%(document_types)s::text[] IS NULL OR d.document_type = ANY(%(document_types)s::text[]))
    AND {fields}
    AND (%(include_superseded)s OR NOT EXISTS (
        SELECT 1 FROM documents n WHERE n.supersedes = d.id AND n.user_id = d.user_id AND n.status = 'ready'))
"""


def _eligible(rows: str, fields: sql.Composable) -> sql.Composed:
    """_ELIGIBLE for the rows aliased ``rows`` (a chunk's or a vector's: both carry user_id and document_id)."""
    return sql.SQL(_ELIGIBLE).format(c=sql.Identifier(rows), fields=fields)


# Each ranking yields (id, content_hash, value, rank): one row per content, the best copy (then the newest
# document's) standing for it; rank 1 is the best. The vector ranking takes the nearest 4 × candidates
# vectors first, reading only the vectors' table and documents, and joins chunks for their content hashes
# after: joining every vector to its chunk cost 2.7 times the plain distance scan at 22,619 chunks. It
# misses a content only when more than three quarters of those nearest are copies of others.
_VECTOR_RANKING: LiteralString = """
    SELECT id, content_hash, 1 - distance AS value, row_number() OVER (ORDER BY distance, id) AS rank
    FROM (
        SELECT DISTINCT ON (c.content_hash) c.id, c.content_hash, nearest.distance
        FROM (
            SELECT v.chunk_id, v.embedding <=> %(vector)s::vector AS distance, d.created_at
            FROM {vectors} v
            JOIN documents d ON d.id = v.document_id AND d.user_id = v.user_id
            WHERE {filter}
            ORDER BY distance, v.chunk_id
            LIMIT 4 * %(candidates)s
        ) nearest
        JOIN document_chunks c ON c.id = nearest.chunk_id
        ORDER BY c.content_hash, nearest.distance, nearest.created_at DESC, c.id
    ) best
    ORDER BY distance, id
    LIMIT %(candidates)s
"""

# The question's units: websearch syntax with its ANDs turned to ORs (a quoted phrase stays one unit, a
# -word excludes) over the user's own words, the words of the lay phrasings the glossary matched (weighing
# less), the whole question as one phrase, and the glossary's terms, each a phrase. Each ranked chunk also
# carries its place among the chunks holding the whole question as a phrase (phrase_rank): hybrid search
# fuses that as a third ranking, so a form number typed without quotes ("HO 04 61") puts the chunk that
# cites it in order first whatever the vectors say.
_KEYWORD_RANKING: LiteralString = """
    WITH units AS MATERIALIZED (
        SELECT DISTINCT ON (query::text) query, weight, negated
        FROM (
            SELECT ltrim(t, '!')::tsquery AS query, w.weight, t LIKE '!%%' AS negated
            FROM (VALUES (%(own_words)s, 1.0::float8), (%(lay_words)s, %(lay_weight)s)) w (words, weight)
            CROSS JOIN LATERAL unnest(
                string_to_array(replace(docintake_search_query(w.words)::text, ' & ', ' | '), ' | ')) t
            WHERE t <> ''
            UNION ALL
            SELECT docintake_search_phrase(%(question)s), 1.0, false
            UNION ALL
            SELECT docintake_search_phrase(e), %(expansion_weight)s, false FROM unnest(%(expansions)s::text[]) e
        ) u
        WHERE numnode(query) > 0
        ORDER BY query::text, negated DESC, weight DESC
    ),
    question AS (
        SELECT (SELECT string_agg('(' || query::text || ')', ' | ') FROM units WHERE NOT negated)::tsquery AS any_unit,
               (SELECT string_agg('(' || query::text || ')', ' | ') FROM units WHERE negated)::tsquery AS excluded,
               nullif(docintake_search_phrase(%(question)s), ''::tsquery) AS phrase
    ),
    matches AS MATERIALIZED (
        SELECT c.id, c.content_hash, c.search_vector || ''::tsvector AS search_vector, d.created_at,
               numnode(q.phrase) > 1 AND c.search_vector @@ q.phrase AS in_phrase
        FROM question q, document_chunks c
        JOIN documents d ON d.id = c.document_id AND d.user_id = c.user_id
        WHERE {filter} AND c.search_vector @@ q.any_unit
          AND (q.excluded IS NULL OR NOT c.search_vector @@ q.excluded)
    ),
    -- The rarity of a unit is counted among all of the user's chunks, filters aside: an index-only count,
    -- where counting the eligible ones took a third of a keyword search at 22,619 chunks.
    eligible AS MATERIALIZED (
        SELECT count(*) AS n FROM document_chunks WHERE user_id = app_user_id()
    ),
    -- Each (chunk, unit) that matches, with the unit's weighted count in the chunk: computed once, read for
    -- the units' rarity and for the chunks' scores.
    unit_hits AS MATERIALIZED (
        SELECT m.id, u.query, u.weight, ts_rank_cd(m.search_vector, u.query) AS tf
        FROM matches m JOIN units u ON NOT u.negated AND m.search_vector @@ u.query
    ),
    idf AS (
        SELECT h.query, ln(1 + (e.n - count(*) + 0.5) / (count(*) + 0.5)) AS idf
        FROM unit_hits h CROSS JOIN eligible e
        GROUP BY h.query, e.n
    ),
    per_chunk AS (
        SELECT m.id, m.content_hash, m.created_at, m.in_phrase,
               sum(h.weight * i.idf * h.tf / (h.tf + %(saturation)s)) AS value
        FROM matches m
        JOIN unit_hits h ON h.id = m.id
        JOIN idf i ON i.query = h.query
        GROUP BY m.id, m.content_hash, m.created_at, m.in_phrase
    ),
    scored AS (
        SELECT DISTINCT ON (content_hash) id, content_hash, value, in_phrase
        FROM per_chunk
        ORDER BY content_hash, value DESC, created_at DESC, id
    )
    SELECT id, content_hash, value, row_number() OVER (ORDER BY value DESC, id) AS rank,
           CASE WHEN in_phrase THEN row_number() OVER (PARTITION BY in_phrase ORDER BY value DESC, id) END
               AS phrase_rank
    FROM scored
    ORDER BY value DESC, id
    LIMIT %(candidates)s
"""

_NO_RANKING: LiteralString = (
    "SELECT NULL::uuid AS id, NULL::text AS content_hash, 0::float8 AS value, 0::bigint AS rank,"
    " 0::bigint AS phrase_rank WHERE false"
)

# Per mode: the score of a content found by the vector ranking (v) and/or the keyword ranking (w).
_SCORES: dict[SearchMode, LiteralString] = {
    SearchMode.HYBRID: "coalesce(1.0 / (%(rrf_k)s + v.rank), 0)"
    " + %(keyword_weight)s * coalesce(1.0 / (%(rrf_k)s + w.rank), 0)"
    " + coalesce(1.0 / (%(rrf_k)s + w.phrase_rank), 0)",
    SearchMode.VECTOR: "v.value",
    SearchMode.KEYWORD: "w.value",
}

# Fused per content: the chunk shown is the copy the better of the two rankings placed.
_SEARCH: LiteralString = """
WITH vector_ranked AS ({vector_ranked}),
keyword_ranked AS ({keyword_ranked}),
fused AS (
    SELECT CASE WHEN w.rank IS NULL OR (v.rank IS NOT NULL AND v.rank <= w.rank) THEN v.id ELSE w.id END AS id,
           ({score})::float8 AS score,
           least(v.rank, w.rank) AS best_rank,
           CASE WHEN v.rank IS NOT NULL AND w.rank IS NOT NULL THEN 'both'
                WHEN v.rank IS NOT NULL THEN 'vector' ELSE 'keyword' END AS match
    FROM vector_ranked v FULL JOIN keyword_ranked w ON w.content_hash = v.content_hash
)
SELECT c.id AS chunk_id, c.document_id, d.filename, d.document_type, c.page_start, c.page_end, c.heading_path,
       c.sections, c.content, f.score, f.match
FROM fused f
JOIN document_chunks c ON c.id = f.id
JOIN documents d ON d.id = c.document_id AND d.user_id = c.user_id
ORDER BY f.score DESC, f.best_rank, c.id
LIMIT %(k)s
"""
