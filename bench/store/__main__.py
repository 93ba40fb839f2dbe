"""``python -m bench.store``: see ``bench.store.run``."""

from __future__ import annotations

from bench.store.run import main

raise SystemExit(main())
