"""A meeting's calendar invitation: the download, sending a panel's invitations, and recording
attendees' replies by hand (replies also come by themselves: the links in the invitation email,
panel.meetings.views.reply_views, and calendars' REPLYs read from the mailbox, panel.meetings.mailbox).

Who may download /meetings/<id>/invite.ics: coordinators and chairs; anyone on the meeting's
list; for a case MDT, whoever sees the full case record. Anyone else gets 404. Every download
is audited. Sending a panel's invitations is for coordinators; a reply is recorded by a
coordinator for anyone on the list, or by a signed-in attendee for themself.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, request, url_for
from flask_login import current_user

from panel import audit
from panel.dates import london_today
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.meetings import invitations
from panel.meetings.views import bp
from panel.models import AttendeeResponse, AuditAction, Case, Meeting, MeetingKind, Role, User, utcnow

REPLIES = {r.value: r for r in (AttendeeResponse.ACCEPTED, AttendeeResponse.DECLINED, AttendeeResponse.TENTATIVE)}


def _me() -> User:
    return current_user._get_current_object()


def _meeting(meeting_id: int) -> Meeting:
    meeting = db.session.scalar(sa.select(Meeting).where(Meeting.id == meeting_id).options(
        sa.orm.selectinload(Meeting.attendees),
        sa.orm.joinedload(Meeting.case).selectinload(Case.involvements)))
    if meeting is None:
        abort(404)
    return meeting


def _back(meeting: Meeting) -> Response:
    """To the meeting's page (an MDT has its own), at the invitations."""
    endpoint = "meetings.view_mdt" if meeting.kind == MeetingKind.MDT else "meetings.view_meeting"
    return redirect(url_for(endpoint, meeting_id=meeting.id, _anchor="invitations"))


@bp.route("/<int:meeting_id>/invite.ics")
def invite_ics(meeting_id: int):
    meeting = _meeting(meeting_id)
    if not invitations.can_see(_me(), meeting, london_today()):
        audit.record(AuditAction.DENIED, "meeting", meeting.id, summary={"download": "invite.ics"})
        db.session.commit()
        abort(404)
    body = invitations.current_calendar(meeting)
    audit.record(AuditAction.VIEW, "meeting", meeting.id,
                 summary={"download": "invite.ics", "sequence": meeting.ical_sequence})
    db.session.commit()
    response = Response(body, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="invite.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/<int:meeting_id>/invitations", methods=["POST"])
def send_panel_invitations(meeting_id: int):
    meeting = _meeting(meeting_id)
    if meeting.kind != MeetingKind.PANEL:
        abort(404)
    if meeting.cancelled or meeting.finalised or meeting.ends_at <= utcnow():
        flash("Invitations can only be sent for a panel that has not happened and is not cancelled.", "info")
        return _back(meeting)
    added = invitations.invite_panel(meeting, by=_me())
    db.session.commit()
    if added:
        flash(f"Calendar invitations sent to {len(added)} {'person' if len(added) == 1 else 'people'}.", "success")
    else:
        flash("Everyone expected at this panel has already been invited.", "info")
    return _back(meeting)


@bp.route("/<int:meeting_id>/attendees/<int:attendee_id>/response", methods=["POST"])
def record_response(meeting_id: int, attendee_id: int):
    me = _me()
    meeting = _meeting(meeting_id)
    attendee = next((a for a in meeting.attendees if a.id == attendee_id), None)
    if attendee is None or not (me.role == Role.COORDINATOR or attendee.user_id == me.id):
        abort(404)
    reply = REPLIES.get(request.form.get("response", ""))
    if reply is None:
        flash("Choose attending, not attending or tentative.", "info")
        return _back(meeting)
    try:
        invitations.record_response(attendee, reply, by=me)
    except ServiceError as problem:
        db.session.rollback()
        flash(problem.message, "info")
        return _back(meeting)
    db.session.commit()
    who = "Your reply" if attendee.user_id == me.id else f"{attendee.name}’s reply"
    flash(f"{who} is recorded: {reply.label.lower()}.", "success")
    return _back(meeting)



@bp.app_template_global("can_see_invitation")
def can_see_invitation(meeting: Meeting) -> bool:
    """For templates/meetings/_invitations.html: may the signed-in user download the invitation?"""
    return current_user.is_authenticated and invitations.can_see(_me(), meeting, london_today())
