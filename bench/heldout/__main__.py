"""``python -m bench.heldout``: see ``bench.heldout.run``."""

from __future__ import annotations

from bench.heldout.run import main

raise SystemExit(main())
