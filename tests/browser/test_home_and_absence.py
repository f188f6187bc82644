"""Each role's home page by keyboard alone, with axe-core on it and on the page its first item
leads to; and recording and ending an absence by keyboard, as the SPoC on their account page and
as the coordinator at /agencies."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from panel.dates import london_today
from panel.extensions import db
from panel.models import SpocAbsence
from tests import factories
from tests.browser.conftest import assert_accessible, press_and_wait, sign_in, tab_until
from tests.main import home_world


def _world(*, deputy_acting: bool = False) -> dict[str, str]:
    """The home tests' world, committed; returns each user's email (no model is touched after)."""
    world = home_world.build()
    if deputy_acting:
        factories.mark_spoc_absent(world.agencies["police"])
    emails = {who: user.email for who, user in world.users.items()}
    db.session.commit()
    return emails


@pytest.mark.parametrize("who, link_id, heading", [
    ("coordinator", "today-triage", "Triage"),
    ("chair", "today-escalations", "Action log"),
    ("spoc", "today-overdue", "Our actions"),
    ("deputy", "today-overdue", "Our actions"),
    ("practitioner", "today-drafts", "Your drafts"),
])
def test_each_roles_home_by_keyboard(page, app, who, link_id, heading):
    emails = _world(deputy_acting=who == "deputy")
    sign_in(page, emails[who])
    expect(page.locator("#today")).to_be_visible()
    assert_accessible(page)
    if who == "deputy":
        expect(page.locator("#acting-notice")).to_contain_text("You are acting as Home Police’s SPoC")

    tab_until(page, f"el => el.id === {link_id!r}", limit=120)
    press_and_wait(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    assert_accessible(page)


def test_the_board_and_admin_homes_are_accessible(page, app):
    emails = _world()
    for who in ("board", "admin"):
        sign_in(page, emails[who])
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert_accessible(page)
        page.context.clear_cookies()


def _type_date(page, field: str, day) -> None:
    tab_until(page, f"el => el.name === {field!r}")
    page.keyboard.type(str(day.day))
    page.keyboard.press("Tab")
    page.keyboard.type(str(day.month))
    page.keyboard.press("Tab")
    page.keyboard.type(str(day.year))


def test_a_spoc_records_and_ends_their_absence_by_keyboard(page, app):
    emails = _world()
    sign_in(page, emails["spoc"])
    tab_until(page, "el => el.textContent.trim() === 'Your account'")
    press_and_wait(page)
    assert_accessible(page)
    tab_until(page, "el => el.id === 'record-absence'")
    press_and_wait(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Record your absence")
    assert_accessible(page)

    today = london_today()
    _type_date(page, "starts_on", today + timedelta(days=3))
    _type_date(page, "ends_on", today + timedelta(days=1))  # before the first day: refused, kept
    tab_until(page, "el => el.name === 'note'")
    page.keyboard.type("Annual leave")
    tab_until(page, "el => el.type === 'submit' && el.closest('main')")
    press_and_wait(page)
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator(".govuk-error-summary")).to_contain_text("The last day away must be the same as or after")
    expect(page.locator("input[name=note]")).to_have_value("Annual leave")
    assert_accessible(page)

    page.locator("input[name=ends_on]").nth(0).focus()
    page.keyboard.press("Control+A")
    page.keyboard.type(str((today + timedelta(days=9)).day))
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type(str((today + timedelta(days=9)).month))
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type(str((today + timedelta(days=9)).year))
    tab_until(page, "el => el.type === 'submit' && el.closest('main')")
    press_and_wait(page)
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Absence recorded: You are away from")
    expect(page.locator("#absence ~ ul")).to_contain_text("Annual leave")
    assert_accessible(page)

    tab_until(page, "el => el.tagName === 'BUTTON' && el.textContent.includes('Cancel this absence')", limit=120)
    press_and_wait(page)
    expect(page.locator(".govuk-notification-banner")).to_contain_text("The absence has been cancelled")
    assert_accessible(page)
    db.session.remove()
    assert db.session.scalar(sa.select(sa.func.count(SpocAbsence.id))) == 0


def test_the_coordinator_records_an_absence_for_a_spoc_by_keyboard(page, app):
    emails = _world()
    sign_in(page, emails["coordinator"])
    tab_until(page, "el => el.tagName === 'A' && el.textContent.trim() === 'SPoCs and their cover'", limit=200)
    press_and_wait(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("SPoCs and their cover")
    assert_accessible(page)
    tab_until(page, "el => el.tagName === 'A' && el.textContent.includes('for Sam Spoc')", limit=120)
    press_and_wait(page)
    assert_accessible(page)

    today = london_today()
    _type_date(page, "starts_on", today)
    _type_date(page, "ends_on", today + timedelta(days=4))
    tab_until(page, "el => el.type === 'submit' && el.closest('main')")
    press_and_wait(page)
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Absence recorded: Sam Spoc is away from")
    expect(page.locator("#agency-home-police")).to_contain_text("Dee Deputy (deputy, until")
    assert_accessible(page)
    db.session.remove()
    [absence] = db.session.scalars(sa.select(SpocAbsence)).all()
    assert (absence.starts_on, absence.ends_on) == (today, today + timedelta(days=4))
