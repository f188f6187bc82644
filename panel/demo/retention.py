"""Demo data: records due for anonymisation soon and one case under legal hold (issue 13).

Three fictional adults from about six years ago, dated relative to `today` and RETENTION_YEARS:
a referral declined at panel, due for anonymisation in 25 days; a case closed (rich, like the
other demo cases), due in 12 days; and a case closed a little longer ago, already past its
years, kept under a legal hold for an ongoing Safeguarding Adults Review. The coordinator's
list (/retention) shows all three. They hold no place in the pathway (closed and declined), so
the rows are made directly, with the case record written through panel.cases.services (as the
other demo cases are) and the chronology dated when it happened. Added once.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from panel import pathway
from panel.cases import services as case_services
from panel.demo.cases import _Loader
from panel.extensions import db
from panel.models import (
    Agency,
    Case,
    CaseStatus,
    Involvement,
    LegalHoldKind,
    Person,
    Referral,
    ReferralDecision,
    ReferralStatus,
    RiskLevel,
    User,
)
from panel.reports import retention

# given, family, born, referring agency, lead agency (None: declined), days until due (negative: overdue)
ADULTS = [
    ("Dana", "Duesoon", date(1968, 7, 21), "police", None, 25),
    ("Ezra", "Endingsoon", date(1957, 10, 2), "probation", "police", 12),
    ("Gale", "Keptforreview", date(1974, 4, 9), "asc", "asc", -45),
]
HOLD_DETAILS = "Safeguarding Adults Review SAR-DEMO-01 (demo): keep until the review has reported."


def _when(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=timezone.utc)


def _decide(referral: Referral, outcome: str, to_status: ReferralStatus, by: User, day: date, reason: str = "",
            signposting: str = "") -> None:
    db.session.add(ReferralDecision(referral=referral, outcome=outcome, from_status=str(referral.status),
                                    to_status=str(to_status), by=by, at=_when(day, 11), reason=reason,
                                    signposting=signposting))
    referral.status = to_status


def _case_reference(year: int) -> str:
    """The next free CASPA-YYYY-NNN of a past year (the pathway's counter is for this year)."""
    taken = set(db.session.scalars(sa.select(Case.reference).where(Case.reference.like(f"CASPA-{year}-%"))))
    return next(f"CASPA-{year}-{n:03d}" for n in range(1, 1000) if f"CASPA-{year}-{n:03d}" not in taken)


def _referral(n: int, given: str, family: str, born: date, agency: Agency, submitted: date, by: User,
              others: list[Agency]) -> Referral:
    person = Person(given_name=given, family_name=family, date_of_birth=born, gender=("Female", "Male")[n % 2],
                    ethnicity="White British", first_language="English", interpreter_needed=False,
                    address=f"{40 + n} Old Demo Road, Demo Town", postcode=f"LU{2 + n} {n}DX")
    referral = Referral(
        status=ReferralStatus.SUBMITTED, source="form", person=person, referring_agency_id=agency.id,
        created_by_id=by.id, reference=pathway.next_referral_reference(pathway.lock(), submitted),
        referrer_name=by.name, referrer_email=by.email, referrer_phone="01632 960000", manager_name="Demo Team Manager",
        lives_in_area=True, single_agency_tried=True, needs=["self_neglect", "housing"], risk_level=RiskLevel.CRITICAL,
        risk_summary="Fictional: a cold flat, falls and visitors taking money (demo).",
        risk_assessment="Agency risk assessment (demo) rates the risk as critical.",
        tried_already="Fictional: outreach and a support plan; engagement lasted a month (demo).",
        rapport="Gets on with the outreach worker (demo).", persons_views="“I just want to be left in peace.” (demo)",
        desired_outcomes=["Somewhere warm", "Fewer visitors"], capacity="No concerns recorded (demo).",
        consent_given=True, submitted_at=_when(submitted, 9), created_at=_when(submitted, 8))
    db.session.add(referral)
    db.session.flush()
    for i, other in enumerate(others):
        db.session.add(Involvement(referral_id=referral.id, agency_id=other.id, named_worker=f"Demo Worker R{n}-{i}",
                                   has_rapport=i == 0))
    _decide(referral, "submitted", ReferralStatus.SUBMITTED, by, submitted)
    return referral


def _case(n: int, referral: Referral, lead: Agency, others: list[Agency], accepted: date, closed: date,
          users: dict[str, User]) -> Case:
    """Accepted at a panel, its record written over its life, closed at a panel with its step-down."""
    coordinator, chair = users["coordinator"], users["chair"]
    _decide(referral, "to_panel", ReferralStatus.AWAITING_PANEL, coordinator, accepted - timedelta(days=7))
    _decide(referral, "accepted", ReferralStatus.ACCEPTED, chair, accepted, reason=f"Lead agency: {lead.name}")
    referral.decided_at = _when(accepted, 11)
    case = Case(reference=_case_reference(accepted.year), person_id=referral.person_id, referral=referral,
                status=CaseStatus.ACTIVE, lead_agency=lead, risk_level=RiskLevel.CRITICAL, accepted_on=accepted,
                accepted_by_id=chair.id, created_at=_when(accepted, 12))
    db.session.add(case)
    db.session.flush()
    for i, agency in enumerate(dict.fromkeys([lead, *others])):
        db.session.add(Involvement(case_id=case.id, agency_id=agency.id, named_worker=f"Demo Worker C{n}-{i}",
                                   has_rapport=i == 1, created_at=_when(accepted, 12)))
    db.session.flush()
    db.session.refresh(case)
    loader = _Loader(closed)  # the record as it was written, up to the day before closure
    # bandit B311: repeatable demo data, not security
    rng = random.Random(f"panel-demo-retention-{n}")  # nosec B311
    loader.engagement(case, n, rng, hostile=False, improving=True)
    loader.risk(case, n, ready=True)
    loader.insight(case, n)
    loader.outcomes(case, n, all_reviewed=True)
    step_down = next(a for a in others if a.id != lead.id)
    loader.stamped(case, _when(closed - timedelta(days=7), 10), case_services.propose_closure, case,
                   rationale="Risk reduced to medium; settled in sheltered housing for three months (demo).",
                   for_non_engagement=False, step_down_agency=step_down, accepted_by="Demo Team Manager",
                   accepted_on=closed - timedelta(days=9), by=coordinator)
    case.closure_proposed_at = _when(closed - timedelta(days=7), 10)
    loader.stamped(case, _when(closed, 12), case_services.approve_closure, case, panel_date=closed, by=chair)
    return case


def load(*, today: date) -> int:
    """Add this part of the demo data (flushes, does not commit); returns how many records it made."""
    names = [family for _, family, *_ in ADULTS]
    if db.session.scalar(sa.select(Person.id).where(Person.family_name.in_(names)).limit(1)) is not None:
        return 0  # already there: --force adds nothing twice
    agencies = {a.code: a for a in db.session.scalars(sa.select(Agency))}
    users = {u.email: u for u in db.session.scalars(sa.select(User))}
    coordinator, chair = users.get("coordinator@demo.invalid"), users.get("chair@demo.invalid")
    if coordinator is None or chair is None or not {"police", "probation", "asc", "housing"} <= set(agencies):
        return 0
    staff = {"coordinator": coordinator, "chair": chair}
    years = retention.retention_years()
    made = 0
    for n, (given, family, born, referrer, lead, due_in) in enumerate(ADULTS):
        ended = retention.add_years(today + timedelta(days=due_in), -years)
        by = users.get(f"worker.{referrer}@demo.invalid") or coordinator
        others = [agencies["housing"], agencies["asc"] if referrer != "asc" else agencies["police"]]
        started = ended - timedelta(days=200 if lead else 30)
        referral = _referral(n, given, family, born, agencies[referrer], started, by, others)
        if lead is None:
            _decide(referral, "to_panel", ReferralStatus.AWAITING_PANEL, coordinator, ended - timedelta(days=14))
            _decide(referral, "declined_at_panel", ReferralStatus.DECLINED, chair, ended,
                    reason="The panel agreed one agency can hold the risk (demo).",
                    signposting="Adult social care front door (demo).")
            referral.decided_at = _when(ended, 11)
        else:
            case = _case(n, referral, agencies[lead], others, started + timedelta(days=14), ended, staff)
            if due_in < 0:
                retention.place_hold(retention.adult(case.person_id), kind=LegalHoldKind.SAFEGUARDING_ADULTS_REVIEW,
                                     details=HOLD_DETAILS, by=coordinator,
                                     now=_when(today - timedelta(days=60), 10))
        made += 1
    db.session.flush()
    return made
