"""The panel's pages by keyboard alone, with axe-core on each: a coordinator opens the list of
panels and the next panel's page, moves a case down the agenda with its button, adds an item
(after an error), changes a time box, looks at moving and cancelling the panel (both refusing an
empty reason), and opens the print view; a chair and a SPoC see their views of the same page."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from panel.extensions import db
from panel.meetings import agenda
from panel.models import AgendaItem, AgendaItemKind, utcnow
from tests.browser.conftest import assert_accessible, press_and_wait, sign_in, tab_until
from tests.meetings import agenda_world


def _world() -> dict:
    w = agenda_world.build(cases=3, actions=7)
    agenda_world.awaiting_referral(w.housing, submitted_at=utcnow() - timedelta(days=9))
    agenda_world.panel_meeting(utcnow() - timedelta(days=25))
    agenda.sync_agenda(w.meeting)
    cases = [i for i in w.meeting.items if i.kind == AgendaItemKind.CASE]
    ids = {"meeting": w.meeting.id, "first_case_item": cases[0].id, "second_case_item": cases[1].id,
           "first_case": cases[0].case.reference}
    db.session.commit()  # and touch no model until the browser is done (SQLite write lock)
    return ids


def _case_items(meeting_id: int) -> list[int]:
    db.session.remove()
    ids = list(db.session.scalars(sa.select(AgendaItem.id).where(
        AgendaItem.meeting_id == meeting_id, AgendaItem.kind == AgendaItemKind.CASE).order_by(AgendaItem.position)))
    db.session.remove()  # end the read: on SQLite it holds the write lock the server needs
    return ids


def _submit(page, text: str) -> None:
    tab_until(page, f"el => (el.tagName === 'BUTTON' || el.type === 'submit') && "
                    f"(el.textContent || el.value).trim() === '{text}'")
    press_and_wait(page)


def _follow(page, text: str) -> None:
    tab_until(page, f"el => el.tagName === 'A' && el.textContent.trim().startsWith('{text}')")
    press_and_wait(page)


def test_a_coordinator_prepares_a_panel_by_keyboard(page, app):
    ids = _world()
    meeting = ids["meeting"]
    sign_in(page, "coordinator@test.invalid")

    # the list, and into the panel's page through the "Meetings" navigation
    _follow(page, "Meetings")
    expect(page.get_by_role("heading", level=1)).to_have_text("Panels")
    assert_accessible(page)
    tab_until(page, f"el => el.tagName === 'A' && el.getAttribute('href') === '/meetings/{meeting}'")
    press_and_wait(page)
    expect(page.get_by_role("heading", name="Agenda", exact=True)).to_be_visible()
    assert_accessible(page)

    # reorder: Tab to the first case's "Move down" button and press Enter
    tab_until(page, f"el => el.tagName === 'BUTTON' && el.value === 'down' && "
                    f"el.closest('li').id === 'item-{ids['first_case_item']}'")
    press_and_wait(page)
    expect(page.locator(".govuk-notification-banner")).to_contain_text(f"Case {ids['first_case']} moved down.")
    assert_accessible(page)
    assert _case_items(meeting)[:2] == [ids["second_case_item"], ids["first_case_item"]]

    # add an item: an error first, then the item
    _follow(page, "Add an item")
    expect(page.get_by_role("heading", level=1)).to_have_text("Add an item to the agenda")
    assert_accessible(page)
    _submit(page, "Add the item")
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the title of the item")
    assert_accessible(page)
    page.get_by_label("Title of the item").focus()
    page.keyboard.type("Training update")
    _submit(page, "Add the item")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("‘Training update’ added to the agenda")
    assert_accessible(page)

    # change a time box
    _follow(page, "Change time box")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Change the time box for")
    assert_accessible(page)
    field = page.get_by_label("Time box")
    field.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("200")
    _submit(page, "Save the time box")
    expect(page.locator(".govuk-error-summary")).to_contain_text("between 1 and 180 minutes")
    assert_accessible(page)
    page.get_by_label("Time box").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("20")
    _submit(page, "Save the time box")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is now 20 minutes")

    # moving: the form, and an empty reason refused
    _follow(page, "Move this panel")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Move the panel on")
    assert_accessible(page)
    _submit(page, "Move the panel")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the reason for moving the panel")
    assert_accessible(page)
    _follow(page, "Back to the panel")

    # cancelling: the form, and an empty reason refused
    _follow(page, "Cancel this panel")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cancel the panel on")
    assert_accessible(page)
    _submit(page, "Cancel the panel")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the reason for cancelling the panel")
    assert_accessible(page)
    _follow(page, "Back to the panel")

    # the print view
    _follow(page, "Print the agenda and case pack")
    expect(page.get_by_role("heading", level=1)).to_have_text("Monthly panel: agenda and case pack")
    assert_accessible(page)


def test_the_chair_and_a_spoc_see_their_views_of_the_panel(page, app):
    ids = _world()
    meeting = ids["meeting"]

    sign_in(page, "chair@test.invalid")
    page.goto(f"/meetings/{meeting}")
    expect(page.locator("button[name=direction]")).to_have_count(0)
    assert_accessible(page)
    page.goto("/meetings")
    assert_accessible(page)

    page.context.clear_cookies()
    sign_in(page, "spoc.housing@test.invalid")
    page.goto(f"/meetings/{meeting}")
    expect(page.get_by_text("Your agency is not involved in this case, so you see only a summary.").first).to_be_visible()
    assert_accessible(page)
