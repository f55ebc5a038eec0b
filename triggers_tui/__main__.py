"""``python -m triggers_tui``: the same as the ``triggers-tui`` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
