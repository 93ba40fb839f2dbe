"""One peer parser on one PDF, printed as the JSON the tables scorer reads: ``{"markdown", "pages"}``.

``python -m bench.heldout.peer {pdfplumber,pymupdf4llm} PDF``. The parsing is bench/parse's own (its worker's
``PAGED``: pdfplumber's ``extract_tables()`` as pipe tables per page, pymupdf4llm's ``to_markdown`` with
``page_chunks=True``), so the held-out figures and the tables-corpus figures measure the peers the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.parse.worker import PAGED

PEERS = ("pdfplumber", "pymupdf4llm")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("peer", choices=PEERS)
    parser.add_argument("pdf", type=Path)
    args = parser.parse_args(argv)
    parse = PAGED[args.peer]()
    print(json.dumps(parse(args.pdf.read_bytes())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
