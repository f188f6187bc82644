"""The reply link in an invitation to someone without an account (a GP), by keyboard alone, with
axe-core on each state: opened from "I cannot attend", changed to "Yes, I can attend" and sent,
then the page after the meeting is cancelled."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from panel.extensions import db
from panel.meetings import invitations
from panel.models import AttendeeResponse, MeetingAttendee, MeetingStatus, OutboxMessage, ResponseSource, utcnow
from tests.browser.conftest import assert_accessible, press_and_wait, tab_until
from tests.cases.helpers import create_case
from tests.meetings.invite_world import external, make_meeting


def test_a_gp_replies_by_the_link_in_their_invitation_by_keyboard(page, app):
    meeting = make_meeting(create_case(), start=utcnow() + timedelta(days=9), location="Room 4, Civic Centre")
    invitations.invite(meeting, [external("Dr Ash Example", "gp@surgery.test", "Riverside Surgery")], by=None)
    meeting_id = meeting.id
    body = db.session.scalar(sa.select(OutboxMessage.body_text).where(OutboxMessage.to_addr == "gp@surgery.test"))
    link = re.search(r"I cannot attend: \S+(/meetings/reply/[A-Za-z0-9_-]+\?answer=declined)", body).group(1)
    db.session.commit()
    db.session.remove()  # touch no model until the browser is done (SQLite write lock)

    page.goto(link)
    expect(page.locator("h1")).to_contain_text("Can you attend the meeting on")
    expect(page.locator("#meeting-details")).to_contain_text("Room 4, Civic Centre")
    assert page.locator("input[name=answer][value=declined]").is_checked()
    assert_accessible(page)

    tab_until(page, "el => el.name === 'answer'")   # the radios: the checked one takes the focus
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    assert page.locator("input[name=answer][value=accepted]").is_checked()
    tab_until(page, "el => el.type === 'submit' && el.closest('main')")
    press_and_wait(page)

    expect(page.locator(".govuk-notification-banner")).to_contain_text("Your reply is recorded: attending")
    expect(page.locator("#your-reply-now")).to_contain_text("Attending")
    assert_accessible(page)

    # no answer chosen (a ticked radio cannot be unticked by keyboard, so the test clears it): the error summary
    page.evaluate("document.querySelectorAll('input[name=answer]').forEach(el => { el.checked = false; })")
    tab_until(page, "el => el.type === 'submit' && el.closest('main')")
    press_and_wait(page)
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select whether you can attend")
    assert_accessible(page)

    attendee = db.session.scalar(sa.select(MeetingAttendee).where(MeetingAttendee.meeting_id == meeting_id))
    assert (attendee.response, attendee.response_source) == (AttendeeResponse.ACCEPTED, ResponseSource.LINK)
    attendee.meeting.status = MeetingStatus.CANCELLED
    db.session.commit()
    db.session.remove()

    page.goto(link)
    expect(page.locator("#reply-closed")).to_contain_text("This meeting has been cancelled.")
    assert page.locator("#reply-form").count() == 0
    assert_accessible(page)
