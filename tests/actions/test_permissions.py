"""Who sees and who changes an action, page by page.

An action is case data: whoever sees the full case record sees it (coordinators, chairs, and
the SPoCs and practitioners of involved agencies); anyone else gets 404, audited as a refusal.
Only coordinators, the acting SPoC of the owning agency and the person it is assigned to update
it; only a coordinator escalates; only the escalation contact asked (or a chair, for the
chair's rungs) acknowledges.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from panel.actions import services
from panel.models import ActionUpdate, AuditAction, AuditEvent, Escalation
from tests import factories
from tests.actions import pages_world
from tests.conftest import page

EVERYONE = ["coordinator", "chair", "spoc", "deputy", "assignee", "other practitioner", "contact", "involved spoc",
            "outside spoc", "outside practitioner", "board", "admin"]

VIEW = {"coordinator", "chair", "spoc", "deputy", "assignee", "other practitioner", "contact", "involved spoc"}
UPDATE = {"coordinator", "spoc", "assignee"}
UPDATE_WHILE_SPOC_ABSENT = {"coordinator", "deputy", "assignee"}


@pytest.fixture
def world(db):
    w = pages_world.build()
    db.session.commit()
    return w


def _get(app, user, url):
    client = app.test_client()
    with client.session_transaction() as session:
        import time

        session["_user_id"] = user.session_token
        session["_fresh"] = True
        session["signed_in_at"] = time.time()
        session["last_seen"] = time.time()
    return client, client.get(url)


def _denied(db, object_type: str, object_id) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == AuditAction.DENIED, AuditEvent.object_type == object_type,
        AuditEvent.object_id == str(object_id))) or 0


@pytest.mark.parametrize("who", EVERYONE)
def test_the_action_page_is_for_those_who_see_the_case_in_full(app, db, world, who):
    action_id = world.action.id
    _, response = _get(app, world.user(who), f"/actions/{action_id}")
    if who in VIEW:
        assert response.status_code == 200
        assert "Arrange a joint visit with the housing officer" in response.get_data(as_text=True)
    else:
        assert response.status_code == 404
        assert "housing officer" not in response.get_data(as_text=True)
        if who not in ("board", "admin"):  # those two are refused by the access table first
            assert _denied(db, "action", action_id) == 1


@pytest.mark.parametrize("who", EVERYONE)
def test_only_the_coordinator_the_acting_spoc_and_the_assignee_update(app, db, world, who):
    action_id = world.action.id
    _, response = _get(app, world.user(who), f"/actions/{action_id}/update")
    assert response.status_code == (200 if who in UPDATE else 404)
    _, view = _get(app, world.user(who), f"/actions/{action_id}")
    if who in VIEW:
        has_button = page(view).find("a", string=lambda s: s and "Update this action" in s) is not None
        assert has_button == (who in UPDATE)


@pytest.mark.parametrize("who", EVERYONE)
def test_the_deputy_updates_while_the_spoc_is_absent(app, db, world, who):
    factories.mark_spoc_absent(world.agencies["a"])
    db.session.commit()
    _, response = _get(app, world.user(who), f"/actions/{world.action.id}/update")
    assert response.status_code == (200 if who in UPDATE_WHILE_SPOC_ABSENT else 404)


@pytest.fixture
def no_csrf(app):
    app.config["WTF_CSRF_ENABLED"] = False
    yield
    app.config["WTF_CSRF_ENABLED"] = True


@pytest.mark.parametrize("who", ["chair", "deputy", "other practitioner", "involved spoc", "outside spoc"])
def test_a_refused_update_changes_nothing(app, db, world, who, no_csrf):
    action_id = world.action.id
    client, _ = _get(app, world.user(who), "/")
    response = client.post(f"/actions/{action_id}/update", data={"note": "Sneaky", "status": "done"})
    assert response.status_code == 404
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ActionUpdate)) == 0
    assert _denied(db, "action", action_id) >= 1


@pytest.mark.parametrize("who", EVERYONE)
def test_only_a_coordinator_escalates(app, db, world, who):
    _, response = _get(app, world.user(who), f"/actions/{world.action.id}/escalate")
    assert response.status_code == (200 if who == "coordinator" else 404)


@pytest.mark.parametrize("who", EVERYONE)
def test_only_the_escalation_contact_asked_acknowledges_an_agency_rung(app, db, world, who):
    escalation = services.escalate_by_hand(world.action, to_chair=False, reason="No progress", by=world.user("coordinator"))
    db.session.commit()
    _, response = _get(app, world.user(who), f"/actions/escalations/{escalation.id}/acknowledge")
    assert response.status_code == (200 if who == "contact" else 404)


@pytest.mark.parametrize("who", EVERYONE)
def test_a_chair_acknowledges_a_chair_rung(app, db, world, who):
    escalation = services.escalate_by_hand(world.action, to_chair=True, reason="Stuck", by=world.user("coordinator"))
    db.session.commit()
    _, response = _get(app, world.user(who), f"/actions/escalations/{escalation.id}/acknowledge")
    assert response.status_code == (200 if who == "chair" else 404)


def test_a_reminder_is_not_acknowledged_by_anyone(app, db, world):
    reminder = Escalation(action_id=world.action.id, step="reminder", round=1, due_for=pages_world.today(),
                          told="Pat Assignee <pat.a@test.invalid>")
    db.session.add(reminder)
    db.session.commit()
    for who in ("contact", "chair", "coordinator"):
        _, response = _get(app, world.user(who), f"/actions/escalations/{reminder.id}/acknowledge")
        assert response.status_code == 404, who


def test_a_missing_action_or_escalation_is_404(app, db, world):
    huge = "9" * 30  # beyond any database integer
    for url in ("/actions/999999", "/actions/999999/update", "/actions/999999/escalate",
                "/actions/escalations/999999/acknowledge", f"/actions/{huge}", f"/actions/{huge}/update",
                f"/actions/{huge}/escalate", f"/actions/escalations/{huge}/acknowledge", "/actions/-1",
                "/actions/1.5", "/cases/" + "X" * 200 + "/actions", "/cases/%00/actions/new"):
        _, response = _get(app, world.user("coordinator"), url)
        assert response.status_code == 404, url


LOG = {"coordinator", "chair"}
OURS = {"spoc", "deputy", "assignee", "other practitioner", "contact", "involved spoc", "outside spoc",
        "outside practitioner"}
CASE_ACTIONS = VIEW


@pytest.mark.parametrize("who", EVERYONE)
def test_the_log_is_for_coordinators_and_chairs_and_ours_for_spocs_and_practitioners(app, db, world, who):
    _, log = _get(app, world.user(who), "/actions")
    _, export = _get(app, world.user(who), "/actions/export.csv")
    _, ours = _get(app, world.user(who), "/actions/ours")
    assert log.status_code == export.status_code == (200 if who in LOG else 404)
    assert ours.status_code == (200 if who in OURS else 404)


@pytest.mark.parametrize("who", EVERYONE)
def test_the_case_actions_page_follows_need_to_know_and_only_a_coordinator_adds(app, db, world, who):
    reference = world.case.reference
    _, listing = _get(app, world.user(who), f"/cases/{reference}/actions")
    _, adding = _get(app, world.user(who), f"/cases/{reference}/actions/new")
    assert listing.status_code == (200 if who in CASE_ACTIONS else 404)
    assert adding.status_code == (200 if who == "coordinator" else 404)
    if who in CASE_ACTIONS:
        has_button = page(listing).find("a", string=lambda s: s and "Add an action" in s) is not None
        assert has_button == (who == "coordinator")


def _listed(response) -> set[str]:
    return {a.get_text(strip=True) for a in page(response).select("table a") if a.get_text(strip=True).startswith("Action ")}


@pytest.mark.parametrize("who, sees", [
    ("spoc", True),                 # the acting SPoC: the agency's actions
    ("deputy", False),              # the SPoC is present
    ("assignee", True),             # assigned by name
    ("other practitioner", False),
    ("contact", False),
    ("involved spoc", False),       # another agency's action
    ("outside spoc", False),
    ("outside practitioner", False),
])
def test_our_actions_lists_the_agency_s_for_the_acting_spoc_and_the_assigned_for_others(app, db, world, who, sees):
    _, response = _get(app, world.user(who), "/actions/ours")
    assert (f"Action {world.action.id}" in _listed(response)) == sees


def test_the_deputy_sees_an_inset_while_the_spoc_is_present_and_the_list_while_absent(app, db, world):
    action_id = world.action.id
    _, present = _get(app, world.user("deputy"), "/actions/ours")
    inset = page(present).select_one(".govuk-inset-text").get_text(" ", strip=True)
    assert "Sam Spoc is Agency A’s SPoC and updates its actions" in inset
    assert f"Action {action_id}" not in _listed(present)

    factories.mark_spoc_absent(world.agencies["a"])
    db.session.commit()
    _, absent = _get(app, world.user("deputy"), "/actions/ours")
    assert page(absent).select_one(".govuk-inset-text") is None
    assert f"Action {action_id}" in _listed(absent)
    assert page(absent).h1.get_text(strip=True) == "Our actions"
    _, spoc = _get(app, world.user("spoc"), "/actions/ours")
    assert f"Action {action_id}" not in _listed(spoc)  # the absent SPoC no longer acts
    assert "Dee Deputy is Agency A’s acting SPoC" in page(spoc).select_one(".govuk-inset-text").get_text(" ", strip=True)


def test_our_actions_leaves_out_cases_the_agency_has_left_and_agencies_without_a_current_isa(app, db, world):
    action_id = world.action.id
    world.agencies["a"].isa_review_due = pages_world.today() - timedelta(days=1)
    db.session.commit()
    _, response = _get(app, world.user("spoc"), "/actions/ours")
    assert response.status_code == 200
    assert f"Action {action_id}" not in _listed(response)
    assert "information sharing agreement" in page(response).select_one(".govuk-warning-text").get_text()
    _, view = _get(app, world.user("spoc"), f"/actions/{action_id}")
    assert view.status_code == 404
