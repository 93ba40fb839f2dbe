"""``python -m bench.large``: see ``bench.large.run``."""

from __future__ import annotations

from bench.large.run import main

raise SystemExit(main())
