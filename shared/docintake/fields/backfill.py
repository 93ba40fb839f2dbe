"""Re-extracting the policy fields of documents already ready: those processed before their fields existed
(migration 0016) and, after the rules improve, those whose fields are stale. The chunk stage is the only
other writer of ``document_fields``; this writes the same row with the same query, from the same Markdown.

It runs as the worker role in the owner's transaction, under row-level security, as the chunk stage does;
listing across users (``users_with_ready_documents``) is the ops role's, which reads documents' metadata and
never their fields or text. A document's chunks are not touched: they are re-chunked here (with the configured
settings) only to place evidence, and an evidence names a chunk only if the document has that chunk (the
chunk settings may have changed since it was chunked). Nothing logged or returned carries a value or text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import psycopg
from aws_lambda_powertools import Logger

from docintake.chunking import chunk_with_settings
from docintake.context import Context
from docintake.db import Database, one, run
from docintake.errors import DocintakeError
from docintake.events import append_event
from docintake.fields import DocumentFields, Evidence, FieldsFiller, extract_in_stage
from docintake.messages import StageMessage
from docintake.stages import document_fields_params, read_parsed
from docintake.vocabulary import DocumentStatus, StepName

logger = Logger(service="docintake", child=True)

# Notes extract_in_stage leaves on a degraded result (fields/__init__.py).
DEGRADED_NOTES = ("rules_failed:", "llm_failed:")
# What one document's optional model may take (the chunk stage has its invocation's deadline; this has none).
MODEL_SECONDS_PER_DOCUMENT = 300.0


class Outcome(StrEnum):
    REEXTRACTED = "reextracted"
    WOULD_REEXTRACT = "would_reextract"  # --dry-run
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Reextraction:
    """What became of one document: counts and codes only, never a value."""

    document_id: UUID
    user_id: UUID
    outcome: Outcome
    # Why a document was skipped (not_found, not_ready) or failed (the error's code).
    reason: str | None = None
    insurance_type: str | None = None
    fields: int = 0
    coverages: int = 0
    # Evidences whose chunk the document does not have (chunked with other settings): kept without a chunk id.
    unplaced: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "document_id": str(self.document_id), "user_id": str(self.user_id)}

    def line(self) -> str:
        details = f" reason={self.reason}" if self.reason else ""
        if self.outcome in (Outcome.REEXTRACTED, Outcome.WOULD_REEXTRACT) and self.insurance_type:
            details += (
                f" type={self.insurance_type} fields={self.fields} coverages={self.coverages} unplaced={self.unplaced}"
            )
        return f"{self.document_id} user={self.user_id} {self.outcome}{details}"


@dataclass
class ReextractionSummary:
    dry_run: bool = False
    results: list[Reextraction] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)

    @property
    def failed(self) -> int:
        return self.count(Outcome.FAILED)

    def line(self) -> str:
        counts = (
            f"reextracted={self.count(Outcome.REEXTRACTED)} skipped={self.count(Outcome.SKIPPED)} failed={self.failed}"
        )
        return f"{counts} would_reextract={self.count(Outcome.WOULD_REEXTRACT)}" if self.dry_run else counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "reextracted": self.count(Outcome.REEXTRACTED),
            "skipped": self.count(Outcome.SKIPPED),
            "failed": self.failed,
            "would_reextract": self.count(Outcome.WOULD_REEXTRACT),
            "dry_run": self.dry_run,
            "documents": [result.as_dict() for result in self.results],
        }


def users_with_ready_documents(ops_db: Database, *, document_id: UUID | None = None) -> list[UUID]:
    """The users with a ready document (or the owner of ``document_id``), read as docintake_ops: across users,
    metadata only."""
    with ops_db.transaction() as conn:
        return [row["user_id"] for row in run(conn, "ops_users_with_ready_documents", {"document_id": document_id})]


def documents_to_reextract(
    db: Database,
    user_id: UUID,
    *,
    document_id: UUID | None = None,
    missing_only: bool = False,
    extracted_before: datetime | None = None,
) -> list[UUID]:
    """The user's ready documents without fields or (unless ``missing_only``) with fields extracted before
    ``extracted_before`` (None: all of them), oldest first; with ``document_id``, only that one, whatever its
    status. Read as the worker, in the user's transaction."""
    params = {"document_id": document_id, "missing_only": missing_only, "extracted_before": extracted_before}
    with db.transaction(user_id) as conn:
        return [row["document_id"] for row in run(conn, "documents_to_reextract", params)]


def reextract_document_fields(
    pipeline: Context,
    user_id: UUID,
    document_id: UUID,
    *,
    filler: FieldsFiller | None = None,
    dry_run: bool = False,
    invocation_id: str | None = None,
) -> Reextraction:
    """Extracts the ready document's fields again from its stored Markdown, as the chunk stage does
    (``extract_in_stage``: rules, ``filler``, degradation), and replaces its fields row. With ``dry_run``, only
    says whether it would. A document that is not ready is skipped; an error of the pipeline's (S3, the
    database, a model unavailable now) fails this document only."""

    def result(
        outcome: Outcome, reason: str | None = None, found: DocumentFields | None = None, unplaced: int = 0
    ) -> Reextraction:
        return Reextraction(
            document_id,
            user_id,
            outcome,
            reason,
            insurance_type=found.document_type if found else None,
            fields=len(found.fields) if found else 0,
            coverages=len(found.coverages) if found else 0,
            unplaced=unplaced,
        )

    try:
        with pipeline.db.transaction(user_id) as conn:
            document = one(conn, "document_for_fields", {"document_id": document_id})
        if document is None or document["job_id"] is None:
            return result(Outcome.SKIPPED, "not_found")
        if document["status"] != DocumentStatus.READY:
            return result(Outcome.SKIPPED, "not_ready")
        if dry_run:
            return result(Outcome.WOULD_REEXTRACT)
        text, pages = read_parsed(pipeline, user_id, document_id)
        # The stage's chunks, to place evidence only: the stored chunks stay as they are.
        chunks = chunk_with_settings(text, pages, pipeline.settings)
        # Before the transaction, as in the chunk stage: a filler may ask a model over the network.
        found = extract_in_stage(
            text,
            pages,
            chunks=chunks,
            document_id=document_id,
            filler=filler,
            deadline=time.monotonic() + MODEL_SECONDS_PER_DOCUMENT,
        )
        degraded = next((note for note in found.notes if note.startswith(DEGRADED_NOTES)), None)
        if degraded is not None:
            # The chunk stage keeps a degraded result rather than nothing; here it would replace a row that may be
            # better (a rules bug wiping good fields, a refusing model its values): this document fails instead.
            logger.warning(
                "fields reextraction degraded",
                extra={"document_id": str(document_id), "user_id": str(user_id), "reason": degraded.split(":")[0]},
            )
            return result(Outcome.FAILED, degraded)
        with pipeline.db.transaction(user_id) as conn:
            # The document's row locked as deletion locks it: deleted or re-processed since, it is left alone.
            locked = one(conn, "lock_document", {"document_id": document_id})
            if locked is None or locked["status"] != DocumentStatus.READY:
                return result(Outcome.SKIPPED, "not_ready")
            stored = {row["id"] for row in run(conn, "document_chunk_ids", {"document_id": document_id})}
            found, unplaced = _placed_in(found, stored)
            message = StageMessage(
                job_id=document["job_id"],
                document_id=document_id,
                user_id=user_id,
                stage=StepName.CHUNK,
                correlation_id=document["correlation_id"],
            )
            run(conn, "upsert_document_fields", document_fields_params(message, found))
            append_event(
                conn,
                "fields_reextracted",
                user_id=user_id,
                document_id=document_id,
                job_id=document["job_id"],
                correlation_id=document["correlation_id"],
                function_name=pipeline.function_name,
                invocation_id=invocation_id,
                details={
                    "insurance_type": found.document_type,
                    "fields": len(found.fields),
                    "coverages": len(found.coverages),
                    "unplaced": unplaced,
                },
            )
    except (DocintakeError, ValueError, psycopg.Error) as error:
        # One document's trouble (its Markdown or page map unreadable, a database refusal such as the wrong
        # role) fails that document; the run goes on and reports it.
        code = (
            str(error.code)
            if isinstance(error, DocintakeError)
            else "database_error"
            if isinstance(error, psycopg.Error)
            else "corrupt_derived"
        )
        logger.warning(
            "fields reextraction failed",
            extra={"document_id": str(document_id), "user_id": str(user_id), "error_code": code},
        )
        return result(Outcome.FAILED, code)
    done = result(Outcome.REEXTRACTED, found=found, unplaced=unplaced)
    # Counts and the type only: the values are personal data (names, policy numbers).
    logger.info("fields reextracted", extra={k: v for k, v in done.as_dict().items() if k != "reason"})
    return done


def reextract_users(
    pipeline: Context,
    user_ids: Iterable[UUID],
    *,
    document_id: UUID | None = None,
    missing_only: bool = False,
    extracted_before: datetime | None = None,
    filler: FieldsFiller | None = None,
    dry_run: bool = False,
    invocation_id: str | None = None,
    progress: Callable[[Reextraction], None] = lambda result: None,
) -> ReextractionSummary:
    """Each user's documents to re-extract (``documents_to_reextract``), one by one; ``progress`` sees each."""
    summary = ReextractionSummary(dry_run=dry_run)
    owner: UUID | None = None
    for user_id in user_ids:
        owner = user_id
        todo = documents_to_reextract(
            pipeline.db, user_id, document_id=document_id, missing_only=missing_only, extracted_before=extracted_before
        )
        for document in todo:
            done = reextract_document_fields(
                pipeline, user_id, document, filler=filler, dry_run=dry_run, invocation_id=invocation_id
            )
            summary.results.append(done)
            progress(done)
    if document_id is not None and not summary.results and not (missing_only or extracted_before):
        # A document the operator named that no listed user has: said, and failed, never a silent zero.
        missing = Reextraction(document_id, owner or UUID(int=0), Outcome.FAILED, "not_found")
        summary.results.append(missing)
        progress(missing)
    return summary


def _placed_in(found: DocumentFields, stored: set[UUID]) -> tuple[DocumentFields, int]:
    """``found`` with each evidence's chunk id kept only if the document has that chunk; how many lost it."""
    unplaced = 0

    def placed(evidence: Evidence | None) -> Evidence | None:
        nonlocal unplaced
        if evidence is None or evidence.chunk_id is None or evidence.chunk_id in stored:
            return evidence
        unplaced += 1
        return evidence.model_copy(update={"chunk_id": None})

    kept = found.model_copy(
        update={
            "evidence": {name: placed(evidence) for name, evidence in found.evidence.items()},
            "coverages": [row.model_copy(update={"evidence": placed(row.evidence)}) for row in found.coverages],
        }
    )
    return kept, unplaced
