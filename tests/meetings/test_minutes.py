"""Minutes: notes, decisions through the existing services (referral accept/decline within the
cap, risk change, closure approve/return), actions agreed with the meeting's id, the last
panel's actions, finalising (read-only, the email with a link and no personal data),
amendments with who and why; the pages with their permissions, hostile input and a fixed
number of queries for the minutes page."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from panel import pathway
from panel.extensions import db
from panel.meetings import minutes as services
from panel.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    AgendaItem,
    AgendaItemKind,
    AttendanceStatus,
    AuditAction,
    AuditEvent,
    Case,
    CaseEvent,
    CaseStatus,
    MeetingAttendee,
    MinutesAmendment,
    OutboxMessage,
    OutcomeReview,
    PersonalOutcome,
    ReferralDecision,
    ReferralStatus,
    RiskChange,
    RiskLevel,
    Role,
    utcnow,
)
from panel.forms.errors import ServiceError
from tests import factories
from tests.cases.helpers import create_case
from tests.conftest import error_summary, page, post_form
from tests.meetings import minutes_world


@pytest.fixture
def world(db):
    return minutes_world.build()


def _ready_to_close(case: Case, step_down) -> None:
    """Everything the closure checklist needs."""
    case.risk_level = RiskLevel.LOW
    case.closure_rationale = "Settled in a tenancy with support."
    case.step_down_agency_id = step_down.id
    case.step_down_accepted_by, case.step_down_accepted_on = "Sam Smith, team manager", date.today()
    db.session.add(PersonalOutcome(case_id=case.id, words="A home", review=OutcomeReview.ACHIEVED))
    db.session.flush()


def _events(case: Case, kind: str) -> list[str]:
    return list(db.session.scalars(sa.select(CaseEvent.summary).where(CaseEvent.case_id == case.id,
                                                                      CaseEvent.kind == kind)))


# ---- notes and decisions -----------------------------------------------------------------------


def test_the_coordinator_records_notes_on_an_item(world):
    item = world.item(AgendaItemKind.CASE)

    assert services.record_item_minutes(item, notes="  Discussed the tenancy.\r\nHousing to visit.  ", by=world.coordinator)
    assert not services.record_item_minutes(item, notes="Discussed the tenancy.\nHousing to visit.", by=world.coordinator)

    assert item.notes == "Discussed the tenancy.\nHousing to visit."
    summary = db.session.scalars(sa.select(AuditEvent.summary).where(AuditEvent.object_type == "agenda_item")).one()
    assert "tenancy" not in summary


def test_only_the_coordinator_records_notes(world):
    with pytest.raises(ServiceError, match="Only the coordinator"):
        services.record_item_minutes(world.item(AgendaItemKind.CASE), notes="x", by=world.chair)


def test_notes_have_a_limit(world):
    with pytest.raises(ServiceError, match="10,000 characters or fewer"):
        services.record_item_minutes(world.item(AgendaItemKind.CASE), notes="n" * 10001, by=world.coordinator)


def test_accepting_a_referral_opens_a_case_through_the_referral_service(world):
    item = world.item(AgendaItemKind.REFERRAL)

    case = services.decide_referral(item, accept=True, by=world.coordinator, lead_agency=world.housing)

    assert world.referral.status == ReferralStatus.ACCEPTED
    assert case.lead_agency_id == world.housing.id and case.accepted_on == services.panel_day(world.meeting)
    assert item.decision == f"Accepted; lead agency Housing; case {case.reference}"
    assert db.session.scalar(sa.select(ReferralDecision.outcome).where(
        ReferralDecision.referral_id == world.referral.id).order_by(ReferralDecision.id.desc()).limit(1)) == "accepted"
    assert services.item_case(item).id == case.id


def test_declining_a_referral_goes_through_the_referral_service(world):
    item = world.item(AgendaItemKind.REFERRAL)

    services.decide_referral(item, accept=False, by=world.chair, rationale="Single-agency support fits better.")

    assert world.referral.status == ReferralStatus.DECLINED
    assert item.decision == "Declined: Single-agency support fits better."
    decision = db.session.scalar(sa.select(ReferralDecision).where(ReferralDecision.referral_id == world.referral.id)
                                 .order_by(ReferralDecision.id.desc()).limit(1))
    assert (decision.outcome, decision.reason) == ("declined_at_panel", "Single-agency support fits better.")


def test_a_decision_needs_its_answer(world):
    item = world.item(AgendaItemKind.REFERRAL)
    with pytest.raises(ServiceError, match="Select the lead agency"):
        services.decide_referral(item, accept=True, by=world.coordinator)
    with pytest.raises(ServiceError, match="Enter why the panel declined the referral"):
        services.decide_referral(item, accept=False, by=world.coordinator, rationale="  ")


def test_accepting_at_a_full_pathway_does_not_pass_the_cap(world, app):
    """The referral already holds its place: accepting it turns that place into a case, so a full
    pathway stays exactly full (the cap is enforced at submission and promotion)."""
    app.config["CASE_CAP"] = pathway.occupancy().used
    before = pathway.occupancy()
    assert before.full

    services.decide_referral(world.item(AgendaItemKind.REFERRAL), accept=True, by=world.coordinator,
                             lead_agency=world.police)

    after = pathway.occupancy()
    assert (after.used, after.cases, after.referrals) == (before.used, before.cases + 1, before.referrals - 1)


@pytest.mark.parametrize("status", ["waiting", "withdrawn", "declined"])
def test_a_referral_no_longer_awaiting_the_panel_is_refused_by_the_service(world, status):
    """A referral that lost its place (withdrawn, declined) or never had one (the waiting list,
    when the pathway was full) cannot be accepted: the referral service's error comes through."""

    world.referral.status = ReferralStatus(status)
    item = world.item(AgendaItemKind.REFERRAL)

    with pytest.raises(ServiceError):
        services.decide_referral(item, accept=True, by=world.coordinator, lead_agency=world.police)
    assert item.decision == ""


def test_the_coordinator_changes_the_risk_level_through_the_case_service(world):
    item = world.item(AgendaItemKind.CASE)

    services.decide_risk(item, level=RiskLevel.MEDIUM, reason="Now has a safe place to stay", by=world.coordinator)

    assert world.case.risk_level == RiskLevel.MEDIUM
    change = db.session.scalars(sa.select(RiskChange).where(RiskChange.case_id == world.case.id)).one()
    assert (change.from_level, change.to_level, change.reason) == (RiskLevel.HIGH, RiskLevel.MEDIUM,
                                                                   "Now has a safe place to stay")
    assert _events(world.case, "risk") == ["Risk changed from High to Medium"]
    assert item.decision == "Risk level changed from High to Medium: Now has a safe place to stay"


def test_a_risk_decision_needs_a_change_and_a_reason(world):
    item = world.item(AgendaItemKind.CASE)
    with pytest.raises(ServiceError, match="already high"):
        services.decide_risk(item, level=RiskLevel.HIGH, reason="Same", by=world.coordinator)
    with pytest.raises(ServiceError, match="Enter the reason"):
        services.decide_risk(item, level=RiskLevel.LOW, reason=" ", by=world.coordinator)


def test_decisions_belong_to_their_roles_and_items(world):
    with pytest.raises(ServiceError, match="cannot record this decision"):
        services.decide_risk(world.item(AgendaItemKind.CASE), level=RiskLevel.LOW, reason="r", by=world.chair)
    with pytest.raises(ServiceError, match="cannot record this decision"):
        services.decide_closure(world.item(AgendaItemKind.CLOSURE), approve=False, reason="r", by=world.coordinator)
    with pytest.raises(ServiceError, match="does not belong"):
        services.decide_risk(world.item(AgendaItemKind.CLOSURE), level=RiskLevel.LOW, reason="r", by=world.coordinator)


def test_the_closure_checklist_still_applies_at_panel(world):
    with pytest.raises(ServiceError, match="not ready to close"):
        services.decide_closure(world.item(AgendaItemKind.CLOSURE), approve=True, by=world.chair)
    assert world.closing.status == CaseStatus.CLOSURE_PROPOSED


def test_the_chair_approves_a_closure_dated_the_panel(world):
    _ready_to_close(world.closing, world.police)
    item = world.item(AgendaItemKind.CLOSURE)

    services.decide_closure(item, approve=True, by=world.chair)

    assert world.closing.status == CaseStatus.CLOSED
    assert world.closing.closed_on == world.closing.closure_panel_date == services.panel_day(world.meeting)
    assert item.decision == "Closure approved; case closed"
    assert "Closure approved at panel; case closed" in _events(world.closing, "closure")


def test_the_chair_returns_a_closure_with_a_reason(world):
    item = world.item(AgendaItemKind.CLOSURE)

    services.decide_closure(item, approve=False, reason="Outcomes not reviewed with the person", by=world.chair)

    assert world.closing.status == CaseStatus.ACTIVE
    assert item.decision == "Closure returned: Outcomes not reviewed with the person"
    assert "Closure returned: Outcomes not reviewed with the person" in _events(world.closing, "closure")


# ---- actions -----------------------------------------------------------------------------------


def test_an_action_agreed_carries_the_meetings_id(world):
    item = world.item(AgendaItemKind.CASE)
    due = world.today + timedelta(days=14)

    action = services.add_item_action(item, description="Visit with housing", agency=world.housing, due_on=due,
                                      by=world.coordinator, assignee=world.housing_spoc)
    again = services.add_item_action(item, description="Visit with housing", agency=world.housing, due_on=due,
                                     by=world.coordinator, assignee=world.housing_spoc)

    assert again.id == action.id  # a double click makes one action
    assert (action.meeting_id, action.case_id, action.agency_id, action.assignee_id, action.due_on) == (
        world.meeting.id, world.case.id, world.housing.id, world.housing_spoc.id, due)
    assert action.next_step is not None  # the ladder started
    assert any(s.startswith(f"Action {action.id} agreed for Housing") for s in _events(world.case, "action"))


def test_an_action_needs_an_involved_agency_and_a_future_date(world):
    item = world.item(AgendaItemKind.CASE)
    with pytest.raises(ServiceError, match="involved in the case"):
        services.add_item_action(item, description="x", agency=world.nospoc, due_on=world.today, by=world.coordinator)
    with pytest.raises(ServiceError, match="today or in the future"):
        services.add_item_action(item, description="x", agency=world.police, due_on=world.today - timedelta(days=1),
                                 by=world.coordinator)


def test_a_referral_items_actions_go_on_the_case_once_accepted(world):
    item = world.item(AgendaItemKind.REFERRAL)
    with pytest.raises(ServiceError, match="Accept the referral first"):
        services.add_item_action(item, description="x", agency=world.police, due_on=world.today, by=world.coordinator)

    case = services.decide_referral(item, accept=True, by=world.coordinator, lead_agency=world.police)
    action = services.add_item_action(item, description="First visit", agency=world.police, due_on=world.today,
                                      by=world.coordinator)

    assert (action.case_id, action.meeting_id) == (case.id, world.meeting.id)


@pytest.mark.parametrize("status", [ActionStatus.DONE, ActionStatus.NOT_POSSIBLE, ActionStatus.NOT_DONE])
def test_the_last_panels_actions_are_recorded_through_the_action_service(world, status):
    update = services.record_last_action(world.meeting, world.last_action, status=status, note="", by=world.coordinator)

    assert world.last_action.status == status and world.last_action.closed_at is not None
    assert world.last_action.next_step is None  # the ladder stopped
    assert (update.old_status, update.new_status) == (ActionStatus.OPEN, status)
    assert update.note == f"Recorded at the panel of {services.panel_day(world.meeting).day} " \
                          f"{services.panel_day(world.meeting):%B %Y}"
    assert services.record_last_action(world.meeting, world.last_action, status=status, note="",
                                       by=world.coordinator) is None  # sent twice
    assert services.last_panel_open_actions(world.meeting)[1] == []


def test_only_the_last_panels_actions_and_outcomes_are_recorded_here(world):
    other = Action(case_id=world.case.id, description="Not from the last panel", agency_id=world.police.id,
                   due_on=world.today, status=ActionStatus.OPEN)
    db.session.add(other)
    db.session.flush()
    with pytest.raises(ServiceError, match="not agreed at the last panel"):
        services.record_last_action(world.meeting, other, status=ActionStatus.DONE, note="", by=world.coordinator)
    with pytest.raises(ServiceError, match="Select done"):
        services.record_last_action(world.meeting, world.last_action, status=ActionStatus.CANCELLED, note="",
                                    by=world.coordinator)


# ---- finalising and amendments ------------------------------------------------------------------


def test_only_the_chair_finalises(world):
    with pytest.raises(ServiceError, match="Only the panel chair"):
        services.finalise(world.meeting, by=world.coordinator)


def test_minutes_cannot_be_finalised_before_the_panel(db):
    w = minutes_world.build(starts_in=timedelta(days=2))
    with pytest.raises(ServiceError, match="has not started"):
        services.finalise(w.meeting, by=w.chair)


def test_finalised_minutes_are_read_only(world):
    case_item, referral_item = world.item(AgendaItemKind.CASE), world.item(AgendaItemKind.REFERRAL)
    services.finalise(world.meeting, by=world.chair)

    assert world.meeting.minutes_finalised_by_id == world.chair.id and world.meeting.finalised
    attempts = [
        lambda: services.record_item_minutes(case_item, notes="late", by=world.coordinator),
        lambda: services.decide_risk(case_item, level=RiskLevel.LOW, reason="late", by=world.coordinator),
        lambda: services.decide_referral(referral_item, accept=True, by=world.coordinator, lead_agency=world.police),
        lambda: services.add_item_action(case_item, description="late", agency=world.police, due_on=world.today,
                                         by=world.coordinator),
        lambda: services.record_last_action(world.meeting, world.last_action, status=ActionStatus.DONE, note="",
                                            by=world.coordinator),
        lambda: services.record_attendance(services.attendance_row(world.meeting, world.police),
                                           status=AttendanceStatus.ABSENT, by=world.coordinator),
        lambda: services.finalise(world.meeting, by=world.chair),
    ]
    for attempt in attempts:
        with pytest.raises(ServiceError, match="finalised on .* so they can no longer be changed. Record an amendment"):
            attempt()
    assert case_item.notes == "" and world.case.risk_level == RiskLevel.HIGH
    assert world.referral.status == ReferralStatus.AWAITING_PANEL and world.last_action.status == ActionStatus.OPEN


def test_finalising_emails_a_link_and_the_date_only(world):
    services.record_item_minutes(world.item(AgendaItemKind.CASE), notes="Zebedee is settling.", by=world.coordinator)
    services.add_item_action(world.item(AgendaItemKind.CASE), description="Visit Zebedee at home",
                             agency=world.police, due_on=world.today, by=world.coordinator)
    db.session.query(OutboxMessage).delete()

    services.finalise(world.meeting, by=world.chair)

    messages = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.to_addr)).all()
    assert [m.to_addr for m in messages] == ["coordinator@test.invalid", "housing.spoc@test.invalid",
                                            "police.spoc@test.invalid"]
    day = services.panel_day(world.meeting)
    for message in messages:
        text = message.subject + "\n" + message.body_text
        assert f"http://localhost/meetings/{world.meeting.id}/minutes" in text
        assert f"{day.day} {day:%B %Y}" in message.subject
        for secret in ("Zebedee", "Quaintly", world.case.reference, "Rowena", "Visit", "LU1", "1980",
                       world.referral.reference, "Ottoline"):
            assert secret not in text, secret


def test_finalising_tells_every_attendee_with_an_account_but_not_externals(world):
    worker = factories.create_user(role=Role.PRACTITIONER, agency=world.housing, email="named.worker@test.invalid")
    left = factories.create_user(role=Role.PRACTITIONER, agency=world.police, email="left.worker@test.invalid")
    left.active = False
    db.session.add_all([
        MeetingAttendee(meeting_id=world.meeting.id, user_id=worker.id, name=worker.name, email=worker.email),
        MeetingAttendee(meeting_id=world.meeting.id, user_id=left.id, name=left.name, email=left.email),
        MeetingAttendee(meeting_id=world.meeting.id, name="Dr Ash Example", email="gp@surgery.invalid"),
        MeetingAttendee(meeting_id=world.meeting.id, user_id=world.chair.id, name="Chair", email=world.chair.email,
                        removed_at=utcnow()),
    ])
    db.session.query(OutboxMessage).delete()

    services.finalise(world.meeting, by=world.chair)

    messages = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.to_addr)).all()
    assert [m.to_addr for m in messages] == ["coordinator@test.invalid", "housing.spoc@test.invalid",
                                            "named.worker@test.invalid", "police.spoc@test.invalid"]
    for message in messages:  # a link, nothing else
        assert re.findall(r"https?://\S+", message.body_text) == [f"http://localhost/meetings/{world.meeting.id}/minutes"]


def test_the_deputy_gets_the_email_while_the_spoc_is_absent(world):
    deputy = factories.create_user(role=Role.SPOC, agency=world.police, email="police.deputy@test.invalid")
    world.police.deputy_spoc = deputy
    factories.mark_spoc_absent(world.police)

    services.finalise(world.meeting, by=world.chair)

    to = set(db.session.scalars(sa.select(OutboxMessage.to_addr)))
    assert "police.deputy@test.invalid" in to and "police.spoc@test.invalid" not in to


def test_an_amendment_is_kept_beside_the_original(world):
    item = world.item(AgendaItemKind.CASE)
    services.record_item_minutes(item, notes="Housing to visit on Monday.", by=world.coordinator)
    with pytest.raises(ServiceError, match="not been finalised"):
        services.amend(world.meeting, item=item, text="Tuesday", reason="Typo", by=world.coordinator)
    services.finalise(world.meeting, by=world.chair)

    amendment = services.amend(world.meeting, item=item, text="Housing to visit on Tuesday.",
                               reason="The day was minuted wrongly", by=world.coordinator)
    again = services.amend(world.meeting, item=item, text="Housing to visit on Tuesday.",
                           reason="The day was minuted wrongly", by=world.coordinator)
    general = services.amend(world.meeting, item=None, text="Fire and Rescue also attended.",
                             reason="Left off the attendance", by=world.chair)

    assert again.id == amendment.id
    assert (amendment.by_id, amendment.agenda_item_id, amendment.reason) == (
        world.coordinator.id, item.id, "The day was minuted wrongly")
    assert amendment.at is not None and general.agenda_item_id is None and general.by_id == world.chair.id
    assert item.notes == "Housing to visit on Monday."  # the original stays
    audited = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "minutes_amendment")).all()
    assert len(audited) == 2


def test_an_amendment_needs_words_a_reason_and_an_item_of_this_panel(world):
    services.finalise(world.meeting, by=world.chair)
    other_item = AgendaItem(meeting_id=world.previous.id, kind=AgendaItemKind.AOB, title="AOB")
    db.session.add(other_item)
    db.session.flush()
    with pytest.raises(ServiceError, match="Enter the amendment"):
        services.amend(world.meeting, item=None, text=" ", reason="r", by=world.chair)
    with pytest.raises(ServiceError, match="Enter why"):
        services.amend(world.meeting, item=None, text="t", reason="", by=world.chair)
    with pytest.raises(ServiceError, match="Select an item of this panel"):
        services.amend(world.meeting, item=other_item, text="t", reason="r", by=world.chair)
    with pytest.raises(ServiceError, match="coordinator or the chair"):
        services.amend(world.meeting, item=None, text="t", reason="r", by=world.police_spoc)


# ---- the read model ---------------------------------------------------------------------------


def test_a_spoc_sees_other_agencies_cases_restricted(world):
    view = services.minutes_view(world.meeting, world.housing_spoc)
    by_kind = {entry.item.kind: entry for entry in view.items}

    assert by_kind[AgendaItemKind.CASE].full  # housing is involved
    assert by_kind[AgendaItemKind.CLOSURE].full  # housing leads it
    assert not by_kind[AgendaItemKind.REFERRAL].full  # a police referral
    assert by_kind[AgendaItemKind.AOB].full and not by_kind[AgendaItemKind.ESCALATIONS].full

    outsider = factories.create_user(role=Role.SPOC, agency=factories.create_agency())
    view = services.minutes_view(world.meeting, outsider)
    assert not any(e.full for e in view.items if e.about_person)
    assert not any(last.full for last in view.last_actions)


# ---- pages -----------------------------------------------------------------------------------


def _url(world, suffix: str = "") -> str:
    return f"/meetings/{world.meeting.id}/minutes{suffix}"


def _item_url(world, kind: AgendaItemKind, suffix: str = "") -> str:
    return _url(world, f"/items/{world.item(kind).id}{suffix}")


def test_the_minutes_page_shows_what_was_recorded(client, login_as, world):
    w = world
    case_item = w.item(AgendaItemKind.CASE)
    services.record_item_minutes(case_item, notes="Discussed <b>housing</b>.", by=w.coordinator)
    services.decide_risk(case_item, level=RiskLevel.MEDIUM, reason="Settled", by=w.coordinator)
    services.add_item_action(case_item, description="Joint visit", agency=w.housing, due_on=w.today + timedelta(days=7),
                             by=w.coordinator, assignee=w.housing_spoc)
    services.record_last_action(w.meeting, w.last_action, status=ActionStatus.NOT_POSSIBLE, note="Moved away",
                                by=w.coordinator)
    row = services.attendance_row(w.meeting, w.police)
    services.record_attendance(row, status=AttendanceStatus.PRESENT, by=w.coordinator, attendee_name="Pat Police",
                               confidentiality_acknowledged=True)
    login_as(w.coordinator)

    response = client.get(_url(w))

    assert response.status_code == 200
    soup = page(response)
    text = soup.get_text(" ", strip=True)
    assert "Draft" in text and "Finalise the minutes" not in text  # the chair's link
    section = soup.find(id=f"item-{case_item.id}").parent
    section_text = section.get_text(" ", strip=True)
    assert "Discussed <b>housing</b>." in section_text  # escaped, shown as typed
    assert "Risk level changed from High to Medium: Settled" in section_text
    assert "Joint visit" in section_text and "Housing (Harper Housing)" in section_text
    assert "Not possible because circumstances changed" in text and "Moved away" in text
    assert "Pat Police" in text and "Present: 1" in text
    assert "<b>housing</b>" not in response.get_data(as_text=True)


def test_the_chair_sees_the_finalise_link_and_reads_every_item(client, login_as, world):
    login_as(world.chair)

    soup = page(client.get(_url(world)))

    assert soup.find("a", string="Finalise the minutes")["href"] == _url(world, "/finalise")
    assert client.get(_item_url(world, AgendaItemKind.CASE)).status_code == 200


def _grow(world, n: int) -> None:
    """n more cases on the agenda, each with two actions agreed and a last-panel action."""
    for i in range(n):
        case = create_case(lead=world.police, involved=(world.housing,), risk=RiskLevel.MEDIUM)
        db.session.add(AgendaItem(meeting_id=world.meeting.id, kind=AgendaItemKind.CASE, case_id=case.id,
                                  position=100 + i, notes=f"Notes {i}"))
        for j in range(2):
            db.session.add(Action(case_id=case.id, meeting_id=world.meeting.id, description=f"Action {i}.{j}",
                                  agency_id=world.housing.id, assignee_id=world.housing_spoc.id,
                                  due_on=world.today, status=ActionStatus.OPEN))
        last = Action(case_id=case.id, meeting_id=world.previous.id, description=f"Last {i}", agency_id=world.police.id,
                      due_on=world.today, status=ActionStatus.OPEN)
        db.session.add(last)
        db.session.flush()
        db.session.add(ActionUpdate(action_id=last.id, note="done", old_status=ActionStatus.OPEN,
                                    new_status=ActionStatus.DONE))
        db.session.add(MinutesAmendment(meeting_id=world.meeting.id, by_id=world.chair.id, reason="r", text="t",
                                        agenda_item_id=None))
    db.session.flush()


@pytest.mark.parametrize("who", ["coordinator", "housing_spoc"])
def test_the_minutes_page_runs_a_fixed_number_of_queries(client, login_as, world, count_queries, who):
    if who == "housing_spoc":
        world.meeting.minutes_finalised_at, world.meeting.minutes_finalised_by_id = utcnow(), world.chair.id
    services.ensure_attendance_rows(world.meeting)
    login_as(getattr(world, who))
    db.session.commit()
    client.get(_url(world))  # warm up (the session, the first audit row)

    statements: list[str] = []

    def measure() -> int:
        db.session.commit()
        with count_queries() as counter:
            assert client.get(_url(world)).status_code == 200
        statements.extend(["----", *counter.statements])
        return counter.count

    few = measure()
    _grow(world, 30)
    many = measure()

    assert many == few, f"{few} queries with a few items, {many} with many:\n" + "\n".join(statements)


def test_the_coordinator_saves_notes_on_the_item_page(client, login_as, world):
    login_as(world.coordinator)
    url = _item_url(world, AgendaItemKind.CASE)

    response = post_form(client, url, {"notes": "Agreed <script>x</script> plan", "save_notes": "Save notes"})

    assert response.status_code == 302
    db.session.rollback()
    assert world.item(AgendaItemKind.CASE).notes == "Agreed <script>x</script> plan"
    html = client.get(url).get_data(as_text=True)
    assert "The notes have been saved." in html and "<script>x</script>" not in html


def test_notes_that_are_too_long_keep_what_was_typed(client, login_as, world):
    login_as(world.coordinator)

    response = post_form(client, _item_url(world, AgendaItemKind.CASE), {"notes": "n" * 10001, "save_notes": "Save"})

    assert error_summary(response) == ["The notes must be 10,000 characters or fewer"]
    assert page(response).select_one("#notes").get_text() == "n" * 10001


def test_the_coordinator_records_a_risk_decision_on_the_item_page(client, login_as, world):
    login_as(world.coordinator)
    url = _item_url(world, AgendaItemKind.CASE)

    missing = post_form(client, url, {"level": "medium", "reason": "", "change_level": "Change"})
    bogus = post_form(client, url, {"level": "extreme", "reason": "x", "change_level": "Change"})
    response = post_form(client, url, {"level": "medium", "reason": "Settled", "change_level": "Change"})
    twice = post_form(client, url, {"level": "medium", "reason": "Settled", "change_level": "Change"})

    assert error_summary(missing) == ["Enter the reason for changing the risk level"]
    assert error_summary(bogus) == ["Select the risk level"]
    assert response.status_code == twice.status_code == 302
    db.session.rollback()
    assert world.case.risk_level == RiskLevel.MEDIUM
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RiskChange)) == 1
    assert "already been recorded" in client.get(url).get_data(as_text=True)


def test_a_referral_is_accepted_on_the_item_page(client, login_as, world):
    login_as(world.chair)
    url = _item_url(world, AgendaItemKind.REFERRAL)

    missing = post_form(client, url, {"decision": "accept", "lead_agency_id": ""})
    response = post_form(client, url, {"decision": "accept", "lead_agency_id": str(world.housing.id)})
    again = post_form(client, url, {"decision": "accept", "lead_agency_id": str(world.housing.id)},
                      token_from="/account/password")

    assert error_summary(missing) == ["Select the lead agency"]
    assert response.status_code == again.status_code == 302
    db.session.rollback()
    assert world.referral.status == ReferralStatus.ACCEPTED
    assert world.item(AgendaItemKind.REFERRAL).decision.startswith("Accepted; lead agency Housing; case CASPA-")
    assert "That decision has already been recorded." in client.get(url).get_data(as_text=True)


def test_a_referral_that_cannot_be_accepted_shows_a_govuk_error(client, login_as, world, monkeypatch):
    """The referral changed after the page was opened (withdrawn in another tab): the service's
    error is shown on the form, nothing is recorded."""
    from panel.referrals import services as referral_services

    login_as(world.coordinator)
    url = _item_url(world, AgendaItemKind.REFERRAL)
    token_page = client.get(url)
    assert token_page.status_code == 200

    def refuse(*args, **kwargs):
        raise ServiceError("This referral is withdrawn, so that cannot be done now")

    monkeypatch.setattr(referral_services, "accept", refuse)
    response = post_form(client, url, {"decision": "accept", "lead_agency_id": str(world.police.id)})

    assert response.status_code == 200
    assert error_summary(response) == ["This referral is withdrawn, so that cannot be done now"]
    db.session.rollback()
    assert world.item(AgendaItemKind.REFERRAL).decision == ""


def test_the_closure_checklist_refusal_is_a_govuk_error(client, login_as, world):
    login_as(world.chair)

    response = post_form(client, _item_url(world, AgendaItemKind.CLOSURE), {"closure_decision": "approve",
                                                                              "save_closure": "Record"})

    assert response.status_code == 200
    assert error_summary(response)[0].startswith("The case is not ready to close: ")
    db.session.rollback()
    assert world.closing.status == CaseStatus.CLOSURE_PROPOSED


def test_the_chair_approves_a_closure_on_the_item_page(client, login_as, world):
    _ready_to_close(world.closing, world.police)
    login_as(world.chair)

    response = post_form(client, _item_url(world, AgendaItemKind.CLOSURE), {"closure_decision": "approve",
                                                                              "save_closure": "Record"})

    assert response.status_code == 302
    db.session.rollback()
    assert world.closing.status == CaseStatus.CLOSED


def test_a_coordinator_cannot_decide_a_closure_nor_a_chair_a_risk_or_notes(client, login_as, world):
    login_as(world.coordinator)
    closure = _item_url(world, AgendaItemKind.CLOSURE)
    assert "The chair records the panel’s decision on closure." in client.get(closure).get_data(as_text=True)
    assert post_form(client, closure, {"closure_decision": "return", "closure_reason": "r", "save_closure": "x"},
                     token_from="/account/password").status_code == 404
    login_as(world.chair)
    case = _item_url(world, AgendaItemKind.CASE)
    assert post_form(client, case, {"level": "low", "reason": "r", "change_level": "x"},
                     token_from="/account/password").status_code == 404
    assert post_form(client, case, {"notes": "n", "save_notes": "x"}, token_from="/account/password").status_code == 404
    db.session.rollback()
    assert world.closing.status == CaseStatus.CLOSURE_PROPOSED and world.case.risk_level == RiskLevel.HIGH
    denied = db.session.scalars(sa.select(AuditEvent.summary).where(AuditEvent.action == AuditAction.DENIED)).all()
    assert len(denied) == 3


def test_the_coordinator_adds_an_action_on_its_page(client, login_as, world):
    login_as(world.coordinator)
    url = _item_url(world, AgendaItemKind.CASE, "/actions/new")
    due = world.today + timedelta(days=10)

    bad = post_form(client, url, {"description": "", "agency_id": str(world.nospoc.id), "assignee_id": "",
                                  "due_on": ["31", "2", "2030"]})
    response = post_form(client, url, {"description": "Joint visit", "agency_id": str(world.housing.id),
                                       "assignee_id": str(world.housing_spoc.id),
                                       "due_on": [str(due.day), str(due.month), str(due.year)]})

    assert set(error_summary(bad)) == {"Enter what the agency will do", "Select the agency responsible",
                                       "Due date must be a real date"}
    assert response.status_code == 302
    db.session.rollback()
    action = db.session.scalars(sa.select(Action).where(Action.meeting_id == world.meeting.id)).one()
    assert (action.description, action.agency_id, action.due_on) == ("Joint visit", world.housing.id, due)
    listing = page(client.get(_item_url(world, AgendaItemKind.CASE))).get_text(" ", strip=True)
    assert "Joint visit" in listing and f"Action {action.id} added for Housing." in listing


def test_an_item_not_about_a_case_has_no_actions(client, login_as, world):
    login_as(world.coordinator)

    response = client.get(_item_url(world, AgendaItemKind.AOB, "/actions/new"))

    assert response.status_code == 302


def test_the_last_panels_actions_are_recorded_on_their_page(client, login_as, world):
    login_as(world.coordinator)
    url = _url(world, "/last-actions")
    field = f"outcome_{world.last_action.id}"

    nothing = post_form(client, url, {})
    bogus = post_form(client, url, {field: "cancelled"})
    response = post_form(client, url, {field: "not_done", f"note_{world.last_action.id}": "No capacity"})

    assert error_summary(nothing) == ["Select what happened to at least one action"]
    assert error_summary(bogus) == [f"Select what happened to action {world.last_action.id}, or still open"]
    assert response.status_code == 302
    db.session.rollback()
    assert world.last_action.status == ActionStatus.NOT_DONE
    after = page(client.get(url)).get_text(" ", strip=True)
    assert "is still open" in after and "Not done by the agency" in after


def test_the_chair_finalises_on_the_page_and_the_minutes_are_read_only(client, login_as, world):
    login_as(world.chair)

    response = post_form(client, _url(world, "/finalise"), {})
    twice = post_form(client, _url(world, "/finalise"), {}, token_from="/account/password")

    assert response.status_code == twice.status_code == 302
    db.session.rollback()
    assert world.meeting.minutes_finalised_by_id == world.chair.id
    text = page(client.get(_url(world))).get_text(" ", strip=True)
    assert "Finalised by Charlie Chair" in text and "Record an amendment" in text
    login_as(world.coordinator)
    late = post_form(client, _item_url(world, AgendaItemKind.CASE), {"notes": "late", "save_notes": "x"},
                     token_from="/account/password")
    assert late.status_code == 302
    db.session.rollback()
    assert world.item(AgendaItemKind.CASE).notes == ""
    item_page = page(client.get(_item_url(world, AgendaItemKind.CASE)))
    assert not item_page.select("textarea") and "can no longer be changed" in item_page.get_text()


def test_an_amendment_is_recorded_on_its_page_and_shown_beneath(client, login_as, world):
    item = world.item(AgendaItemKind.CASE)
    services.record_item_minutes(item, notes="Visit on Monday.", by=world.coordinator)
    login_as(world.coordinator)
    before = page(client.get(_url(world, "/amend"))).get_text(" ", strip=True)
    services.finalise(world.meeting, by=world.chair)
    db.session.commit()

    bad = post_form(client, _url(world, "/amend"), {"item_id": "abc", "text": "", "reason": "r" * 1001})
    response = post_form(client, _url(world, "/amend"), {"item_id": str(item.id), "text": "Visit on Tuesday.",
                                                         "reason": "Wrong day"})

    assert "change them directly" in before
    assert set(error_summary(bad)) == {"Select the part of the minutes the amendment corrects", "Enter the amendment",
                                       "The reason must be 1,000 characters or fewer"}
    assert response.status_code == 302
    section = page(client.get(_url(world))).find(id=f"item-{item.id}").parent.get_text(" ", strip=True)
    assert section.index("Visit on Monday.") < section.index("Visit on Tuesday.")
    assert "by Casey Coordinator" in section and "Why: Wrong day" in section


def test_a_spoc_reads_only_finalised_minutes_with_need_to_know(client, login_as, world):
    case_item, referral_item = world.item(AgendaItemKind.CASE), world.item(AgendaItemKind.REFERRAL)
    services.record_item_minutes(case_item, notes="Case notes for involved agencies.", by=world.coordinator)
    services.record_item_minutes(referral_item, notes="Referral notes for the police.", by=world.coordinator)
    login_as(world.housing_spoc)

    draft = page(client.get(_url(world))).get_text(" ", strip=True)
    services.finalise(world.meeting, by=world.chair)
    db.session.commit()
    final = page(client.get(_url(world))).get_text(" ", strip=True)

    assert "have not been finalised yet" in draft and "Case notes" not in draft
    assert "Case notes for involved agencies." in final
    assert "Referral notes for the police." not in final and "only this summary is shown" in final
    assert client.get(_url(world, ".pdf")).status_code == 404
    assert client.get(_item_url(world, AgendaItemKind.CASE)).status_code == 404


def test_a_spoc_whose_agency_has_no_current_isa_is_told_why(client, login_as, world):
    world.housing.isa_review_due = date.today() - timedelta(days=1)
    services.record_item_minutes(world.item(AgendaItemKind.CASE), notes="Case notes.", by=world.coordinator)
    services.finalise(world.meeting, by=world.chair)
    login_as(world.housing_spoc)

    text = page(client.get(_url(world))).get_text(" ", strip=True)

    assert "past its review date" in text and "Case notes." not in text


@pytest.mark.parametrize("role", ["practitioner", "board", "admin"])
def test_others_get_404_on_every_minutes_page(client, login_as, world, role):
    login_as(role)
    for url in (_url(world), _url(world, ".pdf"), _url(world, "/last-actions"), _url(world, "/finalise"),
                _url(world, "/amend"), _item_url(world, AgendaItemKind.CASE),
                _item_url(world, AgendaItemKind.CASE, "/actions/new")):
        assert client.get(url).status_code == 404, url


def test_an_item_of_another_meeting_is_404(client, login_as, world):
    other = AgendaItem(meeting_id=world.previous.id, kind=AgendaItemKind.AOB, title="AOB")
    db.session.add(other)
    db.session.flush()
    login_as(world.coordinator)

    assert client.get(_url(world, f"/items/{other.id}")).status_code == 404


def test_the_meeting_page_links_include_the_minutes_for_those_allowed(app, world):
    """templates/meetings/_minutes_links.html, as the meeting page includes it."""
    from flask import render_template
    from flask_login import login_user

    def links(user) -> list[str]:
        with app.test_request_context("/"):
            login_user(user)
            html = render_template("meetings/_minutes_links.html", meeting=world.meeting)
        return re.findall(r'href="([^"]+)"', html)

    mid = world.meeting.id
    assert links(world.chair) == [f"/meetings/{mid}/run", f"/meetings/{mid}/attendance", f"/meetings/{mid}/minutes",
                                  f"/meetings/{mid}/minutes.pdf", f"/meetings/{mid}/minutes/finalise",
                                  "/meetings/attendance-history"]
    assert links(world.police_spoc) == [f"/meetings/{mid}/attendance"]
    world.meeting.minutes_finalised_at = utcnow()
    assert links(world.police_spoc) == [f"/meetings/{mid}/attendance", f"/meetings/{mid}/minutes"]
    assert f"/meetings/{mid}/run" not in links(world.chair)  # run mode closes with the minutes
    assert links(world.practitioner) == []


def test_ids_too_big_for_the_database_are_404(client, login_as, world):
    login_as(world.coordinator)
    big = "9" * 25
    for url in (f"/meetings/{big}/minutes", f"/meetings/{big}/attendance", _url(world, f"/items/{big}"),
                f"/meetings/{world.meeting.id}/attendance/{big}", _url(world, f"/items/{big}/actions/new")):
        assert client.get(url).status_code == 404, url
