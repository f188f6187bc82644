"""The action log by keyboard alone, with axe-core on every page: a SPoC opens their agency's
actions and marks one done with a note (after a validation error); the coordinator filters the
log to overdue actions and escalates one to the chair, who acknowledges it from the action's
page; the coordinator adds an action to a case from its Actions section."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from panel.extensions import db
from panel.models import Action, ActionStatus, ActionUpdate, Escalation, LadderStep
from tests.actions import pages_world
from tests.browser.conftest import assert_accessible, follow_link as _follow, press_and_wait, sign_in, \
    submit_button as _submit, tab_until


def test_a_spoc_marks_an_action_done_by_keyboard(page, app):
    world = pages_world.build()
    action_id = world.action.id
    db.session.commit()  # touch no model until the browser is done (SQLite write lock)

    sign_in(page, "spoc.a@test.invalid")
    assert_accessible(page)
    _follow(page, "Our actions")
    expect(page.get_by_role("heading", level=1)).to_have_text("Our actions")
    expect(page.locator(f"#action-{action_id}")).to_contain_text("Arrange a joint visit with the housing officer")
    _follow(page, f"Action {action_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Action {action_id}")
    _follow(page, "Update this action")

    # Nothing written and nothing changed: an error, focused, on the note.
    _submit(page)
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Write an update, or change the status or the due date")
    assert_accessible(page)

    tab_until(page, "el => el.name === 'note'")
    page.keyboard.type("Joint visit done on Tuesday; housing officer attended.")
    tab_until(page, "el => el.type === 'radio' && el.name === 'status'")
    expect(page.locator("input[name=status]:focus")).to_have_value("open")  # the checked one takes focus
    page.keyboard.press("ArrowDown")  # Open -> Done
    expect(page.get_by_label("Done", exact=True)).to_be_checked()
    _submit(page)
    expect(page.get_by_text(f"Action {action_id} has been updated. It is now done.")).to_be_visible()
    expect(page.locator(".panel-action-history")).to_contain_text("Joint visit done on Tuesday")
    expect(page.get_by_role("link", name="Update this action")).to_have_count(0)
    assert_accessible(page)

    db.session.remove()
    update = db.session.execute(sa.select(ActionUpdate)).scalar_one()
    assert (update.note, update.new_status) == ("Joint visit done on Tuesday; housing officer attended.",
                                                ActionStatus.DONE)
    assert db.session.get(Action, action_id).status == ActionStatus.DONE


def test_the_coordinator_filters_the_log_and_escalates_and_the_chair_acknowledges(page, app):
    world = pages_world.build()
    (overdue,) = pages_world.add_actions(world, 1, overdue=True, agency=world.agencies["b"])
    action_id, overdue_id = world.action.id, overdue.id
    db.session.commit()

    sign_in(page, "coordinator@test.invalid")
    _follow(page, "Action log")
    expect(page.locator("table.panel-actions-table tbody tr")).to_have_count(2)

    tab_until(page, "el => el.id === 'overdue'")
    page.keyboard.press("Space")
    tab_until(page, "el => el.tagName === 'BUTTON' && el.textContent.trim() === 'Apply filters'")
    press_and_wait(page)
    expect(page.locator("table.panel-actions-table tbody tr")).to_have_count(1)
    expect(page.locator(f"#action-{overdue_id}")).to_contain_text("Overdue")
    expect(page.locator("#overdue")).to_be_checked()
    assert_accessible(page)

    _follow(page, f"Action {overdue_id}")
    _follow(page, "Escalate this action")
    expect(page.locator(".govuk-summary-list")).to_contain_text("Charlie Chair")
    _submit(page)  # nothing chosen: errors
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    assert_accessible(page)
    tab_until(page, "el => el.type === 'radio' && el.name === 'to'")
    page.keyboard.press("ArrowDown")  # the agency's contact -> the panel chair
    expect(page.get_by_label("The panel chair")).to_be_checked()
    page.keyboard.press("Tab")
    page.keyboard.type("Agency B has not started this in three weeks.")
    _submit(page)
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Emailed a link now: Charlie Chair <chair@test.invalid>")
    expect(page.locator(".panel-action-escalations")).to_contain_text("Escalated by the coordinator to the panel chair")
    assert_accessible(page)

    # The chair follows the email's link to the action and acknowledges.
    page.context.clear_cookies()
    sign_in(page, "chair@test.invalid")
    page.goto(f"/actions/{overdue_id}")
    assert_accessible(page)
    _follow(page, "Acknowledge the escalation of " + _today_words())
    tab_until(page, "el => el.name === 'comment'")
    page.keyboard.type("On the next panel's agenda.")
    _submit(page)
    expect(page.get_by_text(f"You have acknowledged the escalation of action {overdue_id}.")).to_be_visible()
    expect(page.locator(".panel-action-escalations")).to_contain_text("On the next panel's agenda.")
    assert_accessible(page)

    db.session.remove()
    escalation = db.session.execute(sa.select(Escalation)).scalar_one()
    assert (escalation.action_id, escalation.step, escalation.acknowledgement) == (
        overdue_id, LadderStep.MANUAL_CHAIR, "On the next panel's agenda.")
    assert db.session.get(Action, action_id).escalated_to_chair_at is None


def _today_words() -> str:
    today = pages_world.today()
    return f"{today.day} {today:%B %Y}"


def test_the_coordinator_adds_an_action_from_the_case_by_keyboard(page, app):
    world = pages_world.build()
    reference, agency_b = world.case.reference, world.agencies["b"].id
    due = pages_world.today() + timedelta(days=21)
    db.session.commit()

    sign_in(page, "coordinator@test.invalid")
    page.goto(f"/cases/{reference}")
    expect(page.locator("#open-actions")).to_have_text("1 open action")
    tab_until(page, "el => el.tagName === 'A' && el.closest('.panel-case-nav') !== null "
                    "&& el.textContent.trim() === 'Actions'")
    press_and_wait(page)
    expect(page.locator(".panel-case-nav a[aria-current='page']")).to_have_text("Actions")
    assert_accessible(page)
    _follow(page, "Add an action")

    tab_until(page, "el => el.name === 'description'")
    page.keyboard.type("Carry out a care act assessment")
    tab_until(page, "el => el.name === 'agency_id'")
    page.keyboard.type("Agency B")
    tab_until(page, "el => el.id === 'due_on-day'")
    page.keyboard.type("31")
    page.keyboard.press("Tab")
    page.keyboard.type("2")
    page.keyboard.press("Tab")
    page.keyboard.type(str(due.year))
    _submit(page)
    expect(page.locator(".govuk-error-summary")).to_contain_text("Due date must be a real date")
    expect(page.get_by_label("What will the agency do?")).to_have_value("Carry out a care act assessment")
    assert_accessible(page)

    page.get_by_label("Day").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(due.day))
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type(str(due.month))
    _submit(page)
    expect(page.locator(".govuk-notification-banner")).to_contain_text("has been added for Agency B")
    expect(page.locator("table.panel-actions-table tbody tr")).to_have_count(2)
    assert_accessible(page)

    db.session.remove()
    added = db.session.execute(sa.select(Action).where(Action.description == "Carry out a care act assessment")).scalar_one()
    assert (added.agency_id, added.due_on) == (agency_b, due)


def test_the_other_states_of_the_pages_are_accessible(page, app):
    """Pages as others see them: errors, insets, a closed action, an acknowledged escalation,
    the ISA warning, a page of many actions."""
    from panel.actions import services

    world = pages_world.build()
    coordinator = world.user("coordinator")
    pages_world.add_actions(world, 60, overdue=True)
    escalation = services.escalate_by_hand(world.action, to_chair=False, reason="Stuck", by=coordinator)
    services.acknowledge(escalation, by=world.user("contact"), comment="Chasing <b>now</b>")
    done = services.create_action(world.case, description="Done already", agency=world.agencies["a"],
                                  due_on=pages_world.today(), by=coordinator)
    services.update_action(done, by=coordinator, note="Finished", status=ActionStatus.DONE)
    world.agencies["c"].isa_review_due = pages_world.today() - timedelta(days=1)
    ids = {"action": world.action.id, "done": done.id, "escalation": escalation.id, "ref": world.case.reference}
    db.session.commit()

    visits = {
        "coordinator@test.invalid": ["/actions?case=%3Cscript%3E", "/actions?page=2&overdue=y",
                                     "/actions/{done}", "/actions/{done}/update", "/actions/{done}/escalate",
                                     "/actions/escalations/{escalation}/acknowledge"],
        "deputy.a@test.invalid": ["/actions/ours", "/actions/{action}"],
        "pat.a@test.invalid": ["/actions/ours", "/actions/{action}/update"],
        "spoc.c@test.invalid": ["/actions/ours"],
        "esme.a@test.invalid": ["/actions/escalations/{escalation}/acknowledge"],
    }
    for email, paths in visits.items():
        page.context.clear_cookies()
        sign_in(page, email)
        for path in paths:
            response = page.goto(path.format(**ids))
            assert response.status == 200, (email, path)
            assert_accessible(page)
