"""An admin adds a user and edits an agency, by keyboard alone, with no accessibility violations."""

from __future__ import annotations

from playwright.sync_api import expect

from panel.extensions import db
from panel.models import Agency, AgencyKind, Role, User
from tests import factories
from tests.browser.conftest import assert_accessible, tab_until, press_and_wait as _press_and_wait, sign_in as _sign_in


def test_an_admin_adds_a_user_by_keyboard(page, app):
    housing = factories.create_agency(code="housing", name="Keyboard Housing", kind=AgencyKind.HOUSING)
    factories.create_user(role=Role.ADMIN, email="admin@test.invalid", agency=housing)
    db.session.commit()
    _sign_in(page, "admin@test.invalid")

    tab_until(page, "el => el.textContent.trim() === 'Users'")
    _press_and_wait(page, "Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Users")
    assert_accessible(page)
    tab_until(page, "el => el.textContent.trim() === 'Add a user'")
    _press_and_wait(page, "Enter")
    assert_accessible(page)

    # Submit empty first: the error summary takes focus and nothing is lost afterwards.
    tab_until(page, "el => el.name === 'name'")
    page.keyboard.type("Robin <b>Keyboard</b>")
    tab_until(page, "el => el.type === 'submit' && el.closest('main')")
    _press_and_wait(page, "Enter")
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.get_by_label("Full name")).to_have_value("Robin <b>Keyboard</b>")
    assert_accessible(page)

    page.get_by_label("Full name").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("Robin Keyboard")
    page.keyboard.press("Tab")
    page.keyboard.type("robin.keyboard@example.org")
    tab_until(page, "el => el.type === 'radio'")
    page.keyboard.press("Space")  # the first role
    page.keyboard.press("ArrowDown")  # ... then the next one: coordinator
    tab_until(page, "el => el.tagName === 'SELECT'")
    page.keyboard.type("Keyboard Housing")
    tab_until(page, "el => el.type === 'submit' && el.closest('main')")
    _press_and_wait(page, "Enter")

    expect(page.locator(".govuk-panel")).to_contain_text("User added")
    password = page.locator("#temporary-password").inner_text().strip()
    assert len(password) >= 12
    assert_accessible(page)
    db.session.remove()
    user = db.session.execute(db.select(User).filter_by(email="robin.keyboard@example.org")).scalar_one()
    assert (user.name, user.role, user.agency.code, user.must_change_password) == (
        "Robin Keyboard", Role.COORDINATOR, "housing", True)


def test_an_admin_edits_an_agency_by_keyboard(page, app):
    police = factories.create_agency(code="police", name="Keyboard Police", kind=AgencyKind.POLICE)
    factories.create_user(role=Role.ADMIN, email="admin@test.invalid", agency=police)
    factories.create_user(role=Role.SPOC, name="Sam Spoc", email="sam@test.invalid", agency=police)
    factories.create_user(role=Role.SPOC, name="Dee Deputy", email="dee@test.invalid", agency=police)
    agency_id = police.id
    db.session.commit()  # and touch no model after this: on SQLite a lazy load would hold the write lock
    _sign_in(page, "admin@test.invalid")

    tab_until(page, "el => el.textContent.trim() === 'Agencies'")
    _press_and_wait(page, "Enter")
    assert_accessible(page)
    tab_until(page, "el => el.tagName === 'A' && el.textContent.includes('Keyboard Police')")
    _press_and_wait(page, "Enter")
    assert_accessible(page)

    page.get_by_label("SPoC", exact=True).focus()
    page.keyboard.type("Sam Spoc")
    page.keyboard.press("Tab")
    page.keyboard.type("Dee Deputy")
    tab_until(page, "el => el.type === 'checkbox'")
    page.keyboard.press("Space")
    tab_until(page, "el => el.type === 'submit' && el.closest('main')")
    _press_and_wait(page, "Enter")

    expect(page.get_by_text("Keyboard Police has been saved.")).to_be_visible()
    assert_accessible(page)
    db.session.remove()
    agency = db.session.get(Agency, agency_id)
    assert agency.spoc.name == "Sam Spoc"
    assert agency.deputy_spoc.name == "Dee Deputy"
    assert agency.spoc_absent is True
    assert agency.acting_spoc.name == "Dee Deputy"
