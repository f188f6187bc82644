"""A subject-access request by keyboard alone, with axe-core on every page: the coordinator goes
from the home page to the subject-access requests, finds the person by name, is told the date
is missing and then opens the request, reviews the free text, withholds a passage naming a
neighbour, makes the release, and closes the request with the date it was sent."""

from __future__ import annotations

import sqlalchemy as sa
from playwright.sync_api import expect

from panel.dates import govuk_date, london_today
from panel.extensions import db
from panel.models import SubjectAccessRequest, SubjectAccessStatus, SubjectAccessWithholding, WithholdingReason
from panel.reports.subject_access import deadline
from tests.browser.conftest import (
    assert_accessible,
    follow_link,
    keyboard_fill,
    press_and_wait,
    sign_in,
    submit_button,
    tab_until,
)
from tests.reports import subject_access_world


def _type_date(page, legend: str, day) -> None:
    """The three boxes of a GOV.UK date input, by keyboard: day, Tab, month, Tab, year."""
    page.get_by_role("group", name=legend).get_by_label("Day", exact=True).focus()
    page.keyboard.type(str(day.day))
    page.keyboard.press("Tab")
    page.keyboard.type(str(day.month))
    page.keyboard.press("Tab")
    page.keyboard.type(str(day.year))


def _choose(page, label: str) -> None:
    page.get_by_label(label, exact=True).focus()
    page.keyboard.press("Space")


def test_a_coordinator_answers_a_subject_access_request_by_keyboard(page, app):
    world = subject_access_world.build()
    other_tag = world.b.tag
    db.session.commit()  # and touch no model until the browser is done (SQLite write lock)
    today = london_today()

    sign_in(page, "coordinator@test.invalid")
    assert_accessible(page)
    follow_link(page, "Subject-access requests")
    expect(page.get_by_role("heading", level=1)).to_have_text("Subject-access requests")

    keyboard_fill(page, "Name, NHS number or case reference", "Quillfeather")
    submit_button(page, "search")
    expect(page.locator("#results")).to_have_text("1 person found")
    assert_accessible(page)
    follow_link(page, "Winifred Quillfeather")

    submit_button(page, "open_request")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the date the request was received")
    assert page.title().startswith("Error: ")
    assert_accessible(page)
    _type_date(page, "When was the request received?", today)
    submit_button(page, "open_request")
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        f"The release is due by {govuk_date(deadline(today))}")
    assert_accessible(page)

    follow_link(page, "Review the free text")
    expect(page.locator("main")).not_to_contain_text(other_tag)
    tab_until(page, "el => el.tagName === 'A' && el.href.includes('engagement_attempt') && el.href.includes('worker_view')",
              limit=300)
    press_and_wait(page)
    assert_accessible(page)
    _choose(page, "A passage of it")
    keyboard_fill(page, "The passage to withhold (only for a passage)", "worker view")
    _choose(page, WithholdingReason.THIRD_PARTY.label)
    submit_button(page, "withhold")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is withheld")
    expect(page.locator("main")).to_contain_text("Partly withheld")
    assert_accessible(page)

    follow_link(page, "Back to request 1", limit=400)
    expect(page.locator("#withholdings")).to_contain_text("Information about someone else")
    submit_button(page, "make_release")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("The release has been made")
    expect(page.get_by_role("link", name="Download the release as a PDF")).to_be_visible()
    assert_accessible(page)

    _type_date(page, "When was the release sent to the person?", today)
    submit_button(page, "close_request")
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        f"the release was sent on {govuk_date(today)}")
    assert_accessible(page)

    db.session.remove()
    sar = db.session.scalars(sa.select(SubjectAccessRequest)).one()
    assert (sar.status, sar.sent_on, sar.received_on) == (SubjectAccessStatus.CLOSED, today, today)
    withheld = db.session.scalars(sa.select(SubjectAccessWithholding)).one()
    assert (withheld.passage, withheld.reason) == ("worker view", WithholdingReason.THIRD_PARTY)
    assert "worker view" not in str(sar.release_document).replace("worker_view", "")
