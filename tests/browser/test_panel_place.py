"""A panel's place and online link by keyboard alone, with axe-core on each page: the coordinator
follows "Change the place or online link" from the panel's page, gets an error for a link that is
not https (what was typed stays), then saves a place and a link, and the panel's page shows both,
the link working."""

from __future__ import annotations

from playwright.sync_api import expect

from panel.extensions import db
from tests.browser.conftest import assert_accessible, keyboard_fill, press_and_wait, sign_in, tab_until
from tests.meetings import agenda_world


def _follow(page, text: str) -> None:
    tab_until(page, f"el => el.tagName === 'A' && el.textContent.trim().startsWith('{text}')")
    press_and_wait(page)


def _submit(page, text: str) -> None:
    tab_until(page, f"el => (el.tagName === 'BUTTON' || el.type === 'submit') && "
                    f"(el.textContent || el.value).trim() === '{text}'")
    press_and_wait(page)


def test_a_coordinator_sets_where_a_panel_meets_by_keyboard(page, app):
    meeting = agenda_world.build(cases=1, actions=0).meeting.id
    db.session.commit()  # and touch no model until the browser is done (SQLite write lock)
    sign_in(page, "coordinator@test.invalid")
    page.goto(f"/meetings/{meeting}")
    assert_accessible(page)

    _follow(page, "Change the place or online link")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Where the panel on")
    assert_accessible(page)

    keyboard_fill(page, "Place (optional if there is an online link)", "Committee Room 2, Town Hall")
    keyboard_fill(page, "Online meeting link (optional)", "http://meet.example.test/panel")
    _submit(page, "Save the place")
    expect(page.locator(".govuk-error-summary")).to_contain_text("https://")
    expect(page.get_by_label("Place (optional if there is an online link)")).to_have_value(
        "Committee Room 2, Town Hall")
    assert page.title().startswith("Error: ")
    assert_accessible(page)

    page.get_by_label("Online meeting link (optional)").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("https://meet.example.test/panel")
    _submit(page, "Save the place")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("place has been saved")
    main = page.locator("main")
    expect(main).to_contain_text("Committee Room 2, Town Hall")
    expect(main.locator('a[href="https://meet.example.test/panel"]')).to_have_count(1)
    assert_accessible(page)
