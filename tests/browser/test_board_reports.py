"""A board member reads the reports by keyboard alone: from the home page to the last complete
quarter's reports, a ready-made period, two dates typed in the boxes (and a wrong one), a report
from the contents list, and the CSV file; axe-core finds no WCAG 2.2 AA violation on any page."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from panel.dates import london_today
from panel.extensions import db
from panel.models import ActionStatus, AttendanceStatus, OutcomeReview, Role
from panel.reports import periods
from tests import factories
from tests.browser.conftest import assert_accessible, follow_link, press_and_wait, sign_in, tab_until
from tests.reports import board_world as w
from tests.reports.board_world import at


def _quarter_with_figures():
    quarter = periods.last_complete_quarter(london_today())
    a, b = w.agencies("Keyboard Police", "Keyboard Housing")
    for i in range(12):
        day = quarter.start + timedelta(days=2 + i * 5)
        if i % 2:
            w.referral((a, b)[i % 2], at(day), ("declined", "declined", at(day + timedelta(days=3))),
                       signposting="Elsewhere.")
            continue
        made = w.referral(a, at(day), ("to_panel", "awaiting_panel", at(day + timedelta(days=1))),
                          ("accepted", "accepted", at(day + timedelta(days=2))))
        case = w.case(made, a, accepted_on=day + timedelta(days=2), closed_on=quarter.end)
        w.action(case, b, day + timedelta(days=20), ActionStatus.DONE, at(day + timedelta(days=19)))
        w.outcome(case, OutcomeReview.ACHIEVED, quarter.end)
    w.panel(quarter.start + timedelta(days=14), {a: AttendanceStatus.PRESENT, b: AttendanceStatus.ABSENT})
    factories.create_user(role=Role.BOARD, email="board@test.invalid")
    db.session.commit()  # and touch no model after this (SQLite's write lock)
    return quarter


def _type_dates(page, start, end) -> None:
    """Tab to the first of the six date boxes and type both dates, then Tab to the button."""
    tab_until(page, "el => el.name === 'from'")
    for n, part in enumerate((start.day, start.month, start.year, end.day, end.month, end.year)):
        if n:
            page.keyboard.press("Tab")
        page.keyboard.press("Control+A")
        page.keyboard.type(str(part))
    tab_until(page, "el => el.id === 'show-reports'")


def test_a_board_member_reads_the_reports_by_keyboard(page, app):
    quarter = _quarter_with_figures()
    today = london_today()
    year = periods.presets(today)[4]
    sign_in(page, "board@test.invalid")

    follow_link(page, "Reports for the Safeguarding Adults Board")
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports for the Safeguarding Adults Board")
    expect(page.locator("#period")).to_have_text(quarter.title)
    expect(page.locator("#table-referrals caption")).to_have_text("Referrals received, by referring agency and outcome")

    follow_link(page, year.name)
    assert page.url.endswith(f"/reports?from={year.start.isoformat()}&to={year.end.isoformat()}")
    expect(page.locator("#period")).to_have_text(year.title)

    # two dates, the end before the start: the error summary takes the focus
    _type_dates(page, quarter.end, quarter.start)
    press_and_wait(page)
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "The end date must be the same as or after the start date")
    assert_accessible(page)

    # the dates put right: the page moves to the period's stable address
    _type_dates(page, quarter.start, quarter.end)
    press_and_wait(page)
    assert page.url.endswith(f"/reports?from={quarter.start.isoformat()}&to={quarter.end.isoformat()}")
    expect(page.locator("#period")).to_have_text(quarter.title)
    assert_accessible(page)

    # down to a report from the contents list
    tab_until(page, "el => el.tagName === 'A' && el.textContent.trim() === 'Equality monitoring'", limit=200)
    page.keyboard.press("Enter")
    expect(page.locator("#equality")).to_be_in_viewport()
    assert page.evaluate("location.hash") == "#equality"

    # the CSV file, by keyboard
    tab_until(page, "el => el.tagName === 'A' && el.textContent.includes('as a spreadsheet (CSV)')", limit=400)
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    path = download.value.path()
    with open(path, encoding="utf-8-sig") as handle:
        assert handle.readline().strip() == '"OFFICIAL-SENSITIVE"'
