"""A coordinator places a legal hold by keyboard alone: opens the records due for anonymisation
from their home page, follows "Place a legal hold" for the adult whose records are due, chooses
"another legal reason" and gets an error for leaving the details out, then gives them and places
the hold; the list shows the hold. axe-core checks every page on the way."""

from __future__ import annotations

import sqlalchemy as sa
from playwright.sync_api import expect

from panel.extensions import db
from panel.models import LegalHold, LegalHoldKind
from panel.reports import retention
from tests.browser.conftest import assert_accessible, follow_link, keyboard_fill, press_and_wait, sign_in, tab_until
from tests.reports import retention_world


def test_a_coordinator_places_a_legal_hold_by_keyboard(page, app):
    world = retention_world.build()
    person_id, references = world.old.person_id, ", ".join(retention.adult(world.old.person_id).references)
    email = world.coordinator.email
    db.session.commit()  # and touch no model until the browser is done (SQLite write lock)

    sign_in(page, email)
    follow_link(page, "Records due for anonymisation")  # from the coordinator's home page
    expect(page.get_by_role("heading", level=1)).to_have_text("Records due for anonymisation")
    expect(page.locator(f"#person-{person_id}")).to_contain_text("Place a legal hold")
    assert_accessible(page)

    follow_link(page, f"Place a legal hold on {references}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Place a legal hold")

    tab_until(page, "el => el.name === 'kind'")  # a radio group is one Tab stop; arrows choose
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    tab_until(page, "el => el.type === 'submit' && el.closest('main')")
    press_and_wait(page)
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the legal reason for the hold")
    assert page.title().startswith("Error: ")
    expect(page.get_by_label("Another legal reason")).to_be_checked()
    assert_accessible(page)

    keyboard_fill(page, "Details (optional for a review or a court case)", "Preserved for an inquest (coroner’s ref 27/11)")
    tab_until(page, "el => el.type === 'submit' && el.closest('main')")
    press_and_wait(page)

    expect(page.get_by_role("heading", level=1)).to_have_text("Records due for anonymisation")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("are now under a legal hold")
    expect(page.locator(f"#person-{person_id}")).to_contain_text("Legal hold")
    expect(page.locator("#held")).to_contain_text("Another legal reason")
    assert_accessible(page)

    db.session.remove()
    hold = db.session.scalars(sa.select(LegalHold).where(LegalHold.person_id == person_id)
                              .order_by(LegalHold.id.desc())).first()
    assert hold.kind == LegalHoldKind.OTHER and hold.lifted_at is None
    assert hold.details == "Preserved for an inquest (coroner’s ref 27/11)"
