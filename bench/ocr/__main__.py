"""``python -m bench.ocr``: see ``bench.ocr.run``."""

from __future__ import annotations

from bench.ocr.run import main

raise SystemExit(main())
