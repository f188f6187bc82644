"""Engagement log, pattern view, chronology, and closure with step-down.

Every page loads the case through load_case(..., need_full=True), which applies need to know
(404 otherwise) and audits the view. Changes need view.can_change, except the chair's decision
on closure (the access table lets only chairs reach it; chairs read the record and decide at
panel). Pages read a fixed number of queries whatever the size of the case: lists are
paginated in SQL and the patterns are GROUP BY queries. A page is rendered before the view's
audit entry is committed, so nothing is reloaded after the commit. The services check before
they change anything, so a refusal leaves nothing to roll back and the view is still audited.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from panel import audit, pagination as paging
from panel.cases import patterns as pattern_figures, services
from panel.cases.access import CaseView, load_case
from panel.cases.engagement_forms import (
    APPROVE,
    AttemptForm,
    ChronologyFilterForm,
    DecideClosureForm,
    EngagementFilterForm,
    ProposeClosureForm,
    ReopenForm,
)
from panel.cases.views import bp
from panel.extensions import db
from panel.forms.errors import ServiceError, show_service_error
from panel.models import (
    Action,
    Agency,
    AuditAction,
    Case,
    CaseEvent,
    CaseNotice,
    CaseStatus,
    EngagementAttempt,
    EngagementMethod,
    EngagementOutcome,
    ReferralDecision,
    User,
    utcnow,
)
from panel.dates import london_today

PAGE_SIZE = 50
PRINT_LIMIT = 2000
ACTION_NAME_MAX = 60  # an action's description, shortened, where the chronology names it

# Chronology types. Meetings, actions and escalations are written by later parts of the service.
KIND_LABELS = {
    "referral": "Referral and triage",
    "meeting": "Meetings",
    "action": "Actions",
    "escalation": "Escalations",
    "risk": "Risk",
    "staff_safety": "Staff safety",
    "agency": "Agencies",
    "engagement": "Engagement",
    "notice": "Notices",
    "insight": "Insight",
    "outcome": "The person’s outcomes",
    "closure": "Closure",
}
DECISION_LABELS = {
    "submitted": "Referral submitted",
    "resubmitted": "Referral resubmitted with more information",
    "to_panel": "Referral put on the panel’s agenda",
    "info_requested": "More information requested",
    "declined": "Referral declined",
    "declined_at_panel": "Referral declined at panel",
    "withdrawn": "Referral withdrawn",
    "promoted": "Referral moved from the waiting list",
    "accepted": "Referral accepted into the pathway",
}


def _user() -> User:
    return current_user._get_current_object()


def _done(html: str) -> str:
    """Commit the view's audit entry once the page is rendered."""
    db.session.commit()
    return html


def _changeable(view: CaseView, section: str) -> None:
    """404, audited as a refusal (not as a view), unless this user may change the case."""
    if not view.can_change:
        db.session.rollback()
        audit.record(AuditAction.DENIED, "case", view.case.reference, summary={"section": section, "change": True})
        db.session.commit()
        abort(404)


def _involved(case: Case) -> list[Agency]:
    return sorted((inv.agency for inv in case.involvements), key=lambda a: a.name.lower())


# ---- engagement log ---------------------------------------------------------------------


@bp.route("/<reference>/engagement")
def engagement(reference: str):
    view = load_case(reference, need_full=True, section="engagement")
    case = view.case
    filters = EngagementFilterForm(request.args, agencies=_involved(case))
    agency_id, outcome = filters.chosen()
    where = [EngagementAttempt.case_id == case.id]
    if agency_id is not None:
        where.append(EngagementAttempt.agency_id == agency_id)
    if outcome is not None:
        where.append(EngagementAttempt.outcome == outcome)
    total = db.session.execute(sa.select(sa.func.count(EngagementAttempt.id)).where(*where)).scalar_one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = paging.page_number(pages)
    attempts = db.session.execute(
        sa.select(EngagementAttempt).where(*where)
        .options(sa.orm.joinedload(EngagementAttempt.agency), sa.orm.joinedload(EngagementAttempt.recorded_by))
        .order_by(EngagementAttempt.occurred_at.desc(), EngagementAttempt.id.desc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).scalars().all()
    chosen = filters.filters()
    return _done(render_template(
        "cases/engagement.html", view=view, case=case, filters=filters, attempts=attempts, total=total,
        page=page, pages=pages, first=(page - 1) * PAGE_SIZE + 1, filtered=bool(chosen),
        pagination=paging.pagination("cases.engagement", page, pages, label="Engagement log pages", reference=case.reference, **chosen)))


@bp.route("/<reference>/engagement/new", methods=["GET", "POST"])
def add_attempt(reference: str):
    view = load_case(reference, need_full=True, section="engagement")
    _changeable(view, "engagement")
    case, user = view.case, _user()
    agencies = _involved(case)
    default = user.agency_id if user.agency_id in view.agency_ids else None
    form = AttemptForm(agencies=agencies, now=utcnow(), data={"agency_id": default} if request.method == "GET" else None)
    closed = case.status == CaseStatus.CLOSED
    if not closed and form.validate_on_submit():
        agency = next(a for a in agencies if a.id == form.agency_id.data)
        notices = _missed_visit_notices(case.id)
        try:
            services.record_attempt(
                case, agency=agency, method=EngagementMethod(form.method.data), occurred_at=form.occurred_at,
                outcome=EngagementOutcome(form.outcome.data), by=user, planned=form.planned.data,
                persons_words=form.persons_words.data, worker_view=form.worker_view.data,
                non_engagement=form.non_engagement.data, small_step=form.small_step.data)
        except ServiceError as problem:  # a time in the future by the time it is saved
            show_service_error(form, problem, default="occurred_time")
        else:
            raised = _missed_visit_notices(case.id) > notices
            db.session.commit()
            flash("The attempt has been recorded.", "success")
            if raised:
                flash("Two planned visits in a row have been missed. The lead agency’s SPoC and the "
                      "coordinators have been told.", "info")
            return redirect(url_for("cases.engagement", reference=case.reference))
    return _done(render_template("cases/add_attempt.html", view=view, case=case, form=form, closed=closed))


def _missed_visit_notices(case_id: int) -> int:
    return db.session.execute(sa.select(sa.func.count(CaseNotice.id)).where(
        CaseNotice.case_id == case_id, CaseNotice.kind == "missed_visits")).scalar_one()


@bp.route("/<reference>/engagement/patterns")
def engagement_patterns(reference: str):
    view = load_case(reference, need_full=True, section="engagement_patterns")
    figures = pattern_figures.patterns(view.case.id)
    return _done(render_template("cases/patterns.html", view=view, case=view.case, p=figures,
                                 charts=pattern_figures.charts(figures)))


# ---- chronology ---------------------------------------------------------------------------


def _timeline(case: Case) -> sa.Subquery:
    """The case's events and its referral's decisions as one list (UNION ALL): at, kind,
    agency_id, by_id, summary, reason, source, row_id. Referral decisions are not copied onto
    the case, so they are read from where they are."""
    events = sa.select(
        CaseEvent.at.label("at"), CaseEvent.kind.label("kind"), CaseEvent.agency_id.label("agency_id"),
        CaseEvent.by_id.label("by_id"), CaseEvent.summary.label("summary"),
        sa.literal_column("''", sa.Text).label("reason"), sa.literal_column("'case'", sa.String).label("source"),
        CaseEvent.id.label("row_id"), CaseEvent.ref_type.label("ref_type"), CaseEvent.ref_id.label("ref_id"),
    ).where(CaseEvent.case_id == case.id)
    decisions = sa.select(
        ReferralDecision.at, sa.literal_column("'referral'", sa.String), User.agency_id, ReferralDecision.by_id,
        ReferralDecision.outcome, ReferralDecision.reason, sa.literal_column("'referral'", sa.String),
        ReferralDecision.id, sa.literal_column("''", sa.String), sa.cast(sa.null(), sa.Integer),
    ).outerjoin(User, User.id == ReferralDecision.by_id).where(ReferralDecision.referral_id == case.referral_id)
    return sa.union_all(events, decisions).subquery("timeline")


def _timeline_rows(rows) -> list[dict[str, Any]]:
    entries = []
    for row in rows:
        if row.source == "referral":
            summary = DECISION_LABELS.get(row.summary, row.summary.replace("_", " ").capitalize())
            reason = (row.reason or "").strip()
            if reason:
                summary = f"{summary}: {reason[:300]}{'…' if len(reason) > 300 else ''}"
        else:
            summary = row.summary
        entries.append({"at": row.at, "kind": row.kind, "kind_label": KIND_LABELS.get(row.kind, row.kind.replace("_", " ").capitalize()),
                        "agency": row.agency_name, "by": row.by_name, "summary": summary,
                        "id": f"{row.source}-{row.row_id}", **_action_named(row, summary)})
    return entries


def short(text: str, limit: int = ACTION_NAME_MAX) -> str:
    """Text cut at a word to about ``limit`` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(",;:.") + "…"


def _action_named(row, summary: str) -> dict[str, Any]:
    """An entry about an action ("Action 7: due date changed ...") names the action and links to
    it: the template shows the link, then the rest of the summary."""
    prefix = f"Action {row.ref_id}"
    if row.ref_type != "action" or row.ref_id is None or not summary.startswith(prefix):
        return {}
    name = f"{prefix} ({short(row.action_description)})" if row.action_description else prefix
    return {"action_url": url_for("actions.view_action", action_id=row.ref_id), "action_name": name,
            "summary": summary[len(prefix):]}


@bp.route("/<reference>/chronology")
def chronology(reference: str):
    view = load_case(reference, need_full=True, section="chronology")
    case = view.case
    timeline = _timeline(case)
    agencies = db.session.execute(
        sa.select(Agency.id, Agency.name).where(Agency.id.in_(sa.select(timeline.c.agency_id).distinct()))
        .order_by(Agency.name)).all()
    filters = ChronologyFilterForm(request.args, kinds=KIND_LABELS, agencies=[(a.id, a.name) for a in agencies])
    kind, agency_id = filters.chosen()
    where = []
    if kind is not None:
        where.append(timeline.c.kind == kind)
    if agency_id is not None:
        where.append(timeline.c.agency_id == agency_id)
    chosen = {k: v for k, v in (("kind", kind), ("agency", agency_id)) if v is not None}
    printing = request.args.get("print") == "1"
    total = db.session.execute(sa.select(sa.func.count()).select_from(timeline).where(*where)).scalar_one()
    if printing:
        page, pages, limit, offset = 1, 1, PRINT_LIMIT, 0
    else:
        pages = max(1, -(-total // PAGE_SIZE))
        page = paging.page_number(pages)
        limit, offset = PAGE_SIZE, (page - 1) * PAGE_SIZE
    by = sa.orm.aliased(User)
    rows = db.session.execute(
        sa.select(timeline, Agency.name.label("agency_name"), by.name.label("by_name"),
                  Action.description.label("action_description"))
        .outerjoin(Agency, Agency.id == timeline.c.agency_id).outerjoin(by, by.id == timeline.c.by_id)
        .outerjoin(Action, sa.and_(timeline.c.ref_type == "action", Action.id == timeline.c.ref_id))
        .where(*where).order_by(timeline.c.at.desc(), timeline.c.source, timeline.c.row_id.desc())
        .limit(limit).offset(offset)).all()
    entries = _timeline_rows(rows)
    filter_words = ", ".join(([KIND_LABELS[kind]] if kind else []) + [n for i, n in agencies if i == agency_id])
    return _done(render_template(
        "cases/chronology.html", view=view, case=case, filters=filters, entries=entries, total=total, page=page,
        pages=pages, first=offset + 1, filtered=bool(chosen), printing=printing, print_limit=PRINT_LIMIT,
        printed_at=utcnow(), filter_words=filter_words,
        print_url=url_for("cases.chronology", reference=case.reference, **chosen, print=1),
        screen_url=url_for("cases.chronology", reference=case.reference, **chosen),
        pagination=None if printing else paging.pagination("cases.chronology", page, pages, label="Chronology pages", reference=case.reference, **chosen)))


# ---- closure and step-down ----------------------------------------------------------------


def _closure_people(case: Case) -> dict[int, str]:
    ids = {i for i in (case.closure_proposed_by_id, case.closure_approved_by_id) if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all())


def _closure_context(case: Case) -> dict[str, Any]:
    step_down = db.session.get(Agency, case.step_down_agency_id) if case.step_down_agency_id else None
    return {
        "check": services.closure_check(case),
        "persistence": services.persistence_record(case.id) if case.closure_for_non_engagement else None,
        "people": _closure_people(case),
        "step_down": step_down,
    }


@bp.route("/<reference>/closure")
def closure(reference: str):
    view = load_case(reference, need_full=True, section="closure")
    return _done(render_template("cases/closure.html", view=view, case=view.case, **_closure_context(view.case)))


@bp.route("/<reference>/closure/propose", methods=["GET", "POST"])
def propose_closure(reference: str):
    view = load_case(reference, need_full=True, section="closure")
    _changeable(view, "closure")
    case, today = view.case, london_today()
    agencies = db.session.execute(sa.select(Agency).order_by(Agency.name)).scalars().all()
    data = None
    if request.method == "GET":
        data = {"rationale": case.closure_rationale, "for_non_engagement": case.closure_for_non_engagement,
                "step_down_agency_id": case.step_down_agency_id, "step_down_accepted_by": case.step_down_accepted_by,
                "step_down_accepted_on": case.step_down_accepted_on}
    form = ProposeClosureForm(agencies=agencies, today=today, data=data)
    can_propose = case.status == CaseStatus.ACTIVE
    if can_propose and form.validate_on_submit():
        step_down = next((a for a in agencies if a.id == form.step_down_agency_id.data), None)
        try:
            services.propose_closure(
                case, rationale=form.rationale.data, for_non_engagement=form.for_non_engagement.data,
                step_down_agency=step_down, accepted_by=form.step_down_accepted_by.data,
                accepted_on=form.step_down_accepted_on.data, by=_user())
        except ServiceError as problem:
            show_service_error(form, problem, default="rationale")
        else:
            db.session.commit()
            flash("Closure has been proposed. The chair decides at panel.", "success")
            return redirect(url_for("cases.closure", reference=case.reference))
    return _done(render_template("cases/propose_closure.html", view=view, case=case, form=form,
                                 can_propose=can_propose))


@bp.route("/<reference>/closure/decision", methods=["GET", "POST"])
def decide_closure(reference: str):
    """The chair's decision at panel: approve (closes the case and frees its place) or return."""
    view = load_case(reference, need_full=True, section="closure")
    case, user = view.case, _user()
    form = DecideClosureForm(today=london_today())
    proposed = case.status == CaseStatus.CLOSURE_PROPOSED
    if proposed and form.validate_on_submit():
        try:
            if form.decision.data == APPROVE:
                services.approve_closure(case, panel_date=form.panel_date.data, by=user)
                message = "The case is closed. Its place in the pathway is free."
            else:
                services.return_closure(case, reason=form.reason.data, by=user)
                message = "The closure has been returned to the coordinator."
        except ServiceError as problem:  # e.g. the checklist is not met: the message lists what is missing
            show_service_error(form, problem, default="decision")
        else:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for("cases.closure", reference=case.reference))
    context = _closure_context(case)
    return _done(render_template("cases/decide_closure.html", view=view, case=case, form=form, proposed=proposed,
                                 **context))


@bp.route("/<reference>/reopen", methods=["GET", "POST"])
def reopen_case(reference: str):
    view = load_case(reference, need_full=True, section="closure")
    _changeable(view, "closure")
    case = view.case
    form = ReopenForm()
    closed = case.status == CaseStatus.CLOSED
    if closed and form.validate_on_submit():
        try:
            services.reopen(case, reason=form.reason.data, by=_user())
        except ServiceError as problem:  # the pathway is full, or the case was reopened meanwhile
            show_service_error(form, problem, default="reason")
        else:
            db.session.commit()
            flash("The case has been reopened. It takes a place in the pathway again.", "success")
            return redirect(url_for("cases.closure", reference=case.reference))
    return _done(render_template("cases/reopen_case.html", view=view, case=case, form=form, closed=closed))
