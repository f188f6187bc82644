"""Help by keyboard alone, signed out and signed in, with axe-core on the page."""

from __future__ import annotations

from playwright.sync_api import expect

from panel.extensions import db
from panel.models import Role
from tests import factories
from tests.browser.conftest import follow_link, sign_in


def test_help_is_reached_from_the_footer_signed_out_and_signed_in(page, app):
    factories.create_user(role=Role.PRACTITIONER, email="pat@test.invalid")
    db.session.commit()

    page.goto("/login")
    follow_link(page, "Help")  # checks the page with axe-core
    expect(page.get_by_role("heading", level=1)).to_have_text("Help with Panel")
    follow_link(page, "Accessibility statement")
    expect(page.get_by_role("heading", name="Accessibility statement for Panel")).to_be_visible()

    sign_in(page, "pat@test.invalid")
    follow_link(page, "Contact the coordinator")
    expect(page.get_by_role("heading", name="Contact the coordinator", level=2)).to_be_visible()
    expect(page.locator("#contact + p + ul")).to_contain_text("The panel coordinator")
