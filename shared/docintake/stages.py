"""The work of the parse, chunk and embed stages, run inside the stage machine of ``jobs``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from psycopg.types.json import Jsonb

from docintake.chunking import chunk_with_settings
from docintake.context import Context
from docintake.db import Row, one, queries, run
from docintake.document_types import classify
from docintake.embedding import Embedder, embedder_for_model
from docintake.fields import DocumentFields, FieldsFiller, extract_in_stage
from docintake.jobs import (
    STEPS,
    Claim,
    Delivery,
    FanOut,
    Outcome,
    PartContinues,
    Parts,
    Writer,
    heartbeat,
    process_stage_message,
)
from docintake.messages import StageMessage
from docintake.parsing import PageMap, ParsedDocument, ParsedPart, Parser
from docintake.storage import get_bytes, markdown_key, page_map_key, part_key, put_bytes
from docintake.vectors import CHUNK_STAGING_TYPES, OutOfTime, active_model, embed_missing, finish_document
from docintake.vocabulary import DocumentStatus, StepName


def delivery_from_record(record: SQSRecord, context: LambdaContext) -> Delivery:
    return Delivery(
        body=record.body,
        message_id=record.message_id,
        receipt_handle=record.receipt_handle,
        receive_count=int(record.attributes.approximate_receive_count or 1),
        invocation_id=context.aws_request_id,
        remaining_ms=context.get_remaining_time_in_millis(),
    )


def handle_parse_record(pipeline: Context, record: SQSRecord, context: LambdaContext, parser: Parser) -> Outcome:
    """ParseFunction's call per record: a whole parse, or a fan-out and then one page range per message."""
    return process_stage_message(
        pipeline,
        STEPS[StepName.PARSE],
        delivery_from_record(record, context),
        lambda claim: parse_work(pipeline, claim, parser),
        Parts(
            lambda claim: parse_part_work(pipeline, claim, parser),
            lambda conn, claim: parse_join(pipeline, conn, claim, parser),
        ),
    )


def handle_chunk_record(
    pipeline: Context, record: SQSRecord, context: LambdaContext, filler: FieldsFiller | None = None
) -> Outcome:
    """ChunkFunction's call per record; ``filler`` (built once per container, fields.llm.build_fields_filler)
    fills the policy fields the rules missed, None for the rules alone."""
    return process_stage_message(
        pipeline,
        STEPS[StepName.CHUNK],
        delivery_from_record(record, context),
        lambda claim: chunk_work(pipeline, claim, filler),
    )


def handle_embed_record(pipeline: Context, record: SQSRecord, context: LambdaContext, embedder: Embedder) -> Outcome:
    """EmbedFunction's call per record: a whole embed, or a fan-out and then one chunk range per message."""
    return process_stage_message(
        pipeline,
        STEPS[StepName.EMBED],
        delivery_from_record(record, context),
        lambda claim: embed_work(pipeline, claim, embedder),
        Parts(
            lambda claim: embed_part_work(pipeline, claim, embedder),
            lambda conn, claim: embed_join(pipeline, conn, claim, embedder),
        ),
    )


def page_ranges(count: int, per_part: int, first: int = 1) -> tuple[tuple[int, int], ...]:
    """``first``..``first + count - 1`` in inclusive ranges of at most ``per_part``, as even as they come
    (10 by 3: 3, 3, 2, 2), so no part is a lone page: a stage's parts."""
    parts = -(-count // per_part)
    size, extra = divmod(count, parts)
    ranges: list[tuple[int, int]] = []
    start = first
    for index in range(parts):
        end = start + size + (1 if index < extra else 0) - 1
        ranges.append((start, end))
        start = end + 1
    return tuple(ranges)


def parse_work(pipeline: Context, claim: Claim, parser: Parser) -> Writer | FanOut:
    message, settings = claim.message, pipeline.settings
    # The version validate verified: a presigned URL can be reused to overwrite the key until it expires.
    data = get_bytes(pipeline.s3, settings.bucket_name, claim.job["s3_key"], claim.job["s3_version_id"])
    pages = parser.page_count(data, claim.job["content_type"])
    if pages is not None and pages > settings.parse_pages_per_part:
        # Too long for one invocation (40 OCR'd pages fill a parse's time): a part per range, in parallel.
        return FanOut(
            page_ranges(pages, settings.parse_pages_per_part),
            {"pages": pages, "pages_per_part": settings.parse_pages_per_part},
        )
    parsed = parser.parse(data, claim.job["content_type"], heartbeat=lambda: heartbeat(pipeline, claim))

    def write(conn: psycopg.Connection[Row]) -> dict[str, Any]:
        return _write_parsed(pipeline, conn, message, parsed)

    return write


def parse_part_work(pipeline: Context, claim: Claim, parser: Parser) -> Writer:
    """Pages ``first_item``..``last_item`` of the document, kept in S3 as the part's JSON until the join."""
    message, settings, part = claim.message, pipeline.settings, claim.job
    data = get_bytes(pipeline.s3, settings.bucket_name, part["s3_key"], part["s3_version_id"])
    parsed = parser.parse_pages(
        data,
        part["content_type"],
        part["first_item"],
        part["last_item"],
        heartbeat=lambda: heartbeat(pipeline, claim),
    )

    def write(conn: psycopg.Connection[Row]) -> dict[str, Any]:
        # Inside the part's completing transaction, like a whole parse's outputs; the key derives from ids.
        put_bytes(
            pipeline.s3,
            settings.bucket_name,
            part_key(message.user_id, message.document_id, message.job_id, StepName.PARSE, part["part"]),
            parsed.to_json().encode("utf-8"),
            "application/json",
        )
        return {
            "first_page": parsed.first,
            "last_page": parsed.last,
            "pages_without_text": parsed.pages_without_text,
            "markdown_chars": len(parsed.markdown),
        }

    return write


def parse_join(pipeline: Context, conn: psycopg.Connection[Row], claim: Claim, parser: Parser) -> dict[str, Any]:
    """Every part is in: the document's Markdown and page map, as a whole parse would have written them."""
    message, bucket = claim.message, pipeline.settings.bucket_name
    rows = conn.execute(queries()["part_results"], {"job_id": message.job_id, "step": "parse"}).fetchall()
    keys = [part_key(message.user_id, message.document_id, message.job_id, "parse", row["part"]) for row in rows]
    parts = [ParsedPart.from_json(get_bytes(pipeline.s3, bucket, key).decode("utf-8")) for key in keys]
    return _write_parsed(pipeline, conn, message, parser.join(parts))


def _write_parsed(
    pipeline: Context, conn: psycopg.Connection[Row], message: StageMessage, parsed: ParsedDocument
) -> dict[str, Any]:
    # Written inside the completing transaction, which holds the job's row: a deletion either cancelled the
    # job first (then nothing is written) or waits for this commit and then removes these objects too.
    # Keys derive from ids, so a second attempt overwrites the same bytes.
    bucket = pipeline.settings.bucket_name
    put_bytes(
        pipeline.s3,
        bucket,
        markdown_key(message.user_id, message.document_id),
        parsed.markdown.encode("utf-8"),
        "text/markdown; charset=utf-8",
    )
    put_bytes(
        pipeline.s3,
        bucket,
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


# What the chunk stage keeps after a model's last attempt may start: its chunk and fields writes take seconds.
FIELDS_WRITE_MARGIN_SECONDS = 20.0


def read_parsed(pipeline: Context, user_id: UUID, document_id: UUID) -> tuple[str, PageMap]:
    """The document's stored parse: its Markdown and page map, as the parse stage wrote them."""
    bucket = pipeline.settings.bucket_name
    markdown = get_bytes(pipeline.s3, bucket, markdown_key(user_id, document_id)).decode("utf-8")
    return markdown, PageMap.from_json(
        get_bytes(pipeline.s3, bucket, page_map_key(user_id, document_id)).decode("utf-8")
    )


def chunk_work(pipeline: Context, claim: Claim, filler: FieldsFiller | None = None) -> Writer:
    message, settings = claim.message, pipeline.settings
    text, pages = read_parsed(pipeline, message.user_id, message.document_id)
    document_type = classify(text, claim.job.get("filename") or "")
    chunks = chunk_with_settings(text, pages, settings)
    # Before the transaction: a filler may ask a language model over the network, and no transaction (nor the
    # job's row lock) is held across that. Part of the chunk stage, extraction is retried, dead-lettered and
    # replayed with it when the model is unavailable; a bug or a refusal only costs the fields (extract_in_stage).
    # The model must leave time to write the chunks.
    fields = extract_in_stage(
        text,
        pages,
        chunks=chunks,
        document_id=message.document_id,
        filler=filler,
        deadline=claim.deadline - FIELDS_WRITE_MARGIN_SECONDS,
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
        # Beside the chunks its evidence names, in their transaction: readers see the old pair or the new.
        run(conn, "upsert_document_fields", document_fields_params(message, fields))
        return {
            "chunks": len(chunks),
            "document_type": document_type,
            # Counts and the type only: the values are personal data (names, policy numbers).
            "insurance_type": fields.document_type,
            "fields": len(fields.fields),
            "coverages": len(fields.coverages),
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
        }

    return write


def document_fields_params(message: StageMessage, fields: DocumentFields) -> dict[str, Any]:
    """The upsert_document_fields row of ``fields``, the JSON columns as DocumentFields serializes them."""
    dumped = fields.model_dump(mode="json")
    return {
        "document_id": message.document_id,
        "user_id": message.user_id,
        "document_type": dumped["document_type"],
        "document_type_confidence": dumped["document_type_confidence"],
        "fields": Jsonb(dumped["fields"]),
        "coverages": Jsonb(dumped["coverages"]),
        "evidence": Jsonb(dumped["evidence"]),
        "extractor": dumped["extractor"],
        "notes": dumped["notes"],
    }


def embed_work(pipeline: Context, claim: Claim, embedder: Embedder) -> Writer | FanOut:
    """Vectors of the configured model and, when the user searches with another one (mid re-embed, or
    rolled back), of theirs too, so the document is found either way. Each batch commits on its own.
    A document of more chunks than a part holds fans out by chunk ordinal."""
    message, settings = claim.message, pipeline.settings
    with pipeline.db.transaction(message.user_id) as conn:
        span = one(conn, "document_chunk_span", {"document_id": message.document_id})
    last_ordinal = span["last_ordinal"] if span else -1
    if last_ordinal + 1 > settings.embed_chunks_per_part:
        return FanOut(
            page_ranges(last_ordinal + 1, settings.embed_chunks_per_part, first=0),
            {"chunks": span["chunks"] if span else 0, "chunks_per_part": settings.embed_chunks_per_part},
        )
    models = _embed_models(pipeline, message.user_id, embedder)
    counts = {
        (model.model, model.dimensions): embed_missing(
            pipeline.db,
            user_id=message.user_id,
            document_id=message.document_id,
            embedder=model,
            batch_size=settings.embed_batch_size,
            before_write=lambda: heartbeat(pipeline, claim),
        )
        for model in models
    }

    def write(conn: psycopg.Connection[Row]) -> dict[str, Any]:
        return _finish_embedding(conn, message, models, counts[(embedder.model, embedder.dimensions)])

    return write


# In parts, batches stay small enough that the time check between them can stop a part in time.
_PART_BATCH_SIZE = 64


def embed_part_work(pipeline: Context, claim: Claim, embedder: Embedder) -> Writer:
    """Chunks ``first_item``..``last_item`` (ordinals) of a large document. A part that would outrun the
    invocation stops between batches, its vectors committed, and continues in a fresh message."""
    message, part = claim.message, claim.job
    written = 0
    for model in _embed_models(pipeline, message.user_id, embedder):
        try:
            count = embed_missing(
                pipeline.db,
                user_id=message.user_id,
                document_id=message.document_id,
                embedder=model,
                batch_size=min(pipeline.settings.embed_batch_size, _PART_BATCH_SIZE),
                before_write=lambda: heartbeat(pipeline, claim),
                ordinals=(part["first_item"], part["last_item"]),
                time_left=claim.seconds_left,
            )
        except OutOfTime as exc:
            raise PartContinues(f"embedded {exc.written} of the part's chunks before its time ran short") from exc
        if (model.model, model.dimensions) == (embedder.model, embedder.dimensions):
            written = count

    def write(conn: psycopg.Connection[Row]) -> dict[str, Any]:
        # ``embedded``: by this invocation (a continued part's earlier ones wrote the rest of its range).
        return {"first_chunk": part["first_item"], "last_chunk": part["last_item"], "embedded": written}

    return write


def embed_join(pipeline: Context, conn: psycopg.Connection[Row], claim: Claim, embedder: Embedder) -> dict[str, Any]:
    """Every part is in: the same completeness check and swap as a whole embed, in the joining transaction."""
    message = claim.message
    span = one(conn, "document_chunk_span", {"document_id": message.document_id})
    # finish_document fails the join unless every chunk has its vectors: then all of them were embedded.
    embedded = int(span["chunks"]) if span else 0
    return _finish_embedding(conn, message, _embed_models(pipeline, message.user_id, embedder), embedded)


def _embed_models(pipeline: Context, user_id: UUID, embedder: Embedder) -> list[Embedder]:
    with pipeline.db.transaction(user_id) as conn:
        searched = active_model(conn)
    models = [embedder]
    if searched and searched != (embedder.model, embedder.dimensions):
        models.append(embedder_for_model(pipeline.settings, *searched))
    return models


def _finish_embedding(
    conn: psycopg.Connection[Row], message: StageMessage, models: list[Embedder], embedded: int
) -> dict[str, Any]:
    finish_document(conn, message.document_id, [(model.model, model.dimensions) for model in models])
    run(conn, "set_document_status", {"document_id": message.document_id, "status": DocumentStatus.READY})
    return {"embedded": embedded, "model": models[0].model, "dimensions": models[0].dimensions}
