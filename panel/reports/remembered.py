"""The Board's reports for a period (and the retention list of who is due), worked out once for
each state of the records they count.

The figures of a quarter take a dozen aggregate queries over ten years of records, and the page
that shows them is long: worked out on every view, the Board's page was the slowest page of the
service. The database keeps a token, one row of report_data_version, that its own triggers
change whenever a table the reports count is written (migration 0023: every insert, update or
delete, by the service, a job, a command or by hand). A report is remembered in this process
under the period, the cap and that token, and used again only while the token is unchanged, so
a remembered report is always the one the records would give now. Reading the token is one
query; the view of the page, the CSV or the PDF is audited every time as before.

Each worker process keeps its own few (the last REMEMBERED reports and lists); a restart forgets
them. A database without the row (emptied by hand) is never remembered for.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

from panel.extensions import db
from panel.models import ReportDataVersion

REMEMBERED = 32
T = TypeVar("T")

_lock = threading.Lock()
_reports: OrderedDict[tuple, object] = OrderedDict()


def data_token() -> str | None:
    """The token for the present state of the tables the reports count (one query)."""
    return db.session.scalar(sa.select(ReportDataVersion.token).where(ReportDataVersion.id == 1))


def remember(key: tuple, make: Callable[[], T]) -> T:
    """make(), or what it gave before for the same key and the same state of the records."""
    token = data_token()
    if token is None:
        return make()
    full = (str(db.session.connection().engine.url), token, *key)
    with _lock:
        if full in _reports:
            _reports.move_to_end(full)
            return _reports[full]  # type: ignore[return-value]
    made = make()
    with _lock:
        _reports[full] = made
        while len(_reports) > REMEMBERED:
            _reports.popitem(last=False)
    return made


def forget() -> None:
    """Forget every report (tests that compare a first view with a later one)."""
    with _lock:
        _reports.clear()
