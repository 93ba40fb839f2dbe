"""bench/parse: docintake's PDF parser against pypdf, pdfplumber and pymupdf4llm (issue 3, item 7).

``python -m bench.parse`` (``make bench-parse``) measures pages/s, peak RSS and the parse-quality scores
of each parser on the synthetic ground-truth corpus and on a 300-page, ~25 MB document, each parser in a
fresh process; it prints a Markdown table and ratio lines and writes them to ``bench/out/parse.md``.
"""
