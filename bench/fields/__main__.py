"""``python -m bench.fields``: see ``bench.fields.run``."""

from __future__ import annotations

from bench.fields.run import main

raise SystemExit(main())
