"""The action log's rules: create and update actions, escalate by hand, acknowledge escalations,
and the queries behind the action log, "our actions" and each case's actions.

Services flush but never commit. Every change writes the audit trail and the case chronology.
Who is told about a rung of the ladder is decided here (recipients()) and used by the daily
sweep (panel.actions.jobs) and by escalation by hand; the sweep's are told in the daily digest,
an escalation by hand by a link-only email at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Callable, Iterable

import sqlalchemy as sa
from flask import current_app

from panel import audit, notify
from panel.actions import ladder
from panel.cases.services import add_event
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    Agency,
    AuditAction,
    AuditEvent,
    Case,
    Escalation,
    Involvement,
    LadderStep,
    Role,
    User,
    utcnow,
)
from panel.dates import govuk_date, london_to_utc, london_today

DESCRIPTION_MAX = 1000
NOTE_MAX = 2000
REASON_MAX = 500
NOT_DONE_REASON = "Enter why the agency did not do the action"
REPEAT_WINDOW = timedelta(minutes=10)   # the same form sent again within this is not saved twice




def offsets() -> ladder.Offsets:
    return ladder.Offsets.from_config(current_app.config)


def action_link(action_id: int) -> str:
    """The action's address, built without a request so the sweep can use it."""
    return f"{current_app.config['PUBLIC_URL']}/actions/{action_id}"


def acknowledge_link(escalation_id: int) -> str:
    return f"{current_app.config['PUBLIC_URL']}/actions/escalations/{escalation_id}/acknowledge"


def _start_ladder(action: Action, today: date) -> None:
    action.next_step, action.next_step_on = ladder.first_step(action.due_on, today, offsets())


def just_added(case: Case, *, by: User, agency_id: int | None, due_on: date | None, description: str) -> Action | None:
    """The same action added to the case by this user a moment ago (the form sent twice)."""
    return db.session.scalar(sa.select(Action).where(
        Action.case_id == case.id, Action.created_by_id == by.id, Action.agency_id == agency_id,
        Action.due_on == due_on, Action.description == description.strip(),
        Action.created_at >= utcnow() - REPEAT_WINDOW).limit(1))


def recent_update(action: Action, by: User) -> ActionUpdate | None:
    """The action's last update, when this user made it a moment ago: the update form compares
    what is sent with it, so the same form sent twice is not saved twice."""
    last = action.updates[-1] if action.updates else None
    return last if last is not None and last.by_id == by.id and utcnow() - last.at < REPEAT_WINDOW else None


# ---- create and update ------------------------------------------------------------------


def create_action(case: Case, *, description: str, agency: Agency, due_on: date, by: User,
                  assignee: User | None = None, meeting_id: int | None = None,
                  today: date | None = None) -> Action:
    """Add an open action for an agency involved in the case; its ladder starts from due_on."""
    description = description.strip()
    if not description:
        raise ServiceError("Enter what the agency will do", field="description")
    if len(description) > DESCRIPTION_MAX:
        raise ServiceError(f"The action must be {DESCRIPTION_MAX} characters or fewer", field="description")
    involved = {inv.agency_id for inv in case.involvements}
    if agency.id not in involved:
        raise ServiceError("Choose an agency involved in the case", field="agency_id")
    if assignee is not None and assignee.agency_id != agency.id:
        raise ServiceError("The named person must work for the agency that owns the action", field="assignee_id")
    today = today or london_today()
    if due_on < today:
        raise ServiceError("The due date must be today or in the future", field="due_on")
    action = Action(case_id=case.id, description=description, agency_id=agency.id,
                    assignee_id=assignee.id if assignee else None, due_on=due_on,
                    status=ActionStatus.OPEN, created_by_id=by.id, meeting_id=meeting_id)
    _start_ladder(action, today)
    db.session.add(action)
    db.session.flush()
    add_event(case, "action", f"Action {action.id} agreed for {agency.name}, due {govuk_date(due_on)}",
              by=by, agency_id=agency.id, ref_type="action", ref_id=action.id)
    audit.record(AuditAction.CREATE, "action", action.id,
                 summary={"case": case.reference, "agency": agency.code, "due_on": due_on.isoformat()}, user=by)
    return action


def update_action(action: Action, *, by: User, note: str = "", status: ActionStatus | None = None,
                  due_on: date | None = None, reason: str = "", today: date | None = None) -> ActionUpdate:
    """Record a dated update: a note, a new status, and/or a new due date (with its reason).

    A new due date restarts the ladder from that date (a new round); any status but open
    stops it. A closed action cannot be changed: the history keeps what happened.
    """
    today = today or london_today()
    note, reason = note.strip(), reason.strip()
    if action.status != ActionStatus.OPEN:
        raise ServiceError(f"This action is {action.status.label.lower()}; it can no longer be changed")
    if len(note) > NOTE_MAX:
        raise ServiceError(f"The update must be {NOTE_MAX} characters or fewer", field="note")
    new_status = status if status is not None and status != action.status else None
    new_due = due_on if due_on is not None and due_on != action.due_on else None
    if new_due is not None:
        if new_due < today:
            raise ServiceError("The new due date must be today or in the future", field="due_on")
        if not reason:
            raise ServiceError("Enter why the due date is changing", field="reason")
        if len(reason) > REASON_MAX:
            raise ServiceError(f"The reason must be {REASON_MAX} characters or fewer", field="reason")
    if not note and new_status is None and new_due is None:
        raise ServiceError("Write an update, or change the status or the due date", field="note")
    if new_status == ActionStatus.NOT_DONE and not note:
        # SafeLives: an action the agency did not do is told apart from one that became impossible, with why.
        raise ServiceError(NOT_DONE_REASON, field="note")
    update = ActionUpdate(action_id=action.id, by_id=by.id, note=note,
                          old_status=action.status if new_status else None, new_status=new_status,
                          old_due_on=action.due_on if new_due else None, new_due_on=new_due,
                          due_change_reason=reason if new_due else "")
    db.session.add(update)
    changes: dict[str, object] = {}
    if new_due is not None:
        changes["due_on"] = [action.due_on.isoformat(), new_due.isoformat()]
        action.due_on = new_due
        action.ladder_round += 1
        _start_ladder(action, today)
    if new_status is not None:
        changes["status"] = [str(action.status), str(new_status)]
        action.status = new_status
        action.closed_at = utcnow()
        action.next_step = action.next_step_on = None  # the ladder stops
    if note:
        changes["note"] = True
    summary = (f"Action {action.id}: " + "; ".join(
        filter(None, [new_status and f"now {new_status.label.lower()}",
                      new_due and f"due date changed to {govuk_date(new_due)}",
                      note and "update recorded"])))
    add_event(action.case, "action", summary, by=by, agency_id=action.agency_id, ref_type="action", ref_id=action.id)
    audit.record(AuditAction.UPDATE, "action", action.id, summary=changes, user=by)
    db.session.flush()
    return update


# ---- who is told ---------------------------------------------------------------------------


def _active(users: Iterable[User | None]) -> list[User]:
    seen: dict[int, User] = {}
    for u in users:
        if u is not None and u.active and u.id not in seen:
            seen[u.id] = u
    return list(seen.values())


def staff_with_role(role: Role) -> list[User]:
    return list(db.session.scalars(
        sa.select(User).where(User.role == role, User.active.is_(True)).order_by(User.id)))


@dataclass
class Recipients:
    """Who is told of a rung, and who (if anyone) is asked to acknowledge it."""

    users: list[User]
    contact: User | None = None
    note: str = ""


@dataclass
class StaffDirectory:
    """Coordinators and chairs, fetched once per sweep rather than once per action."""

    coordinators: list[User] = field(default_factory=list)
    chairs: list[User] = field(default_factory=list)

    @classmethod
    def load(cls) -> StaffDirectory:
        return cls(staff_with_role(Role.COORDINATOR), staff_with_role(Role.CHAIR))


def recipients(action: Action, step: LadderStep, staff: StaffDirectory) -> Recipients:
    """Reminder: the assignee, else the acting SPoC. Overdue: the acting SPoC and the
    coordinators. Agency rungs: the agency's escalation contact (the coordinators when it has
    none). Chair rungs: every active chair (the coordinators when there is none)."""
    agency = action.agency
    spoc = agency.acting_spoc
    if step == LadderStep.REMINDER:
        users = _active([action.assignee]) or _active([spoc]) or list(staff.coordinators)
        return Recipients(users)
    if step == LadderStep.OVERDUE:
        return Recipients(_active([spoc, *staff.coordinators]))
    if step in (LadderStep.AGENCY, LadderStep.MANUAL_AGENCY):
        contact = _active([agency.escalation_contact])
        if contact:
            return Recipients(contact, contact=contact[0])
        return Recipients(list(staff.coordinators), note=f"{agency.name} has no escalation contact")
    chairs = list(staff.chairs)
    if chairs:
        return Recipients(chairs)
    return Recipients(list(staff.coordinators), note="There is no active panel chair")


def told_text(users: list[User], note: str = "") -> str:
    lines = [f"{u.name} <{u.email}>" for u in users]
    if note:
        lines.append(f"({note})")
    return "\n".join(lines)


# ---- escalation by hand and acknowledgement -----------------------------------------------


def escalate_by_hand(action: Action, *, to_chair: bool, reason: str, by: User, now: datetime | None = None) -> Escalation:
    """The coordinator escalates an open action to the agency's escalation contact or the chair,
    with a reason. Recorded once per press (a duplicate submission finds the row already there)."""
    reason = reason.strip()
    if action.status != ActionStatus.OPEN:
        raise ServiceError("Only an open action can be escalated")
    if not reason:
        raise ServiceError("Enter why you are escalating this action", field="reason")
    if len(reason) > 1000:
        raise ServiceError("The reason must be 1000 characters or fewer", field="reason")
    now = now or utcnow()
    step = LadderStep.MANUAL_CHAIR if to_chair else LadderStep.MANUAL_AGENCY
    # Hold the action's row, so a double click's second request waits for the first to commit and
    # then finds its row below, rather than racing it into the unique constraint (issue 14).
    db.session.execute(sa.select(Action.id).where(Action.id == action.id).with_for_update())
    previous = db.session.scalar(
        sa.select(Escalation).where(Escalation.action_id == action.id, Escalation.step == step)
        .order_by(Escalation.round.desc()).limit(1))
    if previous is not None and previous.reason == reason and now - previous.at < timedelta(minutes=10):
        return previous  # the same form sent twice
    who = recipients(action, step, StaffDirectory.load())
    escalation = Escalation(action_id=action.id, step=step, round=(previous.round + 1) if previous else 1,
                            due_for=london_today(now), at=now, by_id=by.id, reason=reason,
                            told=told_text(who.users, who.note), contact_id=who.contact.id if who.contact else None)
    db.session.add(escalation)
    db.session.flush()
    _email_hand_escalation(escalation, who.users, to_chair=to_chair)  # at once, not in tomorrow's digest
    if to_chair:
        action.escalated_to_chair_at = now
    add_event(action.case, "escalation", f"Action {action.id}: {step.label.lower()}", by=by,
              agency_id=action.agency_id, ref_type="action", ref_id=action.id)
    audit.record(AuditAction.UPDATE, "action", action.id, summary={"escalated": str(step)}, user=by)
    db.session.flush()
    return escalation


def _email_hand_escalation(escalation: Escalation, users: Iterable[User], *, to_chair: bool) -> int:
    """Each person told of an escalation by hand gets a link-only email now (issue 17): the
    acknowledgement link for whoever acknowledges it, the action's link for anyone else. The
    email names no case, person or agency. Returns how many were queued."""
    subject = f"{current_app.config['SERVICE_NAME']}: an action has been escalated"
    sent = 0
    for user in users:
        if not user.active or not user.email:
            continue
        acknowledges = (to_chair and user.role == Role.CHAIR) or escalation.contact_id == user.id
        link = acknowledge_link(escalation.id) if acknowledges else action_link(escalation.action_id)
        notify.queue_email(to=user.email, subject=subject, body="\n".join([
            f"Hello {user.name},", "",
            "The panel coordinator has escalated an action on the action log to "
            + ("the panel chair." if to_chair else "you." if escalation.contact_id == user.id else "the agency."),
            "", ("Acknowledge it: " if acknowledges else "Open it: ") + link, "",
            "You need to sign in to see the details. This email holds no personal information."]))
        sent += 1
    return sent


# ---- chasing overdue actions now (issue 17) ---------------------------------------------------


def overdue_actions_of(agency_id: int, today: date | None = None) -> list[Action]:
    """An agency's open actions past their due date, oldest first."""
    today = today or london_today()
    return list(db.session.scalars(
        sa.select(Action).where(Action.agency_id == agency_id, Action.status == ActionStatus.OPEN,
                                Action.due_on < today)
        .options(sa.orm.joinedload(Action.agency).joinedload(Agency.spoc),
                 sa.orm.joinedload(Action.agency).joinedload(Agency.deputy_spoc))
        .order_by(Action.due_on, Action.id)))


def chase(actions: Iterable[Action], *, by: User, today: date | None = None,
          now: datetime | None = None) -> tuple[int, int]:
    """The coordinator chases overdue actions now: one link-only email per agency's acting SPoC,
    listing the actions by reference (number and link; no description, case or person). An
    action chased in the last ten minutes is not chased again (a double submission). Returns
    (emails queued, actions chased)."""
    if by.role != Role.COORDINATOR:
        raise ServiceError("Only the coordinator chases actions")
    today, now = today or london_today(), now or utcnow()
    overdue = [a for a in actions if a.status == ActionStatus.OPEN and a.due_on < today]
    if not overdue:
        raise ServiceError("There are no overdue actions to chase")
    recent = set(db.session.scalars(sa.select(AuditEvent.object_id).where(
        AuditEvent.object_type == "action_chase", AuditEvent.occurred_at >= now - REPEAT_WINDOW,
        AuditEvent.object_id.in_([str(a.id) for a in overdue]))))
    by_agency: dict[int, list[Action]] = {}
    for action in overdue:
        if str(action.id) not in recent:
            by_agency.setdefault(action.agency_id, []).append(action)
    subject = f"{current_app.config['SERVICE_NAME']}: overdue actions to update"
    emails = chased = 0
    for chased_actions in by_agency.values():
        spoc = chased_actions[0].agency.acting_spoc
        for action in chased_actions:
            audit.record(AuditAction.UPDATE, "action_chase", action.id,
                         summary={"agency": action.agency_id, "told": bool(spoc and spoc.active)}, user=by)
        chased += len(chased_actions)
        if spoc is None or not spoc.active:
            continue
        lines = [f"Hello {spoc.name},", "",
                 f"The panel coordinator asks you to update {len(chased_actions)} overdue "
                 f"action{'s' if len(chased_actions) != 1 else ''} on the action log:", ""]
        lines += [f"- Action {a.id}, due {govuk_date(a.due_on)}: {action_link(a.id)}" for a in chased_actions]
        lines += ["", "You need to sign in to see the details. This email holds no personal information."]
        notify.queue_email(to=spoc.email, subject=subject, body="\n".join(lines))
        emails += 1
    return emails, chased


def can_acknowledge(user: User, escalation: Escalation) -> bool:
    """The escalation contact asked acknowledges an agency rung; any chair a chair rung."""
    if escalation.acknowledged_at is not None or not escalation.step.is_escalation:
        return False
    if escalation.step.to_chair:
        return user.role == Role.CHAIR
    return escalation.contact_id is not None and escalation.contact_id == user.id


def acknowledge(escalation: Escalation, *, by: User, comment: str) -> None:
    comment = comment.strip()
    if escalation.acknowledged_at is not None:
        raise ServiceError("This escalation has already been acknowledged")
    if not can_acknowledge(by, escalation):
        raise ServiceError("You cannot acknowledge this escalation")
    if not comment:
        raise ServiceError("Enter a comment: what your agency will do", field="comment")
    if len(comment) > 1000:
        raise ServiceError("The comment must be 1000 characters or fewer", field="comment")
    escalation.acknowledged_at, escalation.acknowledged_by_id, escalation.acknowledgement = utcnow(), by.id, comment
    action = escalation.action
    add_event(action.case, "escalation", f"Action {action.id}: escalation acknowledged by {by.name}", by=by,
              agency_id=by.agency_id, ref_type="action", ref_id=action.id)
    audit.record(AuditAction.UPDATE, "escalation", escalation.id, summary={"acknowledged": True}, user=by)
    db.session.flush()


# ---- queries --------------------------------------------------------------------------------


def open_action_count(case_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Action).where(
        Action.case_id == case_id, Action.status == ActionStatus.OPEN)) or 0


@dataclass
class ActionFilters:
    """The action log's filters; all optional."""

    agency_id: int | None = None
    case_reference: str = ""
    status: ActionStatus | None = None
    overdue: bool = False
    due_this_week: bool = False
    escalated: bool = False
    assignee_id: int | None = None
    escalated_today: bool = False   # escalated (to an agency or the chair) today, London time
    awaiting_chair: bool = False    # open, escalated to the chair and not yet acknowledged


def week_end(today: date) -> date:
    """The Sunday that ends this week: "due this week" runs from today to then."""
    return today + timedelta(days=6 - today.weekday())


def _conditions(filters: ActionFilters, today: date, *, walking: bool = False) -> list[sa.ColumnElement[bool]]:
    """The filters on the actions table (a case reference aside: that needs the case's table).
    `walking`: for reading along the actions' due-date index a page at a time, "escalated" (one
    action in six, over the years) is asked of each action read, not gathered first from every
    escalation; the narrow filters (escalated today, awaiting the chair) are gathered first
    either way, along the escalations' indexes."""
    where: list[sa.ColumnElement[bool]] = []
    if filters.agency_id:
        where.append(Action.agency_id == filters.agency_id)
    if filters.assignee_id:
        where.append(Action.assignee_id == filters.assignee_id)
    if filters.status:
        where.append(Action.status == filters.status)
    if filters.overdue:
        where += [Action.status == ActionStatus.OPEN, Action.due_on < today]
    if filters.due_this_week:
        where += [Action.status == ActionStatus.OPEN, Action.due_on >= today, Action.due_on <= week_end(today)]
    if filters.escalated:
        escalations = [Escalation.step.in_([s for s in LadderStep if s.is_escalation])]
        where.append(sa.exists().where(Escalation.action_id == Action.id, *escalations) if walking
                     else Action.id.in_(sa.select(Escalation.action_id).where(*escalations)))
    if filters.escalated_today:
        where.append(Action.id.in_(sa.select(Escalation.action_id).where(
            Escalation.step.in_([s for s in LadderStep if s.is_escalation]),
            Escalation.at >= london_to_utc(today, time(0)),
            Escalation.at < london_to_utc(today + timedelta(days=1), time(0)))))
    if filters.awaiting_chair:
        where += [Action.status == ActionStatus.OPEN, Action.id.in_(sa.select(Escalation.action_id).where(
            Escalation.step.in_([s for s in LadderStep if s.to_chair]), Escalation.acknowledged_at.is_(None)))]
    return where


# The log's order: open before closed, then by due date. Pages take it in two parts, each read
# along an index (log_page): the open actions by ix_actions_open_due_on, the closed by
# ix_actions_due_on, so a page never sorts the whole log. The partial index holds the rows where
# status = 'open', which the database sees only with the value written into the SQL, not bound.
LOG_ORDER = (sa.case((Action.status == ActionStatus.OPEN, 0), else_=1), Action.due_on, Action.id)
_OPEN_LITERAL = Action.status == sa.literal_column(f"'{ActionStatus.OPEN.value}'")


def _with_case_and_people(query: sa.Select) -> sa.Select:
    return query.options(sa.orm.contains_eager(Action.case), sa.orm.joinedload(Action.agency),
                         sa.orm.joinedload(Action.assignee))


def action_query(filters: ActionFilters, today: date) -> sa.Select:
    """Actions matching the filters, the most urgent first: open before closed, then by due date.
    Loads the case, agency and assignee with it (no query per row)."""
    q = _with_case_and_people(sa.select(Action).join(Action.case))
    if filters.case_reference:
        q = q.where(Case.reference == filters.case_reference)
    return q.where(*_conditions(filters, today)).order_by(*LOG_ORDER)


def log_ids(filters: ActionFilters, today: date, *, walking: bool = False) -> sa.Select:
    """The ids of the actions matching the filters, from the actions table alone (and the case's
    for a case reference). `walking`: as _conditions."""
    q = sa.select(Action.id)
    if filters.case_reference:
        q = q.join(Case, Case.id == Action.case_id).where(Case.reference == filters.case_reference)
    return q.where(*_conditions(filters, today, walking=walking))


@dataclass
class LogPage:
    actions: list[Action]
    total: int          # counted no further than the cap
    more: bool          # more than the cap match
    page: int
    pages: int


def log_page(filters: ActionFilters, today: date, *, size: int, cap: int, page_of: Callable[[int], int]) -> LogPage:
    """A page of the actions matching the filters in the log's order, with their case, agency
    and assignee; two queries, whatever the size of the log. The count stops at `cap` (pages
    beyond it are not offered: "more than" it, narrow with the filters). The page is taken from
    the open actions (few: the pathway's cases are capped) and then the closed, each read in
    due-date order along its index, never the whole log joined and sorted."""
    is_open = _OPEN_LITERAL
    ids, walked = log_ids(filters, today), log_ids(filters, today, walking=True)
    opened, total = db.session.execute(sa.select(
        sa.select(sa.func.count()).select_from(walked.where(is_open).limit(cap + 1).subquery()).scalar_subquery(),
        sa.select(sa.func.count()).select_from(ids.limit(cap + 1).subquery()).scalar_subquery())).one()
    more, total = total > cap, min(total, cap)
    pages = max(1, -(-total // size))
    page = page_of(pages)
    start = (page - 1) * size
    wanted = max(0, min(size, total - start))
    from_open = max(0, min(wanted, opened - start))
    parts = [walked.where(is_open).order_by(Action.due_on, Action.id).limit(from_open).offset(start),
             walked.where(~is_open).order_by(Action.due_on, Action.id).limit(wanted - from_open)
             .offset(max(0, start - opened))]
    chosen = sa.union_all(*(sa.select(part.subquery().c.id) for part in parts))
    actions = list(db.session.scalars(_with_case_and_people(sa.select(Action).join(Action.case))
                                      .where(Action.id.in_(chosen)).order_by(*LOG_ORDER)))
    return LogPage(actions=actions, total=total, more=more, page=page, pages=pages)


RECENTLY_CLOSED = timedelta(days=28)    # "our actions" keeps closed ones this long


def our_actions_query(user: User, today: date, *, acting: bool, overdue: bool = False,
                      due_this_week: bool = False) -> sa.Select:
    """"Our actions": the agency's (for its acting SPoC) or the user's own, on cases their agency
    is in, open or closed in the last four weeks; optionally only the overdue ones, or those due
    this week. The home page counts with this query, so its numbers are the page's. The open
    ones and the recently closed are chosen apart, each along an index (the agency's or the
    assignee's open actions; their closed by when they closed), never ten years of them."""
    filters = ActionFilters(agency_id=user.agency_id) if acting else ActionFilters(assignee_id=user.id)
    filters.overdue, filters.due_this_week = overdue, due_this_week
    ids = log_ids(filters, today).where(
        Action.case_id.in_(sa.select(Involvement.case_id).where(Involvement.agency_id == user.agency_id)))
    shown = sa.union_all(ids.where(Action.status == ActionStatus.OPEN),
                         ids.where(Action.status != ActionStatus.OPEN, Action.closed_at >= utcnow() - RECENTLY_CLOSED))
    return action_query(ActionFilters(), today).where(Action.id.in_(shown))


def escalation_levels(action_ids: list[int]) -> dict[int, LadderStep]:
    """For each action, the highest rung taken in its current round or by hand (one query, also
    for no actions: a page costs the same queries whether or not it lists any)."""
    rows = db.session.execute(
        sa.select(Escalation.action_id, Escalation.step).join(Action, Action.id == Escalation.action_id)
        .where(Escalation.action_id.in_(action_ids),
               sa.or_(Escalation.round == Action.ladder_round,
                      Escalation.step.in_([LadderStep.MANUAL_AGENCY, LadderStep.MANUAL_CHAIR])))).all()
    order = [LadderStep.REMINDER, LadderStep.OVERDUE, LadderStep.AGENCY, LadderStep.MANUAL_AGENCY,
             LadderStep.CHAIR, LadderStep.MANUAL_CHAIR]
    out: dict[int, LadderStep] = {}
    for action_id, step in rows:
        if action_id not in out or order.index(step) > order.index(out[action_id]):
            out[action_id] = step
    return out


def case_actions(case_id: int, *, limit: int | None = None, offset: int = 0) -> list[Action]:
    """A case's actions, open first, soonest due first (a page of them with `limit`)."""
    query = (sa.select(Action).where(Action.case_id == case_id)
             .options(sa.orm.joinedload(Action.agency), sa.orm.joinedload(Action.assignee))
             .order_by(sa.case((Action.status == ActionStatus.OPEN, 0), else_=1), Action.due_on, Action.id))
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return list(db.session.scalars(query))


def case_action_counts(case_id: int) -> tuple[int, int]:
    """How many actions the case has, and how many are open (one query)."""
    total, open_ = db.session.execute(
        sa.select(sa.func.count(Action.id), sa.func.count(Action.id).filter(Action.status == ActionStatus.OPEN))
        .where(Action.case_id == case_id)).one()
    return total, open_


def load_action(action_id: int) -> Action | None:
    return db.session.scalar(
        sa.select(Action).where(Action.id == action_id).options(
            sa.orm.joinedload(Action.case).selectinload(Case.involvements),
            sa.orm.joinedload(Action.agency), sa.orm.joinedload(Action.assignee),
            sa.orm.selectinload(Action.updates).joinedload(ActionUpdate.by),
            sa.orm.selectinload(Action.escalations).joinedload(Escalation.by)))


def assignable_users(case: Case) -> list[User]:
    """Active SPoCs and practitioners of the agencies involved in the case."""
    return list(db.session.scalars(
        sa.select(User).join(Involvement, Involvement.agency_id == User.agency_id)
        .where(Involvement.case_id == case.id, User.active.is_(True),
               User.role.in_([Role.SPOC, Role.PRACTITIONER]))
        .options(sa.orm.joinedload(User.agency)).order_by(User.name)))
