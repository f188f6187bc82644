"""Issue 17, done when: a coordinator's whole month on the demo data, scripted in the browser by
keyboard alone, takes at most 80 page loads and 30 form posts, with axe-core on every page.

The month: triage four referrals, promote one from the waiting list, prepare the agenda (its
time boxes on one form), publish it with the calendar invitations, print the pack, run the
panel item by item (attendance on the welcome item, the last panel's actions on theirs, notes
on every item, referral and risk decisions, new actions), chase the overdue actions, call an
MDT; then the chair finalises the minutes and records an amendment.

The clock starts at 9:35 on the morning of the demo's next panel (Wednesday 9 June 2027, 10am),
whatever the day the test runs, and jumps to the panel's start rather than waiting for it. The
agenda-sync job the scheduler runs every few minutes is run once, as it would have run, after
triage. Every page shown (a document answered with anything but a redirect) counts as a load,
every form sent as a post; the PDF counts as a load.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from panel.dates import LONDON
from panel.extensions import db
from panel.meetings import minutes as minutes_services
from panel.models import (
    Action,
    ActionStatus,
    AgendaItem,
    AgendaItemKind,
    Attendance,
    AttendanceStatus,
    Case,
    CaseStatus,
    Meeting,
    MeetingKind,
    MinutesAmendment,
    OutboxMessage,
    Referral,
    ReferralStatus,
    utcnow,
)
from tests.browser.conftest import assert_accessible, press_and_wait
from tests.browser.keyboard import _banner, _focus, _follow, _press_button, _sign_in, _type_into, travelling
from tests.html.conftest import DEMO_PASSWORD, load_demo

PREPARING = datetime(2027, 6, 9, 9, 35, tzinfo=LONDON)
MAX_LOADS, MAX_POSTS = 80, 30
LONG = 600  # Tab presses allowed to reach a control on the longest pages (the attendance sheet)


class Steps:
    """Counts what a page does: pages shown and forms posted (both pages of the month)."""

    def __init__(self) -> None:
        self.loads: list[str] = []
        self.posts: list[str] = []

    def watch(self, page) -> None:
        def request(req) -> None:
            if req.resource_type == "document" and req.method == "POST":
                self.posts.append(req.url)

        def response(res) -> None:
            req = res.request
            if req.resource_type == "document" and req.frame == page.main_frame and not 300 <= res.status < 400:
                self.loads.append(f"{req.method} {res.status} {req.url}")

        page.on("request", request)
        page.on("response", response)


def _facts() -> dict:
    """The demo's ids and references the script needs, as plain values (SQLite write lock)."""
    try:
        now = utcnow()
        panel = db.session.scalar(sa.select(Meeting).where(Meeting.kind == MeetingKind.PANEL, Meeting.starts_at > now)
                                  .order_by(Meeting.starts_at).limit(1))
        to_triage = list(db.session.scalars(sa.select(Referral).where(
            Referral.status.in_([ReferralStatus.SUBMITTED, ReferralStatus.INFO_REQUESTED])).order_by(Referral.id)))
        waiting = db.session.scalar(sa.select(Referral).where(Referral.status == ReferralStatus.WAITING))
        items = sorted(panel.items, key=lambda i: (i.position, i.id))
        rows = minutes_services.attendance_rows(panel)
        free = [row.agency for row in rows if row.status is None]
        _, last_actions = minutes_services.last_panel_open_actions(panel)
        overdue = list(db.session.scalars(sa.select(Action.id).where(
            Action.status == ActionStatus.OPEN, Action.due_on < now.astimezone(LONDON).date())))
        mdt_case = db.session.scalar(sa.select(Case).where(Case.status == CaseStatus.ACTIVE).order_by(Case.id))
        return {
            "panel": panel.id, "starts": panel.starts_at, "length": panel.length_minutes,
            "to_triage": [(r.id, r.reference, r.status) for r in to_triage], "waiting": waiting.reference,
            "items": [(i.id, i.kind, i.case.reference if i.case else None) for i in items],
            "present": [(a.id, a.name) for a in free[:2]],
            "last_action": last_actions[0].id if last_actions else None,
            "overdue": overdue, "mdt_case": mdt_case.reference, "mdts": _mdts(mdt_case.reference),
        }
    finally:
        db.session.remove()


def _mdts(reference: str) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Meeting).where(
        Meeting.kind == MeetingKind.MDT, Meeting.case.has(Case.reference == reference)))


def _press_link_to(page, href: str) -> None:
    """Tab to the link to this address and follow it (checked with axe-core)."""
    _focus(page, f"el => el.tagName === 'A' && el.getAttribute('href') === {href!r}", limit=LONG)
    press_and_wait(page)
    assert_accessible(page)


def _choose(page, name: str, key: str | None = None) -> None:
    """Tab into a radio group (onto its checked radio, else its first) and choose by arrow or Space."""
    _focus(page, f"el => el.type === 'radio' && el.name === {name!r}", limit=LONG)
    page.keyboard.press(key or "Space")


def _choose_value(page, name: str, value: str) -> None:
    """Tab into a radio group, then arrow down to the radio with this value (arrows check it)."""
    _focus(page, f"el => el.type === 'radio' && el.name === {name!r}", limit=LONG)
    page.keyboard.press("Space")
    for _ in range(10):
        if page.evaluate("document.activeElement.value") == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"no radio {name}={value}")


def _select(page, name: str, typed: str) -> None:
    """Choose a select's option by typing the start of its text."""
    _focus(page, f"el => el.name === {name!r}", limit=LONG)
    page.keyboard.type(typed)


def _save(page, text: str = "Save and next") -> None:
    _press_button(page, text)


def _date(page, name: str, day) -> None:
    """Type a date into a GOV.UK date input (its day, month and year boxes share the name)."""
    _focus(page, f"el => el.name === {name!r}", limit=LONG)
    page.keyboard.type(str(day.day))
    page.keyboard.press("Tab")
    page.keyboard.type(str(day.month))
    page.keyboard.press("Tab")
    page.keyboard.type(str(day.year))


# ---- the month ------------------------------------------------------------------------------------


def _triage(page, facts) -> None:
    """Four referrals: one to the panel, one asked for more information, two declined (the two
    the referrers were already asked about)."""
    outcomes = ["to_panel", "request_information", "decline", "decline"]
    _press_link_to(page, "/referrals/triage#to-triage")
    for (referral_id, reference, _status), outcome in zip(facts["to_triage"], outcomes, strict=True):
        _press_link_to(page, f"/referrals/{referral_id}")
        _press_link_to(page, f"/referrals/{referral_id}/triage")
        _choose_value(page, "outcome", outcome)
        if outcome == "decline":
            _type_into(page, "rationale", "Needs are met by adult social care alone; signposted to the duty team.")
        elif outcome == "request_information":
            _type_into(page, "request", "Please add the GP's view and any recent hospital admissions.")
        _press_button(page, "Save and tell the referrer")
        expect(_banner(page)).to_contain_text(reference)
        _follow(page, "Triage")


def _promote(page, facts) -> None:
    _follow(page, "Waiting list")
    _press_button(page, f"Promote referral {facts['waiting']}")
    expect(_banner(page)).to_contain_text(facts["waiting"])


def _run_agenda_sync(app) -> None:
    """The scheduler's agenda-sync job, as it runs every few minutes."""
    result = app.test_cli_runner().invoke(args=["panel", "run-job", "agenda-sync"])
    assert result.exit_code == 0, result.output
    db.session.remove()


def _prepare_and_publish(page, facts) -> None:
    """Time boxes that fit the panel on one form, then publish with the invitations."""
    _follow(page, "Home")
    _press_link_to(page, f"/meetings/{facts['panel']}")
    _follow(page, "Change the time boxes")
    boxes = {AgendaItemKind.REFERRAL: 10, AgendaItemKind.CASE: 10, AgendaItemKind.ESCALATIONS: 5,
             AgendaItemKind.OTHER: 5}
    for item_id, kind, _ in facts["items"]:
        if kind in boxes:
            _focus(page, f"el => el.name === 'minutes-{item_id}'", limit=LONG)
            page.keyboard.press("Control+A")
            page.keyboard.type(str(boxes[kind]))
    _press_button(page, "Save the time boxes")
    expect(_banner(page)).to_contain_text("time boxes changed")
    expect(page.locator("#time-total")).to_be_visible()  # within the panel: no over-time warning
    _focus(page, "el => el.name === 'invite' && el.type === 'checkbox'", limit=LONG)
    assert page.evaluate("document.activeElement.checked")
    _press_button(page, "Publish the agenda")
    expect(_banner(page)).to_contain_text("The agenda has been published")


def _print_pack(page) -> None:
    _focus(page, "el => el.tagName === 'A' && el.textContent.trim() === 'Download the agenda and case pack (PDF)'",
           limit=LONG)
    pdf_url = page.evaluate("document.activeElement.href")
    with page.expect_navigation() as opened:
        page.keyboard.press("Enter")
    response = opened.value
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert page.request.get(pdf_url).body().startswith(b"%PDF-")  # the same file, read for its bytes
    with page.expect_navigation():
        page.go_back()  # the browser's Back: from the PDF viewer to the panel
    assert_accessible(page)


def _welcome(page, facts) -> None:
    """Item 1: the statement read, two agencies present; the others as their apologies left them."""
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")
    for agency_id, name in facts["present"]:
        _choose(page, f"status-{agency_id}")
        _type_into(page, f"attendee_name-{agency_id}", f"{name} representative")
        _focus(page, f"el => el.name === 'confidentiality_acknowledged-{agency_id}'", limit=LONG)
        page.keyboard.press("Space")
    _type_into(page, "notes", "Introductions made; the confidentiality statement was read and acknowledged.")
    _save(page)


def _item(page, facts, index: int, item_id: int, kind: AgendaItemKind, case_reference: str | None,
          state: dict) -> None:
    """One item's page: notes, and what the item asks for."""
    assert page.url.endswith(f"/run/{item_id}"), page.url
    if kind == AgendaItemKind.WELCOME:
        _welcome(page, facts)
        return
    if kind == AgendaItemKind.LAST_MINUTES and facts["last_action"]:
        _choose(page, f"outcome_{facts['last_action']}", "ArrowDown")  # still open -> done
    if kind == AgendaItemKind.REFERRAL:
        state["referrals"] += 1
        if state["referrals"] == 1:
            _choose(page, "decision")  # accept into the pathway
            _select(page, "lead_agency_id", "Demo Housing")
        elif state["referrals"] == 2:
            _choose(page, "decision", "ArrowDown")  # decline
            _type_into(page, "rationale", "One agency can meet these needs; signposted to the GP practice.")
    if kind == AgendaItemKind.CASE:
        state["cases"] += 1
        if state["cases"] == 1:
            _choose(page, "level", "ArrowDown")  # one level lower
            _type_into(page, "reason", "Engaging with the tenancy support worker; no incidents this month.")
        if state["cases"] <= 2:
            _type_into(page, "action1-description", "Arrange a joint visit with the lead agency.")
            _select(page, "action1-agency_id", "Demo")
            _date(page, "action1-due_on", state["due"])
    _type_into(page, "notes", f"Item {index + 1}: updates heard and agreed.")
    _save(page, "Save and next" if index + 1 < len(facts["items"]) else "Save and finish")


def _chase(page, facts) -> None:
    _follow(page, "Home")
    _press_link_to(page, "/actions?overdue=y")
    count = len(facts["overdue"])
    _press_button(page, f"Chase these {count} overdue actions now")
    expect(_banner(page)).to_contain_text(f"{count} overdue actions chased")


def _call_mdt(page, facts, day) -> None:
    _follow(page, "Cases")
    _press_link_to(page, f"/cases/{facts['mdt_case']}")
    _press_link_to(page, f"/cases/{facts['mdt_case']}/meetings")
    _follow(page, "Schedule an MDT")
    _date(page, "day", day)
    _type_into(page, "start", "14:00")
    _type_into(page, "end", "15:00")
    _type_into(page, "location", "Room 2, the Town Hall")
    _type_into(page, "purpose", "Agree a safety plan before the tenancy starts.")
    _focus(page, "el => el.name === 'users' && el.type === 'checkbox'", limit=LONG)
    page.keyboard.press("Space")
    _press_button(page, "Schedule the MDT and send the invitations")
    expect(_banner(page)).to_contain_text("is scheduled")


def _chair(page, facts) -> None:
    _sign_in(page, "chair@demo.invalid", DEMO_PASSWORD)
    _follow(page, "Meetings")
    _press_link_to(page, f"/meetings/{facts['panel']}")
    _follow(page, "Finalise the minutes")
    _press_button(page, "Finalise the minutes")
    expect(_banner(page)).to_contain_text("The minutes have been finalised.")
    _follow(page, "Record an amendment")
    _select(page, "item_id", "Any other")
    _type_into(page, "text", "Any other business: the next training session is on 7 July.")
    _type_into(page, "reason", "The date was minuted wrongly.")
    _press_button(page, "Record the amendment")
    expect(_banner(page)).to_contain_text("The amendment has been recorded")


def test_a_coordinators_month_takes_at_most_80_page_loads_and_30_posts(app, page, browser, live_server):
    with travelling(PREPARING) as move_to:
        load_demo(app)
        facts = _facts()
        steps = Steps()
        steps.watch(page)
        today = PREPARING.date()

        _sign_in(page, "coordinator@demo.invalid", DEMO_PASSWORD)
        _triage(page, facts)
        _promote(page, facts)
        _run_agenda_sync(app)
        _prepare_and_publish(page, facts)
        _print_pack(page)

        move_to(facts["starts"] + timedelta(seconds=1))
        _press_link_to(page, f"/meetings/{facts['panel']}/run")
        state = {"referrals": 0, "cases": 0, "due": today + timedelta(days=28)}
        for index, (item_id, kind, reference) in enumerate(facts["items"]):
            _item(page, facts, index, item_id, kind, reference, state)
        expect(page.get_by_role("heading", level=1)).to_have_text("Minutes")
        _chase(page, facts)
        _call_mdt(page, facts, today + timedelta(days=7))

        chair_context = browser.new_context(base_url=live_server)
        chair_page = chair_context.new_page()
        steps.watch(chair_page)
        _chair(chair_page, facts)
        chair_context.close()

    report = "\n".join(steps.loads)
    assert len(steps.loads) <= MAX_LOADS, f"{len(steps.loads)} page loads:\n{report}"
    assert len(steps.posts) <= MAX_POSTS, f"{len(steps.posts)} posts:\n" + "\n".join(steps.posts)
    _check_what_was_recorded(facts)
    print(f"\nThe month: {len(steps.loads)} page loads, {len(steps.posts)} posts")


def _check_what_was_recorded(facts) -> None:
    db.session.remove()
    panel = db.session.get(Meeting, facts["panel"])
    assert panel.agenda_published_at is not None and panel.finalised
    items = list(db.session.scalars(sa.select(AgendaItem).where(AgendaItem.meeting_id == panel.id)))
    assert all(item.notes for item in items), [i.id for i in items if not i.notes]
    present = {row.agency_id: row for row in db.session.scalars(
        sa.select(Attendance).where(Attendance.meeting_id == panel.id, Attendance.status == AttendanceStatus.PRESENT))}
    assert set(present) == {agency_id for agency_id, _ in facts["present"]}
    assert all(row.confidentiality_acknowledged for row in present.values())
    decided = [i.decision for i in items if i.kind == AgendaItemKind.REFERRAL and i.decision]
    assert sorted(d.split(";")[0].split(":")[0] for d in decided) == ["Accepted", "Declined"], decided
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Action).where(Action.meeting_id == panel.id)) == 2
    if facts["last_action"]:
        assert db.session.get(Action, facts["last_action"]).status == ActionStatus.DONE
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MinutesAmendment)
                             .where(MinutesAmendment.meeting_id == panel.id)) == 1
    chased = db.session.scalars(sa.select(OutboxMessage.body_text).where(
        OutboxMessage.subject.like("%overdue actions to update"))).all()
    assert sorted(int(n) for body in chased for n in re.findall(r"/actions/(\d+)", body)) == sorted(facts["overdue"])
    assert _mdts(facts["mdt_case"]) == facts["mdts"] + 1
