"""Fictional demo data for the action log: actions on the demo cases at every stage of the
escalation ladder. Everything is invented.

The actions are made through panel.actions.services (create, update, escalate by hand,
acknowledge), and the ladder is climbed by the daily sweep's own code (panel.actions.jobs._climb)
as of 07:00 London on each day from the first action to today, so the rows are what the
application itself would have written. Dates are set relative to today in England and Wales
working days, so every stage is there whatever day the demo is loaded:

  not yet due; reminder sent (to spoc.police, the person named); overdue notice sent;
  escalated to the agency's escalation contact, once acknowledged with a comment and once
  not; escalated to the chair (assigned to practitioner.health; on the next panel's agenda);
  a due date changed with a reason (round 2); done; not possible because circumstances
  changed; not done by the agency; cancelled; escalated by hand by the coordinator.

No mail is sent for the past: each earlier day's digest items are filed as that day's digest
without an email. Today's items stay waiting, for the next run of the "escalations" job.
The case proposed for closure gets only closed actions, so its closure checklist stays met.
Called once from panel.demo.load(); adds nothing if there are actions already.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Callable

import sqlalchemy as sa

from panel.actions import jobs, services
from panel.cases import services as case_services
from panel.extensions import db
from panel.models import (
    Action,
    ActionStatus,
    Agency,
    Case,
    CaseEvent,
    CaseStatus,
    Digest,
    DigestItem,
    Escalation,
    User,
    utcnow,
)
from panel.dates import LONDON, add_working_days, london_today


@dataclass
class DemoAction:
    """One demo action: where it sits, and what happens to it on which working day."""

    stage: str
    case_lead: str          # the demo case, by its lead agency's code
    agency: str             # the owning agency's code (involved in the case)
    description: str
    agreed_days_ago: int    # calendar days before today
    due: int                # working days from today (negative: in the past)
    assignee: str | None = None  # a demo user's email
    # (working days from today, what): "done", "not_possible", "not_done", "cancelled",
    # ("due", working days from today, reason), "acknowledge", "by_hand"
    events: list[tuple] = field(default_factory=list)


ACTIONS = [
    DemoAction("not yet due", "police", "housing",
               "Complete a tenancy sustainment assessment and share it with the lead agency (demo).", 8, 15),
    DemoAction("reminder sent", "police", "police",
               "Carry out a welfare check with the outreach worker and report back to the panel (demo).", 20, 2,
               assignee="spoc.police@demo.invalid"),
    DemoAction("overdue", "drug-alcohol", "drug-alcohol",
               "Offer a same-week appointment at the recovery hub and record the person's answer (demo).", 25, -2),
    DemoAction("escalated to the agency, acknowledged", "housing", "mental-health",
               "Arrange a joint visit with the community mental health team (demo).", 30, -7,
               events=[(-1, "acknowledge", "A team manager will make the joint visit on Friday and report back "
                                           "to the coordinator (demo).")]),
    DemoAction("escalated to the agency", "probation", "housing",
               "Confirm the move-on accommodation date with the landlord (demo).", 30, -8),
    DemoAction("escalated to the chair", "police", "health",
               "Arrange an outpatient review of the leg wound and a district nurse visit (demo).", 33, -12,
               assignee="practitioner.health@demo.invalid"),
    DemoAction("due date changed", "police", "mental-health",
               "Complete a care and treatment review with the person present (demo).", 30, -3,
               events=[(-1, "due", 8, "The psychiatrist's clinic was cancelled; the review is rebooked for the "
                                      "first free date (demo).")]),
    DemoAction("done", "mental-health", "mental-health",
               "Agree a crisis plan with the person and share it with the out-of-hours team (demo).", 60, -20,
               events=[(-21, "done", "Crisis plan agreed on a home visit and shared with the duty team (demo).")]),
    DemoAction("not possible", "mental-health", "asc",
               "Complete a Care Act assessment at home (demo).", 50, -12,
               events=[(-10, "not_possible", "The person moved into supported housing out of the area; the new "
                                             "provider's team will assess (demo).")]),
    DemoAction("not done", "probation", "probation",
               "Review licence conditions with the person and the housing officer (demo).", 45, -14,
               events=[(-6, "not_done", "Recorded at the panel: the review did not happen before the licence "
                                        "ended (demo).")]),
    DemoAction("cancelled", "housing", "police",
               "Attend the court hearing about the closure order (demo).", 15, 5,
               events=[(-2, "cancelled", "The hearing was withdrawn; the action is no longer needed (demo).")]),
    DemoAction("escalated by hand", "drug-alcohol", "asc",
               "Confirm the date of the carers' assessment (demo).", 12, 6,
               events=[(-1, "by_hand", "No reply to three requests for the assessment date (demo).")]),
]

STAGES = [a.stage for a in ACTIONS]


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """That London wall-clock time, as an aware datetime (07:00 and later never fall in a gap)."""
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON)


class _Replay:
    def __init__(self, today: date) -> None:
        self.today = today
        self.started = utcnow() - timedelta(seconds=1)
        self.users = {u.email: u for u in db.session.execute(sa.select(User)).scalars()}
        self.agencies = {a.code: a for a in db.session.execute(sa.select(Agency)).scalars()}
        self.coordinator = self.users["coordinator@demo.invalid"]
        self.cases = {c.lead_agency.code: c for c in db.session.execute(
            sa.select(Case).where(Case.status != CaseStatus.CLOSED).order_by(Case.id)).scalars()}
        self.schedule: dict[date, list[tuple[int, Callable[[datetime], None]]]] = defaultdict(list)
        self.made: dict[str, Action] = {}

    def day(self, working_days: int) -> date:
        return self.today if working_days == 0 else add_working_days(self.today, working_days)

    def stamped(self, case: Case, when: datetime, call: Callable):
        """Run a service call, then date the chronology entries it wrote at `when`."""
        before = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(CaseEvent.id), 0))
                                   .where(CaseEvent.case_id == case.id))
        result = call()
        db.session.flush()
        for event in db.session.execute(sa.select(CaseEvent).where(
                CaseEvent.case_id == case.id, CaseEvent.id > before, CaseEvent.at >= self.started)).scalars():
            event.at = when
        return result

    def plan(self, demo: DemoAction) -> None:
        case, agency = self.cases[demo.case_lead], self.agencies[demo.agency]
        agreed = self.today - timedelta(days=demo.agreed_days_ago)
        self.schedule[agreed].append((11, lambda when: self.create(demo, case, agency, when)))
        for offset, what, *args in demo.events:
            self.schedule[self.day(offset)].append((14, lambda when, what=what, args=args: self.event(
                demo, what, args, when)))

    def create(self, demo: DemoAction, case: Case, agency: Agency, when: datetime) -> None:
        if agency.id not in {inv.agency_id for inv in case.involvements}:
            self.stamped(case, when - timedelta(minutes=5), lambda: case_services.add_agency(
                case, agency=agency, named_worker="Demo Worker", has_rapport=False, by=self.coordinator))
            db.session.refresh(case, ["involvements"])
        assignee = self.users[demo.assignee] if demo.assignee else None
        action = self.stamped(case, when, lambda: services.create_action(
            case, description=demo.description, agency=agency, due_on=self.day(demo.due), by=self.coordinator,
            assignee=assignee, today=when.date()))
        action.created_at = when
        self.made[demo.stage] = action

    def event(self, demo: DemoAction, what: str, args: list, when: datetime) -> None:
        action = self.made[demo.stage]
        agency = self.agencies[demo.agency]
        spoc = agency.acting_spoc or self.coordinator
        if what == "acknowledge":
            escalation = db.session.scalars(sa.select(Escalation).where(
                Escalation.action_id == action.id, Escalation.contact_id.is_not(None))
                .order_by(Escalation.id.desc())).first()
            contact = db.session.get(User, escalation.contact_id)
            self.stamped(action.case, when, lambda: services.acknowledge(escalation, by=contact, comment=args[0]))
            escalation.acknowledged_at = when
        elif what == "by_hand":
            self.stamped(action.case, when, lambda: services.escalate_by_hand(
                action, to_chair=False, reason=args[0], by=self.coordinator, now=when))
        elif what == "due":
            update = self.stamped(action.case, when, lambda: services.update_action(
                action, by=spoc, due_on=self.day(args[0]), reason=args[1], today=when.date()))
            update.at = when
        else:
            status = ActionStatus(what)
            by = self.coordinator if status in (ActionStatus.NOT_DONE, ActionStatus.CANCELLED) else spoc
            update = self.stamped(action.case, when, lambda: services.update_action(
                action, by=by, status=status, note=args[0], today=when.date()))
            update.at, action.closed_at = when, when

    def run(self) -> None:
        """Each day from the first agreed action to today: the 07:00 sweep's rungs, then that
        day's changes in time order."""
        day = min(self.schedule)
        while day <= self.today:
            seven = _at(day, 7)
            db.session.flush()
            jobs._climb(day, seven)
            if day < self.today:
                _file_digests(day, seven)
            for hour, call in sorted(self.schedule.get(day, []), key=lambda item: item[0]):
                call(_at(day, hour))
            day += timedelta(days=1)
        db.session.flush()


def _file_digests(day: date, at: datetime) -> None:
    """Record a past day's digests as sent, without queuing any email."""
    by_user: dict[int, list[int]] = defaultdict(list)
    for item_id, user_id in db.session.execute(
            sa.select(DigestItem.id, DigestItem.user_id).where(DigestItem.digest_id.is_(None))).all():
        by_user[user_id].append(item_id)
    for user_id, ids in by_user.items():
        digest = Digest(user_id=user_id, day=day, sent_at=at, items=len(ids))
        db.session.add(digest)
        db.session.flush()
        db.session.execute(sa.update(DigestItem).where(DigestItem.id.in_(ids)).values(digest_id=digest.id)
                           .execution_options(synchronize_session=False))


def load(*, today: date | None = None) -> int:
    """Add the demo actions, once (flushes, does not commit). Returns how many were made."""
    today = today or london_today()
    if db.session.scalar(sa.select(sa.func.count()).select_from(Action)):
        return 0  # already there: --force adds nothing twice
    replay = _Replay(today)
    if "coordinator@demo.invalid" not in replay.users:
        return 0
    wanted = [a for a in ACTIONS if a.case_lead in replay.cases and a.agency in replay.agencies
              and (a.assignee is None or a.assignee in replay.users)]
    for demo in wanted:
        replay.plan(demo)
    if not wanted:
        return 0
    replay.run()
    return len(replay.made)
