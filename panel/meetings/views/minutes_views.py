"""Attendance and minutes pages of a monthly panel.

Coordinators record attendance and the minutes (notes, referral and risk decisions, actions
agreed, the last panel's actions). Chairs read everything, record referral and closure
decisions, finalise the minutes and print them. An agency's acting SPoC may send their own
agency's apologies before the panel, and reads the finalised minutes, with items about cases
their agency is not involved in in the restricted form. Anyone else gets 404.

Views are thin: parse the form, call panel.meetings.minutes, commit once, redirect with a
message. Every page view is audited (AuditAction.VIEW on the meeting), after rendering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from panel import audit
from panel.actions.forms import AddActionForm
from panel.actions.services import assignable_users
from panel.auth.policy import OPERATIONS, acts_as_spoc, can_access_case_records, isa_block_reason
from panel.cases.forms import RiskLevelForm
from panel.cases.services import closure_check
from panel.dates import london_today
from panel.extensions import db
from panel.forms.errors import ServiceError, show_service_error
from panel.forms.text import multiline, one_line
from panel.meetings import minutes as services
from panel.meetings.minutes_forms import (
    APPROVE,
    AmendForm,
    AttendanceForm,
    AttendanceSheetForm,
    ClosureDecisionForm,
    FinaliseForm,
    NotesForm,
    SheetErrors,
    last_actions_form,
)
from panel.meetings.pdf import pdf_response
from panel.meetings.record import item_title
from panel.meetings.views import bp
from panel.models import (
    ActionStatus,
    Agency,
    AgendaItem,
    AgendaItemKind,
    Attendance,
    AttendanceStatus,
    AuditAction,
    Case,
    CaseStatus,
    Involvement,
    Meeting,
    MeetingKind,
    Referral,
    Role,
    User,
    utcnow,
)
from panel.referrals.triage_forms import ACCEPT, DecisionForm, reason_kind_of


def _me() -> User:
    return current_user._get_current_object()


MAX_ID = 2**31 - 1  # larger ids in a URL are no record (and too big for the database's integers)


def _panel(meeting_id: int) -> Meeting:
    """The monthly panel, or 404 (case MDTs have no minutes here)."""
    meeting = db.session.get(Meeting, meeting_id) if meeting_id <= MAX_ID else None
    if meeting is None or meeting.kind != MeetingKind.PANEL:
        abort(404)
    return meeting


def _deny(meeting_id: int, page: str) -> None:
    """404, audited as a refusal, for a record-level 'no' (the access table let the role in)."""
    db.session.rollback()
    audit.record(AuditAction.DENIED, "meeting", meeting_id, summary={"page": page})
    db.session.commit()
    abort(404)


def _render(template: str, meeting: Meeting, page: str, error_form=None, summary: dict | None = None, **context: Any):
    """Render, then audit the view and commit (after rendering, so nothing loaded is expired).
    `form` (which the layout's error summary reads) is passed only when it has errors."""
    if error_form is not None and error_form.errors:
        context["form"] = error_form
    html = render_template(template, meeting=meeting, meeting_url=_meeting_url(meeting),
                           panel_date=services.panel_day(meeting), **context)
    audit.record(AuditAction.VIEW, "meeting", meeting.id, summary={"page": page, **(summary or {})})
    db.session.commit()
    return html


def _meeting_url(meeting: Meeting) -> str:
    """The meeting page's stable address (/meetings/<id>), built by the agenda work."""
    return f"{request.script_root}/meetings/{meeting.id}"


def _closed_message(meeting: Meeting) -> str | None:
    if meeting.cancelled:
        return "This panel was cancelled, so it has no attendance or minutes."
    if meeting.finalised:
        return "The minutes of this panel have been finalised, so they can no longer be changed."
    return None


def _refused_change(meeting: Meeting, endpoint: str, **values: Any):
    """A change to a finalised or cancelled panel (an old tab): say why and go back."""
    db.session.rollback()
    flash(_closed_message(meeting) or "This cannot be changed now.", "info")
    return redirect(url_for(endpoint, meeting_id=meeting.id, **values))


# ---- attendance ---------------------------------------------------------------------------


@bp.route("/<int:meeting_id>/attendance")
def attendance(meeting_id: int):
    meeting = _panel(meeting_id)
    return _attendance_page(meeting, _me())


def _attendance_page(meeting: Meeting, user: User, sent: dict[int, services.AttendanceEntry] | None = None,
                     problems: dict[str, str] | None = None):
    """The attendance of every expected agency: for the coordinator of an open panel, one form
    (pre-filled from what is recorded, or from what was sent when it had problems)."""
    rows = services.attendance_rows(meeting)  # "Not recorded" for an expected agency without a row
    spoc = user.role == Role.SPOC
    if spoc:  # their own agency's row only
        rows = [row for row in rows if row.agency_id == user.agency_id]
    can_record = user.role == Role.COORDINATOR and not _closed_message(meeting)
    entries = {row.agency_id: (sent or {}).get(row.agency_id) or services.sheet_entry(row) for row in rows}
    return _render("meetings/attendance.html", meeting, "attendance", SheetErrors(problems or {}),
                   rows=rows, spoc=spoc, can_record=can_record, entries=entries, problems=problems or {},
                   sheet=AttendanceSheetForm(formdata=None) if can_record else None,
                   statuses=list(AttendanceStatus),
                   spoc_may_send=spoc and services.can_send_apologies(user, user.agency_id, meeting),
                   acting_spoc=spoc and acts_as_spoc(user), closed_message=_closed_message(meeting),
                   statement=current_app.config["PANEL_CONFIDENTIALITY_STATEMENT"])


def sheet_entries_sent(agency_ids: list[int]) -> dict[int, services.AttendanceEntry]:
    """The attendance sheet's rows as sent, cleaned of control characters (the service checks them)."""
    form = request.form
    return {agency_id: services.AttendanceEntry(
        status=one_line(form.get(f"status-{agency_id}")),
        attendee_name=one_line(form.get(f"attendee_name-{agency_id}")),
        deputised_by=one_line(form.get(f"deputised_by-{agency_id}")),
        written_update=multiline(form.get(f"written_update-{agency_id}")),
        confidentiality_acknowledged=form.get(f"confidentiality_acknowledged-{agency_id}") == "y",
    ) for agency_id in agency_ids}


@bp.route("/<int:meeting_id>/attendance", methods=["POST"])
def save_attendance(meeting_id: int):
    """The coordinator records every expected agency's attendance with one post."""
    user = _me()
    meeting = _panel(meeting_id)
    if _closed_message(meeting):
        return _refused_change(meeting, "meetings.attendance")
    agency_ids = [row.agency_id for row in services.attendance_rows(meeting)]
    sent = sheet_entries_sent(agency_ids)
    if not AttendanceSheetForm().validate_on_submit():  # the CSRF token only
        flash("The form had expired, so nothing was saved. Check the attendance and save it again.", "info")
        return _attendance_page(meeting, user, sent)
    try:
        changed, problems = services.record_attendance_sheet(meeting, sent, by=user)
    except ServiceError as problem:
        db.session.rollback()
        flash(problem.message, "info")
        return redirect(url_for("meetings.attendance", meeting_id=meeting.id))
    if problems:
        db.session.rollback()
        return _attendance_page(meeting, user, sent, problems)
    db.session.commit()
    flash("Attendance saved." if changed else "Attendance saved: nothing had changed.", "success")
    return redirect(url_for("meetings.attendance", meeting_id=meeting.id))


def _attendance_form_data(row: Attendance | None, statuses) -> dict[str, Any]:
    if row is None:
        return {}
    return {"status": row.status.value if row.status in statuses else None, "attendee_name": row.attendee_name,
            "deputised_by": row.deputised_by, "written_update": row.written_update,
            "confidentiality_acknowledged": row.confidentiality_acknowledged}


def _save_attendance(meeting: Meeting, agency: Agency, form: AttendanceForm, user: User) -> bool:
    """Record the form on the agency's row; False (the error on the form) when refused."""
    row = services.attendance_row(meeting, agency)
    try:
        services.record_attendance(
            row, status=form.chosen, by=user, attendee_name=form.attendee_name.data or "",
            deputised_by=form.deputised_by.data or "", written_update=form.written_update.data or "",
            confidentiality_acknowledged=bool(form.confidentiality_acknowledged.data))
    except ServiceError as problem:
        db.session.rollback()
        show_service_error(form, problem, default="status")
        return False
    return True


@bp.route("/<int:meeting_id>/attendance/<int:agency_id>", methods=["GET", "POST"])
def record_attendance(meeting_id: int, agency_id: int):
    """The coordinator records one agency's attendance (an agency without a SPoC that came too)."""
    user = _me()
    meeting = _panel(meeting_id)
    agency = db.session.get(Agency, agency_id) if agency_id <= MAX_ID else None
    if agency is None:
        abort(404)
    statuses = tuple(AttendanceStatus)
    row = db.session.scalar(sa.select(Attendance).where(Attendance.meeting_id == meeting.id,
                                                        Attendance.agency_id == agency.id))
    form = AttendanceForm(formdata=None, data=_attendance_form_data(row, statuses), statuses=statuses)
    if request.method == "POST":
        if _closed_message(meeting):
            return _refused_change(meeting, "meetings.attendance")
        form = AttendanceForm(statuses=statuses)
        if form.validate_on_submit() and _save_attendance(meeting, agency, form, user):
            name = agency.name
            db.session.commit()
            flash(f"Attendance recorded for {name}.", "success")
            return redirect(url_for("meetings.attendance", meeting_id=meeting.id))
        row = db.session.scalar(sa.select(Attendance).where(Attendance.meeting_id == meeting.id,
                                                            Attendance.agency_id == agency.id))
    return _render("meetings/attendance_agency.html", meeting, "record_attendance", form, summary={"agency": agency.id},
                   agency=agency, row=row, form_=form, open_to_user=not _closed_message(meeting), spoc=False,
                   statement=current_app.config["PANEL_CONFIDENTIALITY_STATEMENT"])


@bp.route("/<int:meeting_id>/apologies", methods=["GET", "POST"])
def send_apologies(meeting_id: int):
    """An agency's acting SPoC sends its apologies, with or without a written update, before the panel."""
    user = _me()
    meeting = _panel(meeting_id)
    agency = user.agency
    statuses = services.SPOC_STATUSES
    row = db.session.scalar(sa.select(Attendance).where(Attendance.meeting_id == meeting.id,
                                                        Attendance.agency_id == agency.id))
    open_to_user = services.can_send_apologies(user, agency.id, meeting)
    form = AttendanceForm(formdata=None, data=_attendance_form_data(row, statuses), statuses=statuses, spoc=True)
    if request.method == "POST":
        if not open_to_user:
            db.session.rollback()
            flash(_apologies_closed(user, meeting), "info")
            return redirect(url_for("meetings.attendance", meeting_id=meeting.id))
        form = AttendanceForm(statuses=statuses, spoc=True)
        if form.validate_on_submit() and _save_attendance(meeting, agency, form, user):
            name = agency.name
            db.session.commit()
            flash(f"Apologies sent for {name}.", "success")
            return redirect(url_for("meetings.attendance", meeting_id=meeting.id))
    return _render("meetings/attendance_agency.html", meeting, "send_apologies", form, summary={"agency": agency.id},
                   agency=agency, row=row, form_=form, open_to_user=open_to_user, spoc=True,
                   closed_reason=None if open_to_user else _apologies_closed(user, meeting),
                   statement=current_app.config["PANEL_CONFIDENTIALITY_STATEMENT"])


def _apologies_closed(user: User, meeting: Meeting) -> str:
    if meeting.cancelled:
        return "This panel was cancelled, so no apologies are needed."
    if not acts_as_spoc(user):
        return "Only your agency’s acting SPoC sends its apologies."
    if meeting.finalised or utcnow() >= meeting.starts_at:
        return "Apologies can be sent only before the panel starts. Contact the coordinator."
    return "Apologies cannot be sent for this panel."


@bp.route("/attendance-history")
def attendance_history():
    history = services.attendance_history()
    html = render_template("meetings/attendance_history.html", history=history)
    audit.record(AuditAction.VIEW, "meeting", "attendance-history", summary={"page": "attendance_history"})
    db.session.commit()
    return html


# ---- the minutes ----------------------------------------------------------------------------


@bp.route("/<int:meeting_id>/minutes")
def minutes(meeting_id: int):
    user = _me()
    meeting = _panel(meeting_id)
    if user.role == Role.SPOC:
        if not can_access_case_records(user, london_today()):
            return _render("meetings/minutes.html", meeting, "minutes", view=None,
                           isa_message=isa_block_reason(user.agency, london_today()))
        if not meeting.finalised:
            return _render("meetings/minutes.html", meeting, "minutes", view=None, not_yet=True)
    view = services.minutes_view(meeting, user)
    # Minutes opened before the agenda was built: a GET builds nothing, the page offers the button.
    agenda_missing = (user.role == Role.COORDINATOR and not meeting.finalised and not meeting.cancelled
                      and not meeting.items)
    return _render("meetings/minutes.html", meeting, "minutes", view=view, not_yet=False,
                   agenda_missing=agenda_missing,
                   operations=user.role in OPERATIONS, coordinator=user.role == Role.COORDINATOR,
                   chair=user.role == Role.CHAIR, closed_message=_closed_message(meeting),
                   statement=current_app.config["PANEL_CONFIDENTIALITY_STATEMENT"])


@bp.route("/<int:meeting_id>/minutes.pdf")
def minutes_pdf(meeting_id: int):
    user = _me()
    meeting = _panel(meeting_id)
    view = services.minutes_view(meeting, user)
    html = render_template("meetings/print_minutes.html", meeting=meeting, view=view,
                           panel_date=services.panel_day(meeting), printed_at=utcnow(),
                           statement=current_app.config["PANEL_CONFIDENTIALITY_STATEMENT"])
    filename = f"panel-minutes-{services.panel_day(meeting).isoformat()}.pdf"
    audit.record(AuditAction.VIEW, "meeting", meeting.id, summary={"page": "minutes.pdf"})
    db.session.commit()  # before the PDF is drawn: no transaction (SQLite's write lock) held meanwhile
    return pdf_response(html, filename)


def _item(meeting: Meeting, item_id: int) -> AgendaItem:
    if item_id > MAX_ID:
        abort(404)
    item = db.session.scalar(
        sa.select(AgendaItem).where(AgendaItem.id == item_id, AgendaItem.meeting_id == meeting.id)
        .options(sa.orm.joinedload(AgendaItem.referral).joinedload(Referral.person),
                 sa.orm.joinedload(AgendaItem.referral).joinedload(Referral.referring_agency),
                 sa.orm.joinedload(AgendaItem.case).joinedload(Case.person),
                 sa.orm.joinedload(AgendaItem.case).joinedload(Case.lead_agency),
                 sa.orm.joinedload(AgendaItem.case).selectinload(Case.involvements).joinedload(Involvement.agency)))
    if item is None:
        abort(404)
    return item


@dataclass
class _ItemForms:
    """The forms of an agenda item's page. `sent` is the one posted, whose errors the page's
    error summary shows."""

    notes: NotesForm
    referral: DecisionForm | None = None
    risk: RiskLevelForm | None = None
    closure: ClosureDecisionForm | None = None
    agencies: list[Agency] = field(default_factory=list)
    sent: Any = None


def _item_forms(item: AgendaItem, case: Case | None, user: User, closed: str | None) -> _ItemForms:
    """The page's forms as first shown: a decision form only for a decision this user may still record."""
    forms = _ItemForms(notes=NotesForm(formdata=None, data={"notes": item.notes}))
    if closed or not services.can_decide(user, item) or not services.decision_open(item, case):
        return forms
    if item.kind == AgendaItemKind.REFERRAL:
        forms.agencies = services.lead_agencies()
        forms.referral = DecisionForm(formdata=None, agencies=forms.agencies) if forms.agencies else None
    elif item.kind == AgendaItemKind.CASE:
        forms.risk = RiskLevelForm(formdata=None, current=case.risk_level, data={"level": case.risk_level})
    elif item.kind == AgendaItemKind.CLOSURE:
        forms.closure = ClosureDecisionForm(formdata=None)
    return forms


@bp.route("/<int:meeting_id>/minutes/items/<int:item_id>", methods=["GET", "POST"])
def minutes_item(meeting_id: int, item_id: int):
    user = _me()
    meeting = _panel(meeting_id)
    item = _item(meeting, item_id)
    case = services.item_case(item)
    closed = _closed_message(meeting)
    forms = _item_forms(item, case, user, closed)
    if request.method == "POST":
        if closed:
            return _refused_change(meeting, "meetings.minutes_item", item_id=item.id)
        done = _post_item(meeting, item, case, user, forms)
        if done is not None:
            return done
        item = _item(meeting, item_id)  # an error: the page again, reloaded after any rollback
        case = services.item_case(item)
    coordinator = user.role == Role.COORDINATOR
    check = closure_check(case) if item.kind == AgendaItemKind.CLOSURE and case is not None \
        and case.status == CaseStatus.CLOSURE_PROPOSED else None
    summary = {"item": item.id} if case is None else {"item": item.id, "case": case.reference}
    return _render("meetings/minutes_item.html", meeting, "minutes_item", forms.sent, summary=summary,
                   item=item, case=case, title=_item_title(item, case), actions=services.item_actions(meeting, case),
                   check=check, notes_form=forms.notes if coordinator and not closed else None,
                   referral_form=forms.referral, risk_form=forms.risk, closure_form=forms.closure,
                   can_add_action=coordinator and not closed and case is not None and case.status != CaseStatus.CLOSED,
                   coordinator=coordinator, closed_message=closed,
                   decision_waiting_for_chair=item.kind == AgendaItemKind.CLOSURE and coordinator
                   and services.decision_open(item, case))


def _post_item(meeting: Meeting, item: AgendaItem, case: Case | None, user: User, forms: _ItemForms):
    """The item's notes or decision, as sent: a redirect once saved, None to show the error."""
    back = url_for("meetings.minutes_item", meeting_id=meeting.id, item_id=item.id)
    if "save_notes" in request.form:
        if user.role != Role.COORDINATOR:
            _deny(meeting.id, "minutes_item")
        return _save_notes(item, user, forms, back)
    if not services.can_decide(user, item):
        _deny(meeting.id, "minutes_item")
    if not services.decision_open(item, case):
        flash("That decision has already been recorded.", "info")
        return redirect(back)
    decide = _DECISIONS.get(item.kind)
    if decide is None:
        abort(400)
    return decide(item, case, user, forms, back)


def _save_notes(item: AgendaItem, user: User, forms: _ItemForms, back: str):
    form = forms.notes = forms.sent = NotesForm()
    if not form.validate_on_submit():
        return None
    try:
        changed = services.record_item_minutes(item, notes=form.notes.data or "", by=user)
    except ServiceError as problem:
        db.session.rollback()
        show_service_error(form, problem, default="notes")
        return None
    db.session.commit()
    flash("The notes have been saved." if changed else "No changes were made to the notes.",
          "success" if changed else "info")
    return redirect(back)


def _decide_referral(item: AgendaItem, case: Case | None, user: User, forms: _ItemForms, back: str):
    form = forms.referral = forms.sent = DecisionForm(agencies=forms.agencies)
    if not form.validate_on_submit():
        return None
    lead = next((a for a in forms.agencies if a.id == form.lead_agency_id.data), None)
    try:
        made = services.decide_referral(item, accept=form.decision.data == ACCEPT, by=user, lead_agency=lead,
                                        rationale=form.rationale.data or "", signposting=form.signposting.data or "",
                                        reason_kind=reason_kind_of(form))
    except ServiceError as problem:
        db.session.rollback()
        show_service_error(form, problem, default="decision")
        return None
    reference = item.referral.reference
    message = (f"Referral {reference} accepted with {lead.name} as lead agency. "
               f"The case reference is {made.reference}." if made
               else f"Referral {reference} declined at panel. The referrer has been told.")
    db.session.commit()
    flash(message, "success")
    return redirect(back)


def _decide_risk(item: AgendaItem, case: Case, user: User, forms: _ItemForms, back: str):
    form = forms.risk = forms.sent = RiskLevelForm(current=case.risk_level)
    if not form.validate_on_submit():
        if form.level.data is not None and services.repeats_risk_decision(
                case, by=user, level=form.level.data, reason=form.reason.data or ""):
            db.session.rollback()
            flash("That risk decision has already been recorded.", "info")
            return redirect(back)
        return None
    try:
        services.decide_risk(item, level=form.level.data, reason=form.reason.data or "", by=user)
    except ServiceError as problem:
        db.session.rollback()
        show_service_error(form, problem, default="level")
        return None
    label = case.risk_level.label.lower()
    db.session.commit()
    flash(f"The risk level has been changed to {label}.", "success")
    return redirect(back)


def _decide_closure(item: AgendaItem, case: Case, user: User, forms: _ItemForms, back: str):
    form = forms.closure = forms.sent = ClosureDecisionForm()
    if not form.validate_on_submit():
        return None
    approve = form.closure_decision.data == APPROVE
    try:
        services.decide_closure(item, approve=approve, by=user, reason=form.closure_reason.data or "")
    except ServiceError as problem:
        db.session.rollback()
        show_service_error(form, problem, default="closure_decision", fields={"reason": "closure_reason"})
        return None
    db.session.commit()
    flash("Closure approved: the case is closed." if approve else "The closure has been returned.", "success")
    return redirect(back)


_DECISIONS = {
    AgendaItemKind.REFERRAL: _decide_referral,
    AgendaItemKind.CASE: _decide_risk,
    AgendaItemKind.CLOSURE: _decide_closure,
}


def _item_title(item: AgendaItem, case: Case | None) -> str:
    referral = item.referral
    return item_title(item.kind, item.title, case.reference if case is not None else None,
                      (referral.reference or "") if referral is not None else None)


@bp.route("/<int:meeting_id>/minutes/items/<int:item_id>/actions/new", methods=["GET", "POST"])
def add_minutes_action(meeting_id: int, item_id: int):
    user = _me()
    meeting = _panel(meeting_id)
    item = _item(meeting, item_id)
    case = services.item_case(item)
    back = url_for("meetings.minutes_item", meeting_id=meeting.id, item_id=item.id)
    if case is None:  # actions belong to a case; a referral has one once accepted
        db.session.rollback()
        flash("Actions are agreed on a case. Accept the referral first." if item.kind == AgendaItemKind.REFERRAL
              else "Actions are agreed on a case, and this item is not about one.", "info")
        return redirect(back)
    if _closed_message(meeting) or case.status == CaseStatus.CLOSED:
        if request.method == "POST":
            return _refused_change(meeting, "meetings.minutes_item", item_id=item.id)
        flash(_closed_message(meeting) or "This case is closed, so no action can be added to it.", "info")
        db.session.commit()
        return redirect(back)
    agencies = sorted((inv.agency for inv in case.involvements), key=lambda a: a.name)
    people = assignable_users(case)
    today = london_today()
    form = AddActionForm(agencies=agencies, people=people, today=today)
    if form.validate_on_submit():
        agency = next(a for a in agencies if a.id == form.agency_id.data)
        assignee = form.people.get(form.assignee_id.data) if form.assignee_id.data is not None else None
        try:
            action = services.add_item_action(item, description=form.description.data or "", agency=agency,
                                              due_on=form.due_on.data, by=user, assignee=assignee, today=today)
        except ServiceError as problem:
            db.session.rollback()
            show_service_error(form, problem, default="description")
            agencies = sorted((inv.agency for inv in case.involvements), key=lambda a: a.name)
        else:
            db.session.commit()
            flash(f"Action {action.id} added for {agency.name}.", "success")
            return redirect(back)
    return _render("meetings/minutes_action.html", meeting, "add_minutes_action", form,
                   summary={"item": item.id, "case": case.reference}, item=item, case=case,
                   title=_item_title(item, case), form_=form, back=back)


@bp.route("/<int:meeting_id>/minutes/last-actions", methods=["GET", "POST"])
def last_actions(meeting_id: int):
    user = _me()
    meeting = _panel(meeting_id)
    previous, actions = services.last_panel_open_actions(meeting)
    closed = _closed_message(meeting)
    form = last_actions_form(actions, formdata=None) if actions else None
    if request.method == "POST":
        if closed:
            return _refused_change(meeting, "meetings.last_actions")
        form = last_actions_form(actions)
        if form.validate_on_submit():
            if not actions:
                flash("There are no open actions from the last panel to record.", "info")
                return redirect(url_for("meetings.minutes", meeting_id=meeting.id))
            chosen = [(a, ActionStatus(form[f"outcome_{a.id}"].data), form[f"note_{a.id}"].data or "")
                      for a in actions if form[f"outcome_{a.id}"].data]
            try:
                count = services.record_last_actions(meeting, chosen, by=user)
            except ServiceError as problem:
                db.session.rollback()
                show_service_error(form, problem, default=f"outcome_{actions[0].id}")
                previous, actions = services.last_panel_open_actions(meeting)
            else:
                db.session.commit()
                flash(f"Outcome recorded for {count} action{'s' if count != 1 else ''} from the last panel.", "success")
                return redirect(url_for("meetings.last_actions", meeting_id=meeting.id))
    recorded = services.recorded_last_actions(previous)
    return _render("meetings/minutes_last_actions.html", meeting, "last_actions", form, previous=previous,
                   actions=actions, recorded=recorded, form_=form, closed_message=closed, today=london_today())


@bp.route("/<int:meeting_id>/minutes/finalise", methods=["GET", "POST"])
def finalise_minutes(meeting_id: int):
    user = _me()
    meeting = _panel(meeting_id)
    form = FinaliseForm()
    if request.method == "POST" and meeting.finalised:
        flash("The minutes have already been finalised.", "info")
        return redirect(url_for("meetings.minutes", meeting_id=meeting.id))
    if form.validate_on_submit():
        try:
            services.finalise(meeting, by=user)
        except ServiceError as problem:
            db.session.rollback()
            show_service_error(form, problem, default="submit")
        else:
            db.session.commit()
            flash("The minutes have been finalised. The SPoCs and coordinators have been sent a link.", "success")
            return redirect(url_for("meetings.minutes", meeting_id=meeting.id))
    items = list(db.session.scalars(sa.select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)))
    counts = db.session.execute(
        sa.select(sa.func.count(Attendance.id), sa.func.count(Attendance.status))
        .where(Attendance.meeting_id == meeting.id)).one()
    previous, open_last = services.last_panel_open_actions(meeting)
    return _render("meetings/minutes_finalise.html", meeting, "finalise_minutes", form if form.errors else None,
                   form_=form, closed_message=_closed_message(meeting), started=utcnow() >= meeting.starts_at,
                   empty_items=sum(1 for i in items if not (i.notes or i.decision)), item_count=len(items),
                   attendance_missing=counts[0] - counts[1], open_last=len(open_last))


@bp.route("/<int:meeting_id>/minutes/amend", methods=["GET", "POST"])
def amend_minutes(meeting_id: int):
    user = _me()
    meeting = _panel(meeting_id)
    view_items = [(i, _item_title(i, i.case)) for i in db.session.scalars(
        sa.select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)
        .options(sa.orm.joinedload(AgendaItem.referral), sa.orm.joinedload(AgendaItem.case))
        .order_by(AgendaItem.position, AgendaItem.id))]
    form = AmendForm(items=view_items)
    if request.method == "POST" and not meeting.finalised:
        flash("The minutes have not been finalised yet, so change them directly.", "info")
        return redirect(url_for("meetings.minutes", meeting_id=meeting.id))
    if form.validate_on_submit():
        item = next((i for i, _ in view_items if i.id == form.item_id.data), None)
        try:
            services.amend(meeting, item=item, text=form.text.data or "", reason=form.reason.data or "", by=user)
        except ServiceError as problem:
            db.session.rollback()
            show_service_error(form, problem, default="text")
        else:
            db.session.commit()
            flash("The amendment has been recorded beneath the original minutes.", "success")
            return redirect(url_for("meetings.minutes", meeting_id=meeting.id))
    return _render("meetings/minutes_amend.html", meeting, "amend_minutes", form, form_=form)
