"""Fictional demo data: agencies of every kind, their SPoCs, deputies and escalation contacts,
and the seven demo users named in DESIGN §4. Everything here is invented."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from panel import audit
from panel.agencies import absence
from panel.auth.passwords import hash_password
from panel.cases import services as case_services
from panel.demo import actions as demo_actions, cases as demo_cases, meetings as demo_meetings
from panel.demo import history as demo_history, retention as demo_retention, subject_access as demo_subject_access
from panel.extensions import db
from panel.models import (
    Agency,
    AgencyKind,
    AuditAction,
    CaseEvent,
    LawfulBasis,
    OutboxMessage,
    OutboxStatus,
    Person,
    Referral,
    RiskLevel,
    Role,
    User,
)
from panel.referrals import linking, services

# code, name, kind, ISA state: "current", "due_soon" (within 30 days), "lapsed", "unsigned"
AGENCIES = [
    ("caspa", "Demo Council CASPA Team", AgencyKind.LOCAL_AUTHORITY, "current"),
    ("police", "Demo Police", AgencyKind.POLICE, "current"),
    ("asc", "Demo Adult Social Care", AgencyKind.ADULT_SOCIAL_CARE, "current"),
    ("housing", "Demo Housing Options", AgencyKind.HOUSING, "current"),
    ("mental-health", "Demo Mental Health Trust", AgencyKind.MENTAL_HEALTH, "current"),
    ("health", "Demo Hospital Trust", AgencyKind.ACUTE_HEALTH, "current"),
    ("primary-care", "Demo Primary Care Network", AgencyKind.PRIMARY_CARE, "due_soon"),
    ("drug-alcohol", "Demo Recovery Service", AgencyKind.DRUG_AND_ALCOHOL, "current"),
    ("probation", "Demo Probation Delivery Unit", AgencyKind.PROBATION, "current"),
    ("fire", "Demo Fire and Rescue", AgencyKind.FIRE, "due_soon"),
    ("voluntary", "Demo Outreach Charity", AgencyKind.VOLUNTARY_SECTOR, "lapsed"),
    ("sab", "Demo Safeguarding Adults Board", AgencyKind.OTHER, "unsigned"),
]

NAMED_USERS = [
    ("admin@demo.invalid", "Alex Admin", Role.ADMIN, "caspa"),
    ("coordinator@demo.invalid", "Casey Coordinator", Role.COORDINATOR, "caspa"),
    ("chair@demo.invalid", "Charlie Chair", Role.CHAIR, "asc"),
    ("spoc.police@demo.invalid", "Pat Police-SPoC", Role.SPOC, "police"),
    ("spoc.housing@demo.invalid", "Harper Housing-SPoC", Role.SPOC, "housing"),
    ("practitioner.health@demo.invalid", "Hollis Health-Worker", Role.PRACTITIONER, "health"),
    ("board@demo.invalid", "Bailey Board-Member", Role.BOARD, "sab"),
]


def database_is_empty() -> bool:
    return db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one() == 0


def _isa_dates(state: str, today: date) -> tuple[date | None, date | None]:
    if state == "current":
        return today - timedelta(days=200), today + timedelta(days=165)
    if state == "due_soon":
        return today - timedelta(days=345), today + timedelta(days=20)
    if state == "lapsed":
        return today - timedelta(days=400), today - timedelta(days=35)
    return None, None


def load(*, password: str, today: date | None = None) -> list[str]:
    """Add the demo agencies and users (flushes, does not commit). Returns the named sign-ins."""
    today = today or date.today()
    password_hash = hash_password(password)  # one hash for all: demo users share the password
    agencies: dict[str, Agency] = {}
    for code, name, kind, isa in AGENCIES:
        existing = db.session.execute(sa.select(Agency).filter_by(code=code)).scalar_one_or_none()
        if existing is None:
            signed, review = _isa_dates(isa, today)
            existing = Agency(code=code, name=name, kind=kind, isa_signed_on=signed, isa_review_due=review)
            db.session.add(existing)
        agencies[code] = existing
    db.session.flush()

    def add_user(email: str, name: str, role: Role, agency: Agency) -> User:
        user = db.session.execute(sa.select(User).filter_by(email=email)).scalar_one_or_none()
        if user is None:
            user = User(email=email, name=name, role=role, agency=agency, password_hash=password_hash)
            db.session.add(user)
            db.session.flush()
            audit.record(AuditAction.CREATE, "user", user.id, summary={"source": "demo data", "role": str(role)})
        return user

    named = {email: add_user(email, name, role, agencies[code]) for email, name, role, code in NAMED_USERS}
    for code, name, _kind, _ in AGENCIES:
        agency = agencies[code]
        short = code.replace("-", "")
        spoc = named.get(f"spoc.{code}@demo.invalid") or add_user(
            f"spoc.{short}@demo.invalid", f"{name} SPoC", Role.SPOC, agency)
        deputy = add_user(f"deputy.{short}@demo.invalid", f"{name} Deputy SPoC", Role.SPOC, agency)
        lead = add_user(f"lead.{short}@demo.invalid", f"{name} Strategic Lead", Role.SPOC, agency)
        add_user(f"worker.{short}@demo.invalid", f"{name} Practitioner", Role.PRACTITIONER, agency)
        if agency.spoc_id is None:
            agency.spoc, agency.deputy_spoc, agency.escalation_contact = spoc, deputy, lead
    db.session.flush()
    # the probation SPoC is on leave from three days ago for a fortnight: the deputy acts for them
    if not agencies["probation"].spoc_absent:
        absence.record_absence(spoc=agencies["probation"].spoc, starts_on=today - timedelta(days=3),
                               ends_on=today + timedelta(days=10), note="Annual leave",
                               by=named["coordinator@demo.invalid"], today=today)
    load_referrals(today=today)
    demo_cases.load(today=today)  # the case record's demo data: it builds on the referrals above
    demo_actions.load(today=today)  # the action log's demo data: actions on the cases above
    demo_meetings.load(today=today)  # panels held and to come, and case MDTs, on the data above
    demo_history.load(today=today)  # a year of closed and declined history for the Board's reports
    demo_subject_access.load(today=today)  # an open subject-access request
    demo_retention.load(today=today)  # records due for anonymisation, and one under legal hold
    _mail_recorded_as_sent()
    audit.record(AuditAction.CREATE, "demo_data", "", summary={"agencies": len(agencies)})
    return list(named)


def _mail_recorded_as_sent() -> None:
    """The demo's emails tell of things that have already happened: record them as sent, so the
    first outbox run sends none of them (their addresses are fictional anyway)."""
    db.session.flush()
    db.session.execute(sa.update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING).values(
        status=OutboxStatus.SENT, sent_at=OutboxMessage.created_at))


def _date_new_events(case, when: datetime) -> None:
    """Date the case's chronology entries written in this load (the newest ones) at `when`."""
    db.session.flush()
    latest = db.session.scalar(sa.select(sa.func.max(CaseEvent.at)).where(CaseEvent.case_id == case.id))
    for event in db.session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                              CaseEvent.at == latest)):
        event.at = when


# ---- referrals and cases ----------------------------------------------------------------
# Every person is invented. Each referral goes through the real services (draft, answers,
# submit, triage, panel decision), so references, decisions and the audit trail are real; only
# the times are moved back afterwards so the history reads as it would have happened.
#
# With the default cap of 15: 6 open cases + 9 open referrals (two submitted, two with more
# information asked for, five awaiting the next panel) = 15 of 15 places used, and one referral
# waiting. Sam Demo-Person is referred three times in the year (declined, withdrawn,
# open), the last time under a new person record that matches by NHS number, and by date of
# birth and a similar name.

# (days ago submitted, referrer email, given, family, date of birth, NHS number, risk, needs, what happens)
# what happens: ("submitted",), ("panel", days), ("info", days), ("declined", days), ("withdrawn", days),
# ("declined_at_panel", days to panel, days declined), ("case", days to panel, days accepted, lead agency
# code[, "closure_proposed"])
DEMO_REFERRALS = [
    (240, "worker.police@demo.invalid", "Alex", "Sample", date(1979, 4, 2), "9990000018", "critical",
     ["dual_diagnosis", "victimisation", "poor_engagement"], ("case", 232, 225, "police")),
    (205, "worker.police@demo.invalid", "Sam", "Demo-Person", date(1984, 3, 9), "9990000026", "high",
     ["housing", "self_neglect"], ("declined", 198)),
    (200, "worker.mentalhealth@demo.invalid", "Morgan", "Specimen", date(1966, 11, 30), "", "critical",
     ["mental_health", "self_neglect"], ("case", 195, 190, "mental-health", "closure_proposed")),
    (160, "spoc.housing@demo.invalid", "Riley", "Fictional", date(1991, 7, 15), "9990000034", "high",
     ["housing", "antisocial_behaviour"], ("case", 155, 150, "housing")),
    (150, "worker.asc@demo.invalid", "Rowan", "Example", date(1958, 1, 21), "", "high",
     ["poorly_managed_health", "social_exclusion"], ("declined_at_panel", 140, 133)),
    (120, "worker.drugalcohol@demo.invalid", "Kit", "Notreal", date(1987, 9, 5), "9990000042", "critical",
     ["dual_diagnosis", "offending"], ("case", 115, 110, "drug-alcohol")),
    (95, "spoc.housing@demo.invalid", "Samuel", "Demo-Person", date(1984, 3, 9), "", "high",
     ["housing", "unable_to_protect_self"], ("withdrawn", 85)),
    (80, "worker.probation@demo.invalid", "Jordan", "Madeup", date(1995, 2, 14), "9990000050", "high",
     ["offending", "unhelpful_thinking"], ("case", 75, 70, "probation")),
    (60, "worker.fire@demo.invalid", "Jude", "Placeholder", date(1949, 6, 18), "", "high",
     ["self_neglect", "poorly_managed_health"], ("withdrawn", 52)),
    (45, "worker.asc@demo.invalid", "Taylor", "Mockup", date(1972, 12, 1), "9990000069", "critical",
     ["victimisation", "unable_to_protect_self"], ("case", 40, 35, "asc")),
    (30, "spoc.police@demo.invalid", "Robin", "Dummy", date(1983, 5, 27), "", "critical",
     ["antisocial_behaviour", "mental_health"], ("panel", 25)),
    (25, "practitioner.health@demo.invalid", "Ellis", "Invented", date(1969, 8, 8), "9990000077", "high",
     ["poorly_managed_health", "self_neglect"], ("panel", 20)),
    (20, "worker.mentalhealth@demo.invalid", "Frankie", "Pretend", date(1990, 10, 10), "", "critical",
     ["mental_health", "dual_diagnosis"], ("panel", 15)),
    (18, "spoc.housing@demo.invalid", "Harley", "Imaginary", date(1977, 3, 3), "", "high",
     ["housing", "social_exclusion"], ("panel", 14)),
    (12, "worker.primarycare@demo.invalid", "Jesse", "Fabricated", date(1962, 4, 4), "9990000085", "high",
     ["poorly_managed_health", "poor_engagement"], ("panel", 10)),
    (6, "practitioner.health@demo.invalid", "Sam", "Demo-Person", date(1984, 3, 9), "9990000026", "critical",
     ["housing", "self_neglect", "mental_health"], ("submitted",)),
    (4, "spoc.police@demo.invalid", "Lee", "Hypothetical", date(1988, 1, 30), "", "critical",
     ["offending", "victimisation"], ("submitted",)),
    (3, "worker.probation@demo.invalid", "Nico", "Exemplar", date(1993, 9, 19), "9990000093", "high",
     ["offending", "poor_engagement"], ("info", 2)),
    (2, "worker.fire@demo.invalid", "Parker", "Sampleton", date(1955, 5, 5), "", "high",
     ["self_neglect", "unable_to_protect_self"], ("info", 1)),
    (1, "worker.asc@demo.invalid", "Reese", "Standby", date(1981, 8, 12), "9990000107", "critical",
     ["victimisation", "mental_health"], ("submitted",)),  # the pathway is full: waits
]


def _when(today: date, days_ago: int, hour: int = 10) -> datetime:
    return datetime.combine(today - timedelta(days=days_ago), time(hour, 0), tzinfo=timezone.utc)


def load_referrals(*, today: date) -> int:
    """Add the demo referrals and cases, once (flushes, does not commit). Returns how many were made."""
    if db.session.execute(sa.select(sa.func.count()).select_from(Referral)).scalar_one():
        return 0  # already there: --force adds nothing twice
    agencies = {a.code: a for a in db.session.execute(sa.select(Agency)).scalars()}
    users = {u.email: u for u in db.session.execute(sa.select(User)).scalars()}
    for n, (days, email, given, family, born, nhs, risk, needs, plan) in enumerate(DEMO_REFERRALS):
        by = users[email]
        others = [code for code in ("police", "housing", "mental-health", "asc") if code != by.agency.code][n % 3:][:2]
        referral = services.start_draft(by=by)
        services.update_answers(
            referral, by=by,
            person={"given_name": given, "family_name": family, "date_of_birth": born, "nhs_number": nhs,
                    "gender": ("Female", "Male", "Non-binary")[n % 3], "first_language": "English",
                    "interpreter_needed": False, "address": f"{10 + n} Demo Street, Demo Town",
                    "postcode": f"LU{1 + n % 4} {n % 9}DX"},
            answers={"manager_name": "Demo Team Manager", "referrer_phone": "01632 960000",
                     "lives_in_area": True, "single_agency_tried": True, "needs": needs,
                     "risk_level": RiskLevel(risk),
                     "risk_summary": "Fictional demo risk summary: repeated crises despite single-agency work.",
                     "risk_assessment": "Agency risk assessment (demo) rates the risk as " + risk + ".",
                     "tried_already": "Fictional: outreach visits and a support plan; engagement lasted two weeks.",
                     "rapport": "Gets on best with the outreach worker (demo).",
                     "persons_views": "“I want to be left alone, but I want somewhere warm.” (demo)",
                     "desired_outcomes": ["Somewhere safe to live", "Fewer visits from the police"],
                     "capacity": "No concerns about capacity recorded (demo).",
                     "consent_given": n % 7 != 3,
                     "consent_lawful_basis": None if n % 7 != 3 else LawfulBasis.SAFEGUARDING_INDIVIDUALS,
                     "consent_reason": "" if n % 7 != 3 else "Serious risk of harm; the person declined (demo).",
                     "staff_hostility": n % 5 == 1,
                     "staff_safety_details": "Visit in pairs; dog at the address (demo)." if n % 5 == 1 else "",
                     # the next panel's five new referrals each have their own details (panel.demo.meetings)
                     **demo_meetings.REFERRAL_DETAILS.get(f"{given} {family}", {})},
            involvements=[{"agency_id": agencies[code].id, "named_worker": f"Demo Worker {n}-{i}",
                           "has_rapport": i == 0} for i, code in enumerate(others)],
        )
        status = services.submit(referral, by=by, today=today - timedelta(days=days))
        referral.submitted_at = _when(today, days, 9)
        _backdate(referral, today, days, 9)
        if status == "submitted":  # else held on the waiting list (the last one, or more with a smaller cap)
            _play_out(referral, plan, by=by, users=users, agencies=agencies, today=today)
    db.session.flush()
    _link_repeat_referral(users["coordinator@demo.invalid"])
    return len(DEMO_REFERRALS)


def _link_repeat_referral(coordinator: User) -> None:
    """Sam Demo-Person's open referral, linked by the coordinator to their first person record:
    the person record took the referral's newer address and kept its own gender, and the
    referral still shows what its referrer wrote. Samuel Demo-Person stays a possible match."""
    sams = list(db.session.scalars(sa.select(Referral).join(Referral.person).where(
        Person.family_name == "Demo-Person", Person.nhs_number == "9990000026").order_by(Referral.id)))
    if len(sams) == 2 and sams[1].person_id != sams[0].person_id:
        linking.link_person(sams[1], to=sams[0].person, by=coordinator, take={"address", "postcode"})


def _backdate(referral: Referral, today: date, days_ago: int, hour: int = 11) -> None:
    """Date the referral's last decision (and its decided_at) days_ago at hour."""
    referral.decisions[-1].at = _when(today, days_ago, hour)
    if referral.decided_at is not None:
        referral.decided_at = _when(today, days_ago, hour)


def _play_out(referral: Referral, plan: tuple, *, by: User, users: dict[str, User], agencies: dict[str, Agency],
              today: date) -> None:
    """Take a submitted demo referral where its plan says: declined, withdrawn, more information
    asked for, on the panel's agenda, declined at panel, or accepted as a case."""
    coordinator, chair = users["coordinator@demo.invalid"], users["chair@demo.invalid"]
    what = plan[0]
    if what == "declined":
        services.decline(referral, by=coordinator, rationale="Risk can be held by a single agency (demo).",
                         signposting="Adult social care front door; housing options (demo).")
        _backdate(referral, today, plan[1])
    elif what == "withdrawn":
        services.withdraw(referral, by=by, reason="The person has moved out of the area (demo).")
        _backdate(referral, today, plan[1])
    elif what == "info":
        services.request_information(referral, by=coordinator,
                                     request="Please add the latest risk assessment and the GP's view (demo).")
        _backdate(referral, today, plan[1])
    elif what in ("panel", "declined_at_panel", "case"):
        services.put_to_panel(referral, by=coordinator)
        _backdate(referral, today, plan[1])
        if what == "declined_at_panel":
            services.decline(referral, by=chair, rationale="The panel agreed the risk is not critical (demo).",
                             signposting="Community mental health team (demo).", at_panel=True)
            _backdate(referral, today, plan[2], 12)
        elif what == "case":
            case = services.accept(referral, by=chair, lead_agency=agencies[plan[3]],
                                   today=today - timedelta(days=plan[2]))
            _backdate(referral, today, plan[2], 12)
            if plan[4:] == ("closure_proposed",):
                case_services.propose_closure(
                    case, rationale="Risk reduced to medium; housing stable for three months (demo).",
                    for_non_engagement=False, step_down_agency=agencies["asc"],
                    accepted_by="Demo Team Manager", accepted_on=today - timedelta(days=7), by=coordinator)
                _date_new_events(case, _when(today, 6, 11))  # proposed six days ago, not at load time
