"""Builders for the retention tests: adults with a record in every table that holds something
about them, each free text carrying the adult's own marker (so a scan finds what is left), made
partly through the real services (so the audit trail is the one the product writes), dated
relative to london_today().

    OLD      a referral declined 8 years ago and a case closed 7 years ago: due
    RECENT   a case closed a year ago: within retention
    MIXED    a referral declined 8 years ago and one submitted now (open): untouched
    HELD     a case closed 7 years ago, under a legal hold: untouched
The cases of OLD and RECENT were discussed at the same two finalised panels (so the minutes
snapshots hold both), and OLD's case had an MDT.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from panel.actions import services as actions
from panel.cases import services as cases
from panel.dates import london_to_utc, london_today
from panel.extensions import db
from panel.meetings.record import take_snapshot
from panel.models import (
    ActionStatus,
    Agency,
    AgencyKind,
    AgendaItem,
    AgendaItemKind,
    Attendance,
    AttendanceStatus,
    Case,
    CaseStatus,
    EngagementMethod,
    EngagementOutcome,
    Involvement,
    LegalHoldKind,
    Meeting,
    MeetingKind,
    MinutesAmendment,
    Person,
    Referral,
    ReferralDecision,
    ReferralStatus,
    RiskLevel,
    Role,
    StaffSafetyKind,
    SubjectAccessRequest,
    SubjectAccessStatus,
    SubjectAccessWithholding,
    User,
    WithholdingReason,
)
from panel.reports import retention
from tests import factories

_n = iter(range(1, 100000))


def years_ago(today: date, years: int, days: int = 0) -> date:
    return retention.add_years(today, -years) - timedelta(days=days)


def at(day: date, hour: int = 11) -> datetime:
    return london_to_utc(day, time(hour, 0))


@dataclass
class Adult:
    marker: str
    person: Person
    referrals: list[Referral] = field(default_factory=list)
    case: Case | None = None
    personal: list[str] = field(default_factory=list)  # what identifies them: none may be left once anonymised
    person_id: int = 0

    def __post_init__(self) -> None:
        p = self.person
        self.personal = [v for v in (self.marker, p.given_name, p.family_name, p.full_name, p.nhs_number,
                                     p.date_of_birth.isoformat(), p.date_of_birth.strftime("%d %B %Y").lstrip("0"),
                                     p.address, p.other_names, p.other_identifiers) if v]
        self.person_id = p.id


@dataclass
class World:
    today: date
    police: Agency
    housing: Agency
    coordinator: User
    chair: User
    worker: User
    old: Adult
    recent: Adult
    mixed: Adult
    held: Adult
    panels: list[Meeting]
    mdt: Meeting


def _person(marker: str, given: str, family: str, born: date, nhs: str, postcode: str) -> Person:
    person = Person(given_name=given, family_name=family, other_names=f"{marker} alias", date_of_birth=born,
                    gender="Female", ethnicity="White British", first_language="Polish", interpreter_needed=True,
                    communication_needs=f"{marker} needs short sentences", address=f"7 {marker} Road, Luton",
                    postcode=postcode, nhs_number=nhs, other_identifiers=f"PNC {marker}/99")
    db.session.add(person)
    db.session.flush()
    return person


def _referral(w_agency: Agency, person: Person, marker: str, *, status: ReferralStatus, submitted: date,
              by: User | None = None) -> Referral:
    n = next(_n)
    referral = factories.create_referral(
        agency=w_agency, by=by, person=person, status=status, submitted_at=at(submitted, 9),
        referrer_name=f"{marker} referrer", referrer_email=f"referrer{n}@test.invalid", referrer_phone="01632 960001",
        manager_name=f"{marker} manager", risk_summary=f"{marker} risk summary", risk_assessment=f"{marker} assessed",
        tried_already=f"{marker} tried", rapport=f"{marker} rapport", persons_views=f"{marker} says leave me be",
        desired_outcomes=[f"{marker} a warm flat"], capacity=f"{marker} capacity", consent_given=False,
        consent_reason=f"{marker} serious risk", staff_safety_details=f"{marker} dog at the door",
        info_requested=f"{marker} more please", idempotency_key=f"niche-{marker}-{n}", idempotency_body_hash="ab" * 32,
        risk_level=RiskLevel.CRITICAL)
    referral.reference = f"R-RET-{n:05d}"
    db.session.add(Involvement(referral_id=referral.id, agency_id=w_agency.id, named_worker=f"{marker} worker"))
    db.session.flush()
    return referral


def _declined(referral: Referral, marker: str, on: date, by: User) -> None:
    referral.status = ReferralStatus.DECLINED
    referral.decided_at = at(on, 12)
    db.session.add(ReferralDecision(referral=referral, outcome="declined", from_status="submitted",
                                    to_status="declined", by=by, at=at(on, 12), reason=f"{marker} not critical",
                                    signposting=f"{marker} go to the front door"))
    db.session.flush()


def _case(w: dict, referral: Referral, marker: str, *, accepted: date, closed: date | None) -> Case:
    n = next(_n)
    referral.status, referral.decided_at = ReferralStatus.ACCEPTED, at(accepted, 12)
    db.session.add(ReferralDecision(referral=referral, outcome="accepted", from_status="awaiting_panel",
                                    to_status="accepted", by=w["chair"], at=at(accepted, 12),
                                    reason="Lead agency: Police"))
    case = Case(reference=f"CASPA-TEST-{n:04d}", person_id=referral.person_id, referral=referral,
                status=CaseStatus.ACTIVE, lead_agency=w["police"], risk_level=RiskLevel.CRITICAL, accepted_on=accepted)
    db.session.add(case)
    db.session.flush()
    for agency in (w["police"], w["housing"]):
        db.session.add(Involvement(case_id=case.id, agency_id=agency.id, named_worker=f"{marker} named worker"))
    db.session.flush()
    coordinator, worker = w["coordinator"], w["worker"]
    # the case record, through the services (their audit entries are the product's own)
    cases.change_risk(case, level=RiskLevel.HIGH, reason=f"{marker} calmer since the move", by=coordinator)
    cases.update_risk_plan(case, summary=f"{marker} summary", contingency_plan=f"{marker} plan", by=coordinator)
    cases.set_staff_safety_flag(case, kind=StaffSafetyKind.HOSTILITY, details=f"{marker} threatened staff",
                                by=coordinator)
    for hour, outcome in ((10, EngagementOutcome.ENGAGED), (19, EngagementOutcome.NO_ANSWER)):
        cases.record_attempt(case, agency=w["police"], method=EngagementMethod.PHONE, occurred_at=at(accepted, hour),
                             outcome=outcome, by=worker, persons_words=f"{marker} I am fine",
                             worker_view=f"{marker} seemed low")
    cases.record_insight(case, answers={k: f"{marker} {k}" for k in cases.INSIGHT_QUESTIONS}, by=worker)
    outcome = cases.add_outcome(case, words=f"{marker} to see my sister", asked=True, expressed=True, by=coordinator)
    case.risk_summary = f"{marker} summary"
    if closed is not None:
        outcome.review, outcome.reviewed_on = "achieved", closed
        case.status, case.closed_on = CaseStatus.CLOSED, closed
        case.closure_rationale, case.step_down_accepted_by = f"{marker} safe now", f"{marker} step-down manager"
        case.step_down_agency_id, case.step_down_accepted_on = w["housing"].id, closed
    db.session.flush()
    return case


def _action(case: Case, marker: str, w: dict, *, meeting: Meeting, on: date) -> None:
    action = actions.create_action(case, description=f"{marker} book a joint visit", agency=w["police"],
                                   due_on=on + timedelta(days=14), by=w["coordinator"], meeting_id=meeting.id, today=on)
    actions.update_action(action, by=w["coordinator"], note=f"{marker} visit booked", due_on=on + timedelta(days=21),
                          reason=f"{marker} was in hospital", today=on)
    escalation = actions.escalate_by_hand(action, to_chair=False, reason=f"{marker} no answer from police",
                                          by=w["coordinator"], now=at(on, 15))
    escalation.acknowledged_at, escalation.acknowledgement = at(on, 16), f"{marker} we will visit"
    actions.update_action(action, by=w["coordinator"], note=f"{marker} visited", status=ActionStatus.DONE, today=on)


def _panel(day: date, w: dict, items: list[tuple[AgendaItemKind, Case | None, Referral | None, str]]) -> Meeting:
    starts = at(day, 10)
    meeting = Meeting(kind=MeetingKind.PANEL, starts_at=starts, ends_at=starts + timedelta(hours=2, minutes=30),
                      cutoff_on=day - timedelta(days=7), location="Town Hall")
    db.session.add(meeting)
    db.session.flush()
    for position, (kind, case, referral, marker) in enumerate(items, 1):
        db.session.add(AgendaItem(meeting_id=meeting.id, position=position, kind=kind,
                                  case_id=case.id if case else None, referral_id=referral.id if referral else None,
                                  notes=f"{marker} discussed" if marker else "",
                                  decision=f"{marker} keep going" if marker else ""))
    for agency in (w["police"], w["housing"]):
        db.session.add(Attendance(meeting_id=meeting.id, agency_id=agency.id, status=AttendanceStatus.PRESENT,
                                  attendee_name="A Police Officer", confidentiality_acknowledged=True))
    db.session.flush()
    return meeting


def _finalise(meeting: Meeting, w: dict) -> None:
    meeting.minutes_finalised_at = meeting.ends_at + timedelta(days=2)
    meeting.minutes_finalised_by_id = w["chair"].id
    take_snapshot(meeting, by=w["chair"], now=meeting.minutes_finalised_at)


def _subject_access(person: Person, marker: str, on: date) -> None:
    request = SubjectAccessRequest(person_id=person.id, status=SubjectAccessStatus.CLOSED, received_on=on,
                                   due_on=on + timedelta(days=30), release_document={"name": f"{marker} released"},
                                   sent_on=on + timedelta(days=20), closed_at=at(on + timedelta(days=20)))
    db.session.add(request)
    db.session.flush()
    db.session.add(SubjectAccessWithholding(request_id=request.id, entry=f"case:{person.id}:risk_summary",
                                            passage=f"{marker} neighbour said", reason=WithholdingReason.THIRD_PARTY,
                                            note=f"{marker} third party"))
    db.session.flush()


def build() -> World:
    today = london_today()
    police = factories.create_agency(code="police", name="Police", kind=AgencyKind.POLICE)
    housing = factories.create_agency(code="housing", name="Housing", kind=AgencyKind.HOUSING)
    coordinator = factories.create_user(role=Role.COORDINATOR, agency=police, name="Casey Coordinator",
                                        email="coordinator@test.invalid")
    chair = factories.create_user(role=Role.CHAIR, agency=police, name="Charlie Chair", email="chair@test.invalid")
    worker = factories.create_user(role=Role.PRACTITIONER, agency=police, name="Wren Worker",
                                   email="worker@test.invalid")
    w = {"police": police, "housing": housing, "coordinator": coordinator, "chair": chair, "worker": worker}

    old = Adult("OLIVEMARK", _person("OLIVEMARK", "Olive", "Oldrecord", date(1961, 2, 28), "9434765919", "LU1 2AB"))
    declined = _referral(police, old.person, old.marker, status=ReferralStatus.SUBMITTED,
                         submitted=years_ago(today, 8, 20))
    _declined(declined, old.marker, years_ago(today, 8), coordinator)
    accepted = _referral(housing, old.person, old.marker, status=ReferralStatus.AWAITING_PANEL,
                         submitted=years_ago(today, 7, 400))
    old.referrals = [declined, accepted]
    old.case = _case(w, accepted, old.marker, accepted=years_ago(today, 7, 380), closed=years_ago(today, 7))

    recent = Adult("RITAMARK", _person("RITAMARK", "Rita", "Recentone", date(1975, 6, 1), "4010232137", "LU3 1EF"))
    r_accepted = _referral(police, recent.person, recent.marker, status=ReferralStatus.AWAITING_PANEL,
                           submitted=years_ago(today, 7, 400))
    recent.referrals = [r_accepted]
    recent.case = _case(w, r_accepted, recent.marker, accepted=years_ago(today, 7, 380), closed=years_ago(today, 1))

    # both cases at two finalised panels: the first agreed actions, the second reviewed them
    first_day, second_day = years_ago(today, 7, 370), years_ago(today, 7, 340)
    first = _panel(first_day, w, [(AgendaItemKind.WELCOME, None, None, ""),
                                  (AgendaItemKind.CASE, old.case, None, old.marker),
                                  (AgendaItemKind.CASE, recent.case, None, recent.marker)])
    for adult in (old, recent):
        _action(adult.case, adult.marker, w, meeting=first, on=first_day)
    second = _panel(second_day, w, [(AgendaItemKind.CASE, old.case, None, old.marker),
                                    (AgendaItemKind.CASE, recent.case, None, recent.marker)])
    _finalise(first, w)
    _finalise(second, w)
    old_item = next(i for i in second.items if i.case_id == old.case.id)
    db.session.add(MinutesAmendment(meeting_id=second.id, agenda_item_id=old_item.id, by_id=chair.id,
                                    reason=f"{old.marker} wrong date", text=f"{old.marker} corrected"))
    db.session.add(MinutesAmendment(meeting_id=second.id, agenda_item_id=None, by_id=chair.id,
                                    reason="Typo in the attendance", text="Housing were present"))
    mdt_start = at(years_ago(today, 7, 300), 14)
    mdt = Meeting(kind=MeetingKind.MDT, case_id=old.case.id, starts_at=mdt_start, ends_at=mdt_start + timedelta(hours=1),
                  location=f"{old.marker} flat", purpose=f"{old.marker} plan the move",
                  moved_reason=f"{old.marker} was ill", online_url="https://meet.example.test/abc")
    db.session.add(mdt)
    db.session.flush()
    db.session.add(AgendaItem(meeting_id=mdt.id, position=1, kind=AgendaItemKind.OTHER, title="Discussion",
                              case_id=old.case.id, notes=f"{old.marker} mdt notes", decision=f"{old.marker} mdt decision"))
    _subject_access(old.person, old.marker, years_ago(today, 7, 100))
    hold, _ = retention.place_hold(retention.adult(old.person.id), kind=LegalHoldKind.COURT_CASE,
                                   details=f"{old.marker} court ref", by=coordinator)
    retention.lift_hold(hold, reason=f"{old.marker} case dropped", by=coordinator)

    mixed = Adult("MIXMARK", _person("MIXMARK", "Max", "Mixedbag", date(1990, 1, 1), "", "LU4 9ZZ"))
    m_old = _referral(police, mixed.person, mixed.marker, status=ReferralStatus.SUBMITTED,
                      submitted=years_ago(today, 8, 30))
    _declined(m_old, mixed.marker, years_ago(today, 8, 10), coordinator)
    m_new = _referral(police, mixed.person, mixed.marker, status=ReferralStatus.SUBMITTED, submitted=today)
    mixed.referrals = [m_old, m_new]

    held = Adult("HELDMARK", _person("HELDMARK", "Hamish", "Heldback", date(1950, 3, 3), "", "LU2 7QQ"))
    h_referral = _referral(police, held.person, held.marker, status=ReferralStatus.AWAITING_PANEL,
                           submitted=years_ago(today, 8))
    held.referrals = [h_referral]
    held.case = _case(w, h_referral, held.marker, accepted=years_ago(today, 8, -30), closed=years_ago(today, 7))
    retention.place_hold(retention.adult(held.person.id), kind=LegalHoldKind.SAFEGUARDING_ADULTS_REVIEW,
                         details=f"{held.marker} SAR 2027/3", by=coordinator)
    db.session.flush()
    return World(today=today, police=police, housing=housing, coordinator=coordinator, chair=chair, worker=worker,
                 old=old, recent=recent, mixed=mixed, held=held, panels=[first, second], mdt=mdt)


# ---- looking at the whole database ------------------------------------------------------------


def dump() -> dict[str, dict[tuple, dict]]:
    """Every row of every table, by primary key: {table: {pk: {column: value}}}."""
    db.session.flush()
    out = {}
    for table in db.metadata.sorted_tables:
        key = [c.name for c in table.primary_key.columns]
        out[table.name] = {tuple(row[k] for k in key): dict(row)
                           for row in db.session.execute(sa.select(table)).mappings()}
    return out


def text_of(value) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def where_found(needles: list[str], tables: dict[str, dict[tuple, dict]] | None = None) -> list[str]:
    """table.column#pk for every value in the database holding one of the strings."""
    tables = tables if tables is not None else dump()
    found = []
    for name, rows in tables.items():
        for pk, row in rows.items():
            for column, value in row.items():
                text = text_of(value)
                if any(n and n in text for n in needles):
                    found.append(f"{name}.{column}#{pk}")
    return found
