"""Issue 17 by keyboard alone, with axe-core on every page: the coordinator chases all of an
agency's overdue actions from one action's page with one post, and changes every time box of
the agenda on one form (after a validation error that keeps what was typed)."""

from __future__ import annotations

import sqlalchemy as sa
from playwright.sync_api import expect

from panel.extensions import db
from panel.meetings import agenda
from panel.models import AgendaItem, OutboxMessage
from tests.actions import pages_world
from tests.actions.pages_world import add_actions
from tests.browser.conftest import assert_accessible, follow_link as _follow, press_and_wait, sign_in, tab_until
from tests.meetings import agenda_world


def _press(page, text: str) -> None:
    tab_until(page, f"el => el.tagName === 'BUTTON' && el.textContent.replace(/\\s+/g, ' ').trim() === {text!r}",
              limit=200)
    press_and_wait(page)
    assert_accessible(page)


def test_the_coordinator_chases_an_agencys_overdue_actions_by_keyboard(page, app):
    world = pages_world.build()
    late = add_actions(world, 3, overdue=True)
    first_id, late_ids = late[0].id, sorted(a.id for a in late)
    db.session.commit()

    sign_in(page, "coordinator@test.invalid")
    page.goto(f"/actions/{first_id}")
    assert_accessible(page)
    _press(page, "Chase all of Agency A’s overdue actions")
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "3 overdue actions chased: 1 email sent to the SPoC.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Action {first_id}")

    db.session.remove()
    (email,) = db.session.scalars(sa.select(OutboxMessage)).all()
    assert email.to_addr == "spoc.a@test.invalid"
    assert [f"/actions/{i}" in email.body_text for i in late_ids] == [True] * 3


def test_the_coordinator_changes_every_time_box_on_one_form_by_keyboard(page, app):
    world = agenda_world.build(cases=2, actions=2)
    agenda.sync_agenda(world.meeting)
    db.session.commit()
    meeting_id = world.meeting.id
    items = list(db.session.scalars(sa.select(AgendaItem).where(AgendaItem.meeting_id == meeting_id)
                                    .order_by(AgendaItem.position, AgendaItem.id)))
    first, second = items[0].id, items[1].id
    email = world.coordinator.email
    db.session.commit()  # and touch no model until the browser is done (SQLite write lock)

    sign_in(page, email)
    page.goto(f"/meetings/{meeting_id}")
    assert_accessible(page)
    _follow(page, "Change the time boxes")
    expect(page.get_by_role("heading", level=1)).to_have_text("Change the time boxes")

    tab_until(page, f"el => el.name === 'minutes-{first}'")
    page.keyboard.press("Control+A")
    page.keyboard.type("12")
    tab_until(page, f"el => el.name === 'minutes-{second}'")
    page.keyboard.press("Control+A")
    page.keyboard.type("lots")
    _press(page, "Save the time boxes")
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator(".govuk-error-summary")).to_contain_text("The time box must be a whole number of minutes")
    expect(page.locator(f"#minutes-{first}")).to_have_value("12")  # kept
    expect(page.locator(f"#minutes-{second}")).to_have_value("lots")

    page.locator(".govuk-error-summary a").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#minutes-{second}")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("8")
    _press(page, "Save the time boxes")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("2 time boxes changed.")

    db.session.remove()
    assert [db.session.get(AgendaItem, i).minutes for i in (first, second)] == [12, 8]
