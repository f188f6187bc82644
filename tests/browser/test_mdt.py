"""Case MDTs by keyboard alone, with axe-core on every page: the coordinator schedules an MDT
(a wrong time first, then right), opens it, changes its time, invites someone from outside the
service, and cancels it; the notes page of an MDT that has happened is checked too."""

from __future__ import annotations

from datetime import time, timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from panel.extensions import db
from panel.meetings import mdt
from panel.meetings.invitations import Person
from panel.models import Involvement, Meeting, MeetingStatus, OutboxMessage, Role, utcnow
from panel.dates import LONDON
from tests import factories
from tests.browser.conftest import assert_accessible, follow_link as _follow, press_and_wait, sign_in, \
    submit_button as _submit, tab_until
from tests.cases.helpers import create_case


def _world():
    host = factories.create_agency(code="host", name="Host Council")
    police = factories.create_agency(code="police", name="Keyboard Police")
    housing = factories.create_agency(code="housing", name="Keyboard Housing")
    coordinator = factories.create_user(role=Role.COORDINATOR, agency=host, email="coordinator@test.invalid",
                                        name="Casey Coordinator")
    police.spoc = factories.create_user(role=Role.SPOC, agency=police, email="pat@police.test", name="Pat Police")
    housing.spoc = factories.create_user(role=Role.SPOC, agency=housing, email="hana@housing.test",
                                         name="Hana Housing")
    worker = factories.create_user(role=Role.PRACTITIONER, agency=police, email="wyn@police.test", name="Wyn Worker")
    case = create_case(lead=police, involved=(housing,), given_name="Kim", family_name="Keyboard")
    db.session.execute(sa.update(Involvement).where(Involvement.case_id == case.id, Involvement.agency_id == police.id)
                       .values(worker_user_id=worker.id, named_worker="Wyn Worker"))
    held = mdt.schedule_mdt(case, day=(utcnow() - timedelta(days=4)).astimezone(LONDON).date(), start=time(10),
                            end=time(11), location="Room 1", online_url="", purpose="Review the plan",
                            attendees=[Person.of(police.spoc)], by=coordinator, now=utcnow() - timedelta(days=5))
    return case, held


def test_the_coordinator_schedules_reschedules_and_cancels_an_mdt_by_keyboard(page, app):
    case, held = _world()
    reference, case_id, held_id = case.reference, case.id, held.id
    day = utcnow().astimezone(LONDON).date() + timedelta(days=21)
    db.session.commit()  # touch no model after this until the browser is done (SQLite write lock)

    sign_in(page, "coordinator@test.invalid")
    page.goto(f"/cases/{reference}")
    assert_accessible(page)
    tab_until(page, "el => el.tagName === 'A' && el.closest('.panel-case-nav') && el.textContent.trim() === 'Meetings'")
    press_and_wait(page)
    expect(page.locator(".panel-case-nav a[aria-current='page']")).to_have_text("Meetings")
    expect(page.locator("#past")).to_contain_text("Room 1")
    assert_accessible(page)

    # Schedule: a time that does not exist first, then a real one.
    _follow(page, "Schedule an MDT")
    tab_until(page, "el => el.id === 'day-day'")
    page.keyboard.type(str(day.day))
    page.keyboard.press("Tab")
    page.keyboard.type(str(day.month))
    page.keyboard.press("Tab")
    page.keyboard.type(str(day.year))
    page.keyboard.press("Tab")
    page.keyboard.type("25:00")
    page.keyboard.press("Tab")
    page.keyboard.type("11:30")
    page.keyboard.press("Tab")
    page.keyboard.type("Room 2, Town Hall")
    page.keyboard.press("Tab")
    page.keyboard.type("https://meet.example.com/mdt")
    page.keyboard.press("Tab")
    page.keyboard.type("Agree who visits before the review")
    tab_until(page, "el => el.name === 'users'")
    page.keyboard.press("Space")      # the first on the list: Hana Housing, SPoC
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")      # the third: Wyn Worker, named worker
    _submit(page)

    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Enter a real start time, like 14:00")
    expect(page.get_by_label("Place (optional if there is an online link)")).to_have_value("Room 2, Town Hall")
    expect(page.get_by_label("Wyn Worker, named worker, Keyboard Police")).to_be_checked()
    assert_accessible(page)
    tab_until(page, "el => el.tagName === 'A' && el.textContent.includes('Enter a real start time')")
    page.keyboard.press("Enter")      # the error summary's link moves focus to the field
    expect(page.get_by_label("Start time")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("10:00")
    _submit(page)

    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "2 people have been sent a calendar invitation.")
    expect(page.get_by_role("heading", level=2, name="MDT on", exact=False).first).to_be_visible()
    expect(page.locator("#invitations")).to_contain_text("Hana Housing")
    assert_accessible(page)

    # Change the time: everyone gets the update.
    _follow(page, "Change the date, time or place")
    expect(page.get_by_label("Start time")).to_have_value("10:00")
    tab_until(page, "el => el.name === 'start'")
    page.keyboard.press("Control+A")
    page.keyboard.type("14:00")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("13:00")       # before the start
    _submit(page)
    expect(page.locator(".govuk-error-summary")).to_contain_text("The end time must be after the start time")
    assert_accessible(page)
    tab_until(page, "el => el.name === 'end'")
    page.keyboard.press("Control+A")
    page.keyboard.type("15:00")
    _submit(page)
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "2 people have been sent the updated calendar invitation.")
    expect(page.locator(".govuk-summary-list")).to_contain_text("2pm to 3pm")
    assert_accessible(page)

    # Invite someone from outside the service.
    _follow(page, "Add or remove attendees")
    tab_until(page, "el => el.name === 'ext1_name'")
    page.keyboard.type("Ellis External")
    page.keyboard.press("Tab")
    page.keyboard.type("Lilac Charity")
    page.keyboard.press("Tab")
    page.keyboard.type("ellis@charity.test")
    _submit(page, "add")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Invited: Ellis External.")
    expect(page.locator("#attendees-table")).to_contain_text("ellis@charity.test")
    assert_accessible(page)
    _follow(page, "Back to the MDT")

    # Cancel it, with a reason.
    _follow(page, "Cancel the MDT")
    tab_until(page, "el => el.name === 'reason'")
    page.keyboard.type("The review is no longer needed")
    _submit(page)
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "3 people have been sent the cancellation.")
    expect(page.locator(".govuk-warning-text")).to_contain_text("The review is no longer needed")
    assert_accessible(page)

    # The notes page of the MDT that has happened.
    page.goto(f"/meetings/{held_id}/mdt")
    assert_accessible(page)
    _follow(page, "Record notes, decisions and actions")
    expect(page.get_by_label("Notes of the discussion")).to_be_visible()

    db.session.remove()
    meetings = db.session.scalars(sa.select(Meeting).where(Meeting.case_id == case_id).order_by(Meeting.id)).all()
    assert len(meetings) == 2
    mdt_ = meetings[-1]
    assert mdt_.status == MeetingStatus.CANCELLED and mdt_.ical_sequence == 2  # moved, then cancelled
    assert mdt_.starts_at.astimezone(LONDON).strftime("%H:%M") == "14:00"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.calendar_method == "CANCEL")) == 3
