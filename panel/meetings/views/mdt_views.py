"""Case MDT pages: the case's meetings, scheduling an MDT, the MDT's page, changing its date,
time or place, its attendee list and replies, cancelling it, and its notes, decisions and actions.

Need to know is the case's: each page loads the case with panel.cases.access.load_case
(need_full), so coordinators, chairs and the involved agencies' staff read, and anyone else
gets 404, audited. Only coordinators change anything (the access table). Every view is audited;
every change goes through panel.meetings.mdt, which audits it, writes the case chronology and
sends the calendar invitations. Pages run a fixed number of queries whatever the number of
meetings, attendees or actions.

The case pages live under /cases/<reference>/meetings but belong to this blueprint (whose
prefix is /meetings): they are added to the app directly with "meetings." endpoints.
"""

from __future__ import annotations

from typing import Any, Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from panel import audit
from panel.actions.services import assignable_users
from panel.cases.access import CaseView, load_case
from panel.extensions import db
from panel.forms.errors import ServiceError, show_service_error
from panel.dates import LONDON, govuk_date, govuk_datetime, london_today
from panel.meetings import mdt
from panel.meetings.mdt_forms import (
    AddAttendeesForm,
    CancelForm,
    NotesForm,
    RescheduleForm,
    ScheduleForm,
    replies_form,
)
from panel.meetings.views import bp
from panel.models import AttendeeResponse, AuditAction, CaseStatus, Meeting, MeetingAttendee, Role, User, utcnow

SECTION = "meetings"


def _case_route(rule: str, **options: Any) -> Callable:
    """Route a view of this blueprint at an address outside its /meetings prefix."""

    def decorator(view: Callable) -> Callable:
        bp.record(lambda state: state.app.add_url_rule(rule, f"{bp.name}.{view.__name__}", view, **options))
        return view

    return decorator


def _me() -> User:
    return current_user._get_current_object()


def _done(html: str) -> str:
    """Commit the view's audit entry once the page is rendered."""
    db.session.commit()
    return html


def _load(meeting_id: int, page: str) -> tuple[Meeting, CaseView]:
    """The MDT and its case for this user (404, audited, without the full case record)."""
    meeting = mdt.load_mdt(meeting_id)
    if meeting is None:
        if db.session.get(Meeting, meeting_id) is not None:  # a monthly panel: its own page
            abort(redirect(url_for("meetings.view_meeting", meeting_id=meeting_id)))
        abort(404)
    view = load_case(meeting.case.reference, need_full=True, section=SECTION)
    audit.record(AuditAction.VIEW, "meeting", meeting.id, summary={"page": page, "case": view.case.reference})
    return meeting, view


def _mdt_page(meeting: Meeting) -> str:
    return url_for("meetings.view_mdt", meeting_id=meeting.id)


_when = mdt.when_text
bp.add_app_template_filter(mdt.when_text, "mdt_when")


def _is_coordinator() -> bool:
    return _me().role == Role.COORDINATOR


# ---- the case's meetings and scheduling -----------------------------------------------------------


@_case_route("/cases/<reference>/meetings")
def case_meetings(reference: str):
    view = load_case(reference, need_full=True, section=SECTION)
    meetings = mdt.case_mdts(view.case.id)
    return _done(render_template(
        "meetings/mdt_case_meetings.html", view=view, case=view.case, meetings=meetings, now=utcnow(),
        can_schedule=_is_coordinator() and view.case.status != CaseStatus.CLOSED))


@_case_route("/cases/<reference>/meetings/new", methods=["GET", "POST"])
def new_mdt(reference: str):
    view = load_case(reference, need_full=True, section=SECTION)
    case, user, now = view.case, _me(), utcnow()
    closed = case.status == CaseStatus.CLOSED
    invitable = mdt.invitable_users(case)
    form = ScheduleForm(invitable=invitable, now=now)
    if not closed and form.validate_on_submit():
        day, start, end = form.times()
        try:
            with db.session.begin_nested():
                meeting = mdt.schedule_mdt(case, day=day, start=start, end=end, location=form.location.data,
                                           online_url=form.online_url.data, purpose=form.purpose.data,
                                           attendees=form.people, by=user, now=now)
        except mdt.AlreadyScheduled as repeat:
            db.session.commit()  # the audited view
            flash("That MDT had already been scheduled.", "info")
            return redirect(_mdt_page(repeat.meeting))
        except ServiceError as problem:
            show_service_error(form, problem, default="users")
        else:
            invited = len([a for a in meeting.attendees if a.current])
            when = _when(meeting)
            db.session.commit()
            flash(f"The MDT on {when} is scheduled. {invited} {'person has' if invited == 1 else 'people have'} "
                  "been sent a calendar invitation.", "success")
            return redirect(_mdt_page(meeting))
    return _done(render_template("meetings/mdt_new.html", view=view, case=case, form=form, closed=closed,
                                 externals=[form.external_fields(n) for n in range(1, form.external_rows + 1)]))


# ---- one MDT ----------------------------------------------------------------------------------------


@bp.route("/<int:meeting_id>/mdt")
def view_mdt(meeting_id: int):
    meeting, view = _load(meeting_id, "mdt")
    now = utcnow()
    item = mdt.discussion(meeting)
    actions = mdt.mdt_actions(meeting.id)
    return _done(render_template(
        "meetings/mdt_view.html", view=view, case=view.case, meeting=meeting, item=item, actions=actions,
        now=now, today=london_today(now), coordinator=_is_coordinator(), upcoming=meeting.starts_at > now,
        started=meeting.starts_at <= now, case_open=view.case.status != CaseStatus.CLOSED))


def _details_data(meeting: Meeting) -> dict[str, Any]:
    start, end = meeting.starts_at.astimezone(LONDON), meeting.ends_at.astimezone(LONDON)
    return {"day": start.date(), "start": f"{start:%H:%M}", "end": f"{end:%H:%M}", "location": meeting.location,
            "online_url": meeting.online_url, "purpose": meeting.purpose}


def _closed_reason(meeting: Meeting, view: CaseView, now, doing: str) -> str | None:
    if meeting.cancelled:
        return f"This MDT has been cancelled, so it cannot be {doing}."
    if meeting.starts_at <= now:
        return f"This MDT has already started, so it cannot be {doing}."
    if view.case.status == CaseStatus.CLOSED and doing != "cancelled":
        return f"This case is closed, so its MDTs cannot be {doing}. A coordinator can reopen it first."
    return None


@bp.route("/<int:meeting_id>/mdt/reschedule", methods=["GET", "POST"])
def reschedule_mdt(meeting_id: int):
    meeting, view = _load(meeting_id, "reschedule")
    user, now = _me(), utcnow()
    blocked = _closed_reason(meeting, view, now, "changed")
    form = RescheduleForm(now=now, data=None if request.method == "POST" else _details_data(meeting))
    if blocked is None and form.validate_on_submit():
        day, start, end = form.times()
        try:
            with db.session.begin_nested():
                changed = mdt.reschedule_mdt(meeting, day=day, start=start, end=end, location=form.location.data,
                                             online_url=form.online_url.data, purpose=form.purpose.data, by=user,
                                             now=now)
        except ServiceError as problem:
            show_service_error(form, problem, default="day")
        else:
            told = len([a for a in meeting.attendees if a.current])
            db.session.commit()
            if not changed:
                flash("Nothing was changed.", "info")
            elif "time" in changed or "place" in changed:
                flash(f"The MDT has been changed. {told} {'person has' if told == 1 else 'people have'} been sent "
                      "the updated calendar invitation.", "success")
            else:
                flash("The purpose of the MDT has been saved. The invitations are unchanged.", "success")
            return redirect(_mdt_page(meeting))
    return _done(render_template("meetings/mdt_reschedule.html", view=view, case=view.case, meeting=meeting,
                                 form=form, blocked=blocked))


def _attendee(meeting: Meeting, raw: str | None) -> MeetingAttendee | None:
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        return None
    return next((a for a in meeting.attendees if a.id == int(raw) and a.current), None)


def _remove_attendee(meeting: Meeting, attendee: MeetingAttendee | None, blocked: str | None, back: str):
    if attendee is None or blocked is not None:
        db.session.commit()
        flash(blocked or "That person is no longer on the list.", "info")
        return redirect(back)
    name = attendee.name
    mdt.remove_attendee(meeting, attendee, by=_me(), now=utcnow())
    db.session.commit()
    flash(f"{name} has been taken off the list and sent a cancellation. The others have the updated list.",
          "success")
    return redirect(back)


def _save_replies(meeting: Meeting, current: list[MeetingAttendee], replies: Any, back: str):
    """Record each attendee's reply as chosen on the form (all or none)."""
    user, now, changed = _me(), utcnow(), 0
    try:
        with db.session.begin_nested():
            for attendee in current:
                response = AttendeeResponse(getattr(replies, f"reply_{attendee.id}").data)
                if request.form.get(f"shown_{attendee.id}") == response.value:
                    continue  # left as the page showed it: a reply that came in since is kept
                changed += mdt.record_response(meeting, attendee, response, by=user, now=now)
    except ServiceError as problem:
        db.session.commit()  # the audited view
        flash(problem.message, "info")
        return redirect(back)
    db.session.commit()
    flash(f"{changed} {'reply' if changed == 1 else 'replies'} recorded." if changed
          else "No replies were changed.", "success" if changed else "info")
    return redirect(back)


@bp.route("/<int:meeting_id>/mdt/attendees", methods=["GET", "POST"])
def mdt_attendees(meeting_id: int):
    meeting, view = _load(meeting_id, "attendees")
    user, now = _me(), utcnow()
    current = [a for a in meeting.attendees if a.current]
    removed = [a for a in meeting.attendees if not a.current]
    blocked = _closed_reason(meeting, view, now, "changed")
    posted = request.form if request.method == "POST" else {}
    add_form = AddAttendeesForm(invitable=mdt.invitable_users(view.case) if blocked is None else [],
                                invited={a.email for a in current},
                                formdata=request.form if "add" in posted else None)
    replies = replies_form(current, formdata=request.form if "save_replies" in posted else None)
    form: Any = add_form  # the form whose errors the page's summary shows
    back = url_for("meetings.mdt_attendees", meeting_id=meeting.id)

    if "remove" in posted:  # a button per person, inside the replies form (CSRF is checked app-wide)
        return _remove_attendee(meeting, _attendee(meeting, posted.get("remove")), blocked, back)

    if "save_replies" in posted:
        form = replies
        if replies.validate_on_submit():
            return _save_replies(meeting, current, replies, back)

    if "add" in posted and blocked is None and add_form.validate_on_submit():
        try:
            with db.session.begin_nested():
                added = mdt.add_attendees(meeting, add_form.people, by=user, now=now)
        except ServiceError as problem:
            show_service_error(add_form, problem, default="users")
        else:
            names = ", ".join(a.name for a in added)
            db.session.commit()
            flash(f"Invited: {names}. Each has been sent a calendar invitation." if added
                  else "Everyone chosen was already on the list.", "success" if added else "info")
            return redirect(back)

    return _done(render_template(
        "meetings/mdt_attendees.html", view=view, case=view.case, meeting=meeting, current=current, removed=removed,
        form=form, add_form=add_form, replies=replies, blocked=blocked,
        externals=[add_form.external_fields(n) for n in range(1, add_form.external_rows + 1)]))


@bp.route("/<int:meeting_id>/mdt/cancel", methods=["GET", "POST"])
def cancel_mdt(meeting_id: int):
    meeting, view = _load(meeting_id, "cancel")
    user, now = _me(), utcnow()
    blocked = _closed_reason(meeting, view, now, "cancelled")
    form = CancelForm()
    if blocked is None and form.validate_on_submit():
        try:
            with db.session.begin_nested():
                told = mdt.cancel_mdt(meeting, reason=form.reason.data, by=user, now=now)
        except ServiceError as problem:
            show_service_error(form, problem, default="reason")
        else:
            when = _when(meeting)
            db.session.commit()
            flash(f"The MDT on {when} has been cancelled. {told} {'person has' if told == 1 else 'people have'} "
                  "been sent the cancellation.", "success")
            return redirect(_mdt_page(meeting))
    if blocked is not None and meeting.cancelled and request.method == "POST":
        db.session.commit()
        flash("This MDT had already been cancelled.", "info")
        return redirect(_mdt_page(meeting))
    return _done(render_template("meetings/mdt_cancel.html", view=view, case=view.case, meeting=meeting, form=form,
                                 blocked=blocked))


@bp.route("/<int:meeting_id>/mdt/notes", methods=["GET", "POST"])
def mdt_notes(meeting_id: int):
    meeting, view = _load(meeting_id, "notes")
    case, user, now = view.case, _me(), utcnow()
    today = london_today(now)
    blocked = None
    if meeting.cancelled:
        blocked = "This MDT was cancelled, so no notes can be recorded."
    elif meeting.starts_at > now:
        blocked = (f"This MDT starts on {govuk_datetime(meeting.starts_at)}. Its notes, decisions and actions can be "
                   "recorded once it has begun.")
    elif case.status == CaseStatus.CLOSED:
        blocked = "This case is closed, so no notes can be recorded. A coordinator can reopen it first."
    item = mdt.discussion(meeting)
    agencies = sorted((inv.agency for inv in case.involvements), key=lambda a: a.name.lower())
    people = assignable_users(case) if blocked is None else []
    form = NotesForm(current_level=case.risk_level, agencies=agencies, people=people, today=today,
                     data=None if request.method == "POST" else {
                         "notes": item.notes if item else "", "decision": item.decision if item else ""})
    if blocked is None and form.validate_on_submit():
        repeat = None
        if form.has_action:
            repeat = mdt.just_added_action(meeting, description=form.action_description.data,
                                           agency_id=form.action_agency_id.data, due_on=form.action_due_on.data,
                                           by=user, now=now)
        try:
            with db.session.begin_nested():
                changed = mdt.save_minutes(meeting, notes=form.notes.data, decision=form.decision.data,
                                           risk_level=form.risk_level.data, risk_reason=form.risk_reason.data,
                                           by=user, now=now)
                action = None
                if form.has_action and repeat is None:
                    action = mdt.add_mdt_action(
                        meeting, description=form.action_description.data,
                        agency=form.agencies[form.action_agency_id.data], due_on=form.action_due_on.data,
                        assignee=form.people.get(form.action_assignee_id.data), by=user, now=now)
        except ServiceError as problem:
            show_service_error(form, problem, default="notes")
        else:
            saved = []
            if {"notes", "decision"} & set(changed):
                saved.append("The notes and decisions have been saved.")
            if "risk_level" in changed:
                saved.append(f"The risk level is now {case.risk_level.label.lower()}.")
            if action is not None:
                saved.append(f"Action {action.id} has been added for {action.agency.name}, due "
                             f"{govuk_date(action.due_on)}.")
            db.session.commit()
            flash(" ".join(saved) if saved else ("That action had already been added." if repeat is not None
                                                 else "Nothing was changed."), "success" if saved else "info")
            return redirect(url_for("meetings.mdt_notes", meeting_id=meeting.id))
    actions = mdt.mdt_actions(meeting.id)
    return _done(render_template("meetings/mdt_notes.html", view=view, case=case, meeting=meeting, form=form,
                                 blocked=blocked, actions=actions, today=today))
