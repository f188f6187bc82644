"""The calendar feed on the account page by keyboard alone, with axe-core on each state: off,
just switched on (the address shown once), replaced, and turned off again."""

from __future__ import annotations

import urllib.request

from panel.extensions import db
from panel.models import Role
from tests import factories
from tests.browser.conftest import assert_accessible, press_and_wait, sign_in, tab_until


def _press_button(page, text: str) -> None:
    tab_until(page, f"el => el.tagName === 'BUTTON' && el.textContent.trim() === {text!r}")
    press_and_wait(page)


def test_switch_on_replace_and_turn_off_the_calendar_feed_by_keyboard(page, app, live_server):
    factories.create_user(role=Role.SPOC, email="sam@police.test")
    db.session.commit()
    db.session.remove()
    sign_in(page, "sam@police.test")
    page.goto("/account")
    assert page.locator("#calendar-feed-status").inner_text() == "Your calendar feed is off."
    assert_accessible(page)

    _press_button(page, "Switch on the calendar feed")
    first = page.locator("#calendar-feed-url").input_value()
    assert "/calendar/" in first and first.endswith(".ics")
    assert_accessible(page)
    token = first.rsplit("/", 1)[1]
    with urllib.request.urlopen(f"{live_server}/calendar/{token}", timeout=10) as response:
        assert response.status == 200

    _press_button(page, "Replace the address")
    second = page.locator("#calendar-feed-url").input_value()
    assert second != first
    assert "The old address has stopped working" in page.locator("#calendar-feed-created").inner_text()
    assert_accessible(page)

    page.goto("/account")
    assert page.locator("#calendar-feed-url").count() == 0  # shown once only
    _press_button(page, "Turn off the calendar feed")
    assert "Your calendar feed is off. Its address no longer works." in page.content()
    assert_accessible(page)
