"""The action log's CSV export: streamed in batches (a key in the log's order, one query for the
rows and one for their escalations per batch, the transaction ended before each batch goes out),
the same rows in the same order as the whole log read at once, and bounded by the dates agreed:
the last 12 months unless dates are chosen, every date on request; a bad date is a GOV.UK error
on the log, never a 500; the export's audit entry names the dates."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from panel.actions import services, views
from panel.dates import DateRange, twelve_months_to
from panel.actions.services import ActionFilters
from panel.csvsafe import formula_safe
from panel.dates import london_today
from panel.extensions import db as _db
from panel.models import Action, ActionStatus, AuditAction, AuditEvent, Escalation, LadderStep
from tests.actions import pages_world
from tests.actions.pages_world import add_actions, today
from tests.sqlite_lock import writers_between_chunks
from tests.conftest import error_summary, page

NOW = datetime(2027, 3, 4, 12, 0, tzinfo=timezone.utc)  # 12 months back: since 5 March 2026 (London)


@pytest.fixture
def world(db):
    w = pages_world.build()
    db.session.commit()
    return w


def _table(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def _exports(db) -> list[dict]:
    db.session.rollback()
    return [json.loads(e.summary) for e in db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.EXPORT, AuditEvent.object_type == "actions").order_by(AuditEvent.id))]


def _made(world, when: datetime, description: str = "Dated", **values) -> Action:
    action = Action(case_id=world.case.id, description=description, agency_id=world.agencies["a"].id,
                    due_on=values.pop("due_on", today() + timedelta(days=7)), status=ActionStatus.OPEN,
                    created_by_id=world.users["coordinator"].id, next_step=LadderStep.REMINDER,
                    next_step_on=today(), created_at=when, **values)
    _db.session.add(action)
    _db.session.flush()
    return action


def _variety(world, db) -> None:
    """Open, overdue, done, cancelled and not done actions, ties on the due date, no assignee,
    another agency, formula-like text, escalations in this round, an old round and by hand."""
    coordinator = world.user("coordinator")
    overdue = add_actions(world, 4, overdue=True)
    later = add_actions(world, 3, agency=world.agencies["b"])
    later[0].assignee_id = None
    later[1].description = "=HYPERLINK(\"http://evil.invalid\")"
    later[2].description = "Line one\nLine two, \"quoted\""
    for i, (action, status) in enumerate(zip(overdue[:3] + later[:1], [ActionStatus.DONE, ActionStatus.CANCELLED,
                                                                       ActionStatus.NOT_DONE, ActionStatus.DONE],
                                             strict=True)):
        action.status = status
        action.due_on = today() - timedelta(days=10 + i % 2)
        action.closed_at = datetime.now(timezone.utc) - timedelta(days=i)
    for action, step, round_ in [(overdue[3], LadderStep.AGENCY, 1), (later[1], LadderStep.CHAIR, 1),
                                 (later[1], LadderStep.MANUAL_AGENCY, 1), (later[2], LadderStep.OVERDUE, 0)]:
        db.session.add(Escalation(action_id=action.id, step=step, round=round_, due_for=today(),
                                  by_id=coordinator.id, told="x <x@test.invalid>"))
    db.session.commit()


def _old_export(filters: ActionFilters) -> list[list[str]]:
    """What the export wrote before it streamed: the whole log read at once, as objects."""
    now = london_today()
    actions = list(_db.session.scalars(services.action_query(filters, now)))
    levels = services.escalation_levels([a.id for a in actions])
    rows = [list(views.CSV_HEADER)]
    for a in actions:
        level = levels.get(a.id)
        rows.append([str(c) for c in [
            a.id, formula_safe(a.case.reference), formula_safe(a.agency.name),
            formula_safe(a.assignee.name if a.assignee else ""), formula_safe(a.description), a.due_on.isoformat(),
            a.status.label, "Yes" if a.is_overdue(now) else "No", level.label if level else "",
            london_today(a.created_at).isoformat(), london_today(a.closed_at).isoformat() if a.closed_at else ""]])
    return rows


# ---- streamed, in batches, the same rows in the same order -----------------------------------


@pytest.mark.parametrize("query, filters", [
    ("", ActionFilters()),
    ("overdue=y", ActionFilters(overdue=True)),
    ("status=done", ActionFilters(status=ActionStatus.DONE)),
    ("escalated=y", ActionFilters(escalated=True)),
    ("agency={b}", None),
])
def test_the_stream_has_the_rows_and_order_of_the_whole_log_read_at_once(client, login_as, db, world, monkeypatch,
                                                                         query, filters):
    _variety(world, db)
    if filters is None:
        filters = ActionFilters(agency_id=world.agencies["b"].id)
    monkeypatch.setattr(views, "EXPORT_BATCH", 2)  # batches end inside runs of equal due dates
    login_as(world.user("coordinator"))

    response = client.get("/actions/export.csv?" + query.format(b=world.agencies["b"].id))

    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    expected = _old_export(filters)
    assert len(expected) > 1
    assert _table(response) == expected


def test_each_batch_is_a_chunk_of_the_stream(client, login_as, db, world, monkeypatch):
    add_actions(world, 10)
    db.session.commit()
    monkeypatch.setattr(views, "EXPORT_BATCH", 4)
    login_as(world.user("coordinator"))

    response = client.get("/actions/export.csv")
    chunks = [chunk.decode("utf-8") for chunk in response.response]

    # 11 actions as 4 + 4 + 3 (the header with the first): no chunk holds more than a batch
    assert [len(list(csv.reader(io.StringIO(c.removeprefix("\ufeff"))))) for c in chunks] == [1 + 4, 4, 3]


def test_the_query_count_grows_by_two_per_batch_only(app, db, count_queries, monkeypatch):
    """30 or 3,000 actions: the same statements but one for the rows and one for their
    escalations per batch (none per row: the case, agency and assignee are joined in)."""
    from tests.actions.test_pages import _grow
    from tests.actions.test_permissions import _get

    world = pages_world.build()
    _grow(world, 30)
    db.session.commit()
    monkeypatch.setattr(views, "EXPORT_BATCH", 50)
    client, _ = _get(app, world.user("coordinator"), "/")
    client.get("/actions/export.csv").get_data()  # warm

    def run() -> tuple[int, int, list[str], int]:
        """Rows, statements, and the batches' ends of transaction (in a test, rollbacks to a savepoint)."""
        with count_queries() as counter:
            rows = len(_table(client.get("/actions/export.csv"))) - 1
        statements = [s for s in counter.statements if not s.startswith("ROLLBACK")]
        return rows, len(statements), statements, len(counter.statements) - len(statements)

    few, few_count, few_statements, few_ends = run()
    _grow(world, 2970)
    db.session.commit()
    many, many_count, many_statements, many_ends = run()

    assert (few, many) == (31, 3001)
    assert (few_ends, many_ends) == (1, 61)  # each batch ends its transaction before its rows go out

    def batches(n: int) -> tuple[int, int]:
        # a short last batch ends the stream; a full one needs one more (empty) read
        return n // 50 + 1, math.ceil(n / 50)

    base = few_count - sum(batches(few))
    assert many_count == base + sum(batches(many)), (few_statements, many_statements)
    assert base <= 12, few_statements
    reads = [s for s in many_statements if "FROM actions JOIN cases" in s and "LIMIT" in s]
    levels = [s for s in many_statements if "FROM escalations" in s]
    assert (len(reads), len(levels)) == batches(many)


@pytest.mark.real_commits
def test_no_transaction_stays_open_while_the_rows_go_out(app, db, monkeypatch):
    """On SQLite a transaction holds the database's write lock: between two batches another
    writer must get in."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not uri.startswith("sqlite:///"):
        pytest.skip("PostgreSQL has no database-wide write lock")
    from tests.actions.test_permissions import _get

    world = pages_world.build()
    add_actions(world, 9)
    db.session.commit()
    monkeypatch.setattr(views, "EXPORT_BATCH", 4)
    client, response = _get(app, world.user("coordinator"), "/actions/export.csv")

    outcomes, rest = writers_between_chunks(response, uri, 2)  # the header and first batch, then the second

    assert outcomes == ["written"] * 2
    assert len(rest) == 1  # the last 2 of 10 actions


def test_the_export_entry_is_committed_before_the_first_row(client, login_as, db, world):
    login_as(world.user("coordinator"))
    response = client.get("/actions/export.csv")  # nothing of the body read yet

    (entry,) = _exports(db)
    assert entry["rows"] == 1
    response.get_data()


# ---- the dates ----------------------------------------------------------------------------------


def _dated_world(world, db) -> dict[str, int]:
    """Actions agreed either side of the 12-month window's first day (5 March 2026, London, when
    it is 4 March 2027) and either side of London midnight starting 1 July 2026 (BST)."""
    made = {
        "13 months ago": _made(world, datetime(2026, 2, 4, 12, tzinfo=timezone.utc)),
        "just before the window": _made(world, datetime(2026, 3, 4, 23, 59, 59, tzinfo=timezone.utc)),
        "first moment of the window": _made(world, datetime(2026, 3, 5, 0, 0, tzinfo=timezone.utc)),
        "30 June 23:30 London": _made(world, datetime(2026, 6, 30, 22, 30, tzinfo=timezone.utc)),
        "1 July 00:30 London": _made(world, datetime(2026, 6, 30, 23, 30, tzinfo=timezone.utc)),
        "1 July 23:30 London": _made(world, datetime(2026, 7, 1, 22, 30, tzinfo=timezone.utc)),
        "2 July 00:30 London": _made(world, datetime(2026, 7, 1, 23, 30, tzinfo=timezone.utc)),
        "today": _made(world, NOW - timedelta(hours=1)),
        "400 days ago": world.action,
    }
    world.action.created_at = NOW - timedelta(days=400)
    db.session.commit()
    return {name: a.id for name, a in made.items()}


def _ids(response) -> set[int]:
    return {int(row[0]) for row in _table(response)[1:]}


def test_the_export_defaults_to_the_last_12_months_with_every_date_on_request(client, login_as, db, world):
    ids = _dated_world(world, db)
    with time_machine.travel(NOW, tick=False):
        login_as(world.user("coordinator"))
        default = _ids(client.get("/actions/export.csv"))
        everything = _ids(client.get("/actions/export.csv?all=y"))

    assert default == {ids[name] for name in ("first moment of the window", "30 June 23:30 London",
                                                      "1 July 00:30 London", "1 July 23:30 London",
                                                      "2 July 00:30 London", "today")}
    assert everything == set(ids.values())
    assert [e["range"] for e in _exports(db)] == ["last 12 months: 2026-03-05 to now", "all dates"]
    assert [e["rows"] for e in _exports(db)] == [6, 9]


@pytest.mark.parametrize("query, names, summary", [
    ("from=2026-07-01&to=2026-07-01", ["1 July 00:30 London", "1 July 23:30 London"], "2026-07-01 to 2026-07-01"),
    ("from=1&from=7&from=2026", ["1 July 00:30 London", "1 July 23:30 London", "2 July 00:30 London", "today"],
     "2026-07-01 to now"),
    ("to=2026-06-30", ["400 days ago", "13 months ago", "just before the window", "first moment of the window",
                       "30 June 23:30 London"], "the first to 2026-06-30"),
    ("to=2026-06-30&all=y", ["400 days ago", "13 months ago", "just before the window",
                             "first moment of the window", "30 June 23:30 London"], "the first to 2026-06-30"),
])
def test_the_export_takes_the_dates_agreed_in_london(client, login_as, db, world, query, names, summary):
    ids = _dated_world(world, db)
    with time_machine.travel(NOW, tick=False):
        login_as(world.user("coordinator"))
        exported = _ids(client.get(f"/actions/export.csv?{query}"))

    assert exported == {ids[name] for name in names}
    (entry,) = _exports(db)
    assert entry["range"] == summary and entry["rows"] == len(names)


def test_the_log_says_which_dates_the_export_has(client, login_as, db, world):
    with time_machine.travel(NOW, tick=False):
        login_as(world.user("coordinator"))
        none = page(client.get("/actions?status=cancelled"))
        soup = page(client.get("/actions"))
        chosen = page(client.get("/actions?agency=%d&from=2026-01-01&to=2026-03-31" % world.agencies["a"].id))

    assert none.select_one("#action-count").get_text(" ", strip=True) == "No actions match the filters."
    assert none.select_one("#export-link") is None  # nothing to download
    link, every = soup.select_one("#export-link"), soup.select_one("#export-all")
    assert link.get_text(" ", strip=True) == ("Download the actions agreed in the last 12 months (since 5 March 2026) "
                                              "as a spreadsheet (CSV)")
    assert link["href"] == "/actions/export.csv"
    assert every.get_text(strip=True) == "Download all dates" and every["href"] == "/actions/export.csv?all=y"
    assert "With no dates, the download has the actions agreed in the last 12 months" in soup.get_text(" ")
    assert soup.select_one("#export-dates form")["action"] == "/actions/export.csv"
    assert soup.select_one("#export-dates").get("open") is None

    link, every = chosen.select_one("#export-link"), chosen.select_one("#export-all")
    assert link.get_text(" ", strip=True) == ("Download these actions agreed from 1 January 2026 to 31 March 2026 "
                                              "as a spreadsheet (CSV)")
    a = world.agencies["a"].id
    assert link["href"] == f"/actions/export.csv?agency={a}&from=2026-01-01&to=2026-03-31"
    assert every["href"] == f"/actions/export.csv?all=y&agency={a}"
    hidden = {i["name"]: i["value"] for i in chosen.select("#export-dates input[type=hidden]")}
    assert hidden == {"agency": str(a)}
    assert [i["value"] for i in chosen.select("#export-dates input[name=from]")] == ["1", "1", "2026"]


@pytest.mark.parametrize("query, message", [
    ("from=2026-02-30", "Agreed from must be a real date"),
    ("from=31&from=2&from=2026", "Agreed from must be a real date"),
    ("to=1&to=&to=2026", "Agreed to must include a month"),
    ("to=1&to=2&to=26", "Year in agreed to must include 4 numbers"),
    ("from=2026-03-01&to=2026-02-01", "Agreed to must be the same as or after agreed from"),
    ("from=10000-01-01", "Agreed from must be a real date"),
    ("from=<script>alert(1)</script>", "Agreed from must be a real date"),
    ("from=2026-01-01&from=2026-02-01", "Agreed from must be a real date"),
])
def test_a_bad_date_is_a_message_on_the_log(client, login_as, db, world, query, message):
    login_as(world.user("coordinator"))

    export = client.get(f"/actions/export.csv?overdue=y&{query}")

    assert export.status_code == 302 and export.headers["Location"].startswith("/actions?")
    shown = client.get(export.headers["Location"])
    assert shown.status_code == 200
    assert error_summary(shown) == [message]
    soup = page(shown)
    assert soup.select_one("#export-dates").get("open") is not None  # the dates, with the message, to put right
    assert message in soup.select_one("#export-dates").get_text(" ")
    assert soup.select_one("#export-link") is None
    assert "<script>alert" not in shown.get_data(as_text=True)
    assert _exports(db) == []


@pytest.mark.parametrize("query", [
    "agency=abc&status=<script>&overdue=maybe&all=<b>",
    "agency=99999999999999999999&status=open%00",
    "case=%27%3B%20DROP%20TABLE%20actions%3B--",
    "from=0001-01-01&to=9999-12-31",
    "to=9999-12-31",
    "from=9999-12-31",
    "all=y&all=n&page=-1",
    "from=%00&to=%0a",
])
def test_hostile_values_never_break_the_export(client, login_as, db, world, query):
    login_as(world.user("coordinator"))

    response = client.get(f"/actions/export.csv?{query}")

    assert response.status_code in (200, 302)
    if response.status_code == 302:
        shown = client.get(response.headers["Location"])
        assert shown.status_code == 200 and error_summary(shown)
        assert "<script>" not in shown.get_data(as_text=True)
    else:
        table = _table(response)
        assert table[0] == list(views.CSV_HEADER)
        assert all(len(row) == len(table[0]) for row in table)
        (entry,) = _exports(db)
        assert entry["rows"] == len(table) - 1


def test_a_far_date_range_exports_every_action(client, login_as, db, world):
    login_as(world.user("coordinator"))
    response = client.get("/actions/export.csv?from=0001-01-01&to=9999-12-31")
    assert _ids(response) == {world.action.id}
    (entry,) = _exports(db)
    assert entry["range"] == "0001-01-01 to 9999-12-31"


# ---- the range itself --------------------------------------------------------------------------


@pytest.mark.parametrize("day, first", [
    (date(2027, 3, 4), date(2026, 3, 5)),
    (date(2027, 1, 1), date(2026, 1, 2)),
    (date(2026, 12, 31), date(2026, 1, 1)),
    (date(2028, 2, 29), date(2027, 3, 1)),
    (date(2027, 2, 28), date(2026, 3, 1)),
])
def test_the_last_12_months_end_today(day, first):
    assert twelve_months_to(day) == first
    assert DateRange.of(None, None, everything=False, today=day) == DateRange(first, None, default=True)
    assert DateRange.of(None, None, everything=True, today=day) == DateRange(None, None)
    assert DateRange.of(None, day, everything=False, today=day) == DateRange(None, day)


def test_the_range_in_words():
    assert DateRange(date(2026, 3, 5), None, default=True).words() == "in the last 12 months (since 5 March 2026)"
    assert DateRange(None, None).words() == "on any date"
    assert DateRange(date(2026, 1, 1), date(2026, 1, 1)).words() == "on 1 January 2026"
    assert DateRange(date(2026, 1, 1), None).words() == "on or after 1 January 2026"
    assert DateRange(None, date(2026, 1, 1)).words() == "on or before 1 January 2026"
    # London midnight, in UTC: the start of the day in summer time is 23:00 the day before
    assert DateRange(date(2026, 7, 1), date(2026, 7, 1)).utc_bounds() == (
        datetime(2026, 6, 30, 23, tzinfo=timezone.utc), datetime(2026, 7, 1, 23, tzinfo=timezone.utc))
    assert DateRange(date.min, date.max).utc_bounds()[1] is None
