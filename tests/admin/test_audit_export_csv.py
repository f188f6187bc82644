"""The audit export at speed (issue 18): the database makes each row's cells text in one value
(csvsafe.joined_sql), and the rows are checked and quoted a batch at a time
(csvsafe.quoted_lines), or cell by cell when a cell needs it. Whatever the database and the
path, the file is byte for byte what the csv module makes of the entries with formula_safe, as
before: the same columns, times as isoformat() writes them, every cell quoted, formulas defused.
Run on each database (TEST_DATABASE_URL), the same expected bytes check that both write the same
file."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from panel import audit, csvsafe
from panel.admin import audit_views
from panel.dates import DateRange, london_today
from panel.models import AuditAction, AuditEvent

NOW = datetime(2027, 3, 4, 12, 0, tzinfo=timezone.utc)

# cells that need quoting, or neutralising, or are plain, as object ids and summaries
AWKWARD = ["plain", "", 'has "quotes" and ""', "comma, and; semicolon", "line\nbreak", "carriage\rreturn",
           "tab\tinside", "agency’s café 😀", "=SUM(A1)", "+1", "-1", "@cmd", "\tlead", "\rlead", "'already",
           " =space first", '"', "unit\x1fseparator", "record\x1eseparator", "x" * 64]


def _expected(events: list[AuditEvent]) -> bytes:
    """The file as the csv module writes it from the entries, cell by cell (the export before
    issue 18 wrote these cells, with "\\r\\n" line ends)."""
    safe = csvsafe.formula_safe
    lines = [csvsafe.line(audit_views.CSV_HEADER)]
    for e in events:
        lines.append(csvsafe.line([e.occurred_at.isoformat(), safe(e.user_email), str(e.action), safe(e.object_type),
                                   safe(e.object_id), safe(e.summary), safe(e.ip), safe(e.user_agent)]))
    return (csvsafe.BOM + "".join(lines)).encode()


def _trail(app, admin) -> None:
    """Plain entries, then awkward ones (some from a request with an awkward address and user
    agent), then plain ones again, at times with and without a fraction of a second."""
    moments = iter(NOW - timedelta(days=300) + timedelta(hours=n, microseconds=(0, 1, 999_999, 250_000)[n % 4])
                   for n in range(1000))
    for n in range(4):
        with time_machine.travel(next(moments), tick=False):
            audit.record(AuditAction.VIEW, "case", f"CASPA-2026-{n:03d}", summary={"section": "summary"}, user=admin)
    for n, value in enumerate(AWKWARD):
        # the request's environ as a server might pass it (Werkzeug's headers refuse a line break)
        environ = {"REMOTE_ADDR": "-1" if n % 5 == 0 else "10.0.0.1",
                   **({"HTTP_USER_AGENT": AWKWARD[-n - 1]} if n % 3 == 0 else {})}
        with time_machine.travel(next(moments), tick=False), app.test_request_context(environ_base=environ):
            audit.record(AuditAction.UPDATE, value if n % 4 == 0 else "user", value, summary=value, user=admin)
    for _ in range(4):
        with time_machine.travel(next(moments), tick=False):
            audit.record(AuditAction.LOGIN, "user", admin.id, user=admin)


def _entries(db, *where, by_time: bool = False) -> list[AuditEvent]:
    """The entries an export has, newest first: all but the export's own (the newest)."""
    db.session.rollback()
    newest = db.session.scalar(sa.select(sa.func.max(AuditEvent.id)))
    order = (AuditEvent.occurred_at.desc(), AuditEvent.id.desc()) if by_time else (AuditEvent.id.desc(),)
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.id < newest, *where).order_by(*order)))


@pytest.mark.parametrize("batch, quoted", [(3, 1000), (7, 2), (1000, 1000)])
def test_every_date_is_the_csv_of_the_entries_byte_for_byte(app, client, login_as, db, monkeypatch, batch, quoted):
    """Small batches (or parts of a batch, quoted a few rows at a time): the awkward ones among them
    (a cell that starts a formula or holds one of the separators) are written cell by cell, the
    plain ones a batch at a time."""
    monkeypatch.setattr(audit_views, "EXPORT_BATCH", batch)
    monkeypatch.setattr(audit_views, "QUOTE_ROWS", quoted)
    admin = login_as("admin", email="admin.person@council.invalid")
    _trail(app, admin)
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        login_as(admin)
        response = client.get("/admin/audit.csv?all=y")
        streamed = response.is_streamed
        body = response.get_data()

    assert response.status_code == 200 and streamed
    assert body == _expected(_entries(db))
    assert b"\r\n" not in body.replace(b"carriage\rreturn", b"")  # lines end in "\n"


def test_a_filter_and_dates_read_by_id_and_the_dates_alone_by_time_give_the_same_bytes(app, client, login_as, db,
                                                                                       monkeypatch):
    monkeypatch.setattr(audit_views, "EXPORT_BATCH", 4)
    admin = login_as("admin", email="admin.person@council.invalid")
    _trail(app, admin)
    db.session.commit()
    day = london_today(NOW - timedelta(days=300) + timedelta(hours=10))  # a day in the middle of the trail
    start, _ = DateRange.of(day, None, everything=False, today=london_today(NOW)).utc_bounds()
    with time_machine.travel(NOW, tick=False):
        login_as(admin)
        filtered = client.get(f"/admin/audit.csv?object_type=user&from={day.isoformat()}").get_data()
        expected_filtered = _entries(db, AuditEvent.object_type == "user", AuditEvent.occurred_at >= start)
        dated = client.get(f"/admin/audit.csv?from={day.isoformat()}").get_data()
        expected_dated = _entries(db, AuditEvent.occurred_at >= start, by_time=True)

    assert expected_filtered and filtered == _expected(expected_filtered)
    # the dates alone: the export's own entry (of the filtered export above) is in it, being older
    assert len(expected_dated) > len(expected_filtered) and dated == _expected(expected_dated)


def test_an_empty_export_is_the_header_alone(client, login_as, db):
    with time_machine.travel(NOW, tick=False):
        login_as("admin", email="admin.person@council.invalid")
        body = client.get("/admin/audit.csv?from=2027-03-04&action=denied").get_data()

    assert body == _expected([])


@pytest.mark.real_commits
def test_no_transaction_is_open_while_the_rows_go_out(app, client, login_as, db, monkeypatch):
    """On PostgreSQL too each batch is read in a transaction of its own, ended before its rows go
    out (SQLite's write lock is tested in test_audit_page)."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not uri.startswith("postgresql"):
        pytest.skip("SQLite: test_no_transaction_stays_open_while_the_export_goes_out")
    monkeypatch.setattr(audit_views, "EXPORT_BATCH", 4)
    admin = login_as("admin", email="admin.person@council.invalid")
    for n in range(9):
        audit.record(AuditAction.UPDATE, "user", n, user=admin)
    db.session.commit()
    other = sa.create_engine(uri)
    response = client.get("/admin/audit.csv?all=y")
    chunks = iter(response.response)
    try:
        states = []
        for _ in range(2):  # the header and the first batch, then the second
            next(chunks)
            with other.connect() as connection:
                states += connection.scalars(sa.text(
                    "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")).all()
        rest = list(chunks)
    finally:
        response.close()
        other.dispose()

    assert states and "idle in transaction" not in states and "active" not in states
    assert len(rest) == 1  # the last 2 of 10 (with the admin's entries)


# ---- csvsafe's pieces ------------------------------------------------------------------------


def _line_of(cells: list[str]) -> bytes:
    return csvsafe.FIELD_SEPARATOR.join(cell.encode() for cell in cells)


def _needs_more(cells: list[str], *, first_safe: bool) -> bool:
    checked = cells[1:] if first_safe else cells
    return any(cell.startswith(csvsafe.FORMULA_STARTS) for cell in checked) or any(
        "\x1f" in cell or "\x1e" in cell for cell in cells)


@pytest.mark.parametrize("first_safe", [False, True])
def test_quoted_lines_are_the_csv_modules_lines_or_none_when_a_cell_needs_more(first_safe):
    """Random rows of awkward text: quoted_lines writes what csv (QUOTE_ALL, "\\n") writes of each
    row, or says None exactly when a cell starts a formula or holds a separator."""
    alphabet = ['"', ",", ";", "\n", "\r", "\t", " ", "=", "+", "-", "@", "'", "a", "Z", "0", "é", "😀", "\x1f", "\x1e"]
    rng = random.Random(18)
    nones = 0
    for _ in range(400):
        rows = [[("".join(rng.choices(alphabet, k=rng.randrange(0, 6))) if rng.random() < 0.06
                  else "".join(rng.choices(alphabet[10:17], k=rng.randrange(0, 8)))) for _ in range(5)]
                for _ in range(rng.randrange(1, 5))]
        quoted = csvsafe.quoted_lines([_line_of(row) for row in rows], 5, first_cells_safe=first_safe)
        needs_more = any(_needs_more(row, first_safe=first_safe) for row in rows)
        if needs_more:
            nones += 1
            assert quoted is None, rows
        else:
            assert quoted == "".join(csvsafe.line(row) for row in rows).encode(), rows
    assert 50 < nones < 350  # both kinds were tried
    assert csvsafe.quoted_lines([], 5) == b""


@pytest.mark.parametrize("start", csvsafe.FORMULA_STARTS)
def test_quoted_lines_find_a_formula_in_any_cell(start):
    plain = ["2027-03-04T12:00:00+00:00", "a@b.invalid", "view", "case", "1"]
    for n in range(5):
        cells = list(plain)
        cells[n] = start + "cmd"
        found = csvsafe.quoted_lines([_line_of(plain), _line_of(cells)], 5)
        assert found is None
        if n:
            assert csvsafe.quoted_lines([_line_of(plain), _line_of(cells)], 5, first_cells_safe=True) is None
    assert csvsafe.quoted_lines([_line_of(plain)] * 2, 5) == (csvsafe.line(plain) * 2).encode()


def test_cells_joined_by_the_database_are_quoted_as_csv(db):
    """SQLite gives the joined cells as bytes, PostgreSQL as text: both quote to line()'s bytes."""
    values = ("a", 'b "c"', "", "d,e;f\ng", "agency’s 😀")
    cells = [sa.literal(v, sa.String) for v in values]
    (joined,) = db.session.connection().execute(sa.select(csvsafe.joined_sql(cells, db.engine.dialect.name))).one()

    assert isinstance(joined, bytes if db.engine.dialect.name == "sqlite" else str)
    assert csvsafe.quoted_lines([joined, joined], 5) == (csvsafe.line(values) * 2).encode()
