"""The OCR engine on AWS: Amazon Textract's AnalyzeDocument (TABLES and LAYOUT), one call per page image.

A page goes as a PNG (rendered pages) or as the uploaded PNG, JPEG or single-page TIFF, under Textract's
10 MB limit for bytes. What comes back is a list of Blocks; the Markdown follows the LAYOUT blocks, which
Textract returns in reading order: LAYOUT_TITLE and LAYOUT_SECTION_HEADER become headings, LAYOUT_LIST
items list items, LAYOUT_TABLE the TABLE block under it as a pipe table (CELL blocks by RowIndex and
ColumnIndex, a spanning cell's text in its first position), any other layout block a paragraph of its
LINE children; page numbers are left out. Without LAYOUT blocks, LINEs are read top to bottom. The page's
confidence is the mean of its LINEs' (Textract gives 0..100), weighted by characters.

Errors, translated here:
    TransientError (DependencyUnavailable)  ocr_throttled (ThrottlingException,
                                            ProvisionedThroughputExceededException, LimitExceededException),
                                            ocr_unavailable (InternalServerError, connection failures),
                                            ocr_access_denied
    UnsupportedDocument                     ocr_invalid_parameter, ocr_unsupported_document, ocr_bad_document,
                                            ocr_document_too_large

The client is made on the first page read, i.e. in the parse sandbox's child: a boto3 client's connection
pool is never shared across a fork. Textract has no resource-level permissions: the function's policy
allows textract:AnalyzeDocument on "*" (template.yaml).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from docintake.errors import DependencyUnavailable, UnsupportedDocument
from docintake.parsing import markdown_table
from docintake.parsing.ocr import OcrPage, PageImage
from docintake.vocabulary import ErrorCode

MAX_BYTES = 10 * 1024 * 1024

_TRANSIENT = {
    "ThrottlingException": ErrorCode.OCR_THROTTLED,
    "ProvisionedThroughputExceededException": ErrorCode.OCR_THROTTLED,
    "LimitExceededException": ErrorCode.OCR_THROTTLED,
    "InternalServerError": ErrorCode.OCR_UNAVAILABLE,
    "ServiceUnavailableException": ErrorCode.OCR_UNAVAILABLE,
    "AccessDeniedException": ErrorCode.OCR_ACCESS_DENIED,
}
_PERMANENT = {
    "InvalidParameterException": ErrorCode.OCR_INVALID_PARAMETER,
    "UnsupportedDocumentException": ErrorCode.OCR_UNSUPPORTED_DOCUMENT,
    "BadDocumentException": ErrorCode.OCR_BAD_DOCUMENT,
    "DocumentTooLargeException": ErrorCode.OCR_DOCUMENT_TOO_LARGE,
}
_HEADINGS = {"LAYOUT_TITLE": "#", "LAYOUT_SECTION_HEADER": "##"}
_SKIPPED = {"LAYOUT_PAGE_NUMBER"}


@dataclass
class TextractEngine:
    client: Any = None  # a boto3 "textract" client; made on first use when None
    name: str = "textract"
    # Pages in flight at once: a page takes Textract a few seconds, so a 60-page scan read one at a time
    # would spend most of the parse limit waiting. Throttling beyond the account's quota is retried
    # (botocore's adaptive mode slows the calls down), then reported as transient.
    concurrency: int = 4
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def read(self, page: PageImage) -> OcrPage:
        document = page.png()
        if len(document) > MAX_BYTES:
            raise UnsupportedDocument(
                f"a page image of {len(document)} bytes is over Textract's {MAX_BYTES}",
                code=ErrorCode.OCR_DOCUMENT_TOO_LARGE,
            )
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client().analyze_document(Document={"Bytes": document}, FeatureTypes=["TABLES", "LAYOUT"])
        except ClientError as exc:
            error = exc.response.get("Error", {}).get("Code", "")
            if error in _PERMANENT:
                raise UnsupportedDocument(f"Textract refused the page: {error}", code=_PERMANENT[error]) from exc
            code = _TRANSIENT.get(error, ErrorCode.OCR_UNAVAILABLE)
            raise DependencyUnavailable(f"Textract failed: {error or 'unknown'}", code=code) from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable(
                f"Textract unreachable: {type(exc).__name__}", code=ErrorCode.OCR_UNAVAILABLE
            ) from exc
        return page_from_blocks(response.get("Blocks", []))

    def _client(self) -> Any:
        # Pages are read from several threads; boto3's default session must not make clients concurrently.
        with self._lock:
            if self.client is None:
                import boto3
                from botocore.config import Config

                # Throttling is retried by botocore first (adaptive backs off across calls), then by the stage.
                retries = Config(retries={"mode": "adaptive", "max_attempts": 6})
                self.client = boto3.client("textract", config=retries)
            return self.client


def page_from_blocks(blocks: list[dict[str, Any]]) -> OcrPage:
    """Markdown blocks and the mean LINE confidence (0..1) of one page's Textract Blocks."""
    by_id = {block["Id"]: block for block in blocks if "Id" in block}
    lines = [block for block in blocks if block.get("BlockType") == "LINE" and block.get("Text", "").strip()]
    chars = sum(len(line["Text"]) for line in lines)
    confidence = sum(float(line.get("Confidence", 0.0)) * len(line["Text"]) for line in lines) / chars if chars else 0.0
    tables = [block for block in blocks if block.get("BlockType") == "TABLE"]
    layout = [block for block in blocks if str(block.get("BlockType", "")).startswith("LAYOUT_")]
    nested = {
        child
        for block in layout
        for child in _children(block)
        if by_id.get(child, {}).get("BlockType", "")[:7] == "LAYOUT_"
    }
    markdown: list[str] = []
    if layout:
        placed: set[str] = set()
        for block in layout:
            if block["Id"] in nested or block["BlockType"] in _SKIPPED:
                continue
            kind = block["BlockType"]
            if kind == "LAYOUT_TABLE":
                table = _overlapping(block, tables, placed)
                if table is not None:
                    placed.add(table["Id"])
                    markdown.append(_table(table, by_id))
                    continue
            if kind == "LAYOUT_LIST":
                entries = [_text(by_id[child], by_id) for child in _children(block) if child in by_id]
                markdown += [f"- {entry}" for entry in entries if entry]
                continue
            text = _text(block, by_id)
            if text:
                markdown.append(f"{_HEADINGS[kind]} {text}" if kind in _HEADINGS else text)
        markdown += [_table(table, by_id) for table in tables if table["Id"] not in placed]
    else:
        in_tables = {word for table in tables for cell in _cells(table, by_id) for word in _children(cell)}
        positioned: list[tuple[float, str]] = [
            (_top(line), line["Text"]) for line in lines if not set(_children(line)) & in_tables
        ]
        positioned += [(_top(table), _table(table, by_id)) for table in tables]
        markdown = [text for _, text in sorted(positioned, key=lambda item: item[0])]
    return OcrPage(tuple(block for block in markdown if block.strip()), confidence / 100)


def _children(block: dict[str, Any]) -> list[str]:
    return [i for rel in block.get("Relationships") or () if rel.get("Type") == "CHILD" for i in rel.get("Ids", ())]


def _text(block: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> str:
    """A block's own text, or its children's (LINEs of a layout block, WORDs of a cell) joined by spaces."""
    if block.get("BlockType") in ("LINE", "WORD"):
        return " ".join(str(block.get("Text", "")).split())
    if block.get("BlockType") == "SELECTION_ELEMENT":
        return "[x]" if block.get("SelectionStatus") == "SELECTED" else "[ ]"
    parts = [_text(by_id[child], by_id) for child in _children(block) if child in by_id]
    return " ".join(part for part in parts if part)


def _cells(table: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [by_id[i] for i in _children(table) if by_id.get(i, {}).get("BlockType") == "CELL"]


def _table(table: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> str:
    cells = _cells(table, by_id)
    if not cells:
        return ""
    rows = max(int(cell.get("RowIndex", 1)) + int(cell.get("RowSpan", 1)) - 1 for cell in cells)
    columns = max(int(cell.get("ColumnIndex", 1)) + int(cell.get("ColumnSpan", 1)) - 1 for cell in cells)
    grid = [[""] * columns for _ in range(rows)]
    for cell in cells:
        grid[int(cell.get("RowIndex", 1)) - 1][int(cell.get("ColumnIndex", 1)) - 1] = _text(cell, by_id)
    grid = [row for row in grid if any(row)]
    return markdown_table(grid) if grid else ""


def _box(block: dict[str, Any]) -> tuple[float, float, float, float]:
    box = block.get("Geometry", {}).get("BoundingBox", {})
    left, top = float(box.get("Left", 0.0)), float(box.get("Top", 0.0))
    return left, top, left + float(box.get("Width", 0.0)), top + float(box.get("Height", 0.0))


def _top(block: dict[str, Any]) -> float:
    return _box(block)[1]


def _overlapping(block: dict[str, Any], tables: list[dict[str, Any]], placed: set[str]) -> dict[str, Any] | None:
    """The unplaced TABLE whose box overlaps the layout block's the most."""
    left, top, right, bottom = _box(block)
    best, best_area = None, 0.0
    for table in tables:
        if table["Id"] in placed:
            continue
        t_left, t_top, t_right, t_bottom = _box(table)
        area = max(min(right, t_right) - max(left, t_left), 0.0) * max(min(bottom, t_bottom) - max(top, t_top), 0.0)
        if area > best_area:
            best, best_area = table, area
    return best
