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

from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from panel import audit, pagination as paging
from panel.cases import chronology as timeline, patterns as pattern_figures, services
from panel.cases.access import CaseView, load_case
from panel.cases.engagement_forms import (
    APPROVE,
    AttemptForm,
    ChronologyFilterForm,
    ChronologyPrintForm,
    DecideClosureForm,
    EngagementFilterForm,
    PRINT_MONTHS,
    ProposeClosureForm,
    ReopenForm,
)
from panel.cases.views import bp
from panel.extensions import db
from panel.forms.errors import ServiceError, show_service_error
from panel.models import (
    Agency,
    AuditAction,
    Case,
    CaseNotice,
    CaseStatus,
    EngagementAttempt,
    EngagementMethod,
    EngagementOutcome,
    User,
    utcnow,
)
from panel.dates import LONDON, govuk_date, govuk_time, london_today

PAGE_SIZE = 50
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


@dataclass(slots=True)
class Entry:
    """One line of the chronology as the template shows it (attributes, not a dict: a printed
    chronology reads eight of them on each of hundreds of rows)."""

    at: datetime
    iso: str     # <time datetime>
    when: str    # "14 January 2027 at 2:05pm", UK time
    kind: str
    kind_label: str
    agency: str
    by: str
    summary: str
    id: str
    action_url: str = ""
    action_name: str = ""


def _timeline_rows(rows) -> list[Entry]:
    """The template's entries from chronology.entries' rows (unpacked in column order, which is
    quicker than reading a row's attributes by name on hundreds of rows)."""
    entries = []
    action_url = _action_urls()
    for at, kind, _agency_id, _by_id, summary, reason, source, row_id, ref_type, ref_id, agency, by, action in rows:
        if source == "referral":
            summary = DECISION_LABELS.get(summary) or summary.replace("_", " ").capitalize()
            reason = (reason or "").strip()
            if reason:
                summary = f"{summary}: {reason[:300]}{'…' if len(reason) > 300 else ''}"
        entry = Entry(at, _iso(at), f"{_day(at.astimezone(LONDON).date())} at {govuk_time(at)}", kind,
                      KIND_LABELS.get(kind) or kind.replace("_", " ").capitalize(), agency or "", by or "", summary,
                      f"{source}-{row_id}")
        if ref_type == "action" and ref_id is not None:
            _action_named(entry, ref_id, action, action_url)
        entries.append(entry)
    return entries


def _iso(moment: datetime) -> str:
    """dates.html_datetime's answer (2027-01-14T14:05:09Z), without strftime, which costs more
    than the rest of a row of a printed chronology."""
    return moment.astimezone(timezone.utc).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


@lru_cache(maxsize=1024)
def _day(day: date) -> str:
    """govuk_date, remembered: a printed chronology has a few entries a day."""
    return govuk_date(day)


def _action_urls():
    """action id -> its page's address, url_for's answer built once (url_for for each of hundreds
    of rows is the dearest part of a printed chronology)."""
    head, _, tail = url_for("actions.view_action", action_id=2**31 - 1).partition(str(2**31 - 1))
    return lambda action_id: f"{head}{int(action_id)}{tail}"


def short(text: str, limit: int = ACTION_NAME_MAX) -> str:
    """Text cut at a word to about ``limit`` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(",;:.") + "…"


def _action_named(entry: Entry, action_id: int, description: str | None, action_url) -> None:
    """An entry about an action ("Action 7: due date changed ...") names the action and links to
    it: the template shows the link, then the rest of the summary."""
    prefix = f"Action {action_id}"
    if not entry.summary.startswith(prefix):
        return
    entry.action_name = f"{prefix} ({short(description)})" if description else prefix
    entry.action_url = action_url(action_id)
    entry.summary = entry.summary[len(prefix):]


@bp.route("/<reference>/chronology")
def chronology(reference: str):
    """The chronology, fifty entries a page, with filters by type and agency; `print=1` is the
    printable version: every entry the filters leave between two dates, by default the last
    PRINT_MONTHS months of the chronology (to its newest entry), every date with `all=y`."""
    view = load_case(reference, need_full=True, section="chronology")
    case = view.case
    counts = timeline.summary(case)
    filters = ChronologyFilterForm(request.args, kinds=KIND_LABELS, agencies=counts.agencies)
    kind, agency_id = filters.chosen()
    chosen = {k: v for k, v in (("kind", kind), ("agency", agency_id)) if v is not None}
    total = counts.total(kind, agency_id)
    print_form = ChronologyPrintForm(request.args)
    dates_ok = print_form.validate()
    last_day = counts.last_day()
    dates = print_form.dates(last_day) if dates_ok else None
    printing = request.args.get("print") == "1" and dates_ok
    if printing:
        page, pages, limit, offset = 1, 1, None, 0
    else:
        pages = max(1, -(-total // PAGE_SIZE))
        page = paging.page_number(pages)
        limit, offset = PAGE_SIZE, (page - 1) * PAGE_SIZE
    rows = timeline.entries(case, timeline.Filters(kind=kind, agency_id=agency_id, dates=dates if printing else None),
                            limit=limit, offset=offset)
    entries = _timeline_rows(rows)
    filter_words = ", ".join(([KIND_LABELS[kind]] if kind else []) + [n for i, n in counts.agencies if i == agency_id])
    default_dates = ChronologyPrintForm(formdata=None).dates(last_day)
    return _done(render_template(
        "cases/chronology.html", view=view, case=case, filters=filters, entries=entries, total=total, page=page,
        pages=pages, first=offset + 1, filtered=bool(chosen), printing=printing, printed_at=utcnow(),
        filter_words=filter_words, print_form=print_form, form=print_form if print_form.errors else None,
        dates=dates, default_dates=default_dates, dates_asked=bool(print_form.args()), print_months=PRINT_MONTHS,
        chosen=chosen, print_url=url_for("cases.chronology", reference=case.reference, **chosen, print=1),
        print_all_url=url_for("cases.chronology", reference=case.reference, **chosen, print=1, all="y"),
        screen_url=url_for("cases.chronology", reference=case.reference, **chosen),
        pagination=None if printing else paging.pagination("cases.chronology", page, pages, label="Chronology pages", reference=case.reference, **chosen)))


# ---- closure and step-down ----------------------------------------------------------------


def _closure_people(case: Case) -> dict[int, str]:
    ids = {i for i in (case.closure_proposed_by_id, case.closure_approved_by_id) if i is not None}
    return dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all())


def _closure_context(case: Case) -> dict[str, Any]:
    """What the closure pages show, in the same queries whatever the case holds: the persistence
    record is read once even when closure is not for non-engagement, and the step-down agency and
    the people named are read even when there are none."""
    persistence = services.persistence_record(case.id)
    step_down = db.session.scalar(sa.select(Agency).where(Agency.id == case.step_down_agency_id))
    return {
        "check": services.closure_check(case, persistence=persistence),
        "persistence": persistence if case.closure_for_non_engagement else None,
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
