"""``python -m bench.parse``: see ``bench.parse.run``."""

from __future__ import annotations

from bench.parse.run import main

raise SystemExit(main())
