"""One parser in one fresh process: parse the given PDFs, write their Markdown and a result.json.

``python -m bench.parse.worker PARSER OUT_DIR PDF... [--repeat N] [--warmup PDF]``

Each PDF is read into memory first; the timed span is the parser's own work on those bytes, from opening
the document to the last page's text. The median of ``--repeat`` runs is kept. Peak RSS is the process's
high-water mark at the end, so it includes the interpreter and the parser's imports.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

Parse = Callable[[bytes], str]


def _docintake() -> Parse:
    from docintake.parsing import parse_document

    def parse(data: bytes) -> str:
        return parse_document(data, "application/pdf", max_pages=100_000).markdown

    return parse


def _pypdf() -> Parse:
    from pypdf import PdfReader

    def parse(data: bytes) -> str:
        return "\n\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)

    return parse


def _pdfplumber() -> Parse:
    import pdfplumber

    def parse(data: bytes) -> str:
        texts: list[str] = []
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for page in pdf.pages:
                texts.append(page.extract_text() or "")
                page.close()  # pdfplumber's advice for long documents: drop the page's cached objects
        return "\n\n".join(texts)

    return parse


def _pymupdf4llm() -> Parse:
    import pymupdf  # type: ignore[import-untyped]  # AGPL: a benchmark peer only, never imported by docintake
    import pymupdf4llm  # type: ignore[import-untyped]

    def parse(data: bytes) -> str:
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            return str(pymupdf4llm.to_markdown(doc, show_progress=False))

    return parse


# The tables corpus scores the tables on each truth's page, so there each parser returns its Markdown with
# the page offsets ``score.py`` reads: {"markdown", "pages": [{"page", "start", "end"}]}.
Paged = Callable[[bytes], dict[str, object]]


def _paged(pages: list[tuple[int, str]]) -> dict[str, object]:
    markdown, offsets = "", []
    for number, text in pages:
        offsets.append({"page": number, "start": len(markdown), "end": len(markdown) + len(text)})
        markdown += text + "\n\n"
    return {"markdown": markdown, "pages": offsets}


def _docintake_paged() -> Paged:
    from docintake.parsing import parse_document

    def parse(data: bytes) -> dict[str, object]:
        parsed = parse_document(data, "application/pdf", max_pages=100_000)
        ends = [*parsed.page_map.starts[1:], len(parsed.markdown)]
        pages = zip(parsed.page_map.pages, parsed.page_map.starts, ends, strict=True)
        return {"markdown": parsed.markdown, "pages": [{"page": p, "start": s, "end": e} for p, s, e in pages]}

    return parse


def _pdfplumber_tables() -> Paged:
    """pdfplumber's default table finder (ruling lines), each table written as a pipe table."""
    import pdfplumber

    def pipe_table(rows: list[list[str | None]]) -> str:
        cells = [[" ".join((cell or "").split()).replace("|", "\\|") for cell in row] for row in rows]
        width = max(len(row) for row in cells)
        lines = ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in cells]
        return "\n".join([lines[0], "|" + " --- |" * width, *lines[1:]])

    def parse(data: bytes) -> dict[str, object]:
        pages: list[tuple[int, str]] = []
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for number, page in enumerate(pdf.pages, start=1):
                tables = [t for t in page.extract_tables() if t and any(t)]
                pages.append((number, "\n\n".join(pipe_table(t) for t in tables)))
                page.close()
        return _paged(pages)

    return parse


def _pymupdf4llm_paged() -> Paged:
    import pymupdf  # AGPL: a benchmark peer only, never imported by docintake
    import pymupdf4llm

    def parse(data: bytes) -> dict[str, object]:
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            chunks = pymupdf4llm.to_markdown(doc, page_chunks=True, show_progress=False)
        return _paged([(int(c["metadata"]["page"]), str(c["text"])) for c in chunks])

    return parse


PAGED: dict[str, Callable[[], Paged]] = {
    "docintake": _docintake_paged,
    "pdfplumber": _pdfplumber_tables,
    "pymupdf4llm": _pymupdf4llm_paged,
}

PARSERS: dict[str, Callable[[], Parse]] = {
    "docintake": _docintake,
    "pymupdf4llm": _pymupdf4llm,
    "pdfplumber": _pdfplumber,
    "pypdf": _pypdf,
}


def _peak_rss_mb() -> float:
    """This process's RSS high-water mark. Not ``ru_maxrss``: Linux carries that over from the forking
    parent across exec, so every worker would report at least the benchmark runner's size."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("parser", choices=sorted(PARSERS))
    parser.add_argument("out", type=Path)
    parser.add_argument("pdfs", type=Path, nargs="+")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--warmup", type=Path)
    parser.add_argument("--paged", action="store_true", help="write {stem}.json with page offsets (tables corpus)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result: dict[str, object] = {"parser": args.parser}
    started = time.perf_counter()
    try:
        if args.paged:
            paged = PAGED[args.parser]()

            def parse(data: bytes) -> str:
                return json.dumps(paged(data))
        else:
            parse = PARSERS[args.parser]()
    except ImportError as exc:
        result["error"] = f"not installed: {exc}"
        (args.out / "result.json").write_text(json.dumps(result))
        return 0
    result["import_seconds"] = time.perf_counter() - started
    if args.warmup:
        parse(args.warmup.read_bytes())
    documents: list[dict[str, object]] = []
    for path in args.pdfs:
        data = path.read_bytes()
        seconds: list[float] = []
        try:
            for _ in range(args.repeat):
                start = time.perf_counter()
                markdown = parse(data)
                seconds.append(time.perf_counter() - start)
        except Exception as exc:  # a peer failing on a document is a result, not a crash of the benchmark
            documents.append({"name": path.stem, "error": f"{type(exc).__name__}: {exc}"})
            traceback.print_exc()
            continue
        (args.out / f"{path.stem}.{'json' if args.paged else 'md'}").write_text(markdown, encoding="utf-8")
        documents.append({"name": path.stem, "seconds": statistics.median(seconds), "runs": seconds})
    result["documents"] = documents
    result["peak_rss_mb"] = _peak_rss_mb()
    (args.out / "result.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
