"""OCR: pages without a text layer (scanned PDF pages, image uploads) become Markdown through an engine.

- Which PDF pages: those with no text layer, and those whose text layer is nearly empty while an image
  covers most of the page (a scan with a stamped page number or a few invisible words).
- Pages are rendered at 200 dpi in grey by pypdfium2; image uploads (PNG, JPEG, TIFF; a multi-page TIFF
  is a multi-page document) are split into pages here, with no image library: the engine decodes them.
- Engines: ``RapidOcrEngine`` (local, offline; rapidocr + onnxruntime, the ``ocr`` extra) and
  ``docintake.parsing.textract.TextractEngine`` (on AWS). Both return an ``OcrPage``: Markdown blocks
  and the page's mean confidence (0..1).
- Locally, the Markdown is built from the engine's text boxes: boxes on one baseline form a line, lines
  form paragraphs by their gaps, taller short lines are headings; tables come from ruling lines found in
  the page image (long runs of dark pixels), with each box placed in the grid cell holding its centre.
  Kept here rather than in tables.py: boxes are whole text runs in pixels, not glyphs in points.
- Every OCR'd page is reported: its number and confidence, and a warning code when it yielded no text
  (``ocr_no_text:PAGE``) or its confidence is below the threshold (``ocr_low_confidence:PAGE``).
- Hostile pages: one under MIN_SIDE pixels on a side is an empty page; an image declaring over
  MAX_IMAGE_PIXELS is ``too_large`` before it is decoded; whatever else the engine raises on a page (not
  memory) is ``corrupt_image``.

Engines are created lazily, on the first page they read, i.e. inside the parse sandbox's forked child:
onnxruntime's thread pools and a boto3 client's connection pool are never shared across a fork.
"""

from __future__ import annotations

import bisect
import dataclasses
import statistics
import struct
import zlib
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from docintake.errors import UnsupportedDocument
from docintake.parsing import LIST_MARKER, ParsedDocument, join_lines, join_pages, markdown_table
from docintake.vocabulary import ErrorCode

if TYPE_CHECKING:
    import pypdfium2 as pdfium

DPI = 200
# A page rendered bigger than this (pixels, longest side) is rendered smaller: a poster-sized page at 200 dpi
# would need hundreds of MB and OCR gains nothing past newspaper-sized text.
MAX_SIDE = 3400
# A text layer this short (characters) on a page mostly covered by an image is not the page's text.
NEARLY_EMPTY_CHARS = 40
IMAGE_COVER = 0.5
BLANK = 235  # a rendered page whose darkest pixel is this light has no ink on it
# A page image thinner than this (pixels, either side) holds no line of text; the engine is not asked, as
# RapidOCR fails on it (its resizing to multiples of 32 px makes the side 0).
MIN_SIDE = 8
# An image page is padded with white to at least 1/64 of its long side: a strip of 3400 x 20 px still
# rounds to a non-zero side in RapidOCR's resizing (see MIN_SIDE) instead of failing.
MAX_ASPECT = 64
# Image uploads declaring more pixels than this are refused (too_large) before they are decoded. An A3
# scan at 600 dpi is 70 Mpx; decoded as RGB, 100 Mpx is 300 MB, a fifth of the default 1.5 GB parse cap.
# Set on PIL explicitly (its default, 89 Mpx, only warns up to twice that and decodes the image anyway).
MAX_IMAGE_PIXELS = 100_000_000
IMAGE_TYPES = ("image/png", "image/jpeg", "image/tiff")

_SENTENCE_END = (".", "!", "?", ":", ";", ",")


@dataclass(frozen=True)
class PageImage:
    """One page as an engine reads it: grey pixels (rendered from a PDF) or an image file's bytes."""

    width: int = 0
    height: int = 0
    pixels: bytes = b""  # 8-bit grey, row by row, ``width`` bytes a row
    encoded: bytes = b""  # a PNG, JPEG or TIFF file
    content_type: str = "image/png"
    tiff_directory: int = 0  # a page of a multi-page TIFF: its image directory's offset in ``encoded``

    def png(self) -> bytes:
        """The page as a file: the upload's own bytes (one page of them), or the pixels as a grey PNG."""
        if self.tiff_directory:
            return tiff_page(self.encoded, self.tiff_directory)
        return self.encoded or encode_png(self.pixels, self.width, self.height)


@dataclass(frozen=True)
class OcrPage:
    blocks: tuple[str, ...]  # Markdown blocks in reading order
    confidence: float  # mean over the page's text, 0..1; 0 when there is none


class OcrEngine(Protocol):
    @property
    def name(self) -> str: ...

    # Pages read at once: 1 for an engine that keeps the CPUs busy itself, more for a remote service.
    @property
    def concurrency(self) -> int: ...

    def read(self, page: PageImage) -> OcrPage: ...


@dataclass
class OcrResult:
    """What OCR made of a document's pages, keyed by 1-based page number."""

    pages: dict[int, OcrPage] = field(default_factory=dict)

    @property
    def page_numbers(self) -> tuple[int, ...]:
        return tuple(sorted(self.pages))

    @property
    def page_confidence(self) -> tuple[tuple[int, float], ...]:
        return tuple((number, round(self.pages[number].confidence, 3)) for number in self.page_numbers)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(f"ocr_no_text:{number}" for number in self.page_numbers if not self.pages[number].blocks)

    def has_text(self, number: int) -> bool:
        page = self.pages.get(number)
        return page is not None and bool(page.blocks)


def with_confidence_warnings(parsed: ParsedDocument, min_confidence: float) -> ParsedDocument:
    """Adds ``ocr_low_confidence:PAGE`` for each OCR'd page whose mean confidence is under the threshold."""
    low = tuple(
        f"ocr_low_confidence:{page}"
        for page, score in parsed.page_confidence
        if score < min_confidence and f"ocr_no_text:{page}" not in parsed.warnings
    )
    return dataclasses.replace(parsed, warnings=(*parsed.warnings, *low)) if low else parsed


# --- PDF pages ------------------------------------------------------------------------------------------


def pages_needing_ocr(pdf: pdfium.PdfDocument, text_chars: Sequence[int], first: int = 0) -> list[int]:
    """0-based indexes of the pages to OCR, given each page's count of text-layer characters from page index
    ``first`` on (a part of a large document reads only its own range)."""
    wanted: list[int] = []
    for index, chars in enumerate(text_chars, start=first):
        if chars == 0 or (chars < NEARLY_EMPTY_CHARS and _image_cover(pdf, index) >= IMAGE_COVER):
            wanted.append(index)
    return wanted


def ocr_pdf_pages(pdf: pdfium.PdfDocument, text_chars: Sequence[int], engine: OcrEngine, first: int = 0) -> OcrResult:
    """Reads the pages that need it (see ``pages_needing_ocr``) with the engine: one at a time, or for an
    engine with ``concurrency`` > 1 (a service) that many at once, while this thread renders the next pages
    (pdfium is not thread-safe, so rendering stays here; at most 2 x concurrency pages wait, as PNGs)."""
    result = OcrResult()
    workers = max(int(engine.concurrency), 1)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="ocr") if workers > 1 else None
    pending: dict[int, Future[OcrPage]] = {}
    try:
        for index in pages_needing_ocr(pdf, text_chars, first):
            image = render_page(pdf, index)
            # A blank page (nothing drawn, or only near-white) has nothing to read: a second of OCR saved.
            if not image.pixels or min(image.pixels) >= BLANK:
                result.pages[index + 1] = OcrPage((), 0.0)
            elif pool is None:
                result.pages[index + 1] = engine.read(image)
            else:
                busy = [future for future in pending.values() if not future.done()]
                if len(busy) >= 2 * workers:
                    wait(busy, return_when=FIRST_COMPLETED)
                encoded = PageImage(width=image.width, height=image.height, encoded=image.png())
                pending[index + 1] = pool.submit(engine.read, encoded)
        for number, future in pending.items():
            result.pages[number] = future.result()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return result


def render_page(pdf: pdfium.PdfDocument, index: int) -> PageImage:
    page = pdf[index]
    try:
        width, height = page.get_size()
        scale = min(DPI / 72, MAX_SIDE / max(width, height, 1.0))
        bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True)
        try:
            columns, rows, stride = bitmap.width, bitmap.height, bitmap.stride
            raw = bytes(bitmap.buffer)
        finally:
            bitmap.close()
    finally:
        page.close()
    pixels = raw if stride == columns else b"".join(raw[r * stride : r * stride + columns] for r in range(rows))
    return PageImage(width=columns, height=rows, pixels=pixels)


def _image_cover(pdf: pdfium.PdfDocument, index: int) -> float:
    """The share of the page's area under its largest image."""
    import pypdfium2.raw as pdfium_c

    page = pdf[index]
    try:
        width, height = page.get_size()
        largest = 0.0
        for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=4):
            left, bottom, right, top = obj.get_bounds()
            visible = (min(right, width) - max(left, 0.0)) * (min(top, height) - max(bottom, 0.0))
            largest = max(largest, visible)
        return float(largest / max(width * height, 1.0))
    finally:
        page.close()


def encode_png(pixels: bytes, width: int, height: int) -> bytes:
    """An 8-bit grey PNG, so rendered pages can be sent as files without an image library."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + pixels[r * width : (r + 1) * width] for r in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")


# --- image uploads ----------------------------------------------------------------------------------------


def image_pages(data: bytes, content_type: str, *, max_pages: int) -> list[PageImage]:
    """An image upload as pages: a PNG or JPEG is one page, a TIFF one page per image it holds. The pages of
    a multi-page TIFF share the upload's bytes; each becomes a file of its own only when it is read."""
    if content_type == "image/tiff":
        directories = tiff_directories(data, max_pages=max_pages)
        if len(directories) > 1:
            return [PageImage(encoded=data, content_type=content_type, tiff_directory=d) for d in directories]
    elif content_type not in ("image/png", "image/jpeg"):
        raise UnsupportedDocument(f"no OCR for {content_type}", code=ErrorCode.UNSUPPORTED_TYPE)
    return [PageImage(encoded=data, content_type=content_type)]


def tiff_directories(data: bytes, *, max_pages: int) -> list[int]:
    """The offsets of a (classic) TIFF file's image directories, one per page, in order."""
    if len(data) < 8 or data[:4] not in (b"II*\x00", b"MM\x00*"):
        raise UnsupportedDocument("not a TIFF file (or a BigTIFF)", code=ErrorCode.CORRUPT_IMAGE)
    order = "<" if data[:2] == b"II" else ">"
    offsets: list[int] = []
    offset = struct.unpack_from(order + "I", data, 4)[0]
    while offset:
        if offset in offsets or offset + 2 > len(data):
            raise UnsupportedDocument("TIFF image directories are broken", code=ErrorCode.CORRUPT_IMAGE)
        offsets.append(offset)
        if len(offsets) > max_pages:
            raise UnsupportedDocument(f"TIFF has over {max_pages} pages", code=ErrorCode.TOO_MANY_PAGES)
        entries = struct.unpack_from(order + "H", data, offset)[0]
        link = offset + 2 + 12 * entries
        if link + 4 > len(data):
            raise UnsupportedDocument("TIFF image directories are broken", code=ErrorCode.CORRUPT_IMAGE)
        offset = struct.unpack_from(order + "I", data, link)[0]
    if not offsets:
        raise UnsupportedDocument("TIFF holds no image", code=ErrorCode.EMPTY_DOCUMENT)
    return offsets


def tiff_page(data: bytes, directory: int) -> bytes:
    """A single-page TIFF of one image directory of ``data``, without an image library: the whole file with
    its header pointing at that directory and the directory's next-directory link cut. Every offset stays
    valid with no rewriting, at the cost of size (a page of an N-page file weighs the whole file)."""
    order = "<" if data[:2] == b"II" else ">"
    page = bytearray(data)
    struct.pack_into(order + "I", page, 4, directory)
    entries = struct.unpack_from(order + "H", data, directory)[0]
    struct.pack_into(order + "I", page, directory + 2 + 12 * entries, 0)
    return bytes(page)


def parse_images(data: bytes, content_type: str, engine: OcrEngine, *, max_pages: int) -> ParsedDocument:
    """An image upload read page by page. Raises empty_document when no page yields text."""
    result = OcrResult()
    pages = image_pages(data, content_type, max_pages=max_pages)
    workers = min(max(int(engine.concurrency), 1), len(pages))
    if workers > 1:
        with ThreadPoolExecutor(workers, thread_name_prefix="ocr") as pool:
            result.pages.update(enumerate(pool.map(engine.read, pages), start=1))
    else:
        result.pages.update((number, engine.read(page)) for number, page in enumerate(pages, start=1))
    return document_from_ocr(result, len(pages), parser=engine.name)


def document_from_ocr(result: OcrResult, page_count: int, *, parser: str) -> ParsedDocument:
    markdown, page_map = join_pages(
        ((number, "\n\n".join(result.pages[number].blocks)) for number in result.page_numbers),
        empty="OCR found no text on any page",
    )
    empty = page_count - len(page_map.pages)
    return ParsedDocument(
        markdown,
        page_map,
        page_count,
        empty,
        parser=parser,
        warnings=result.warnings,
        ocr_pages=result.page_numbers,
        page_confidence=result.page_confidence,
    )


# --- Markdown from text boxes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextBox:
    """A run of text the engine read, in pixels (y grows downwards), with its confidence 0..1."""

    text: str
    confidence: float
    left: float
    top: float
    right: float
    bottom: float

    @property
    def x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def y(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True)
class Rule:
    """A ruling line in pixels: horizontal at ``at`` = y from ``start`` to ``end`` in x, or vertical."""

    horizontal: bool
    at: float
    start: float
    end: float


@dataclass
class _Grid:
    columns: list[float]  # x borders, left to right
    rows: list[float]  # y borders, top to bottom
    cells: list[list[list[TextBox]]] = field(default_factory=list)

    @property
    def top(self) -> float:
        return self.rows[0]

    def holds(self, box: TextBox) -> bool:
        return self.columns[0] <= box.x <= self.columns[-1] and self.rows[0] <= box.y <= self.rows[-1]


def mean_confidence(boxes: Sequence[TextBox]) -> float:
    """Confidence weighted by characters, so a long line counts more than a stray mark."""
    chars = sum(len(box.text) for box in boxes)
    return sum(box.confidence * len(box.text) for box in boxes) / chars if chars else 0.0


def page_from_boxes(boxes: Sequence[TextBox], rules: Sequence[Rule] = ()) -> OcrPage:
    """Markdown blocks of one page: tables from the ruling grid, then lines, paragraphs and headings."""
    boxes = [box for box in boxes if box.text.strip()]
    if not boxes:
        return OcrPage((), 0.0)
    grids = _grids(rules)
    loose: list[TextBox] = []
    for box in boxes:
        grid = next((g for g in grids if g.holds(box)), None)
        if grid is None:
            loose.append(box)
        else:
            column = min(max(bisect.bisect_right(grid.columns, box.x) - 1, 0), len(grid.columns) - 2)
            row = min(max(bisect.bisect_right(grid.rows, box.y) - 1, 0), len(grid.rows) - 2)
            grid.cells[row][column].append(box)
    items: list[tuple[float, str, list[TextBox]]] = [(line[0].top, "line", line) for line in _lines(loose)]
    tables = {id(grid): grid for grid in grids}
    items += [(grid.top, f"table:{id(grid)}", []) for grid in grids if any(c for row in grid.cells for c in row)]
    items.sort(key=lambda item: item[0])

    body = _body_height(boxes)
    blocks: list[str] = []
    paragraph: list[str] = []
    previous: list[TextBox] | None = None

    def flush() -> None:
        if paragraph:
            blocks.append(join_lines(paragraph))
            paragraph.clear()

    for _, kind, line in items:
        if kind != "line":
            flush()
            blocks.append(_markdown_table(tables[int(kind.split(":")[1])]))
            previous = None
            continue
        text = " ".join(box.text.strip() for box in line)
        height = max(box.height for box in line)
        if height >= 1.3 * body and len(text) <= 100 and not text.endswith(_SENTENCE_END):
            flush()
            blocks.append(f"{'#' if height >= 1.8 * body else '##'} {text}")
            previous = None
            continue
        gap = min(box.top for box in line) - max(box.bottom for box in previous) if previous else 0.0
        if LIST_MARKER.match(text) or gap > 0.8 * body:
            flush()
        paragraph.append(text)
        previous = line
    flush()
    return OcrPage(tuple(blocks), mean_confidence(boxes))


def _body_height(boxes: Sequence[TextBox]) -> float:
    """The text height carrying half the page's characters (a median weighted by characters): a short page of
    a title and one long line has the line's height as its body, not the mean of the two."""
    total = sum(len(box.text) for box in boxes)
    seen = 0
    for box in sorted(boxes, key=lambda b: b.height):
        seen += len(box.text)
        if seen * 2 >= total:
            return box.height
    return boxes[-1].height


def _lines(boxes: list[TextBox]) -> list[list[TextBox]]:
    """Boxes grouped by baseline (their vertical centres within half a line of each other), top to bottom,
    each line left to right."""
    lines: list[list[TextBox]] = []
    for box in sorted(boxes, key=lambda b: (b.y, b.left)):
        line = lines[-1] if lines else None
        if line is not None:
            centre = statistics.fmean(b.y for b in line)
            if abs(box.y - centre) <= 0.5 * min(box.height, statistics.fmean(b.height for b in line)):
                line.append(box)
                continue
        lines.append([box])
    for line in lines:
        line.sort(key=lambda b: b.left)
    return lines


def _grids(rules: Sequence[Rule], snap: float = 8.0) -> list[_Grid]:
    """Tables from ruling lines: rules that touch form a group; a group with at least two horizontal and two
    vertical rules is a grid whose column borders are its vertical rules and row borders its horizontal ones
    (rules shorter than half the group's extent are cell dividers of spanning rows and are left out)."""
    groups = _touching(list(rules), snap)
    grids: list[_Grid] = []
    for group in groups:
        horizontal = [r for r in group if r.horizontal]
        vertical = [r for r in group if not r.horizontal]
        if len(horizontal) < 2 or len(vertical) < 2:
            continue
        left, right = min(r.start for r in horizontal), max(r.end for r in horizontal)
        top, bottom = min(r.start for r in vertical), max(r.end for r in vertical)
        columns = _merged([r.at for r in vertical if r.end - r.start >= 0.5 * (bottom - top)], snap)
        rows = _merged([r.at for r in horizontal if r.end - r.start >= 0.5 * (right - left)], snap)
        columns = _merged([left, *columns, right], snap)
        rows = _merged([top, *rows, bottom], snap)
        if len(columns) < 3 and len(rows) < 3:
            continue  # a box around text, not a table
        if len(columns) < 2 or len(rows) < 2:
            continue
        grid = _Grid(columns, rows)
        grid.cells = [[[] for _ in columns[1:]] for _ in rows[1:]]
        grids.append(grid)
    return grids


def _touching(rules: list[Rule], snap: float) -> list[list[Rule]]:
    parent = list(range(len(rules)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(rules):
        for j in range(i + 1, len(rules)):
            b = rules[j]
            if a.horizontal == b.horizontal:
                continue
            h, v = (a, b) if a.horizontal else (b, a)
            if h.start - snap <= v.at <= h.end + snap and v.start - snap <= h.at <= v.end + snap:
                parent[find(i)] = find(j)
    groups: dict[int, list[Rule]] = {}
    for i, rule in enumerate(rules):
        groups.setdefault(find(i), []).append(rule)
    return list(groups.values())


def _merged(values: list[float], snap: float) -> list[float]:
    merged: list[float] = []
    for value in sorted(values):
        if merged and value - merged[-1] <= snap:
            continue
        merged.append(value)
    return merged


def _markdown_table(grid: _Grid) -> str:
    rows = [[_cell_text(cell) for cell in row] for row in grid.cells]
    rows = [row for row in rows if any(row)]
    return markdown_table(rows)


def _cell_text(boxes: list[TextBox]) -> str:
    return " ".join(" ".join(box.text.strip() for box in line) for line in _lines(boxes)).replace("\n", " ")


# --- the local engine ---------------------------------------------------------------------------------------


@dataclass
class RapidOcrEngine:
    """RapidOCR (PP-OCR models in the wheel, onnxruntime on the CPU). The session is made on first use, in
    the process that reads: after the sandbox's fork, never before it."""

    threads: int = 0  # onnxruntime intra-op threads; 0: one per CPU this process may use
    # Text detection runs on the page scaled to at most this many pixels a side (recognition reads the
    # full-resolution crops). Measured on 200-dpi letter pages: 6-pt lines still read exactly at 960, and
    # 1280 costs ~20% less time than 1600 for the same words (docs/decisions.md).
    det_side: int = 1280
    name: str = "rapidocr"
    concurrency: int = 1  # onnxruntime spreads one page over the CPUs already
    _ocr: Any = None

    @staticmethod
    def preload() -> None:
        """Imports the OCR libraries (~1.5 s) in the calling process, so each sandboxed child finds them
        loaded. Importing starts no thread (onnxruntime's pools come with a session, OpenCV's with its first
        parallel call), so the fork stays safe. Without the ``ocr`` extra this does nothing: the child
        reports ocr_not_installed when a page needs OCR."""
        try:
            import cv2  # noqa: F401
            import numpy  # noqa: F401
            import rapidocr  # noqa: F401
            from PIL import Image  # noqa: F401
        except ImportError:
            pass

    def read(self, page: PageImage) -> OcrPage:
        import numpy as np

        grey = self._grey(page, np)
        if min(grey.shape) < MIN_SIDE:
            return OcrPage((), 0.0)
        grey = _padded(grey, np)
        session = self._session()
        try:
            output = session(grey)
        except Exception as exc:
            # onnxruntime reports a failed allocation (the sandbox's address-space cap) as a runtime error:
            # made a MemoryError here, so the sandbox reports parse_memory instead of an unknown error.
            if "bad_alloc" in str(exc) or "Failed to allocate" in str(exc):
                raise MemoryError("OCR ran out of memory") from exc
            # Anything else the engine raises on a decoded page (RapidOCR's ResizeImgError, OpenCV's
            # cv2.error on a shape it cannot take) is about this image, and would be again on a retry.
            raise UnsupportedDocument(
                f"the OCR engine could not read the image ({type(exc).__name__})", code=ErrorCode.CORRUPT_IMAGE
            ) from exc
        boxes: list[TextBox] = []
        for points, text, score in zip(
            _or_empty(output.boxes), _or_empty(output.txts), _or_empty(output.scores), strict=False
        ):
            xs = [float(p[0]) for p in points]
            ys = [float(p[1]) for p in points]
            boxes.append(TextBox(str(text), float(score), min(xs), min(ys), max(xs), max(ys)))
        return page_from_boxes(boxes, find_rules(grey))

    def _session(self) -> Any:
        if self._ocr is None:
            import os

            try:
                from rapidocr import RapidOCR
            except ImportError as exc:
                # The `ocr` extra is not installed: a setup problem, reported as such rather than retried.
                raise UnsupportedDocument(
                    "OCR is not installed (pip install 'docintake[ocr]', or OCR_ENGINE=none)",
                    code=ErrorCode.OCR_NOT_INSTALLED,
                ) from exc

            threads = self.threads or len(os.sched_getaffinity(0))
            _one_malloc_arena()
            _no_spinning()
            self._ocr = RapidOCR(
                params={
                    "Global.log_level": "error",
                    # Pages are upright once rendered (pdfium applies /Rotate): the angle classifier
                    # would cost time for nothing.
                    "Global.use_cls": False,
                    "Det.limit_type": "max",
                    "Det.limit_side_len": self.det_side,
                    "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                }
            )
        return self._ocr

    @staticmethod
    def _grey(page: PageImage, np: Any) -> Any:
        if page.pixels:
            return np.frombuffer(page.pixels, dtype=np.uint8).reshape(page.height, page.width)
        import io
        import warnings

        from PIL import Image, ImageOps, UnidentifiedImageError

        Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
        try:
            # PIL warns (on stderr) between its limit and twice it and decodes anyway: made an error, so the
            # limit is MAX_IMAGE_PIXELS itself.
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(page.png())) as opened:
                    # A JPEG decodes at 1/2, 1/4 or 1/8 scale when that still covers MAX_SIDE (no-op otherwise).
                    opened.draft("L", (MAX_SIDE, MAX_SIDE))
                    grey = (ImageOps.exif_transpose(opened) or opened).convert("L")
                    if max(grey.size) > MAX_SIDE:
                        grey.thumbnail((MAX_SIDE, MAX_SIDE))
                    return np.asarray(grey)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise UnsupportedDocument(
                f"the image has over {MAX_IMAGE_PIXELS // 1_000_000} million pixels", code=ErrorCode.TOO_LARGE
            ) from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise UnsupportedDocument("the image could not be decoded", code=ErrorCode.CORRUPT_IMAGE) from exc


def _padded(grey: Any, np: Any) -> Any:
    """The page with white added below or to the right, so its short side is at least 1/MAX_ASPECT of its
    long side (see MAX_ASPECT). Boxes keep their coordinates: the padding is after the pixels."""
    height, width = grey.shape
    short = -(-max(height, width) // MAX_ASPECT)
    if min(height, width) >= short:
        return grey
    return np.pad(grey, ((0, max(short - height, 0)), (0, max(short - width, 0))), constant_values=255)


def _one_malloc_arena() -> None:
    """glibc gives each thread that allocates its own arena, reserving 64 MB of address space apiece (on
    64-bit); under the sandbox's address-space cap, onnxruntime's threads would spend the cap on
    reservations. One arena keeps the cap for memory actually used. Best effort: not glibc, no change."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, 1)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def _no_spinning() -> None:
    """onnxruntime's pool threads spin while they wait for work; when other processes want the CPUs too,
    the spinning takes their time. Measured on this 2-CPU machine under load: a page took 6.3 s of CPU and
    5.4-7.2 s of wall time without spinning, 7.5 s and 8.9-11 s with it. RapidOCR 3.x builds the session
    options in ``OrtInferSession._init_sess_opts``; where that is not there, nothing changes."""
    try:
        from rapidocr.inference_engine.onnxruntime import main as engine
    except ImportError:
        return
    options = getattr(engine.OrtInferSession, "_init_sess_opts", None)
    if options is None or getattr(options, "docintake_no_spinning", False):
        return

    def without_spinning(config: Any) -> Any:
        session_options = options(config)
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return session_options

    without_spinning.docintake_no_spinning = True  # type: ignore[attr-defined]
    engine.OrtInferSession._init_sess_opts = staticmethod(without_spinning)  # type: ignore[assignment]


def _or_empty(values: Any) -> Any:
    # RapidOCR gives None for a page without text, else arrays (whose truth value is ambiguous).
    return () if values is None else values


def find_rules(grey: Any, dark: int = 140) -> list[Rule]:
    """Ruling lines in a grey page image: runs of dark pixels at least 1/25 of the page long (text strokes
    are far shorter), found by morphological opening with a long thin kernel."""
    import cv2
    import numpy as np

    height, width = grey.shape
    ink = (grey < dark).astype(np.uint8)
    rules: list[Rule] = []
    for horizontal in (True, False):
        length = max((width if horizontal else height) // 25, 20)
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1) if horizontal else (1, length))
        mask = cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for label in range(1, count):
            x, y, w, h = (int(v) for v in stats[label][:4])
            # Thin, or as thick as a rule scanned up to 2 degrees askew (its box grows with its length).
            if horizontal and h <= max(12, 0.035 * w):
                rules.append(Rule(True, y + h / 2, x, x + w))
            elif not horizontal and w <= max(12, 0.035 * h):
                rules.append(Rule(False, x + w / 2, y, y + h))
    return rules
