"""Run mode: the coordinator steps through the panel's agenda, one page per item, each saved by
one post ("Save and next", "Previous", or "Save" to stay and agree more actions).

Each page shows what the panel needs for the item (panel.meetings.run) and the forms of the
minutes pages in one: the notes, the decision the user may record (a referral, a risk level, a
closure), new actions on the case, and on the standing items the attendance sheet (item 1) and
what became of the last panel's actions (item 2). Everything is checked before anything is
saved; then all of it is saved in one transaction through panel.meetings.minutes, so a problem
saves nothing and the page shows again with everything as typed. The chair uses the same pages
for the decisions that are theirs. Open from the panel's start until the minutes are finalised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask_wtf import FlaskForm

from panel.actions.forms import AddActionForm
from panel.actions.services import assignable_users
from panel.cases.forms import RiskLevelForm
from panel.dates import london_today
from panel.extensions import db
from panel.forms.errors import ServiceError, show_service_error
from panel.meetings import minutes as services
from panel.meetings import run
from panel.meetings.minutes_forms import APPROVE, ClosureDecisionForm, NotesForm, SheetErrors, last_actions_form
from panel.meetings.run_forms import NEXT, PREVIOUS, STAY, SUB_FORM, RunForm, action_rows, row_is_blank
from panel.meetings.views import bp
from panel.meetings.views.minutes_views import (
    MAX_ID,
    _closed_message,
    _item_title,
    _me,
    _panel,
    _render,
    sheet_entries_sent,
)
from panel.models import ActionStatus, AgendaItemKind, AttendanceStatus, CaseStatus, Role, User
from panel.referrals.triage_forms import ACCEPT, DECLINE, DecisionForm, reason_kind_of


@bp.route("/<int:meeting_id>/run")
def run_panel(meeting_id: int):
    """Start (or pick up) the run: the first item not yet minuted. Reads only."""
    meeting = _panel(meeting_id)
    items = run.agenda_items(meeting)
    first = run.first_to_minute(items)
    if first is None:
        flash("The agenda has not been built yet, so there is nothing to run.", "info")
        return redirect(url_for("meetings.view_meeting", meeting_id=meeting.id, _anchor="agenda"))
    return redirect(url_for("meetings.run_item", meeting_id=meeting.id, item_id=first.id))


@dataclass
class _Forms:
    """The forms on an item's page; `problems` are the errors by field id, for the summary."""

    run: RunForm
    notes: NotesForm | None = None
    referral: DecisionForm | None = None
    risk: RiskLevelForm | None = None
    closure: ClosureDecisionForm | None = None
    actions: list[AddActionForm] = field(default_factory=list)
    last: FlaskForm | None = None
    last_actions: list[Any] = field(default_factory=list)
    previous_panel: Any = None
    agencies: list[Any] = field(default_factory=list)       # lead agencies for a referral
    sheet_rows: list[Any] = field(default_factory=list)     # attendance rows (item 1)
    sheet_sent: dict[int, services.AttendanceEntry] | None = None
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def editable(self) -> bool:
        return any((self.notes, self.referral, self.risk, self.closure, self.actions, self.last, self.sheet_rows))


def _forms(view: run.RunItem, user: User, *, sent: bool) -> _Forms:
    """The item's forms for this user: as sent (`sent`) or as recorded."""
    item, case = view.item, view.case
    data = {} if sent else {"formdata": None}
    forms = _Forms(run=RunForm() if sent else RunForm(formdata=None))
    if not run.is_open(view.meeting, view.now):
        return forms
    coordinator = user.role == Role.COORDINATOR
    if coordinator:
        forms.notes = NotesForm(meta=SUB_FORM, **data) if sent else \
            NotesForm(meta=SUB_FORM, formdata=None, data={"notes": item.notes})
    if services.can_decide(user, item) and services.decision_open(item, case):
        _decision_form(forms, view, sent=sent)
    if coordinator and case is not None and case.status != CaseStatus.CLOSED:
        agencies = sorted((inv.agency for inv in case.involvements), key=lambda a: a.name)
        forms.actions = action_rows(agencies=agencies, people=assignable_users(case), today=london_today(), sent=sent)
    if coordinator and item.kind == run.LAST_PANEL:
        forms.previous_panel, forms.last_actions = services.last_panel_open_actions(view.meeting)
        if forms.last_actions:
            forms.last = last_actions_form(forms.last_actions, formdata=request.form if sent else None, meta=SUB_FORM)
    if coordinator and item.kind == run.WELCOME:
        forms.sheet_rows = services.attendance_rows(view.meeting)
        if sent:
            forms.sheet_sent = sheet_entries_sent([row.agency_id for row in forms.sheet_rows])
    return forms


def _decision_form(forms: _Forms, view: run.RunItem, *, sent: bool) -> None:
    """The form for the decision still to record on the item (a risk level starts at the current one)."""
    item, case = view.item, view.case
    data = {} if sent else {"formdata": None}
    if item.kind == AgendaItemKind.REFERRAL:
        forms.agencies = services.lead_agencies()
        if forms.agencies:
            forms.referral = DecisionForm(meta=SUB_FORM, agencies=forms.agencies, **data)
    elif item.kind == AgendaItemKind.CASE:
        forms.risk = RiskLevelForm(meta=SUB_FORM, current=case.risk_level, **data) if sent else \
            RiskLevelForm(meta=SUB_FORM, current=case.risk_level, formdata=None, data={"level": case.risk_level})
    elif item.kind == AgendaItemKind.CLOSURE:
        forms.closure = ClosureDecisionForm(meta=SUB_FORM, **data)


@bp.route("/<int:meeting_id>/run/<int:item_id>", methods=["GET", "POST"])
def run_item(meeting_id: int, item_id: int):
    user = _me()
    meeting = _panel(meeting_id)
    view = run.run_item(meeting, item_id) if item_id <= MAX_ID else None
    if view is None:
        abort(404)
    if request.method == "GET":
        if meeting.finalised:  # the record now is the finalised copy, shown by the minutes, not today's data
            db.session.rollback()
            return redirect(url_for("meetings.minutes", meeting_id=meeting.id, _anchor=f"item-{view.item.id}"))
        return _page(view, user, _forms(view, user, sent=False))
    if not run.is_open(meeting, view.now):
        db.session.rollback()
        flash(_closed_message(meeting) or "The panel has not started yet, so nothing is recorded here.", "info")
        return redirect(url_for("meetings.run_item", meeting_id=meeting.id, item_id=view.item.id))
    forms = _forms(view, user, sent=True)
    if not forms.run.validate_on_submit():
        flash("The form had expired, so nothing was saved. Check what you typed and save again.", "info")
        return _page(view, user, forms)
    go = request.form.get("go", NEXT)
    if not forms.editable and go != STAY:  # a chair's page without a decision to record: just move on
        return _go(view, go)
    if not _checked(forms, view, user):
        return _page(view, user, forms)
    saved = _save(view, user, forms)
    if saved is None:  # refused by a rule: nothing was saved
        view = run.run_item(meeting, item_id)
        return _page(view, user, forms)
    db.session.commit()
    flash(f"Item {view.number} saved: {saved}." if saved else f"Item {view.number}: nothing had changed.",
          "success" if saved else "info")
    return _go(view, go)


def _go(view: run.RunItem, go: str):
    meeting_id = view.meeting.id
    target = {PREVIOUS: view.previous, NEXT: view.next}.get(go, view.item)
    if target is None and go == NEXT:  # the last item: back to the minutes
        flash("That was the last item. The chair can now finalise the minutes.", "info")
        return redirect(url_for("meetings.minutes", meeting_id=meeting_id))
    target = target or view.item
    return redirect(url_for("meetings.run_item", meeting_id=meeting_id, item_id=target.id))


def _checked(forms: _Forms, view: run.RunItem, user: User) -> bool:
    """Check every form on the page; the problems go to forms.problems. A decision left
    unanswered and a blank action row are not problems: nothing is recorded for them."""
    chosen: list[FlaskForm] = []
    if forms.notes is not None:
        chosen.append(forms.notes)
    if forms.referral is not None and (forms.referral.decision.raw_data or (forms.referral.rationale.data or "").strip()):
        chosen.append(forms.referral)
    if forms.risk is not None and _risk_sent(forms.risk, view, user):
        chosen.append(forms.risk)
    if forms.closure is not None and (forms.closure.closure_decision.raw_data
                                      or (forms.closure.closure_reason.data or "").strip()):
        chosen.append(forms.closure)
    chosen += [row for row in forms.actions if not row_is_blank(row)]
    if forms.last is not None:
        chosen.append(forms.last)
    for form in chosen:
        if not form.validate():
            for field_ in form:
                if field_.errors:
                    forms.problems.setdefault(field_.id, field_.errors[0])
    return not forms.problems


def _risk_sent(form: RiskLevelForm, view: run.RunItem, user: User) -> bool:
    """A risk decision was sent: a different level chosen, or a reason typed; not the decision
    just recorded sent again (a double click, the browser's back button)."""
    sent = (form.level.data is not None and form.level.data != view.case.risk_level) \
        or bool((form.reason.data or "").strip()) or bool(form.level.process_errors)
    return sent and not (form.level.data is not None and services.repeats_risk_decision(
        view.case, by=user, level=form.level.data, reason=form.reason.data or ""))


def _save(view: run.RunItem, user: User, forms: _Forms) -> str | None:
    """Record everything sent, in one transaction. Returns what was saved, in words ('' for
    nothing), or None when a rule refused it (rolled back, the problem on its field)."""
    item, case, done = view.item, view.case, []
    try:
        if forms.sheet_sent is not None:
            changed, problems = services.record_attendance_sheet(view.meeting, forms.sheet_sent, by=user)
            if problems:
                db.session.rollback()
                forms.problems.update(problems)
                return None
            if changed:
                done.append(f"attendance of {changed} agenc{'ies' if changed != 1 else 'y'}")
        if forms.notes is not None and services.record_item_minutes(item, notes=forms.notes.notes.data or "", by=user):
            done.append("the notes")
        if forms.last is not None:
            chosen = [(a, ActionStatus(forms.last[f"outcome_{a.id}"].data), forms.last[f"note_{a.id}"].data or "")
                      for a in forms.last_actions if forms.last[f"outcome_{a.id}"].data]
            if chosen:
                services.record_last_actions(view.meeting, chosen, by=user)
                done.append(f"the outcome of {len(chosen)} action{'s' if len(chosen) != 1 else ''} from the last panel")
        decision = _decide(view, user, forms)
        if decision:
            done.append(decision)
            case = services.item_case(item) if case is None else case
        added = 0
        for row in forms.actions:
            if row_is_blank(row):
                continue
            agency = next(inv.agency for inv in case.involvements if inv.agency_id == row.agency_id.data)
            assignee = row.people.get(row.assignee_id.data) if row.assignee_id.data is not None else None
            services.add_item_action(item, description=row.description.data or "", agency=agency,
                                     due_on=row.due_on.data, by=user, assignee=assignee, today=london_today())
            added += 1
        if added:
            done.append(f"{added} new action{'s' if added != 1 else ''}")
    except ServiceError as problem:
        db.session.rollback()
        _show(forms, problem)
        return None
    return ", ".join(done)


def _decide(view: run.RunItem, user: User, forms: _Forms) -> str:
    """The item's decision, if one was sent (already checked)."""
    item = view.item
    if forms.referral is not None and forms.referral.decision.data in (ACCEPT, DECLINE):
        form = forms.referral
        lead = next((a for a in forms.agencies if a.id == form.lead_agency_id.data), None)
        made = services.decide_referral(item, accept=form.decision.data == ACCEPT, by=user, lead_agency=lead,
                                        rationale=form.rationale.data or "", signposting=form.signposting.data or "",
                                        reason_kind=reason_kind_of(form))
        return f"accepted as case {made.reference}" if made else "declined"
    if forms.risk is not None and _risk_sent(forms.risk, view, user):
        services.decide_risk(item, level=forms.risk.level.data, reason=forms.risk.reason.data or "", by=user)
        return f"risk level {forms.risk.level.data.label.lower()}"
    if forms.closure is not None and forms.closure.closure_decision.data:
        approve = forms.closure.closure_decision.data == APPROVE
        services.decide_closure(item, approve=approve, by=user, reason=forms.closure.closure_reason.data or "")
        return "closure approved" if approve else "closure returned"
    return ""


def _show(forms: _Forms, problem: ServiceError) -> None:
    """A rule's refusal on the field it is about (the first form that has it), else on the notes."""
    for form in (forms.referral, forms.risk, forms.closure, forms.last, *forms.actions, forms.notes):
        if form is not None and problem.field and problem.field in form._fields:
            show_service_error(form, problem)
            forms.problems[form[problem.field].id] = problem.message
            return
    target = next((f for f in (forms.referral, forms.risk, forms.closure, forms.notes, forms.last) if f is not None), None)
    if target is not None:
        show_service_error(target, problem)
        name = next(n for n, f in target._fields.items() if f.errors)
        forms.problems[target[name].id] = problem.message
    else:
        flash(problem.message, "info")


def _page(view: run.RunItem, user: User, forms: _Forms):
    item, case = view.item, view.case
    summary = {"item": item.id, "run": True} if case is None else {"item": item.id, "run": True, "case": case.reference}
    sheet_entries = None
    if forms.sheet_rows:
        sheet_entries = {row.agency_id: (forms.sheet_sent or {}).get(row.agency_id) or services.sheet_entry(row)
                         for row in forms.sheet_rows}
    return _render("meetings/run_item.html", view.meeting, "run_item", SheetErrors(forms.problems), summary=summary,
                   view=view, item=item, case=case, title=_item_title(item, case), forms=forms,
                   titles={i.id: _item_title(i, i.case) for i in view.items},
                   open_now=run.is_open(view.meeting, view.now), closed_message=_closed_message(view.meeting),
                   coordinator=user.role == Role.COORDINATOR, sheet_entries=sheet_entries,
                   statuses=list(AttendanceStatus), problems=forms.problems,
                   statement=current_app.config["PANEL_CONFIDENTIALITY_STATEMENT"])

