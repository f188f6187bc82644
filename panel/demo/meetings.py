"""Fictional demo data for meetings: monthly panels and case MDTs. Everything is invented.

Made through the meeting services, as the app itself would have written it:
- the panel schedule from about three months ago: the three panels already held have their
  agendas, attendance (present, deputised, apologies with and without a written update, absent:
  the chair's six-panel attendance table has something to show), item notes, actions agreed,
  and minutes finalised by the chair; one action agreed at the last panel is still open, so
  the next agenda shows it among the last panel's incomplete actions;
- the next panel: its agenda built from the data (five new referrals for decision, each with its
  own details in full, REFERRAL_DETAILS; two of them with staff-safety concerns, and a case with a
  staff-safety warning), with a coordinator's own item and a longer time box, calendar
  invitations sent to everyone expected, and one SPoC's apologies;
- three MDTs for the police-led case: one held (notes, a decision and an action), one
  upcoming with a SPoC, a named worker and an external GP invited (one reply recorded), and
  one cancelled.
No mail goes out for the past: emails the services queued for past events (finalised minutes,
past MDT invitations) are recorded as sent; so is all the demo's mail (panel.demo.load).
Chronology entries the services write are dated when the thing happened, not at load time.
Called once from panel.demo.load(); adds nothing if there are meetings already.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Callable, TypeVar

import sqlalchemy as sa

from panel.actions import services as action_services
from panel.extensions import db
from panel.meetings import agenda, invitations, mdt, minutes, schedule
from panel.models import (
    ActionStatus,
    Agency,
    AgendaItemKind,
    AttendanceStatus,
    AttendeeResponse,
    Case,
    CaseEvent,
    CaseStatus,
    LawfulBasis,
    Meeting,
    MeetingKind,
    OutboxMessage,
    OutboxStatus,
    User,
    utcnow,
)
from panel.dates import LONDON, add_working_days

T = TypeVar("T")

# The five referrals awaiting the next panel, each with its own details in full (panel.demo puts
# these answers on them through the referral services; everything is invented).
REFERRAL_DETAILS: dict[str, dict] = {
    "Robin Dummy": {
        "risk_summary": "Repeated calls to police about threats from people using the flat to deal drugs "
                        "(cuckooing). Two hospital admissions after assaults since the summer (demo).",
        "risk_assessment": "Police vulnerability assessment: high risk of serious harm; exploitation likely to "
                           "continue while the visitors keep a key (demo).",
        "tried_already": "Neighbourhood police visits and a closure order on the flat's door; a housing move was "
                         "offered and refused. What worked: the PCSO's weekly check-ins kept the visitors away "
                         "for three weeks in September (demo).",
        "rapport": "Trusts the PCSO who did the weekly check-ins; will talk to the mental health nurse at the "
                   "surgery (demo).",
        "persons_views": "“They’re my mates, but I don’t want them there every night. I just want my flat back.” "
                         "(demo)",
        "desired_outcomes": ["To have my flat back to myself", "To feel safe going out to the shop"],
        "capacity": "Capacity to decide where to live assumed; anxiety worsens under pressure, so decisions are "
                    "best discussed in the morning with someone they trust (demo).",
    },
    "Ellis Invented": {
        "risk_summary": "Diabetic and not taking insulin; three A&E attendances in a month with high blood sugar; "
                        "the home is cold and food is running out (demo).",
        "risk_assessment": "Hospital safeguarding team: risk of death from unmanaged diabetes judged critical "
                           "by the diabetes consultant (demo).",
        "tried_already": "Diabetes nurse home visits (three, two not answered); a referral to adult social care "
                         "closed after no contact. What worked: a pharmacist delivering insulin with a reminder "
                         "call, for two weeks (demo).",
        "rapport": "The community pharmacist, who phones before every delivery (demo).",
        "persons_views": "“I’m sick of people telling me what to eat. I’ll do it my own way.” (demo)",
        "desired_outcomes": ["Not to go back into hospital", "Help with the heating bill"],
        "capacity": "A capacity assessment on managing insulin is due; the consultant has concerns about "
                    "executive function after a stroke in 2024 (demo).",
        "staff_lone_working_restricted": True,
        "staff_safety_details": "Has threatened the diabetes nurse with a walking stick; visit in pairs, "
                                "never after dark (demo).",
    },
    "Frankie Pretend": {
        "risk_summary": "Psychosis and heavy cannabis use; has set small fires in the flat twice; neighbours "
                        "report shouting through the night (demo).",
        "risk_assessment": "Mental health trust crisis team: high risk to self and others from fire setting "
                           "(demo).",
        "tried_already": "Two Mental Health Act assessments (not detained), depot medication offered, a drug "
                         "service referral. What worked: the fire service's home safety visit, which the "
                         "person welcomed and talked about for weeks (demo).",
        "rapport": "The fire service's safe and well officer; an older sister who visits on Sundays (demo).",
        "persons_views": "“The voices get worse when I can’t sleep. I don’t want to go back on the ward.” (demo)",
        "desired_outcomes": ["To sleep properly", "To stay out of hospital", "To see my sister more"],
        "capacity": "Fluctuating capacity; assessed as lacking capacity about medication during the last "
                    "crisis, regained since (demo).",
    },
    "Harley Imaginary": {
        "risk_summary": "Eviction for rent arrears in six weeks; rough sleeping before; alcohol use rising; "
                        "financially exploited by a new partner (demo).",
        "risk_assessment": "Housing options: priority need likely; risk of street homelessness high (demo).",
        "tried_already": "Tenancy sustainment officer, a payment plan, a food bank referral. What worked: the "
                         "payment plan held for two months until the new partner moved in (demo).",
        "rapport": "The tenancy sustainment officer; a support worker at the day centre (demo).",
        "persons_views": "“I know I owe the money. I want to keep the flat, I just can’t say no to him.” (demo)",
        "desired_outcomes": ["To keep my flat", "To manage my own money again"],
        "capacity": "No concerns about capacity; coercion may be affecting decisions about money (demo).",
    },
    "Jesse Fabricated": {
        "risk_summary": "Self-neglect with hoarding; the GP has not seen the person for two years; a fall on "
                        "the stairs last month; the boiler is condemned (demo).",
        "risk_assessment": "Primary care network frailty team: high risk of a further fall and of hypothermia "
                           "(demo).",
        "tried_already": "GP letters and a practice nurse visit (not let in); a fire safety visit was refused. "
                         "What worked: a home-delivered prescription with a note from the GP (demo).",
        "rapport": "The postman, who checks in daily; the GP receptionist who phones (demo).",
        "persons_views": "“It’s my home and my things. Nobody is taking my things.” (demo)",
        "desired_outcomes": ["To stay in my own home", "To have the heating fixed", "Nobody to throw my things away"],
        "capacity": "Capacity about care and living at home not assessed; the person declines to discuss it "
                    "(demo).",
        "consent_given": False,
        "consent_lawful_basis": LawfulBasis.SAFEGUARDING_INDIVIDUALS,
        "consent_reason": "A serious risk to life from cold and falls; the person would not talk about "
                          "sharing (demo).",
    },
}

# (status, who came, who deputised, written update) in turn for each expected agency
_ATTENDANCE = [
    (AttendanceStatus.PRESENT, "spoc", "", ""),
    (AttendanceStatus.PRESENT, "", "deputy", ""),
    (AttendanceStatus.APOLOGIES_WITH_UPDATE, "", "", "No change since the last panel; our actions are on track."),
    (AttendanceStatus.PRESENT, "spoc", "", ""),
    (AttendanceStatus.APOLOGIES, "", "", ""),
    (AttendanceStatus.ABSENT, "", "", ""),
]


def _users() -> dict[str, User]:
    return {u.email: u for u in db.session.scalars(sa.select(User))}


def _at(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LONDON)


def _dated(when: datetime, call: Callable[..., T], *args, **kwargs) -> T:
    """Run a service call, then date the chronology entries it wrote at `when` (they carry the
    load time otherwise, and the chronology reads out of order)."""
    before = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(CaseEvent.id), 0)))
    result = call(*args, **kwargs)
    db.session.flush()
    for event in db.session.scalars(sa.select(CaseEvent).where(CaseEvent.id > before)):
        event.at = when
    return result


def load(*, today: date | None = None) -> int:
    """Add the demo meetings, once (flushes, does not commit). Returns how many were made."""
    now = utcnow()
    today = today or now.astimezone(LONDON).date()
    if db.session.scalar(sa.select(sa.func.count()).select_from(Meeting)):
        return 0
    users = _users()
    coordinator, chair = users.get("coordinator@demo.invalid"), users.get("chair@demo.invalid")
    if coordinator is None or chair is None:
        return 0
    first_mail = db.session.scalar(sa.select(sa.func.max(OutboxMessage.id))) or 0
    schedule.ensure_panels(today - timedelta(days=95))
    schedule.ensure_panels(today)
    panels = list(db.session.scalars(sa.select(Meeting).where(Meeting.kind == MeetingKind.PANEL)
                                     .order_by(Meeting.starts_at)))
    held = [p for p in panels if p.ends_at < now][-3:]
    for number, panel in enumerate(held):
        _hold_panel(panel, number, coordinator, chair, last=number == len(held) - 1, now=now)
    police_case = db.session.scalar(sa.select(Case).join(Agency, Agency.id == Case.lead_agency_id)
                                    .where(Agency.code == "police", Case.status == CaseStatus.ACTIVE).limit(1))
    past_mdts = _past_mdts(police_case, coordinator, today, now) if police_case else 0
    # nothing queued for the past goes out: it is recorded as sent (panel.demo.load does the same
    # for every email the demo data makes)
    db.session.execute(sa.update(OutboxMessage).where(OutboxMessage.id > first_mail).values(
        status=OutboxStatus.SENT, sent_at=OutboxMessage.created_at))
    upcoming = [p for p in panels if p.starts_at > now]
    if upcoming:
        _prepare_next_panel(upcoming[0], coordinator, users, now)
    future_mdts = _future_mdts(police_case, coordinator, users, today, now) if police_case else 0
    db.session.flush()
    return len(panels) + past_mdts + future_mdts


def _hold_panel(panel: Meeting, number: int, coordinator: User, chair: User, *, last: bool, now: datetime) -> None:
    agenda.sync_agenda(panel, by=coordinator)
    minutes.ensure_attendance_rows(panel, by=coordinator)
    for index, row in enumerate(minutes.attendance_rows(panel)):
        status, came, deputy, update = _ATTENDANCE[(index + number) % len(_ATTENDANCE)]
        agency = row.agency
        minutes.record_attendance(
            row, status=status, by=coordinator, now=panel.starts_at,
            attendee_name=(agency.spoc.name if came and agency.spoc else ""),
            deputised_by=(agency.deputy_spoc.name if deputy and agency.deputy_spoc else ""),
            written_update=update, confidentiality_acknowledged=status == AttendanceStatus.PRESENT)
    items = list(panel.items)
    welcome = next((i for i in items if i.kind == AgendaItemKind.WELCOME), None)
    if welcome is not None:
        minutes.record_item_minutes(welcome, notes="The chair read the confidentiality statement; everyone "
                                                   "present acknowledged it.", by=coordinator)
    case_items = [i for i in items if i.kind == AgendaItemKind.CASE][:2]
    day = minutes.panel_day(panel)
    for position, item in enumerate(case_items):
        minutes.record_item_minutes(item, notes="Lead agency gave an update; partners agreed the next steps below.",
                                    by=coordinator)
        case = minutes.item_case(item)
        involved = [inv.agency for inv in case.involvements] if case else []
        if not involved:
            continue
        # at the last panel: one action still open (due after today); at earlier ones: done
        due = add_working_days(max(day, now.astimezone(LONDON).date()), 8) if last else add_working_days(day, 10)
        action = _dated(panel.ends_at, minutes.add_item_action,
            item, description="Share the outcome of the joint visit with partners",
            agency=involved[position % len(involved)], due_on=due, by=coordinator, today=day)
        action.created_at = panel.ends_at
        if not last or position == 1:
            done_at = _at(add_working_days(day, 5), time(11, 0))
            _dated(done_at, action_services.update_action,
                   action, by=coordinator, status=ActionStatus.DONE, note="Shared with partners by email.", today=day)
            for update in action.updates:
                update.at = done_at
            if action.closed_at is not None:
                action.closed_at = done_at
    minutes.finalise(panel, by=chair, now=panel.ends_at + timedelta(days=2))


def _prepare_next_panel(panel: Meeting, coordinator: User, users: dict[str, User], now: datetime) -> None:
    agenda.sync_agenda(panel, by=coordinator)
    agenda.add_item(panel, title="Update on the self-neglect and hoarding protocol", minutes=10, by=coordinator)
    first_case = next((i for i in panel.items if i.kind == AgendaItemKind.CASE), None)
    if first_case is not None:
        agenda.set_time_box(first_case, minutes=20, by=coordinator)
    invitations.invite_panel(panel, by=coordinator, now=now)
    housing = users.get("spoc.housing@demo.invalid")
    if housing is not None and panel.starts_at > now:
        minutes.ensure_attendance_rows(panel, by=coordinator)
        row = minutes.attendance_row(panel, housing.agency)
        minutes.record_attendance(row, status=AttendanceStatus.APOLOGIES_WITH_UPDATE, by=housing, now=now,
                                  written_update="Tenancy sustainment visit booked; update sent to the coordinator.")


def _people(case: Case) -> list[invitations.Person]:
    people = []
    for inv in case.involvements:
        spoc = inv.agency.acting_spoc
        if spoc is not None and spoc.active:
            people.append(invitations.Person.of(spoc))
    return people[:3]


def _past_mdts(case: Case, coordinator: User, today: date, now: datetime) -> int:
    held_day = add_working_days(today, -6)
    booked = _at(add_working_days(held_day, -5), time(9, 0))
    meeting = _dated(booked, mdt.schedule_mdt,
        case, day=held_day, start=time(14, 0), end=time(15, 0), location="Meeting room 4, Demo Police station",
        online_url="", purpose="Agree a joint approach after two missed visits", attendees=_people(case),
        by=coordinator, now=booked)
    after = _at(held_day, time(15, 30))
    _dated(after, mdt.save_minutes,
        meeting, notes="Partners shared what they know about the missed visits.",
        decision="A joint visit by police and housing within five working days.", risk_level=None,
        by=coordinator, now=after)
    agency = case.involvements[-1].agency
    action = _dated(after, mdt.add_mdt_action,
        meeting, description="Arrange the joint visit with the housing officer", agency=agency,
        due_on=add_working_days(today, 4), by=coordinator, now=after)
    action.created_at = after
    cancelled = _dated(booked, mdt.schedule_mdt,
        case, day=add_working_days(today, 2), start=time(10, 0), end=time(11, 0), location="",
        online_url="https://meet.example.invalid/caspa-mdt", purpose="Review the safety plan",
        attendees=_people(case), by=coordinator, now=booked)
    _dated(booked + timedelta(days=1), mdt.cancel_mdt,
        cancelled, reason="Replaced by the MDT already held", by=coordinator, now=booked + timedelta(days=1))
    return 2


def _future_mdts(case: Case, coordinator: User, users: dict[str, User], today: date, now: datetime) -> int:
    people = _people(case)
    worker = users.get("practitioner.health@demo.invalid")
    if worker is not None:
        people.append(invitations.Person.of(worker))
    people.append(invitations.Person(email="gp.riverside@surgery.invalid", name="Dr Ash Example",
                                     agency_name="Riverside Surgery (external)"))
    meeting = mdt.schedule_mdt(case, day=add_working_days(today, 3), start=time(14, 0), end=time(15, 0),
                               location="Meeting room 2, Demo Council offices",
                               online_url="https://meet.example.invalid/caspa-review",
                               purpose="Review the joint visit and the contingency plan", attendees=people,
                               by=coordinator, now=now)
    attendee = next((a for a in meeting.attendees if a.current), None)
    if attendee is not None:
        mdt.record_response(meeting, attendee, AttendeeResponse.ACCEPTED, by=coordinator, now=now)
    return 1

