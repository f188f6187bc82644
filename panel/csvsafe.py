"""CSV files that open safely and readably in a spreadsheet (the audit and action-log exports).

- Cells a spreadsheet would run as a formula get a leading apostrophe (formula_safe).
- Every field is quoted (csv.QUOTE_ALL), so a reader that splits on ";" (the list separator in
  much of Europe) keeps each cell whole and cannot start a formula part-way through one.
- The file starts with a UTF-8 byte-order mark, so Excel on Windows reads "agency’s" as UTF-8.
- Its name carries the marking and the London date: caspa-actions-OFFICIAL-SENSITIVE-2026-12-07.csv.

An export of millions of rows (the audit trail's) keeps the same guarantees at a lower cost a
row: the database joins each row's cells in one value (joined_sql), and quoted_lines checks a
batch of rows for formulas at once and quotes it in a few passes over its text. Its lines end
in "\n" (the csv module's default is "\r\n"; every spreadsheet reads both).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any, Sequence, TextIO

import sqlalchemy as sa

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
FILE_PREFIX = "caspa"  # as the case references, CASPA-2027-004
MARKING = "OFFICIAL-SENSITIVE"


def formula_safe(value: Any) -> str:
    """The value as text, with a leading apostrophe when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def line(cells: Sequence[str]) -> str:
    """One CSV line of text cells: every field quoted and its quotes doubled, ending in "\n" (the
    same as quoted_lines makes)."""
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


FIELD_SEPARATOR, ROW_SEPARATOR = b"\x1f", b"\x1e"  # ASCII's unit and record separators
_STARTS = tuple(c.encode() for c in FORMULA_STARTS)
# a cell that starts a formula after a unit separator, and a row's first one after a record
# separator (two searches, each for a fixed byte first: seven times faster than one for either)
_FORMULA_AFTER = {separator: re.compile(re.escape(separator) + b"[" + re.escape(b"".join(_STARTS)) + b"]")
                  for separator in (FIELD_SEPARATOR, ROW_SEPARATOR)}


def joined_sql(cells: Sequence[sa.ColumnElement[str]], dialect: str) -> sa.ColumnElement[Any]:
    """A row's text cells (never NULL) joined by the unit separator in one value, for quoted_lines:
    one object a row for the driver to make instead of one a cell. SQLite: printf's copy, as UTF-8
    bytes (printf reads C strings, so a NUL would end its cell; the app keeps NUL out of what it
    stores, as PostgreSQL refuses it). PostgreSQL: ||, as text (faster than concat_ws, which
    converts each cell to text again)."""
    if dialect == "postgresql":
        separator = sa.literal_column("chr(31)", sa.String)
        joined = cells[0]
        for cell in cells[1:]:
            joined = joined + separator + cell
        return joined
    pattern = sa.literal_column(" || char(31) || ".join(["'%s'"] * len(cells)), sa.String)
    return sa.cast(sa.func.printf(pattern, *cells, type_=sa.String), sa.LargeBinary)


def quoted_lines(rows: Sequence[bytes] | Sequence[str], width: int, *, first_cells_safe: bool = False) -> bytes | None:
    """Rows of `width` cells joined by the unit separator (joined_sql; UTF-8 bytes or text) as CSV
    lines in UTF-8, the same bytes as line() makes of each: the batch is joined by the record
    separator, searched for a cell that starts a formula, and quoted by replacing the
    separators; a few passes over its text instead of work for each cell.

    None when a cell needs more than quoting: it starts with one of FORMULA_STARTS (it needs
    formula_safe), or it holds a separator itself (the text grew by more than the separators
    between the cells). The caller writes such a batch cell by cell: formula_safe, then line().
    first_cells_safe: the rows' first cells are of a kind that never starts a formula (a time
    the database wrote), so only the others are searched."""
    if not rows:
        return b""
    text = ROW_SEPARATOR.decode().join(rows).encode() if isinstance(rows[0], str) else ROW_SEPARATOR.join(rows)
    if _FORMULA_AFTER[FIELD_SEPARATOR].search(text) or not first_cells_safe and (
            text.startswith(_STARTS) or _FORMULA_AFTER[ROW_SEPARATOR].search(text)):
        return None
    # each step replaces the text before it, so only one copy is alive at a time (twice as fast)
    text = text.replace(b'"', b'""')
    before = len(text)
    text = text.replace(FIELD_SEPARATOR, b'","')
    fields = len(text) - before  # 2 bytes more for each unit separator
    text = text.replace(ROW_SEPARATOR, b'"\n"')
    if fields != 2 * (width - 1) * len(rows) or len(text) - before - fields != 2 * (len(rows) - 1):
        return None
    return b"".join((b'"', text, b'"\n'))


def writer(buffer: TextIO) -> Any:
    """A CSV writer that quotes every field."""
    return csv.writer(buffer, quoting=csv.QUOTE_ALL)


def filename(what: str, day: date) -> str:
    """caspa-<what>-OFFICIAL-SENSITIVE-<London date>.csv"""
    return f"{FILE_PREFIX}-{what}-{MARKING}-{day.isoformat()}.csv"


def disposition(what: str, day: date) -> str:
    """The Content-Disposition header of a download named by filename()."""
    return f'attachment; filename="{filename(what, day)}"'
