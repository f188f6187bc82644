"""No personal data about the adult in any invitation, its email or a feed.

Every field of the person, the referral's and the case's free text, an action's text, the
MDT's purpose and the reasons given for moving and cancelling are filled with distinctive
values; then an MDT is scheduled with invitations, moved, changed, someone is taken off and put
back, it is cancelled; a second MDT's invite.ics is downloaded and an attendee's feed fetched;
monthly panels are made by the schedule job (with their invitations), moved, cancelled and
their agendas published; the escalation sweep runs for a fortnight. None of the values (nor
the person's initials, which the panel agenda may show) appears in any email or calendar.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from panel.actions import jobs, services as actions
from panel.extensions import db
from panel.meetings import agenda, invitations, panels, schedule
from panel.models import AttendeeResponse, CaseStatus, MeetingKind, MeetingStatus, OutboxMessage, Role, utcnow
from tests import factories
from tests.cases.helpers import create_case
from tests.conftest import post_form
from tests.meetings.ics_checks import parse
from tests.meetings.invite_world import SETTINGS, external, london, make_meeting

UTC = timezone.utc
START = datetime(2027, 1, 11, 9, tzinfo=UTC)  # a Monday

PERSON = {
    "given_name": "Zebediah", "family_name": "Quillfeather", "other_names": "Ptolemy Ravensworth",
    "gender": "Genderfluid-Xq", "ethnicity": "Ethnicity-Vexborough", "first_language": "Wenlockese",
    "communication_needs": "Uses a Blisswick symbol board", "address": "77 Unlikely Lane, Nowhere-on-Sea",
    "postcode": "ZZ9 9ZZ", "nhs_number": "9434765919", "other_identifiers": "PNC 99/777123X",
}
DOB = date(1971, 7, 13)
DOB_FORMS = ["1971-07-13", "13/07/1971", "13 July 1971", "19710713", "13.07.1971", "13-07-1971",
             "July 13, 1971", "13 Jul 1971", "710713"]
REFERRAL_TEXT = ["risk_summary", "risk_assessment", "tried_already", "rapport", "persons_views", "capacity",
                 "consent_reason", "staff_safety_details", "info_requested"]
CASE_TEXT = ["risk_summary", "contingency_plan", "closure_rationale"]
ACTION_TEXT = "Visit Zebediah at the Marrowfield hostel about the Cranbourne debt"
PURPOSE = "Safety plan for Zebediah Quillfeather after the Marrowfield incident"
REASON = "Zebediah Quillfeather is in Dunmore hospital"


def _marker(name: str) -> str:
    return f"Marker{name.replace('_', '').capitalize()}Zq"


def forbidden() -> list[str]:
    values = [v for v in PERSON.values()] + DOB_FORMS
    values += ["Ptolemy", "Ravensworth", "Unlikely Lane", "Nowhere-on-Sea", "ZZ9", "943 476 5919", "99/777123X"]
    values += [_marker(f"referral_{f}") for f in REFERRAL_TEXT] + [_marker(f"case_{f}") for f in CASE_TEXT]
    values += ["Marrowfield", "Cranbourne", "Dunmore", "Blisswick", "Wenlockese", "Vexborough"]
    return values


INITIALS = re.compile(r"\bZ\.?\s?Q\b")


@pytest.fixture
def app_config():
    return dict(SETTINGS)


def _fill_the_person(case) -> None:
    person = case.person
    for name, value in PERSON.items():
        setattr(person, name, value)
    person.date_of_birth = DOB
    person.interpreter_needed = True
    for field in REFERRAL_TEXT:
        setattr(case.referral, field, _marker(f"referral_{field}") + " about Zebediah Quillfeather, 13/07/1971")
    for field in CASE_TEXT:
        setattr(case, field, _marker(f"case_{field}") + " for Zebediah at 77 Unlikely Lane")
    assert person.initials == "ZQ"


def _readable(ics: bytes) -> list[str]:
    """The calendar as sent, with lines unfolded, and with TEXT escapes undone: a value split by
    folding or escaping must still be found."""
    raw = ics.decode("utf-8")
    unfolded = raw.replace("\r\n ", "").replace("\r\n\t", "")
    unescaped = unfolded.replace("\\n", " ").replace("\\N", " ").replace("\\", "")
    parsed = parse(ics)
    fields = " ".join(f"{e.summary} {e.description} {e.location} {e.url} {e.attendees}" for e in parsed.events)
    return [raw, unfolded, unescaped, fields]


def _check(texts: list[str], where: str) -> None:
    for text in texts:
        for value in forbidden():
            assert value.lower() not in text.lower(), f"{value!r} appears in {where}"
        assert not INITIALS.search(text), f"the initials appear in {where}"


def test_no_personal_data_in_any_invitation_email_download_or_feed(app, client, login_as):
    with time_machine.travel(START, tick=False) as clock:
        police = factories.create_agency(name="Police")
        housing = factories.create_agency(name="Housing Trust")
        coordinator = factories.create_user(role=Role.COORDINATOR, email="cora@council.test", name="Cora Coordinator")
        factories.create_user(role=Role.CHAIR, email="chair@council.test", name="Chris Chair")
        spoc = factories.create_user(role=Role.SPOC, agency=police, email="sam@police.test", name="Sam Spoc")
        housing_spoc = factories.create_user(role=Role.SPOC, agency=housing, email="hal@housing.test", name="Hal Housing")
        worker = factories.create_user(role=Role.PRACTITIONER, agency=housing, email="wyn@housing.test", name="Wyn Worker")
        police.spoc, police.escalation_contact, housing.spoc = spoc, spoc, housing_spoc
        case = create_case(lead=police, involved=(housing,))
        _fill_the_person(case)
        assert case.status == CaseStatus.ACTIVE
        actions.create_action(case, description=ACTION_TEXT, agency=housing, due_on=date(2027, 1, 13), by=coordinator,
                              assignee=worker, today=START.date())

        # an MDT, invited, moved, changed, someone off and back on, replies, cancelled
        mdt = make_meeting(case, start=london(2027, 2, 3), location="Room 2, Town Hall")
        mdt.purpose = PURPOSE
        people = [invitations.Person.of(spoc), invitations.Person.of(worker), invitations.Person.of(housing_spoc),
                  external("Ola Outreach", "ola@outreach.test", "Outreach Charity")]
        added = invitations.invite(mdt, people, by=coordinator)
        mdt.starts_at, mdt.ends_at = london(2027, 4, 1), london(2027, 4, 1, 11)
        invitations.changed(mdt, by=coordinator)
        mdt.location = "Civic Centre, room 4"
        invitations.changed(mdt, by=coordinator)
        invitations.remove(mdt, added[3], by=coordinator)
        invitations.invite(mdt, [people[3]], by=coordinator)
        invitations.record_response(added[0], AttendeeResponse.ACCEPTED, by=spoc)
        mdt.status, mdt.cancelled_reason = MeetingStatus.CANCELLED, REASON
        invitations.cancelled(mdt, by=coordinator)

        # a second MDT that stands, for the download and the feed
        second = make_meeting(case, start=london(2027, 3, 29), location="Room 3, Town Hall")
        second.purpose = PURPOSE
        invitations.invite(second, people, by=coordinator)
        db.session.commit()

        # the monthly panels, with the case on the agenda: invitations, moved, cancelled, published
        created = schedule.schedule_job()
        assert created["invited"] > 0
        upcoming = list(db.session.scalars(sa.select(panels.Meeting).where(panels.Meeting.kind == MeetingKind.PANEL)
                                           .order_by(panels.Meeting.starts_at)))
        first = upcoming[0]
        agenda.sync_agenda(first, by=coordinator)
        panels.publish_agenda(first, by=coordinator)
        panels.move_panel(upcoming[1], starts_at=london(2027, 3, 11), ends_at=london(2027, 3, 11, 12), reason=REASON,
                          by=coordinator)
        panels.cancel_panel(upcoming[2], reason=REASON, by=coordinator)
        db.session.commit()

        # a fortnight of the escalation sweep (reminders, escalations, digests)
        for offset in range(0, 21):
            clock.move_to(START + timedelta(days=offset))
            jobs.sweep()
        panels.publish_due_agendas()
        db.session.commit()

        # the download and the feed, as the users get them
        login_as(coordinator)
        served = {"invite.ics (standing MDT)": client.get(f"/meetings/{second.id}/invite.ics"),
                  "invite.ics (cancelled MDT)": client.get(f"/meetings/{mdt.id}/invite.ics"),
                  "invite.ics (panel)": client.get(f"/meetings/{first.id}/invite.ics")}
        login_as(spoc)
        response = post_form(client, "/account/calendar-feed", {}, token_from="/account")
        token = re.search(r"/calendar/([A-Za-z0-9_-]+)\.ics", response.get_data(as_text=True)).group(1)
        served["feed"] = app.test_client().get(f"/calendar/{token}.ics")

    messages = list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))
    calendars = [m for m in messages if m.calendar]
    assert len(calendars) >= 20 and {m.calendar_method for m in calendars} == {"REQUEST", "CANCEL"}
    assert any(m.subject.startswith("Panel agenda") for m in messages)
    assert any(not m.calendar and "action" in (m.subject + m.body_text).lower() for m in messages), \
        "the sweep sent nothing: this test would prove nothing about its emails"
    for message in messages:
        _check([message.subject, message.body_text], f"email {message.id} ({message.subject})")
        if message.calendar:
            _check(_readable(message.calendar.encode("utf-8")), f"the calendar in email {message.id}")
    for name, response in served.items():
        assert response.status_code == 200, name
        _check(_readable(response.get_data()), name)
    # the case reference is what identifies the meeting
    standing = parse(served["invite.ics (standing MDT)"].get_data()).event
    assert standing.summary == f"MDT meeting – case {case.reference}"
    assert [e.uid for e in parse(served["feed"].get_data()).events if e.uid == second.ical_uid]


def test_the_check_finds_personal_data_when_it_is_there():
    """The checks above can fail: a calendar that names the person, folded or escaped, is caught."""
    from panel.meetings import ical

    leaky = ical.request(ical.EventDetails(
        uid="x@panel", sequence=0, start=datetime(2027, 1, 1, 10, tzinfo=UTC), end=datetime(2027, 1, 1, 11, tzinfo=UTC),
        summary="MDT", description=("x" * 60) + "Zebediah, 77 Unlikely Lane; born 13/07/1971",
        attendees=(ical.Invitee("a@x.test", "A"),)), organizer=ical.Invitee("p@x.test"), now=utcnow())
    with pytest.raises(AssertionError):
        _check(_readable(leaky), "a leaky calendar")
    with pytest.raises(AssertionError):
        _check(["Case for Z.Q. tomorrow"], "an email")
