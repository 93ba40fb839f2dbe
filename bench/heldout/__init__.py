"""bench/heldout: docintake's table finder against pdfplumber and pymupdf4llm on 24 real tables no one tuned on.

``python -m bench.heldout`` (``make bench-heldout``) fetches the test data of npm ``pdf-data-parser`` 1.2.22 and
PyPI ``tabula-py`` 2.10.0 (MIT) into ``bench/out/heldout/``, builds the truth from their expectations, scores
each parser with the tables corpus's ``score.py`` and writes ``bench/out/heldout.md``.
"""
