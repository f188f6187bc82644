"""The daily escalation sweep (07:00 Europe/London, and `flask --app wsgi panel run-job escalations`).

1. Take every open action whose next rung is due (next_step_on <= today, read through the
   ix_actions_ladder index: only those rows, never the whole log).
2. Take the rungs due today, each recorded once as an Escalation row (unique per action, rung
   and round; inserted with ON CONFLICT DO NOTHING) with who was told, and move the action on
   to its next rung.
3. Send each person with something waiting one digest email for the day (unique per person and
   London day), listing items with links: the action number, the case reference and the agency
   name, never the adult's details or the action's text.

Idempotent: a second run finds nothing due and no digest to send. Two runs at once on
PostgreSQL are serialised by a transaction-level advisory lock (SQLite transactions already
begin IMMEDIATE), and the unique rows stop any double even without it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from panel import audit, notify
from panel.actions import ladder
from panel.actions.services import (
    StaffDirectory,
    acknowledge_link,
    action_link,
    offsets,
    recipients,
    told_text,
)
from panel.dates import govuk_date, london_today
from panel.extensions import db
from panel.models import (
    Action,
    ActionStatus,
    Agency,
    AuditAction,
    Case,
    Digest,
    DigestItem,
    Escalation,
    LadderStep,
    Role,
    User,
    utcnow,
)

PG_SWEEP_LOCK = 726_103  # advisory lock key (panel.audit uses 726_101, the scheduler 726_102)


def _insert(table: sa.Table):
    """INSERT ... ON CONFLICT DO NOTHING for the current database."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)).on_conflict_do_nothing()


def _lock() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_SWEEP_LOCK})


@dataclass(frozen=True)
class DueAction:
    """What the sweep needs of an open action with a rung due: read as plain rows rather than
    as ORM objects, so that thousands of them cost no unit-of-work bookkeeping. Has the
    `agency` and `assignee` that services.recipients() reads."""

    id: int
    due_on: date
    next_step: LadderStep
    ladder_round: int
    agency: Agency
    assignee: User | None


def due_actions(today: date) -> list[DueAction]:
    """Open actions with a rung due on or before today (through ix_actions_ladder), with their
    agencies (SPoC, deputy, escalation contact) and assignees: three queries whatever the count."""
    due = sa.and_(Action.next_step_on <= today, Action.status == ActionStatus.OPEN)
    rows = db.session.execute(
        sa.select(Action.id, Action.due_on, Action.next_step, Action.ladder_round, Action.agency_id, Action.assignee_id)
        .where(due).order_by(Action.id)).all()
    if not rows:
        return []
    agencies = {a.id: a for a in db.session.scalars(
        sa.select(Agency).where(Agency.id.in_(sa.select(Action.agency_id).where(due)))
        .options(sa.orm.joinedload(Agency.spoc), sa.orm.joinedload(Agency.deputy_spoc),
                 sa.orm.joinedload(Agency.escalation_contact)))}
    assignees = {u.id: u for u in db.session.scalars(
        sa.select(User).where(User.id.in_(sa.select(Action.assignee_id).where(due))))}
    return [DueAction(r.id, r.due_on, r.next_step, r.ladder_round, agencies[r.agency_id], assignees.get(r.assignee_id))
            for r in rows]


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Job "escalations": take the rungs due today, then send the day's digests. Commits."""
    now = now or utcnow()
    today = london_today(now)
    _lock()
    steps_taken = _climb(today, now)
    digests = send_digests(today, now)
    if steps_taken or digests:
        audit.record(AuditAction.UPDATE, "escalation_sweep", today.isoformat(),
                     summary={"steps": steps_taken, "digests": digests})
    db.session.commit()
    return {"steps": steps_taken, "digests": digests}


def _climb(today: date, now: datetime) -> int:
    actions = due_actions(today)
    if not actions:
        return 0
    staff = StaffDirectory.load()
    steps = offsets()
    rows: list[dict] = []
    told: dict[tuple[int, str], list[int]] = {}
    moved: list[dict] = []
    to_chair: list[dict] = []
    who_for: dict[tuple, tuple[str, int | None, list[int]]] = {}  # the same people for the same agency
    for action in actions:
        plan = ladder.plan(action.due_on, today, steps, start=action.next_step)
        dates = ladder.step_dates(action.due_on, steps)
        for step in plan.due_now:
            key = (step, action.agency.id, action.assignee.id if action.assignee else None)
            if key not in who_for:
                who = recipients(action, step, staff)
                who_for[key] = (told_text(who.users, who.note), who.contact.id if who.contact else None,
                                [u.id for u in who.users])
            text, contact_id, user_ids = who_for[key]
            rows.append({"action_id": action.id, "step": step.value, "round": action.ladder_round,
                         "due_for": dates[step], "at": now, "told": text, "contact_id": contact_id,
                         "reason": "", "acknowledgement": ""})
            told[(action.id, step.value)] = user_ids
        change = {"b_id": action.id, "b_step": plan.next_step, "b_on": plan.next_on, "b_round": action.ladder_round}
        (to_chair if LadderStep.CHAIR in plan.due_now else moved).append(change)
    still = _move_on(moved, to_chair, now)
    rows = [r for r in rows if r["action_id"] in still]  # closed or re-dated since read: no rung
    if not rows:
        return 0
    table = Escalation.__table__
    inserted = db.session.execute(
        _insert(table).returning(table.c.id, table.c.action_id, table.c.step), rows).all()
    items = [{"user_id": user_id, "escalation_id": esc_id, "created_at": now}
             for esc_id, action_id, step in inserted
             for user_id in told.get((action_id, str(step)), [])]
    if items:
        db.session.execute(_insert(DigestItem.__table__), items)
    return len(inserted)


def _id_lists(ids: list[int], size: int = 5000):
    """Ids in chunks, each rendered into the statement as literal integers (`IN (1, 2, ...)`):
    cheaper than thousands of bound parameters, and safe, as they are ints from our own rows."""
    for start in range(0, len(ids), size):
        yield sa.bindparam("ids", [int(i) for i in ids[start:start + size]], expanding=True, literal_execute=True)


def _move_on(moved: list[dict], to_chair: list[dict], now: datetime) -> set[int]:
    """Point each action at its next rung (and mark those escalated to the chair): one UPDATE
    per next rung and date, which thousands of actions share; those already in the session
    are expired. An action closed, or given a new due date (a new round), since it was read
    is left as its user left it, and takes no rung. Returns the ids that were moved on."""
    t = Action.__table__
    groups: dict[tuple, list[int]] = defaultdict(list)
    still: set[int] = set()
    for chair, changes in ((False, moved), (True, to_chair)):
        for c in changes:
            groups[(c["b_step"], c["b_on"], c["b_round"], chair)].append(c["b_id"])
    for (step, on, ladder_round, chair), ids in groups.items():
        values = {"next_step": step, "next_step_on": on, **({"escalated_to_chair_at": now} if chair else {})}
        for chunk in _id_lists(ids):
            still.update(db.session.execute(
                t.update().where(t.c.id.in_(chunk), t.c.ladder_round == ladder_round, t.c.status == ActionStatus.OPEN)
                .values(**values).returning(t.c.id)).scalars())
    changed = {c["b_id"] for c in moved} | {c["b_id"] for c in to_chair}
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Action) and obj.id in changed:
            db.session.expire(obj, ["next_step", "next_step_on", "escalated_to_chair_at"])
    return still


_LINES = {
    LadderStep.REMINDER: "Action {id} on case {ref} ({agency}) is due on {due}.",
    LadderStep.OVERDUE: "Action {id} on case {ref} ({agency}) was due on {due} and is overdue.",
    LadderStep.AGENCY: "Action {id} on case {ref} ({agency}) was due on {due} and has been escalated to you "
                       "as the agency’s escalation contact. Please acknowledge it.",
    LadderStep.CHAIR: "Action {id} on case {ref} ({agency}) was due on {due} and has been escalated to the "
                      "panel chair. It will be on the next panel’s agenda.",
    LadderStep.MANUAL_AGENCY: "The coordinator has escalated action {id} on case {ref} ({agency}) to you as the "
                              "agency’s escalation contact. Please acknowledge it.",
    LadderStep.MANUAL_CHAIR: "The coordinator has escalated action {id} on case {ref} ({agency}) to the panel chair.",
}


def send_digests(today: date, now: datetime) -> int:
    """One email per person with waiting items and no digest yet today. Items that arrive after
    a person's digest has gone wait for tomorrow's."""
    pending = db.session.execute(
        sa.select(DigestItem.id, DigestItem.user_id, Escalation.id, Escalation.step, Escalation.contact_id,
                  Action.id, Action.due_on, Case.reference, Agency.name)
        .join(Escalation, Escalation.id == DigestItem.escalation_id)
        .join(Action, Action.id == Escalation.action_id)
        .join(Case, Case.id == Action.case_id)
        .join(Agency, Agency.id == Action.agency_id)
        .where(DigestItem.digest_id.is_(None))
        .order_by(DigestItem.user_id, Action.due_on, Action.id, Escalation.id)).all()
    if not pending:
        return 0
    by_user: dict[int, list] = defaultdict(list)
    for row in pending:
        by_user[row[1]].append(row)
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(list(by_user))))}
    # one row per person for today; those who already had today's digest get none back, and
    # their items wait for tomorrow's
    digests = Digest.__table__
    made = dict(db.session.execute(
        _insert(digests).returning(digests.c.user_id, digests.c.id),
        [{"user_id": user_id, "day": today, "sent_at": now, "items": len(rows)} for user_id, rows in by_user.items()]
    ).all())
    if not made:
        return 0
    items = DigestItem.__table__
    for user_id, digest_id in made.items():  # exactly the items in this person's email
        for chunk in _id_lists([row[0] for row in by_user[user_id]]):
            db.session.execute(items.update().where(items.c.id.in_(chunk)).values(digest_id=digest_id))
    subject = f"{current_app.config['SERVICE_NAME']}: your actions for {govuk_date(today)}"
    sent = 0
    for user_id in made:
        user = users.get(user_id)
        if user is None or not user.active:
            continue
        notify.queue_email(to=user.email, subject=subject, body=_digest_body(user, by_user[user_id], today))
        sent += 1
    return sent


@lru_cache(maxsize=2048)
def _date_words(day: date) -> str:
    return govuk_date(day)


def _digest_body(user: User, rows: list, today: date) -> str:
    lines = [f"Hello {user.name},", "",
             f"{len(rows)} item{'s' if len(rows) != 1 else ''} on the action log need{'s' if len(rows) == 1 else ''} "
             "your attention today.", ""]
    for _item_id, _user_id, esc_id, step, contact_id, action_id, due_on, reference, agency_name in rows:
        step = LadderStep(step)
        lines.append("- " + _LINES[step].format(id=action_id, ref=reference, agency=agency_name, due=_date_words(due_on)))
        if step.is_escalation and (contact_id == user.id or (step.to_chair and user.role == Role.CHAIR)):
            lines.append(f"  Acknowledge: {acknowledge_link(esc_id)}")
        else:
            lines.append(f"  Open: {action_link(action_id)}")
    lines += ["", "You need to sign in to see the details. This email holds no personal information.",
              "You get one email a day, only when there is something for you."]
    return "\n".join(lines)
