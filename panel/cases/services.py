"""The case record's rules: chronology, risk, staff safety, agencies, engagement, insight,
the person's outcomes, and closure with step-down.

Services flush but never commit. Each change writes the audit trail and a chronology event
(CaseEvent), and queues any email (a link and the case reference only, never personal data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from panel import audit, notify, pathway
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.models import (
    Action,
    ActionStatus,
    Agency,
    AuditAction,
    Case,
    CaseEvent,
    CaseNotice,
    CaseStatus,
    EngagementAttempt,
    EngagementMethod,
    EngagementOutcome,
    InsightVersion,
    Involvement,
    NonEngagementKind,
    OutcomeReview,
    PersonalOutcome,
    RiskChange,
    RiskLevel,
    Role,
    StaffSafetyFlag,
    StaffSafetyKind,
    User,
    utcnow,
)
from panel.dates import is_working_hours, london_today




def case_link(case: Case) -> str:
    """The case's stable address (/cases/<reference>), built without a request so jobs can use it."""
    return f"{current_app.config['PUBLIC_URL']}/cases/{case.reference}"


def add_event(case: Case, kind: str, summary: str, *, by: User | None, agency_id: int | None = None,
              at: datetime | None = None, ref_type: str = "", ref_id: int | None = None) -> CaseEvent:
    """Append one entry to the case's chronology."""
    event = CaseEvent(case_id=case.id, kind=kind, summary=summary[:500], by_id=by.id if by else None,
                      agency_id=agency_id if agency_id is not None else (by.agency_id if by else None),
                      at=at or utcnow(), ref_type=ref_type, ref_id=ref_id)
    db.session.add(event)
    return event


def _notify(emails: set[str], subject: str, what: str, case: Case) -> None:
    for email in sorted(e for e in emails if e):
        notify.queue_email(to=email, subject=f"{subject}: case {case.reference}",
                           body=f"{what}\n\nCase {case.reference}\n\nSign in to see it: {case_link(case)}")


def coordinator_emails() -> set[str]:
    return set(db.session.execute(
        sa.select(User.email).where(User.role == Role.COORDINATOR, User.active.is_(True))).scalars())


def spoc_emails(agency_ids: set[int]) -> set[str]:
    """The acting SPoC of each agency (the deputy while the SPoC is absent)."""
    if not agency_ids:
        return set()
    agencies = db.session.execute(
        sa.select(Agency).where(Agency.id.in_(agency_ids))
        .options(sa.orm.joinedload(Agency.spoc), sa.orm.joinedload(Agency.deputy_spoc))).scalars()
    return {a.acting_spoc.email for a in agencies if a.acting_spoc is not None and a.acting_spoc.active}


# ---- risk -----------------------------------------------------------------------------


def change_risk(case: Case, *, level: RiskLevel, reason: str, by: User) -> RiskChange | None:
    """Change the risk level. A reason is required; the change is kept in the dated history."""
    if level == case.risk_level:
        return None
    if not reason.strip():
        raise ServiceError("Enter the reason for changing the risk level", field="reason")
    change = RiskChange(case_id=case.id, from_level=case.risk_level, to_level=level, reason=reason, by_id=by.id)
    db.session.add(change)
    db.session.flush()
    old = case.risk_level
    case.risk_level = level
    add_event(case, "risk", f"Risk changed from {old.label} to {level.label}", by=by, ref_type="risk_change",
              ref_id=change.id)
    audit.record(AuditAction.UPDATE, "case", case.reference, summary={"risk_level": [str(old), str(level)]}, user=by)
    return change


def update_risk_plan(case: Case, *, summary: str, contingency_plan: str, by: User) -> list[str]:
    changed = [n for n, v in (("risk_summary", summary), ("contingency_plan", contingency_plan)) if getattr(case, n) != v]
    if changed:
        case.risk_summary, case.contingency_plan = summary, contingency_plan
        add_event(case, "risk", "Risk summary and contingency plan updated", by=by)
        audit.record(AuditAction.UPDATE, "case", case.reference, summary={"fields": changed}, user=by)
    return changed


# ---- staff safety ---------------------------------------------------------------------


def set_staff_safety_flag(case: Case, *, kind: StaffSafetyKind, details: str, by: User) -> StaffSafetyFlag:
    flag = StaffSafetyFlag(case_id=case.id, kind=kind, details=details, set_by_id=by.id, set_at=utcnow())
    db.session.add(flag)
    db.session.flush()
    add_event(case, "staff_safety", f"Staff-safety warning set: {kind.label}", by=by, ref_type="flag", ref_id=flag.id)
    audit.record(AuditAction.CREATE, "staff_safety_flag", flag.id, summary={"case": case.reference, "kind": str(kind)}, user=by)
    return flag


def clear_staff_safety_flag(flag: StaffSafetyFlag, case: Case, *, by: User) -> None:
    if flag.cleared_at is not None:
        return
    flag.cleared_at, flag.cleared_by_id = utcnow(), by.id
    add_event(case, "staff_safety", f"Staff-safety warning cleared: {flag.kind.label}", by=by, ref_type="flag", ref_id=flag.id)
    audit.record(AuditAction.UPDATE, "staff_safety_flag", flag.id, summary={"cleared": True}, user=by)


def active_flags(case_id: int) -> list[StaffSafetyFlag]:
    return list(db.session.execute(
        sa.select(StaffSafetyFlag).where(StaffSafetyFlag.case_id == case_id, StaffSafetyFlag.cleared_at.is_(None))
        .options(sa.orm.joinedload(StaffSafetyFlag.set_by)).order_by(StaffSafetyFlag.set_at)).scalars())


# ---- agencies -------------------------------------------------------------------------


def add_agency(case: Case, *, agency: Agency, named_worker: str, has_rapport: bool, by: User) -> Involvement:
    """Involve an agency: its SPoC gets access to the full record and is told by email."""
    if any(inv.agency_id == agency.id for inv in case.involvements):
        raise ServiceError(f"{agency.name} is already involved", field="agency_id")
    inv = Involvement(case=case, agency_id=agency.id, named_worker=named_worker, has_rapport=has_rapport)
    db.session.add(inv)
    db.session.flush()
    add_event(case, "agency", f"{agency.name} involved", by=by, ref_type="involvement", ref_id=inv.id)
    audit.record(AuditAction.CREATE, "involvement", inv.id, summary={"case": case.reference, "agency": agency.code}, user=by)
    _notify(spoc_emails({agency.id}), "Your agency has been added to a case",
            f"{agency.name} has been added to a case in the pathway. You can now see its record.", case)
    return inv


def update_involvement(inv: Involvement, case: Case, *, named_worker: str, has_rapport: bool, by: User) -> None:
    changed = [n for n, v in (("named_worker", named_worker), ("has_rapport", has_rapport)) if getattr(inv, n) != v]
    if changed:
        inv.named_worker, inv.has_rapport = named_worker, has_rapport
        add_event(case, "agency", f"{inv.agency.name}: named worker or rapport updated", by=by)
        audit.record(AuditAction.UPDATE, "involvement", inv.id, summary={"fields": changed}, user=by)


def set_lead_agency(case: Case, *, agency: Agency, by: User) -> None:
    if case.lead_agency_id == agency.id:
        return
    if not any(inv.agency_id == agency.id for inv in case.involvements):
        add_agency(case, agency=agency, named_worker="", has_rapport=False, by=by)
    old = case.lead_agency.name
    case.lead_agency_id = agency.id
    add_event(case, "agency", f"Lead agency changed from {old} to {agency.name}", by=by)
    audit.record(AuditAction.UPDATE, "case", case.reference, summary={"lead_agency": agency.code}, user=by)


# ---- engagement -----------------------------------------------------------------------


def record_attempt(case: Case, *, agency: Agency, method: EngagementMethod, occurred_at: datetime,
                   outcome: EngagementOutcome, by: User, planned: bool = False, persons_words: str = "",
                   worker_view: str = "", non_engagement: NonEngagementKind | None = None,
                   small_step: bool = False) -> EngagementAttempt:
    """Record an attempt to reach the person. In or out of hours is derived (working days
    09:00-17:00 London). Two missed planned visits in a row raise a notice, once."""
    if occurred_at > utcnow():
        raise ServiceError("The date and time of the attempt must be in the past", field="occurred_time")
    attempt = EngagementAttempt(
        case_id=case.id, agency_id=agency.id, recorded_by_id=by.id, method=method, occurred_at=occurred_at,
        out_of_hours=not is_working_hours(occurred_at), planned=planned or method.is_planned_visit,
        outcome=outcome, persons_words=persons_words, worker_view=worker_view,
        non_engagement=non_engagement, small_step=small_step)
    db.session.add(attempt)
    db.session.flush()
    label = f"{method.label}: {outcome.label.lower()}" + (" (a small step)" if small_step else "")
    add_event(case, "engagement", label, by=by, agency_id=agency.id, at=occurred_at, ref_type="engagement",
              ref_id=attempt.id)
    audit.record(AuditAction.CREATE, "engagement_attempt", attempt.id, summary={"case": case.reference}, user=by)
    _check_missed_visits(case, by)
    return attempt


MISSED = (EngagementOutcome.NOT_IN, EngagementOutcome.MISSED_APPOINTMENT, EngagementOutcome.CANCELLED_BY_PERSON,
          EngagementOutcome.NO_ANSWER, EngagementOutcome.DECLINED)


def _check_missed_visits(case: Case, by: User) -> None:
    """Two planned visits in a row that did not happen: tell the lead agency's SPoC and the
    coordinators, once per unbroken run of misses (a third miss adds nothing; a visit that
    happens ends the run)."""
    planned = sa.and_(EngagementAttempt.case_id == case.id, EngagementAttempt.planned.is_(True))
    last_success = db.session.execute(sa.select(sa.func.max(EngagementAttempt.occurred_at)).where(
        planned, EngagementAttempt.outcome.not_in(MISSED))).scalar_one()
    run = sa.select(EngagementAttempt.id).where(planned).order_by(EngagementAttempt.occurred_at, EngagementAttempt.id)
    if last_success is not None:
        run = run.where(EngagementAttempt.occurred_at > last_success)
    run_ids = db.session.execute(run.limit(2)).scalars().all()
    if len(run_ids) < 2:
        return
    trigger = run_ids[0]
    if db.session.execute(sa.select(CaseNotice.id).where(
            CaseNotice.case_id == case.id, CaseNotice.kind == "missed_visits", CaseNotice.trigger_id == trigger)).first():
        return
    db.session.add(CaseNotice(case_id=case.id, kind="missed_visits", trigger_id=trigger))
    add_event(case, "notice", "Two planned visits in a row were missed", by=by)
    _notify(coordinator_emails() | spoc_emails({case.lead_agency_id}), "Two planned visits missed",
            "Two planned visits in a row have been missed on this case.", case)


# ---- insight and outcomes -------------------------------------------------------------

INSIGHT_QUESTIONS = {
    "most_settled": "When is the person most settled?",
    "upsets": "What upsets or distresses them?",
    "responds_to": "What do they respond well to?",
    "engages_best_with": "Who, and what setting, do they engage with best?",
    "matters_and_trust": "What matters most to them, and what breaks their trust?",
}


def record_insight(case: Case, *, answers: dict[str, str], by: User) -> InsightVersion:
    """Keep a new dated version of the insight record (earlier versions stay)."""
    version = InsightVersion(case_id=case.id, written_by_id=by.id, written_at=utcnow(),
                             **{k: answers.get(k, "") for k in INSIGHT_QUESTIONS})
    db.session.add(version)
    db.session.flush()
    add_event(case, "insight", "Insight record updated", by=by, ref_type="insight", ref_id=version.id)
    audit.record(AuditAction.CREATE, "insight_version", version.id, summary={"case": case.reference}, user=by)
    return version


def add_outcome(case: Case, *, words: str, asked: bool, expressed: bool, by: User) -> PersonalOutcome:
    outcome = PersonalOutcome(case_id=case.id, words=words, asked=asked, expressed=expressed)
    db.session.add(outcome)
    db.session.flush()
    add_event(case, "outcome", "Desired outcome added", by=by, ref_type="outcome", ref_id=outcome.id)
    audit.record(AuditAction.CREATE, "personal_outcome", outcome.id, summary={"case": case.reference}, user=by)
    return outcome


def review_outcome(outcome: PersonalOutcome, case: Case, *, review: OutcomeReview, on: date, by: User) -> None:
    if on > london_today():
        raise ServiceError("The review date must be today or in the past", field="reviewed_on")
    outcome.review, outcome.reviewed_on, outcome.reviewed_by_id = review, on, by.id
    add_event(case, "outcome", f"Desired outcome reviewed: {review.label.lower()}", by=by, ref_type="outcome",
              ref_id=outcome.id)
    audit.record(AuditAction.UPDATE, "personal_outcome", outcome.id, summary={"review": str(review)}, user=by)


# ---- closure and step-down ------------------------------------------------------------


@dataclass
class ClosureCheck:
    """What must hold before the chair can approve closure; `unmet` lists what does not."""

    met: list[str] = field(default_factory=list)
    unmet: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.unmet

    def check(self, ok: bool, met: str, unmet: str) -> None:
        (self.met if ok else self.unmet).append(met if ok else unmet)


def persistence_record(case_id: int) -> dict[str, Any]:
    """Suffolk's persistence rule: 3+ phone attempts (one out of hours), a letter, a home visit."""
    rows = db.session.execute(
        sa.select(EngagementAttempt.method, EngagementAttempt.out_of_hours, sa.func.count())
        .where(EngagementAttempt.case_id == case_id)
        .group_by(EngagementAttempt.method, EngagementAttempt.out_of_hours)).all()
    count = lambda method, ooh=None: sum(n for m, o, n in rows if m == method and (ooh is None or o == ooh))  # noqa: E731
    return {
        "phone": count(EngagementMethod.PHONE),
        "phone_out_of_hours": count(EngagementMethod.PHONE, True),
        "letter": count(EngagementMethod.LETTER),
        "home_visit": count(EngagementMethod.HOME_VISIT) + count(EngagementMethod.JOINT_VISIT)
                      + count(EngagementMethod.UNANNOUNCED_VISIT),
    }


def closure_check(case: Case, *, open_actions: int | None = None,
                  persistence: dict[str, Any] | None = None) -> ClosureCheck:
    """The checklist on the closure page. `open_actions` (counted from the action log unless
    given) is the number of the case's actions still open; `persistence` is persistence_record's
    answer (read here, when closure is for non-engagement, unless given)."""
    if open_actions is None:
        open_actions = db.session.scalar(sa.select(sa.func.count()).select_from(Action).where(
            Action.case_id == case.id, Action.status == ActionStatus.OPEN)) or 0
    result = ClosureCheck()
    result.check(case.risk_level in (RiskLevel.MEDIUM, RiskLevel.LOW), "Risk is below high",
                 f"Risk is {case.risk_level.label.lower()}: it must be below high")
    result.check(open_actions == 0, "Every action is done, not possible, or transferred to the step-down agency",
                 f"{open_actions} action{'s are' if open_actions != 1 else ' is'} still open")
    result.check(case.step_down_agency_id is not None, "A step-down agency is named", "Name the step-down agency")
    result.check(bool(case.step_down_accepted_by and case.step_down_accepted_on),
                 "The step-down agency’s acceptance is recorded",
                 "Record who at the step-down agency accepted ongoing case management, and when")
    outcomes = db.session.execute(sa.select(PersonalOutcome.review).where(PersonalOutcome.case_id == case.id)).scalars().all()
    result.check(bool(outcomes) and all(r != OutcomeReview.OPEN for r in outcomes),
                 "The person’s outcomes are reviewed",
                 "Review every desired outcome" if outcomes else "Record and review the person’s desired outcomes")
    result.check(bool(case.closure_rationale.strip()), "A rationale is written", "Write the rationale for closure")
    if case.closure_for_non_engagement:
        p = persistence if persistence is not None else persistence_record(case.id)
        result.check(p["phone"] >= 3, "At least three phone attempts",
                     f"Only {p['phone']} phone attempt{'s' if p['phone'] != 1 else ''}: at least three are needed")
        result.check(p["phone_out_of_hours"] >= 1, "A phone attempt out of hours", "No phone attempt out of hours")
        result.check(p["letter"] >= 1, "A letter", "No letter sent")
        result.check(p["home_visit"] >= 1, "A home visit", "No home visit")
    return result


def propose_closure(case: Case, *, rationale: str, for_non_engagement: bool, step_down_agency: Agency | None,
                    accepted_by: str, accepted_on: date | None, by: User) -> None:
    if case.status != CaseStatus.ACTIVE:
        raise ServiceError("Only an active case can be proposed for closure")
    case.status = CaseStatus.CLOSURE_PROPOSED
    case.closure_rationale, case.closure_for_non_engagement = rationale, for_non_engagement
    case.step_down_agency_id = step_down_agency.id if step_down_agency else None
    case.step_down_accepted_by, case.step_down_accepted_on = accepted_by, accepted_on
    case.closure_proposed_at, case.closure_proposed_by_id = utcnow(), by.id
    add_event(case, "closure", "Closure proposed", by=by)
    audit.record(AuditAction.UPDATE, "case", case.reference, summary={"status": "closure_proposed"}, user=by)


def approve_closure(case: Case, *, panel_date: date, by: User, open_actions: int | None = None) -> None:
    """The chair approves closure at panel: closes the case, frees a place, tells people."""
    if case.status != CaseStatus.CLOSURE_PROPOSED:
        raise ServiceError("Closure has not been proposed for this case", field="decision")
    check = closure_check(case, open_actions=open_actions)
    if not check.ready:
        raise ServiceError("The case is not ready to close: " + "; ".join(check.unmet), field="decision")
    case.status, case.closed_on = CaseStatus.CLOSED, panel_date
    case.closure_approved_by_id, case.closure_panel_date = by.id, panel_date
    add_event(case, "closure", "Closure approved at panel; case closed", by=by)
    audit.record(AuditAction.UPDATE, "case", case.reference, summary={"status": "closed"}, user=by)
    involved = {inv.agency_id for inv in case.involvements}
    _notify(coordinator_emails() | spoc_emails(involved), "Case closed",
            "The panel has approved the closure of this case.", case)


def return_closure(case: Case, *, reason: str, by: User) -> None:
    if case.status != CaseStatus.CLOSURE_PROPOSED:
        raise ServiceError("Closure has not been proposed for this case", field="decision")
    if not reason.strip():
        raise ServiceError("Enter why the closure is being returned", field="reason")
    case.status = CaseStatus.ACTIVE
    add_event(case, "closure", f"Closure returned: {reason[:200]}", by=by)
    audit.record(AuditAction.UPDATE, "case", case.reference, summary={"status": "active", "closure_returned": True}, user=by)


def reopen(case: Case, *, reason: str, by: User) -> None:
    """Reopen a closed case: it takes a place again, within the cap (under the pathway lock)."""
    pathway.lock()
    db.session.refresh(case)
    if case.status != CaseStatus.CLOSED:
        raise ServiceError("Only a closed case can be reopened", field="reason")
    if not reason.strip():
        raise ServiceError("Enter why the case is being reopened", field="reason")
    if pathway.occupancy().full:
        raise ServiceError("The pathway is full. A place must free before this case can be reopened", field="reason")
    case.status, case.closed_on = CaseStatus.ACTIVE, None
    add_event(case, "closure", f"Case reopened: {reason[:200]}", by=by)
    audit.record(AuditAction.UPDATE, "case", case.reference, summary={"status": "active", "reopened": True}, user=by)
