"""Search by keyboard alone, with axe-core on every page: a coordinator tabs to the search box in
the header, finds a person by a misspelt name, opens their case, searches with nothing typed
(the error summary takes the focus) and finds closed cases behind the case list's filter; a SPoC
whose agency is not involved finds a case by its reference as a summary only."""

from __future__ import annotations

from playwright.sync_api import expect

from panel.extensions import db
from panel.models import CaseStatus, Role
from tests import factories
from tests.browser.conftest import assert_accessible, press_and_wait, sign_in, tab_until
from tests.search import world

IN_HEADER_SEARCH = "el.id === 'header-search'"


def _world() -> tuple[str, str]:
    host = factories.create_agency(code="host", name="Host Council")
    lead = factories.create_agency(code="lead", name="Lead Agency")
    other = factories.create_agency(code="other", name="Other Agency")
    factories.create_user(role=Role.COORDINATOR, email="coordinator@test.invalid", agency=host)
    factories.create_user(role=Role.SPOC, email="other.spoc@test.invalid", agency=other)
    case = world.case(world.person("Perpetua", "Winterbottom"), lead=lead)
    world.case(world.person("Clement", "Closedown"), lead=lead, status=CaseStatus.CLOSED, step_down=other)
    world.referral(world.person("Perpetua", "Winterbourne"), agency=lead)  # a near name, found second
    return case.reference, case.person.full_name


def _search_from_the_header(page, words: str) -> None:
    tab_until(page, f"el => {IN_HEADER_SEARCH}")
    page.keyboard.type(words)
    press_and_wait(page, "Enter")


def test_a_coordinator_finds_a_person_and_opens_their_case_by_keyboard(page, app):
    reference, name = _world()
    db.session.commit()  # and touch no model until the browser is done (SQLite write lock)
    sign_in(page, "coordinator@test.invalid")

    _search_from_the_header(page, "perpetua winterbotom")
    expect(page.get_by_role("heading", level=1)).to_have_text("Search")
    expect(page.locator("#people > li").first.locator("h3")).to_have_text(name)
    expect(page.locator("#results-count")).to_have_text("2 results")
    assert_accessible(page)

    tab_until(page, f"el => el.tagName === 'A' && el.textContent.trim() === 'Case {reference}'")
    press_and_wait(page, "Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    assert page.url.endswith(f"/cases/{reference}")
    assert_accessible(page)

    # Nothing typed: the error summary takes the focus and says what to type.
    _search_from_the_header(page, " ")
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a name, date of birth, NHS number")
    assert_accessible(page)

    # The search page's own box, by date of birth: nobody born then.
    page.locator("#q").focus()
    page.keyboard.type("3 April 1901")
    press_and_wait(page, "Enter")
    expect(page.locator("#no-results")).to_be_visible()
    assert_accessible(page)

    # Closed cases behind the case list's filter.
    page.goto("/cases")
    tab_until(page, "el => el.id === 'show'")
    page.keyboard.press("ArrowDown")  # "Closed cases"
    tab_until(page, "el => el.tagName === 'BUTTON' && el.textContent.trim() === 'Show cases'")
    press_and_wait(page, "Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Closed cases")
    expect(page.locator("#cases tbody tr")).to_have_count(1)
    expect(page.locator("#cases tbody tr")).to_contain_text("Other Agency")
    assert_accessible(page)


def test_a_spoc_not_involved_finds_a_case_by_reference_as_a_summary_only(page, app):
    reference, name = _world()
    db.session.commit()
    sign_in(page, "other.spoc@test.invalid")

    _search_from_the_header(page, reference.lower())
    expect(page.locator("#summary-only")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(name)
    assert_accessible(page)

    tab_until(page, f"el => el.tagName === 'A' && el.textContent.trim() === '{reference}'")
    press_and_wait(page, "Enter")
    expect(page.locator("main")).to_contain_text("Your agency is not involved in this case")
    assert_accessible(page)
