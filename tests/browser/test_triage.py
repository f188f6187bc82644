"""A coordinator triages by keyboard alone: opens the triage list and a referral, puts one on
the panel's agenda, declines another with a rationale, and promotes a waiting referral into the
place that frees. axe-core checks every page on the way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from panel.extensions import db
from panel.models import AgencyKind, Referral, ReferralDecision, ReferralStatus, Role, utcnow
from tests import factories
from tests.browser.conftest import assert_accessible, tab_until, press_and_wait as _press_and_wait, sign_in as _sign_in


@pytest.fixture
def app_config():
    return {"CASE_CAP": 3}



def _follow(page, text: str) -> None:
    """Tab to the link or button with this text and press Enter."""
    tab_until(page, f"el => (el.tagName === 'A' || el.tagName === 'BUTTON') && el.textContent.trim() === {text!r}",
              limit=150)
    _press_and_wait(page, "Enter")


def test_a_coordinator_triages_declines_and_promotes_by_keyboard(page, app):
    police = factories.create_agency(code="police", name="Keyboard Police", kind=AgencyKind.POLICE)
    housing = factories.create_agency(code="housing", name="Keyboard Housing", kind=AgencyKind.HOUSING)
    factories.create_user(role=Role.COORDINATOR, email="coordinator@test.invalid", agency=police)
    referrer = factories.create_user(role=Role.PRACTITIONER, email="referrer@test.invalid", agency=housing)

    def refer(status, given, family, days, **kwargs) -> Referral:
        return factories.create_referral(by=referrer, status=status, given_name=given, family_name=family,
                                         submitted_at=utcnow() - timedelta(days=days), **kwargs)

    to_panel = refer("submitted", "Alex", "Keyboard", 5, nhs_number="9434765919")
    refer("declined", "Alex", "Keyboard", 100, nhs_number="9434765919")  # history for the referral page
    to_decline = refer("submitted", "Bea", "Keyboard", 4, staff_hostility=True, staff_safety_details="Dog")
    on_panel = refer("awaiting_panel", "Cal", "Keyboard", 8)
    waiting = refer("waiting", "Dee", "Keyboard", 2)
    ids = {"to_panel": to_panel.id, "to_decline": to_decline.id, "on_panel": on_panel.id, "waiting": waiting.id}
    refs = {"to_panel": to_panel.reference, "to_decline": to_decline.reference, "on_panel": on_panel.reference,
            "waiting": waiting.reference}
    db.session.commit()  # and touch no model after this: on SQLite a lazy load would hold the write lock

    _sign_in(page, "coordinator@test.invalid")
    expect(page.locator("#occupancy")).to_have_text("3 of 3 places used")
    assert_accessible(page)  # the dashboard

    # The triage list, then the first referral.
    _follow(page, "Triage")
    expect(page.get_by_role("heading", level=1)).to_have_text("Triage")
    expect(page.locator(f"#referral-{ids['to_panel']}")).to_contain_text("Possible earlier record")
    assert_accessible(page)
    _follow(page, refs["to_panel"])
    expect(page.get_by_role("heading", level=1)).to_have_text(refs["to_panel"])
    expect(page.locator("#history")).to_be_visible()
    assert_accessible(page)

    # Triage it: first with nothing chosen, then onto the next panel's agenda.
    _follow(page, "Triage this referral")
    assert_accessible(page)
    tab_until(page, "el => el.type === 'submit' && el.closest('main')")
    _press_and_wait(page, "Enter")
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select what you want to do with this referral")
    assert_accessible(page)  # the triage form with errors
    tab_until(page, "el => el.type === 'radio'")
    page.keyboard.press("Space")  # the first: put it on the next panel's agenda
    tab_until(page, "el => el.type === 'submit' && el.closest('main')")
    _press_and_wait(page, "Enter")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is on the next panel’s agenda")
    assert_accessible(page)

    # Decline the second with a rationale and signposting (the boxes reveal under the radio).
    _follow(page, "Triage")
    _follow(page, refs["to_decline"])
    expect(page.locator(".govuk-warning-text").first).to_contain_text("Staff safety")
    _follow(page, "Triage this referral")
    tab_until(page, "el => el.type === 'radio'")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # the third: decline it
    expect(page.get_by_label("Why is it declined?")).to_be_visible()
    tab_until(page, "el => el.name === 'rationale'")
    page.keyboard.type("The risk is held by housing <b>alone</b>.")
    page.keyboard.press("Tab")
    page.keyboard.type("Housing options team")
    assert_accessible(page)
    tab_until(page, "el => el.type === 'submit' && el.closest('main')")
    _press_and_wait(page, "Enter")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("has been declined")
    expect(page.locator("table[aria-labelledby=decisions]")).to_contain_text(
        "The risk is held by housing <b>alone</b>.")

    # The panel decision page for the one already on the agenda.
    _follow(page, "Triage")
    _follow(page, refs["on_panel"])
    _follow(page, "Record the panel decision")
    expect(page.get_by_role("heading", level=1)).to_have_text("Record the panel decision")
    assert_accessible(page)

    # A place is free: promote the waiting referral.
    _follow(page, "Waiting list")
    expect(page.locator("#occupancy")).to_have_text("2 of 3 places used")
    assert_accessible(page)
    tab_until(page, "el => el.tagName === 'BUTTON' && el.textContent.includes('Promote')")
    _press_and_wait(page, "Enter")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("taken off the waiting list")
    expect(page.locator("#occupancy")).to_have_text("3 of 3 places used")
    assert_accessible(page)

    # The referral list and the dashboard after it all.
    _follow(page, "Referrals")
    expect(page.locator("#referrals tbody tr")).to_have_count(5)
    assert_accessible(page)
    _follow(page, "Home")
    expect(page.locator("#occupancy")).to_have_text("3 of 3 places used")
    assert_accessible(page)

    db.session.remove()
    status = {name: db.session.get(Referral, rid).status for name, rid in ids.items()}
    assert status == {"to_panel": ReferralStatus.AWAITING_PANEL, "to_decline": ReferralStatus.DECLINED,
                      "on_panel": ReferralStatus.AWAITING_PANEL, "waiting": ReferralStatus.SUBMITTED}
    declined = db.session.execute(db.select(ReferralDecision).filter_by(
        referral_id=ids["to_decline"], outcome="declined")).scalar_one()
    assert (declined.reason, declined.signposting) == ("The risk is held by housing <b>alone</b>.",
                                                        "Housing options team")
