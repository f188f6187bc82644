"""The action log and "our actions" with years of actions (issue 18): a page of the log is read in
the log's order (open first, then by due date) in two parts along their indexes, never the whole
log joined and sorted; the count stops at COUNT_CAP; "our actions" finds the open and the recently
closed along indexes, never an agency's years of closed actions."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
import sqlalchemy as sa

from panel.actions import services, views
from panel.extensions import db as _db
from panel.models import Action, ActionStatus, Escalation, LadderStep
from tests.actions import pages_world
from tests.actions.pages_world import today
from tests.conftest import PG_URL, page

CLOSED = (ActionStatus.DONE, ActionStatus.NOT_DONE, ActionStatus.NOT_POSSIBLE, ActionStatus.CANCELLED)


def _add(world, statuses: list[ActionStatus], *, closed_days_ago: int = 400) -> list[Action]:
    """Actions with these statuses, due on scattered days (some the same day), the closed ones
    closed `closed_days_ago` days ago."""
    agencies = itertools.cycle([world.agencies["a"], world.agencies["b"]])
    actions = []
    for n, status in enumerate(statuses):
        closed = status != ActionStatus.OPEN
        actions.append(Action(
            case_id=world.case.id, description=f"Action {n}", agency_id=next(agencies).id,
            assignee_id=world.users["assignee"].id if n % 3 else None,
            due_on=today() + timedelta(days=(n * 37) % 90 - 45), status=status,
            created_by_id=world.users["coordinator"].id, next_step=None if closed else LadderStep.REMINDER,
            closed_at=services.utcnow() - timedelta(days=closed_days_ago) if closed else None))
    _db.session.add_all(actions)
    _db.session.flush()
    return actions


@pytest.fixture
def big(db):
    world = pages_world.build()
    statuses = [ActionStatus.OPEN] * 57 + [CLOSED[n % 4] for n in range(88)]
    _add(world, statuses)
    db.session.commit()
    return world


def _ids(client, url: str) -> list[int]:
    soup = page(client.get(url))
    return [int(tr["id"].removeprefix("action-")) for tr in soup.select("table.panel-actions-table tbody tr")]


def _expected(db, filters: services.ActionFilters) -> list[int]:
    """The log's order, as the whole log sorted once (what every page used to do)."""
    return [a.id for a in db.session.scalars(services.action_query(filters, today()))]


@pytest.mark.parametrize("query", ["", "agency={b}", "status=done", "escalated=y"])
def test_the_pages_together_are_the_log_in_its_order(big, client, login_as, db, count_queries, query):
    """57 open and 88 closed actions on scattered due dates (page 2 holds the last open ones
    and the first closed): every page in turn gives the log exactly, in the same queries."""
    login_as(big.user("coordinator"))
    query = query.format(b=big.agencies["b"].id)
    if query == "escalated=y":
        for action in db.session.scalars(sa.select(Action).order_by(Action.id)).all()[::4]:
            db.session.add(Escalation(action_id=action.id, step=LadderStep.AGENCY, round=1, due_for=today(),
                                               by_id=big.user("coordinator").id, told="x <x@test.invalid>"))
        db.session.commit()
    expected = _expected(db, services.ActionFilters(**_filters(big, query)))
    assert len(expected) > 50 or query, "more than a page"

    shown, costs = [], set()
    for number in range(1, 5):
        with count_queries() as counter:
            shown += _ids(client, f"/actions?{query}&page={number}" if query else f"/actions?page={number}")
        costs.add(counter.count)
        if len(shown) >= len(expected):
            break
    assert shown == expected
    assert len(costs) == 1, costs


def _filters(world, query: str) -> dict:
    out = {}
    for pair in (p for p in query.split("&") if p):
        name, value = pair.split("=")
        if name == "agency":
            out["agency_id"] = int(value)
        elif name == "status":
            out["status"] = ActionStatus(value)
        elif name == "escalated":
            out["escalated"] = True
    return out


def test_beyond_the_cap_the_log_says_more_than(big, client, login_as, monkeypatch):
    monkeypatch.setattr(views, "COUNT_CAP", 60)
    login_as(big.user("coordinator"))

    first = page(client.get("/actions"))
    last = page(client.get("/actions?page=2"))

    assert first.select_one("#action-count").get_text(" ", strip=True).startswith(
        "Showing 1 to 50 of more than 60 actions.")
    assert len(_ids(client, "/actions?page=2")) == 10  # the count's last page stops at the cap
    assert "page=3" not in str(last.select_one(".govuk-pagination"))


def _statements_of(db, call) -> list[tuple[str, object]]:
    """The SQL statements (with their parameters) that call() runs."""
    statements = []

    def keep(conn, cursor, statement, params, *rest):
        statements.append((statement, params))

    sa.event.listen(db.engine, "before_cursor_execute", keep)
    try:
        call()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", keep)
    return statements


def test_the_log_reads_a_page_along_the_indexes(big, db):
    """The two parts of a page, as SQLite plans them: the open along the partial index of open
    actions, the closed along the due date, neither sorted whole."""
    if PG_URL:
        pytest.skip("SQLite's query plan; PostgreSQL chooses by table statistics")
    statements = _statements_of(db, lambda: services.log_page(services.ActionFilters(), today(), size=50,
                                                              cap=10_000, page_of=lambda pages: 2))
    statement, params = next(s for s in statements if "UNION ALL" in s[0])
    plan = [row[-1] for row in db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)]
    text = " | ".join(plan)
    assert "SCAN actions USING INDEX ix_actions_open_due_on" in text, text
    assert "SCAN actions USING INDEX ix_actions_due_on" in text, text
    # the only sort is of the page's rows, after both parts are chosen
    assert sum("TEMP B-TREE" in line for line in plan) == 1 and "TEMP B-TREE FOR ORDER BY" in plan[-1], text


def test_our_actions_find_the_recently_closed_by_when_they_closed(app, db, client, login_as, count_queries):
    """An agency's SPoC and a practitioner see the open actions and those closed in the last four
    weeks, whatever the years of closed ones behind them; the same queries with 10 or 200 of them."""
    world = pages_world.build()
    recent = _add(world, [ActionStatus.DONE] * 3, closed_days_ago=5)
    _add(world, [ActionStatus.DONE] * 10, closed_days_ago=400)
    db.session.commit()

    def shown(who: str) -> tuple[set[int], int]:
        login_as(world.user(who))
        with count_queries() as counter:
            ids = set(_ids(client, "/actions/ours"))
        return ids, counter.count

    spoc, spoc_cost = shown("spoc")
    practitioner, practitioner_cost = shown("assignee")
    agency_a = {a.id for a in recent if a.agency_id == world.agencies["a"].id}
    assert spoc == {world.action.id} | agency_a
    assert practitioner == {world.action.id} | {a.id for a in recent if a.assignee_id == world.user("assignee").id}

    _add(world, [ActionStatus.DONE] * 190, closed_days_ago=400)
    db.session.commit()
    assert shown("spoc") == (spoc, spoc_cost)
    assert shown("assignee") == (practitioner, practitioner_cost)


def test_our_actions_read_the_closed_along_the_agency_and_closing_time(app, db):
    if PG_URL:
        pytest.skip("SQLite's query plan; PostgreSQL chooses by table statistics")
    world = pages_world.build()
    db.session.commit()
    query = services.our_actions_query(world.user("spoc"), today(), acting=True)
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    text = " | ".join(r[-1] for r in db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
    assert "ix_actions_agency_closed_at (agency_id=? AND closed_at>?)" in text, text


def test_the_log_costs_the_same_queries_whether_or_not_it_shows_the_readers_agency(app, db, client, login_as,
                                                                                     count_queries):
    """The signed-in user's agency was loaded again for the page's banner when no action on the
    page was that agency's (one query more on a small log than on a big one)."""
    world = pages_world.build()
    db.session.commit()
    coordinator = world.user("chair")
    login_as(coordinator)
    client.get("/actions")
    coordinator_id = coordinator.id

    host, case = world.agencies["host"].id, world.case.id
    db.session.expunge_all()  # the request loads what it needs, as in production
    with count_queries() as without:
        client.get("/actions")
    db.session.add(Action(case_id=case, description="The host's own", agency_id=host,
                          due_on=today() - timedelta(days=400), status=ActionStatus.OPEN,
                          created_by_id=coordinator_id))
    db.session.commit()
    db.session.expunge_all()
    with count_queries() as with_it:
        client.get("/actions")

    assert without.count == with_it.count, (without.statements, with_it.statements)


def test_a_page_with_no_actions_costs_the_same_queries_as_one_with_some(app, db, client, login_as, count_queries):
    """The demo's longest case had no actions where ten years' had many: one query fewer (the
    escalation levels of no actions were not asked for)."""
    world = pages_world.build()
    empty = pages_world.create_case(lead=world.agencies["a"], involved=(world.agencies["b"],), given_name="Nell",
                                    family_name="Noactions")
    db.session.commit()
    login_as(world.user("coordinator"))

    def cost(url: str) -> int:
        client.get(url)
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        return counter.count

    assert cost(f"/cases/{empty.reference}/actions") == cost(f"/cases/{world.case.reference}/actions")
    assert cost(f"/actions?agency={world.agencies['c'].id}") == cost(f"/actions?agency={world.agencies['a'].id}")


@pytest.mark.parametrize("name", ["escalated", "escalated_today", "awaiting_chair"])
def test_the_escalation_filters_read_the_escalations_of_their_rungs(big, db, name):
    """Years of reminders and overdue notices: the filters read the escalations of their rungs
    (today's by time) along (step, at, action_id), never the whole table."""
    if PG_URL:
        pytest.skip("SQLite's query plan; PostgreSQL chooses by table statistics")
    statements = _statements_of(db, lambda: services.log_page(services.ActionFilters(**{name: True}), today(),
                                                              size=50, cap=10_000, page_of=lambda pages: 1))
    for statement, params in statements:
        plan = " | ".join(r[-1] for r in db.session.connection().exec_driver_sql(
            f"EXPLAIN QUERY PLAN {statement}", params))
        assert "SCAN escalations" not in plan, plan
        if "escalations" in statement and name != "escalated":
            assert "ix_escalations_step_at_action_id (step=?" in plan, plan
