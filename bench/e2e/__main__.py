"""``python -m bench.e2e``: see ``bench.e2e.run``."""

from __future__ import annotations

from bench.e2e.run import main

raise SystemExit(main())
