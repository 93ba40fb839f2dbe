"""``python -m bench.coldstart``: see ``bench.coldstart.run``."""

from __future__ import annotations

from bench.coldstart.run import main

raise SystemExit(main())
