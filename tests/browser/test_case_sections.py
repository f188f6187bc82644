"""The case sections by keyboard alone, with axe-core on every page: a coordinator changes the
risk level, adds an agency, sets a staff-safety warning, records insight and an outcome and
reviews it; an involved SPoC opens the full record; a SPoC whose agency is not involved sees
only the restricted summary."""

from __future__ import annotations

import sqlalchemy as sa
from playwright.sync_api import expect

from panel.dates import london_today
from panel.extensions import db
from panel.models import (
    CaseEvent,
    InsightVersion,
    Involvement,
    OutcomeReview,
    PersonalOutcome,
    RiskLevel,
    Role,
    StaffSafetyFlag,
    StaffSafetyKind,
)
from tests import factories
from tests.browser.conftest import assert_accessible, tab_until, press_and_wait as _press_and_wait, sign_in as _sign_in
from tests.cases.helpers import create_case

IN_CASE_NAV = "el.closest('.panel-case-nav') !== null"


def _open_section(page, label: str) -> None:
    tab_until(page, f"el => el.tagName === 'A' && {IN_CASE_NAV} && el.textContent.trim() === '{label}'")
    _press_and_wait(page, "Enter")
    expect(page.locator(".panel-case-nav a[aria-current='page']")).to_have_text(label)
    assert_accessible(page)


def _submit(page, name: str) -> None:
    tab_until(page, f"el => el.type === 'submit' && el.name === '{name}'")
    _press_and_wait(page, "Enter")


def _world():
    host = factories.create_agency(code="host", name="Host Council")
    lead = factories.create_agency(code="lead", name="Lead Agency")
    other = factories.create_agency(code="other", name="Other Agency")
    factories.create_user(role=Role.COORDINATOR, email="coordinator@test.invalid", name="Casey Coordinator",
                          agency=host)
    involved = factories.create_user(role=Role.SPOC, email="lead.spoc@test.invalid", agency=lead)
    outsider = factories.create_user(role=Role.SPOC, email="other.spoc@test.invalid", agency=other)
    lead.spoc, other.spoc = involved, outsider
    case = create_case(lead=lead, risk=RiskLevel.CRITICAL, given_name="Zebedee", family_name="Quaintly")
    return case


def test_a_coordinator_works_through_the_case_sections_by_keyboard(page, app):
    case = _world()
    reference, case_id = case.reference, case.id
    db.session.commit()  # and touch no model until the browser is done (SQLite write lock)
    _sign_in(page, "coordinator@test.invalid")
    page.goto(f"/cases/{reference}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Zebedee Quaintly")
    assert_accessible(page)

    # Risk: a change without a reason is refused, then made with one.
    _open_section(page, "Risk")
    tab_until(page, "el => el.type === 'radio' && el.name === 'level'")
    page.keyboard.press("ArrowDown")  # from critical (checked) to high
    _submit(page, "change_level")
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the reason for changing the risk level")
    assert_accessible(page)
    page.get_by_label("Reason for the change").focus()
    page.keyboard.type("Now has a safe place to stay")
    _submit(page, "change_level")
    expect(page.get_by_text("The risk level has been changed to high.")).to_be_visible()
    expect(page.locator("table tbody tr").first).to_contain_text("Now has a safe place to stay")
    assert_accessible(page)

    # Agencies: add one with a named worker who has rapport.
    _open_section(page, "Agencies")
    tab_until(page, "el => el.name === 'agency_id'")
    page.keyboard.type("Other Agency")
    page.keyboard.press("Tab")
    page.keyboard.type("Wendy Worker")
    tab_until(page, "el => el.type === 'radio' && el.name === 'has_rapport'")
    page.keyboard.press("Space")  # Yes
    _submit(page, "add_agency")
    expect(page.get_by_text("Other Agency has been added.")).to_be_visible()
    expect(page.locator("table tbody")).to_contain_text("Wendy Worker")
    assert_accessible(page)

    # Staff safety: a warning that then shows on every page of the case.
    _open_section(page, "Staff safety")
    tab_until(page, "el => el.type === 'radio' && el.name === 'kind'")
    page.keyboard.press("Space")  # hostility towards staff
    page.keyboard.press("Tab")
    page.keyboard.type("Shouted at the last two visitors")
    _submit(page, "add_flag")
    expect(page.locator(".panel-staff-safety")).to_contain_text("Hostility towards staff")
    assert_accessible(page)
    _open_section(page, "Summary")
    expect(page.locator(".panel-staff-safety")).to_contain_text("Shouted at the last two visitors")
    _open_section(page, "Insight")
    expect(page.locator(".panel-staff-safety")).to_contain_text("Casey Coordinator")

    # Insight: a first version.
    tab_until(page, "el => el.name === 'most_settled'")
    page.keyboard.type("Late mornings, after the dog is walked")
    page.keyboard.press("Tab")
    page.keyboard.type("Brown envelopes")
    _submit(page, "submit")
    expect(page.get_by_text("The insight record has been saved as a new version.")).to_be_visible()
    expect(page.get_by_label("When is the person most settled?")).to_have_value("Late mornings, after the dog is walked")
    assert_accessible(page)

    # Outcomes: one in the person's words, then its review.
    _open_section(page, "Outcomes")
    tab_until(page, "el => el.name === 'words'")
    page.keyboard.type("I want to stay in my flat")
    tab_until(page, "el => el.type === 'radio' && el.name === 'asked'")
    page.keyboard.press("Space")  # Yes
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # Yes, in their own words
    _submit(page, "submit")
    expect(page.get_by_text("The desired outcome has been added.")).to_be_visible()
    expect(page.locator(".govuk-summary-card")).to_contain_text("I want to stay in my flat")
    assert_accessible(page)
    tab_until(page, "el => el.tagName === 'A' && el.textContent.trim().startsWith('Review')")
    _press_and_wait(page, "Enter")
    expect(page.locator("main").get_by_role("heading", level=2)).to_have_text("Review a desired outcome")
    assert_accessible(page)
    tab_until(page, "el => el.type === 'radio' && el.name === 'review'")
    page.keyboard.press("Space")  # achieved
    today = london_today()
    page.keyboard.press("Tab")
    page.keyboard.type(str(today.day))
    page.keyboard.press("Tab")
    page.keyboard.type(str(today.month))
    page.keyboard.press("Tab")
    page.keyboard.type(str(today.year))
    _submit(page, "submit")
    expect(page.get_by_text("The outcome has been reviewed as achieved.")).to_be_visible()
    expect(page.locator(".govuk-summary-card .govuk-tag")).to_have_text("Achieved")
    assert_accessible(page)

    db.session.remove()
    assert db.session.execute(sa.select(Involvement.named_worker, Involvement.has_rapport).where(
        Involvement.case_id == case_id, Involvement.named_worker != "")).one() == ("Wendy Worker", True)
    flag = db.session.execute(sa.select(StaffSafetyFlag)).scalar_one()
    assert (flag.kind, flag.details) == (StaffSafetyKind.HOSTILITY, "Shouted at the last two visitors")
    version = db.session.execute(sa.select(InsightVersion)).scalar_one()
    assert (version.most_settled, version.upsets) == ("Late mornings, after the dog is walked", "Brown envelopes")
    outcome = db.session.execute(sa.select(PersonalOutcome)).scalar_one()
    assert (outcome.words, outcome.asked, outcome.expressed, outcome.review, outcome.reviewed_on) == (
        "I want to stay in my flat", True, True, OutcomeReview.ACHIEVED, today)
    kinds = db.session.execute(sa.select(CaseEvent.kind).where(CaseEvent.case_id == case_id)
                               .order_by(CaseEvent.id)).scalars().all()
    assert kinds == ["risk", "agency", "staff_safety", "insight", "outcome", "outcome"]


def test_an_involved_spoc_sees_the_full_record_and_an_outsider_only_the_summary(page, app):
    case = _world()
    reference = case.reference
    db.session.commit()

    _sign_in(page, "lead.spoc@test.invalid")
    page.goto("/cases")
    tab_until(page, f"el => el.tagName === 'A' && el.textContent.trim() === '{reference}'")
    _press_and_wait(page, "Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Zebedee Quaintly")
    assert_accessible(page)
    _open_section(page, "Risk")
    expect(page.get_by_role("button", name="Change risk level")).to_be_visible()

    page.context.clear_cookies()
    _sign_in(page, "other.spoc@test.invalid")
    page.goto("/cases")
    tab_until(page, f"el => el.tagName === 'A' && el.textContent.trim() === '{reference}'")
    _press_and_wait(page, "Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("ZQ")
    expect(page.get_by_text("Your agency is not involved in this case, so you see only a summary.")).to_be_visible()
    expect(page.locator(".panel-case-nav")).to_have_count(0)
    expect(page.get_by_text("Zebedee")).to_have_count(0)
    assert_accessible(page)
    response = page.goto(f"/cases/{reference}/risk")
    assert response.status == 404
    assert_accessible(page)


def test_every_section_is_accessible_with_history_errors_and_read_only(page, app):
    case = _world()
    coordinator = factories.create_user(role=Role.COORDINATOR, email="second@test.invalid", name="Second Coordinator")
    factories.create_user(role=Role.CHAIR, email="chair@test.invalid")
    from panel.cases import services

    services.change_risk(case, level=RiskLevel.HIGH, reason="First\nreason", by=coordinator)
    flag = services.set_staff_safety_flag(case, kind=StaffSafetyKind.OTHER, details="Cleared <b>one</b>", by=coordinator)
    services.clear_staff_safety_flag(flag, case, by=coordinator)
    services.set_staff_safety_flag(case, kind=StaffSafetyKind.NO_LONE_VISITS, details="", by=coordinator)
    for words in ("Most settled in the morning", "Most settled after lunch"):
        services.record_insight(case, answers={"most_settled": words, "upsets": "Noise"}, by=coordinator)
    outcome = services.add_outcome(case, words="Keep my dog", asked=True, expressed=False, by=coordinator)
    services.review_outcome(outcome, case, review=OutcomeReview.NOT_ACHIEVED, on=london_today(), by=coordinator)
    services.add_outcome(case, words="See my sister", asked=True, expressed=True, by=coordinator)
    reference, outcome_id, involvement_id = case.reference, outcome.id, case.involvements[0].id
    db.session.commit()
    sections = ["risk", "agencies", "staff-safety", "insight", "outcomes"]

    _sign_in(page, "second@test.invalid")
    for path in [*sections, f"agencies?edit={involvement_id}", f"outcomes/{outcome_id}/review"]:
        page.goto(f"/cases/{reference}/{path}")
        expect(page.locator(".panel-staff-safety")).to_have_count(1)
        assert_accessible(page)
    for path, button in [("risk", "Change risk level"), ("risk", "Save summary and plan"), ("agencies", "Add agency"),
                         ("agencies", "Change lead agency"), ("staff-safety", "Add warning"),
                         ("insight", "Save as a new version"), ("outcomes", "Add outcome"),
                         (f"outcomes/{outcome_id}/review", "Save review")]:
        page.goto(f"/cases/{reference}/{path}")
        if button == "Save summary and plan":
            page.get_by_label("Risk summary").fill("x" * 5001)
        if button == "Save review":
            page.get_by_label("Day").fill("")
        if button == "Save as a new version":
            for field in page.locator("textarea").all():
                field.fill("")
        with page.expect_navigation():
            page.get_by_role("button", name=button).click()
        expect(page.locator(".govuk-error-summary")).to_be_visible()
        assert_accessible(page)

    page.context.clear_cookies()
    _sign_in(page, "chair@test.invalid")
    for path in sections:
        page.goto(f"/cases/{reference}/{path}")
        expect(page.locator("main form")).to_have_count(0)
        assert_accessible(page)
    page.goto(f"/cases/{reference}/insight")
    page.locator("details summary").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("details[open]")).to_contain_text("Most settled in the morning")
    assert_accessible(page)
