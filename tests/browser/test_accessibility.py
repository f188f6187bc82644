"""axe-core finds no WCAG 2.2 AA violation on any page of the service, for each role that sees it."""

from __future__ import annotations

import pytest

from panel.extensions import db
from panel.models import AgencyKind, Role
from tests import factories
from tests.browser.conftest import assert_accessible

ADMIN_PAGES = [
    "/", "/account", "/account/password", "/account/two-factor",
    "/admin/", "/admin/users", "/admin/users/new", "/admin/users/{user_id}",
    "/admin/users/{user_id}/reset-password",
    "/admin/agencies", "/admin/agencies/new", "/admin/agencies/{agency_id}", "/admin/isa",
    "/admin/audit", "/admin/audit?action=login&from=1+1+2020", "/admin/outbox", "/admin/api-tokens", "/no-such-page",
]


def _sign_in(page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(factories.PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def test_the_check_finds_each_violation_on_a_page_that_has_them(page):
    """The check can fail: a page with an image without alternative text, a field without a label
    and faint text is refused, each rule named (so asking axe-core for the violations' details
    only still finds them all)."""
    page.set_content('<!doctype html><html lang="en"><head><title>Not accessible</title></head><body><main>'
                     '<h1>A page</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
                     '<input type="text" name="anything">'
                     '<p style="color:#bbbbbb;background:#ffffff">Faint words</p></main></body></html>')
    with pytest.raises(AssertionError) as refused:
        assert_accessible(page)
    for rule in ("image-alt", "label", "color-contrast"):
        assert f"{rule}:" in str(refused.value), rule


def test_sign_in_and_two_factor_pages_are_accessible(page, app):
    page.goto("/login")
    assert_accessible(page)
    page.goto("/no-such-page")
    assert_accessible(page)


def test_every_admin_page_is_accessible(page, app):
    agency = factories.create_agency(code="asc", name="Axe Adult Social Care", kind=AgencyKind.ADULT_SOCIAL_CARE,
                                     isa="due_soon")
    factories.create_agency(code="vol", name="Axe Charity", kind=AgencyKind.VOLUNTARY_SECTOR, isa="lapsed")
    factories.create_user(role=Role.ADMIN, email="admin@test.invalid", agency=agency)
    other = factories.create_user(role=Role.SPOC, agency=agency)
    ids = {"user_id": other.id, "agency_id": agency.id}
    db.session.commit()
    _sign_in(page, "admin@test.invalid")
    for path in ADMIN_PAGES:
        page.goto(path.format(**ids))
        assert "Sorry, there is a problem" not in page.content(), path
        assert_accessible(page)


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ADMIN])
def test_each_roles_home_and_account_pages_are_accessible(page, app, role):
    agency = factories.create_agency(isa="lapsed" if role == Role.SPOC else "current")
    factories.create_user(role=role, email=f"{role}@test.invalid", agency=agency)
    db.session.commit()
    _sign_in(page, f"{role}@test.invalid")
    for path in ("/", "/account", "/account/password"):
        page.goto(path)
        assert_accessible(page)
