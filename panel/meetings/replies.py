"""Replies to invitations: the answer on file for each attendee, the reply links in invitation
emails, and the calendar REPLYs read from the organiser's mailbox (panel.meetings.mailbox).

An answer comes four ways (MeetingAttendee.response_source): the coordinator records it; a
signed-in attendee gives their own (the "I can attend" link in their email goes to a page that
needs sign-in); someone without an account (a GP) uses the reply link in their email; or their
calendar's REPLY (Accept, Tentative, Decline in Outlook, Google Calendar, Thunderbird) is read
from the mailbox. Each answer on file keeps the SEQUENCE and DTSTAMP it answered (RFC 5546
§2.1.5). A calendar reply replaces it only when it answers a newer version of the invitation, or
the same version later; a reply to an older version than the attendee was last sent is kept
(marked `outdated`, shown on the meeting's page) but never changes the answer. Every calendar
reply is kept once, keyed on (meeting, attendee, SEQUENCE, DTSTAMP), with a unique constraint,
so reading the same reply twice, or two readers at once, records it once.

A reply link: 128 random bits (secrets.token_urlsafe(16)) in the address
/meetings/reply/<token>, sent once in the email and stored only as its SHA-256; one link per
invitation email, each bound to one attendee of one meeting. It shows only the meeting's date,
time and place, and works (any number of times, to change the answer) until the meeting ends;
after that, for someone taken off the list, or for an unknown token, it answers 404. The token
never reaches a log: panel.ops.logs blanks /meetings/reply/<token> in every log line.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
import secrets
from datetime import datetime, timezone
from enum import StrEnum

import sqlalchemy as sa
from flask import current_app

from panel import audit
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.meetings import imip
from panel.models import (
    AttendeeResponse,
    AuditAction,
    CalendarReply,
    InvitationReplyLink,
    Meeting,
    MeetingAttendee,
    MeetingStatus,
    ResponseSource,
    User,
    utcnow,
)

TOKEN_BYTES = 16                      # 128 bits
LINK_PATH = "/meetings/reply/"        # panel.ops.logs blanks what follows it
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)
ANSWERS = {"ACCEPTED": AttendeeResponse.ACCEPTED, "TENTATIVE": AttendeeResponse.TENTATIVE,
           "DECLINED": AttendeeResponse.DECLINED}


class Outcome(StrEnum):
    """What reading one message did. All but LEFT mean the message is done with (marked read)."""

    RECORDED = "recorded"        # the attendee's answer is now this reply's
    KEPT = "kept"                # kept, answer unchanged: a newer one is on file, the meeting is
                                 # cancelled, or the attendee was taken off the list
    OUTDATED = "outdated"        # kept, marked as answering an older version: answer unchanged
    ALREADY = "already"          # this reply was recorded before (the same or another message)
    LEFT = "left"                # not a reply the service can take: left unread for a person


# ---- the answer on file ---------------------------------------------------------------------------

def set_response(attendee: MeetingAttendee, response: AttendeeResponse, *, source: ResponseSource,
                 by: User | None, now: datetime | None = None, sequence: int | None = None,
                 stamp: datetime | None = None) -> None:
    """Put an answer on file with how it came and the version it answers (by default the one
    the attendee was last sent, answered now). Audited. Flushes."""
    now = now or utcnow()
    if sequence is None:
        sequence = attendee.invited_sequence if attendee.invited_sequence is not None else attendee.meeting.ical_sequence
    attendee.response, attendee.response_at, attendee.response_source = response, now, source
    attendee.response_sequence, attendee.response_stamp = sequence, stamp or now
    audit.record(AuditAction.UPDATE, "meeting_attendee", attendee.id,
                 summary={"response": str(response), "source": str(source)}, user=by)
    db.session.flush()


def _newer(reply: imip.Reply, attendee: MeetingAttendee) -> bool:
    """RFC 5546 §2.1.5: the higher SEQUENCE wins; at the same SEQUENCE, the later DTSTAMP."""
    if attendee.response_sequence is None:
        return True
    return (reply.sequence, reply.dtstamp) > (attendee.response_sequence, attendee.response_stamp or _EARLIEST)


# ---- calendar replies from the mailbox ------------------------------------------------------------

def take_message(raw: bytes, *, now: datetime | None = None) -> tuple[Outcome, str]:
    """Read one email from the organiser's mailbox and record the reply it carries, if any.
    Returns the outcome and, for LEFT, why (a fixed phrase). Writes nothing for LEFT; the
    caller commits otherwise, and only then marks the message read."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        reply = imip.read_reply(message)
    except imip.NotAReply as refusal:
        return Outcome.LEFT, refusal.reason
    except Exception:  # noqa: BLE001 - a message the email package cannot read is a person's to read
        return Outcome.LEFT, "a message that could not be read"
    return record_calendar_reply(reply, now=now)


def record_calendar_reply(reply: imip.Reply, *, now: datetime | None = None) -> tuple[Outcome, str]:
    """Record a calendar's REPLY against the meeting with its UID and the attendee it names.
    Left for a person when the UID is not one of ours or the address is not on the meeting's
    list. Kept once per (meeting, attendee, SEQUENCE, DTSTAMP). Audited. Flushes."""
    now = now or utcnow()
    meeting = db.session.scalar(sa.select(Meeting).where(Meeting.ical_uid == reply.uid))
    if meeting is None:
        return Outcome.LEFT, "a reply to a meeting the service does not know"
    attendee = db.session.scalar(
        sa.select(MeetingAttendee).where(MeetingAttendee.meeting_id == meeting.id,
                                         sa.func.lower(MeetingAttendee.email) == reply.attendee)
        .with_for_update())
    if attendee is None:
        return Outcome.LEFT, "a reply from someone not invited"
    key = (CalendarReply.meeting_id == meeting.id, CalendarReply.attendee_id == attendee.id,
           CalendarReply.sequence == reply.sequence, CalendarReply.dtstamp == reply.dtstamp)
    if db.session.scalar(sa.select(CalendarReply.id).where(*key)) is not None:
        return Outcome.ALREADY, ""
    outdated = reply.sequence < (attendee.invited_sequence or 0)
    applies = (not outdated and attendee.current and meeting.status != MeetingStatus.CANCELLED
               and _newer(reply, attendee))
    response = ANSWERS[reply.partstat]
    row = CalendarReply(meeting_id=meeting.id, attendee_id=attendee.id, response=response, sequence=reply.sequence,
                        dtstamp=reply.dtstamp, message_id=reply.message_id, received_at=now, outdated=outdated,
                        applied=applies)
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except sa.exc.IntegrityError:  # another reader recorded it a moment ago
        return Outcome.ALREADY, ""
    audit.record(AuditAction.CREATE, "calendar_reply", row.id,
                 summary={"meeting": meeting.id, "attendee": attendee.id, "response": str(response),
                          "sequence": reply.sequence, "outdated": outdated, "applied": applies}, user=None)
    if applies:
        set_response(attendee, response, source=ResponseSource.CALENDAR, by=None, now=now,
                     sequence=reply.sequence, stamp=reply.dtstamp)
        return Outcome.RECORDED, ""
    return (Outcome.OUTDATED if outdated else Outcome.KEPT), ""


def earlier_version_replies(meeting_ids: list[int]) -> dict[int, CalendarReply]:
    """For each attendee, their latest calendar reply to an older version of the invitation,
    if it came after the answer on file (the coordinator may want to ask them). One query."""
    if not meeting_ids:
        return {}
    rows = db.session.execute(
        sa.select(CalendarReply, MeetingAttendee.response_at)
        .join(MeetingAttendee, MeetingAttendee.id == CalendarReply.attendee_id)
        .where(CalendarReply.meeting_id.in_(meeting_ids), CalendarReply.outdated.is_(True))
        .order_by(CalendarReply.received_at, CalendarReply.id))
    latest: dict[int, CalendarReply] = {}
    for reply, answered_at in rows:
        if answered_at is None or reply.received_at >= answered_at:
            latest[reply.attendee_id] = reply
    return latest


# ---- reply links ------------------------------------------------------------------------------------

def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def issue_link(attendee: MeetingAttendee, *, now: datetime | None = None) -> str:
    """A new reply link for the attendee (one per invitation email). Returns the token: the only
    time it exists in clear, to go in the email and nowhere else. Adds the row; no flush."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    db.session.add(InvitationReplyLink(attendee_id=attendee.id, token_hash=token_hash(token), created_at=now or utcnow()))
    return token


def reply_urls(meeting: Meeting, attendee: MeetingAttendee, *, now: datetime | None = None) -> dict[str, str]:
    """The "I can attend" and "I cannot attend" addresses for one invitation email: the
    reply page behind sign-in for a user, a new reply link for anyone else."""
    base = current_app.config["PUBLIC_URL"]
    if attendee.user_id is not None:
        page = f"{base}/meetings/{meeting.id}/reply"
    else:
        page = f"{base}{LINK_PATH}{issue_link(attendee, now=now)}"
    return {"accepted": f"{page}?answer=accepted", "declined": f"{page}?answer=declined"}


def find_link(token: str, *, now: datetime | None = None) -> InvitationReplyLink | None:
    """The link with this token, if it still works: its attendee is on the list and the
    meeting has not ended. Loads the attendee and the meeting with it (one query)."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    now = now or utcnow()
    link = db.session.scalar(
        sa.select(InvitationReplyLink).where(InvitationReplyLink.token_hash == token_hash(token))
        .options(sa.orm.joinedload(InvitationReplyLink.attendee).joinedload(MeetingAttendee.meeting)))
    if link is None or not link.attendee.current or link.attendee.meeting.ends_at <= now:
        return None
    return link


def reply_by_link(link: InvitationReplyLink, response: AttendeeResponse, *, now: datetime | None = None) -> None:
    """The attendee's answer through their reply link (any number of times until the meeting
    ends). Audited, with the link's number, never its token. Flushes."""
    now = now or utcnow()
    attendee = link.attendee
    if response not in ANSWERS.values():
        raise ServiceError("Select whether you can attend", field="answer")
    if attendee.meeting.status == MeetingStatus.CANCELLED:
        raise ServiceError("This meeting has been cancelled", field="answer")
    link.last_used_at = now
    set_response(attendee, response, source=ResponseSource.LINK, by=None, now=now)


def my_invitation(meeting_id: int, user: User) -> MeetingAttendee | None:
    """The user's own place on the meeting's list, with the meeting, or None."""
    return db.session.scalar(
        sa.select(MeetingAttendee).where(MeetingAttendee.meeting_id == meeting_id,
                                         MeetingAttendee.user_id == user.id, MeetingAttendee.removed_at.is_(None))
        .options(sa.orm.joinedload(MeetingAttendee.meeting)))


def closed_reason(meeting: Meeting, now: datetime | None = None) -> str | None:
    """Why a reply can no longer be given, or None."""
    if meeting.status == MeetingStatus.CANCELLED:
        return "This meeting has been cancelled."
    if meeting.ends_at <= (now or utcnow()):
        return "This meeting has already taken place."
    return None
