"""Attendance and minutes by keyboard alone, with axe-core on every page visited: the coordinator
records one agency's attendance, writes notes on a case item, records a risk decision (after a
validation error), adds an action agreed at panel, and records what happened to the last
panel's action; the chair finalises the minutes, which are then read-only; a SPoC reads them."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from panel.extensions import db
from panel.models import (
    Action,
    ActionStatus,
    AgendaItem,
    AgendaItemKind,
    Attendance,
    AttendanceStatus,
    Case,
    Meeting,
    OutboxMessage,
    RiskLevel,
)
from tests.browser.conftest import assert_accessible, follow_link as _follow, sign_in, \
    submit_button as _submit, tab_until
from tests.meetings import minutes_world


def test_a_coordinator_minutes_a_panel_and_the_chair_finalises_it_by_keyboard(page, app):
    world = minutes_world.build()
    meeting_id, police_id, case_id = world.meeting.id, world.police.id, world.case.id
    case_reference, last_action_id = world.case.reference, world.last_action.id
    case_item_id = world.item(AgendaItemKind.CASE).id
    position = next(i for i, item in enumerate(world.meeting.items, start=1) if item.id == case_item_id)
    due = world.today + timedelta(days=14)
    db.session.commit()  # and touch no model until the browser is done (SQLite write lock)

    sign_in(page, "coordinator@test.invalid")
    page.goto(f"/meetings/{meeting_id}")
    assert_accessible(page)

    # Attendance, every agency on one page: Police attended, acknowledging the confidentiality
    # statement; first sent without who attended (an error on Police's row), then corrected.
    _follow(page, "Attendance")
    tab_until(page, f"el => el.type === 'radio' && el.name === 'status-{police_id}'", limit=200)
    page.keyboard.press("Space")  # the first: present
    expect(page.locator(f"#status-{police_id}")).to_be_checked()
    tab_until(page, f"el => el.name === 'confidentiality_acknowledged-{police_id}'")
    page.keyboard.press("Space")
    _submit(page, "save_attendance")
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter who attended, or who deputised for the SPoC")
    expect(page.locator(f"#status-{police_id}")).to_be_checked()  # kept
    expect(page.locator(f"#confidentiality_acknowledged-{police_id}")).to_be_checked()
    assert_accessible(page)
    page.locator(".govuk-error-summary a").first.focus()
    page.keyboard.press("Enter")  # to the field with the error
    expect(page.locator(f"#attendee_name-{police_id}")).to_be_focused()
    page.keyboard.type("Pat Police, detective sergeant")
    _submit(page, "save_attendance")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Attendance saved.")
    expect(page.locator(f"#attendee_name-{police_id}")).to_have_value("Pat Police, detective sergeant")
    expect(page.locator(f"#confidentiality_acknowledged-{police_id}")).to_be_checked()
    assert_accessible(page)

    # The minutes, and the case's item: notes first.
    _follow(page, "Back to the panel")
    _follow(page, "Minutes (draft)")
    _follow(page, f"Record minutes for item {position}, Case {case_reference}")
    tab_until(page, "el => el.name === 'notes'")
    page.keyboard.type("Housing visited twice. The person is settling into the flat.")
    _submit(page, "save_notes")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("The notes have been saved.")
    assert_accessible(page)

    # A risk decision: without a reason it is refused, then recorded.
    tab_until(page, "el => el.type === 'radio' && el.name === 'level'")
    page.keyboard.press("ArrowDown")  # high -> medium
    expect(page.get_by_label("Medium")).to_be_checked()
    _submit(page, "change_level")
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the reason for changing the risk level")
    assert_accessible(page)
    page.get_by_label("Reason for the change").focus()
    page.keyboard.type("Now has a safe place to stay")
    _submit(page, "change_level")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("The risk level has been changed to medium.")
    expect(page.locator("main")).to_contain_text("Risk level changed from High to Medium: Now has a safe place to stay")
    assert_accessible(page)

    # An action agreed at panel.
    _follow(page, "Add an action")
    tab_until(page, "el => el.name === 'description'")
    page.keyboard.type("Joint visit with the tenancy officer")
    tab_until(page, "el => el.name === 'agency_id'")
    page.keyboard.type("Housing")
    tab_until(page, "el => el.id === 'due_on-day'")
    page.keyboard.type(str(due.day))
    page.keyboard.press("Tab")
    page.keyboard.type(str(due.month))
    page.keyboard.press("Tab")
    page.keyboard.type(str(due.year))
    _submit(page)
    expect(page.locator(".govuk-notification-banner")).to_contain_text("added for Housing.")
    expect(page.locator("#actions + .panel-table-container table")).to_contain_text("Joint visit with the tenancy officer")
    assert_accessible(page)

    # What became of the last panel's action.
    _follow(page, "Back to the minutes")
    _follow(page, "Record what happened to the last panel’s actions")
    tab_until(page, f"el => el.type === 'radio' && el.name === 'outcome_{last_action_id}'")
    page.keyboard.press("ArrowDown")  # still open (as it was) -> done
    expect(page.locator(f"input[name=outcome_{last_action_id}][value=done]")).to_be_checked()
    tab_until(page, f"el => el.name === 'note_{last_action_id}'")
    page.keyboard.type("The visit took place on Tuesday.")
    _submit(page)
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Outcome recorded for 1 action")
    expect(page.locator("main")).to_contain_text("Already recorded")
    assert_accessible(page)

    # The chair finalises.
    page.context.clear_cookies()
    sign_in(page, "chair@test.invalid")
    page.goto(f"/meetings/{meeting_id}/minutes")
    assert_accessible(page)
    expect(page.locator("main")).to_contain_text("Housing visited twice.")
    _follow(page, "Finalise the minutes")
    _submit(page)
    expect(page.locator(".govuk-notification-banner")).to_contain_text("The minutes have been finalised.")
    expect(page.locator("main")).to_contain_text("Finalised by Charlie Chair")
    expect(page.locator("main")).to_contain_text("Joint visit with the tenancy officer")
    expect(page.get_by_role("link", name="Finalise the minutes")).to_have_count(0)
    assert_accessible(page)
    _follow(page, "Record an amendment")
    page.goto(f"/meetings/{meeting_id}/minutes")

    # A SPoC of an involved agency reads them from the emailed link.
    page.context.clear_cookies()
    sign_in(page, "housing.spoc@test.invalid")
    page.goto(f"/meetings/{meeting_id}/minutes")
    expect(page.locator("main")).to_contain_text("Housing visited twice.")
    assert_accessible(page)

    db.session.remove()
    row = db.session.scalar(sa.select(Attendance).where(Attendance.meeting_id == meeting_id,
                                                        Attendance.agency_id == police_id))
    assert (row.status, row.attendee_name, row.confidentiality_acknowledged) == (
        AttendanceStatus.PRESENT, "Pat Police, detective sergeant", True)
    item = db.session.get(AgendaItem, case_item_id)
    assert item.notes == "Housing visited twice. The person is settling into the flat."
    assert db.session.get(Case, case_id).risk_level == RiskLevel.MEDIUM
    agreed = db.session.scalars(sa.select(Action).where(Action.meeting_id == meeting_id)).one()
    assert (agreed.case_id, agreed.due_on, agreed.description) == (case_id, due, "Joint visit with the tenancy officer")
    assert db.session.get(Action, last_action_id).status == ActionStatus.DONE
    assert db.session.get(Meeting, meeting_id).finalised
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.subject.startswith("Panel minutes finalised"))) == 3


def test_the_other_minutes_pages_are_accessible(page, app):
    """The attendance history, a referral and a closure item, apologies, and amending."""
    world = minutes_world.build(starts_in=timedelta(days=3))
    meeting_id = world.meeting.id
    referral_item = world.item(AgendaItemKind.REFERRAL).id
    closure_item = world.item(AgendaItemKind.CLOSURE).id
    db.session.commit()

    sign_in(page, "police.spoc@test.invalid")
    page.goto(f"/meetings/{meeting_id}/attendance")
    assert_accessible(page)
    _follow(page, "send your agency’s apologies")
    tab_until(page, "el => el.type === 'radio' && el.name === 'status'")
    page.keyboard.press("Space")  # with a written update
    _submit(page)
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the written update")
    assert_accessible(page)
    page.get_by_label("Written update", exact=True).focus()
    page.keyboard.type("The warrant was executed; no further police contact.")
    _submit(page)
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Apologies sent for Police.")
    assert_accessible(page)

    page.context.clear_cookies()
    sign_in(page, "chair@test.invalid")
    for url in (f"/meetings/{meeting_id}/minutes/items/{referral_item}",
                f"/meetings/{meeting_id}/minutes/items/{closure_item}",
                f"/meetings/{meeting_id}/minutes/finalise", f"/meetings/{meeting_id}/minutes/amend",
                "/meetings/attendance-history", f"/meetings/{meeting_id}/attendance"):
        page.goto(url)
        assert_accessible(page)
    page.goto(f"/meetings/{meeting_id}/minutes/items/{closure_item}")
    _submit(page, "save_closure")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select whether the panel approved the closure")
    assert_accessible(page)
