"""The audit trail page and its CSV export: filters, order, pagination, query count, CSV safety."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from panel import audit
from panel.dates import twelve_months_to
from panel.admin import audit_views
from panel.dates import london_today
from panel.models import AuditAction, AuditEvent, Role

from tests import factories
from tests.sqlite_lock import writers_between_chunks
from tests.conftest import error_summary, page


def _add(n: int, *, user=None, action=AuditAction.UPDATE, object_type="user", object_id=None, summary=None):
    rows = [audit.record(action, object_type, i if object_id is None else object_id,
                         summary=summary if summary is not None else {"n": i}, user=user)
            for i in range(n)]
    return rows


def _table_rows(response) -> list[list[str]]:
    soup = page(response)
    return [[td.get_text(" ", strip=True) for td in tr.find_all("td")] for tr in soup.select("table tbody tr")]


def _entry_ids(response) -> list[int]:
    return [int(tr["id"].removeprefix("entry-")) for tr in page(response).select("table tbody tr")]


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


@pytest.fixture
def admin(login_as):
    return login_as("admin", email="admin.person@council.invalid")


# ---- the page ---------------------------------------------------------------------------

def test_admin_sees_the_trail_newest_first(client, admin, db):
    other = factories.create_user(email="jo.bloggs@police.invalid")
    first = audit.record(AuditAction.CREATE, "agency", 7, summary={"name": "Housing"}, user=admin)
    second = audit.record(AuditAction.LOGIN, "user", other.id, user=other)
    db.session.commit()

    response = client.get("/admin/audit")

    assert response.status_code == 200
    soup = page(response)
    assert soup.h1.get_text(strip=True) == "Audit trail"
    assert _entry_ids(response) == [second.id, first.id]
    rows = _table_rows(response)
    assert rows[0][1:4] == ["jo.bloggs@police.invalid", "Signed in", f"user {other.id}"]
    assert rows[1][1:4] == ["admin.person@council.invalid", "Created", "agency 7"]
    assert '"name": "Housing"' in rows[1][4]


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ADMIN])
def test_only_admins_see_the_trail(client, login_as, role):
    login_as(role)
    assert client.get("/admin/audit").status_code == 404
    assert client.get("/admin/audit.csv").status_code == 404


def test_anonymous_is_sent_to_sign_in(client):
    for url in ("/admin/audit", "/admin/audit.csv"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


def test_empty_trail_says_so(client, admin):
    soup = page(client.get("/admin/audit"))
    assert soup.select("table") == []
    assert "The audit trail is empty." in soup.get_text()


def test_user_filter_matches_part_of_the_email_whatever_the_case(client, admin, db):
    jo = factories.create_user(email="jo.bloggs@police.invalid")
    sam = factories.create_user(email="sam.smith@housing.invalid")
    mine = audit.record(AuditAction.LOGIN, "user", jo.id, user=jo)
    audit.record(AuditAction.LOGIN, "user", sam.id, user=sam)
    db.session.commit()

    response = client.get("/admin/audit", query_string={"user": "  BLOGGS@Police "})

    assert _entry_ids(response) == [mine.id]
    assert "matching the filters" in page(response).get_text()


def test_user_filter_treats_wildcards_literally(client, admin, db):
    jo = factories.create_user(email="jo_b@police.invalid")
    sam = factories.create_user(email="joxb@housing.invalid")
    mine = audit.record(AuditAction.LOGIN, "user", jo.id, user=jo)
    audit.record(AuditAction.LOGIN, "user", sam.id, user=sam)
    db.session.commit()

    assert _entry_ids(client.get("/admin/audit", query_string={"user": "jo_b"})) == [mine.id]
    assert _entry_ids(client.get("/admin/audit", query_string={"user": "%"})) == []


def test_action_object_type_and_id_filters(client, admin, db):
    wanted = audit.record(AuditAction.UPDATE, "agency", 12, user=admin)
    audit.record(AuditAction.UPDATE, "agency", 13, user=admin)
    audit.record(AuditAction.CREATE, "agency", 12, user=admin)
    audit.record(AuditAction.UPDATE, "user", 12, user=admin)
    db.session.commit()

    response = client.get("/admin/audit", query_string={"action": "update", "object_type": "Agency",
                                                          "object_id": "12"})

    assert _entry_ids(response) == [wanted.id]
    soup = page(response)
    assert soup.select_one("select#action option[selected]")["value"] == "update"


def test_date_filters_use_uk_days(client, admin, db):
    """1 July 2027 in the UK (BST) begins at 23:00 UTC on 30 June."""
    with time_machine.travel(datetime(2027, 6, 30, 22, 59, tzinfo=timezone.utc), tick=False):
        before = audit.record(AuditAction.UPDATE, "user", 1, user=admin)
    with time_machine.travel(datetime(2027, 6, 30, 23, 1, tzinfo=timezone.utc), tick=False):
        first_of_july = audit.record(AuditAction.UPDATE, "user", 2, user=admin)
    with time_machine.travel(datetime(2027, 7, 1, 22, 59, tzinfo=timezone.utc), tick=False):
        late_first_of_july = audit.record(AuditAction.UPDATE, "user", 3, user=admin)
    with time_machine.travel(datetime(2027, 7, 1, 23, 1, tzinfo=timezone.utc), tick=False):
        audit.record(AuditAction.UPDATE, "user", 4, user=admin)
    db.session.commit()

    one_day = client.get("/admin/audit?from=1&from=7&from=2027&to=1&to=7&to=2027")
    assert _entry_ids(one_day) == [late_first_of_july.id, first_of_july.id]
    until = client.get("/admin/audit", query_string={"to": "2027-06-30"})
    assert _entry_ids(until) == [before.id]
    # The filter is kept in the form and in the pagination and export links.
    soup = page(one_day)
    assert [i["value"] for i in soup.select("input[name=from]")] == ["1", "7", "2027"]
    assert "from=2027-07-01" in soup.find("a", string=lambda s: s and "CSV" in s)["href"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=31&from=2&from=2027", "Date from must be a real date"),
        ("from=1&from=&from=2027", "Date from must include a month"),
        ("from=&from=&from=2027", "Date from must include a day and month"),
        ("to=1&to=2&to=27", "Year in date to must include 4 numbers"),
        ("to=one&to=2&to=2027", "Date to must be a real date"),
        ("from=not-a-date", "Date from must be a real date"),
        ("from=1&from=2", "Date from must be a real date"),
        ("from=2&from=1&from=2027&to=1&to=1&to=2027", "Date to must be the same as or after date from"),
        ("to=31&to=12&to=9999", None),
        ("action=drop table", "Select an action from the list"),
        ("object_id=" + "9" * 65, "Object ID must be 64 characters or fewer"),
    ],
)
def test_invalid_filters_get_govuk_messages(client, admin, db, query, message):
    audit.record(AuditAction.UPDATE, "user", 1, user=admin)
    db.session.commit()

    response = client.get(f"/admin/audit?{query}")

    assert response.status_code == 200
    if message is None:
        assert error_summary(response) == []
        return
    assert error_summary(response) == [message]
    soup = page(response)
    assert soup.title.get_text().startswith("Error: ")
    assert soup.select("table") == []
    # An invalid export goes back to the page, where the message is shown.
    export = client.get(f"/admin/audit.csv?{query}")
    assert export.status_code == 302
    assert error_summary(client.get(export.headers["Location"])) == [message]


def test_hostile_filter_values_are_shown_as_text(client, admin):
    response = client.get("/admin/audit", query_string={"user": "<script>alert(1)</script>",
                                                         "object_id": "1' OR '1'='1"})
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)
    assert page(response).select_one("input#user")["value"] == "<script>alert(1)</script>"


@pytest.mark.parametrize("field", ["user", "object_type", "object_id", "from", "to", "action", "page"])
def test_control_characters_in_filters_never_cause_an_error(client, admin, db, field):
    audit.record(AuditAction.UPDATE, "user", 1, user=admin)
    db.session.commit()

    for url in ("/admin/audit", "/admin/audit.csv"):
        response = client.get(url, query_string={field: "ab\x00c\x1b"})
        response.close()
        assert response.status_code in (200, 302)


def test_pages_of_fifty_with_govuk_pagination(client, admin, db):
    rows = _add(120, user=admin)
    db.session.commit()
    newest_first = [r.id for r in reversed(rows)]

    first = client.get("/admin/audit")
    assert _entry_ids(first) == newest_first[:50]
    nav = page(first).select_one("nav.govuk-pagination")
    assert [a.get_text(strip=True) for a in nav.select(".govuk-pagination__item a")] == ["1", "2", "3"]
    assert nav.select_one(".govuk-pagination__item--current").get_text(strip=True) == "1"
    assert nav.select_one(".govuk-pagination__prev") is None
    assert nav.select_one(".govuk-pagination__next a")["href"] == "/admin/audit?page=2"
    assert "Showing 1 to 50 of 120 entries" in page(first).get_text(" ", strip=True)

    last = client.get("/admin/audit?page=3")
    assert _entry_ids(last) == newest_first[100:]
    assert "Showing 101 to 120 of 120 entries" in page(last).get_text(" ", strip=True)
    assert page(last).select_one(".govuk-pagination__next") is None

    assert _entry_ids(client.get("/admin/audit?page=99")) == newest_first[100:]
    assert _entry_ids(client.get("/admin/audit?page=-1")) == newest_first[:50]
    assert _entry_ids(client.get("/admin/audit?page=lots")) == newest_first[:50]


def test_pagination_keeps_the_filters(client, admin, db):
    _add(60, user=admin, object_type="agency")
    _add(5, user=admin, object_type="user")
    db.session.commit()

    response = client.get("/admin/audit?object_type=agency")

    nav = page(response).select_one("nav.govuk-pagination")
    assert nav.select_one(".govuk-pagination__next a")["href"] == "/admin/audit?object_type=agency&page=2"
    assert len(_entry_ids(client.get("/admin/audit?object_type=agency&page=2"))) == 10


def test_the_number_of_queries_does_not_grow_with_the_rows(client, admin, db, count_queries):
    def queries_for(url: str) -> int:
        db.session.expire_all()
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        return counter.count

    by_user = "/admin/audit?user=invalid&from=2000-01-01&page=1"  # the admin's entries, then everyone's
    _add(3, user=admin)
    db.session.commit()
    few = queries_for("/admin/audit")
    few_by_user = queries_for(by_user)
    others = [factories.create_user() for _ in range(10)]
    for i in range(117):
        audit.record(AuditAction.LOGIN, "user", i, user=others[i % 10])
    db.session.commit()
    many = queries_for("/admin/audit")
    many_by_user = queries_for(by_user)

    assert few == many
    assert many <= 5
    # searching by user finds the people first (one query), then their entries by id
    assert few_by_user == many_by_user == many + 1


# ---- the CSV export ---------------------------------------------------------------------

def test_export_is_a_streamed_csv_attachment_with_a_header(client, login_as, db):
    with time_machine.travel(datetime(2027, 3, 4, 23, 30, tzinfo=timezone.utc), tick=False):
        admin = login_as("admin", email="admin.person@council.invalid")
        rows = _add(3, user=admin)
        db.session.commit()
        response = client.get("/admin/audit.csv")

    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="caspa-audit-OFFICIAL-SENSITIVE-2027-03-04.csv"')
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == ('\ufeff"When (UTC)","User email","Action","Object type","Object ID","Summary",'
                                    '"IP address","User agent"')
    table = _csv(response)
    assert [r[4] for r in table[1:]] == [str(r.object_id) for r in reversed(rows)]
    newest = table[1]
    assert newest[0] == rows[-1].occurred_at.isoformat()
    assert newest[0].endswith("+00:00")
    assert newest[1:4] == ["admin.person@council.invalid", "update", "user"]
    assert json.loads(newest[5]) == {"n": 2}


def test_export_applies_the_filters(client, admin, db):
    keep = audit.record(AuditAction.LOGIN, "user", admin.id, user=admin)
    audit.record(AuditAction.LOGOUT, "user", admin.id, user=admin)
    db.session.commit()

    table = _csv(client.get("/admin/audit.csv?action=login"))

    assert len(table) == 2
    assert table[1][0] == keep.occurred_at.isoformat()
    assert table[1][2] == "login"


def test_export_is_audited_and_committed(client, admin, db):
    _add(4, user=admin, object_type="agency")
    _add(2, user=admin, object_type="user")
    db.session.commit()

    table = _csv(client.get("/admin/audit.csv?object_type=agency&user=admin"))

    db.session.rollback()
    export = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == AuditAction.EXPORT)
    ).scalar_one()
    assert export.object_type == "audit_events"
    assert export.user_id == admin.id
    since = twelve_months_to(london_today()).isoformat()
    assert json.loads(export.summary) == {"filters": {"object_type": "agency", "user": "admin"},
                                          "range": f"last 12 months: {since} to now", "rows": 4}
    assert export.ip == "127.0.0.1"
    assert len(table) == 1 + 4
    # The export's own entry is not in the file it describes.
    assert all(row[2] != "export" for row in table[1:])
    assert audit.verify_chain().ok


def test_export_streams_in_batches_without_losing_or_repeating_rows(client, admin, db, monkeypatch):
    monkeypatch.setattr(audit_views, "EXPORT_BATCH", 7)
    rows = _add(30, user=admin)
    db.session.commit()

    table = _csv(client.get("/admin/audit.csv"))

    assert [r[4] for r in table[1:]] == [str(r.object_id) for r in reversed(rows)]


def test_each_export_batch_starts_where_the_last_ended(client, admin, db, monkeypatch, count_queries):
    """One upper bound on the id per batch: with a second, fixed one (the newest id when the export
    began) SQLite's plan used that bound, so every batch walked down from the newest row and the
    export took time quadratic in the trail. The plan of a batch is a range search on the key."""
    monkeypatch.setattr(audit_views, "EXPORT_BATCH", 7)
    _add(30, user=admin)
    db.session.commit()

    with count_queries() as counter:  # every date: the batches have no bound but the id
        response = client.get("/admin/audit.csv?all=y")
        assert len(_csv(response)) > 30
    batches = [s for s in counter.statements if "audit_events.id <" in s and "LIMIT" in s.upper()]

    assert len(batches) >= 5
    for statement in batches:
        assert statement.count("audit_events.id <") == 1, statement
    if db.engine.dialect.name == "sqlite":
        plan = db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + batches[-1],
                                                       (10**9,) + (7, 0)[:batches[-1].count("?") - 1]).all()
        assert any("USING INTEGER PRIMARY KEY (rowid<?)" in row[-1] for row in plan), plan


@pytest.mark.parametrize("dangerous", ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)",
                                       "\tcmd", "\rcmd"])
def test_export_defuses_spreadsheet_formulas(client, admin, db, dangerous):
    audit.record(AuditAction.UPDATE, "user", dangerous, summary=dangerous, user=admin)
    db.session.commit()

    row = _csv(client.get("/admin/audit.csv"))[1]

    assert row[4] == "'" + dangerous
    assert row[5] == "'" + dangerous
    assert row[4][0] not in "=+-@\t\r"


def test_export_leaves_ordinary_values_alone(client, admin, db):
    audit.record(AuditAction.UPDATE, "user", "42", summary='{"a": "b"}', user=admin)
    db.session.commit()

    row = _csv(client.get("/admin/audit.csv"))[1]

    assert row[4] == "42"
    assert row[5] == '{"a": "b"}'


# ---- the export's dates: the last 12 months unless chosen, every date on request ----------------

NOW = datetime(2027, 3, 4, 12, 0, tzinfo=timezone.utc)  # 12 months back: since 5 March 2026 (London)


def _dated_trail(admin) -> dict[str, AuditEvent]:
    """One entry at each moment, written then (the chain stays in order)."""
    made = {}
    for name, when in [("13 months ago", datetime(2026, 2, 4, 12, tzinfo=timezone.utc)),
                       ("just before the window", datetime(2026, 3, 4, 23, 59, 59, tzinfo=timezone.utc)),
                       ("first moment of the window", datetime(2026, 3, 5, 0, 0, tzinfo=timezone.utc)),
                       ("30 June 23:30 London", datetime(2026, 6, 30, 22, 30, tzinfo=timezone.utc)),
                       ("1 July 00:30 London", datetime(2026, 6, 30, 23, 30, tzinfo=timezone.utc)),
                       ("today", NOW - timedelta(hours=1))]:
        with time_machine.travel(when, tick=False):
            made[name] = audit.record(AuditAction.UPDATE, "agency", name, user=admin)
    return made


def _exports(db) -> list[dict]:
    db.session.rollback()
    return [json.loads(e.summary) for e in db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.EXPORT).order_by(AuditEvent.id))]


@pytest.mark.parametrize("query, names, summary", [
    ("", ["first moment of the window", "30 June 23:30 London", "1 July 00:30 London", "today"],
     "last 12 months: 2026-03-05 to now"),
    ("all=y", ["13 months ago", "just before the window", "first moment of the window", "30 June 23:30 London",
               "1 July 00:30 London", "today"], "all dates"),
    ("from=2026-07-01", ["1 July 00:30 London", "today"], "2026-07-01 to now"),
    ("to=2026-06-30&all=y", ["13 months ago", "just before the window", "first moment of the window",
                             "30 June 23:30 London"], "the first to 2026-06-30"),
    ("from=2026-03-04&to=2026-03-04", ["just before the window"], "2026-03-04 to 2026-03-04"),
    ("from=2027-03-05", [], "2027-03-05 to now"),
])
def test_export_takes_the_dates_with_the_last_12_months_by_default(client, login_as, db, query, names, summary):
    admin = login_as("admin", email="admin.person@council.invalid")
    _dated_trail(admin)
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        login_as(admin)
        table = _csv(client.get(f"/admin/audit.csv?object_type=agency&{query}"))

    assert [row[4] for row in table[1:]] == list(reversed(names))  # newest first
    (entry,) = _exports(db)
    assert entry["range"] == summary and entry["rows"] == len(names)


def _batch_reads(db, client, url: str, marker: str) -> tuple[list[list[str]], list[tuple[str, tuple]]]:
    """The CSV, and the export's batch reads (their statement holds marker) with their parameters."""
    seen: list[tuple[str, tuple]] = []

    def _before(conn, cursor, statement, parameters, context, executemany):
        if marker in statement and "LIMIT" in statement.upper():  # PostgreSQL's parameters are named
            seen.append((statement, tuple(parameters.values() if isinstance(parameters, dict) else parameters)))

    sa.event.listen(db.engine, "before_cursor_execute", _before)
    try:
        table = _csv(client.get(url))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", _before)
    return table, seen


def _sqlite_plan(db, statement: str, parameters: tuple) -> str:
    return " ".join(r[-1] for r in db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                           parameters).all())


def test_the_dates_with_other_filters_are_read_between_their_first_and_last_ids(client, login_as, db, monkeypatch):
    """With a filter, its index gives the entries in id order: the first and last ids of the
    dates bound every batch (one upper bound, as before), a range search on the key between them."""
    monkeypatch.setattr(audit_views, "EXPORT_BATCH", 2)
    admin = login_as("admin", email="admin.person@council.invalid")
    made = _dated_trail(admin)
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        login_as(admin)
        table, seen = _batch_reads(db, client, "/admin/audit.csv?object_type=agency&from=2026-03-05&to=2026-06-30",
                                   "audit_events.id <")

    assert [row[4] for row in table[1:]] == ["30 June 23:30 London", "first moment of the window"]
    first, last = made["first moment of the window"].id, made["30 June 23:30 London"].id
    assert len(seen) == 2  # a full batch of both rows, then a read of the empty range below the first
    for (statement, parameters), before in zip(seen, (last + 1, first), strict=True):
        assert statement.count("audit_events.id <") == 1 and "audit_events.id >=" in statement
        assert first in parameters and before in parameters
    if db.engine.dialect.name == "sqlite":
        plan = _sqlite_plan(db, *seen[0])
        # the key's range between the dates' ends, within the filter's index, and no sort
        assert "rowid>? AND rowid<?)" in plan and "TEMP B-TREE" not in plan, plan


def test_the_dates_alone_are_read_down_the_index_on_the_time(client, login_as, db, monkeypatch):
    """Only the dates' entries are read, however the ids run (here the newest entry was written
    first, as when older history is loaded after the first entries): each batch continues down
    the index on the time from the last (time, id) sent, in time order, newest first."""
    monkeypatch.setattr(audit_views, "EXPORT_BATCH", 2)
    admin = login_as("admin", email="admin.person@council.invalid")
    with time_machine.travel(NOW - timedelta(minutes=30), tick=False):
        audit.record(AuditAction.UPDATE, "agency", "written first, the newest", user=admin)
    _dated_trail(admin)
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        login_as(admin)
        table, seen = _batch_reads(db, client, "/admin/audit.csv?from=2026-03-05",
                                   "(audit_events.occurred_at, audit_events.id) <")

    assert [row[4] for row in table[1:]] == ["written first, the newest", "today", "1 July 00:30 London",
                                             "30 June 23:30 London", "first moment of the window"]
    assert [row[0] for row in table[1:]] == sorted((row[0] for row in table[1:]), reverse=True)
    assert len(seen) == 3  # 2 + 2 + 1
    for statement, _ in seen:
        assert "audit_events.id <" not in statement and statement.count("audit_events.occurred_at <=") == 1
    (entry,) = _exports(db)
    assert entry["rows"] == 5
    if db.engine.dialect.name == "sqlite":
        plan = _sqlite_plan(db, *seen[1])
        assert "INDEX ix_audit_events_occurred_at (occurred_at>? AND occurred_at<?)" in plan, plan
        assert "TEMP B-TREE" not in plan, plan


def test_the_page_says_which_dates_the_export_has(client, login_as, db):
    with time_machine.travel(NOW, tick=False):
        admin = login_as("admin", email="admin.person@council.invalid")
        _add(2, user=admin)
        db.session.commit()
        default = page(client.get("/admin/audit"))
        filtered = page(client.get("/admin/audit?action=update"))
        dated = page(client.get("/admin/audit?from=2027-01-01&to=2027-03-04"))
        since = page(client.get("/admin/audit?from=2027-01-01"))

    link, every = default.select_one("#export-link"), default.select_one("#export-all")
    assert link.get_text(" ", strip=True) == "Download the entries of the last 12 months as a spreadsheet (CSV)"
    assert link["href"] == "/admin/audit.csv"
    assert every.get_text(strip=True) == "Download all dates" and every["href"] == "/admin/audit.csv?all=y"
    assert filtered.select_one("#export-all")["href"] == "/admin/audit.csv?action=update&all=y"
    link = dated.select_one("#export-link")
    assert link.get_text(" ", strip=True) == ("Download these entries from 1 January 2027 to 4 March 2027 "
                                              "as a spreadsheet (CSV)")
    assert link["href"] == "/admin/audit.csv?from=2027-01-01&to=2027-03-04"
    assert dated.select_one("#export-all") is None
    assert since.select_one("#export-link").get_text(" ", strip=True) == (
        "Download these entries on or after 1 January 2027 as a spreadsheet (CSV)")


@pytest.mark.parametrize("query, message", [
    ("from=2026-02-30", "Date from must be a real date"),
    ("to=1&to=&to=2026", "Date to must include a month"),
    ("from=2026-03-01&to=2026-02-01&all=y", "Date to must be the same as or after date from"),
    ("from=<script>x</script>", "Date from must be a real date"),
])
def test_a_bad_date_on_the_export_is_a_message_on_the_page(client, admin, db, query, message):
    export = client.get(f"/admin/audit.csv?{query}")

    assert export.status_code == 302 and export.headers["Location"].startswith("/admin/audit?")
    shown = client.get(export.headers["Location"])
    assert shown.status_code == 200 and error_summary(shown) == [message]
    assert "<script>x" not in shown.get_data(as_text=True)
    assert _exports(db) == []


@pytest.mark.parametrize("query", ["all=<b>&from=0001-01-01&to=9999-12-31", "to=9999-12-31", "from=9999-12-31",
                                   "all=y&all=n", "all=%00"])
def test_hostile_dates_never_break_the_export(client, admin, db, query):
    _add(2, user=admin)
    db.session.commit()

    response = client.get(f"/admin/audit.csv?{query}")

    assert response.status_code == 200
    table = _csv(response)
    (entry,) = _exports(db)
    assert entry["rows"] == len(table) - 1


@pytest.mark.real_commits
def test_no_transaction_stays_open_while_the_export_goes_out(app, client, login_as, db, monkeypatch):
    """On SQLite a transaction holds the database's write lock: from the first bytes on, and
    between two batches, another writer must get in."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not uri.startswith("sqlite:///"):
        pytest.skip("PostgreSQL has no database-wide write lock")
    monkeypatch.setattr(audit_views, "EXPORT_BATCH", 4)
    admin = login_as("admin", email="admin.person@council.invalid")
    _add(9, user=admin)
    db.session.commit()
    response = client.get("/admin/audit.csv?all=y")

    outcomes, rest = writers_between_chunks(response, uri, 2)  # the header and first batch, then the second

    assert outcomes == ["written"] * 2
    assert len(rest) == 1  # the last 2 (with the admin's sign-in entries) of 10


# ---- a trail of millions (issue 18) -------------------------------------------------------------


def test_the_page_counts_no_further_than_the_cap(client, admin, db, monkeypatch):
    monkeypatch.setattr(audit_views, "COUNT_CAP", 60)
    _add(90, user=admin)
    db.session.commit()

    text = page(client.get("/admin/audit")).get_text(" ", strip=True)
    last = page(client.get("/admin/audit?page=2")).get_text(" ", strip=True)

    assert "Showing 1 to 50 of more than 60 entries." in text and "Use the filters to find older entries." in text
    assert "Showing 51 to 60 of more than 60 entries." in last  # page 2 is the last one offered


def test_a_few_entries_are_counted_exactly(client, admin, db):
    _add(3, user=admin)
    db.session.commit()

    text = page(client.get("/admin/audit", query_string={"object_type": "user"})).get_text(" ", strip=True)

    assert "3 entries matching the filters." in text


def _plan(db, statement: sa.Select) -> str:
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    return " ".join(row[-1] for row in db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))


def test_finding_by_object_and_by_user_use_indexes(admin, db):
    """'Who viewed this case' reads the case's entries through (object_type, object_id); a search by
    user finds the people first, then their entries through the user id: neither reads the trail."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the plan is checked on SQLite; PostgreSQL has the same indexes")
    form = audit_views.AuditFilterForm(data={"object_type": "case", "object_id": "CASPA-2027-001"})
    by_object = sa.select(AuditEvent.id).where(*audit_views._conditions(form)).order_by(AuditEvent.id.desc())
    factories.create_user(email="joe.bloggs@example.invalid")
    db.session.flush()
    form = audit_views.AuditFilterForm(data={"user": "bloggs"})
    by_user = sa.select(AuditEvent.id).where(*audit_views._conditions(form)).order_by(AuditEvent.id.desc()).limit(50)

    assert "ix_audit_events_object" in _plan(db, by_object)
    # the user's newest entries, along (user_id, id) backwards: no sort of all of them (0024)
    plan = _plan(db, by_user)
    assert "ix_audit_events_user_id_id (user_id=?)" in plan and "TEMP B-TREE" not in plan, plan
