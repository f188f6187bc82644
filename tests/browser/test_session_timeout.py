"""Never losing typed text, by keyboard alone, with axe-core on each page and on the open dialog.

The browser's clock is Playwright's (page.clock), moved forward instead of waiting; the server's
session clock (panel.auth.guard._now) is moved the same way, so the server ends the session for
real. Nothing sleeps.

1. The timeout warning: two minutes before the session ends a modal dialog opens with focus on
   "Stay signed in" (focus stays in it); staying keeps the session and puts focus back where it
   was; when the session ends anyway the dialog says so, and the form sent then (its session and
   CSRF token gone) is kept and put back after signing in again.
2. A form sent after the idle timeout with the session cookie still there: kept, and put back.
"""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from panel.auth import guard
from panel.extensions import db
from panel.models import ActionStatus, ActionUpdate, KeptForm
from tests.actions import pages_world
from tests.browser.conftest import assert_accessible, sign_in, submit_button, tab_until

REAL_NOW = guard._now
TYPED = "Phoned the landlord twice; the repair is booked for Friday morning."
SPOC = "spoc.a@test.invalid"


def _server_clock(monkeypatch, minutes: float) -> None:
    """Move the server's session clock this many minutes past real time."""
    monkeypatch.setattr(guard, "_now", lambda: REAL_NOW() + timedelta(minutes=minutes))


def _type_an_update(page, action_id: int) -> None:
    page.goto(f"/actions/{action_id}/update")
    assert_accessible(page)
    tab_until(page, "el => el.name === 'note'")
    page.keyboard.type(TYPED)
    tab_until(page, "el => el.type === 'radio' && el.name === 'status'")
    page.keyboard.press("ArrowDown")  # Open -> Done
    expect(page.get_by_label("Done", exact=True)).to_be_checked()
    page.keyboard.press("Shift+Tab")  # back to the note
    expect(page.locator("textarea[name=note]")).to_be_focused()


def _put_back_and_send(page, action_id: int) -> None:
    """Signed in again: the page the form was on, with the text in place and why; then send it."""
    expect(page).to_have_url(re.compile(rf"/actions/{action_id}/update$"))
    expect(page.locator("#kept-form")).to_contain_text("Your form was not sent")
    expect(page.locator("#kept-form")).to_contain_text("What you typed has been put back in the form below")
    expect(page.locator("textarea[name=note]")).to_have_value(TYPED)
    expect(page.get_by_label("Done", exact=True)).to_be_checked()
    assert_accessible(page)
    submit_button(page)
    expect(page.get_by_text(f"Action {action_id} has been updated. It is now done.")).to_be_visible()
    assert_accessible(page)


def test_the_warning_keeps_the_session_and_a_form_sent_after_it_ends_is_put_back(page, app, monkeypatch):
    world = pages_world.build()
    action_id = world.action.id
    db.session.commit()  # touch no model until the browser is done (SQLite write lock)
    page.clock.install()
    sign_in(page, SPOC)
    _type_an_update(page, action_id)
    dialog = page.locator("#panel-timeout")
    stay = dialog.get_by_role("button", name="Stay signed in")
    sign_out = dialog.get_by_role("button", name="Sign out")
    expect(dialog).to_be_hidden()

    # 28 minutes on: the warning, with focus on "Stay signed in".
    _server_clock(monkeypatch, 28)
    page.clock.fast_forward("28:00")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_accessible_name("You’re about to be signed out")
    expect(dialog).to_have_accessible_description("For your security, we will sign you out in 2 minutes.")
    expect(dialog.locator("[data-countdown]")).to_contain_text("we will sign you out in")
    expect(stay).to_be_focused()
    assert_accessible(page)
    # Focus stays in the dialog, both ways round.
    page.keyboard.press("Tab")
    expect(sign_out).to_be_focused()
    page.keyboard.press("Tab")
    expect(stay).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(sign_out).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(stay).to_be_focused()

    # "Stay signed in": the dialog goes, focus goes back to the note, the server's idle clock restarts.
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("textarea[name=note]")).to_be_focused()
    _server_clock(monkeypatch, 57)  # 57 minutes after the page was loaded: signed out without the stay
    status = page.request.get("/session").json()
    assert status["signed_in"] is True and 0 < status["seconds_left"] <= 60

    # The warning again, ignored this time: the session ends and the dialog says so.
    page.clock.fast_forward("28:00")
    expect(dialog).to_be_visible()
    expect(stay).to_be_focused()
    _server_clock(monkeypatch, 59)
    page.clock.fast_forward("01:05")
    expired = dialog.get_by_role("heading", name="You have been signed out")
    expect(expired).to_be_visible()
    expect(expired).to_be_focused()
    expect(dialog).to_have_accessible_name("You have been signed out")
    expect(dialog.locator("[data-live]")).to_have_text("You have been signed out.")  # announced
    assert_accessible(page)
    page.keyboard.press("Tab")
    sign_in_again = dialog.get_by_role("button", name="Sign in again")
    expect(sign_in_again).to_be_focused()
    expect(sign_in_again).to_have_attribute("href", f"/login?next=%2Factions%2F{action_id}%2Fupdate")
    page.keyboard.press("Escape")  # close it, and send the form as the dialog says
    expect(dialog).to_be_hidden()
    expect(page.locator("textarea[name=note]")).to_be_focused()
    expect(page.locator("textarea[name=note]")).to_have_value(TYPED)

    # Sent with the session (and so its CSRF token) gone: kept, and the sign-in page says so.
    submit_button(page)
    expect(page).to_have_url(re.compile(rf"/login\?next=/actions/{action_id}/update$"))
    expect(page.get_by_text("What you typed has been kept: sign in again and it will be put back.")).to_be_visible()
    assert_accessible(page)

    _server_clock(monkeypatch, 0)
    sign_in(page, SPOC)
    _put_back_and_send(page, action_id)

    db.session.remove()
    update = db.session.execute(sa.select(ActionUpdate)).scalar_one()
    assert (update.note, update.new_status) == (TYPED, ActionStatus.DONE)
    assert db.session.scalar(sa.select(sa.func.count(KeptForm.id))) == 0


def test_a_form_sent_after_the_idle_timeout_is_put_back_after_signing_in(page, app, monkeypatch):
    world = pages_world.build()
    action_id = world.action.id
    db.session.commit()
    sign_in(page, SPOC)
    _type_an_update(page, action_id)

    _server_clock(monkeypatch, 31)  # a long phone call: the session has timed out, its cookie still there
    submit_button(page)
    expect(page.get_by_text("What you typed has been kept: sign in again and it will be put back.")).to_be_visible()
    assert_accessible(page)

    _server_clock(monkeypatch, 0)
    sign_in(page, SPOC)
    _put_back_and_send(page, action_id)

    db.session.remove()
    assert db.session.execute(sa.select(ActionUpdate.note)).scalar_one() == TYPED
