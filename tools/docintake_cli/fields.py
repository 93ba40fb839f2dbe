"""`docintake fields FILE`: a file's policy fields offline, parsed, chunked and extracted as the pipeline
would; `docintake fields reextract`: the stored documents' fields extracted again; and how fields print (here
and under `docintake documents fields`).

`fields reextract` works against the local stack by default (the running `docintake local up`, else an
ephemeral one), as the worker role with ChunkFunction's chunk and model settings, and as the ops role to list
users for --all. With DOCINTAKE_TARGET=aws it uses the environment, as `docintake sweep` does: DATABASE_URL
(the worker role), BUCKET_NAME and ChunkFunction's CHUNK_* and FIELDS_LLM_* settings, and for --all
OPS_DATABASE_URL (the ops role).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docintake_cli import running

if TYPE_CHECKING:
    from docintake.context import Context
    from docintake.db import Database

REEXTRACT = "reextract"
# ChunkFunction's settings a re-extraction must share with it: the chunks it places evidence in, the model.
CHUNK_SETTINGS = ("CHUNK_", "FIELDS_LLM_", "OPENAI_")


def add_commands(commands: Any) -> None:
    fields = commands.add_parser(
        "fields",
        help="a file's policy fields (type, values with evidence, coverages), offline as the pipeline would;"
        f" `fields {REEXTRACT} --help`: the stored documents' fields extracted again",
    )
    fields.add_argument("file", type=Path, help=f"the file (`fields {REEXTRACT} …` is the other command)")
    fields.add_argument("--content-type", help="default: from the file name")
    fields.add_argument(
        "--json",
        action="store_true",
        help="one JSON object: document_type, document_type_confidence, fields, coverages, evidence, …",
    )
    fields.set_defaults(run=_fields)


def _fields(args: argparse.Namespace) -> int:
    from docintake.chunking import chunk_with_settings
    from docintake.config import load_settings
    from docintake.errors import DocintakeError
    from docintake.fields import extract_document_fields
    from docintake.parsing import parser_from_settings
    from docintake_local.client import content_type_for

    settings = load_settings()
    content_type = args.content_type or content_type_for(args.file)
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        parsed = parser_from_settings(settings).parse(data, content_type, heartbeat=lambda: None)
    except DocintakeError as exc:
        print(exc.code, file=sys.stderr)
        return 2
    chunks = chunk_with_settings(parsed.markdown, parsed.page_map, settings)
    # No document id offline, so evidence names no chunk (the pipeline's chunk ids derive from it); page,
    # span and quote are the pipeline's.
    found = extract_document_fields(parsed.markdown, parsed.page_map, chunks=chunks)
    result = found.model_dump(mode="json")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print_fields(result)
    return 0


def reextract_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"docintake fields {REEXTRACT}",
        description="Extract the policy fields of ready documents again from their stored Markdown, as the chunk"
        " stage does, and replace their fields row (documents ready before fields existed, or after the rules"
        " improved). Prints one line per document (no values) and reextracted=N skipped=N failed=N.",
    )
    whose = parser.add_mutually_exclusive_group(required=True)
    whose.add_argument("--user", type=uuid.UUID, help="this user's documents")
    whose.add_argument("--all", action="store_true", help="every user's documents")
    parser.add_argument("--document", type=uuid.UUID, help="only this document")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--missing-only", action="store_true", help="only documents without fields")
    which.add_argument(
        "--extracted-before",
        type=_instant,
        metavar="TIME",
        help="only documents without fields or with fields extracted before TIME (ISO 8601, UTC if no offset);"
        " default: every ready document",
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would be re-extracted, change nothing")
    parser.add_argument("--json", action="store_true", help="one JSON object: the counts and each document")
    return parser


def reextract(argv: list[str]) -> int:
    """`docintake fields reextract …`: 0 when no document failed, 1 when one did, 2 on a usage error."""
    from docintake.errors import DocintakeError
    from docintake.fields.backfill import Reextraction, reextract_users, users_with_ready_documents
    from docintake.fields.llm import build_fields_filler

    args = reextract_parser().parse_args(argv)
    aws = os.environ.get("DOCINTAKE_TARGET") == "aws"
    if aws and args.all and not os.environ.get("OPS_DATABASE_URL"):
        print("--all with DOCINTAKE_TARGET=aws needs OPS_DATABASE_URL (the ops role)", file=sys.stderr)
        return 2

    def progress(result: Reextraction) -> None:
        if not args.json:
            print(result.line(), flush=True)

    with _reextraction_contexts(aws=aws, ops=args.all) as (pipeline, ops_db):
        try:
            filler = None if args.dry_run else build_fields_filler(pipeline.settings)
        except DocintakeError as exc:
            print(exc.code, file=sys.stderr)
            return 2
        users = users_with_ready_documents(ops_db, document_id=args.document) if ops_db else [args.user]
        summary = reextract_users(
            pipeline,
            users,
            document_id=args.document,
            missing_only=args.missing_only,
            extracted_before=args.extracted_before,
            filler=filler,
            dry_run=args.dry_run,
            invocation_id=f"cli-{uuid.uuid4()}",
            progress=progress,
        )
    if args.json:
        print(json.dumps(summary.as_dict()))
    else:
        print(summary.line())
    return 1 if summary.failed else 0


@contextmanager
def _reextraction_contexts(*, aws: bool, ops: bool) -> Iterator[tuple[Context, Database | None]]:
    """The worker's context (ChunkFunction's settings) and, for --all, the ops role's database."""
    from docintake.db import Database

    with ExitStack() as resources:
        if aws:
            from docintake.logs import function_logger
            from docintake.runtime import build_operations

            # Logs and metrics through the functions' logger, which writes to stderr here.
            function_logger(stream=sys.stderr)
            pipeline = build_operations("docintake-cli")
            ops_url = os.environ.get("OPS_DATABASE_URL", "")
        else:
            stack = resources.enter_context(running.local_stack(pollers=False))
            chunk_settings = {
                name.lower(): value
                for name, value in stack.function_environment("ChunkFunction").items()
                if name.startswith(CHUNK_SETTINGS)
            }
            pipeline = stack.operations("worker", **chunk_settings)
            ops_url = stack.database.role_url("ops")
        resources.callback(pipeline.db.close)
        ops_db = Database(ops_url) if ops else None
        if ops_db is not None:
            resources.callback(ops_db.close)
        yield pipeline, ops_db


def _instant(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def print_fields(result: dict[str, Any]) -> None:
    """The fields as tables: the type and its confidence, each field (value, as written, page), coverages."""
    from docintake.fields import FieldName

    print(f"type: {result['document_type']} (confidence {float(result['document_type_confidence']):.2f})")
    evidence = result.get("evidence") or {}
    if result["fields"]:
        rows: list[tuple[str, ...]] = [("field", "value", "as written", "page")]
        # In the model's order (insurer, policy number, …): a stored row's JSON keeps none.
        order = {name.value: index for index, name in enumerate(FieldName)}
        for name, field in sorted(result["fields"].items(), key=lambda item: order.get(item[0], len(order))):
            page = (evidence.get(name) or {}).get("page")
            value = field["value"] if field["value"] is not None else "-"
            rows.append((name, _with_currency(value, field.get("currency")), field["text"], _page(page)))
        print()
        _table(rows)
    else:
        print("no fields found")
    if result["coverages"]:
        coverage_rows: list[tuple[str, ...]] = [("coverage", "limit", "deductible", "premium", "page")]
        for coverage in result["coverages"]:
            coverage_rows.append(
                (
                    str(coverage["name"]),
                    _money(coverage.get("limit")),
                    _money(coverage.get("deductible")),
                    _money(coverage.get("premium")),
                    _page(coverage.get("page")),
                )
            )
        print()
        _table(coverage_rows)
    if result.get("notes"):
        print(f"\nnotes: {', '.join(result['notes'])}")


def _with_currency(value: str, currency: str | None) -> str:
    return f"{value} {currency}" if currency else value


def _money(money: dict[str, Any] | None) -> str:
    """A coverage amount as written (its text), "-" when the row has none."""
    return str(money["text"]) if money else "-"


def _page(page: object) -> str:
    return str(page) if page is not None else "-"


def _table(rows: list[tuple[str, ...]]) -> None:
    """Left-aligned columns as wide as their widest cell (a cell's newlines as spaces, at most 60 chars)."""
    cells = [[" ".join(cell.split())[:60] for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    for index, row in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))
