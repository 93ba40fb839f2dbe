"""``python -m bench.chunk``: see ``bench.chunk.run``."""

from __future__ import annotations

from bench.chunk.run import main

raise SystemExit(main())
