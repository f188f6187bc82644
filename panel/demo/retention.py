"""Demo data: Records due for anonymisation soon and one case under legal hold (issue 13)."""

from __future__ import annotations

from datetime import date


def load(*, today: date) -> int:
    """Add this part of the demo data (flushes, does not commit); returns how many records it made."""
    return 0
