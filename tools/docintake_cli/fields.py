"""`docintake fields FILE`: a file's policy fields offline, parsed, chunked and extracted as the pipeline
would; and how fields print (here and under `docintake documents fields`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_commands(commands: Any) -> None:
    fields = commands.add_parser(
        "fields", help="a file's policy fields (type, values with evidence, coverages), offline as the pipeline would"
    )
    fields.add_argument("file", type=Path)
    fields.add_argument("--content-type", help="default: from the file name")
    fields.add_argument(
        "--json",
        action="store_true",
        help="one JSON object: document_type, document_type_confidence, fields, coverages, evidence, …",
    )
    fields.set_defaults(run=_fields)


def _fields(args: argparse.Namespace) -> int:
    from docintake.chunking import chunk_markdown
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
    chunks = chunk_markdown(
        parsed.markdown,
        parsed.page_map,
        size=settings.chunk_size,
        overlap=settings.chunk_overlap,
        max_tokens=settings.chunk_max_tokens,
    )
    # No document id offline, so evidence names no chunk (the pipeline's chunk ids derive from it); page,
    # span and quote are the pipeline's.
    found = extract_document_fields(parsed.markdown, parsed.page_map, chunks=chunks)
    result = found.model_dump(mode="json")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print_fields(result)
    return 0


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
