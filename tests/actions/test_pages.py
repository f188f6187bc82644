"""The action log pages: the coordinator's log with its filters and CSV export, "our actions",
each case's actions and adding one, an action's page, updating, escalating by hand and
acknowledging; hostile input, double submission, the audit trail, and a fixed number of
queries whatever the size of the log."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from panel.actions import services
from panel.extensions import db as _db
from panel.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    AuditAction,
    AuditEvent,
    CaseEvent,
    CaseStatus,
    DigestItem,
    Escalation,
    LadderStep,
    OutboxMessage,
    User,
)
from tests.actions import pages_world
from tests.actions.pages_world import add_actions, today
from tests.conftest import error_summary, page, post_form


@pytest.fixture
def world(db):
    w = pages_world.build()
    db.session.commit()
    return w


def _text(response) -> str:
    return page(response).get_text(" ", strip=True)


def _rows(response) -> list[str]:
    return [tr.get("id") for tr in page(response).select("table.panel-actions-table tbody tr")]


def _audits(db, action: AuditAction, object_type: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.object_type == object_type).order_by(AuditEvent.id)))


def _updates(db) -> list[ActionUpdate]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(ActionUpdate).order_by(ActionUpdate.id)))


ANY_FORM = "/account/password"  # a page with a form for anyone: its CSRF token once a page has none


def _date(d) -> list[str]:
    return [str(d.day), str(d.month), str(d.year)]


# ---- the action log ---------------------------------------------------------------------


def _log_world(db, world):
    """Four actions: the world's (A, due in 14 days), one overdue for B, one due this week for A
    and done one, and one escalated to the chair."""
    coordinator = world.user("coordinator")
    b = world.agencies["b"]
    (overdue,) = add_actions(world, 1, overdue=True, agency=b)
    overdue.assignee_id = None
    this_week = services.create_action(world.case, description="Ring the GP", agency=world.agencies["a"],
                                       due_on=today(), by=coordinator)
    done = services.create_action(world.case, description="Finished", agency=world.agencies["a"],
                                  due_on=today() + timedelta(days=3), by=coordinator)
    services.update_action(done, by=coordinator, status=ActionStatus.DONE)
    services.escalate_by_hand(world.action, to_chair=True, reason="Stuck", by=coordinator)
    db.session.commit()
    return {"overdue": overdue.id, "this_week": this_week.id, "done": done.id, "escalated": world.action.id}


def test_the_log_lists_actions_open_first_with_overdue_tags_and_escalation(client, login_as, db, world):
    ids = _log_world(db, world)
    login_as(world.user("coordinator"))
    response = client.get("/actions")
    assert response.status_code == 200
    assert _rows(response) == [f"action-{ids['overdue']}", f"action-{ids['this_week']}",
                               f"action-{ids['escalated']}", f"action-{ids['done']}"]
    overdue_row = page(response).find(id=f"action-{ids['overdue']}").get_text(" ", strip=True)
    assert "Overdue" in overdue_row and "Agency B" in overdue_row and "No named person" in overdue_row
    escalated_row = page(response).find(id=f"action-{ids['escalated']}").get_text(" ", strip=True)
    assert "Escalated by the coordinator to the panel chair" in escalated_row
    assert "Pat Assignee" in escalated_row and world.case.reference in escalated_row
    assert "Overdue" not in escalated_row
    done_row = page(response).find(id=f"action-{ids['done']}").get_text(" ", strip=True)
    assert "Done" in done_row and "Overdue" not in done_row
    assert "housing officer" in escalated_row  # the log shows what each action is (issue 12)
    (viewed,) = _audits(db, AuditAction.VIEW, "action_log")
    assert viewed.user_id == world.user("coordinator").id


@pytest.mark.parametrize("query, expected", [
    ("agency={b}", ["overdue"]),
    ("case={ref}", ["overdue", "this_week", "escalated", "done"]),
    ("case={ref_lower}", ["overdue", "this_week", "escalated", "done"]),
    ("case=CASPA-0000-999", []),
    ("status=done", ["done"]),
    ("status=open", ["overdue", "this_week", "escalated"]),
    ("overdue=y", ["overdue"]),
    ("due_this_week=y", ["this_week"]),
    ("escalated=y", ["escalated"]),
    ("agency={a}&status=open", ["this_week", "escalated"]),
])
def test_the_log_filters(client, login_as, db, world, query, expected):
    ids = _log_world(db, world)
    login_as(world.user("coordinator"))
    url = "/actions?" + query.format(a=world.agencies["a"].id, b=world.agencies["b"].id, ref=world.case.reference,
                                     ref_lower=world.case.reference.lower())
    response = client.get(url)
    assert response.status_code == 200
    assert _rows(response) == [f"action-{ids[name]}" for name in expected]
    if not expected:
        assert "No actions match the filters." in _text(response)
    else:
        assert "matching the filters" in _text(response)


@pytest.mark.parametrize("query", ["agency=abc", "agency=99999", "agency=-1", "status=zzz", "status=<script>",
                                   "page=-3", "page=abc", "page=99999999999", "overdue=", "agency=%EF%BC%91", "case="])
def test_filter_values_that_are_not_offered_are_ignored(client, login_as, db, world, query):
    _log_world(db, world)
    login_as(world.user("coordinator"))
    response = client.get(f"/actions?{query}")
    assert response.status_code == 200
    assert error_summary(response) == []
    assert len(_rows(response)) >= 3


@pytest.mark.parametrize("reference, message", [
    ("X" * 21, "Case reference must be 20 characters or fewer, like CASPA-2027-001"),
    ("<script>alert(1)</script>", "Case reference must not include the characters < or >"),
])
def test_a_case_reference_that_cannot_be_one_is_an_error(client, login_as, db, world, reference, message):
    login_as(world.user("chair"))
    response = client.get("/actions", query_string={"case": reference})
    assert response.status_code == 200
    assert error_summary(response) == [message]
    assert _rows(response) == []
    assert "<script>alert" not in response.get_data(as_text=True)
    export = client.get("/actions/export.csv", query_string={"case": reference})
    assert export.status_code == 302 and export.headers["Location"].startswith("/actions?")


def test_control_characters_in_the_case_reference_are_dropped(client, login_as, db, world):
    login_as(world.user("coordinator"))
    reference = world.case.reference
    response = client.get("/actions", query_string={"case": reference[:4] + "\x07\x00" + reference[4:]})
    assert _rows(response) == [f"action-{world.action.id}"]


def test_the_log_is_paginated_keeping_the_filters(client, login_as, db, world):
    add_actions(world, 60, overdue=True)
    db.session.commit()
    login_as(world.user("coordinator"))
    response = client.get("/actions?overdue=y&page=2")
    assert len(_rows(response)) == 10
    assert "Showing 51 to 60 of 60 actions matching the filters" in _text(response)
    links = [a["href"] for a in page(response).select(".govuk-pagination a")]
    assert links and all("overdue=y" in link for link in links)
    export = page(response).find("a", string=lambda s: s and "spreadsheet" in s)["href"]
    assert export == "/actions/export.csv?overdue=y"


# ---- the CSV export ---------------------------------------------------------------------------


def test_the_export_is_formula_safe_filtered_and_audited(client, login_as, db, world):
    coordinator = world.user("coordinator")
    hostile = ["=HYPERLINK(\"http://evil.invalid\",\"x\")", "+1+1", "-2", "@SUM(A1)", "Line one\nLine two, \"quoted\""]
    for text in hostile:
        services.create_action(world.case, description=text, agency=world.agencies["b"],
                               due_on=today() + timedelta(days=5), by=coordinator)
    db.session.commit()
    login_as(coordinator)
    response = client.get(f"/actions/export.csv?agency={world.agencies['b'].id}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="caspa-actions-OFFICIAL-SENSITIVE-')
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0][:5] == ["Action", "Case reference", "Agency", "Assigned to", "Description"]
    assert len(rows) == 1 + len(hostile)
    descriptions = sorted(r[4] for r in rows[1:])
    assert descriptions == sorted(["'=HYPERLINK(\"http://evil.invalid\",\"x\")", "'+1+1", "'-2", "'@SUM(A1)",
                                   "Line one\nLine two, \"quoted\""])
    assert all(r[2] == "Agency B" for r in rows[1:])
    (exported,) = _audits(db, AuditAction.EXPORT, "actions")
    assert exported.user_id == coordinator.id
    assert f'"agency": "{world.agencies["b"].id}"' in exported.summary and '"rows": 5' in exported.summary


def test_the_export_has_every_column(client, login_as, db, world):
    ids = _log_world(db, world)
    login_as(world.user("chair"))
    rows = list(csv.reader(io.StringIO(client.get("/actions/export.csv?overdue=y").get_data().decode("utf-8-sig"))))
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Action"] == str(ids["overdue"])
    assert row["Overdue"] == "Yes" and row["Status"] == "Open" and row["Assigned to"] == ""
    assert row["Due date"] == (today() - timedelta(days=3)).isoformat()
    assert row["Agreed on"] == today().isoformat() and row["Closed on"] == ""  # London dates
    rows = list(csv.reader(io.StringIO(client.get("/actions/export.csv?escalated=y").get_data().decode("utf-8-sig"))))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Highest escalation"] == "Escalated by the coordinator to the panel chair"


# ---- our actions ------------------------------------------------------------------------------


def test_our_actions_shows_open_and_recently_closed_not_long_closed(client, login_as, db, world):
    coordinator = world.user("coordinator")
    recent = services.create_action(world.case, description="Recent", agency=world.agencies["a"],
                                    due_on=today() + timedelta(days=3), by=coordinator)
    services.update_action(recent, by=coordinator, status=ActionStatus.DONE)
    old = services.create_action(world.case, description="Old", agency=world.agencies["a"],
                                 due_on=today() + timedelta(days=3), by=coordinator)
    services.update_action(old, by=coordinator, status=ActionStatus.CANCELLED)
    old.closed_at = old.closed_at - timedelta(days=40)
    other = services.create_action(world.case, description="B's", agency=world.agencies["b"],
                                   due_on=today() + timedelta(days=3), by=coordinator)
    db.session.commit()
    login_as(world.user("spoc"))
    response = client.get("/actions/ours")
    assert _rows(response) == [f"action-{world.action.id}", f"action-{recent.id}"]
    assert f"action-{other.id}" not in _rows(response) and f"action-{old.id}" not in _rows(response)
    assert "Arrange a joint visit with the housing officer" in _text(response)
    (viewed,) = _audits(db, AuditAction.VIEW, "our_actions")
    assert '"acting_spoc": true' in viewed.summary


def test_a_practitioner_sees_the_actions_assigned_to_them(client, login_as, db, world):
    login_as(world.user("assignee"))
    response = client.get("/actions/ours")
    assert page(response).h1.get_text(strip=True) == "Your actions"
    assert _rows(response) == [f"action-{world.action.id}"]


# ---- the case's actions and adding one ----------------------------------------------------


def test_the_case_page_counts_open_actions_and_links_to_them(client, login_as, db, world):
    add_actions(world, 2)
    db.session.commit()
    login_as(world.user("involved spoc"))
    summary = page(client.get(f"/cases/{world.case.reference}"))
    link = summary.find(id="open-actions")
    assert link.get_text(strip=True) == "3 open actions"
    assert link["href"] == f"/cases/{world.case.reference}/actions"
    listing = client.get(link["href"])
    assert listing.status_code == 200
    assert len(_rows(listing)) == 3
    nav = page(listing).select_one(".panel-case-nav a[aria-current='page']")
    assert nav.get_text(strip=True) == "Actions"
    assert "Zebedee Quaintly" in _text(listing)
    views = _audits(db, AuditAction.VIEW, "case")
    assert '"section": "actions"' in views[-1].summary


def test_the_restricted_view_has_no_open_actions_row(client, login_as, db, world):
    login_as(world.user("outside spoc"))
    summary = page(client.get(f"/cases/{world.case.reference}"))
    assert summary.find(id="open-actions") is None


def _add_form(world, **over) -> dict:
    data = {"description": "Book a carers assessment", "agency_id": str(world.agencies["b"].id), "assignee_id": "",
            "due_on": _date(today() + timedelta(days=7))}
    data.update(over)
    return data


def test_a_coordinator_adds_an_action(client, login_as, db, world):
    login_as(world.user("coordinator"))
    url = f"/cases/{world.case.reference}/actions/new"
    form = page(client.get(url))
    agencies = {o["value"] for o in form.select("select[name=agency_id] option") if o["value"]}
    assert agencies == {str(world.agencies["a"].id), str(world.agencies["b"].id)}  # involved only
    people = {o.get_text(strip=True) for o in form.select("select[name=assignee_id] option")}
    assert "Bo Bspoc (Agency B)" in people and "Pat Assignee (Agency A)" in people
    assert not any("Cspoc" in p or "Casey" in p for p in people)
    response = post_form(client, url, _add_form(world, assignee_id=str(world.user("involved spoc").id)),
                         follow_redirects=True)
    assert response.status_code == 200
    db.session.rollback()
    action = db.session.scalars(sa.select(Action).order_by(Action.id.desc())).first()
    assert (action.description, action.agency_id, action.assignee_id) == (
        "Book a carers assessment", world.agencies["b"].id, world.user("involved spoc").id)
    assert f"Action {action.id} has been added for Agency B, due" in _text(response)
    assert f"action-{action.id}" in _rows(response)


def test_adding_the_same_action_twice_saves_it_once(client, login_as, db, world):
    login_as(world.user("coordinator"))
    url = f"/cases/{world.case.reference}/actions/new"
    post_form(client, url, _add_form(world))
    second = post_form(client, url, _add_form(world), follow_redirects=True)
    assert "That action had already been added." in _text(second)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Action)) == 2  # the world's and this one


@pytest.mark.parametrize("over, field, message", [
    ({"description": ""}, "description", "Enter what the agency will do"),
    ({"description": "\x00\x07  "}, "description", "Enter what the agency will do"),
    ({"description": "x" * 1001}, "description", "The action must be 1,000 characters or fewer"),
    ({"agency_id": ""}, "agency_id", "Select the agency responsible"),
    ({"agency_id": "abc"}, "agency_id", "Select the agency responsible"),
    ({"agency_id": "outside"}, "agency_id", "Select the agency responsible"),
    ({"assignee_id": "assignee"}, "assignee_id",
     "Select a named person who works for the agency responsible, or no named person"),
    ({"assignee_id": "outside spoc"}, "assignee_id", "Select a named person from the list, or no named person"),
    ({"due_on": ["", "", ""]}, "due_on", "Enter the due date"),
    ({"due_on": ["31", "2", "2027"]}, "due_on", "Due date must be a real date"),
    ({"due_on": ["1", "13", "2027"]}, "due_on", "Due date must be a real date"),
    ({"due_on": ["1", "1", "27"]}, "due_on", "Year must include 4 numbers"),
    ({"due_on": ["1", "", "2027"]}, "due_on", "Due date must include a month"),
    ({"due_on": "past"}, "due_on", "Due date must be today or in the future"),
])
def test_adding_an_action_with_bad_input_shows_the_error_and_keeps_the_input(client, login_as, db, world, over,
                                                                             field, message):
    login_as(world.user("coordinator"))
    url = f"/cases/{world.case.reference}/actions/new"
    if over.get("agency_id") == "outside":
        over["agency_id"] = str(world.agencies["c"].id)
    if over.get("assignee_id") in world.users:
        over["assignee_id"] = str(world.user(over["assignee_id"]).id)
    if over.get("due_on") == "past":
        over["due_on"] = _date(today() - timedelta(days=1))
    data = _add_form(world, description="Keep <b>this</b> text", **{k: v for k, v in over.items()
                                                                   if k != "description"})
    if "description" in over:
        data["description"] = over["description"]
    response = post_form(client, url, data)
    assert response.status_code == 200
    assert error_summary(response) == [message]
    soup = page(response)
    assert soup.find(id=f"{field}-error") is not None
    if "description" not in over:
        assert soup.find("textarea", attrs={"name": "description"}).get_text() == "Keep <b>this</b> text"
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Action)) == 1


def test_no_action_is_added_to_a_closed_case(client, login_as, db, world):
    world.case.status = CaseStatus.CLOSED
    db.session.commit()
    login_as(world.user("coordinator"))
    url = f"/cases/{world.case.reference}/actions/new"
    response = client.get(url)
    assert "This case is closed, so no actions can be added." in _text(response)
    assert page(response).find("main").find("form", attrs={"method": "post"}) is None
    assert page(client.get(f"/cases/{world.case.reference}/actions")).find(
        "a", string=lambda s: s and "Add an action" in s) is None


# ---- the action page ----------------------------------------------------------------------------


def test_the_action_page_shows_history_and_escalations(client, login_as, db, world):
    coordinator, spoc = world.user("coordinator"), world.user("spoc")
    new_due = today() + timedelta(days=30)
    services.update_action(world.action, by=spoc, note="Visit booked <script>alert(1)</script>\nSecond line")
    services.update_action(world.action, by=spoc, due_on=new_due, reason="Housing officer on leave")
    escalation = services.escalate_by_hand(world.action, to_chair=False, reason="Not moving", by=coordinator)
    services.acknowledge(escalation, by=world.user("contact"), comment="Will chase the team")
    db.session.commit()
    login_as(world.user("involved spoc"))
    response = client.get(f"/actions/{world.action.id}")
    html = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text = _text(response)
    assert "Visit booked <script>alert(1)</script> Second line" in text
    assert "Due date changed from" in text and "Reason: Housing officer on leave" in text
    assert "Escalated by the coordinator to the agency’s escalation contact" in text
    assert "By Casey Coordinator. Reason: Not moving" in text
    assert "Esme Escalation <esme.a@test.invalid>" in text
    assert "by Esme Escalation" in text and "Will chase the team" in text
    assert page(response).find("a", href=f"/cases/{world.case.reference}/actions") is not None
    assert "Update this action" not in text and "Escalate this action" not in text  # another agency's SPoC
    viewed = _audits(db, AuditAction.VIEW, "action")
    assert viewed[-1].object_id == str(world.action.id)


def test_the_contact_gets_an_acknowledge_link_and_the_coordinator_an_escalate_button(client, login_as, db, world):
    escalation = services.escalate_by_hand(world.action, to_chair=False, reason="Not moving", by=world.user("coordinator"))
    db.session.commit()
    login_as(world.user("contact"))
    response = page(client.get(f"/actions/{world.action.id}"))
    assert response.find("a", href=f"/actions/escalations/{escalation.id}/acknowledge") is not None
    login_as(world.user("coordinator"))
    response = page(client.get(f"/actions/{world.action.id}"))
    assert response.find("a", href=f"/actions/{world.action.id}/escalate") is not None
    assert response.find("a", href=f"/actions/escalations/{escalation.id}/acknowledge") is None


# ---- updating ------------------------------------------------------------------------------------


def _update(world, **over) -> dict:
    data = {"note": "", "status": "open", "due_on": ["", "", ""], "reason": ""}
    data.update(over)
    return data


def test_the_acting_spoc_marks_an_action_done_with_a_note(client, login_as, db, world):
    spoc = login_as(world.user("spoc"))
    url = f"/actions/{world.action.id}/update"
    form = page(client.get(url))
    assert form.find("input", attrs={"name": "status", "value": "open"}).has_attr("checked")
    response = post_form(client, url, _update(world, note="Visit done on Tuesday", status="done"),
                         follow_redirects=True)
    assert f"Action {world.action.id} has been updated. It is now done." in _text(response)
    (update,) = _updates(db)
    assert (update.note, update.old_status, update.new_status, update.by_id) == (
        "Visit done on Tuesday", ActionStatus.OPEN, ActionStatus.DONE, spoc.id)
    action = db.session.get(Action, world.action.id)
    assert action.status == ActionStatus.DONE and action.next_step is None
    assert "Update this action" not in _text(response)
    closed = client.get(url)
    assert "This action is done, so it can no longer be changed." in _text(closed)
    assert page(closed).find("main").find("form", attrs={"method": "post"}) is None


def test_the_same_update_sent_twice_is_saved_once(client, login_as, db, world):
    login_as(world.user("assignee"))
    url = f"/actions/{world.action.id}/update"
    post_form(client, url, _update(world, note="Called twice, no answer"))
    second = post_form(client, url, _update(world, note="Called twice, no answer"), follow_redirects=True)
    assert "That update had already been saved." in _text(second)
    post_form(client, url, _update(world, note="Closing", status="not_done"))
    third = post_form(client, url, _update(world, note="Closing", status="not_done"), token_from=ANY_FORM,
                      follow_redirects=True)
    assert "That update had already been saved." in _text(third)
    assert [u.note for u in _updates(db)] == ["Called twice, no answer", "Closing"]


def test_a_new_due_date_with_its_reason_restarts_the_ladder(client, login_as, db, world):
    login_as(world.user("coordinator"))
    new_due = today() + timedelta(days=40)
    response = post_form(client, f"/actions/{world.action.id}/update",
                         _update(world, due_on=_date(new_due), reason="Waiting for a tenancy panel"),
                         follow_redirects=True)
    assert response.status_code == 200
    (update,) = _updates(db)
    assert (update.new_due_on, update.due_change_reason) == (new_due, "Waiting for a tenancy panel")
    action = db.session.get(Action, world.action.id)
    assert action.due_on == new_due and action.ladder_round == 2


@pytest.mark.parametrize("over, field, message", [
    ({}, "note", "Write an update, or change the status or the due date"),
    ({"note": "\x00\x1b "}, "note", "Write an update, or change the status or the due date"),
    ({"note": "x" * 2001}, "note", "The update must be 2,000 characters or fewer"),
    ({"status": "banana"}, "status", "Select the status of the action"),
    ({"status": ""}, "status", "Select the status of the action"),
    ({"due_on": ["31", "2", "2027"]}, "due_on", "New due date must be a real date"),
    ({"due_on": ["x", "1", "2027"]}, "due_on", "New due date must be a real date"),
    ({"due_on": "past", "reason": "Because"}, "due_on", "New due date must be today or in the future"),
    ({"due_on": "future"}, "reason", "Enter the reason for changing the due date"),
    ({"due_on": "future", "reason": "r" * 501}, "reason",
     "The reason for changing the due date must be 500 characters or fewer"),
])
def test_bad_updates_show_the_error_on_the_field_and_keep_the_input(client, login_as, db, world, over, field,
                                                                     message):
    login_as(world.user("spoc"))
    if over.get("due_on") == "past":
        over["due_on"] = _date(today() - timedelta(days=1))
    elif over.get("due_on") == "future":
        over["due_on"] = _date(today() + timedelta(days=60))
    data = _update(world, **over)
    response = post_form(client, f"/actions/{world.action.id}/update", data)
    assert response.status_code == 200
    assert error_summary(response) == [message]
    soup = page(response)
    assert soup.find(id=f"{field}-error") is not None
    assert soup.title.get_text().startswith("Error: ")
    if "note" in over and len(over["note"]) > 100:
        assert soup.find("textarea", attrs={"name": "note"}).get_text() == over["note"]
    assert _updates(db) == []


def test_html_in_a_note_is_kept_as_typed_and_shown_escaped(client, login_as, db, world):
    login_as(world.user("spoc"))
    note = "<img src=x onerror=alert(1)> & ' \" ; DROP TABLE actions; --"
    post_form(client, f"/actions/{world.action.id}/update", _update(world, note=note))
    assert _updates(db)[0].note == note
    html = client.get(f"/actions/{world.action.id}").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_updating_writes_the_audit_trail_and_the_chronology(client, login_as, db, world):
    login_as(world.user("spoc"))
    post_form(client, f"/actions/{world.action.id}/update", _update(world, note="Booked"))
    updates = _audits(db, AuditAction.UPDATE, "action")
    assert updates[-1].object_id == str(world.action.id)
    events = db.session.scalars(sa.select(CaseEvent.summary).where(CaseEvent.kind == "action")).all()
    assert events[-1] == f"Action {world.action.id}: update recorded"


# ---- escalating by hand -----------------------------------------------------------------------------


def test_the_coordinator_escalates_to_the_chair_and_the_chair_is_emailed_at_once(client, login_as, db, world):
    login_as(world.user("coordinator"))
    url = f"/actions/{world.action.id}/escalate"
    form = _text(client.get(url))
    assert "Esme Escalation" in form and "Charlie Chair" in form  # who would be told, either way
    response = post_form(client, url, {"to": "chair", "reason": "Six weeks without progress"}, follow_redirects=True)
    assert "has been escalated. Emailed a link now: Charlie Chair <chair@test.invalid>" in _text(response)
    again = post_form(client, url, {"to": "chair", "reason": "Six weeks without progress"}, follow_redirects=True)
    assert "That escalation had already been recorded." in _text(again)
    db.session.rollback()
    (escalation,) = db.session.scalars(sa.select(Escalation)).all()
    assert (escalation.step, escalation.reason, escalation.by_id) == (
        LadderStep.MANUAL_CHAIR, "Six weeks without progress", world.user("coordinator").id)
    # told now, once (the double submission sent nothing more), and not again in tomorrow's digest
    assert db.session.scalars(sa.select(DigestItem.user_id)).all() == []
    (email,) = db.session.scalars(sa.select(OutboxMessage)).all()
    assert email.to_addr == "chair@test.invalid"
    assert re.findall(r"https?://\S+", email.body_text) == [
        f"{client.application.config['PUBLIC_URL']}/actions/escalations/{escalation.id}/acknowledge"]
    case = world.action.case
    for secret in (case.reference, case.person.given_name, case.person.family_name, world.action.description,
                   world.action.agency.name, "Six weeks without progress"):
        assert secret not in email.body_text and secret not in email.subject, secret


def test_an_escalation_to_an_agency_emails_its_contact_the_acknowledgement_link(client, login_as, db, world):
    login_as(world.user("coordinator"))

    post_form(client, f"/actions/{world.action.id}/escalate", {"to": "agency", "reason": "Stuck"})

    db.session.rollback()
    (escalation,) = db.session.scalars(sa.select(Escalation)).all()
    emails = db.session.scalars(sa.select(OutboxMessage)).all()
    assert [e.to_addr for e in emails] == [escalation.contact.email]
    assert f"/actions/escalations/{escalation.id}/acknowledge" in emails[0].body_text


def test_escalating_to_an_agency_without_a_contact_tells_the_coordinators(client, login_as, db, world):
    world.agencies["a"].escalation_contact = None
    db.session.commit()
    login_as(world.user("coordinator"))
    url = f"/actions/{world.action.id}/escalate"
    assert "Agency A has no escalation contact" in _text(client.get(url))
    response = post_form(client, url, {"to": "agency", "reason": "Stuck"}, follow_redirects=True)
    assert "Casey Coordinator <coordinator@test.invalid>; (Agency A has no escalation contact)" in _text(response)


@pytest.mark.parametrize("data, field, message", [
    ({"to": "chair", "reason": ""}, "reason", "Enter why you are escalating this action"),
    ({"to": "chair", "reason": "\x00\x01"}, "reason", "Enter why you are escalating this action"),
    ({"to": "chair", "reason": "r" * 1001}, "reason", "The reason must be 1,000 characters or fewer"),
    ({"to": "mayor", "reason": "Why not"}, "to", "Select who to escalate the action to"),
    ({"reason": "Why not"}, "to", "Select who to escalate the action to"),
])
def test_bad_escalations_show_the_error(client, login_as, db, world, data, field, message):
    login_as(world.user("coordinator"))
    response = post_form(client, f"/actions/{world.action.id}/escalate", data)
    assert response.status_code == 200
    assert error_summary(response) == [message]
    assert page(response).find(id=f"{field}-error") is not None
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Escalation)) == 0


def test_a_closed_action_is_not_escalated(client, login_as, db, world):
    services.update_action(world.action, by=world.user("coordinator"), status=ActionStatus.CANCELLED)
    db.session.commit()
    login_as(world.user("coordinator"))
    url = f"/actions/{world.action.id}/escalate"
    assert "This action is cancelled, so it cannot be escalated." in _text(client.get(url))
    response = post_form(client, url, {"to": "chair", "reason": "x"}, token_from=ANY_FORM)
    assert response.status_code == 200
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Escalation)) == 0


# ---- acknowledging --------------------------------------------------------------------------------


def test_the_escalation_contact_acknowledges_with_a_comment_once(client, login_as, db, world):
    escalation = services.escalate_by_hand(world.action, to_chair=False, reason="Not moving", by=world.user("coordinator"))
    db.session.commit()
    escalation_id = escalation.id
    login_as(world.user("contact"))
    url = f"/actions/escalations/{escalation_id}/acknowledge"
    form = client.get(url)
    assert "Arrange a joint visit with the housing officer" in _text(form)
    empty = post_form(client, url, {"comment": "  "})
    assert error_summary(empty) == ["Enter a comment: what your agency will do"]
    too_long = post_form(client, url, {"comment": "c" * 1001})
    assert error_summary(too_long) == ["The comment must be 1,000 characters or fewer"]
    done = post_form(client, url, {"comment": "Manager will chase <b>today</b>"}, follow_redirects=True)
    assert f"You have acknowledged the escalation of action {world.action.id}." in _text(done)
    again = client.get(url)
    assert again.status_code == 200
    assert page(again).h1.get_text(strip=True) == "This escalation has been acknowledged"
    assert "Manager will chase <b>today</b>" in _text(again)
    assert page(again).find("main").find("form", attrs={"method": "post"}) is None
    db.session.rollback()
    stored = db.session.get(Escalation, escalation_id)
    assert (stored.acknowledged_by_id, stored.acknowledgement) == (world.user("contact").id,
                                                                  "Manager will chase <b>today</b>")
    login_as(world.user("coordinator"))
    coordinator_view = client.get(url)  # once acknowledged, anyone who sees the action may see that
    assert coordinator_view.status_code == 200


def test_a_second_acknowledgement_posted_changes_nothing(client, login_as, db, world):
    escalation = services.escalate_by_hand(world.action, to_chair=False, reason="Not moving", by=world.user("coordinator"))
    db.session.commit()
    url = f"/actions/escalations/{escalation.id}/acknowledge"
    login_as(world.user("contact"))
    first = post_form(client, url, {"comment": "First"})
    assert first.status_code == 302
    second = post_form(client, url, {"comment": "Second"}, token_from=ANY_FORM)
    assert second.status_code == 200
    assert page(second).h1.get_text(strip=True) == "This escalation has been acknowledged"
    db.session.rollback()
    assert db.session.get(Escalation, escalation.id).acknowledgement == "First"


def test_posts_need_a_csrf_token(client, login_as, db, world):
    login_as(world.user("coordinator"))
    for url, data in ((f"/actions/{world.action.id}/update", {"note": "x", "status": "open"}),
                      (f"/actions/{world.action.id}/escalate", {"to": "chair", "reason": "x"}),
                      (f"/cases/{world.case.reference}/actions/new", _add_form(world))):
        assert client.post(url, data=data).status_code == 400, url
    assert _updates(db) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Escalation)) == 0


# ---- dashboard links -------------------------------------------------------------------------------


@pytest.mark.parametrize("who, link, href", [
    ("coordinator", "Action log", "/actions"), ("chair", "Action log", "/actions"),
    ("spoc", "Our actions", "/actions/ours"), ("assignee", "Your actions", "/actions/ours"),
])
def test_the_dashboard_links_to_the_actions(client, login_as, db, world, who, link, href):
    login_as(world.user(who))
    assert page(client.get("/")).find("a", string=link)["href"] == href


# ---- a fixed number of queries ---------------------------------------------------------------------


def _grow(world, n: int) -> None:
    """n more actions: half overdue and another agency's, a third escalated, half assigned to
    someone different each time."""
    coordinator = world.user("coordinator")
    actions = add_actions(world, n // 2) + add_actions(world, n - n // 2, overdue=True, agency=world.agencies["b"])
    people = [User(email=f"extra{i}-{n}@test.invalid", name=f"Extra {i}", role="practitioner",
                   agency_id=world.agencies["a"].id, password_hash="x") for i in range(n)]
    _db.session.add_all(people)
    _db.session.flush()
    for i, (action, person) in enumerate(zip(actions, people, strict=True)):
        if i % 2:  # half stay with the world's assignee, half go to someone new each
            action.assignee_id = person.id
        if i % 3 == 0:
            _db.session.add(Escalation(action_id=action.id, step=LadderStep.AGENCY, round=1, due_for=today(),
                                       by_id=coordinator.id, told="x <x@test.invalid>"))
    _db.session.flush()


@pytest.mark.parametrize("who, path", [
    ("coordinator", "/actions"),
    ("coordinator", "/actions?overdue=y"),
    ("coordinator", "/actions?escalated=y&page=2"),
    ("coordinator", "/actions/export.csv"),
    ("spoc", "/actions/ours"),
    ("assignee", "/actions/ours"),
    ("involved spoc", "/cases/{ref}/actions"),
])
def test_list_pages_run_the_same_queries_for_10_or_200_actions(app, db, count_queries, who, path):
    from tests.actions.test_permissions import _get

    world = pages_world.build()
    _grow(world, 10)
    db.session.commit()
    client, _ = _get(app, world.user(who), "/")
    url = path.format(ref=world.case.reference)
    client.get(url)  # warm
    with count_queries() as few:
        small = client.get(url)
    assert small.status_code == 200
    _grow(world, 190)
    db.session.commit()
    with count_queries() as many:
        large = client.get(url)
    assert large.status_code == 200
    if path.endswith(".csv"):
        assert len(large.get_data(as_text=True).splitlines()) > 200
    else:
        assert len(_rows(large)) > len(_rows(small)) or "page=2" in path
    assert many.count == few.count, (few.statements, many.statements)


def test_the_action_pages_run_the_same_queries_with_many_updates_and_escalations(app, db, count_queries, world):
    from tests.actions.test_permissions import _get

    def grow(n):
        people = [User(email=f"by{i}-{n}@test.invalid", name=f"By {i}", role="practitioner",
                       agency_id=world.agencies["a"].id, password_hash="x") for i in range(n)]
        db.session.add_all(people)
        db.session.flush()
        for i, person in enumerate(people):
            db.session.add(ActionUpdate(action_id=world.action.id, by_id=person.id, note=f"Note {n}-{i}"))
            db.session.add(Escalation(action_id=world.action.id, step=LadderStep.MANUAL_AGENCY, round=1000 * n + i,
                                      due_for=today(), by_id=person.id, reason="r", told="t <t@test.invalid>",
                                      acknowledged_at=services.utcnow(), acknowledged_by_id=person.id,
                                      acknowledgement="ok"))
        db.session.commit()

    def counts(client) -> dict[str, int]:
        out = {}
        for path in ("", "/update", "/escalate"):
            url = f"/actions/{world.action.id}{path}"
            with count_queries() as counter:
                assert client.get(url).status_code == 200, url
            out[path] = counter.count
        return out

    grow(3)
    client, _ = _get(app, world.user("coordinator"), "/")
    counts(client)  # warm
    few = counts(client)
    grow(200)
    many = counts(client)
    assert "Note 200-199" in _text(client.get(f"/actions/{world.action.id}"))
    assert many == few


def test_a_long_case_shows_its_actions_fifty_a_page_in_fixed_queries(client, login_as, db, world, count_queries):
    """A case of six hundred actions is not one page: fifty a page, counted in one query."""
    login_as(world.user("coordinator"))
    url = f"/cases/{world.case.reference}/actions"
    add_actions(world, 3)
    db.session.commit()
    client.get(url)
    with count_queries() as few:
        client.get(url)
    add_actions(world, 80)
    db.session.commit()
    with count_queries() as many:
        first = page(client.get(url))
    second = page(client.get(f"{url}?page=2"))

    assert many.count == few.count, many.statements
    assert len(first.select("table tbody tr")) == 50 and len(second.select("table tbody tr")) == 34
    assert first.select_one("#action-count").get_text(" ", strip=True) == "84 actions, 84 open. Showing 1 to 50."
    assert second.select_one(".govuk-pagination__prev a")["href"] == f"{url}?page=1"
