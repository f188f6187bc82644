"""Issue 6, done when: a coordinator prepares, runs and minutes a panel end to end in the browser
by keyboard alone, and the chair prints the agenda, with axe-core finding nothing on any page.

One journey, keyboard only (Tab, Shift+Tab, Enter, Space, arrow keys and typing; the only
address typed is the sign-in page's):

1. The coordinator opens the next panel from the list, checks the agenda's sections and the
   cases in risk order, moves a case, changes time boxes, adds an item (the over-time warning
   comes and goes), sends the calendar invitations and publishes the agenda (one email per SPoC,
   the date and a link only).
2. The panel starts. The coordinator records attendance (one agency present, acknowledging the
   confidentiality statement; another's apologies with a written update), minutes a case (notes
   and a risk decision), accepts the new referral with a lead agency, agrees an action on the new
   case with an owner and due date, and records the last panel's open action as not done.
3. The chair finalises the minutes, opens the print view of the agenda and follows its PDF link.

The panel is created to start twenty minutes after the test begins, on a fixed Wednesday morning: the
agenda can be published only before it starts, and the minutes finalised only after. Between the
two phases the test moves the clock (the live server's too) to the start rather than waiting for
it. Once it has started the coordinator's
visits no longer rebuild the agenda, so a case accepted at the panel does not join it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from panel import pathway
from panel.extensions import db
from panel.models import (
    Action,
    ActionStatus,
    AgencyKind,
    AgendaItem,
    AgendaItemKind,
    Attendance,
    AttendanceStatus,
    Case,
    CaseStatus,
    Meeting,
    OutboxMessage,
    Referral,
    ReferralStatus,
    RiskLevel,
    Role,
    utcnow,
)
from panel.dates import LONDON
from tests import factories
from tests.browser.conftest import assert_accessible, press_and_wait
from tests.browser.keyboard import (
    _banner,
    _focus,
    _follow,
    _press_button,
    _sign_in,
    _text_is,
    _type_into,
    travelling,
)
from tests.cases.helpers import create_case
from tests.meetings import agenda_world

# Far enough ahead that the coordinator's preparation always finishes before the panel starts,
# however busy the machine; then the test moves the clock to the start instead of waiting for it.
START_AFTER = timedelta(minutes=20)  # within the 30-minute idle sign-out, so the jump keeps people signed in
PREPARING = datetime(2027, 6, 16, 9, 0, tzinfo=LONDON)
PANEL_MINUTES = 120

SECTIONS = ["1. Welcome and confidentiality", "2. The last panel", "3. New referrals for decision",
            "4. Updates on open cases", "5. Cases proposed for closure", "6. Escalations and long-running cases",
            "7. Any other business"]


# ---- the data ---------------------------------------------------------------------------------


def _world() -> dict:
    """A pathway of four agencies with current agreements (three with SPoCs), a coordinator and a
    chair, three open cases (low, critical, high: made out of risk order) with actions (one
    overdue), a case proposed for closure, a referral awaiting panel received before the cut-off
    and one received after it, last month's panel (minutes final) with an action still open, and
    the panel, starting START_AFTER from now. Returns plain values only (SQLite write lock)."""
    today = utcnow().astimezone(LONDON).date()
    host = factories.create_agency(code="host", name="Host Council", kind=AgencyKind.LOCAL_AUTHORITY)
    police = factories.create_agency(code="police", name="Police Service", kind=AgencyKind.POLICE)
    housing = factories.create_agency(code="housing", name="Housing Trust", kind=AgencyKind.HOUSING)
    health = factories.create_agency(code="health", name="Health Trust", kind=AgencyKind.MENTAL_HEALTH)
    coordinator = factories.create_user(role=Role.COORDINATOR, agency=host, name="Casey Coordinator",
                                        email="coordinator@test.invalid")
    chair = factories.create_user(role=Role.CHAIR, agency=host, name="Charlie Chair", email="chair@test.invalid")
    police_spoc = factories.create_user(role=Role.SPOC, agency=police, name="Pat Police",
                                        email="spoc.police@test.invalid")
    housing_spoc = factories.create_user(role=Role.SPOC, agency=housing, name="Harper Housing",
                                         email="spoc.housing@test.invalid")
    health_spoc = factories.create_user(role=Role.SPOC, agency=health, name="Hana Health",
                                        email="spoc.health@test.invalid")
    police.spoc, housing.spoc, health.spoc = police_spoc, housing_spoc, health_spoc

    low = create_case(lead=housing, involved=(health,), risk=RiskLevel.LOW, given_name="Lorcan", family_name="Lowther")
    critical = create_case(lead=police, involved=(housing, health), risk=RiskLevel.CRITICAL, given_name="Cressida",
                           family_name="Crane")
    high = create_case(lead=health, involved=(police,), risk=RiskLevel.HIGH, given_name="Hector", family_name="Hale")
    closing = create_case(lead=housing, risk=RiskLevel.MEDIUM, status=CaseStatus.CLOSURE_PROPOSED,
                          given_name="Ottoline", family_name="Vexley")
    # The pathway's case counter is past the cases already accepted (the helper numbers them itself).
    counter = pathway.lock()
    counter.next_case_year = (utcnow() + START_AFTER).astimezone(LONDON).year
    counter.next_case_number = 1 + max(int(c.reference.rsplit("-", 1)[1]) for c in (low, critical, high, closing))
    db.session.add_all([
        Action(case_id=critical.id, description="Safety plan review with the police", agency_id=police.id,
               due_on=today - timedelta(days=4), status=ActionStatus.OPEN),
        Action(case_id=critical.id, description="Emergency housing assessment", agency_id=housing.id,
               due_on=today + timedelta(days=9), status=ActionStatus.OPEN),
        Action(case_id=high.id, description="Community mental health team assessment", agency_id=health.id,
               due_on=today + timedelta(days=12), status=ActionStatus.OPEN),
        Action(case_id=low.id, description="Tenancy support visit", agency_id=housing.id,
               due_on=today + timedelta(days=20), status=ActionStatus.OPEN),
    ])
    before_cutoff = agenda_world.awaiting_referral(police, submitted_at=utcnow() - timedelta(days=5),
                                                   given_name="Rowena", family_name="Thistlewood")
    after_cutoff = agenda_world.awaiting_referral(health, submitted_at=utcnow(), given_name="Aldous",
                                                  family_name="Latecomer")

    starts = (utcnow() + START_AFTER).replace(microsecond=0)
    meeting = agenda_world.panel_meeting(starts, minutes=PANEL_MINUTES)
    meeting.cutoff_on = today - timedelta(days=1)  # the late referral came in today, after it
    previous = agenda_world.panel_meeting(starts - timedelta(days=28), minutes=PANEL_MINUTES)
    previous.minutes_finalised_at = previous.ends_at + timedelta(days=1)
    previous.minutes_finalised_by_id = chair.id
    last_action = Action(case_id=high.id, meeting_id=previous.id, description="Police welfare check",
                         agency_id=police.id, due_on=today + timedelta(days=2), status=ActionStatus.OPEN,
                         created_by_id=coordinator.id)
    db.session.add(last_action)
    db.session.flush()
    ids = {
        "meeting": meeting.id, "starts": starts, "previous": previous.id, "last_action": last_action.id,
        "low": low.reference, "critical": critical.reference, "high": high.reference, "closing": closing.reference,
        "critical_id": critical.id, "referral": before_cutoff.reference, "referral_id": before_cutoff.id,
        "late_referral": after_cutoff.reference, "police": police.id, "housing": housing.id,
        "housing_spoc": housing_spoc.id, "spocs": sorted(u.email for u in (police_spoc, housing_spoc, health_spoc)),
        "names": ["Lorcan", "Lowther", "Cressida", "Crane", "Hector", "Hale", "Ottoline", "Vexley", "Rowena",
                  "Thistlewood", "Safety plan", "welfare check"],
    }
    db.session.commit()  # and touch no model until the browser is done (SQLite write lock)
    return ids


def _read(statement):
    """Read the database between the server's requests, and let go of the SQLite lock after."""
    db.session.remove()
    try:
        return list(db.session.execute(statement))
    finally:
        db.session.remove()


def _agenda_case_order(page) -> list[str]:
    """The case headings of the open cases' section, top to bottom, as shown."""
    return page.evaluate("""(() => {
        const heading = [...document.querySelectorAll('main h3')]
            .find(h => h.textContent.includes('Updates on open cases'));
        return [...heading.nextElementSibling.querySelectorAll('h4')].map(h => h.textContent.trim());
    })()""")


def _time_total(page, total: int) -> None:
    """The agenda says the time boxes fit, and there is no over-time warning."""
    expect(page.locator("#time-total")).to_have_text(f"The time boxes add up to {total} of the panel’s "
                                                     f"{PANEL_MINUTES} minutes.")
    expect(page.locator("main .govuk-warning-text", has_text="The time boxes add up to")).to_have_count(0)


@pytest.fixture
def clock():
    """clock(instant) moves the clock to instant and lets it tick from there (keyboard.travelling).
    The test starts on a fixed Wednesday morning, whatever the day it runs, and jumps to the
    panel's start instead of waiting for it."""
    with travelling(PREPARING) as move_to:
        yield move_to


# ---- the journey ---------------------------------------------------------------------------------


def test_a_coordinator_prepares_runs_and_minutes_a_panel_and_the_chair_prints_it(page, app, clock):
    w = _world()
    meeting, case_heads = w["meeting"], [f"Case {w[k]}" for k in ("critical", "high", "low")]
    due = utcnow().astimezone(LONDON).date() + timedelta(days=21)

    # ---- 1. preparing ------------------------------------------------------------------------
    _sign_in(page, "coordinator@test.invalid")
    _follow(page, "Meetings")
    expect(page.get_by_role("heading", level=1)).to_have_text("Panels")
    expect(page.locator("#upcoming")).to_contain_text("Not published")
    expect(page.locator("#past")).to_contain_text("Minutes final")
    _focus(page, f"el => el.tagName === 'A' && el.getAttribute('href') === '/meetings/{meeting}'")
    press_and_wait(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Panel on")
    assert_accessible(page)
    # Opening the page changes nothing (the scheduler's agenda-sync job keeps agendas current); the
    # referrals and cases made a moment ago are brought onto the agenda with the button.
    _press_button(page, "Bring the agenda up to date")
    expect(_banner(page)).to_contain_text("The agenda is up to date.")

    # The agenda as built from the data: every section in order, the open cases highest risk first,
    # the referral received before the cut-off and not the one after, the last panel's open action.
    main = page.locator("main")
    expect(main.locator("h3")).to_have_text(SECTIONS)
    assert _agenda_case_order(page) == case_heads
    text = main.inner_text()
    order = [text.index(s) for s in (SECTIONS[0], SECTIONS[1], "Police welfare check", SECTIONS[2],
                                     f"Referral {w['referral']}", SECTIONS[3], *case_heads, SECTIONS[4],
                                     f"Case {w['closing']}: proposed for closure", SECTIONS[5], SECTIONS[6])]
    assert order == sorted(order), "the agenda's text is out of order"
    assert w["late_referral"] not in text
    critical_item = page.locator("li", has=page.locator("h4", has_text=f"Case {w['critical']}"))
    expect(critical_item).to_contain_text("2 open actions, 1 overdue")
    expect(critical_item.locator("strong.govuk-tag", has_text="Overdue")).to_have_count(1)
    _time_total(page, 100)  # 5 + 10 + 15 (referral) + 3 × 15 + 10 (closure) + 10 + 5

    # Move the low-risk case above the high-risk one (its "Move up" button, then Enter).
    _focus(page, f"el => el.tagName === 'BUTTON' && {_text_is('Move up: Case ' + w['low'])}")
    press_and_wait(page)
    expect(_banner(page)).to_contain_text(f"Case {w['low']} moved up.")
    assert_accessible(page)
    assert _agenda_case_order(page) == [case_heads[0], case_heads[2], case_heads[1]]

    # A longer time box for the critical case: still within the panel's two hours.
    _follow(page, f"Change time box: Case {w['critical']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Change the time box for Case {w['critical']}")
    _type_into(page, "minutes", "25", clear=True)
    _press_button(page, "Save the time box")
    expect(_banner(page)).to_contain_text(f"The time box for Case {w['critical']} is now 25 minutes.")
    _time_total(page, 110)

    # An item of the coordinator's own: now over time, and the page says so.
    _follow(page, "Add an item")
    expect(page.get_by_role("heading", level=1)).to_have_text("Add an item to the agenda")
    _type_into(page, "title", "Training: the new escalation ladder")
    _type_into(page, "minutes", "15", clear=True)
    _press_button(page, "Add the item")
    expect(_banner(page)).to_contain_text("‘Training: the new escalation ladder’ added to the agenda, before any "
                                          "other business.")
    warning = main.locator(".govuk-warning-text", has_text="The time boxes add up to")
    expect(warning).to_contain_text("The time boxes add up to 125 minutes, 5 minutes more than the panel’s "
                                    "120 minutes.")
    expect(page.locator("#time-total")).to_have_count(0)
    last_section = page.locator("h3", has_text=SECTIONS[6]).locator("xpath=following-sibling::ol[1]")
    expect(last_section.locator("h4")).to_have_text(["Training: the new escalation ladder", "Any other business"])

    # Five minutes off the low-risk case brings it back within the panel.
    _follow(page, f"Change time box: Case {w['low']}")
    _type_into(page, "minutes", "10", clear=True)
    _press_button(page, "Save the time box")
    expect(_banner(page)).to_contain_text(f"The time box for Case {w['low']} is now 10 minutes.")
    _time_total(page, 120)

    # Calendar invitations to the chair, the three SPoCs and the coordinator.
    _press_button(page, "Send calendar invitations")
    expect(_banner(page)).to_contain_text("Calendar invitations sent to 5 people.")
    expect(page.locator("#attendees tbody tr")).to_have_count(5)

    # Publishing: each SPoC is emailed the date and a link, nothing about any case or person.
    _press_button(page, "Publish the agenda")
    expect(_banner(page)).to_contain_text("The agenda has been published: 3 SPoCs emailed a link.")
    expect(main).to_contain_text("The agenda was published on")
    emails = _read(sa.select(OutboxMessage.to_addr, OutboxMessage.subject, OutboxMessage.body_text,
                             OutboxMessage.calendar).where(OutboxMessage.subject.startswith("Panel agenda for")))
    assert sorted(e.to_addr for e in emails) == w["spocs"]
    for email in emails:
        assert email.calendar is None
        assert re.findall(r"https?://\S+", email.body_text) == [f"{app.config['PUBLIC_URL']}/meetings/{meeting}"]
        for secret in (w["low"], w["critical"], w["high"], w["closing"], w["referral"], *w["names"]):
            assert secret not in email.body_text and secret not in email.subject
    invited = _read(sa.select(OutboxMessage.to_addr).where(OutboxMessage.calendar_method == "REQUEST"))
    assert sorted(r.to_addr for r in invited) == sorted(
        [*w["spocs"], "chair@test.invalid", "coordinator@test.invalid"])

    # ---- 2. the panel -------------------------------------------------------------------------
    clock(w["starts"] + timedelta(seconds=1))

    # Attendance, every agency on one page and one post: the police came and acknowledged the
    # confidentiality statement; housing sent apologies with a written update.
    _follow(page, "Attendance")
    expect(page.get_by_role("heading", level=1)).to_have_text("Attendance")
    police, housing = w["police"], w["housing"]
    _focus(page, f"el => el.type === 'radio' && el.name === 'status-{housing}'")
    page.keyboard.press("ArrowDown")  # present -> apologies with a written update
    expect(page.locator(f"#status-{housing}-2")).to_be_checked()
    _type_into(page, f"written_update-{housing}", "The tenancy is secure; no arrears this month.")
    _focus(page, f"el => el.type === 'radio' && el.name === 'status-{police}'")
    page.keyboard.press("Space")  # the first: present
    expect(page.locator(f"#status-{police}")).to_be_checked()
    _type_into(page, f"attendee_name-{police}", "Pat Police, detective sergeant")
    _focus(page, f"el => el.name === 'confidentiality_acknowledged-{police}'")
    page.keyboard.press("Space")
    expect(page.locator(f"#confidentiality_acknowledged-{police}")).to_be_checked()
    _press_button(page, "Save attendance")
    expect(_banner(page)).to_contain_text("Attendance saved.")
    expect(page.locator(f"#status-{police}")).to_be_checked()
    expect(page.locator(f"#attendee_name-{police}")).to_have_value("Pat Police, detective sergeant")
    expect(page.locator(f"#confidentiality_acknowledged-{police}")).to_be_checked()
    expect(page.locator(f"#status-{housing}-2")).to_be_checked()
    expect(main).to_contain_text("The tenancy is secure; no arrears this month.")

    # The critical case's minutes: notes, then the risk decision.
    _follow(page, "Back to the panel", backwards=True)
    _follow(page, "Minutes (draft)")
    expect(page.get_by_role("heading", level=1)).to_have_text("Minutes")
    _focus(page, "el => el.tagName === 'A' && el.textContent.replace(/\\s+/g, ' ').trim().startsWith('Record minutes "
                 f"for item ') && el.textContent.trim().endsWith(', Case {w['critical']}')")
    press_and_wait(page)
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {w['critical']}")
    _type_into(page, "notes", "Police and housing visited together. She has moved to a refuge.")
    _press_button(page, "Save notes")
    expect(_banner(page)).to_contain_text("The notes have been saved.")
    _focus(page, "el => el.type === 'radio' && el.name === 'level'")
    page.keyboard.press("ArrowDown")  # critical -> high
    expect(page.get_by_label("High", exact=True)).to_be_checked()
    _type_into(page, "reason", "Safe at the refuge; the perpetrator is on remand")
    _press_button(page, "Change risk level")
    expect(_banner(page)).to_contain_text("The risk level has been changed to high.")
    expect(main).to_contain_text("Risk level changed from Critical to High: Safe at the refuge; the perpetrator is "
                                 "on remand")

    # The new referral: accepted, with the housing trust as lead agency.
    _follow(page, "Back to the minutes")
    _focus(page, f"el => el.tagName === 'A' && el.textContent.replace(/\\s+/g, ' ').trim().endsWith("
                 f"', New referral {w['referral']}')", backwards=True)
    press_and_wait(page)
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"New referral {w['referral']}")
    _focus(page, "el => el.type === 'radio' && el.name === 'decision'")
    page.keyboard.press("Space")  # the first: accept into the pathway
    expect(page.get_by_label("Accept into the pathway")).to_be_checked()
    _focus(page, "el => el.name === 'lead_agency_id'")
    page.keyboard.type("Housing")
    expect(page.get_by_label("Lead agency")).to_have_value(str(w["housing"]))
    _press_button(page, "Record the decision")
    expect(_banner(page)).to_contain_text(f"Referral {w['referral']} accepted with Housing Trust as lead agency. "
                                          "The case reference is ")
    new_case = re.search(r"The case reference is (\S+)\.", _banner(page).inner_text()).group(1)
    expect(main).to_contain_text(f"Accepted; lead agency Housing Trust; case {new_case}")

    # An action agreed for the new case: the housing trust's SPoC, due in three weeks.
    _follow(page, "Add an action")
    _type_into(page, "description", "Find a supported tenancy")
    _focus(page, "el => el.name === 'agency_id'")
    page.keyboard.type("Housing")
    _focus(page, "el => el.name === 'assignee_id'")
    page.keyboard.type("Harper")
    expect(page.get_by_label("Named person (optional)")).to_have_value(str(w["housing_spoc"]))
    _focus(page, "el => el.id === 'due_on-day'")
    page.keyboard.type(str(due.day))
    page.keyboard.press("Tab")
    page.keyboard.type(str(due.month))
    page.keyboard.press("Tab")
    page.keyboard.type(str(due.year))
    _press_button(page, "Add action")
    expect(_banner(page)).to_contain_text("added for Housing Trust.")
    agreed = page.locator("#actions + .panel-table-container table tbody tr")
    expect(agreed).to_have_count(1)
    expect(agreed).to_contain_text("Find a supported tenancy")
    expect(agreed).to_contain_text("Housing Trust (Harper Housing)")

    # Last month's action still open: not done by the agency.
    _follow(page, "Back to the minutes")
    _follow(page, "Record what happened to the last panel’s actions", backwards=True)
    _focus(page, f"el => el.type === 'radio' && el.name === 'outcome_{w['last_action']}'")
    for _ in range(3):
        page.keyboard.press("ArrowDown")  # still open -> done -> not possible -> not done
    expect(page.locator(f"input[name=outcome_{w['last_action']}][value=not_done]")).to_be_checked()
    _type_into(page, f"note_{w['last_action']}", "No officer was free; asked again for this month.")
    _press_button(page, "Save outcomes")
    expect(_banner(page)).to_contain_text("Outcome recorded for 1 action from the last panel.")
    expect(main.locator("table")).to_contain_text("Not done by the agency")

    # ---- 3. the chair finalises and prints ----------------------------------------------------
    page.context.clear_cookies()
    _sign_in(page, "chair@test.invalid")
    _follow(page, "Meetings")
    _focus(page, f"el => el.tagName === 'A' && el.getAttribute('href') === '/meetings/{meeting}'")
    press_and_wait(page)
    assert_accessible(page)
    _follow(page, "Finalise the minutes")
    expect(main.locator("ul.govuk-list--bullet")).to_contain_text("0 of the last panel’s actions are still open")
    _press_button(page, "Finalise the minutes")
    expect(_banner(page)).to_contain_text("The minutes have been finalised.")
    expect(main).to_contain_text("Finalised by Charlie Chair")
    expect(main).to_contain_text("Police and housing visited together. She has moved to a refuge.")
    expect(main).to_contain_text("Find a supported tenancy")

    _follow(page, "Back to the panel", backwards=True)
    expect(main).to_contain_text("Scheduled; minutes final")
    _follow(page, "Print the agenda and case pack")
    expect(page.get_by_role("heading", level=1)).to_have_text("Monthly panel: agenda and case pack")
    contents = page.locator(".contents").inner_text()  # the pack's contents list
    assert [contents.index(w[k]) for k in ("critical", "low", "high")] == sorted(
        contents.index(w[k]) for k in ("critical", "low", "high")), "the pack's cases are not in the agenda's order"
    _focus(page, f"el => el.tagName === 'A' && {_text_is('Download this pack as a PDF')}")
    pdf_url = page.evaluate("document.activeElement.href")
    with page.expect_response(lambda r: r.url == pdf_url) as answered:
        page.keyboard.press("Enter")
    response = answered.value
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    fetched = page.request.get(pdf_url)  # with the chair's cookies
    assert fetched.status == 200 and fetched.headers["content-type"] == "application/pdf"
    assert fetched.body().startswith(b"%PDF-")

    # ---- what was recorded ----------------------------------------------------------------------
    db.session.remove()
    attendance = {row.agency_id: row for row in db.session.scalars(
        sa.select(Attendance).where(Attendance.meeting_id == meeting))}
    police_row, housing_row = attendance[w["police"]], attendance[w["housing"]]
    assert (police_row.status, police_row.attendee_name, police_row.confidentiality_acknowledged) == (
        AttendanceStatus.PRESENT, "Pat Police, detective sergeant", True)
    assert (housing_row.status, housing_row.written_update, housing_row.confidentiality_acknowledged) == (
        AttendanceStatus.APOLOGIES_WITH_UPDATE, "The tenancy is secure; no arrears this month.", False)
    assert sorted((row.status or "") for row in attendance.values()) == [
        "", AttendanceStatus.APOLOGIES_WITH_UPDATE, AttendanceStatus.PRESENT]  # the health trust: not recorded

    items = {(i.kind, i.case_id or i.referral_id): i for i in db.session.scalars(
        sa.select(AgendaItem).where(AgendaItem.meeting_id == meeting))}
    critical_item = items[(AgendaItemKind.CASE, w["critical_id"])]
    assert critical_item.notes == "Police and housing visited together. She has moved to a refuge."
    assert critical_item.decision == ("Risk level changed from Critical to High: Safe at the refuge; the perpetrator "
                                      "is on remand")
    assert critical_item.minutes == 25
    assert db.session.get(Case, w["critical_id"]).risk_level == RiskLevel.HIGH
    referral_item = items[(AgendaItemKind.REFERRAL, w["referral_id"])]
    assert referral_item.decision == f"Accepted; lead agency Housing Trust; case {new_case}"
    case = db.session.scalar(sa.select(Case).where(Case.reference == new_case))
    assert (case.referral_id, case.lead_agency_id, case.status) == (w["referral_id"], w["housing"], CaseStatus.ACTIVE)
    assert db.session.get(Referral, w["referral_id"]).status == ReferralStatus.ACCEPTED
    assert (AgendaItemKind.CASE, case.id) not in items  # accepted at the panel, after it started
    own = [i for i in items.values() if i.kind == AgendaItemKind.OTHER]
    assert [(i.title, i.minutes) for i in own] == [("Training: the new escalation ladder", 15)]
    assert sum(i.minutes for i in items.values()) == PANEL_MINUTES

    agreed_here = db.session.scalars(sa.select(Action).where(Action.meeting_id == meeting)).all()
    assert [(a.case_id, a.description, a.agency_id, a.assignee_id, a.due_on, a.status) for a in agreed_here] == [
        (case.id, "Find a supported tenancy", w["housing"], w["housing_spoc"], due, ActionStatus.OPEN)]
    last = db.session.get(Action, w["last_action"])
    assert (last.meeting_id, last.status) == (w["previous"], ActionStatus.NOT_DONE)
    assert last.updates[-1].note == "No officer was free; asked again for this month."

    panel = db.session.get(Meeting, meeting)
    assert panel.minutes_finalised_at is not None and panel.minutes_finalised_by.email == "chair@test.invalid"
    assert panel.agenda_published_at is not None and panel.agenda_published_at < panel.starts_at
    finalised = db.session.scalars(sa.select(OutboxMessage.to_addr).where(
        OutboxMessage.subject.startswith("Panel minutes finalised"))).all()
    # every attendee with an account is told (issue 17): the SPoCs, the coordinator and the invited chair
    assert sorted(finalised) == sorted([*w["spocs"], "chair@test.invalid", "coordinator@test.invalid"])
