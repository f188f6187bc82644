"""Which monthly panel hears a referral: the first panel still to come whose referral cut-off
the referral arrived by (received before the end of the cut-off day, London time).

The rule lives here, with referrals, so triage can say which panel (and when) and the agenda
(panel.meetings.agenda) builds from the same rule: a referral that came after the next panel's
cut-off goes to the one after.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from panel.dates import LONDON, govuk_date
from panel.extensions import db
from panel.models import Meeting, MeetingKind, MeetingStatus, Referral, utcnow


def cutoff_end(meeting: Meeting) -> datetime:
    """Referrals received before this moment (the end of the cut-off day, London) are on the agenda."""
    day = meeting.cutoff_on or meeting.starts_at.astimezone(LONDON).date()
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=LONDON)


def _coming(now: datetime) -> list[Meeting]:
    return list(db.session.scalars(
        sa.select(Meeting).where(Meeting.kind == MeetingKind.PANEL, Meeting.status == MeetingStatus.SCHEDULED,
                                 Meeting.starts_at > now, Meeting.minutes_finalised_at.is_(None))
        .order_by(Meeting.starts_at, Meeting.id).limit(6)))


def panel_for(referral: Referral, now: datetime | None = None) -> Meeting | None:
    """The panel whose agenda the referral is (or would be) on: the first scheduled panel not yet
    started, minutes not final, whose cut-off the referral arrived by. None if none is scheduled."""
    now = now or utcnow()
    received = referral.submitted_at or now
    return next((m for m in _coming(now) if received < cutoff_end(m)), None)


def triage_hint(referral: Referral, now: datetime | None = None) -> str:
    """What putting the referral to panel means, naming the panel; saying so when the referral
    came after the next panel's cut-off and goes to the one after."""
    now = now or utcnow()
    coming = _coming(now)
    received = referral.submitted_at or now
    chosen = next((m for m in coming if received < cutoff_end(m)), None)
    if chosen is None:
        return "It goes on the agenda of the next panel to be scheduled. The panel decides whether to accept it."
    said = f"It goes on {panel_words(chosen)}. The panel decides whether to accept it."
    if coming and coming[0] is not chosen:
        missed = coming[0]
        said = (f"It came after the cut-off ({govuk_date(missed.cutoff_on)}) for the panel on "
                f"{govuk_date(missed.starts_at)}, so it goes on {panel_words(chosen)}. "
                "The panel decides whether to accept it.")
    return said


def panel_words(meeting: Meeting | None) -> str:
    """"the agenda of the panel on 13 January 2027", or the next panel's when none is scheduled."""
    if meeting is None:
        return "the next panel’s agenda"
    return f"the agenda of the panel on {govuk_date(meeting.starts_at)}"
