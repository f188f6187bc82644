"""Case MDT services: scheduling (London times stored UTC, validation), the invitations each change
sends through the outbox and the SEQUENCE it carries (only time, place and status raise it),
attendees added and removed, cancelling, notes and decisions on the MDT's agenda item, a risk
change with its reason, actions agreed at the MDT joining the action log, and the queries."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import icalendar
import pytest
import sqlalchemy as sa
import time_machine

from panel.actions.services import ActionFilters, action_query
from panel.extensions import db
from panel.meetings import mdt
from panel.meetings.invitations import Person
from panel.models import (
    Action,
    AgendaItem,
    AgendaItemKind,
    AttendeeResponse,
    AuditAction,
    AuditEvent,
    CaseEvent,
    CaseStatus,
    Involvement,
    Meeting,
    MeetingKind,
    MeetingStatus,
    OutboxMessage,
    RiskChange,
    RiskLevel,
    Role,
)
from panel.forms.errors import ServiceError
from tests import factories
from tests.cases.helpers import create_case

UTC = timezone.utc
NOW = datetime(2027, 6, 1, 9, 0, tzinfo=UTC)           # a Tuesday in British Summer Time
DAY = date(2027, 7, 14)                                   # the MDT: 10:00-11:30 London = 09:00-10:30 UTC
PURPOSE = "Agree who visits Zebedee Quaintly at 12 Lilac Row before the eviction"


@pytest.fixture
def app_config():
    return {"MAIL_FROM": "Panel coordinator <panel@panel.test>", "PUBLIC_URL": "https://panel.test"}


@pytest.fixture
def world(app):
    traveller = time_machine.travel(NOW, tick=False)
    traveller.start()
    host = factories.create_agency(code="host", name="Host Council")
    police = factories.create_agency(code="police", name="Police")
    housing = factories.create_agency(code="housing", name="Housing")
    other = factories.create_agency(code="other", name="Other Agency")
    coordinator = factories.create_user(role=Role.COORDINATOR, agency=host, name="Cora Coordinator",
                                        email="cora@council.test")
    police_spoc = factories.create_user(role=Role.SPOC, agency=police, name="Pat Police", email="pat@police.test")
    housing_spoc = factories.create_user(role=Role.SPOC, agency=housing, name="Hana Housing",
                                         email="hana@housing.test")
    worker = factories.create_user(role=Role.PRACTITIONER, agency=police, name="Wyn Worker", email="wyn@police.test")
    outsider = factories.create_user(role=Role.SPOC, agency=other, name="Otto Other", email="otto@other.test")
    police.spoc, housing.spoc, other.spoc = police_spoc, housing_spoc, outsider
    case = create_case(lead=police, involved=(housing,), given_name="Zebedee", family_name="Quaintly")
    db.session.execute(sa.update(Involvement).where(Involvement.case_id == case.id, Involvement.agency_id == police.id)
                       .values(worker_user_id=worker.id, named_worker="Wyn Worker"))
    db.session.commit()
    db.session.expire_all()
    yield {"coordinator": coordinator, "police": police, "housing": housing, "other": other, "case": case,
           "police_spoc": police_spoc, "housing_spoc": housing_spoc, "worker": worker, "outsider": outsider}
    traveller.stop()


def _schedule(world, *, day=DAY, start=time(10), end=time(11, 30), location="Room 2, Town Hall", online_url="",
              attendees=None, now=NOW) -> Meeting:
    people = attendees if attendees is not None else [
        Person.of(world["police_spoc"]), Person.of(world["worker"]),
        Person(email="Ext.Person@Charity.test", name="Ellis External", agency_name="Lilac Charity")]
    meeting = mdt.schedule_mdt(world["case"], day=day, start=start, end=end, location=location, online_url=online_url,
                               purpose=PURPOSE, attendees=people, by=world["coordinator"], now=now)
    db.session.commit()
    return meeting


def _outbox(after: int = 0) -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.id > after).order_by(OutboxMessage.id)))


def _last() -> int:
    return db.session.scalar(sa.select(sa.func.max(OutboxMessage.id))) or 0


def _event(message: OutboxMessage):
    calendar = icalendar.Calendar.from_ical(message.calendar)
    events = [c for c in calendar.walk("VEVENT")]
    assert len(events) == 1
    return calendar, events[0]


def _events(case_id: int) -> list[str]:
    return list(db.session.scalars(sa.select(CaseEvent.summary).where(CaseEvent.case_id == case_id,
                                                                       CaseEvent.kind == "meeting")
                                   .order_by(CaseEvent.id)))


# ---- scheduling -----------------------------------------------------------------------------------


def test_scheduling_stores_london_times_in_utc_and_sends_each_attendee_an_invitation(world):
    meeting = _schedule(world)

    assert meeting.kind == MeetingKind.MDT and meeting.case_id == world["case"].id
    assert meeting.status == MeetingStatus.SCHEDULED
    assert meeting.starts_at == datetime(2027, 7, 14, 9, 0, tzinfo=UTC)
    assert meeting.ends_at == datetime(2027, 7, 14, 10, 30, tzinfo=UTC)
    assert meeting.ical_sequence == 0
    messages = _outbox()
    assert [m.to_addr for m in messages] == ["pat@police.test", "wyn@police.test", "ext.person@charity.test"]
    for message in messages:
        calendar, event = _event(message)
        assert message.calendar_method == "REQUEST" == str(calendar["METHOD"])
        assert str(event["UID"]) == meeting.ical_uid
        assert int(event["SEQUENCE"]) == 0
        assert event.decoded("DTSTART") == datetime(2027, 7, 14, 9, 0, tzinfo=UTC)
        assert len(event.get("ATTENDEE")) == 3
    attendees = {a.email: a for a in meeting.attendees}
    assert attendees["pat@police.test"].user_id == world["police_spoc"].id
    assert attendees["ext.person@charity.test"].user_id is None
    assert all(a.invited_sequence == 0 for a in attendees.values())


def test_the_purpose_and_the_person_never_go_into_an_invitation(world):
    _schedule(world)

    for message in _outbox():
        text = f"{message.subject}\n{message.body_text}\n{message.calendar}"
        for secret in ("Zebedee", "Quaintly", "Lilac Row", "eviction", PURPOSE[:20]):
            assert secret not in text


def test_scheduling_is_audited_and_written_to_the_chronology(world):
    meeting = _schedule(world)

    assert _events(world["case"].id) == ["MDT scheduled for 14 July 2027 at 10am to 11:30am"]
    created = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == AuditAction.CREATE, AuditEvent.object_type == "meeting",
        AuditEvent.object_id == str(meeting.id)))
    assert created is not None and created.user_id == world["coordinator"].id


@pytest.mark.parametrize("change, field, message", [
    ({"end": time(9, 30)}, "end", "The end time must be after the start time"),
    ({"end": time(10)}, "end", "The end time must be after the start time"),
    ({"day": date(2027, 5, 31)}, "day", "today or in the future"),
    ({"day": date(2027, 6, 1), "start": time(9), "end": time(11)}, "start", "The start time has passed"),
    ({"day": date(2028, 3, 26), "start": time(1, 30), "end": time(3)}, "start", "the clocks went forward"),
    ({"location": "", "online_url": ""}, "location", "Enter where the MDT will be"),
    ({"online_url": "http://meet.example.com/abc"}, "online_url", "starting with https://"),
    ({"online_url": "javascript:alert(1)"}, "online_url", "starting with https://"),
    ({"online_url": "https://meet.example.com/<script>"}, "online_url", "must not include"),
    ({"online_url": "https://" + "a" * 500 + ".com"}, "online_url", "500 characters or fewer"),
    ({"location": "x" * 201}, "location", "200 characters or fewer"),
    ({"attendees": []}, "attendees", "Choose at least one person"),
    ({"attendees": [Person(email="not-an-email", name="Bad")]}, "attendees", "correct format"),
])
def test_scheduling_refuses_bad_details_and_saves_nothing(world, change, field, message):
    values = {"day": DAY, "start": time(10), "end": time(11, 30), "location": "Room 2", "online_url": "",
              "attendees": [Person.of(world["police_spoc"])]}
    values.update(change)
    with pytest.raises(ServiceError) as problem:
        with db.session.begin_nested():
            mdt.schedule_mdt(world["case"], purpose="Plan", by=world["coordinator"], now=NOW, **values)
    assert problem.value.field == field
    assert message in str(problem.value)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Meeting)) == 0
    assert _outbox() == []


def test_a_purpose_is_needed_and_limited(world):
    for purpose, message in (("  \n ", "Enter the purpose"), ("x" * 2001, "2,000 characters or fewer")):
        with pytest.raises(ServiceError, match=message):
            mdt.schedule_mdt(world["case"], day=DAY, start=time(10), end=time(11), location="Room 2", online_url="",
                             purpose=purpose, attendees=[Person.of(world["police_spoc"])], by=world["coordinator"],
                             now=NOW)


def test_a_closed_case_has_no_new_mdts(world):
    world["case"].status = CaseStatus.CLOSED
    with pytest.raises(ServiceError, match="This case is closed"):
        _schedule(world)


def test_the_same_mdt_sent_twice_is_scheduled_once(world):
    first = _schedule(world)
    with pytest.raises(mdt.AlreadyScheduled) as repeat:
        _schedule(world, now=NOW + timedelta(seconds=5))
    assert repeat.value.meeting.id == first.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Meeting)) == 1


def test_an_external_email_that_belongs_to_a_user_is_invited_as_that_user(world):
    meeting = _schedule(world, attendees=[Person(email="HANA@housing.test", name="H", agency_name="Housing")])
    (attendee,) = meeting.attendees
    assert attendee.user_id == world["housing_spoc"].id and attendee.name == "Hana Housing"


def test_an_online_only_mdt_needs_no_place(world):
    meeting = _schedule(world, location="", online_url="https://meet.example.com/mdt-42?pwd=a,b;c")
    assert meeting.location == "" and meeting.online_url == "https://meet.example.com/mdt-42?pwd=a,b;c"
    _, event = _event(_outbox()[0])
    assert str(event["URL"]).startswith("https://panel.test/meetings/")


# ---- changes and SEQUENCE ------------------------------------------------------------------------


def _reschedule(world, meeting, now=NOW + timedelta(days=1), **change):
    values = {"day": DAY, "start": time(10), "end": time(11, 30), "location": meeting.location,
              "online_url": meeting.online_url, "purpose": meeting.purpose}
    values.update(change)
    changed = mdt.reschedule_mdt(meeting, by=world["coordinator"], now=now, **values)
    db.session.commit()
    return changed


def test_a_new_time_raises_sequence_and_sends_everyone_the_update(world):
    meeting = _schedule(world)
    mark = _last()

    changed = _reschedule(world, meeting, day=date(2027, 7, 15), start=time(14), end=time(15))

    assert changed == ["time"]
    assert meeting.ical_sequence == 1
    assert meeting.starts_at == datetime(2027, 7, 15, 13, 0, tzinfo=UTC)
    messages = _outbox(mark)
    assert sorted(m.to_addr for m in messages) == ["ext.person@charity.test", "pat@police.test", "wyn@police.test"]
    for message in messages:
        calendar, event = _event(message)
        assert str(calendar["METHOD"]) == "REQUEST"
        assert str(event["UID"]) == meeting.ical_uid
        assert int(event["SEQUENCE"]) == 1
        assert event.decoded("DTSTART") == datetime(2027, 7, 15, 13, 0, tzinfo=UTC)
        assert message.subject.startswith("Updated invitation")
    assert _events(world["case"].id)[-1] == ("MDT moved from 14 July 2027 at 10am to 11:30am to "
                                             "15 July 2027 at 2pm to 3pm")


def test_a_new_place_or_link_raises_sequence_too(world):
    meeting = _schedule(world)
    assert _reschedule(world, meeting, location="Room 9, Police Station") == ["place"]
    assert _reschedule(world, meeting, online_url="https://meet.example.com/x") == ["place"]
    assert meeting.ical_sequence == 2
    _, event = _event(_outbox()[-1])
    assert int(event["SEQUENCE"]) == 2 and str(event["LOCATION"]) == "Room 9, Police Station"


def test_only_time_and_place_raise_sequence_a_new_purpose_sends_nothing(world):
    meeting = _schedule(world)
    mark = _last()

    assert _reschedule(world, meeting, purpose="A different purpose") == ["purpose"]
    assert meeting.ical_sequence == 0
    assert _outbox(mark) == []
    assert meeting.purpose == "A different purpose"


def test_the_same_details_again_change_nothing(world):
    meeting = _schedule(world)
    mark, events = _last(), len(_events(world["case"].id))

    assert _reschedule(world, meeting) == []
    assert meeting.ical_sequence == 0 and _outbox(mark) == [] and len(_events(world["case"].id)) == events


def test_a_meeting_that_has_started_cannot_be_moved(world):
    meeting = _schedule(world)
    with pytest.raises(ServiceError, match="already started"):
        _reschedule(world, meeting, now=meeting.starts_at, day=date(2027, 7, 20))


def test_an_added_attendee_gets_the_current_invitation_and_sequence_stays(world):
    meeting = _schedule(world)
    _reschedule(world, meeting, start=time(9))
    mark = _last()

    added = mdt.add_attendees(meeting, [Person.of(world["housing_spoc"]), Person.of(world["police_spoc"])],
                              by=world["coordinator"], now=NOW)
    db.session.commit()

    assert [a.email for a in added] == ["hana@housing.test"]   # already on the list: skipped
    assert meeting.ical_sequence == 1
    (message,) = _outbox(mark)
    assert message.to_addr == "hana@housing.test" and message.calendar_method == "REQUEST"
    _, event = _event(message)
    assert int(event["SEQUENCE"]) == 1 and len(event.get("ATTENDEE")) == 4


def test_adding_nobody_is_refused(world):
    meeting = _schedule(world)
    with pytest.raises(ServiceError, match="Choose someone"):
        mdt.add_attendees(meeting, [], by=world["coordinator"], now=NOW)


def test_a_removed_attendee_gets_a_cancel_and_the_others_the_shorter_list(world):
    meeting = _schedule(world)
    mark = _last()
    worker = next(a for a in meeting.attendees if a.email == "wyn@police.test")

    mdt.remove_attendee(meeting, worker, by=world["coordinator"], now=NOW)
    db.session.commit()

    assert meeting.ical_sequence == 1 and worker.removed_at is not None
    messages = {m.to_addr: m for m in _outbox(mark)}
    assert set(messages) == {"wyn@police.test", "pat@police.test", "ext.person@charity.test"}
    calendar, event = _event(messages["wyn@police.test"])
    assert str(calendar["METHOD"]) == "CANCEL" and int(event["SEQUENCE"]) == 1
    calendar, event = _event(messages["pat@police.test"])
    assert str(calendar["METHOD"]) == "REQUEST" and int(event["SEQUENCE"]) == 1
    assert len(event.get("ATTENDEE")) == 2
    with pytest.raises(ServiceError):
        mdt.remove_attendee(meeting, worker, by=world["coordinator"], now=NOW)


def test_replies_are_recorded_once(world):
    meeting = _schedule(world)
    attendee = meeting.attendees[0]
    assert mdt.record_response(meeting, attendee, AttendeeResponse.ACCEPTED, by=world["coordinator"]) is True
    assert mdt.record_response(meeting, attendee, AttendeeResponse.ACCEPTED, by=world["coordinator"]) is False
    assert attendee.response == AttendeeResponse.ACCEPTED
    assert mdt.attendee_counts([meeting.id]) == {meeting.id: (3, 1)}


def test_cancelling_sends_everyone_a_cancellation_with_sequence_raised(world):
    meeting = _schedule(world)
    _reschedule(world, meeting, start=time(9))
    mark = _last()

    told = mdt.cancel_mdt(meeting, reason="The person has moved out of the area", by=world["coordinator"], now=NOW)
    db.session.commit()

    assert told == 3
    assert meeting.status == MeetingStatus.CANCELLED
    assert meeting.cancelled_reason == "The person has moved out of the area"
    assert meeting.ical_sequence == 2
    for message in _outbox(mark):
        calendar, event = _event(message)
        assert str(calendar["METHOD"]) == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
        assert int(event["SEQUENCE"]) == 2 and str(event["UID"]) == meeting.ical_uid
        assert "moved out" not in message.body_text + message.calendar
    assert "cancelled: The person has moved out of the area" in _events(world["case"].id)[-1]
    for attempt in (lambda: mdt.cancel_mdt(meeting, reason="Again", by=world["coordinator"], now=NOW),
                    lambda: _reschedule(world, meeting, start=time(8)),
                    lambda: mdt.add_attendees(meeting, [Person.of(world["housing_spoc"])], by=world["coordinator"],
                                              now=NOW)):
        with pytest.raises(ServiceError, match="cancelled"):
            attempt()


def test_a_cancellation_needs_a_reason(world):
    meeting = _schedule(world)
    for reason, message in (("", "Enter why"), ("x" * 501, "500 characters")):
        with pytest.raises(ServiceError, match=message):
            mdt.cancel_mdt(meeting, reason=reason, by=world["coordinator"], now=NOW)
    assert meeting.status == MeetingStatus.SCHEDULED


# ---- notes, decisions and actions ------------------------------------------------------------------


def test_notes_wait_for_the_meeting_to_start(world):
    meeting = _schedule(world)
    with pytest.raises(ServiceError, match="has not started yet"):
        mdt.save_minutes(meeting, notes="Early", decision="", by=world["coordinator"], now=NOW)


def test_notes_and_decisions_live_on_one_agenda_item_and_the_chronology_says_the_mdt_was_held(world):
    meeting = _schedule(world)
    after = meeting.ends_at + timedelta(minutes=5)

    changed = mdt.save_minutes(meeting, notes="Police visited.\nHousing offered a room.", decision="Joint visit",
                               by=world["coordinator"], now=after)
    db.session.commit()
    again = mdt.save_minutes(meeting, notes="Police visited.\nHousing offered a room.", decision="Joint visit on Friday",
                             by=world["coordinator"], now=after)
    db.session.commit()

    assert changed == ["notes", "decision"] and again == ["decision"]
    (item,) = db.session.scalars(sa.select(AgendaItem).where(AgendaItem.meeting_id == meeting.id))
    assert item.kind == AgendaItemKind.OTHER and item.title == "MDT discussion" and item.case_id == meeting.case_id
    assert item.notes == "Police visited.\nHousing offered a room." and item.decision == "Joint visit on Friday"
    assert _events(world["case"].id)[-2:] == ["MDT on 14 July 2027 held: notes and decisions recorded",
                                              "MDT on 14 July 2027 notes and decisions updated"]
    assert mdt.save_minutes(meeting, notes=item.notes, decision=item.decision, by=world["coordinator"], now=after) == []


def test_a_risk_decision_needs_a_reason_and_changes_the_case(world):
    meeting = _schedule(world)
    after = meeting.ends_at
    with pytest.raises(ServiceError, match="reason for changing the risk level"):
        mdt.save_minutes(meeting, notes="", decision="", risk_level=RiskLevel.HIGH, by=world["coordinator"], now=after)

    changed = mdt.save_minutes(meeting, notes="", decision="", risk_level=RiskLevel.HIGH,
                               risk_reason="Safe housing found", by=world["coordinator"], now=after)
    db.session.commit()

    assert changed == ["risk_level"]
    assert world["case"].risk_level == RiskLevel.HIGH
    change = db.session.scalar(sa.select(RiskChange).where(RiskChange.case_id == world["case"].id))
    assert change.reason == "Agreed at the MDT on 14 July 2027: Safe housing found"
    assert mdt.save_minutes(meeting, notes="", decision="", risk_level=RiskLevel.HIGH, by=world["coordinator"],
                            now=after) == []


def test_actions_agreed_at_the_mdt_carry_its_id_and_join_the_action_log(world):
    meeting = _schedule(world)
    after = meeting.ends_at + timedelta(hours=1)

    with time_machine.travel(after, tick=False):
        action = mdt.add_mdt_action(meeting, description="Joint visit with housing", agency=world["police"],
                                    due_on=date(2027, 7, 21), assignee=world["worker"], by=world["coordinator"],
                                    now=after)
        db.session.commit()

    assert action.meeting_id == meeting.id and action.case_id == world["case"].id
    assert action.next_step is not None  # the escalation ladder started
    in_log = list(db.session.scalars(action_query(ActionFilters(case_reference=world["case"].reference),
                                                  date(2027, 7, 14))))
    assert [a.id for a in in_log] == [action.id]
    assert [a.id for a in mdt.mdt_actions(meeting.id)] == [action.id]
    with pytest.raises(ServiceError) as problem:
        mdt.add_mdt_action(meeting, description="Not involved", agency=world["other"], due_on=date(2027, 7, 21),
                           by=world["coordinator"], now=after)
    assert problem.value.field == "action_agency_id"
    with pytest.raises(ServiceError) as problem:
        mdt.add_mdt_action(meeting, description="Late", agency=world["police"], due_on=date(2027, 7, 1),
                           by=world["coordinator"], now=after)
    assert problem.value.field == "action_due_on"
    assert mdt.just_added_action(meeting, description="Joint visit with housing", agency_id=world["police"].id,
                                 due_on=date(2027, 7, 21), by=world["coordinator"], now=after) is not None


def test_no_actions_before_the_mdt_or_after_it_was_cancelled(world):
    meeting = _schedule(world)
    with pytest.raises(ServiceError, match="not started"):
        mdt.add_mdt_action(meeting, description="Too soon", agency=world["police"], due_on=date(2027, 7, 21),
                           by=world["coordinator"], now=NOW)
    mdt.cancel_mdt(meeting, reason="Not needed", by=world["coordinator"], now=NOW)
    with pytest.raises(ServiceError, match="cancelled"):
        mdt.add_mdt_action(meeting, description="Too late", agency=world["police"], due_on=date(2027, 7, 21),
                           by=world["coordinator"], now=meeting.ends_at)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Action)) == 0


# ---- queries ---------------------------------------------------------------------------------------


def test_the_case_meetings_are_upcoming_past_and_cancelled(world):
    past = _schedule(world, day=date(2027, 6, 10))
    soon = _schedule(world, day=date(2027, 6, 20))
    later = _schedule(world, day=date(2027, 8, 1))
    dropped = _schedule(world, day=date(2027, 9, 1))
    mdt.cancel_mdt(dropped, reason="Not needed", by=world["coordinator"], now=NOW)
    db.session.commit()

    grouped = mdt.case_mdts(world["case"].id, now=datetime(2027, 6, 15, tzinfo=UTC))

    assert [m.id for m in grouped.upcoming] == [soon.id, later.id]
    assert [m.id for m in grouped.past] == [past.id]
    assert [m.id for m in grouped.cancelled] == [dropped.id]
    assert grouped.counts[soon.id] == (3, 0)


def test_the_next_meeting_is_the_next_mdt_or_panel(world):
    case = world["case"]
    panel = Meeting(kind=MeetingKind.PANEL, starts_at=datetime(2027, 7, 14, 9, tzinfo=UTC),
                    ends_at=datetime(2027, 7, 14, 11, 30, tzinfo=UTC), series_key="panel-2027-07")
    db.session.add(panel)
    db.session.commit()
    assert mdt.next_meeting(case, NOW).id == panel.id

    early = _schedule(world, day=date(2027, 7, 1))
    assert mdt.next_meeting(case, NOW).id == early.id
    mdt.cancel_mdt(early, reason="No longer needed", by=world["coordinator"], now=NOW)
    assert mdt.next_meeting(case, NOW).id == panel.id

    other_case = create_case(lead=world["other"])
    assert mdt.next_meeting(other_case, NOW).id == panel.id
    other_case.status = CaseStatus.CLOSED
    assert mdt.next_meeting(other_case, NOW) is None


def test_the_people_to_invite_are_the_acting_spocs_and_named_workers(world):
    labels = [i.label for i in mdt.invitable_users(world["case"])]
    assert labels == ["Hana Housing, SPoC, Housing", "Pat Police, SPoC, Police", "Wyn Worker, named worker, Police"]

    deputy = factories.create_user(role=Role.SPOC, agency=world["housing"], name="Dee Deputy")
    world["housing"].deputy_spoc = deputy
    factories.mark_spoc_absent(world["housing"])
    world["worker"].active = False
    db.session.flush()
    labels = [i.label for i in mdt.invitable_users(world["case"])]
    assert labels == ["Dee Deputy, deputy SPoC, Housing", "Pat Police, SPoC, Police"]
