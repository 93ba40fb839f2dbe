"""`docintake parse` and `docintake chunk`: a file through the parser and the chunker, offline, as the pipeline
would take it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_commands(commands: Any) -> None:
    parse = commands.add_parser("parse", help="parse a file to Markdown with the configured parser (PARSER)")
    parse.add_argument("file", type=Path)
    parse.add_argument("--content-type", help="default: from the file name")
    parse.add_argument(
        "--json", action="store_true", help="one JSON object: markdown, pages, warnings, ocr_pages, page_confidence"
    )
    parse.set_defaults(run=_parse)

    chunk = commands.add_parser("chunk", help="chunk Markdown (or `docintake parse --json` output) like the pipeline")
    chunk.add_argument("file", help="a Markdown file, or - for standard input")
    chunk.add_argument("--pages", type=Path, help='page map JSON: [{"page": 1, "start": 0}, …]')
    chunk.add_argument("--size", type=int, help="characters per chunk (default: CHUNK_SIZE, 1000)")
    chunk.add_argument("--overlap", type=int, help="characters of overlap (default: CHUNK_OVERLAP, 200)")
    chunk.add_argument("--max-tokens", type=int, help="optional token ceiling (default: CHUNK_MAX_TOKENS)")
    chunk.add_argument("--json", action="store_true", help="a JSON list of chunks")
    chunk.set_defaults(run=_chunk)


def _parse(args: argparse.Namespace) -> int:
    from docintake.config import load_settings
    from docintake.errors import DocintakeError
    from docintake.parsing import parser_from_settings
    from docintake_local.client import content_type_for

    content_type = args.content_type or content_type_for(args.file)
    try:
        parsed = parser_from_settings(load_settings()).parse(
            args.file.read_bytes(), content_type, heartbeat=lambda: None
        )
    except DocintakeError as exc:
        print(exc.code, file=sys.stderr)
        return 2
    if not args.json:
        sys.stdout.write(parsed.markdown)
        return 0
    document = {
        "markdown": parsed.markdown,
        "page_count": parsed.page_count,
        "pages": parsed.page_map.spans(len(parsed.markdown)),
        "warnings": list(parsed.warnings),
        "parser": parsed.parser,
        "ocr_pages": list(parsed.ocr_pages),
        "page_confidence": [{"page": page, "confidence": score} for page, score in parsed.page_confidence],
    }
    print(json.dumps(document, ensure_ascii=False))
    return 0


def _chunk(args: argparse.Namespace) -> int:
    from docintake.chunking import chunk_markdown
    from docintake.config import load_settings
    from docintake.parsing import PageMap

    settings = load_settings()
    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    page_map = PageMap.single_page()
    if text.lstrip().startswith("{"):  # the output of `docintake parse --json`
        parsed = json.loads(text)
        text, page_map = parsed["markdown"], PageMap.from_json(json.dumps(parsed["pages"]))
    if args.pages:
        page_map = PageMap.from_json(args.pages.read_text(encoding="utf-8"))
    size = args.size or settings.chunk_size
    overlap = settings.chunk_overlap if args.overlap is None else args.overlap
    if overlap >= size:
        print("--overlap must be smaller than --size", file=sys.stderr)
        return 2
    chunks = chunk_markdown(
        text, page_map, size=size, overlap=overlap, max_tokens=args.max_tokens or settings.chunk_max_tokens
    )
    if args.json:
        rows = [
            {
                "ordinal": c.ordinal,
                "content": c.content,
                "heading_path": list(c.heading_path),
                "sections": [list(section) for section in c.sections],
                "page_start": c.page_start,
                "page_end": c.page_end,
                "chars": c.chars,
            }
            for c in chunks
        ]
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for c in chunks:
        path = " › ".join(c.heading_path) or "(no heading)"
        print(f"── chunk {c.ordinal} · pages {c.page_start}–{c.page_end} · {c.chars} chars · {path}")
        print(c.content, end="\n\n")
    return 0
