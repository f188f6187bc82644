"""The action log pages: the coordinator's log with filters and its CSV export, "our actions" for
a SPoC or practitioner, each case's actions, an action's page with its history and escalations,
updating an action, escalating one by hand, and acknowledging an escalation.

Need to know: an action is case data, so whoever sees the full case record sees its actions
(policy.can_view_action); anyone else gets 404, audited as a refusal, as for a case. Updating is
for coordinators, the acting SPoC of the owning agency and whoever the action is assigned to
(policy.can_update_action). Every page that shows case data is audited as a view; every change
goes through panel.actions.services, which audits it and writes the case chronology. Pages run
a fixed number of queries whatever the size of the log (eager loads, one escalation query).
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any, Iterator
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user

from panel import audit, csvsafe, pagination as paging
from panel.actions import services
from panel.actions.forms import (
    TO_CHAIR,
    AcknowledgeForm,
    ChairAcknowledgeForm,
    ActionFilterForm,
    AddActionForm,
    ChaseForm,
    EscalateForm,
    UpdateActionForm,
)
from panel.csvsafe import formula_safe
from panel.dates import DateRange
from panel.auth.policy import (
    acts_as_spoc,
    can_access_case_records,
    can_update_action,
    can_view_action,
    isa_block_reason,
)
from panel.cases.access import load_case
from panel.extensions import db
from panel.forms.errors import ServiceError, show_service_error
from panel.dates import govuk_date, london_today
from panel.models import (
    Action,
    ActionStatus,
    Agency,
    AuditAction,
    Case,
    CaseStatus,
    Escalation,
    LadderStep,
    Role,
    User,
)

# The blueprint lives with the views, so importing the feature's services never loads its pages.
# No URL prefix: the log is at /actions/..., and each case's actions at /cases/<reference>/actions.
bp = Blueprint("actions", "panel.actions")

PAGE_SIZE = 50
EXPORT_BATCH = 1000  # actions per batch of the streamed export: one query for them, one for their escalations
CSV_HEADER = ("Action", "Case reference", "Agency", "Assigned to", "Description", "Due date", "Status", "Overdue",
              "Highest escalation", "Agreed on", "Closed on")


def _me() -> User:
    return current_user._get_current_object()


def _done(html: str) -> str:
    """Commit the view's audit entry once the page is rendered (nothing loaded is expired first)."""
    db.session.commit()
    return html


def _deny(object_type: str, object_id: Any, **summary: Any):
    """404, audited as a refusal (and nothing else of this request kept)."""
    db.session.rollback()
    audit.record(AuditAction.DENIED, object_type, object_id, summary=summary or None)
    db.session.commit()
    abort(404)


def _agency_ids(case: Case) -> set[int]:
    return {inv.agency_id for inv in case.involvements}


def _load(action_id: int, section: str) -> tuple[Action, set[int]]:
    """The action with its case, history and escalations, or 404 (audited) if this user may
    not see the case in full."""
    action = services.load_action(action_id)
    if action is None:
        abort(404)
    agency_ids = _agency_ids(action.case)
    if not can_view_action(_me(), agency_ids, london_today()):
        _deny("action", action_id, section=section)
    return action, agency_ids


def _count(query: sa.Select) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())).scalar_one()


def _page_of(query: sa.Select, endpoint: str, label: str, **url_values: Any) -> dict[str, Any]:
    """One page of the query's actions, their highest escalation, and the pagination."""
    total = _count(query)
    pages = max(1, -(-total // PAGE_SIZE))
    page = paging.page_number(pages)
    actions = list(db.session.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    return {"actions": actions, "total": total, "page": page, "pages": pages, "first": (page - 1) * PAGE_SIZE + 1,
            "levels": services.escalation_levels([a.id for a in actions]),
            "pagination": paging.pagination(endpoint, page, pages, label=label, **url_values)}


def _agencies() -> list[Agency]:
    return list(db.session.scalars(sa.select(Agency).order_by(Agency.name)))


# ---- the coordinator's action log and its export --------------------------------------------


COUNT_CAP = 10_000  # the log counts this far: beyond it, "more than 10,000" (narrow with the filters)


@bp.route("/actions")
def action_log():
    today = london_today()
    agencies = _agencies()  # held while the page renders: the signed-in user's agency is among them
    form = ActionFilterForm(request.args, agencies=agencies)
    context: dict[str, Any] = {"actions": [], "total": 0, "more": False, "page": 1, "pages": 1, "first": 1,
                               "levels": {}, "pagination": None}
    chosen: dict[str, str] = {}
    if form.check():
        chosen = form.filters()
        found = services.log_page(form.chosen(), today, size=PAGE_SIZE, cap=COUNT_CAP, page_of=paging.page_number)
        context = {"actions": found.actions, "total": found.total, "more": found.more, "page": found.page,
                   "pages": found.pages, "first": (found.page - 1) * PAGE_SIZE + 1,
                   "levels": services.escalation_levels([a.id for a in found.actions]),
                   "pagination": paging.pagination("actions.action_log", found.page, found.pages,
                                                   label="Action log pages", **chosen)}
    audit.record(AuditAction.VIEW, "action_log", summary={"filters": chosen, "page": context["page"]})
    return _done(render_template("actions/action_log.html", form=form, today=today, filtered=bool(chosen),
                                 chosen_filters=chosen, agencies=agencies,
                                 **context))


# The export's columns, and the log's order (open first, then soonest due) as a key to resume from.
_EXPORT_COLUMNS = (Action.id, Case.reference, Agency.name.label("agency"), User.name.label("assignee"),
                   Action.description, Action.due_on, Action.status, Action.created_at, Action.closed_at)
_OPEN_FIRST = sa.case((Action.status == ActionStatus.OPEN, 0), else_=1)
_EXPORT_ORDER = (_OPEN_FIRST, Action.due_on, Action.id)


def _export_ids(form: ActionFilterForm, dates: DateRange, today: date) -> sa.Select:
    """The ids of the actions to export: the log's filters (as action_query, which may name the
    case) and the dates agreed."""
    where = services.action_query(form.chosen(), today).whereclause
    query = sa.select(Action.id).join(Case, Case.id == Action.case_id)
    if where is not None:
        query = query.where(where)
    start, end = dates.utc_bounds()
    if start is not None:
        query = query.where(Action.created_at >= start)
    if end is not None:
        query = query.where(Action.created_at < end)
    return query


def _export_batch(ids: sa.Select, after: tuple[int, date, int] | None) -> sa.Select:
    """The next batch after the key `after` (None: the first), in the log's order: its actions
    chosen from the actions table alone, then their case, agency and assignee joined in (one
    statement; nothing loaded row by row, and the joins only for the batch's rows)."""
    chosen = ids.order_by(*_EXPORT_ORDER).limit(EXPORT_BATCH)
    if after is not None:
        chosen = chosen.where(sa.tuple_(*_EXPORT_ORDER) > sa.tuple_(
            sa.literal(after[0]), sa.literal(after[1], Action.due_on.type), sa.literal(after[2])))
    return (sa.select(*_EXPORT_COLUMNS, _OPEN_FIRST.label("open_first")).select_from(Action)
            .join(Case, Case.id == Action.case_id).join(Agency, Agency.id == Action.agency_id)
            .outerjoin(User, User.id == Action.assignee_id)
            .where(Action.id.in_(chosen)).order_by(*_EXPORT_ORDER))


def _export_lines(ids: sa.Select, today: date) -> Iterator[str]:
    """The CSV: a header, then the actions a batch at a time, each batch resuming after the
    last action sent (a key in the log's order, not an offset), with the batch's escalations
    in one query. Each batch ends its transaction before its rows go out: on SQLite every
    transaction takes the write lock, which nothing waiting on the network may hold. (The
    header goes with the first batch, which also ends what the request's last hooks began.)

    The batches are separate reads, so an action that changes status or due date while the
    file streams may be left out or sent twice; the audit entry counts the rows at the start."""
    buffer = io.StringIO()
    buffer.write(csvsafe.BOM)
    writer = csvsafe.writer(buffer)

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADER)
    after: tuple[int, date, int] | None = None
    while True:
        batch = db.session.execute(_export_batch(ids, after)).all()
        levels = services.escalation_levels([row.id for row in batch])
        db.session.rollback()
        for row in batch:
            level = levels.get(row.id)
            writer.writerow([
                row.id, formula_safe(row.reference), formula_safe(row.agency), formula_safe(row.assignee or ""),
                formula_safe(row.description), row.due_on.isoformat(), row.status.label,
                "Yes" if row.status == ActionStatus.OPEN and row.due_on < today else "No", level.label if level else "",
                london_today(row.created_at).isoformat(), london_today(row.closed_at).isoformat() if row.closed_at else "",
            ])
        yield take()
        if len(batch) < EXPORT_BATCH:
            return
        last = batch[-1]
        after = (last.open_first, last.due_on, last.id)


@bp.route("/actions/export.csv")
def export_actions():
    """The log as filtered, as a spreadsheet (CSV), of the actions agreed in the dates asked for
    (`from`, `to`), else in the last 12 months, or on any date with `all=y`. Cells that a
    spreadsheet would read as a formula are prefixed with an apostrophe. Streamed in batches;
    audited as an export, with the filters, the dates and the rows, before the first row goes."""
    today = london_today()
    form = ActionFilterForm(request.args, agencies=_agencies())
    if not form.check():
        query = urlencode(list(request.args.items(multi=True)))
        return redirect(url_for("actions.action_log") + (f"?{query}" if query else ""))
    dates = form.export_range(today)
    ids = _export_ids(form, dates, today)
    audit.record(AuditAction.EXPORT, "actions",
                 summary={"filters": form.filters(), "range": dates.summary(), "rows": _count(ids)})
    db.session.commit()
    return Response(stream_with_context(_export_lines(ids, today)), mimetype="text/csv",
                    headers={"Content-Disposition": csvsafe.disposition("actions", today)})


# ---- our actions ----------------------------------------------------------------------------


@bp.route("/actions/ours")
def our_actions():
    """The acting SPoC sees their agency's actions; anyone else the actions assigned to them.
    Open ones first, and those closed in the last four weeks; only on cases their agency is in."""
    user, today = _me(), london_today()
    agency = user.agency
    acting = acts_as_spoc(user)
    blocked = None if can_access_case_records(user, today) else isa_block_reason(agency, today)
    context: dict[str, Any] = {"actions": [], "total": 0, "page": 1, "pages": 1, "first": 1, "levels": {},
                               "pagination": None}
    # the home page's links: only the overdue ones, or only those due this week
    show = {name: "y" for name in ("overdue", "due_this_week") if request.args.get(name) == "y"}
    if blocked is None:
        query = services.our_actions_query(user, today, acting=acting, **{name: True for name in show})
        context = _page_of(query, "actions.our_actions", "Our actions pages", **show)
    audit.record(AuditAction.VIEW, "our_actions", summary={"agency": agency.code, "acting_spoc": acting,
                                                           "page": context["page"], "filters": sorted(show)})
    spoc = agency.acting_spoc
    return _done(render_template("actions/our_actions.html", today=today, acting=acting, blocked=blocked, agency=agency,
                                 spoc=spoc, deputy=user.role == Role.SPOC and agency.deputy_spoc_id == user.id,
                                 show=show, **context))



# ---- one action -------------------------------------------------------------------------------


def _people(ids: set[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(wanted)))}


# Record ids are capped at the largest 32-bit integer, so an absurd id is 404, not a database overflow.
@bp.route("/actions/<int(max=2147483647):action_id>")
def view_action(action_id: int):
    user, today = _me(), london_today()
    action, agency_ids = _load(action_id, "view")
    escalations = list(reversed(action.escalations))
    people = _people({e.acknowledged_by_id for e in escalations} | {action.created_by_id})
    audit.record(AuditAction.VIEW, "action", action.id, summary={"case": action.case.reference})
    return _done(render_template(
        "actions/view_action.html", action=action, case=action.case, today=today, people=people,
        updates=list(reversed(action.updates)), escalations=escalations,
        can_update=action.is_open and can_update_action(user, action, agency_ids, today),
        can_escalate=action.is_open and user.role == Role.COORDINATOR,
        can_chase=action.is_open and user.role == Role.COORDINATOR and action.is_overdue(today),
        acknowledgeable={e.id for e in escalations if services.can_acknowledge(user, e)}))


@bp.route("/actions/<int(max=2147483647):action_id>/update", methods=["GET", "POST"])
def update_action(action_id: int):
    user, today = _me(), london_today()
    action, agency_ids = _load(action_id, "update")
    if not can_update_action(user, action, agency_ids, today):
        _deny("action", action.id, section="update", change=True)
    previous = services.recent_update(action, user)
    form = UpdateActionForm(current_due=action.due_on, current_status=action.status, today=today, previous=previous,
                            data={"status": action.status} if request.method == "GET" else None)
    back = url_for("actions.view_action", action_id=action.id)
    if form.validate_on_submit():
        if form.repeat:
            flash("That update had already been saved.", "info")
            return redirect(back)
        if not action.is_open:
            flash(f"This action is {action.status.label.lower()}, so it can no longer be changed.", "info")
            return redirect(back)
        new_status = form.status.data if form.status.data != action.status else None
        try:
            services.update_action(action, by=user, note=form.note.data, status=new_status, due_on=form.new_due,
                                   reason=form.reason.data if form.new_due else "", today=today)
        except ServiceError as problem:
            show_service_error(form, problem, default="note")
        else:
            db.session.commit()
            if new_status is not None:
                flash(f"Action {action_id} has been updated. It is now {new_status.label.lower()}.", "success")
            else:
                flash(f"Action {action_id} has been updated.", "success")
            return redirect(back)
    audit.record(AuditAction.VIEW, "action", action.id, summary={"case": action.case.reference, "section": "update"})
    return _done(render_template("actions/update_action.html", action=action, case=action.case, form=form,
                                 today=today))


@bp.route("/actions/<int(max=2147483647):action_id>/escalate", methods=["GET", "POST"])
def escalate_action(action_id: int):
    """The coordinator escalates an open action by hand, to the agency's escalation contact or
    to the chair. They are emailed a link at once (issue 17), not in the next daily digest."""
    user = _me()
    action, _ = _load(action_id, "escalate")
    staff = services.StaffDirectory.load()
    told = {"agency": services.recipients(action, LadderStep.MANUAL_AGENCY, staff),
            "chair": services.recipients(action, LadderStep.MANUAL_CHAIR, staff)}
    form = EscalateForm()
    if action.is_open and form.validate_on_submit():
        before = {e.id for e in action.escalations}
        try:
            escalation = services.escalate_by_hand(action, to_chair=form.to.data == TO_CHAIR,
                                                   reason=form.reason.data, by=user)
        except ServiceError as problem:
            show_service_error(form, problem, default="reason")
        else:
            repeated = escalation.id in before
            who = "; ".join(escalation.told_list)
            db.session.commit()
            if repeated:
                flash("That escalation had already been recorded.", "info")
            else:
                flash(f"Action {action_id} has been escalated. Emailed a link now: {who}.",
                      "success")
            return redirect(url_for("actions.view_action", action_id=action_id))
    audit.record(AuditAction.VIEW, "action", action.id, summary={"case": action.case.reference, "section": "escalate"})
    return _done(render_template("actions/escalate_action.html", action=action, case=action.case, form=form,
                                 told=told))


@bp.route("/actions/<int(max=2147483647):action_id>/chase", methods=["POST"])
def chase_action(action_id: int):
    """The coordinator chases one overdue action now: its agency's SPoC is emailed a link."""
    action, _ = _load(action_id, "chase")
    return _chase([action], url_for("actions.view_action", action_id=action.id))


@bp.route("/actions/chase/agency/<int(max=2147483647):agency_id>", methods=["POST"])
def chase_agency(agency_id: int):
    """The coordinator chases every overdue action of one agency now, in one email to its SPoC."""
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        abort(404)
    back = request.form.get("back", "")
    if not back.startswith("/actions/") or "//" in back or "\\" in back:
        back = url_for("actions.action_log")
    return _chase(services.overdue_actions_of(agency.id), back)


CHASE_LIMIT = 500  # overdue actions chased by one press; more than this is a job for the ladder


@bp.route("/actions/chase/overdue", methods=["POST"])
def chase_overdue():
    """The coordinator chases every overdue action the action log shows (its filters in the query
    string) with one press: one email to each agency's SPoC, listing theirs by number."""
    form = ActionFilterForm(request.args, agencies=_agencies())
    if not form.check():
        return redirect(url_for("actions.action_log"))
    chosen = form.chosen()
    chosen.overdue = True
    query = services.action_query(chosen, london_today())
    return _chase(list(db.session.scalars(query.limit(CHASE_LIMIT))),
                  url_for("actions.action_log", **{**form.filters(), "overdue": "y"}))


def _chase(actions: list[Action], back: str):
    if not ChaseForm().validate_on_submit():
        flash("The form had expired, so nothing was sent. Try again.", "info")
        return redirect(back)
    try:
        emails, chased = services.chase(actions, by=_me())
    except ServiceError as problem:
        db.session.rollback()
        flash(problem.message, "info")
        return redirect(back)
    db.session.commit()
    if not chased:
        flash("Those actions were chased a few minutes ago, so nothing more was sent.", "info")
    else:
        flash(f"{chased} overdue action{'s' if chased != 1 else ''} chased: "
              f"{emails} email{'s' if emails != 1 else ''} sent to the SPoC"
              f"{'s' if emails != 1 else ''}{'' if emails else ' (no SPoC to tell)'}.", "success")
    return redirect(back)


@bp.route("/actions/escalations/<int(max=2147483647):escalation_id>/acknowledge", methods=["GET", "POST"])
def acknowledge_escalation(escalation_id: int):
    """The escalation contact (or a chair, for the chair's rungs) acknowledges from the link in
    their digest, with a comment. Once acknowledged, the page says so and by whom."""
    user, today = _me(), london_today()
    escalation = db.session.scalar(
        sa.select(Escalation).where(Escalation.id == escalation_id).options(
            sa.orm.joinedload(Escalation.action).joinedload(Action.case).selectinload(Case.involvements),
            sa.orm.joinedload(Escalation.action).joinedload(Action.agency),
            sa.orm.joinedload(Escalation.acknowledged_by)))
    if escalation is None:
        abort(404)
    action = escalation.action
    already = escalation.acknowledged_at is not None
    if not can_view_action(user, _agency_ids(action.case), today) or not (
            already or services.can_acknowledge(user, escalation)):
        _deny("escalation", escalation_id, section="acknowledge")
    form = ChairAcknowledgeForm() if user.role == Role.CHAIR else AcknowledgeForm()
    if not already and form.validate_on_submit():
        try:
            services.acknowledge(escalation, by=user, comment=form.comment.data)
        except ServiceError as problem:
            show_service_error(form, problem, default="comment")
        else:
            db.session.commit()
            flash(f"You have acknowledged the escalation of action {action.id}.", "success")
            return redirect(url_for("actions.view_action", action_id=action.id))
    audit.record(AuditAction.VIEW, "escalation", escalation.id, summary={"case": action.case.reference})
    return _done(render_template("actions/acknowledge.html", escalation=escalation, action=action, case=action.case,
                                 form=form, already=already))


# ---- each case's actions ------------------------------------------------------------------------


@bp.route("/cases/<reference>/actions")
def case_actions(reference: str):
    view = load_case(reference, need_full=True, section="actions")
    case, today = view.case, london_today()
    total, open_ = services.case_action_counts(case.id)
    pages = max(1, -(-total // PAGE_SIZE))
    page = paging.page_number(pages)
    actions = services.case_actions(case.id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return _done(render_template(
        "actions/case_actions.html", view=view, case=case, actions=actions, today=today, total=total,
        open_count=open_, first=(page - 1) * PAGE_SIZE + 1,
        pagination=paging.pagination("actions.case_actions", page, pages, label="Action pages",
                                     reference=case.reference),
        levels=services.escalation_levels([a.id for a in actions]),
        can_add=_me().role == Role.COORDINATOR and case.status != CaseStatus.CLOSED))


@bp.route("/cases/<reference>/actions/new", methods=["GET", "POST"])
def add_action(reference: str):
    view = load_case(reference, need_full=True, section="actions")
    case, user, today = view.case, _me(), london_today()
    closed = case.status == CaseStatus.CLOSED
    agencies = sorted((inv.agency for inv in case.involvements), key=lambda a: a.name.lower())
    people = services.assignable_users(case)
    form = AddActionForm(agencies=agencies, people=people, today=today)
    back = url_for("actions.case_actions", reference=case.reference)
    if not closed and form.validate_on_submit():
        if services.just_added(case, by=user, agency_id=form.agency_id.data, due_on=form.due_on.data,
                               description=form.description.data) is not None:
            db.session.commit()  # the audited view
            flash("That action had already been added.", "info")
            return redirect(back)
        agency = next(a for a in agencies if a.id == form.agency_id.data)
        try:
            action = services.create_action(case, description=form.description.data, agency=agency,
                                            due_on=form.due_on.data, by=user,
                                            assignee=form.people.get(form.assignee_id.data), today=today)
        except ServiceError as problem:
            show_service_error(form, problem, default="description")
        else:
            due = govuk_date(action.due_on)
            db.session.commit()
            flash(f"Action {action.id} has been added for {agency.name}, due {due}.", "success")
            return redirect(back)
    return _done(render_template("actions/add_action.html", view=view, case=case, form=form, closed=closed))
