"""The meeting list, the meeting page and its agenda, preparing the agenda, moving and
cancelling a panel, publishing the agenda, and printing (the print view and the PDF pack).

Who sees what: coordinators and chairs see every panel in full; a SPoC sees the agenda with
the restricted form (reference, initials, risk level, lead and involved agencies) for cases
their agency is not involved in, and no actions of those cases; practitioners, board members
and admins get 404 (the access table). Nobody from an agency without a current information
sharing agreement sees any case on an agenda. The printed pack is for coordinators and chairs.
Only coordinators change anything, and only until the minutes are final.

Every view of a meeting page or its pack is audited; every change goes through a service that
audits it. The meeting page runs a fixed number of queries whatever the number of cases and
actions (panel.meetings.agenda.agenda_view).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from panel import audit, pagination as paging
from panel.auth.policy import (
    MEETINGS,
    OPERATIONS,
    can_access_case_records,
    can_view_referral,
    case_access,
    isa_block_reason,
)
from panel.extensions import db
from panel.forms.errors import ServiceError, show_service_error
from panel.forms.text import one_line
from panel.dates import LONDON, govuk_date, govuk_datetime, london_today
from panel.transactions import commit_read
from panel.meetings import agenda, agenda_tables, invitations, pack, panels, schedule
from panel.meetings.agenda_forms import (
    AddItemForm,
    ButtonForm,
    CancelPanelForm,
    MovePanelForm,
    PanelPlaceForm,
    TimeBoxForm,
)
from panel.meetings.minutes_forms import SheetErrors
from panel.meetings.pdf import pdf_response
from panel.meetings.views import bp
from panel.models import (
    AgendaItem,
    AuditAction,
    Involvement,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Role,
    User,
    utcnow,
)

PAST_PAGE_SIZE = 12
FINAL = "The minutes of this panel are final, so its agenda cannot be changed."
CANCELLED = "This panel has been cancelled, so its agenda cannot be changed."


def _me() -> User:
    return current_user._get_current_object()


def _reader() -> User:
    """The signed-in user with their agency loaded now, in a query of its own. The agenda pages
    read it (need to know, the information sharing agreement); loaded when first read, it cost a
    query only when none of the agenda's cases had loaded that agency already, so a page's
    number of queries depended on the agenda."""
    user = _me()
    _ = user.agency
    return user


def _meeting(meeting_id: int) -> Meeting:
    """The panel, or 404 (case MDT meetings come with their own pages in a later issue)."""
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or meeting.kind != MeetingKind.PANEL:
        abort(404)
    return meeting


def _preparable(meeting: Meeting) -> str | None:
    """Why the agenda cannot be changed now, or None when it can."""
    if meeting.finalised:
        return FINAL
    if meeting.cancelled:
        return CANCELLED
    return None


def _back_if_not_preparable(meeting: Meeting) -> None:
    problem = _preparable(meeting)
    if problem:
        flash(problem, "info")
        abort(redirect(url_for("meetings.view_meeting", meeting_id=meeting.id)))


def _item(meeting: Meeting, item_id: int) -> AgendaItem:
    item = db.session.get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting.id:
        abort(404)
    return item


def _access(user: User) -> Callable[[int], str | None]:
    """Need to know for each case on an agenda: "full", "restricted" or None, in one query."""
    today = london_today()
    if user.role in OPERATIONS or not can_access_case_records(user, today):
        level = case_access(user, set(), today)
        return lambda case_id: level
    mine = set(db.session.scalars(sa.select(Involvement.case_id).where(
        Involvement.agency_id == user.agency_id, Involvement.case_id.is_not(None))))
    return lambda case_id: case_access(user, {user.agency_id} if case_id in mine else set(), today)


def _statement() -> str:
    return current_app.config["PANEL_CONFIDENTIALITY_STATEMENT"]


@bp.app_template_filter("london_time")
def london_time(value: datetime | None) -> str:
    """The time of day in Europe/London, GOV.UK style: 10am, 12:30pm, midday."""
    if value is None:
        return ""
    return govuk_datetime(value).rpartition(" at ")[2]


@bp.app_template_global("agenda_actions_table")
def agenda_actions_table(actions, today, caption: str, case_column: bool = False, empty: str = "None") -> Markup:
    """templates/meetings/_agenda_macros.html's actions_table, written in Python (panel.meetings.agenda_tables)."""
    linked = "actions.view_action" in current_app.view_functions
    return agenda_tables.actions_table(
        actions, today, caption, case_column=case_column, empty=empty,
        action_url=agenda_tables.address_of(url_for, "actions.view_action", "action_id") if linked and actions else None)


@bp.app_template_global("next_panel")
def next_panel() -> Meeting | None:
    """The next monthly panel not yet over and not cancelled (for the dashboards), in one query."""
    return db.session.scalar(
        sa.select(Meeting).where(Meeting.kind == MeetingKind.PANEL, Meeting.status == MeetingStatus.SCHEDULED,
                                 Meeting.ends_at >= utcnow())
        .order_by(Meeting.starts_at, Meeting.id).limit(1))


# ---- the list -----------------------------------------------------------------------------


@bp.route("")
def list_meetings():
    now = utcnow()
    upcoming = list(db.session.scalars(
        sa.select(Meeting).where(Meeting.kind == MeetingKind.PANEL, Meeting.ends_at >= now)
        .order_by(Meeting.starts_at, Meeting.id)))
    past_query = sa.select(Meeting).where(Meeting.kind == MeetingKind.PANEL, Meeting.ends_at < now)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(past_query.subquery()))
    pages = max(1, -(-total // PAST_PAGE_SIZE))
    page = paging.page_number(pages)
    past = list(db.session.scalars(past_query.order_by(Meeting.starts_at.desc(), Meeting.id.desc())
                                   .limit(PAST_PAGE_SIZE).offset((page - 1) * PAST_PAGE_SIZE)))
    return render_template(
        "meetings/list_meetings.html", upcoming=upcoming, past=past, past_total=total,
        pagination=paging.pagination("meetings.list_meetings", page, pages, label="Past panels pages"),
        next_panel=next((m for m in upcoming if not m.cancelled), None), form=None, button=ButtonForm(),
        can_create=_me().role == Role.COORDINATOR and not upcoming, ahead=schedule.rule().ahead)


@bp.route("/create", methods=["POST"])
def create_panels():
    if not ButtonForm().validate_on_submit():
        flash("Something went wrong with the form. Try again.", "info")
        return redirect(url_for("meetings.list_meetings"))
    created = schedule.ensure_panels(london_today())
    db.session.commit()
    flash(f"{len(created)} panel{'s' if len(created) != 1 else ''} added to the schedule." if created
          else "The next panels are already in the schedule.", "success" if created else "info")
    return redirect(url_for("meetings.list_meetings"))


# ---- the meeting page -----------------------------------------------------------------------


def _agenda_context(meeting: Meeting, user: User, view: agenda.AgendaView | None = None) -> dict[str, Any]:
    today = london_today()
    view = view or agenda.agenda_view(meeting, today, details=False)  # the pack passes its own, in full
    access = _access(user)
    return {
        "meeting": meeting, "view": view, "today": today, "access": access,
        "isa_message": isa_block_reason(user.agency, today),
        "statement": _statement(), "start_times": view.start_times(),
        "referral_initials": lambda referral: can_view_referral(user, referral, today),
        "last_panel_actions": [a for a in view.last_panel_actions if access(a.case_id) == "full"],
        "escalated_actions": [a for a in view.escalated_actions if access(a.case_id) == "full"],
        "long_cases": [c for c in view.long_cases if access(c.id) is not None],
    }


def _item_address(meeting: Meeting, endpoint: str) -> Callable[[int], str]:
    """item id -> the address of one of its controls on the meeting page (url_for asked once)."""
    return agenda_tables.address_of(lambda name, **values: url_for(name, meeting_id=meeting.id, **values),
                                    endpoint, "item_id")


@bp.route("/<int:meeting_id>")
def view_meeting(meeting_id: int):
    user = _reader()
    found = db.session.get(Meeting, meeting_id)
    if (found is not None and found.kind == MeetingKind.MDT and found.case_id is not None
            and "meetings.view_mdt" in current_app.view_functions):
        # The stable address of every meeting (invitations link to it): a case MDT shows its own
        # page here, which applies the case's need to know (404 for anyone without it).
        return current_app.view_functions["meetings.view_mdt"](meeting_id=meeting_id)
    if user.role not in MEETINGS:  # practitioners reach MDTs here, never a panel
        audit.record(AuditAction.DENIED, "meeting", meeting_id, summary={"page": "meeting"})
        db.session.commit()
        abort(404)
    meeting = _meeting(meeting_id)
    now = utcnow()
    coordinator = user.role == Role.COORDINATOR
    # A GET changes nothing (issue 14): the coordinator is offered "Bring the agenda up to date",
    # a POST, when the stored agenda no longer matches the data; the job "agenda-sync" keeps
    # upcoming panels' agendas up to date in the meantime.
    audit.record(AuditAction.VIEW, "meeting", meeting.id, summary={"page": "meeting"})
    context = _agenda_context(meeting, user)
    items = context["view"].items  # the stored agenda, read once for the page and the check below
    out_of_date = False
    if coordinator and _preparable(meeting) is None:
        out_of_date = agenda.should_sync(meeting, now, bool(items)) and agenda.out_of_date(meeting, items)
    editable = coordinator and _preparable(meeting) is None
    html = render_template(
        "meetings/view_meeting.html", **context, editable=editable,
        reschedulable=editable and now < meeting.starts_at, button=ButtonForm(), now=now, out_of_date=out_of_date,
        can_move=lambda item, up: agenda.can_move(context["view"].items, item, up=up),
        move_url=_item_address(meeting, "meetings.move_item"), time_box_url=_item_address(meeting, "meetings.time_box"),
        operations=user.role in OPERATIONS, form=None)
    db.session.commit()  # the audited view; after rendering, so nothing loads twice
    return html


@bp.route("/<int:meeting_id>/agenda/update", methods=["POST"])
def update_agenda(meeting_id: int):
    """Bring a panel's stored agenda in line with the data (what the page used to do on a GET)."""
    meeting = _meeting(meeting_id)
    _back_if_not_preparable(meeting)
    back = redirect(url_for("meetings.view_meeting", meeting_id=meeting.id))
    if not ButtonForm().validate_on_submit():
        flash("Something went wrong with the form. Try again.", "info")
        return back
    now = utcnow()
    has_items = now < meeting.starts_at or db.session.scalar(
        sa.select(sa.exists().where(AgendaItem.meeting_id == meeting.id)))
    changed = agenda.should_sync(meeting, now, bool(has_items)) and agenda.sync_agenda(meeting, by=_me())
    db.session.commit()
    flash("The agenda is up to date." if changed else "The agenda was already up to date.",
          "success" if changed else "info")
    return back


# ---- preparing the agenda ---------------------------------------------------------------------


@bp.route("/<int:meeting_id>/items/<int:item_id>/move", methods=["POST"])
def move_item(meeting_id: int, item_id: int):
    meeting = _meeting(meeting_id)
    _back_if_not_preparable(meeting)
    item = _item(meeting, item_id)
    direction = request.form.get("direction", "")
    back = redirect(url_for("meetings.view_meeting", meeting_id=meeting.id, _anchor=f"item-{item.id}"))
    if not ButtonForm().validate_on_submit() or direction not in ("up", "down"):
        flash("Something went wrong with the form. Try again.", "info")
        return back
    label = _item_label(item)
    if agenda.move_item(item, up=direction == "up", by=_me()):
        db.session.commit()
        flash(f"{label} moved {direction}.", "success")
    else:
        flash(f"{label} is already {'first' if direction == 'up' else 'last'} in its section.", "info")
    return back


def _item_label(item: AgendaItem) -> str:
    if item.case is not None:
        return f"Case {item.case.reference}"
    if item.referral is not None:
        return f"Referral {item.referral.reference}"
    return f"‘{item.title}’"


@bp.route("/<int:meeting_id>/items/add", methods=["GET", "POST"])
def add_item(meeting_id: int):
    meeting = _meeting(meeting_id)
    _back_if_not_preparable(meeting)
    form = AddItemForm(data={"minutes": "10"} if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            item = agenda.add_item(meeting, title=form.title.data, minutes=form.minutes.minutes, by=_me())
        except ServiceError as problem:
            show_service_error(form, problem, default="title")
        else:
            db.session.commit()
            flash(f"‘{item.title}’ added to the agenda, before any other business.", "success")
            return redirect(url_for("meetings.view_meeting", meeting_id=meeting.id, _anchor=f"item-{item.id}"))
    return render_template("meetings/add_item.html", meeting=meeting, form=form)


@bp.route("/<int:meeting_id>/items/<int:item_id>/time", methods=["GET", "POST"])
def time_box(meeting_id: int, item_id: int):
    meeting = _meeting(meeting_id)
    _back_if_not_preparable(meeting)
    item = _item(meeting, item_id)
    form = TimeBoxForm(data={"minutes": str(item.minutes)} if request.method == "GET" else None)
    if form.validate_on_submit():
        agenda.set_time_box(item, minutes=form.minutes.minutes, by=_me())
        db.session.commit()
        flash(f"The time box for {_item_label(item)} is now {item.minutes} minutes.", "success")
        return redirect(url_for("meetings.view_meeting", meeting_id=meeting.id, _anchor=f"item-{item.id}"))
    return render_template("meetings/time_box.html", meeting=meeting, item=item, label=_item_label(item), form=form)


@bp.route("/<int:meeting_id>/time-boxes", methods=["GET", "POST"])
def time_boxes(meeting_id: int):
    """Every item's time box on one form, saved by one post."""
    meeting = _meeting(meeting_id)
    _back_if_not_preparable(meeting)
    form = ButtonForm()
    sent: dict[int, str] = {}
    problems: dict[int, str] = {}
    if request.method == "POST":
        view = agenda.time_box_view(meeting)
        sent = {item.id: one_line(request.form.get(f"minutes-{item.id}")) for item in view.items
                if f"minutes-{item.id}" in request.form}
        if form.validate_on_submit():
            changed, problems = agenda.set_time_boxes(meeting, sent, by=_me())
            if not problems:
                db.session.commit()
                flash(f"{changed} time box{'es' if changed != 1 else ''} changed." if changed
                      else "The time boxes were already as sent.", "success" if changed else "info")
                return redirect(url_for("meetings.view_meeting", meeting_id=meeting.id, _anchor="agenda"))
            db.session.rollback()
        else:
            flash("The form had expired, so nothing was saved. Check the time boxes and save them again.", "info")
    view = agenda.time_box_view(meeting)
    errors = SheetErrors({f"minutes-{item_id}": message for item_id, message in problems.items()})
    return render_template("meetings/time_boxes.html", meeting=meeting, view=view, sheet=form,
                           sent=sent, problems=problems, labels={i.id: _item_label(i) for i in view.items},
                           numbers=view.item_numbers(), form=errors if problems else None)


@bp.route("/<int:meeting_id>/publish", methods=["POST"])
def publish_agenda(meeting_id: int):
    meeting = _meeting(meeting_id)
    _back_if_not_preparable(meeting)
    back = redirect(url_for("meetings.view_meeting", meeting_id=meeting.id, _anchor="publish"))
    if not ButtonForm().validate_on_submit():
        flash("Something went wrong with the form. Try again.", "info")
        return back
    if meeting.starts_at <= utcnow():
        flash("This panel has already started, so its agenda is not sent now.", "info")
        return back
    again = request.form.get("again") == "yes"
    agenda.sync_agenda(meeting, by=_me())
    over = agenda.over_time_unseen(meeting, request.form.get("over_time_seen", ""))
    if over:
        db.session.commit()  # the sync, if anything changed
        flash(over, "info")
        return back
    told = panels.publish_agenda(meeting, by=_me(), again=again)
    if told is None:
        db.session.commit()  # the sync, if anything changed
        flash(f"The agenda was already published on {govuk_date(meeting.agenda_published_at)}. "
              "Use ‘Send the agenda again’ to email the SPoCs once more.", "info")
        return back
    invited = invitations.invite_panel(meeting, by=_me()) if request.form.get("invite") == "yes" and not again else []
    db.session.commit()
    flash(f"The agenda has been {'sent again' if again else 'published'}: {told} SPoC"
          f"{'s' if told != 1 else ''} emailed a link."
          + (f" Calendar invitations sent to {len(invited)} {'person' if len(invited) == 1 else 'people'}."
             if invited else ""), "success")
    return back


# ---- moving and cancelling a panel ------------------------------------------------------------


def _not_if_started(meeting: Meeting) -> None:
    _back_if_not_preparable(meeting)
    if meeting.starts_at <= utcnow():
        flash("This panel has already started, so it cannot be moved or cancelled.", "info")
        abort(redirect(url_for("meetings.view_meeting", meeting_id=meeting.id)))


@bp.route("/<int:meeting_id>/move", methods=["GET", "POST"])
def move_panel(meeting_id: int):
    meeting = _meeting(meeting_id)
    _not_if_started(meeting)
    if request.method == "GET":
        local_start, local_end = meeting.starts_at.astimezone(LONDON), meeting.ends_at.astimezone(LONDON)
        form = MovePanelForm(data={"new_date": local_start.date(), "start_time": f"{local_start:%H:%M}",
                                   "end_time": f"{local_end:%H:%M}"})
    else:
        form = MovePanelForm()
        if form.validate_on_submit():
            try:
                told = panels.move_panel(meeting, starts_at=form.starts_at, ends_at=form.ends_at,
                                         reason=form.reason.data, by=_me())
            except ServiceError as problem:
                show_service_error(form, problem, default="new_date")
            else:
                db.session.commit()
                flash(f"The panel has moved to {govuk_datetime(meeting.starts_at)}. {told} people were told by "
                      "email.", "success")
                return redirect(url_for("meetings.view_meeting", meeting_id=meeting.id))
    return render_template("meetings/move_panel.html", meeting=meeting, form=form)


@bp.route("/<int:meeting_id>/place", methods=["GET", "POST"])
def panel_place(meeting_id: int):
    meeting = _meeting(meeting_id)
    _not_if_started(meeting)
    form = PanelPlaceForm(data={"location": meeting.location, "online_url": meeting.online_url})
    if form.validate_on_submit():
        try:
            told = panels.set_place(meeting, location=form.location.data, online_url=form.online_url.data, by=_me())
        except ServiceError as problem:
            show_service_error(form, problem, default="location")
        else:
            db.session.commit()
            flash(f"The panel’s place has been saved. {told} people were told by email.", "success")
            return redirect(url_for("meetings.view_meeting", meeting_id=meeting.id))
    return render_template("meetings/panel_place.html", meeting=meeting, form=form)


@bp.route("/<int:meeting_id>/cancel", methods=["GET", "POST"])
def cancel_panel(meeting_id: int):
    meeting = _meeting(meeting_id)
    _not_if_started(meeting)
    form = CancelPanelForm()
    if form.validate_on_submit():
        try:
            told = panels.cancel_panel(meeting, reason=form.reason.data, by=_me())
        except ServiceError as problem:
            show_service_error(form, problem, default="reason")
        else:
            db.session.commit()
            flash(f"The panel on {govuk_date(meeting.starts_at)} has been cancelled. {told} people were told by "
                  "email.", "success")
            return redirect(url_for("meetings.view_meeting", meeting_id=meeting.id))
    return render_template("meetings/cancel_panel.html", meeting=meeting, form=form)


# ---- printing -----------------------------------------------------------------------------------


def _pack_html(meeting: Meeting, *, for_pdf: bool) -> str:
    """The chair's pack (panel.meetings.pack) as HTML: the print view, and the PDF's source."""
    user = _reader()
    chairs = pack.chairs_pack(meeting, user, today=london_today())
    context = _agenda_context(meeting, user, view=chairs.view)
    access = context["access"]
    cases = [section for section in chairs.view.case_sections() if access(section.case.id) == "full"]
    escalations = [e for e in chairs.escalations if access(e.action.case_id) == "full"]
    return render_template("meetings/print_agenda.html", **context, chairs=chairs, pack=cases,
                           escalations=escalations, for_pdf=for_pdf)


@bp.route("/<int:meeting_id>/agenda")
def print_agenda(meeting_id: int):
    meeting = _meeting(meeting_id)
    audit.record(AuditAction.VIEW, "meeting", meeting.id, summary={"page": "print"})
    html = _pack_html(meeting, for_pdf=False)
    commit_read(db.session())
    return html


@bp.route("/<int:meeting_id>/agenda/agency")
def agency_agenda(meeting_id: int):
    """A SPoC's agenda to print: every item with its timings, cases their agency is in with
    their open actions, the others in the restricted form (as on the meeting page), and no
    referral's details but their own agency's initials. The chair's pack is not theirs."""
    user = _reader()
    meeting = _meeting(meeting_id)
    audit.record(AuditAction.VIEW, "meeting", meeting.id, summary={"page": "agency_agenda"})
    html = render_template("meetings/agency_agenda.html", **_agenda_context(meeting, user), editable=False,
                           operations=False, can_move=None, agency=user.agency)
    commit_read(db.session())
    return html


@bp.route("/<int:meeting_id>/agenda.pdf")
def agenda_pdf(meeting_id: int):
    meeting = _meeting(meeting_id)
    audit.record(AuditAction.VIEW, "meeting", meeting.id, summary={"page": "agenda.pdf"})
    html = _pack_html(meeting, for_pdf=True)
    day = meeting.starts_at.astimezone(LONDON).date()
    # Committed before the PDF is drawn, and nothing read after: on SQLite a transaction holds
    # the one write lock, which no one should wait on while WeasyPrint lays out pages.
    commit_read(db.session())
    return pdf_response(html, f"panel-agenda-{day:%Y-%m-%d}.pdf")
