"""By keyboard alone, with axe-core on every page: an involved SPoC records an engagement attempt
(fixing a validation error), reads the log, the pattern view and the chronology; a coordinator proposes closure
and the chair approves it."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from playwright.sync_api import expect

from panel.cases import services
from panel.extensions import db
from panel.models import (
    Case,
    CaseStatus,
    EngagementAttempt,
    EngagementMethod,
    EngagementOutcome,
    OutcomeReview,
    RiskLevel,
    Role,
)
from tests import factories
from tests.browser.conftest import assert_accessible, tab_until
from tests.cases.helpers import create_case


def _press_and_wait(page, key: str) -> None:
    with page.expect_navigation():
        page.keyboard.press(key)


def _sign_in(page, email: str) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    tab_until(page, "el => el.name === 'email'")
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(factories.PASSWORD)
    _press_and_wait(page, "Enter")


def _follow(page, text: str) -> None:
    tab_until(page, f"el => el.tagName === 'A' && el.textContent.trim() === {text!r}", limit=120)
    _press_and_wait(page, "Enter")
    assert_accessible(page)


def _submit(page) -> None:
    tab_until(page, "el => el.type === 'submit' || (el.tagName === 'BUTTON' && el.closest('form[method=post]'))",
              limit=120)
    _press_and_wait(page, "Enter")


def test_an_involved_spoc_records_an_attempt_and_reads_the_patterns(page, app):
    lead = factories.create_agency(code="lead-k", name="Keyboard Housing")
    factories.create_user(role=Role.SPOC, agency=lead, email="spoc@test.invalid", name="Sasha Spoc")
    case = create_case(lead=lead, given_name="Kim", family_name="Keyboard")
    db.session.add(EngagementAttempt(
        case_id=case.id, agency_id=lead.id, method=EngagementMethod.PHONE, outcome=EngagementOutcome.NO_ANSWER,
        occurred_at=datetime(2025, 1, 14, 10, tzinfo=timezone.utc), persons_words="", worker_view="Voicemail full."))
    ref, case_id = case.reference, case.id
    db.session.commit()  # touch no model after this until the browser is done

    _sign_in(page, "spoc@test.invalid")
    page.goto(f"/cases/{ref}")
    _follow(page, "Engagement")
    expect(page.locator("main").get_by_role("heading", level=2)).to_contain_text("Engagement log")
    _follow(page, "Record an attempt")

    expect(page.get_by_label("Keyboard Housing")).to_be_checked()  # the SPoC's own agency, involved
    tab_until(page, "el => el.name === 'method'")
    page.keyboard.press("ArrowDown")  # from Phone to Text message
    page.keyboard.press("ArrowUp")    # ... and back: Phone is chosen
    tab_until(page, "el => el.id === 'occurred_on-day'")
    page.keyboard.type("14")
    page.keyboard.press("Tab")
    page.keyboard.type("1")
    page.keyboard.press("Tab")
    page.keyboard.type("2025")
    page.keyboard.press("Tab")
    page.keyboard.type("25:30")  # not a real time
    tab_until(page, "el => el.name === 'outcome'")
    page.keyboard.press("Space")  # Engaged
    tab_until(page, "el => el.name === 'persons_words'")
    page.keyboard.type("Ring after tea, not before.")
    page.keyboard.press("Tab")
    page.keyboard.type("Answered on the second ring; sounded brighter.")
    tab_until(page, "el => el.name === 'small_step'")
    page.keyboard.press("Space")
    _submit(page)

    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a real time, like 14:30")
    expect(page.get_by_label("In the person’s own words (optional)")).to_have_value("Ring after tea, not before.")
    assert_accessible(page)
    tab_until(page, "el => el.tagName === 'A' && el.textContent.includes('Enter a real time')")
    page.keyboard.press("Enter")  # the error summary link moves focus to the field
    expect(page.get_by_label("Time of the attempt")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("19:30")
    _submit(page)

    expect(page.get_by_text("The attempt has been recorded.")).to_be_visible()
    row = page.locator("tbody tr").first
    expect(row).to_contain_text("14 January 2025 at 7:30pm")
    expect(row).to_contain_text("Out of hours")
    expect(row).to_contain_text("Small step")
    expect(row.locator(".panel-persons-words")).to_contain_text("Ring after tea, not before.")
    expect(row.locator(".panel-worker-view")).to_contain_text("Answered on the second ring")
    assert_accessible(page)

    _follow(page, "See when contact works (pattern view)")
    expect(page.locator("svg[role=img]")).to_have_count(3)
    expect(page.locator("#table-day-time")).to_contain_text("1 of 2")
    expect(page.locator("#table-agency")).to_contain_text("Keyboard Housing")
    _follow(page, "Chronology")
    expect(page.locator("tbody tr").first).to_contain_text("Phone: engaged (a small step)")
    _follow(page, "Printable version")
    expect(page.locator("tbody tr")).to_have_count(1)  # the first attempt was put in directly, without an event

    db.session.remove()
    attempts = db.session.execute(sa.select(EngagementAttempt).where(EngagementAttempt.case_id == case_id)
                                  .order_by(EngagementAttempt.id)).scalars().all()
    assert len(attempts) == 2
    assert attempts[-1].occurred_at == datetime(2025, 1, 14, 19, 30, tzinfo=timezone.utc)
    assert attempts[-1].small_step and attempts[-1].out_of_hours


def test_a_coordinator_proposes_closure_and_the_chair_approves_it(page, app):
    lead = factories.create_agency(code="lead-c", name="Keyboard Police")
    factories.create_agency(code="surgery", name="Keyboard Surgery")
    coordinator = factories.create_user(role=Role.COORDINATOR, email="coord@test.invalid", name="Cam Coordinator")
    factories.create_user(role=Role.CHAIR, email="chair@test.invalid", name="Chi Chair")
    case = create_case(lead=lead, given_name="Kim", family_name="Keyboard")
    services.change_risk(case, level=RiskLevel.MEDIUM, reason="Settled", by=coordinator)
    outcome = services.add_outcome(case, words="A warm home", asked=True, expressed=True, by=coordinator)
    services.review_outcome(outcome, case, review=OutcomeReview.ACHIEVED, on=date.today(), by=coordinator)
    ref, case_id = case.reference, case.id
    accepted = date.today() - timedelta(days=2)
    db.session.commit()  # touch no model after this until the browser is done

    _sign_in(page, "coord@test.invalid")
    page.goto(f"/cases/{ref}")
    _follow(page, "Closure")
    _follow(page, "Propose closure")
    tab_until(page, "el => el.name === 'rationale'")
    page.keyboard.type("Risk is medium; the surgery will carry on.")
    tab_until(page, "el => el.name === 'step_down_agency_id'")
    page.keyboard.type("Keyboard Surgery")
    page.keyboard.press("Tab")
    page.keyboard.type("Dr Key, practice manager")
    page.keyboard.press("Tab")
    page.keyboard.type(str(accepted.day))
    page.keyboard.press("Tab")
    page.keyboard.type(str(accepted.month))
    page.keyboard.press("Tab")
    page.keyboard.type(str(accepted.year))
    _submit(page)
    expect(page.get_by_text("Closure has been proposed.")).to_be_visible()
    expect(page.get_by_text("Everything on the checklist is in place.")).to_be_visible()
    assert_accessible(page)

    _sign_in(page, "chair@test.invalid")
    page.goto(f"/cases/{ref}")
    _follow(page, "Closure")
    _follow(page, "Record the panel’s decision")
    tab_until(page, "el => el.name === 'decision'")
    page.keyboard.press("Space")  # approve: the panel date appears
    tab_until(page, "el => el.id === 'panel_date-day'")
    today = date.today()
    page.keyboard.type(str(today.day))
    page.keyboard.press("Tab")
    page.keyboard.type(str(today.month))
    page.keyboard.press("Tab")
    page.keyboard.type(str(today.year))
    assert_accessible(page)
    _submit(page)
    expect(page.get_by_text("The case is closed. Its place in the pathway is free.")).to_be_visible()
    assert_accessible(page)

    db.session.remove()
    closed = db.session.get(Case, case_id)
    assert closed.status == CaseStatus.CLOSED and closed.closure_panel_date == today
    assert closed.step_down_accepted_by == "Dr Key, practice manager" and closed.step_down_accepted_on == accepted
