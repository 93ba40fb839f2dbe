"""``python -m bench.retrieval``: see ``bench.retrieval.run``."""

from __future__ import annotations

from bench.retrieval.run import main

raise SystemExit(main())
