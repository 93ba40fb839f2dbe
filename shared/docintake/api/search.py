"""POST /search (SearchFunction): the caller's top-k chunks, each with what a citation needs."""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from docintake.api import ApiError, request_problems
from docintake.config import Settings
from docintake.db import Database
from docintake.document_types import DocumentType
from docintake.embedding import Embedder, embedder_for_model
from docintake.search import FieldFilter, SearchHit, SearchMode, search
from docintake.vocabulary import ErrorCode


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(default=10, ge=1, le=50)
    # hybrid (default): keyword and vector rankings fused; vector or keyword: one ranking alone.
    mode: SearchMode = SearchMode.HYBRID
    document_ids: list[UUID] | None = Field(default=None, max_length=100)
    document_types: list[DocumentType] | None = Field(default=None, max_length=len(DocumentType))
    # Search older versions too (documents a newer ready upload supersedes).
    include_superseded: bool = False
    # Only documents whose policy fields match every filter, e.g. {"field": "deductible", "op": "lte",
    # "value": 1000} or {"field": "document_type", "op": "eq", "value": "homeowners"} (the insurance type
    # the fields give, not document_types' paper form).
    where: list[FieldFilter] = Field(default_factory=list, max_length=20)


class SearchResponse(BaseModel):
    results: list[SearchHit]


def parse_search_request(body: str | None) -> SearchRequest:
    try:
        return SearchRequest.model_validate_json(body or "")
    except ValidationError as exc:
        raise ApiError(400, ErrorCode.INVALID_REQUEST, request_problems(exc)) from None


def search_documents(db: Database, settings: Settings, user_id: UUID, request: SearchRequest) -> SearchResponse:
    """The caller's top-k chunks with what a citation needs: document, filename, pages, headings."""
    hits = search(
        db,
        user_id,
        request.query,
        k=request.k,
        mode=request.mode,
        document_ids=request.document_ids,
        document_types=request.document_types,
        include_superseded=request.include_superseded,
        where=request.where,
        embedder_for=lambda model, dimensions: _embedder(settings, model, dimensions),
    )
    return SearchResponse(results=hits)


@lru_cache(maxsize=8)
def _embedder(settings: Settings, model: str, dimensions: int) -> Embedder:
    return embedder_for_model(settings, model, dimensions)
