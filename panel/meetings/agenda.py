"""The self-building agenda of a monthly panel.

Order (SafeLives Marac and CASPA practice):
  1. welcome, introductions and the confidentiality statement;
  2. minutes and incomplete actions from the last panel;
  3. new referrals for decision: awaiting panel and received before the cut-off;
  4. every open case, highest risk first, each with its open and overdue actions;
  5. cases proposed for closure;
  6. actions escalated to the chair since the last panel, and cases in the pathway over 12 months;
  7. any other business (and the coordinator's own items).

sync_agenda() brings the stored items in line with the data: it adds items for new referrals
and cases at the end of their section, and removes the built items that no longer apply (a
referral decided elsewhere, a case closed) unless minutes were written against them. The
coordinator's ordering, time boxes and own items are kept. Once the minutes are finalised the
agenda is frozen. The queries here run a fixed number of times whatever the data size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from panel import audit
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.referrals.panel_for import cutoff_end
from panel.models import (
    Action,
    ActionStatus,
    Agency,
    AgendaItem,
    AgendaItemKind,
    AuditAction,
    Case,
    CaseStatus,
    EngagementAttempt,
    EngagementOutcome,
    Involvement,
    Meeting,
    MinutesSnapshot,
    MeetingKind,
    MeetingStatus,
    PersonalOutcome,
    Referral,
    ReferralStatus,
    RiskChange,
    RiskLevel,
    StaffSafetyFlag,
    User,
)
from panel.dates import LONDON

FIXED_MINUTES = {
    AgendaItemKind.WELCOME: 5,
    AgendaItemKind.LAST_MINUTES: 10,
    AgendaItemKind.CLOSURE: 10,
    AgendaItemKind.ESCALATIONS: 10,
    AgendaItemKind.AOB: 5,
    AgendaItemKind.OTHER: 10,
}
TITLES = {
    AgendaItemKind.WELCOME: "Welcome, introductions and the confidentiality statement",
    AgendaItemKind.LAST_MINUTES: "Minutes and incomplete actions from the last panel",
    AgendaItemKind.ESCALATIONS: "Escalated actions and cases in the pathway over 12 months",
    AgendaItemKind.AOB: "Any other business",
}
SECTION_TITLES = {
    1: "Welcome and confidentiality",
    2: "The last panel",
    3: "New referrals for decision",
    4: "Updates on open cases",
    5: "Cases proposed for closure",
    6: "Escalations and long-running cases",
    7: "Any other business",
}
CUT_OFF_TIME_NOTE = "received by the end of the cut-off day"
# the items a section holds alone every month: numbered as their section ("2", not "2.1")
STANDING = (AgendaItemKind.WELCOME, AgendaItemKind.LAST_MINUTES, AgendaItemKind.ESCALATIONS)


def case_minutes() -> int:
    return int(current_app.config.get("PANEL_CASE_MINUTES", 15))


def previous_panel(meeting: Meeting) -> Meeting | None:
    """The last panel held before this one (not cancelled)."""
    return db.session.scalar(_statements()["previous"], {"starts_at": meeting.starts_at, "meeting_id": meeting.id})


@lru_cache(maxsize=1)
def _statements() -> dict[str, sa.Select]:
    """agenda_view's statements (and previous_panel's), each with its values left to bind."""
    ids = sa.bindparam("ids", expanding=True)
    # An agency joined in is read without Agency.spoc_absent (an EXISTS per agency row, which
    # doubled the planning of these statements on PostgreSQL): nothing here shows it.
    quiet = sa.orm.defer(Agency.spoc_absent)
    with_people = (sa.orm.joinedload(Action.agency).options(quiet), sa.orm.joinedload(Action.case),
                   sa.orm.joinedload(Action.assignee))
    open_on_case = sa.and_(Action.case_id.in_(ids), Action.status == ActionStatus.OPEN)
    open_from_last = sa.and_(Action.meeting_id == sa.bindparam("last_meeting_id"), Action.status == ActionStatus.OPEN)
    escalated = sa.and_(Action.escalated_to_chair_at >= sa.bindparam("since"),
                        Action.escalated_to_chair_at < sa.bindparam("until"))
    # The agenda's cases and the cases in the pathway for over a year, in one statement; each row
    # says which it is. With `details`, each agenda case comes with its last change of risk.
    on_agenda = Case.id.in_(ids)
    long_running = sa.and_(Case.status.in_([CaseStatus.ACTIVE, CaseStatus.CLOSURE_PROPOSED]),
                           Case.accepted_on <= sa.bindparam("accepted_by"))
    case_loads = (sa.orm.joinedload(Case.person), sa.orm.joinedload(Case.lead_agency).options(quiet),
                  sa.orm.joinedload(Case.step_down_agency).options(quiet))
    ranked = (sa.select(RiskChange, sa.func.row_number().over(partition_by=RiskChange.case_id,
                                                              order_by=RiskChange.id.desc()).label("newest"))
              .where(RiskChange.case_id.in_(ids)).subquery())
    last_change = sa.orm.aliased(RiskChange, ranked)
    cases = sa.select(Case, on_agenda.label("on_agenda"), long_running.label("long_running"))
    cases_with_risk = (sa.select(Case, last_change, on_agenda.label("on_agenda"), long_running.label("long_running"))
                       .outerjoin(last_change, sa.and_(last_change.case_id == Case.id, ranked.c.newest == 1)))
    before = (Meeting.kind == MeetingKind.PANEL, Meeting.status == MeetingStatus.SCHEDULED,
              Meeting.starts_at < sa.bindparam("starts_at"), Meeting.id != sa.bindparam("meeting_id"))
    recent = sa.and_(EngagementAttempt.occurred_at >= sa.bindparam("since"),
                     EngagementAttempt.occurred_at < sa.bindparam("until"))
    return {
        "items": sa.select(AgendaItem).where(AgendaItem.meeting_id == sa.bindparam("meeting_id"))
        .options(sa.orm.joinedload(AgendaItem.referral).joinedload(Referral.person),
                 sa.orm.joinedload(AgendaItem.referral).joinedload(Referral.referring_agency).options(quiet))
        .order_by(AgendaItem.position, AgendaItem.id),
        "previous": sa.select(Meeting).where(*before)
        .order_by(Meeting.starts_at.desc()).limit(1),
        # the same with its finalised minutes' stored record, if any (for the chair's pack)
        "previous_with_minutes": sa.select(Meeting, MinutesSnapshot.document).where(*before)
        .outerjoin(MinutesSnapshot, MinutesSnapshot.meeting_id == Meeting.id)
        .order_by(Meeting.starts_at.desc()).limit(1),
        "cases": cases.where(sa.or_(on_agenda, long_running)).options(*case_loads),
        "cases_with_risk": cases_with_risk.where(sa.or_(on_agenda, long_running)).options(*case_loads),
        # the cases' involvements and (for the pack) the new referrals' in one statement
        "involvements": sa.select(Involvement).where(sa.or_(Involvement.case_id.in_(ids),
                                                            Involvement.referral_id.in_(sa.bindparam("referral_ids",
                                                                                                     expanding=True))))
        .options(sa.orm.joinedload(Involvement.agency).options(quiet)).order_by(Involvement.id),
        "engagement": sa.select(EngagementAttempt.case_id, EngagementAttempt.outcome, sa.func.count())
        .where(EngagementAttempt.case_id.in_(ids), recent)
        .group_by(EngagementAttempt.case_id, EngagementAttempt.outcome),
        # the same with every attempt ever, by method, for the chair's pack's closure checklists
        "engagement_ever": sa.select(EngagementAttempt.case_id, EngagementAttempt.outcome, EngagementAttempt.method,
                                     EngagementAttempt.out_of_hours, recent.label("recent"), sa.func.count())
        .where(EngagementAttempt.case_id.in_(ids))
        .group_by(EngagementAttempt.case_id, EngagementAttempt.outcome, EngagementAttempt.method,
                  EngagementAttempt.out_of_hours, recent),
        # the cases' open actions, the last panel's still open and those escalated since, in one
        # query (SQLite answers the OR from three indexes); each row says which lists it is in
        "actions": sa.select(Action, open_on_case.label("on_case"), open_from_last.label("from_last"),
                             escalated.label("escalated"))
        .where(sa.or_(open_on_case, open_from_last, escalated))
        .options(*with_people).order_by(Action.due_on, Action.id),
    }


def _cutoff_end(meeting: Meeting) -> datetime:
    """Referrals received before the end of the cut-off day (London) are on the agenda
    (the rule triage tells referrers by: panel.referrals.panel_for)."""
    return cutoff_end(meeting)


@lru_cache(maxsize=1)
def _wanted_statements() -> tuple[sa.Select, sa.Select]:
    """wanted_items' two statements, built once (the meeting page reads them on every view)."""
    rank = sa.case({level.value: level.rank for level in RiskLevel}, value=Case.risk_level)
    referrals = (sa.select(Referral.id).where(Referral.status == ReferralStatus.AWAITING_PANEL,
                                              Referral.submitted_at < sa.bindparam("cutoff_end"))
                 .order_by(Referral.submitted_at, Referral.id))
    cases = (sa.select(Case.id, Case.status).where(Case.status.in_([CaseStatus.ACTIVE, CaseStatus.CLOSURE_PROPOSED]),
                                                   Case.accepted_on <= sa.bindparam("day"))
             .order_by(rank, Case.accepted_on, Case.id))
    return referrals, cases


def wanted_items(meeting: Meeting) -> list[tuple[AgendaItemKind, int | None, int | None]]:
    """(kind, referral_id, case_id) of every item the data calls for, in agenda order."""
    referrals_query, cases_query = _wanted_statements()
    referrals = db.session.scalars(referrals_query, {"cutoff_end": _cutoff_end(meeting)}).all()
    day = meeting.starts_at.astimezone(LONDON).date()
    cases = db.session.execute(cases_query, {"day": day}).all()  # in the pathway by the panel's day
    items: list[tuple[AgendaItemKind, int | None, int | None]] = [
        (AgendaItemKind.WELCOME, None, None), (AgendaItemKind.LAST_MINUTES, None, None)]
    items += [(AgendaItemKind.REFERRAL, rid, None) for rid in referrals]
    items += [(AgendaItemKind.CASE, None, cid) for cid, status in cases if status == CaseStatus.ACTIVE]
    items += [(AgendaItemKind.CLOSURE, None, cid) for cid, status in cases if status == CaseStatus.CLOSURE_PROPOSED]
    items += [(AgendaItemKind.ESCALATIONS, None, None), (AgendaItemKind.AOB, None, None)]
    return items


def _key(item: AgendaItem) -> tuple[AgendaItemKind, int | None, int | None]:
    return item.kind, item.referral_id, item.case_id


def out_of_date(meeting: Meeting, items: list[AgendaItem] | None = None) -> bool:
    """Read only: would sync_agenda() change the stored items? (Pages never sync on a GET.)
    `items`: the panel's stored items when the caller has read them already (agenda_view)."""
    if meeting.kind != MeetingKind.PANEL or meeting.finalised or meeting.cancelled:
        return False
    wanted = set(wanted_items(meeting))
    if items is None:
        items = list(db.session.scalars(sa.select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)))
    have = {_key(i) for i in items}
    stale = any(i.kind != AgendaItemKind.OTHER and _key(i) not in wanted and not (i.notes or i.decision)
                for i in items)
    return stale or bool(wanted - have)


def sync_agenda(meeting: Meeting, *, by: User | None = None) -> bool:
    """Bring a panel's stored agenda in line with the data. Returns True when it changed. Flushes."""
    if meeting.kind != MeetingKind.PANEL or meeting.finalised or meeting.cancelled:
        return False
    items = list(db.session.scalars(sa.select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)
                                    .order_by(AgendaItem.position, AgendaItem.id)))
    wanted = wanted_items(meeting)
    wanted_keys = set(wanted)
    changed = False
    kept: list[AgendaItem] = []
    for item in items:
        if item.kind != AgendaItemKind.OTHER and _key(item) not in wanted_keys and not (item.notes or item.decision):
            db.session.delete(item)
            changed = True
        else:
            kept.append(item)
    have = {_key(i) for i in kept}
    order = {key: index for index, key in enumerate(wanted)}
    for key in wanted:
        if key in have:
            continue
        kind, referral_id, case_id = key
        new = AgendaItem(meeting_id=meeting.id, kind=kind, referral_id=referral_id, case_id=case_id,
                         title=TITLES.get(kind, ""), added_by_id=None,
                         minutes=FIXED_MINUTES.get(kind, case_minutes()))
        # After every item of an earlier section, and after the items of its own section that
        # come before it in the data's order (so a new critical case goes above the medium ones,
        # and a new referral after those received before it); the coordinator's order stays.
        at = 0
        for index, item in enumerate(kept):
            section = item.kind.section
            if section < kind.section or (section == kind.section and order.get(_key(item), len(order)) < order[key]):
                at = index + 1
        kept.insert(at, new)
        db.session.add(new)
        changed = True
    for position, item in enumerate(kept, start=1):
        if item.position != position:
            item.position = position
            changed = True
    if changed:
        db.session.flush()
        audit.record(AuditAction.UPDATE, "agenda", meeting.id, summary={"items": len(kept), "built": True}, user=by)
    return changed


def should_sync(meeting: Meeting, now: datetime, has_items: bool) -> bool:
    """Rebuild from the data before the panel starts; afterwards the agenda is what was discussed
    (a referral accepted at the panel must not vanish from it, nor a case accepted there join it),
    unless it was never built at all. Never once the minutes are final, nor for a cancelled panel."""
    if meeting.kind != MeetingKind.PANEL or meeting.finalised or meeting.cancelled:
        return False
    return now < meeting.starts_at or not has_items


def can_move(items: list[AgendaItem], item: AgendaItem, *, up: bool) -> bool:
    """An item moves within its own section only: the sections keep the agenda's fixed order."""
    index = items.index(item)
    other = index - 1 if up else index + 1
    return 0 <= other < len(items) and items[other].kind.section == item.kind.section


def move_item(item: AgendaItem, *, up: bool, by: User) -> bool:
    """Swap an item with its neighbour in the same section (the coordinator's reordering, by
    keyboard-friendly buttons). Returns False when it is already first (or last) in its section."""
    meeting = item.meeting
    items = sorted(meeting.items, key=lambda i: (i.position, i.id))  # positions may have changed in this session
    if not can_move(items, item, up=up):
        return False
    index = items.index(item)
    other = index - 1 if up else index + 1
    items[index], items[other] = items[other], items[index]
    for position, each in enumerate(items, start=1):
        each.position = position
    db.session.flush()
    audit.record(AuditAction.UPDATE, "agenda", meeting.id, summary={"moved": item.id, "up": up}, user=by)
    return True


def add_item(meeting: Meeting, *, title: str, minutes: int, by: User) -> AgendaItem:
    """The coordinator's own item, placed before any other business."""
    title = " ".join(title.split())
    if not title:
        raise ServiceError("Enter a title for the item", field="title")
    if len(title) > 200:
        raise ServiceError("The title must be 200 characters or fewer", field="title")
    if not 1 <= minutes <= 180:
        raise ServiceError("The time box must be between 1 and 180 minutes", field="minutes")
    items = sorted(meeting.items, key=lambda i: (i.position, i.id))  # positions may have changed in this session
    if any(i.kind == AgendaItemKind.OTHER and i.title.casefold() == title.casefold() for i in items):
        raise ServiceError(f"‘{title}’ is already on the agenda", field="title")  # a form sent twice adds it once
    at = next((i for i, it in enumerate(items) if it.kind == AgendaItemKind.AOB), len(items))
    new = AgendaItem(meeting_id=meeting.id, kind=AgendaItemKind.OTHER, title=title, minutes=minutes, added_by_id=by.id)
    items.insert(at, new)
    db.session.add(new)
    for position, each in enumerate(items, start=1):
        each.position = position
    db.session.flush()
    audit.record(AuditAction.UPDATE, "agenda", meeting.id, summary={"added": new.id}, user=by)
    return new


def over_time_unseen(meeting: Meeting, seen: str) -> str | None:
    """Why an agenda whose time boxes run past the panel's end is not to be published yet: the
    coordinator is told before it goes out, so the publish form carries the total it showed them
    (`seen`), and only that total, as it is now, lets it go. None when it may go. Reads only."""
    total = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(AgendaItem.minutes), 0))
                              .where(AgendaItem.meeting_id == meeting.id))
    if total <= meeting.length_minutes or seen == str(total):
        return None
    return (f"The agenda was not published. Its time boxes add up to {total} minutes, "
            f"{total - meeting.length_minutes} more than the panel’s {meeting.length_minutes} minutes. "
            "Shorten some time boxes, or publish it as it is.")


def set_time_box(item: AgendaItem, *, minutes: int, by: User) -> None:
    if not 1 <= minutes <= 180:
        raise ServiceError("The time box must be between 1 and 180 minutes", field="minutes")
    item.minutes = minutes
    db.session.flush()
    audit.record(AuditAction.UPDATE, "agenda", item.meeting_id, summary={"item": item.id, "minutes": minutes}, user=by)


def parse_time_box(text: str | None) -> int:
    """A time box as typed: a whole number of minutes, 1 to 180 (the messages of the one-item form)."""
    text = (text or "").strip()
    if not text:
        raise ServiceError("Enter the time box in minutes", field="minutes")
    if not text.isascii() or not text.isdigit() or len(text) > 4:
        raise ServiceError("The time box must be a whole number of minutes, like 15", field="minutes")
    return int(text)


def time_box_view(meeting: Meeting) -> AgendaView:
    """The agenda's items with what their labels need (two queries), for the time boxes form."""
    items = list(db.session.scalars(
        sa.select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)
        .options(sa.orm.joinedload(AgendaItem.referral), sa.orm.joinedload(AgendaItem.case))
        .order_by(AgendaItem.position, AgendaItem.id)))
    return AgendaView(meeting=meeting, items=items, previous=None, cases={}, last_panel_actions=[],
                      escalated_actions=[], long_cases=[], total_minutes=sum(i.minutes for i in items))


def set_time_boxes(meeting: Meeting, sent: dict[int, str], *, by: User) -> tuple[int, dict[int, str]]:
    """Every item's time box from one form, through set_time_box. An item not sent is left as it
    is, an unchanged one is not written again. Returns (items changed, problems by item id); with
    any problem the caller rolls back."""
    changed, problems = 0, {}
    for item in time_box_view(meeting).items:
        if item.id not in sent:
            continue
        try:
            minutes = parse_time_box(sent[item.id])
            if minutes == item.minutes:
                continue
            set_time_box(item, minutes=minutes, by=by)
        except ServiceError as problem:
            problems[item.id] = problem.message
            continue
        changed += 1
    return changed, problems


# ---- what the agenda page and the printed pack show ----------------------------------------


@dataclass
class CaseSection:
    """One case's section of the pack: what the agenda and the chair's pack show for it."""

    case: Case
    last_risk_change: RiskChange | None = None
    open_actions: list[Action] = field(default_factory=list)
    engagement: dict[str, int] = field(default_factory=dict)
    # every contact attempt ever by (method, out of hours), read for the chair's pack only
    attempts_ever: dict[tuple[Any, bool], int] = field(default_factory=dict)
    # what only the chair's pack shows, filled by panel.meetings.pack (empty on the meeting page)
    staff_flags: list[StaffSafetyFlag] = field(default_factory=list)
    outcomes: list[PersonalOutcome] = field(default_factory=list)
    last_contact: EngagementAttempt | None = None
    last_decisions: list[str] = field(default_factory=list)     # at the last panel, from its minutes
    last_actions: list[Any] = field(default_factory=list)       # agreed then, with what became of them
    closure: Any = None                                         # the closure checklist, if proposed

    @property
    def outcomes_reviewed_on(self) -> date | None:
        """When the person's outcomes were last reviewed, if ever."""
        return max((o.reviewed_on for o in self.outcomes if o.reviewed_on is not None), default=None)

    @property
    def agency_ids(self) -> set[int]:
        return {inv.agency_id for inv in self.case.involvements}

    @property
    def attempts(self) -> int:
        return self.engagement.get("attempts", 0)

    @property
    def reached(self) -> int:
        """Attempts where the person engaged, fully or partly."""
        return sum(self.engagement.get(str(o), 0) for o in EngagementOutcome if o.succeeded)

    def outcome_counts(self) -> list[tuple[EngagementOutcome, int]]:
        """Every outcome with its count since the last panel, noughts included."""
        return [(o, self.engagement.get(str(o), 0)) for o in EngagementOutcome]

    def overdue(self, today: date) -> int:
        return sum(1 for a in self.open_actions if a.is_overdue(today))


@dataclass
class AgendaView:
    meeting: Meeting
    items: list[AgendaItem]
    previous: Meeting | None
    cases: dict[int, CaseSection]
    last_panel_actions: list[Action]
    escalated_actions: list[Action]
    long_cases: list[Case]
    total_minutes: int
    # the new referrals' involved agencies by referral id (read for the pack only)
    referral_involvements: dict[int, list[Involvement]] = field(default_factory=dict)
    # the previous panel's stored minutes record, as JSON, if finalised (read for the pack only)
    previous_minutes: Any = None

    @property
    def over_time(self) -> bool:
        return self.total_minutes > self.meeting.length_minutes

    @property
    def runs_until(self) -> datetime:
        """When the last item ends, if every item keeps to its time box."""
        return self.meeting.starts_at + timedelta(minutes=self.total_minutes)

    def start_times(self) -> dict[int, datetime]:
        """When each item is due to start, if every item before it keeps to its time box."""
        at, out = self.meeting.starts_at, {}
        for item in self.items:
            out[item.id] = at
            at += timedelta(minutes=item.minutes)
        return out

    def case_sections(self) -> list[CaseSection]:
        """One section per case on the agenda, in agenda order (the printed pack's order)."""
        return [self.cases[i.case_id] for i in self.items if i.case_id in self.cases]

    def sections(self) -> list[tuple[int, str, list[AgendaItem]]]:
        """Every section, numbered 1 to 7 whether or not it has items this month (so the numbers
        never skip: "3. New referrals for decision" says none rather than vanishing), each with
        its items in their stored order (a moved item stays where put). None before the agenda
        is built."""
        if not self.items:
            return []
        grouped: dict[int, list[AgendaItem]] = {number: [] for number in SECTION_TITLES}
        for item in self.items:
            grouped[item.kind.section].append(item)
        return [(number, SECTION_TITLES[number], grouped[number]) for number in sorted(SECTION_TITLES)]

    def item_numbers(self) -> dict[int, str]:
        """Each item's number, the same on the agenda, in the pack's contents and on its
        sections: the section's number for a section's one standing item ("1", "2", "6"), else
        the section and the item's place in it ("3.1", "4.2", "7.1")."""
        return number_items(self.items)


def number_items(items: list[AgendaItem]) -> dict[int, str]:
    """Each item's number (AgendaView.item_numbers) from the agenda's items in their order."""
    grouped: dict[int, list[AgendaItem]] = {}
    for item in items:
        grouped.setdefault(item.kind.section, []).append(item)
    out: dict[int, str] = {}
    for number in sorted(grouped):
        section = grouped[number]
        if len(section) == 1 and section[0].kind in STANDING:
            out[section[0].id] = str(number)
            continue
        for place, item in enumerate(section, start=1):
            out[item.id] = f"{number}.{place}"
    return out


def _read_involvements(case_ids: list[int], cases: dict[int, CaseSection],
                       referral_ids: list[int]) -> dict[int, list[Involvement]]:
    """The cases' involvements (set on each case as a selectinload would) and the referrals'
    (returned by referral id), in one statement; none when there are neither."""
    by_referral: dict[int, list[Involvement]] = {rid: [] for rid in referral_ids}
    if not (case_ids or referral_ids):
        return by_referral
    by_case: dict[int, list[Involvement]] = {cid: [] for cid in cases}
    for inv in db.session.scalars(_statements()["involvements"], {"ids": case_ids, "referral_ids": referral_ids}):
        if inv.case_id in by_case:
            by_case[inv.case_id].append(inv)
        if inv.referral_id in by_referral:
            by_referral[inv.referral_id].append(inv)
    for case_id, found in by_case.items():
        case = cases[case_id].case
        if "involvements" not in case.__dict__:  # as a selectinload would: a list already loaded is kept
            sa.orm.attributes.set_committed_value(case, "involvements", found)
    return by_referral


def _read_previous(meeting: Meeting, with_minutes: bool) -> tuple[Meeting | None, Any]:
    """The previous panel, and with `with_minutes` its stored minutes record (JSON) if any (one query)."""
    if not with_minutes:
        return previous_panel(meeting), None
    found = db.session.execute(_statements()["previous_with_minutes"],
                               {"starts_at": meeting.starts_at, "meeting_id": meeting.id}).first()
    return (found[0], found[1]) if found is not None else (None, None)


def _read_attempts(cases: dict[int, CaseSection], window: dict[str, Any], *, ever: bool) -> None:
    """Each case's contact attempts since the last panel by outcome, and with `ever` every attempt
    ever by method (one query)."""
    if not ever:
        for case_id, outcome, count in db.session.execute(_statements()["engagement"], window):
            _count_attempts(cases[case_id], outcome, count)
        return
    for case_id, outcome, method, out_of_hours, recent, count in db.session.execute(
            _statements()["engagement_ever"], window):
        section = cases[case_id]
        key = (method, bool(out_of_hours))
        section.attempts_ever[key] = section.attempts_ever.get(key, 0) + count
        if recent:
            _count_attempts(section, outcome, count)


def _count_attempts(section: CaseSection, outcome: Any, count: int) -> None:
    section.engagement["attempts"] = section.engagement.get("attempts", 0) + count
    section.engagement[str(outcome)] = section.engagement.get(str(outcome), 0) + count


def agenda_view(meeting: Meeting, today: date, *, details: bool = True, pack: bool = False) -> AgendaView:
    """Everything the agenda page and the pack need, in a fixed number of queries. The
    statements are built once (_statements) and run with this panel's values: building ten ORM
    statements with their eager loads cost more than running them. Without `details` (the
    meeting page and a SPoC's agenda, which show neither), each case's last change of risk and
    its contacts since the last panel are not read. With `pack` (the chair's pack, which needs
    details), three things more are read within the same statements: the referral items'
    involved agencies with the cases' (AgendaView.referral_involvements), every contact attempt
    ever with those since the last panel (CaseSection.attempts_ever, for closure checklists) and
    the previous panel's stored minutes with the panel (AgendaView.previous_minutes)."""
    q = _statements()
    items = list(db.session.scalars(q["items"], {"meeting_id": meeting.id}))
    previous, previous_minutes = _read_previous(meeting, pack)
    case_ids = [i.case_id for i in items if i.case_id]
    since = previous.starts_at if previous else meeting.starts_at - timedelta(days=31)
    year_ago = meeting.starts_at.astimezone(LONDON).date() - timedelta(days=365)
    cases: dict[int, CaseSection] = {}
    long_cases: list[Case] = []
    for row in db.session.execute(q["cases_with_risk" if details else "cases"],
                                  {"ids": case_ids, "accepted_by": year_ago}):
        case = row[0]
        if row.on_agenda:
            cases[case.id] = CaseSection(case=case, last_risk_change=row[1] if details else None)
        if row.long_running:
            long_cases.append(case)
    long_cases.sort(key=lambda c: (c.accepted_on, c.id))
    referral_ids = [i.referral_id for i in items if i.kind == AgendaItemKind.REFERRAL and i.referral_id
                    and i.referral is not None] if pack else []
    by_referral = _read_involvements(case_ids, cases, referral_ids)
    if case_ids and details:
        _read_attempts(cases, {"ids": case_ids, "since": since, "until": meeting.starts_at}, ever=pack)
    last_panel_actions: list[Action] = []
    escalated: list[Action] = []
    for action, on_case, from_last, was_escalated in db.session.execute(q["actions"], {
            "ids": case_ids, "last_meeting_id": previous.id if previous else None,
            "since": since, "until": meeting.starts_at}):
        if on_case:
            cases[action.case_id].open_actions.append(action)
        if from_last:
            last_panel_actions.append(action)
        if was_escalated:
            escalated.append(action)
    return AgendaView(meeting=meeting, items=items, previous=previous, previous_minutes=previous_minutes, cases=cases,
                      last_panel_actions=last_panel_actions, escalated_actions=escalated, long_cases=long_cases,
                      total_minutes=sum(i.minutes for i in items), referral_involvements=by_referral)
