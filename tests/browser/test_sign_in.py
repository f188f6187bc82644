"""Signing in and being locked out, by keyboard alone, with no accessibility violations."""

from __future__ import annotations

from playwright.sync_api import expect

from panel.extensions import db
from panel.models import Role
from tests import factories
from tests.browser.conftest import assert_accessible, tab_until


def _sign_in_by_keyboard(page, email: str, password: str) -> None:
    page.goto("/login")
    tab_until(page, "el => el.name === 'email'")
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_a_user_signs_in_and_out_by_keyboard(page, app):
    factories.create_user(role=Role.COORDINATOR, email="casey@test.invalid", name="Casey Keyboard")
    db.session.commit()
    page.goto("/login")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sign in")
    assert_accessible(page)

    _sign_in_by_keyboard(page, "casey@test.invalid", factories.PASSWORD)
    expect(page.get_by_text("Signed in as Casey Keyboard")).to_be_visible()
    assert_accessible(page)

    tab_until(page, "el => el.textContent.trim() === 'Sign out'")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    # The link only asks: signing out is the button's POST (a GET never signs out).
    expect(page.get_by_role("heading", level=1)).to_contain_text("Do you want to sign out?")
    assert_accessible(page)
    tab_until(page, "el => el.tagName === 'BUTTON' && el.textContent.trim() === 'Sign out'")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_text("You have signed out.")).to_be_visible()


def test_wrong_password_shows_one_generic_error_and_focuses_the_summary(page, app):
    factories.create_user(email="pat@test.invalid")
    db.session.commit()
    _sign_in_by_keyboard(page, "pat@test.invalid", "not the password at all")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Enter a correct email address and password")
    expect(summary).to_be_focused()
    assert page.title().startswith("Error: ")
    assert_accessible(page)


def test_five_failures_lock_the_account_and_say_so(page, app):
    factories.create_user(email="lock@test.invalid")
    db.session.commit()
    for _ in range(5):
        _sign_in_by_keyboard(page, "lock@test.invalid", "wrong password attempt")
    _sign_in_by_keyboard(page, "lock@test.invalid", factories.PASSWORD)
    expect(page.locator(".govuk-error-summary")).to_contain_text("locked for 15 minutes")
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    assert_accessible(page)
