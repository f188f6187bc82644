"""The Board's reports remembered for one state of the records (panel.reports.remembered): the
database's own triggers change a token whenever a table the figures count is written, and a
report is used again only while the token is unchanged. A remembered report is the one the
records would give now; every view is still audited."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from panel.models import ActionStatus, AttendanceStatus, AuditAction, AuditEvent, LadderStep, OutcomeReview
from panel.reports import figures, periods, remembered
from tests.conftest import PG_URL, page
from tests.reports import board_world as w
from tests.reports.board_world import at

URL = "/reports?from=2026-04-01&to=2026-06-30"
PERIOD = periods.Period(date(2026, 4, 1), date(2026, 6, 30))


def triggered(connection) -> set[tuple[str, str]]:
    """(table, operation) for each trigger that changes the reports' token, as the database has them."""
    if connection.dialect.name == "postgresql":
        rows = connection.execute(sa.text(
            "SELECT event_object_table, lower(event_manipulation) FROM information_schema.triggers "
            "WHERE trigger_name = 'report_data_changed'")).all()
        return {(table, operation) for table, operation in rows}
    rows = connection.execute(sa.text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' "
                                      "AND name LIKE 'report_data_changed_%'")).all()
    return {(table, name.rsplit("_", 1)[1]) for name, table in rows}


def _counted_tables() -> set[str]:
    """The tables whose every insert, update and delete changes the token."""
    from panel.extensions import db as _db

    pairs = triggered(_db.session.connection())
    return {table for table, _ in pairs if all((table, op) in pairs for op in ("insert", "update", "delete"))}


def _token(db) -> str:
    return db.session.scalar(sa.text("SELECT token FROM report_data_version WHERE id = 1"))


def _referrals_in_period(client) -> str:
    soup = page(client.get(URL))
    totals = soup.select_one("#table-referrals tbody tr:last-child")
    return " ".join(totals.get_text(" ", strip=True).split())


@pytest.fixture
def world(app, db):
    a, b = w.agencies("Alpha Agency", "Beta Agency")
    for i in range(7):
        w.referral((a, b)[i % 2], at(date(2026, 4, 2 + i)), ("accepted", "accepted", at(date(2026, 4, 20))))
    db.session.commit()
    remembered.forget()
    return a, b


def test_every_table_the_figures_read_is_one_whose_writes_change_the_token(app, db, count_queries):
    """The tables with the triggers (migration 0023 and any after it) are exactly the tables
    compute() reads (its SQL, as run)."""
    w.agencies("Alpha Agency")
    db.session.commit()
    with count_queries() as counted:
        figures.compute(PERIOD)
    names = {t.name for t in db.metadata.sorted_tables}
    read = {name for statement in counted.statements for name in names
            if re.search(rf"\b(FROM|JOIN)\s+{name}\b", statement)}
    assert counted.count == figures.QUERIES
    assert read == _counted_tables()


def test_each_kind_of_write_to_a_counted_table_changes_the_token(app, db, world):
    a, b = world
    seen = {_token(db)}
    made = w.referral(a, at(date(2026, 5, 1)), ("accepted", "accepted", at(date(2026, 5, 2))))  # inserts
    case = w.case(made, a, accepted_on=date(2026, 5, 2))
    w.rung(w.action(case, b, date(2026, 5, 20)), LadderStep.REMINDER, at(date(2026, 5, 19)))
    w.outcome(case, OutcomeReview.ACHIEVED, date(2026, 6, 1))
    w.panel(date(2026, 5, 12), {a: AttendanceStatus.PRESENT})
    db.session.commit()
    seen.add(_token(db))
    for table in _counted_tables():  # an update of any counted table, even to the same values
        db.session.execute(sa.text(f"UPDATE {table} SET id = id WHERE id = (SELECT min(id) FROM {table})"))
        db.session.commit()
        token = _token(db)
        assert token not in seen, table
        seen.add(token)
    db.session.execute(sa.text("DELETE FROM escalations"))  # deletes
    db.session.commit()
    assert _token(db) not in seen


def test_a_table_the_reports_do_not_count_leaves_the_token_alone(app, db, world, client, login_as):
    login_as("board")
    client.get(URL)  # a view writes only the audit trail
    before = _token(db)

    client.get(URL)

    assert _token(db) == before
    assert re.fullmatch(r"[0-9a-f]{32}", before)


def test_the_page_shows_the_records_as_they_are_after_any_change(app, db, world, client, login_as):
    a, b = world
    login_as("board")
    first = _referrals_in_period(client)
    assert _referrals_in_period(client) == first  # remembered

    for i in range(5):  # five more, by the form's way of saving
        w.referral(b, at(date(2026, 5, 3 + i)), ("declined", "declined", at(date(2026, 5, 20))))
    db.session.commit()
    second = _referrals_in_period(client)

    # and a change made by hand in SQL, as a database administrator might: out of the period
    db.session.execute(sa.text("UPDATE referrals SET submitted_at = :when WHERE status = 'declined'")
                       .bindparams(sa.bindparam("when", at(date(2025, 1, 6)), type_=sa.DateTime)))
    db.session.commit()
    third = _referrals_in_period(client)

    assert first != second and "12" in second.split()
    assert third == first


def test_a_remembered_report_is_audited_at_every_view_and_export(app, db, world, client, login_as):
    login_as("coordinator")
    for url in (URL, URL, URL.replace("/reports?", "/reports/export.csv?")):
        assert client.get(url).status_code == 200

    entries = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "board_reports")
                                      .order_by(AuditEvent.id)))
    assert [e.action for e in entries] == [AuditAction.VIEW, AuditAction.VIEW, AuditAction.EXPORT]


def test_the_csv_reads_the_remembered_figures_and_says_when_it_was_made(
        app, db, world, client, login_as, count_queries, time_machine):
    time_machine.move_to("2026-07-02 09:00:00+00:00", tick=False)
    login_as("board")
    client.get(URL)
    csv_url = URL.replace("/reports?", "/reports/export.csv?")
    with count_queries() as counted:
        first = client.get(csv_url).get_data(as_text=True)
    time_machine.move_to("2026-07-03 10:30:00+00:00", tick=False)
    login_as("board")
    second = client.get(csv_url).get_data(as_text=True)

    assert not any("referral_decisions" in s for s in counted.statements)  # the figures were remembered
    assert "Made 2026-07-02T09:00:00" in first and "Made 2026-07-03T10:30:00" in second
    assert first.split("\n", 3)[3] == second.split("\n", 3)[3]


def test_no_token_row_means_nothing_is_remembered(app, db, world, client, login_as, count_queries):
    login_as("board")
    db.session.execute(sa.text("DELETE FROM report_data_version"))
    db.session.commit()
    client.get(URL)
    with count_queries() as again:
        assert client.get(URL).status_code == 200
    assert sum("referral_decisions" in s for s in again.statements) >= 1


def test_a_report_is_remembered_for_one_cap_and_period_only(app, db, world, client, login_as):
    login_as("board")
    client.get(URL)
    other = "/reports?from=2026-04-01&to=2026-05-31"
    soup = page(client.get(other))
    assert "1 April 2026 to 31 May 2026" in soup.select_one("#period").get_text()
    app.config["CASE_CAP"] = 12
    try:
        soup = page(client.get(URL))
        assert "Cap: 12 places" in str(soup.select_one("#occupancy").find_next("svg"))
    finally:
        app.config["CASE_CAP"] = 15


@pytest.mark.real_commits
@pytest.mark.skipif(not PG_URL, reason="PostgreSQL's trigger is deferred to COMMIT")
def test_postgresql_changes_the_token_at_commit_once_for_a_transaction(app, db):
    from panel.extensions import db as _db

    a, = w.agencies("Alpha Agency")
    _db.session.commit()
    before = _token(_db)
    for i in range(50):
        w.referral(a, at(date(2026, 4, 1 + i % 28)))
    _db.session.flush()
    assert _token(_db) == before  # not yet: the trigger waits for COMMIT
    _db.session.commit()
    after = _token(_db)
    assert after != before
    # one new version of the row for the whole transaction: its xmin is the committing transaction's
    with _db.engine.connect() as c:
        xmin = c.execute(sa.text("SELECT xmin::text FROM report_data_version")).scalar_one()
        writer = c.execute(sa.text("SELECT xmin::text FROM referrals ORDER BY id DESC LIMIT 1")).scalar_one()
    assert xmin == writer


def test_closing_an_action_changes_the_figures_shown(app, db, world, client, login_as):
    a, b = world
    made = w.referral(a, at(date(2026, 4, 3)), ("accepted", "accepted", at(date(2026, 4, 4))))
    case = w.case(made, a, accepted_on=date(2026, 4, 4))
    actions = [w.action(case, b, date(2026, 5, 10 + i)) for i in range(6)]
    w.outcome(case, OutcomeReview.ACHIEVED, date(2026, 6, 1))
    db.session.commit()
    login_as("board")
    before = page(client.get(URL)).select_one("#table-actions").get_text(" ", strip=True)

    for action in actions:
        action.status = ActionStatus.DONE
        action.closed_at = at(date(2026, 5, 1))
    db.session.commit()
    after = page(client.get(URL)).select_one("#table-actions").get_text(" ", strip=True)

    assert before != after
