"""The pages an invitation's "I can attend" and "I cannot attend" links open.

- /meetings/<id>/reply: for someone with an account (a SPoC, a named worker, a chair), behind
  sign-in; anyone not on the meeting's list gets 404.
- /meetings/reply/<token>: for someone without one (a GP). The token is the credential (the
  route is PUBLIC in the access table, like the calendar feed): the page shows the meeting's
  date, time and place and nothing else (no case reference, no name, no purpose), is sent with
  Referrer-Policy: no-referrer, and answers 404 for an unknown token, for someone taken off the
  list, and once the meeting has ended (panel.meetings.replies.find_link).
A GET shows the page (the link's answer ticked) and writes nothing; the reply is a POST.
"""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from panel.extensions import db
from panel.forms.errors import ServiceError, show_service_error
from panel.meetings import invitations, replies
from panel.meetings.reply_forms import reply_form
from panel.meetings.views import bp
from panel.models import utcnow


def _recorded(answer_label: str) -> None:
    flash(f"Your reply is recorded: {answer_label.lower()}. You can change it here until the meeting.", "success")


@bp.route("/<int:meeting_id>/reply", methods=["GET", "POST"])
def reply_to_invitation(meeting_id: int):
    me = current_user._get_current_object()
    attendee = replies.my_invitation(meeting_id, me)
    if attendee is None:
        abort(404)
    meeting, now = attendee.meeting, utcnow()
    closed = replies.closed_reason(meeting, now)
    form = reply_form(request.args.get("answer"))
    if closed is None and form.validate_on_submit():
        try:
            invitations.record_response(attendee, form.response, by=me, now=now)
        except ServiceError as problem:
            db.session.rollback()
            show_service_error(form, problem, default="answer")
        else:
            db.session.commit()
            _recorded(form.response.label)
            return redirect(url_for("meetings.reply_to_invitation", meeting_id=meeting.id))
    return render_template("meetings/reply.html", meeting=meeting, attendee=attendee, form=form, closed=closed,
                           external=False, what=invitations.summary(meeting))


@bp.route("/reply/<reply_token>", methods=["GET", "POST"])
def reply_by_link(reply_token: str):
    now = utcnow()
    link = replies.find_link(reply_token, now=now)
    if link is None:
        abort(404)
    attendee = link.attendee
    closed = replies.closed_reason(attendee.meeting, now)
    form = reply_form(request.args.get("answer"))
    if closed is None and form.validate_on_submit():
        try:
            replies.reply_by_link(link, form.response, now=now)
        except ServiceError as problem:
            db.session.rollback()
            show_service_error(form, problem, default="answer")
        else:
            db.session.commit()
            _recorded(form.response.label)
            return redirect(url_for("meetings.reply_by_link", reply_token=reply_token), code=303)
    response = make_response(render_template("meetings/reply.html", meeting=attendee.meeting, attendee=attendee,
                                             form=form, closed=closed, external=True, what=""))
    response.headers["Referrer-Policy"] = "no-referrer"  # the address holds the token
    return response


@bp.app_template_global("earlier_replies")
def earlier_replies(meeting) -> dict:
    """For the attendee lists: calendar replies to an earlier version of the invitation that
    came after each attendee's answer on file (one query)."""
    return replies.earlier_version_replies([meeting.id])
