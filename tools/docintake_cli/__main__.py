"""``python -m docintake_cli``: the `docintake` command."""

from __future__ import annotations

import sys

from docintake_cli.main import main

sys.exit(main())
