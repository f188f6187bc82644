"""The chair's pack: everything the panel decides on, for the print view and the PDF.

`chairs_pack(meeting, user)` adds to the agenda (panel.meetings.agenda.agenda_view):
- for each new referral for decision, in the agenda's order: who referred and when, the needs,
  the risk and the referrer's summary, what has been tried, the agencies and who has rapport,
  the person's views and outcomes in their own words, capacity, consent or the lawful basis,
  staff safety, and the repeat-referral history (earlier referrals and cases of the person or
  of a person matched to them, as at triage: panel.referrals.matching, and the
  three-in-twelve-months flag);
- for each case: its staff-safety warnings, the person's outcomes (Making Safeguarding
  Personal) and when last reviewed, the last successful contact, the last panel's decisions on
  it and the actions agreed then with what became of them (read from the minutes record, the
  finalised snapshot where there is one: panel.meetings.record, so the pack and the minutes
  say the same), and, when proposed for closure, the closure checklist as it stands;
- the escalated actions with their agency and how long overdue, the chair, and the item numbers.

Initials and date of birth only; the full name too where PACK_FULL_NAMES is on and the copy is
printed by a chair or coordinator. Reads only, in a fixed number of queries whatever the number
of referrals, cases and actions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from panel.auth.policy import OPERATIONS
from panel.cases.services import ClosureCheck
from panel.extensions import db
from panel.meetings import agenda, record
from panel.models import (
    Action,
    Agency,
    AgendaItemKind,
    Case,
    CaseStatus,
    EngagementAttempt,
    EngagementMethod,
    EngagementOutcome,
    Involvement,
    NEED_LABELS,
    Meeting,
    OutcomeReview,
    Person,
    PersonalOutcome,
    Referral,
    ReferralStatus,
    RiskLevel,
    Role,
    StaffSafetyFlag,
    User,
    utcnow,
)
from panel.referrals import matching

SUCCEEDED = [o for o in EngagementOutcome if o.succeeded]
VISITS = (EngagementMethod.HOME_VISIT, EngagementMethod.JOINT_VISIT, EngagementMethod.UNANNOUNCED_VISIT)


@dataclass
class Earlier:
    """An earlier referral of the person (or of a person matched to them) and its outcome."""

    referral: Referral
    reason: str                      # why it is theirs: same person record, NHS number, ...
    case: Case | None = None         # the case it became, if accepted


@dataclass
class ReferralSection:
    """One new referral for decision, as the pack shows it."""

    item: Any                        # its AgendaItem
    referral: Referral
    involvements: list[Involvement] = field(default_factory=list)
    earlier: list[Earlier] = field(default_factory=list)
    earlier_cases: list[Case] = field(default_factory=list)   # cases not from an earlier referral listed
    referred_last_year: int = 1
    repeat: bool = False

    @property
    def staff_safety(self) -> list[str]:
        r = self.referral
        return [words for on, words in ((r.staff_hostility, "Hostility or aggression towards staff"),
                                        (r.staff_lone_working_restricted, "Lone working is restricted")) if on]


@dataclass
class EscalatedAction:
    action: Action
    days_overdue: int                # 0 when not (or no longer) overdue


@dataclass
class Pack:
    """The agenda with everything the chair's pack adds to it."""

    view: agenda.AgendaView
    numbers: dict[int, str]
    referrals: list[ReferralSection]
    escalations: list[EscalatedAction]
    chair: str
    full_names: bool
    last_minutes_final: bool | None  # None: no earlier panel

    def number(self, item: Any) -> str:
        return self.numbers.get(item.id, "")

    def case_item(self, case_id: int) -> Any:
        """The agenda item a case's section stands for (its first, should it have two)."""
        return next(i for i in self.view.items if i.case_id == case_id)

    @staticmethod
    def need_label(value: str) -> str:
        """The words of a need the referrer ticked (its stored value if no longer a need)."""
        return NEED_LABELS.get(value, value)  # type: ignore[call-overload]

    def section_items(self, number: int) -> list[Any]:
        return next((items for n, _, items in self.view.sections() if n == number), [])


def chairs_pack(meeting: Meeting, user: User, *, today: date, now: datetime | None = None) -> Pack:
    """The pack for this panel as `user` prints it (a chair or coordinator: the pack is theirs)."""
    now = now or utcnow()
    view = agenda.agenda_view(meeting, today, pack=True)
    sections = view.cases
    if sections:
        _read_case_extras(sections)
        _closures(sections)
    last_final = None
    if view.previous is not None:
        last = record.minutes_record(view.previous, now, stored=view.previous_minutes)
        last_final = last.finalised
        _last_panel(sections, last, record.reviewed_last_actions(meeting, view.previous, now))
    referrals = _referrals(view, now)
    escalations = [EscalatedAction(a, (today - a.due_on).days if a.is_overdue(today) else 0)
                   for a in view.escalated_actions]
    return Pack(view=view, numbers=view.item_numbers(), referrals=referrals, escalations=escalations,
                chair=_chair(meeting), full_names=bool(current_app.config.get("PACK_FULL_NAMES"))
                and user.role in OPERATIONS, last_minutes_final=last_final)


def _chair(meeting: Meeting) -> str:
    """Who chairs: whoever finalised the minutes, else the service's chairs (one query)."""
    if meeting.minutes_finalised_by is not None:
        return meeting.minutes_finalised_by.name
    names = db.session.scalars(_statements()["chairs"]).all()
    return " or ".join(names) if names else "To be confirmed"


def _read_case_extras(sections: dict[int, agenda.CaseSection]) -> None:
    """Staff-safety warnings, outcomes and the last successful contact of every case (three queries)."""
    ids = {"ids": list(sections)}
    q = _statements()
    for flag in db.session.scalars(q["flags"], ids):
        sections[flag.case_id].staff_flags.append(flag)
    for outcome in db.session.scalars(q["outcomes"], ids):
        sections[outcome.case_id].outcomes.append(outcome)
    for attempt in db.session.scalars(q["last_contact"], ids):
        section = sections[attempt.case_id]
        if section.last_contact is None:
            section.last_contact = attempt


@lru_cache(maxsize=1)
def _statements() -> dict[str, sa.Select]:
    """The pack's statements for a list of cases or referrals (`ids`), built once: building them,
    with their eager loads, cost more than running them."""
    ids = sa.bindparam("ids", expanding=True)
    quiet = sa.orm.defer(Agency.spoc_absent)  # not shown, and an EXISTS per agency row to plan and run
    latest = (sa.select(EngagementAttempt.case_id, sa.func.max(EngagementAttempt.occurred_at).label("at"))
              .where(EngagementAttempt.case_id.in_(ids), EngagementAttempt.outcome.in_(SUCCEEDED))
              .group_by(EngagementAttempt.case_id).subquery())
    maybe_same = sa.or_(Person.id.in_(sa.bindparam("person_ids", expanding=True)),
                        Person.nhs_number.in_(sa.bindparam("nhs_numbers", expanding=True)),
                        Person.date_of_birth.in_(sa.bindparam("births", expanding=True)))
    return {
        "flags": sa.select(StaffSafetyFlag).where(StaffSafetyFlag.case_id.in_(ids), StaffSafetyFlag.cleared_at.is_(None))
        .options(sa.orm.joinedload(StaffSafetyFlag.set_by).load_only(User.name))  # only the name is shown
        .order_by(StaffSafetyFlag.set_at, StaffSafetyFlag.id),
        "outcomes": sa.select(PersonalOutcome).where(PersonalOutcome.case_id.in_(ids)).order_by(PersonalOutcome.id),
        "last_contact": sa.select(EngagementAttempt)
        .join(latest, sa.and_(latest.c.case_id == EngagementAttempt.case_id,
                              latest.c.at == EngagementAttempt.occurred_at))
        .where(EngagementAttempt.outcome.in_(SUCCEEDED))
        .options(sa.orm.joinedload(EngagementAttempt.agency).options(quiet)).order_by(EngagementAttempt.id),
        # the earlier referrals and cases of every person record that may be one of the new
        # referrals' adults: the record itself, or one sharing its NHS number or date of birth
        # (panel.referrals.matching's candidates), read with those records
        "earlier_referrals": sa.select(Referral).join(Referral.person).where(maybe_same, Referral.status != ReferralStatus.DRAFT)
        .options(sa.orm.contains_eager(Referral.person), sa.orm.joinedload(Referral.referring_agency).options(quiet))
        .order_by(Referral.submitted_at.desc(), Referral.id.desc()),
        "chairs": sa.select(User.name).where(User.role == Role.CHAIR, User.active.is_(True)).order_by(User.name),
        "earlier_cases": sa.select(Case).join(Case.person).where(maybe_same)
        .options(sa.orm.contains_eager(Case.person), sa.orm.joinedload(Case.lead_agency).options(quiet))
        .order_by(Case.accepted_on.desc(), Case.id.desc()),
    }


def _closures(sections: dict[int, agenda.CaseSection]) -> None:
    """The closure checklist of each case proposed for closure, from the contact attempts
    agenda_view counted (no query of its own)."""
    for section in sections.values():
        if section.case.status != CaseStatus.CLOSURE_PROPOSED:
            continue
        tally: dict[str, int] = defaultdict(int)
        for (method, out_of_hours), count in section.attempts_ever.items():
            if method == EngagementMethod.PHONE:
                tally["phone"] += count
                tally["phone_out_of_hours"] += count if out_of_hours else 0
            elif method == EngagementMethod.LETTER:
                tally["letter"] += count
            elif method in VISITS:
                tally["home_visit"] += count
        section.closure = closure_checklist(section.case, open_actions=len(section.open_actions),
                                            reviews=[o.review for o in section.outcomes], persistence=tally)


def closure_checklist(case: Case, *, open_actions: int, reviews: list[OutcomeReview],
                      persistence: dict[str, int]) -> ClosureCheck:
    """The closure checklist of panel.cases.services.closure_check, from figures read for every
    case at once (that function reads them case by case). tests/meetings/test_pack.py checks the
    two agree item for item, so a change to the rule there shows here."""
    result = ClosureCheck()
    result.check(case.risk_level in (RiskLevel.MEDIUM, RiskLevel.LOW), "Risk is below high",
                 f"Risk is {case.risk_level.label.lower()}: it must be below high")
    result.check(open_actions == 0, "Every action is done, not possible, or transferred to the step-down agency",
                 f"{open_actions} action{'s are' if open_actions != 1 else ' is'} still open")
    result.check(case.step_down_agency_id is not None, "A step-down agency is named", "Name the step-down agency")
    result.check(bool(case.step_down_accepted_by and case.step_down_accepted_on),
                 "The step-down agency’s acceptance is recorded",
                 "Record who at the step-down agency accepted ongoing case management, and when")
    result.check(bool(reviews) and all(r != OutcomeReview.OPEN for r in reviews),
                 "The person’s outcomes are reviewed",
                 "Review every desired outcome" if reviews else "Record and review the person’s desired outcomes")
    result.check(bool(case.closure_rationale.strip()), "A rationale is written", "Write the rationale for closure")
    if case.closure_for_non_engagement:
        phone = persistence.get("phone", 0)
        result.check(phone >= 3, "At least three phone attempts",
                     f"Only {phone} phone attempt{'s' if phone != 1 else ''}: at least three are needed")
        result.check(persistence.get("phone_out_of_hours", 0) >= 1, "A phone attempt out of hours",
                     "No phone attempt out of hours")
        result.check(persistence.get("letter", 0) >= 1, "A letter", "No letter sent")
        result.check(persistence.get("home_visit", 0) >= 1, "A home visit", "No home visit")
    return result


def _last_panel(sections: dict[int, agenda.CaseSection], last: record.MinutesRecord,
                reviewed: tuple[record.RecordLastAction, ...]) -> None:
    """Each case's decisions at the last panel (its minutes) and the actions agreed there with
    what became of them (as this panel's minutes review them)."""
    for item in last.agenda:
        if item.case is not None and item.case.id in sections and item.decisions:
            sections[item.case.id].last_decisions.extend(item.decisions)
    for action in reviewed:
        if action.case_id in sections:
            sections[action.case_id].last_actions.append(action)


def _referrals(view: agenda.AgendaView, now: datetime) -> list[ReferralSection]:
    """The referral items' sections with their agencies (read by agenda_view) and histories
    (two queries at most)."""
    out = [ReferralSection(item=i, referral=i.referral) for i in view.items
           if i.kind == AgendaItemKind.REFERRAL and i.referral is not None]
    if not out:
        return out
    for section in out:  # read with the cases' by agenda_view
        section.involvements.extend(view.referral_involvements.get(section.referral.id, []))
    _histories(out, now)
    return out


def _histories(out: list[ReferralSection], now: datetime) -> None:
    """Earlier referrals and cases of each referral's person and of the persons matched to them
    by panel.referrals.matching's rule (two queries for them all: the candidates to match are the
    person records those read), and from them the repeat flag as matching.flags() counts it. A
    candidate with neither a referral nor a case has nothing to show or count."""
    persons = [s.referral.person for s in out]
    values = {"person_ids": [p.id for p in persons],
              "nhs_numbers": sorted({p.nhs_number for p in persons if p.nhs_number}),
              "births": sorted({p.date_of_birth for p in persons if p.date_of_birth is not None})}
    all_referrals = list(db.session.scalars(_statements()["earlier_referrals"], values))
    all_cases = list(db.session.scalars(_statements()["earlier_cases"], values))
    candidates = sorted({p.id: p for p in [*(r.person for r in all_referrals), *(c.person for c in all_cases)]}.values(),
                        key=lambda p: p.id)
    reasons: dict[int, dict[int, str]] = {}
    for section in out:
        person = section.referral.person
        mine = {person.id: matching.SAME_PERSON}
        for other in candidates:
            if other.id not in mine:
                found = matching.match_reason(person, other)
                if found is not None:
                    mine[other.id] = found.reason
        reasons[section.referral.id] = mine
    everyone = {pid for mine in reasons.values() for pid in mine}
    referrals = [r for r in all_referrals if r.person_id in everyone]
    cases = [c for c in all_cases if c.person_id in everyone]
    case_of = {c.referral_id: c for c in cases}
    tally = matching.Tally.of(((r.person_id, r.id, r.submitted_at) for r in referrals),
                              {c.person_id for c in cases}, now=now)
    for section in out:
        mine = reasons[section.referral.id]
        person_id = section.referral.person_id
        section.referred_last_year = tally.referred_last_year(
            person_id, tally.with_records(set(mine) - {person_id}))
        section.repeat = section.referred_last_year >= matching.REPEAT_COUNT
        listed = set()
        for earlier in referrals:
            if earlier.person_id in mine and earlier.id != section.referral.id:
                section.earlier.append(Earlier(earlier, mine[earlier.person_id], case_of.get(earlier.id)))
                listed.add(earlier.id)
        section.earlier_cases = [c for c in cases if c.person_id in mine and c.referral_id not in listed
                                 and c.referral_id != section.referral.id]
