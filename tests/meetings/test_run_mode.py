"""Run mode: one page per agenda item with what the panel needs in view, saved by one post
(notes, the decision, new actions; attendance on the welcome item and the last panel's actions
on its item), "Save and next", "Previous" and "Save and add more actions"; a problem saves
nothing and keeps what was typed; open from the start until the minutes are finalised; a fixed
number of queries whatever the data."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.meetings import minutes as services
from panel.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    AgendaItem,
    AgendaItemKind,
    Attendance,
    AttendanceStatus,
    AuditAction,
    AuditEvent,
    CaseStatus,
    ReferralStatus,
    RiskChange,
    RiskLevel,
    StaffSafetyFlag,
    StaffSafetyKind,
    utcnow,
)
from tests.cases.helpers import create_case
from tests.conftest import error_summary, page, post_form
from tests.meetings import minutes_world


@pytest.fixture
def world(db):
    return minutes_world.build()


def _url(world, kind: AgendaItemKind | None = None) -> str:
    base = f"/meetings/{world.meeting.id}/run"
    return base if kind is None else f"{base}/{world.item(kind).id}"


def _due(world, days: int = 14) -> dict[str, str]:
    day = world.today + timedelta(days=days)
    return {"day": str(day.day), "month": str(day.month), "year": str(day.year)}


def _action_row(n: int, world, description: str, agency, days: int = 14) -> dict[str, str]:
    due = _due(world, days)
    return {f"action{n}-description": description, f"action{n}-agency_id": str(agency.id),
            f"action{n}-assignee_id": "", f"action{n}-due_on": [due["day"], due["month"], due["year"]]}


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


# ---- what the page shows -----------------------------------------------------------------------


def test_starting_the_run_goes_to_the_first_item_not_yet_minuted(client, login_as, world):
    services.record_item_minutes(world.item(AgendaItemKind.WELCOME), notes="Everyone introduced", by=world.coordinator)
    login_as(world.coordinator)

    response = client.get(_url(world))

    assert response.status_code == 302
    assert response.headers["Location"].endswith(_url(world, AgendaItemKind.LAST_MINUTES))


def test_a_case_item_shows_what_the_panel_needs(client, login_as, world):
    w = world
    services.decide_risk(w.item(AgendaItemKind.CASE), level=RiskLevel.CRITICAL, reason="Eviction notice served",
                         by=w.coordinator)
    db.session.add(StaffSafetyFlag(case_id=w.case.id, kind=list(StaffSafetyKind)[0], details="Dog at the address",
                                   set_by_id=w.coordinator.id))
    action = Action(case_id=w.case.id, description="Find supported housing", agency_id=w.housing.id,
                    due_on=w.today - timedelta(days=2), status=ActionStatus.OPEN, created_by_id=w.coordinator.id)
    db.session.add(action)
    db.session.flush()
    db.session.add_all([ActionUpdate(action_id=action.id, note="Older note", by_id=w.housing_spoc.id),
                        ActionUpdate(action_id=action.id, note="Two places offered", by_id=w.housing_spoc.id)])
    row = services.attendance_row(w.meeting, w.housing)
    row.status, row.written_update = AttendanceStatus.APOLOGIES_WITH_UPDATE, "Housing has a bed from Friday"
    login_as(w.coordinator)

    response = client.get(_url(w, AgendaItemKind.CASE))

    assert response.status_code == 200
    text = page(response).get_text(" ", strip=True)
    assert f"Case {w.case.reference}" in text
    assert "Time box 15 minutes" in text and "Time used so far 60 of 150 minutes" in text
    assert "Critical: changed from high" in text and "Eviction notice served" in text
    assert "Dog at the address" in text
    assert "Find supported housing" in text and "Overdue" in text
    assert "Two places offered" in text and "Older note" not in text
    assert "Written updates sent with apologies" in text and "Housing has a bed from Friday" in text
    soup = page(response)
    assert [b.get_text(strip=True) for b in soup.select("form button[name=go]")] == [
        "Save and next", "Save and add more actions", "Previous"]
    assert soup.select_one("[aria-current=page]").get_text(" ", strip=True).endswith(w.case.reference)
    assert _count(AuditEvent, AuditEvent.action == AuditAction.VIEW, AuditEvent.object_id == str(w.meeting.id)) >= 1


def test_the_chair_sees_the_closure_decision_and_the_coordinator_does_not(client, login_as, world):
    login_as(world.coordinator)
    coordinator_page = page(client.get(_url(world, AgendaItemKind.CLOSURE)))
    login_as(world.chair)
    chair_page = page(client.get(_url(world, AgendaItemKind.CLOSURE)))

    assert coordinator_page.select("input[name=closure_decision]") == []
    assert "The chair records the panel’s decision on closure." in coordinator_page.get_text()
    assert len(chair_page.select("input[name=closure_decision]")) == 2
    assert chair_page.select("textarea[name=notes]") == []  # the coordinator keeps the minutes


def test_an_item_of_another_panel_is_not_found(client, login_as, world):
    other = minutes_world.panel(utcnow() + timedelta(days=60))
    item = AgendaItem(meeting_id=other.id, kind=AgendaItemKind.AOB, title="AOB", position=1, minutes=5)
    db.session.add(item)
    db.session.flush()
    login_as(world.coordinator)

    assert client.get(f"/meetings/{world.meeting.id}/run/{item.id}").status_code == 404
    assert client.get(f"/meetings/{world.meeting.id}/run/99999999999").status_code == 404


# ---- one post saves the item -------------------------------------------------------------------


def test_one_post_saves_notes_a_risk_decision_and_two_actions_then_moves_on(client, login_as, world):
    w = world
    login_as(w.coordinator)
    url = _url(w, AgendaItemKind.CASE)

    response = post_form(client, url, {
        "notes": "Discussed <script>alert(1)</script> the tenancy", "level": "medium", "reason": "Moved into supported housing",
        **_action_row(1, w, "Joint visit with housing", w.housing), **_action_row(2, w, "Check bail conditions", w.police),
        "go": "next"})

    assert response.status_code == 302
    items = sorted(w.meeting.items, key=lambda i: (i.position, i.id))
    following = items[items.index(w.item(AgendaItemKind.CASE)) + 1]
    assert response.headers["Location"].endswith(f"/run/{following.id}")
    db.session.rollback()
    assert w.item(AgendaItemKind.CASE).notes == "Discussed <script>alert(1)</script> the tenancy"
    assert w.case.risk_level == RiskLevel.MEDIUM
    agreed = db.session.scalars(sa.select(Action).where(Action.meeting_id == w.meeting.id).order_by(Action.id)).all()
    assert [(a.description, a.agency_id) for a in agreed] == [("Joint visit with housing", w.housing.id),
                                                                ("Check bail conditions", w.police.id)]
    shown = client.get(url).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in shown and "Joint visit with housing" in shown


def test_the_same_post_twice_records_everything_once(client, login_as, world):
    w = world
    login_as(w.coordinator)
    url = _url(w, AgendaItemKind.CASE)
    data = {"notes": "Plan agreed", "level": "low", "reason": "Risk reduced", **_action_row(1, w, "Visit", w.housing),
            "go": "stay"}

    first = post_form(client, url, data)
    second = post_form(client, url, data)

    assert first.status_code == second.status_code == 302
    db.session.rollback()
    assert _count(RiskChange, RiskChange.case_id == w.case.id) == 1
    assert _count(Action, Action.meeting_id == w.meeting.id) == 1


def test_previous_saves_and_goes_back_and_stay_keeps_the_item(client, login_as, world):
    w = world
    login_as(w.coordinator)
    url = _url(w, AgendaItemKind.CASE)
    items = sorted(w.meeting.items, key=lambda i: (i.position, i.id))
    before = items[items.index(w.item(AgendaItemKind.CASE)) - 1]

    back = post_form(client, url, {"notes": "First thoughts", "go": "previous"})
    stay = post_form(client, url, {"notes": "First thoughts, then more", "go": "stay"})

    assert back.headers["Location"].endswith(f"/run/{before.id}")
    assert stay.headers["Location"].endswith(url)
    db.session.rollback()
    assert w.item(AgendaItemKind.CASE).notes == "First thoughts, then more"


def test_a_half_filled_action_saves_nothing_and_keeps_what_was_typed(client, login_as, world):
    w = world
    login_as(w.coordinator)

    response = post_form(client, _url(w, AgendaItemKind.CASE), {
        "notes": "Long discussion", "level": "medium", "reason": "Settled",
        "action1-description": "Refer to the GP", "action1-agency_id": "", "go": "next"})

    assert response.status_code == 200
    assert error_summary(response) == ["Select the agency responsible", "Enter the due date"]
    soup = page(response)
    assert soup.select_one("#notes").get_text() == "Long discussion"
    assert soup.select_one("#action1-description").get_text() == "Refer to the GP"
    assert soup.select_one("input[name=level][value=medium]").has_attr("checked")
    db.session.rollback()
    assert w.item(AgendaItemKind.CASE).notes == "" and w.case.risk_level == RiskLevel.HIGH
    assert _count(Action, Action.meeting_id == w.meeting.id) == 0


@pytest.mark.parametrize("data, message", [
    ({"notes": "n" * 10001}, "The notes must be 10,000 characters or fewer"),
    ({"level": "extreme"}, "Select the risk level"),
    ({"level": "medium"}, "Enter the reason for changing the risk level"),
    ({"level": "high", "reason": "Same again"}, "The risk level is already high. Select a different level"),
])
def test_bad_input_gets_a_govuk_message(client, login_as, world, data, message):
    login_as(world.coordinator)

    response = post_form(client, _url(world, AgendaItemKind.CASE), {"go": "next", **data})

    assert response.status_code == 200
    assert error_summary(response) == [message]


def test_control_characters_are_cleaned_from_the_notes(client, login_as, world):
    login_as(world.coordinator)

    post_form(client, _url(world, AgendaItemKind.CASE), {"notes": "Line one\x00\x1b\nLine two", "go": "stay"})

    db.session.rollback()
    assert world.item(AgendaItemKind.CASE).notes == "Line one\nLine two"


def test_the_welcome_item_records_attendance_prefilled_from_apologies(client, login_as, world):
    w = world
    row = services.attendance_row(w.meeting, w.housing)
    row.status, row.written_update = AttendanceStatus.APOLOGIES_WITH_UPDATE, "Update from housing"
    login_as(w.coordinator)
    url = _url(w, AgendaItemKind.WELCOME)
    shown = page(client.get(url))
    assert shown.select_one(f"input[name=status-{w.housing.id}][value=apologies_with_update]").has_attr("checked")

    response = post_form(client, url, {
        "notes": "Introductions; the statement was read", f"status-{w.police.id}": "present",
        f"attendee_name-{w.police.id}": "DS Pat Police", f"confidentiality_acknowledged-{w.police.id}": "y",
        f"status-{w.housing.id}": "apologies_with_update", f"written_update-{w.housing.id}": "Update from housing",
        "go": "next"})

    assert response.status_code == 302
    db.session.rollback()
    police = db.session.scalar(sa.select(Attendance).where(Attendance.meeting_id == w.meeting.id,
                                                           Attendance.agency_id == w.police.id))
    assert (police.status, police.attendee_name, police.confidentiality_acknowledged) == (
        AttendanceStatus.PRESENT, "DS Pat Police", True)
    assert w.item(AgendaItemKind.WELCOME).notes == "Introductions; the statement was read"


def test_attendance_problems_on_the_welcome_item_save_nothing(client, login_as, world):
    login_as(world.coordinator)

    response = post_form(client, _url(world, AgendaItemKind.WELCOME), {
        "notes": "Welcome", f"status-{world.police.id}": "present", f"attendee_name-{world.police.id}": "",
        "go": "next"})

    assert response.status_code == 200
    assert error_summary(response) == ["Enter who attended, or who deputised for the SPoC"]
    db.session.rollback()
    assert world.item(AgendaItemKind.WELCOME).notes == ""
    assert _count(Attendance, Attendance.meeting_id == world.meeting.id) == 0


def test_the_last_panel_item_records_what_became_of_its_actions(client, login_as, world):
    w = world
    login_as(w.coordinator)

    response = post_form(client, _url(w, AgendaItemKind.LAST_MINUTES), {
        "notes": "Minutes of the last panel agreed", f"outcome_{w.last_action.id}": "done",
        f"note_{w.last_action.id}": "Visit made", "go": "next"})

    assert response.status_code == 302
    db.session.rollback()
    assert w.last_action.status == ActionStatus.DONE
    assert w.item(AgendaItemKind.LAST_MINUTES).notes == "Minutes of the last panel agreed"


def test_a_referral_is_accepted_with_notes_and_its_actions_follow_on_the_new_case(client, login_as, world):
    w = world
    login_as(w.coordinator)
    url = _url(w, AgendaItemKind.REFERRAL)
    assert page(client.get(url)).select("textarea[name=action1-description]") == []  # no case yet

    response = post_form(client, url, {"notes": "Meets the criteria", "decision": "accept",
                                       "lead_agency_id": str(w.police.id), "go": "stay"})

    assert response.status_code == 302
    db.session.rollback()
    assert w.referral.status == ReferralStatus.ACCEPTED
    shown = page(client.get(url))
    assert shown.select("input[name=decision]") == []  # decided
    assert shown.select("textarea[name=action1-description]")  # actions now go on the new case


def test_a_declined_referral_keeps_the_kind_of_reason(client, login_as, world):
    login_as(world.coordinator)

    post_form(client, _url(world, AgendaItemKind.REFERRAL), {
        "decision": "decline", "rationale": "Needs met by one agency", "reason_kind": "single_agency", "go": "next"})

    db.session.rollback()
    assert world.referral.status == ReferralStatus.DECLINED
    assert world.referral.decisions[-1].reason_kind is not None


def test_the_chair_approves_a_closure_in_run_mode(client, login_as, world):
    from tests.meetings.test_minutes import _ready_to_close

    _ready_to_close(world.closing, world.housing)
    login_as(world.chair)

    response = post_form(client, _url(world, AgendaItemKind.CLOSURE), {"closure_decision": "approve", "go": "next"})

    assert response.status_code == 302
    db.session.rollback()
    assert world.closing.status == CaseStatus.CLOSED


# ---- when run mode is open -------------------------------------------------------------------


def test_before_the_start_the_page_previews_and_refuses_a_post(client, login_as, db):
    w = minutes_world.build(starts_in=timedelta(hours=2))
    login_as(w.coordinator)
    url = _url(w, AgendaItemKind.CASE)

    shown = page(client.get(url))
    response = post_form(client, url, {"notes": "Too early", "go": "next"}, token_from="/account/password")

    assert "Run mode opens when the panel starts" in shown.get_text()
    assert shown.select("textarea[name=notes]") == []
    assert response.status_code == 302
    db.session.rollback()
    assert w.item(AgendaItemKind.CASE).notes == ""


def test_after_finalising_items_cannot_be_changed(client, login_as, world):
    w = world
    login_as(w.coordinator)
    url = _url(w, AgendaItemKind.CASE)
    token_page = client.get(url)
    assert token_page.status_code == 200
    services.finalise(w.meeting, by=w.chair)
    db.session.commit()

    response = post_form(client, url, {"notes": "Late change", "go": "next"}, token_from="/account/password")

    assert response.status_code == 302
    db.session.rollback()
    assert w.item(AgendaItemKind.CASE).notes == ""
    opened = client.get(url)  # the finalised copy, on the minutes page, not today's data
    assert opened.status_code == 302
    assert opened.headers["Location"].endswith(f"/meetings/{w.meeting.id}/minutes#item-{w.item(AgendaItemKind.CASE).id}")
    assert "have been finalised" in client.get(url, follow_redirects=True).get_data(as_text=True)


# ---- a fixed number of queries -------------------------------------------------------------------


def test_an_item_page_runs_a_fixed_number_of_queries(client, login_as, world, count_queries):
    w = world
    login_as(w.coordinator)
    url = _url(w, AgendaItemKind.CASE)
    db.session.commit()
    client.get(url)

    def measure() -> int:
        db.session.commit()
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        return counter.count

    few = measure()
    for i in range(20):
        action = Action(case_id=w.case.id, description=f"Action {i}", agency_id=w.housing.id, due_on=w.today,
                        status=ActionStatus.OPEN, assignee_id=w.housing_spoc.id)
        db.session.add(action)
        db.session.flush()
        db.session.add_all([ActionUpdate(action_id=action.id, note=f"Update {j}", by_id=w.housing_spoc.id)
                            for j in range(3)])
        db.session.add(StaffSafetyFlag(case_id=w.case.id, kind=list(StaffSafetyKind)[0], set_by_id=w.coordinator.id))
        other = create_case(lead=w.police, risk=RiskLevel.MEDIUM)
        db.session.add(AgendaItem(meeting_id=w.meeting.id, kind=AgendaItemKind.CASE, case_id=other.id,
                                  position=200 + i, minutes=15))
        db.session.add(Action(case_id=w.case.id, meeting_id=w.meeting.id, description=f"Agreed {i}",
                              agency_id=w.police.id, due_on=w.today, assignee_id=w.police_spoc.id))
    many = measure()

    assert many == few
