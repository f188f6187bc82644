"""A coordinator links a repeat referral to an earlier person record by keyboard alone: compares
the details side by side, is told to choose for each one that differs, chooses, and links.
axe-core checks each page on the way, the error page included."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from panel.extensions import db
from panel.models import AgencyKind, Person, Referral, Role, utcnow
from tests import factories
from tests.browser.conftest import assert_accessible, follow_link, press_and_wait, sign_in, tab_until


def test_a_coordinator_compares_chooses_and_links_by_keyboard(page, app):
    police = factories.create_agency(code="police", name="Keyboard Police", kind=AgencyKind.POLICE)
    factories.create_user(role=Role.COORDINATOR, email="coordinator@test.invalid", agency=police)
    earlier = factories.create_referral(agency=police, status="declined", given_name="Alex", family_name="Keyboard",
                                        nhs_number="9434765919", submitted_at=utcnow() - timedelta(days=100))
    earlier.person.address, earlier.person.gender = "1 Old Road", "Female"
    new = factories.create_referral(agency=police, status="submitted", given_name="Alex", family_name="Keyboard",
                                    nhs_number="9434765919", submitted_at=utcnow() - timedelta(days=2))
    new.person.address, new.person.gender = "22 New Street", "Male"
    ids = {"new": new.id, "record": earlier.person_id, "written": new.person_id}
    db.session.commit()  # and touch no model after this: on SQLite a lazy load would hold the write lock

    sign_in(page, "coordinator@test.invalid")
    page.goto(f"/referrals/{ids['new']}")
    assert_accessible(page)
    follow_link(page, "Compare and link to Alex Keyboard, Same NHS number")
    expect(page.get_by_role("heading", level=1)).to_have_text("Link this referral to an earlier person record")
    expect(page.locator("#differences tbody tr")).to_have_count(2)

    # Choose for gender only, and submit: the error names the address.
    tab_until(page, "el => el.name === 'gender' && el.value === 'record'")
    page.keyboard.press("Space")
    tab_until(page, "el => el.tagName === 'BUTTON' && el.textContent.trim() === 'Link to this person'")
    press_and_wait(page)
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select what the person record keeps for address")
    assert page.evaluate("document.activeElement.classList.contains('govuk-error-summary')")
    assert_accessible(page)

    # From the error summary to the field, choose the referral's address, and link.
    tab_until(page, "el => el.tagName === 'A' && el.getAttribute('href') === '#address'")
    page.keyboard.press("Enter")  # GOV.UK Frontend moves focus to the first choice for the address
    assert page.evaluate("document.activeElement.name") == "address"
    page.keyboard.press("ArrowDown")  # the next radio in the group, chosen as it is reached
    assert page.evaluate("[document.activeElement.value, document.activeElement.checked]") == ["referral", True]
    tab_until(page, "el => el.tagName === 'BUTTON' && el.textContent.trim() === 'Link to this person'")
    press_and_wait(page)

    expect(page.locator(".govuk-notification-banner")).to_contain_text("now linked to the earlier person record")
    expect(page.locator("#linked-person")).to_be_visible()
    assert_accessible(page)
    db.session.remove()
    referral = db.session.get(Referral, ids["new"])
    record = db.session.get(Person, ids["record"])
    written = db.session.get(Person, ids["written"])
    assert referral.person_id == ids["record"] and referral.referred_person_id == ids["written"]
    assert (record.address, record.gender) == ("22 New Street", "Female")
    assert (written.address, written.gender) == ("22 New Street", "Male")
