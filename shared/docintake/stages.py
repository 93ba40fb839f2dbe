"""The work of the parse, chunk and embed stages, run inside the stage machine of ``jobs``."""

from __future__ import annotations

from typing import Any, TypeVar

import psycopg
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from docintake.chunking import chunk_markdown
from docintake.db import Row, queries, run
from docintake.document_types import classify
from docintake.embedding import Embedder, embedder_for_model
from docintake.jobs import STEPS, Claim, Delivery, Outcome, Pipeline, Writer, heartbeat, process_stage_message
from docintake.messages import StepName
from docintake.parsing import PageMap, Parser
from docintake.storage import get_bytes, markdown_key, page_map_key, put_bytes
from docintake.vectors import CHUNK_STAGING_TYPES, active_model, embed_missing, finish_document

P = TypeVar("P")


def delivery_from_record(record: SQSRecord, context: LambdaContext) -> Delivery:
    return Delivery(
        body=record.body,
        message_id=record.message_id,
        receipt_handle=record.receipt_handle,
        receive_count=int(record.attributes.approximate_receive_count or 1),
        invocation_id=context.aws_request_id,
        remaining_ms=context.get_remaining_time_in_millis(),
    )


def handle_stage_record(
    pipeline: Pipeline,
    step: StepName,
    record: SQSRecord,
    context: LambdaContext,
    embedder: Embedder | None = None,
    parser: Parser | None = None,
) -> Outcome:
    """The one call each SQS handler makes per record; the stage's provider comes from its handler module."""
    work = {
        "parse": lambda claim: parse_work(pipeline, claim, _require(parser)),
        "chunk": lambda claim: chunk_work(pipeline, claim),
        "embed": lambda claim: embed_work(pipeline, claim, _require(embedder)),
    }[step]
    return process_stage_message(pipeline, STEPS[step], delivery_from_record(record, context), work)


def parse_work(pipeline: Pipeline, claim: Claim, parser: Parser) -> Writer:
    message, settings = claim.message, pipeline.settings
    # The version validate verified: a presigned URL can be reused to overwrite the key until it expires.
    data = get_bytes(pipeline.s3, settings.bucket_name, claim.job["s3_key"], claim.job["s3_version_id"])
    parsed = parser.parse(data, claim.job["content_type"], heartbeat=lambda: heartbeat(pipeline, claim))

    def write(conn: psycopg.Connection[Row]) -> dict[str, Any]:
        # Written inside the completing transaction, which holds the job's row: a deletion either
        # cancelled the job first (then nothing is written) or waits for this commit and then removes
        # these objects too. Keys derive from ids, so a second attempt overwrites the same bytes.
        put_bytes(
            pipeline.s3,
            settings.bucket_name,
            markdown_key(message.user_id, message.document_id),
            parsed.markdown.encode("utf-8"),
            "text/markdown; charset=utf-8",
        )
        put_bytes(
            pipeline.s3,
            settings.bucket_name,
            page_map_key(message.user_id, message.document_id),
            parsed.page_map.to_json().encode("utf-8"),
            "application/json",
        )
        run(
            conn,
            "set_document_pages",
            {
                "document_id": message.document_id,
                "page_count": parsed.page_count,
                "ocr_pages": [page for page, _ in parsed.page_confidence],
                "ocr_confidence": [confidence for _, confidence in parsed.page_confidence],
                "warnings": list(parsed.warnings),
            },
        )
        return {
            "parser": parsed.parser,
            "pages": parsed.page_count,
            "pages_without_text": parsed.pages_without_text,
            "markdown_chars": len(parsed.markdown),
            "warnings": list(parsed.warnings),
            # The same pages as the document row's ocr_pages (one source: the per-page confidences).
            "ocr_pages": [page for page, _ in parsed.page_confidence],
            "page_confidence": [{"page": page, "confidence": score} for page, score in parsed.page_confidence],
        }

    return write


def chunk_work(pipeline: Pipeline, claim: Claim) -> Writer:
    message, settings = claim.message, pipeline.settings
    markdown = get_bytes(pipeline.s3, settings.bucket_name, markdown_key(message.user_id, message.document_id))
    page_map = get_bytes(pipeline.s3, settings.bucket_name, page_map_key(message.user_id, message.document_id))
    text = markdown.decode("utf-8")
    document_type = classify(text, claim.job.get("filename") or "")
    chunks = chunk_markdown(
        text,
        PageMap.from_json(page_map.decode("utf-8")),
        size=settings.chunk_size,
        overlap=settings.chunk_overlap,
        max_tokens=settings.chunk_max_tokens,
    )

    def write(conn: psycopg.Connection[Row]) -> dict[str, Any]:
        # Replace the document's chunks in this one transaction: readers see the old set or the new.
        run(conn, "delete_document_chunks", {"document_id": message.document_id})
        run(conn, "create_chunk_staging")
        with conn.cursor().copy(queries()["copy_chunk_staging"]) as copy:
            copy.set_types(CHUNK_STAGING_TYPES)
            for chunk in chunks:
                copy.write_row(
                    (
                        chunk.chunk_id(message.document_id),
                        message.document_id,
                        message.user_id,
                        chunk.ordinal,
                        chunk.content,
                        list(chunk.heading_path),
                        chunk.page_start,
                        chunk.page_end,
                        chunk.chars,
                        chunk.content_hash,
                        [list(section) for section in chunk.sections],
                    )
                )
        run(conn, "insert_chunks_from_staging")
        run(conn, "set_document_type", {"document_id": message.document_id, "document_type": document_type})
        return {
            "chunks": len(chunks),
            "document_type": document_type,
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
        }

    return write


def embed_work(pipeline: Pipeline, claim: Claim, embedder: Embedder) -> Writer:
    """Vectors of the configured model and, when the user searches with another one (mid re-embed, or
    rolled back), of theirs too, so the document is found either way. Each batch commits on its own."""
    message = claim.message
    with pipeline.db.transaction(message.user_id) as conn:
        searched = active_model(conn)
    models = [embedder]
    if searched and searched != (embedder.model, embedder.dimensions):
        models.append(embedder_for_model(pipeline.settings, *searched))
    counts = {
        (model.model, model.dimensions): embed_missing(
            pipeline.db,
            user_id=message.user_id,
            document_id=message.document_id,
            embedder=model,
            batch_size=pipeline.settings.embed_batch_size,
            before_write=lambda: heartbeat(pipeline, claim),
        )
        for model in models
    }

    def write(conn: psycopg.Connection[Row]) -> dict[str, Any]:
        finish_document(conn, message.document_id, [(model.model, model.dimensions) for model in models])
        run(conn, "set_document_status", {"document_id": message.document_id, "status": "ready"})
        embedded = counts[(embedder.model, embedder.dimensions)]
        return {"embedded": embedded, "model": embedder.model, "dimensions": embedder.dimensions}

    return write


def _require(provider: P | None) -> P:
    if provider is None:
        raise RuntimeError("this stage needs its provider from the handler module")
    return provider
