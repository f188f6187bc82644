"""Run mode: the coordinator steps through a panel's agenda, one page per item.

`run_item(meeting, item_id, now)` reads everything the panel needs in view for one item — its
time box and the time used so far, and for a case the risk level with its last change, the
staff-safety warnings, each open action with its latest update, the written updates sent with
apologies, and the actions already agreed at this panel — in a fixed number of queries whatever
the number of items, actions and updates. The page saves the item's notes, decision, new actions
(and, on the standing items, the attendance sheet and the last panel's actions) with one post
(panel.meetings.views.run_views), through the same services as the minutes pages, so the rules
are the same.

Run mode opens when the panel starts and closes when the chair finalises the minutes; any item
can be reopened until then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from panel.extensions import db
from panel.meetings import minutes as services
from panel.meetings.agenda import number_items, previous_panel
from panel.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    AgendaItem,
    AgendaItemKind,
    Attendance,
    AttendanceStatus,
    Case,
    Involvement,
    Meeting,
    Referral,
    RiskChange,
    StaffSafetyFlag,
    utcnow,
)

# The standing items whose page also records something of their own.
WELCOME, LAST_PANEL, ESCALATIONS = AgendaItemKind.WELCOME, AgendaItemKind.LAST_MINUTES, AgendaItemKind.ESCALATIONS


def is_open(meeting: Meeting, now: datetime | None = None) -> bool:
    """Whether the panel can be run now: it has started, is not cancelled and its minutes are
    not finalised."""
    now = now or utcnow()
    return not meeting.cancelled and not meeting.finalised and meeting.starts_at <= now


def agenda_items(meeting: Meeting) -> list[AgendaItem]:
    """The agenda in its order, with each item's referral and case (one query)."""
    return list(db.session.scalars(
        sa.select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)
        .options(sa.orm.joinedload(AgendaItem.referral).joinedload(Referral.person),
                 sa.orm.joinedload(AgendaItem.referral).joinedload(Referral.referring_agency),
                 sa.orm.joinedload(AgendaItem.case))
        .order_by(AgendaItem.position, AgendaItem.id)))


def first_to_minute(items: list[AgendaItem]) -> AgendaItem | None:
    """Where to pick the run up: the first item with neither notes nor a decision (the first
    item when every one has something)."""
    return next((i for i in items if not (i.notes or i.decision)), items[0] if items else None)


@dataclass
class OpenAction:
    action: Action
    latest: ActionUpdate | None      # the latest update with a note, if any


@dataclass
class RunItem:
    """One item of the run, with what the panel needs in view for it."""

    meeting: Meeting
    item: AgendaItem
    items: list[AgendaItem]
    numbers: dict[int, str]
    now: datetime
    case: Case | None = None
    last_risk_change: RiskChange | None = None
    staff_flags: list[StaffSafetyFlag] = field(default_factory=list)
    open_actions: list[OpenAction] = field(default_factory=list)
    written_updates: list[Attendance] = field(default_factory=list)
    agreed: list[Action] = field(default_factory=list)
    escalated: list[Action] = field(default_factory=list)

    @property
    def index(self) -> int:
        return next(n for n, i in enumerate(self.items) if i.id == self.item.id)

    @property
    def previous(self) -> AgendaItem | None:
        return self.items[self.index - 1] if self.index > 0 else None

    @property
    def next(self) -> AgendaItem | None:
        return self.items[self.index + 1] if self.index + 1 < len(self.items) else None

    @property
    def number(self) -> str:
        return self.numbers.get(self.item.id, "")

    @property
    def planned_offset(self) -> int:
        """Minutes into the panel this item was planned to start, every item before keeping to
        its time box."""
        return sum(i.minutes for i in self.items[: self.index])

    @property
    def planned_start(self) -> datetime:
        return self.meeting.starts_at + timedelta(minutes=self.planned_offset)

    @property
    def minutes_used(self) -> int:
        """Whole minutes since the panel started (0 before it starts)."""
        return max(0, int((self.now - self.meeting.starts_at).total_seconds() // 60))

    @property
    def minutes_behind(self) -> int:
        """How much later than planned the item is being taken (0 when on time or early)."""
        return max(0, self.minutes_used - self.planned_offset)


def run_item(meeting: Meeting, item_id: int, now: datetime | None = None) -> RunItem | None:
    """The item of this panel with what its page shows, or None when the panel has no such item."""
    items = agenda_items(meeting)
    item = next((i for i in items if i.id == item_id), None)
    if item is None:
        return None
    view = RunItem(meeting=meeting, item=item, items=items, numbers=number_items(items), now=now or utcnow())
    case = services.item_case(item)
    if case is not None:
        _read_case(view, case)
    if item.kind == ESCALATIONS:
        previous = previous_panel(meeting)
        since = previous.starts_at if previous else meeting.starts_at - timedelta(days=31)
        view.escalated = list(db.session.scalars(
            sa.select(Action).where(Action.escalated_to_chair_at >= since,
                                    Action.escalated_to_chair_at < meeting.starts_at)
            .options(sa.orm.joinedload(Action.agency), sa.orm.joinedload(Action.case))
            .order_by(Action.due_on, Action.id)))
    return view


def _read_case(view: RunItem, case: Case) -> None:
    """The case, its last risk change, flags, open actions with their latest updates, the
    written updates of its agencies and the actions agreed on it at this panel (seven queries)."""
    view.case = db.session.scalar(
        sa.select(Case).where(Case.id == case.id).options(
            sa.orm.joinedload(Case.person), sa.orm.joinedload(Case.lead_agency),
            sa.orm.selectinload(Case.involvements).joinedload(Involvement.agency)))
    view.last_risk_change = db.session.scalar(
        sa.select(RiskChange).where(RiskChange.case_id == case.id).options(sa.orm.joinedload(RiskChange.by))
        .order_by(RiskChange.id.desc()).limit(1))
    view.staff_flags = list(db.session.scalars(
        sa.select(StaffSafetyFlag).where(StaffSafetyFlag.case_id == case.id, StaffSafetyFlag.cleared_at.is_(None))
        .options(sa.orm.joinedload(StaffSafetyFlag.set_by)).order_by(StaffSafetyFlag.set_at, StaffSafetyFlag.id)))
    actions = list(db.session.scalars(
        sa.select(Action).where(Action.case_id == case.id, Action.status == ActionStatus.OPEN)
        .options(sa.orm.joinedload(Action.agency), sa.orm.joinedload(Action.assignee))
        .order_by(Action.due_on, Action.id)))
    latest = _latest_updates([a.id for a in actions])
    view.open_actions = [OpenAction(a, latest.get(a.id)) for a in actions]
    agency_ids = [inv.agency_id for inv in view.case.involvements]
    view.written_updates = list(db.session.scalars(
        sa.select(Attendance).where(Attendance.meeting_id == view.meeting.id,
                                    Attendance.status == AttendanceStatus.APOLOGIES_WITH_UPDATE,
                                    Attendance.agency_id.in_(agency_ids))
        .options(sa.orm.joinedload(Attendance.agency)).order_by(Attendance.agency_id))) if agency_ids else []
    view.agreed = services.item_actions(view.meeting, view.case)


def _latest_updates(action_ids: list[int]) -> dict[int, ActionUpdate]:
    """Each action's latest update with a note (one query whatever the number of updates)."""
    if not action_ids:
        return {}
    newest = (sa.select(ActionUpdate.action_id, sa.func.max(ActionUpdate.id).label("id"))
              .where(ActionUpdate.action_id.in_(action_ids), ActionUpdate.note != "")
              .group_by(ActionUpdate.action_id).subquery())
    return {u.action_id: u for u in db.session.scalars(
        sa.select(ActionUpdate).join(newest, newest.c.id == ActionUpdate.id).options(sa.orm.joinedload(ActionUpdate.by)))}
