"""A practitioner refers an adult by keyboard alone: every question page, one mistake put right
through the error summary, one Change link from check your answers, then the confirmation.
axe-core checks every page on the way."""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa
from playwright.sync_api import expect

from panel.extensions import db
from panel.models import AgencyKind, OutboxMessage, Referral, ReferralStatus, RiskLevel, Role
from tests import factories
from tests.browser.conftest import assert_accessible, tab_until, press_and_wait as _press_and_wait, sign_in as _sign_in


def _tab_to(page, name: str) -> None:
    tab_until(page, f"el => el.name === '{name}'", limit=80)


def _save_and_continue(page) -> None:
    tab_until(page, "el => el.type === 'submit' && el.closest('main')", limit=80)
    _press_and_wait(page)


def _on_page(page, heading: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    assert_accessible(page)


def test_a_practitioner_refers_an_adult_by_keyboard_alone(page, app):
    police = factories.create_agency(code="police", name="Keyboard Police", kind=AgencyKind.POLICE)
    factories.create_agency(code="housing", name="Keyboard Housing", kind=AgencyKind.HOUSING)
    factories.create_user(role=Role.PRACTITIONER, email="pat@police.test", name="Pat Practitioner", agency=police)
    police_worker = f"worker_{police.id}"
    db.session.commit()  # and touch no model until the browser is done (SQLite write lock)

    _sign_in(page, "pat@police.test")
    page.goto("/referrals/new")
    _on_page(page, "Refer an adult to the pathway")
    tab_until(page, "el => el.tagName === 'BUTTON' && el.textContent.includes('Start now')")
    _press_and_wait(page)

    # 1. The name, with a mistake: the last name is left out, then put right from the error summary.
    _on_page(page, "What is the person’s name?")
    _tab_to(page, "given_name")
    page.keyboard.type("Zebedee")
    _save_and_continue(page)
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.get_by_label("First name")).to_have_value("Zebedee")
    assert_accessible(page)
    page.keyboard.press("Tab")  # into the error summary's first link
    expect(page.locator(".govuk-error-summary a").first).to_be_focused()
    page.keyboard.press("Enter")  # the link moves focus to the field
    expect(page.get_by_label("Last name")).to_be_focused()
    page.keyboard.type("Quartermain")
    _save_and_continue(page)

    # 2. Date of birth: day, month and year boxes in turn.
    _on_page(page, "What is their date of birth?")
    _tab_to(page, "date_of_birth")
    page.keyboard.type("29")
    page.keyboard.press("Tab")
    page.keyboard.type("2")
    page.keyboard.press("Tab")
    page.keyboard.type("1980")
    _save_and_continue(page)

    # 3. Identity and language: an arrow key chooses "No" for an interpreter.
    _on_page(page, "Identity and language")
    _tab_to(page, "first_language")
    page.keyboard.type("English")
    _tab_to(page, "interpreter_needed")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("radio", name="No")).to_be_checked()
    _save_and_continue(page)

    # 4. Address and postcode.
    _on_page(page, "Where do they live?")
    _tab_to(page, "address")
    page.keyboard.type("17 Wistful Vista")
    page.keyboard.press("Tab")
    page.keyboard.type("lu1 2ab")
    _save_and_continue(page)

    # 5. Identifiers.
    _on_page(page, "Identifiers")
    _tab_to(page, "nhs_number")
    page.keyboard.type("943 476 5919")
    _save_and_continue(page)

    # 6. Eligibility: Space picks "Yes" in each group.
    _on_page(page, "Eligibility")
    _tab_to(page, "lives_in_area")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    _save_and_continue(page)

    # 7. Needs: the first and the third.
    _on_page(page, "Which needs does the person have?")
    _tab_to(page, "needs")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    _save_and_continue(page)

    # 8. Risk.
    _on_page(page, "Risk")
    _tab_to(page, "risk_level")
    page.keyboard.press("Space")  # Critical
    _tab_to(page, "risk_summary")
    page.keyboard.type("Repeated crises and no safe place to stay.")
    _save_and_continue(page)

    # 9. What has been tried.
    _on_page(page, "What has been tried already?")
    _tab_to(page, "tried_already")
    page.keyboard.type("Outreach visits. A tenancy support worker helped for a week.")
    _save_and_continue(page)

    # 10. Agencies: both.
    _on_page(page, "Which agencies are involved with the person?")
    _tab_to(page, "agencies")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    _save_and_continue(page)

    # 11. Named workers: one named worker with rapport.
    _on_page(page, "Named workers and rapport")
    _tab_to(page, police_worker)
    page.keyboard.type("PC Dawn Beat")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    _save_and_continue(page)

    # 12. The person's views and two desired outcomes, one a line.
    _on_page(page, "The person’s views")
    _tab_to(page, "persons_views")
    page.keyboard.type("I want to stay in my flat.")
    page.keyboard.press("Tab")
    page.keyboard.type("Keep my flat")
    page.keyboard.press("Enter")
    page.keyboard.type("See my daughter")
    _save_and_continue(page)

    # 13. Mental capacity: nothing to add.
    _on_page(page, "Mental capacity considerations")
    _save_and_continue(page)

    # 14. Consent: an arrow key answers "No", so the next page asks for the lawful basis.
    _on_page(page, "Does the person consent to their information being shared?")
    _tab_to(page, "consent_given")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("radio", name="No")).to_be_checked()
    _save_and_continue(page)
    _on_page(page, "Sharing without consent")
    _tab_to(page, "consent_lawful_basis")
    page.keyboard.press("Space")  # the first lawful basis
    page.keyboard.press("Tab")
    page.keyboard.type("There is a risk to life and she cannot be reached to ask.")
    _save_and_continue(page)

    # 15. Staff safety.
    _on_page(page, "Staff safety")
    _tab_to(page, "concerns")
    page.keyboard.press("Space")
    _tab_to(page, "staff_safety_details")
    page.keyboard.type("A dog at the door. Visit in pairs.")
    _save_and_continue(page)

    # 16. Your details are filled in already; Shift+Tab back from the button to name the manager.
    _on_page(page, "Your details")
    expect(page.get_by_label("Your email address")).to_have_value("pat@police.test")
    tab_until(page, "el => el.type === 'submit' && el.closest('main')")
    page.keyboard.press("Shift+Tab")
    page.keyboard.type("Morgan Manager")
    _press_and_wait(page)  # Enter in a text input sends the form

    # Check your answers, then change the risk summary with its Change link.
    _on_page(page, "Check your answers before submitting your referral")
    expect(page.locator(".govuk-error-summary")).to_have_count(0)
    tab_until(page, "el => el.tagName === 'A' && el.getAttribute('href').endsWith('/risk?return=check')", limit=80)
    _press_and_wait(page)
    _on_page(page, "Risk")
    _tab_to(page, "risk_summary")
    page.keyboard.press("Control+A")
    page.keyboard.type("Repeated crises, and now rough sleeping.")
    _save_and_continue(page)
    _on_page(page, "Check your answers")
    expect(page.get_by_text("Repeated crises, and now rough sleeping.")).to_be_visible()

    tab_until(page, "el => el.tagName === 'BUTTON' && el.textContent.includes('Submit referral')", limit=80)
    _press_and_wait(page)

    expect(page.locator(".govuk-panel")).to_contain_text("Referral submitted")
    expect(page.locator(".govuk-panel")).to_contain_text(re.compile(r"R-\d{4}-\d{5}"))
    assert_accessible(page)

    db.session.remove()
    referral = db.session.execute(sa.select(Referral)).scalar_one()
    assert referral.status == ReferralStatus.SUBMITTED
    person = referral.person
    assert (person.given_name, person.family_name, person.postcode, person.nhs_number) == (
        "Zebedee", "Quartermain", "LU1 2AB", "9434765919")
    assert person.interpreter_needed is False
    assert (referral.lives_in_area, referral.single_agency_tried) == (True, True)
    assert referral.needs == ["dual_diagnosis", "mental_health"]
    assert referral.risk_level == RiskLevel.CRITICAL
    assert referral.risk_summary == "Repeated crises, and now rough sleeping."
    assert referral.desired_outcomes == ["Keep my flat", "See my daughter"]
    assert referral.consent_given is False and referral.consent_lawful_basis is not None
    assert referral.staff_hostility is True and referral.staff_lone_working_restricted is False
    assert referral.manager_name == "Morgan Manager"
    assert sorted((i.agency.code, i.named_worker, i.has_rapport) for i in referral.involvements) == [
        ("housing", "", False), ("police", "PC Dawn Beat", True)]
    assert db.session.execute(sa.select(OutboxMessage.to_addr)).scalars().all() == ["pat@police.test"]


def test_drafts_are_resumed_and_deleted_by_keyboard(page, app):
    from panel.referrals import services

    police = factories.create_agency(code="police", name="Keyboard Police", kind=AgencyKind.POLICE)
    user = factories.create_user(role=Role.PRACTITIONER, email="pat@police.test", agency=police)
    keep = services.start_draft(by=user)
    services.update_answers(keep, by=user, person={"given_name": "Ada", "family_name": "Lovelace"})
    drop = services.start_draft(by=user)
    keep_id, drop_id = keep.id, drop.id
    db.session.commit()

    _sign_in(page, "pat@police.test")
    page.goto("/referrals/drafts")
    _on_page(page, "Your drafts")

    # Continue goes to the first unanswered page: a child's date of birth stops the referral.
    tab_until(page, f"el => el.tagName === 'A' && el.getAttribute('href') === '/referrals/{keep_id}/date-of-birth'")
    _press_and_wait(page)
    _on_page(page, "What is their date of birth?")
    _tab_to(page, "date_of_birth")
    page.keyboard.type("1")
    page.keyboard.press("Tab")
    page.keyboard.type("1")
    page.keyboard.press("Tab")
    page.keyboard.type(str(date.today().year - 10))
    _save_and_continue(page)
    _on_page(page, "The pathway is only for adults")
    expect(page.get_by_text("contact children’s services", exact=False)).to_be_visible()

    # Check your answers lists what is still missing, each linked to its page.
    page.goto(f"/referrals/{keep_id}/check")
    _on_page(page, "Check your answers")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the date of birth")

    # Delete the other draft after confirming.
    page.goto("/referrals/drafts")
    tab_until(page, f"el => el.tagName === 'A' && el.getAttribute('href') === '/referrals/{drop_id}/delete'")
    _press_and_wait(page)
    _on_page(page, "Are you sure you want to delete this draft?")
    tab_until(page, "el => el.tagName === 'BUTTON' && el.textContent.includes('Yes, delete this draft')")
    _press_and_wait(page)
    _on_page(page, "Your drafts")
    expect(page.get_by_text("The draft has been deleted.")).to_be_visible()
    expect(page.locator("table tbody tr")).to_have_count(1)

    db.session.remove()
    assert db.session.get(Referral, drop_id) is None
    assert db.session.get(Referral, keep_id).person.date_of_birth is None


def test_every_question_page_and_its_errors_are_accessible(page, app):
    from panel.referrals import services
    from panel.referrals.forms import SECTIONS

    police = factories.create_agency(code="police", name="Keyboard Police", kind=AgencyKind.POLICE)
    user = factories.create_user(role=Role.PRACTITIONER, email="pat@police.test", agency=police)
    draft = services.start_draft(by=user)
    services.update_answers(draft, by=user, answers={"consent_given": False},
                            involvements=[{"agency_id": police.id}])
    draft_id = draft.id
    db.session.commit()

    _sign_in(page, "pat@police.test")
    for section in SECTIONS:
        url = f"/referrals/{draft_id}/{section.slug}"
        page.goto(url)
        assert page.url.endswith(url), url
        assert_accessible(page)
        if section.slug == "date-of-birth":
            page.get_by_label("Year").fill("19x0")
        if section.slug == "referrer":
            page.get_by_label("Your email address").fill("not an email")
        with page.expect_navigation():
            page.get_by_role("button", name="Save and continue").click()
        if page.url.endswith(url):  # a page with a required answer shows its errors
            expect(page.locator(".govuk-error-summary")).to_be_visible()
            assert_accessible(page)
    page.goto(f"/referrals/{draft_id}/check")
    with page.expect_navigation():
        page.get_by_role("button", name="Submit referral").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    assert_accessible(page)
