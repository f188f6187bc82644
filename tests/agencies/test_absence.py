"""A SPoC's absence (panel.agencies.absence): the dates' rules, overlaps, the deputy acting for
those dates everywhere the acting SPoC is asked for, the SPoC back by themselves when the last
day ends (no job), who may record and end one, and the emails (a link, nothing personal)."""

from __future__ import annotations

import json
from datetime import time, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from panel.actions import services as action_services
from panel.agencies import absence
from panel.auth.policy import acts_as_spoc
from panel.dates import london_to_utc, london_today
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.meetings import invitations, minutes
from panel.models import (
    AuditAction,
    AuditEvent,
    LadderStep,
    Meeting,
    MeetingKind,
    OutboxMessage,
    Role,
    SpocAbsence,
    utcnow,
)
from tests import factories
from tests.cases.helpers import create_case


@pytest.fixture
def staff(app):
    agency = factories.create_agency(code="absence-police", name="Absence Police")
    people = {
        "spoc": factories.create_user(role=Role.SPOC, agency=agency, name="Sam Spoc", email="sam@police.test"),
        "deputy": factories.create_user(role=Role.SPOC, agency=agency, name="Dee Deputy", email="dee@police.test"),
        "other spoc": factories.create_user(role=Role.SPOC, agency=agency, name="Ola Other"),
        "practitioner": factories.create_user(role=Role.PRACTITIONER, agency=agency),
        "coordinator": factories.create_user(role=Role.COORDINATOR, name="Cora Coordinator"),
        "admin": factories.create_user(role=Role.ADMIN),
        "chair": factories.create_user(role=Role.CHAIR),
    }
    agency.spoc, agency.deputy_spoc = people["spoc"], people["deputy"]
    db.session.flush()
    return agency, people


def _record(people, first: int, last: int, *, by: str = "spoc", note: str = "") -> SpocAbsence:
    today = london_today()
    return absence.record_absence(spoc=people["spoc"], starts_on=today + timedelta(days=first),
                                  ends_on=today + timedelta(days=last), note=note, by=people[by])


def _emails() -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


# ---- the deputy acts for the dates, and the SPoC is back by themselves -------------------------


def test_the_deputy_acts_from_the_first_day_and_the_spoc_is_back_the_day_after_the_last(staff):
    agency, people = staff
    today = london_today()
    away = _record(people, 1, 3)
    assert (away.starts_at, away.ends_at) == (london_to_utc(today + timedelta(days=1), time(0)),
                                              london_to_utc(today + timedelta(days=4), time(0)))
    db.session.commit()

    def acting_at(moment):
        with time_machine.travel(moment, tick=False):
            db.session.expire_all()
            return agency.acting_spoc.name, acts_as_spoc(people["spoc"]), acts_as_spoc(people["deputy"])

    before = london_to_utc(today + timedelta(days=1), time(0)) - timedelta(seconds=1)
    assert acting_at(before) == ("Sam Spoc", True, False)
    assert acting_at(london_to_utc(today + timedelta(days=1), time(0))) == ("Dee Deputy", False, True)
    assert acting_at(london_to_utc(today + timedelta(days=3), time(23, 59))) == ("Dee Deputy", False, True)
    assert acting_at(london_to_utc(today + timedelta(days=4), time(0))) == ("Sam Spoc", True, False)


def test_an_absence_from_today_takes_effect_at_once(staff):
    agency, people = staff
    _record(people, 0, 2)
    assert agency.spoc_absent and agency.acting_spoc == people["deputy"]


def test_everything_that_asks_who_acts_for_the_agency_gets_the_deputy(staff):
    agency, people = staff
    _record(people, 0, 5)
    # invitations to a panel
    assert people["deputy"].email in {p.email for p in invitations.panel_people()}
    assert people["spoc"].email not in {p.email for p in invitations.panel_people()}
    # apologies for the next panel
    panel = Meeting(kind=MeetingKind.PANEL, starts_at=utcnow() + timedelta(days=5),
                    ends_at=utcnow() + timedelta(days=5, hours=2))
    db.session.add(panel)
    db.session.flush()
    assert minutes.can_send_apologies(people["deputy"], agency.id, panel)
    assert not minutes.can_send_apologies(people["spoc"], agency.id, panel)
    # the daily digest's overdue notice (through the action's agency)
    action = action_services.create_action(create_case(lead=agency), description="Visit", agency=agency,
                                           due_on=london_today() + timedelta(days=3), by=people["coordinator"])
    told = action_services.recipients(action, LadderStep.OVERDUE, action_services.StaffDirectory.load())
    assert people["deputy"] in told.users and people["spoc"] not in told.users


# ---- the rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize("first, last, field, message", [
    (3, 2, "ends_on", "The last day away must be the same as or after the first day away"),
    (-5, -1, "ends_on", "The last day away must be today or in the future"),
    (-31, 2, "starts_on", "The first day away must be no more than 30 days ago"),
    (0, 366, "ends_on", "An absence can be a year long at most. Record a shorter one, and another later"),
])
def test_the_dates_must_make_sense(staff, first, last, field, message):
    _, people = staff
    with pytest.raises(ServiceError) as refused:
        _record(people, first, last)
    assert (refused.value.field, refused.value.message) == (field, message)
    assert db.session.scalar(sa.select(sa.func.count(SpocAbsence.id))) == 0


def test_an_absence_a_year_long_and_one_begun_a_month_ago_are_allowed(staff):
    _, people = staff
    _record(people, -30, -30 + 365)


def test_absences_may_not_overlap_but_may_follow_each_other(staff):
    _, people = staff
    _record(people, 2, 5)
    for first, last in ((5, 8), (0, 2), (3, 4), (0, 10)):
        with pytest.raises(ServiceError) as refused:
            _record(people, first, last)
        assert refused.value.field == "starts_on"
        assert refused.value.message.startswith("These dates overlap the absence already recorded from ")
    _record(people, 6, 8)
    _record(people, 0, 1)
    assert db.session.scalar(sa.select(sa.func.count(SpocAbsence.id))) == 3


def test_without_a_deputy_nobody_would_act_so_it_is_refused(staff):
    agency, people = staff
    agency.deputy_spoc = None
    db.session.flush()
    with pytest.raises(ServiceError, match="has no deputy SPoC to act while its SPoC is away"):
        _record(people, 0, 2)
    agency.deputy_spoc = people["deputy"]
    people["deputy"].active = False
    with pytest.raises(ServiceError, match="has no deputy SPoC"):
        _record(people, 0, 2)


@pytest.mark.parametrize("by, allowed", [
    ("spoc", True), ("coordinator", True), ("admin", True),
    ("deputy", False), ("other spoc", False), ("practitioner", False), ("chair", False),
])
def test_the_spoc_a_coordinator_or_an_admin_records_it(staff, by, allowed):
    _, people = staff
    if allowed:
        assert _record(people, 0, 1, by=by).recorded_by_id == people[by].id
    else:
        with pytest.raises(ServiceError, match="records its SPoC’s absence"):
            _record(people, 0, 1, by=by)


def test_only_the_agencys_named_spoc_has_absences(staff):
    _, people = staff
    with pytest.raises(ServiceError):
        absence.record_absence(spoc=people["other spoc"], starts_on=london_today(), ends_on=london_today(),
                               by=people["coordinator"])


def test_the_note_is_kept_on_one_line_and_limited(staff):
    _, people = staff
    record = _record(people, 0, 1, note="  Annual\nleave  ")
    assert record.note == "Annual leave"
    with pytest.raises(ServiceError) as refused:
        _record(people, 3, 4, note="x" * 201)
    assert (refused.value.field, refused.value.message) == ("note", "The note must be 200 characters or fewer")


# ---- ending and cancelling -------------------------------------------------------------------


def test_an_absence_under_way_ends_now_and_one_to_come_is_cancelled(staff):
    agency, people = staff
    under_way = _record(people, -2, 5)
    to_come = _record(people, 10, 12)
    assert agency.spoc_absent

    assert absence.end_absence(under_way, by=people["spoc"]) == "ended"
    assert under_way.ends_on == london_today() - timedelta(days=1)
    assert not agency.spoc_absent and agency.acting_spoc == people["spoc"]

    assert absence.end_absence(to_come, by=people["coordinator"]) == "cancelled"
    assert db.session.get(SpocAbsence, to_come.id) is None
    with pytest.raises(ServiceError, match="already over"):
        absence.end_absence(under_way, by=people["spoc"])


def test_an_absence_begun_today_and_ended_today_is_cancelled(staff):
    agency, people = staff
    record = _record(people, 0, 3)
    assert absence.end_absence(record, by=people["spoc"]) == "cancelled"
    assert not agency.spoc_absent


def test_nobody_else_ends_a_spocs_absence(staff):
    _, people = staff
    record = _record(people, 0, 3)
    for who in ("deputy", "other spoc", "practitioner", "chair"):
        with pytest.raises(ServiceError):
            absence.end_absence(record, by=people[who])


def test_the_admins_tick_box_marks_the_spoc_away_until_the_next_absence_or_further_notice(staff):
    agency, people = staff
    later = _record(people, 8, 9)
    assert absence.set_absent_now(agency, True, by=people["admin"])
    current = db.session.scalar(sa.select(SpocAbsence).where(SpocAbsence.id != later.id))
    assert (current.starts_on, current.ends_on) == (london_today(), london_today() + timedelta(days=7))
    assert agency.spoc_absent
    assert not absence.set_absent_now(agency, True, by=people["admin"])   # already away: nothing to do
    assert absence.set_absent_now(agency, False, by=people["admin"])
    assert not agency.spoc_absent
    absence.end_absence(later, by=people["admin"])  # with nothing to come, it is until further notice
    absence.set_absent_now(agency, True, by=people["admin"])
    newest = db.session.scalar(sa.select(SpocAbsence).order_by(SpocAbsence.id.desc()).limit(1))
    assert newest.ends_on is None and newest.ends_at is None and agency.spoc_absent


# ---- who is told, and the audit trail ---------------------------------------------------------------


def test_the_spoc_and_the_deputy_are_emailed_a_link_and_nothing_personal(staff, app):
    agency, people = staff
    _record(people, 0, 4, by="coordinator", note="Hospital appointment for my knee")
    emails = _emails()
    assert sorted(e.to_addr for e in emails) == ["dee@police.test", "sam@police.test"]
    for email in emails:
        assert email.subject == "Panel: Absence Police SPoC cover"
        assert f"{app.config['PUBLIC_URL']}/account#absence" in email.body_text
        for private in ("Hospital", "knee", "Sam Spoc", "Dee Deputy", "Cora", str(london_today().year)):
            assert private not in email.body_text and private not in email.subject, private

    absence.end_absence(db.session.scalar(sa.select(SpocAbsence)), by=people["spoc"])
    ended = _emails()[2:]
    assert sorted(e.to_addr for e in ended) == ["dee@police.test", "sam@police.test"]
    assert all("cancelled" in e.body_text and "Hospital" not in e.body_text for e in ended)


def test_each_change_is_audited_with_ids_and_dates_and_never_the_note(staff):
    _, people = staff
    record = _record(people, 1, 2, note="Hospital appointment")
    absence.end_absence(record, by=people["coordinator"])
    events = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "spoc_absence")
                                     .order_by(AuditEvent.id)))
    assert [(e.action, e.user_id) for e in events] == [(AuditAction.CREATE, people["spoc"].id),
                                                       (AuditAction.DELETE, people["coordinator"].id)]
    created = json.loads(events[0].summary)
    assert created["spoc"] == people["spoc"].id and created["fields"] == ["note"]
    assert created["starts_on"] == (london_today() + timedelta(days=1)).isoformat()
    assert all("Hospital" not in e.summary for e in events)
