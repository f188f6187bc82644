"""CSV files that open safely and readably in a spreadsheet (the audit and action-log exports).

- Cells a spreadsheet would run as a formula get a leading apostrophe (formula_safe).
- Every field is quoted (csv.QUOTE_ALL), so a reader that splits on ";" (the list separator in
  much of Europe) keeps each cell whole and cannot start a formula part-way through one.
- The file starts with a UTF-8 byte-order mark, so Excel on Windows reads "agency’s" as UTF-8.
- Its name carries the marking and the London date: caspa-actions-OFFICIAL-SENSITIVE-2026-12-07.csv.
"""

from __future__ import annotations

import csv
from datetime import date
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
FILE_PREFIX = "caspa"  # as the case references, CASPA-2027-004
MARKING = "OFFICIAL-SENSITIVE"


def formula_safe(value: Any) -> str:
    """The value as text, with a leading apostrophe when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def writer(buffer: TextIO) -> Any:
    """A CSV writer that quotes every field."""
    return csv.writer(buffer, quoting=csv.QUOTE_ALL)


def filename(what: str, day: date) -> str:
    """caspa-<what>-OFFICIAL-SENSITIVE-<London date>.csv"""
    return f"{FILE_PREFIX}-{what}-{MARKING}-{day.isoformat()}.csv"


def disposition(what: str, day: date) -> str:
    """The Content-Disposition header of a download named by filename()."""
    return f'attachment; filename="{filename(what, day)}"'
