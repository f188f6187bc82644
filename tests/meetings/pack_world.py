"""A panel whose chair's pack has something in every part, for the pack tests and the bench:
open cases of every risk level (two proposed for closure, one for non-engagement), staff-safety
warnings, outcomes, risk changes with reasons, engagement, open actions (a third overdue, some
escalated to the chair), the last panel with finalised minutes (decisions and the actions
agreed, some done), and new referrals with every detail, one of them a repeat referral with a
long free text. Built directly, as tests/meetings/agenda_world.py does."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from panel.extensions import db
from panel.meetings import agenda, record
from panel.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    AgendaItem,
    AgendaItemKind,
    Case,
    CaseStatus,
    EngagementAttempt,
    EngagementMethod,
    EngagementOutcome,
    Involvement,
    LawfulBasis,
    Meeting,
    OutcomeReview,
    PersonalOutcome,
    Referral,
    ReferralStatus,
    RiskChange,
    RiskLevel,
    StaffSafetyFlag,
    StaffSafetyKind,
    utcnow,
)
from panel.dates import LONDON
from tests import factories
from tests.cases.helpers import create_case
from tests.meetings import agenda_world

# A single unbroken "word" and a long passage: the pack must wrap both inside the page.
UNBROKEN = "https://records.example.invalid/" + "x" * 240
LONG_TEXT = ("The person was seen at home on several occasions this winter.\n" * 80)[:4727] + " " + UNBROKEN
assert len(LONG_TEXT) == 5000

NAMES = [("Avery", "Quill", date(1971, 1, 9)), ("Blake", "Ormond", date(1983, 6, 21)),
         ("Carey", "Penrose", date(1990, 11, 2)), ("Dale", "Whitcombe", date(1966, 3, 30)),
         ("Emery", "Lockhart", date(1958, 8, 14)), ("Finley", "Harcourt", date(1995, 5, 5))]


@dataclass
class PackWorld:
    base: agenda_world.World
    previous: Meeting
    referrals: list[Referral] = field(default_factory=list)
    flags: list[StaffSafetyFlag] = field(default_factory=list)
    closing: list[Case] = field(default_factory=list)
    earlier: list[Referral] = field(default_factory=list)   # the repeat referral's earlier two

    def __getattr__(self, name):  # the base world's agencies, users, meeting, cases and actions
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)


def build(*, cases: int = 15, referrals: int = 5, actions: int = 300, long_text: bool = True) -> PackWorld:
    base = agenda_world.build(cases=cases, actions=0)
    now = utcnow()
    today = now.astimezone(LONDON).date()
    previous = agenda_world.panel_meeting(now - timedelta(days=28))
    world = PackWorld(base=base, previous=previous)
    for n, case in enumerate(base.cases):
        _case_record(world, case, n, now, today)
    _close(world, base.cases[-2:] if cases >= 2 else [])
    _actions(world, actions, now, today)
    _last_panel(world, now, today)
    for n in range(referrals):
        world.referrals.append(_referral(world, n, now, long_text=long_text and n == 0))
    agenda.sync_agenda(base.meeting)
    db.session.flush()
    return world


def grow(world: PackWorld, *, cases: int, referrals: int, actions: int) -> None:
    """More of everything: cases (with their records, one more proposed for closure), referrals
    and open actions (for the fixed-number-of-queries tests)."""
    now = utcnow()
    today = now.astimezone(LONDON).date()
    first = len(world.cases)
    for n in range(first, first + cases):
        case = create_case(lead=world.housing if n % 2 else world.health, involved=(world.police,),
                           risk=agenda_world.RISKS[n % len(agenda_world.RISKS)], given_name=f"Given{n}",
                           family_name=f"Family{n}")
        case.accepted_on = today - timedelta(days=30 + n)
        world.cases.append(case)
        _case_record(world, case, n, now, today)
    _close(world, world.cases[-1:])
    _actions(world, actions, now, today)
    for n in range(len(world.referrals), len(world.referrals) + referrals):
        world.referrals.append(_referral(world, n, now, long_text=False))
    agenda.sync_agenda(world.meeting)
    db.session.flush()


def _case_record(world: PackWorld, case: Case, n: int, now, today: date) -> None:
    case.risk_summary = f"Risk summary for {case.reference}: falls, cold home, exploitation by visitors."
    case.contingency_plan = f"Contingency for {case.reference}: police welfare check; out-of-hours team told."
    db.session.add(RiskChange(case_id=case.id, from_level=RiskLevel.HIGH if case.risk_level != RiskLevel.HIGH
                              else RiskLevel.CRITICAL, to_level=case.risk_level, reason=f"Reason {n}: new information",
                              at=now - timedelta(days=n + 2)))
    if n % 4 == 1:
        flag = StaffSafetyFlag(case_id=case.id, kind=StaffSafetyKind.HOSTILITY if n % 8 == 1
                               else StaffSafetyKind.NO_LONE_VISITS,
                               details=f"Visit {case.reference} in pairs; a dog at the address.",
                               set_by_id=world.coordinator.id, set_at=now - timedelta(days=40 + n))
        db.session.add(flag)
        world.flags.append(flag)
    for k, review in enumerate((OutcomeReview.ACHIEVED, OutcomeReview.OPEN)):
        db.session.add(PersonalOutcome(case_id=case.id, words=f"Outcome {k + 1} of {case.reference} in my words",
                                       review=review, reviewed_on=today - timedelta(days=5 + n) if k == 0 else None))
    for k in range(6):
        outcome = list(EngagementOutcome)[(n + k) % len(EngagementOutcome)]
        db.session.add(EngagementAttempt(case_id=case.id, agency_id=case.lead_agency_id,
                                         method=(EngagementMethod.PHONE, EngagementMethod.HOME_VISIT,
                                                 EngagementMethod.LETTER)[k % 3],
                                         occurred_at=now - timedelta(days=k + 1, hours=n), out_of_hours=k == 0,
                                         outcome=outcome))


def _close(world: PackWorld, closing: list[Case]) -> None:
    for n, case in enumerate(closing):
        case.status = CaseStatus.CLOSURE_PROPOSED
        case.risk_level = RiskLevel.MEDIUM if n == 0 else RiskLevel.HIGH
        case.closure_rationale = "Risk is down; the tenancy is stable and the person sees their GP."
        case.closure_for_non_engagement = n == 1
        case.closure_proposed_at = utcnow() - timedelta(days=3)
        case.step_down_agency_id = world.housing.id
        case.step_down_accepted_by = "Sam Stepdown" if n == 0 else ""
        case.step_down_accepted_on = utcnow().date() - timedelta(days=2) if n == 0 else None
        world.closing.append(case)


def _actions(world: PackWorld, count: int, now, today: date) -> None:
    cases = world.cases
    for n in range(count):
        case = cases[n % len(cases)]
        overdue = n % 3 == 0
        action = Action(case_id=case.id, description=f"Action {n + 1} for {case.reference}",
                        agency_id=case.lead_agency_id, assignee_id=world.housing_spoc.id if n % 2 else None,
                        due_on=today - timedelta(days=4 + n % 9) if overdue else today + timedelta(days=9),
                        status=ActionStatus.OPEN,
                        escalated_to_chair_at=now - timedelta(days=3) if n % 40 == 0 else None)
        db.session.add(action)
        world.actions.append(action)
    db.session.flush()


def _last_panel(world: PackWorld, now, today: date) -> None:
    """The last panel: an item per case (decisions on some), actions agreed there (some done since),
    and its minutes finalised (a snapshot)."""
    previous = world.previous
    for n, case in enumerate(world.cases):
        db.session.add(AgendaItem(meeting_id=previous.id, kind=AgendaItemKind.CASE, case_id=case.id, position=n + 1,
                                  notes="Discussed.", decision=f"Decision {n} on {case.reference}: keep open"
                                  if n % 2 == 0 else ""))
        agreed = Action(case_id=case.id, meeting_id=previous.id, description=f"Agreed last time for {case.reference}",
                        agency_id=case.lead_agency_id, due_on=today - timedelta(days=2), status=ActionStatus.OPEN,
                        created_at=previous.ends_at)
        db.session.add(agreed)
        db.session.flush()
        if n % 3 == 0:
            agreed.status, agreed.closed_at = ActionStatus.DONE, now - timedelta(days=6)
            db.session.add(ActionUpdate(action_id=agreed.id, at=now - timedelta(days=6), note="Visited twice",
                                        old_status=ActionStatus.OPEN, new_status=ActionStatus.DONE))
    previous.minutes_finalised_at = previous.ends_at + timedelta(days=2)
    previous.minutes_finalised_by_id = world.chair.id
    db.session.flush()
    record.take_snapshot(previous, by=world.chair, now=previous.ends_at + timedelta(days=2))


def _referral(world: PackWorld, n: int, now, *, long_text: bool) -> Referral:
    given, family, born = NAMES[n % len(NAMES)]
    details = {
        "risk_level": (RiskLevel.CRITICAL, RiskLevel.HIGH)[n % 2],
        "needs": ["housing", "self_neglect", "mental_health"][: 1 + n % 3],
        "risk_summary": LONG_TEXT if long_text else f"Referrer's risk summary {n}: repeated crises this year.",
        "risk_assessment": f"Agency risk assessment {n}: high.",
        "tried_already": f"Tried {n}: outreach visits; a support plan worked for two weeks.",
        "rapport": f"Rapport {n}: the outreach worker.",
        "persons_views": f"Views {n}: “I want to be left alone, but I want somewhere warm.”",
        "desired_outcomes": [f"Outcome {n}a: somewhere safe", f"Outcome {n}b: fewer visits"],
        "capacity": f"Capacity {n}: no concerns recorded.",
        "consent_given": n != 2,
        "consent_lawful_basis": LawfulBasis.SAFEGUARDING_INDIVIDUALS if n == 2 else None,
        "consent_reason": "Serious risk of harm; the person declined." if n == 2 else "",
        "staff_hostility": n == 1,
        "staff_lone_working_restricted": n == 1,
        "staff_safety_details": "Never visit alone; shouts at callers." if n == 1 else "",
        "referrer_name": f"Referrer {n}",
    }
    nhs = "9990000026" if n == 3 else ""
    referral = factories.create_referral(agency=(world.police, world.housing, world.health)[n % 3],
                                         status=ReferralStatus.AWAITING_PANEL, given_name=given, family_name=family,
                                         date_of_birth=born, nhs_number=nhs,
                                         submitted_at=now - timedelta(days=20 - n), **details)
    for k, agency in enumerate((world.housing, world.health)):
        db.session.add(Involvement(referral_id=referral.id, agency_id=agency.id, named_worker=f"Worker {n}-{k}",
                                   has_rapport=k == 0))
    if n == 3:  # a repeat referral: the same NHS number, declined and withdrawn within the year
        for days, status in ((200, ReferralStatus.DECLINED), (100, ReferralStatus.WITHDRAWN)):
            world.earlier.append(factories.create_referral(
                agency=world.police, status=status, given_name=given, family_name=family, date_of_birth=born,
                nhs_number=nhs, submitted_at=now - timedelta(days=days)))
            world.earlier[-1].decided_at = now - timedelta(days=days - 5)
    db.session.flush()
    return referral
