"""The Board's reports as pages, a CSV file and a PDF: who may have them, the period (the stable
address, the ready-made periods, two dates, wrong dates), every report with its chart and table,
disclosure control everywhere, nothing personal anywhere, an audit entry for each, and a fixed
number of queries."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from panel.dates import govuk_date, london_today
from panel.models import (
    ActionStatus,
    AuditAction,
    AuditEvent,
    AttendanceStatus,
    DeclineReason,
    LadderStep,
    OutcomeReview,
    Role,
)
from panel.reports import figures, periods, remembered
from tests import factories
from tests.conftest import page
from tests.reports import board_world as w
from tests.reports.board_world import at

FROM, TO = date(2026, 4, 1), date(2026, 6, 30)
URL = "/reports?from=2026-04-01&to=2026-06-30"
SECRETS = ("Quillon", "Zephyrine", "9434765919", "ZZ9 9ZZ", "SECRET-RATIONALE", "SECRET-SIGNPOST",
           "SECRET-OUTCOME", "SECRET-ACTION", "R-BOARD-", "CASPA-2026-")
SECTIONS = ("occupancy", "referrals", "time-to-decision", "time-in-pathway", "risk", "repeat-referrals", "actions",
            "escalations", "msp", "attendance", "equality")


@pytest.fixture
def world(app, db):
    """A quarter with something in every report, every person, reason and text distinctive."""
    a, b, c = w.agencies("Agency Alpha", "Agency Beta", "=HYPERLINK(\"x\")")
    people = [w.person(given_name="Quillon", family_name=f"Zephyrine{i}", nhs_number="9434765919",
                       postcode="ZZ9 9ZZ", address="1 Secret Street", gender=("Female", "Male")[i % 2],
                       ethnicity="White British", first_language="English", interpreter_needed=False)
              for i in range(14)]
    for i, who in enumerate(people):
        agency = (a, a, b, c)[i % 4]
        day = date(2026, 4, 1 + i)
        if i % 3 == 0:
            made = w.referral(agency, at(day), ("to_panel", "awaiting_panel", at(day + timedelta(days=2))),
                              ("accepted", "accepted", at(day + timedelta(days=9))), who=who)
            case = w.case(made, a, accepted_on=day + timedelta(days=9), closed_on=date(2026, 6, 20))
            for n in range(3):
                action = w.action(case, (a, b)[n % 2], date(2026, 5, 10 + n), ActionStatus.DONE, at(date(2026, 5, 9)))
                action.description = "SECRET-ACTION"
                w.rung(action, LadderStep.REMINDER, at(date(2026, 5, 5), 7))
            w.outcome(case, OutcomeReview.ACHIEVED, date(2026, 6, 19)).words = "SECRET-OUTCOME"
        else:
            made = w.referral(agency, at(day), ("declined", "declined", at(day + timedelta(days=5))), who=who,
                              signposting="SECRET-SIGNPOST", reason_kind=DeclineReason.NOT_CRITICAL)
            made.decisions[-1].reason = "SECRET-RATIONALE"
    for month in (4, 5, 6):
        w.panel(date(2026, month, 8), {a: AttendanceStatus.PRESENT, b: AttendanceStatus.ABSENT})
    db.session.commit()
    return a, b, c


def _audits(db, action: AuditAction) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "board_reports",
                                                               AuditEvent.action == action)))


@pytest.mark.parametrize("role", [Role.BOARD, Role.CHAIR, Role.COORDINATOR])
def test_board_members_chairs_and_coordinators_have_the_reports(client, login_as, world, role):
    login_as(role)

    for url in (URL, "/reports/export.csv?from=2026-04-01&to=2026-06-30"):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SPOC, Role.PRACTITIONER])
def test_nobody_else_has_them(client, login_as, role):
    login_as(role)

    for url in (URL, "/reports/export.csv", "/reports/pack.pdf"):
        assert client.get(url).status_code == 404, url


def test_the_page_shows_every_report_with_its_chart_and_table_and_is_audited(client, login_as, world, db):
    login_as("board")

    response = client.get(URL)

    soup = page(response)
    assert soup.select_one("#period").get_text(strip=True) == "April to June 2026 (1 April 2026 to 30 June 2026)"
    assert [a["href"] for a in soup.select("#contents a")] == [f"#{key}" for key in SECTIONS]
    for key in SECTIONS:
        assert soup.find(id=key) is not None, key
    charts = soup.select("svg.panel-chart")
    assert len(charts) >= 16
    for chart in charts:
        title, desc = chart.find("title"), chart.find("desc")
        assert title.get_text(strip=True) and desc.get_text(strip=True)
        assert chart["role"] == "img" and chart["aria-labelledby"] == f"{title['id']} {desc['id']}"
    referrals = soup.select_one("#table-referrals")
    assert referrals.caption.get_text(strip=True) == "Referrals received, by referring agency and outcome"
    assert "fewer than 5" in referrals.get_text()
    assert [th.get_text(strip=True) for th in referrals.select("tbody th")][-1] == "All agencies"
    assert soup.select_one("#table-msp").get_text(" ", strip=True).endswith("Outcomes reviewed 5 0 0 5")
    assert soup.select_one("#table-time-to-decision tbody tr").get_text(" ", strip=True) == \
        "Accepted 5 9 9 9"
    entries = _audits(db, AuditAction.VIEW)
    assert len(entries) == 1 and entries[0].object_id == "2026-04-01-to-2026-06-30"
    assert '"from": "2026-04-01"' in entries[0].summary and '"format": "page"' in entries[0].summary


def test_no_count_from_1_to_4_is_shown_on_the_page(client, login_as, world):
    login_as("board")

    soup = page(client.get(URL))

    for cell in soup.select("table td.govuk-table__cell--numeric"):
        table = cell.find_parent("table")["id"]
        header = table in ("table-time-to-decision", "table-time-in-pathway")
        text = cell.get_text(strip=True)
        if header and cell.find_previous_sibling("td") is not None:
            continue  # days (a median, the shortest, the longest), not counts
        assert text not in ("1", "2", "3", "4"), (table, text)
    for chart in soup.select("svg.panel-chart"):
        # each mark's words end in its figure: "Accepted: 7", "Accepted: fewer than 5", or a bare number
        figures = {t.get_text(strip=True).rsplit(": ", 1)[-1] for t in chart.find_all("text")}
        assert not figures & {"1", "2", "3", "4"}, chart.find("title").get_text()
    referrals = soup.find("title", id="chart-referrals-title").parent
    assert any(t.get_text().endswith(": fewer than 5") for t in referrals.find_all("text"))
    assert referrals.select('rect[stroke-dasharray]')  # a small count's outline, up to 5, not its height


def test_nothing_about_a_person_reaches_the_page_the_csv_or_the_pdf(client, login_as, world, tmp_path):
    login_as("board")

    texts = [client.get(URL).get_data(as_text=True),
             client.get("/reports/export.csv?from=2026-04-01&to=2026-06-30").get_data(as_text=True),
             _pdf_text(client.get("/reports/pack.pdf?from=2026-04-01&to=2026-06-30").data, tmp_path)]

    for text in texts:
        for secret in SECRETS:
            assert secret not in text, secret


def test_the_default_period_is_the_last_complete_quarter_with_the_others_offered(client, login_as, db):
    login_as("board")
    today = london_today()
    quarter = periods.last_complete_quarter(today)

    soup = page(client.get("/reports"))

    assert soup.select_one("#period").get_text(strip=True) == quarter.title
    assert quarter.end < today and quarter.end + timedelta(days=93) >= today
    links = soup.select("#presets a")
    assert [a.get_text(strip=True) for a in links] == [p.name for p in periods.presets(today)]
    assert links[0]["aria-current"] == "page"
    assert links[0]["href"] == f"/reports?from={quarter.start.isoformat()}&to={quarter.end.isoformat()}"
    year = periods.financial_year(today)
    assert links[4]["href"] == f"/reports?from={year.start.isoformat()}&to={today.isoformat()}"
    assert year.start.month == 4 and year.start.day == 1 and year.end == date(year.start.year + 1, 3, 31)


def test_two_dates_typed_in_the_boxes_go_to_the_stable_address(client, login_as, db):
    login_as("chair")

    response = client.get("/reports?from=1&from=4&from=2026&to=30&to=6&to=2026")

    assert response.status_code == 302
    assert response.headers["Location"] == URL
    assert client.get("/reports?to=2026-06-30&from=2026-04-01&extra=1").headers["Location"] == URL


@pytest.mark.parametrize("query, field, message", [
    ("from=2026-13-01&to=2026-06-30", "from", "The start date must be a real date"),
    ("from=2026-04-01", "to", "Enter the end date"),
    ("to=2026-04-01", "from", "Enter the start date"),
    ("from=2026-06-30&to=2026-04-01", "to", "The end date must be the same as or after the start date"),
    ("from=1999-12-31&to=2000-01-31", "from", "The start date must be on or after 1 January 2000"),
    ("from=2020-01-01&to=2025-01-01", "to", "The period must be 5 years or shorter"),
    ("from=%3Cscript%3Ealert(1)%3C%2Fscript%3E&to=2026-06-30", "from", "The start date must be a real date"),
    ("from=2026-04-01%27%3B%20DROP%20TABLE%20referrals%3B--&to=2026-06-30", "from", "The start date must be a real date"),
    ("from=2026-04-01%00&to=2026-06-30", "from", "The start date must be a real date"),
])
def test_wrong_dates_are_explained_and_no_figures_shown(client, login_as, db, query, field, message):
    login_as("board")

    response = client.get(f"/reports?{query}")

    assert response.status_code == 200
    soup = page(response)
    assert soup.title.get_text().startswith("Error: ")
    summary = soup.select_one(".govuk-error-summary")
    assert message in summary.get_text(" ", strip=True)
    assert "<script>" not in response.get_data(as_text=True)
    assert soup.select_one("#contents") is None and soup.select_one("table") is None
    assert _audits(db, AuditAction.VIEW) == []
    for suffix in ("export.csv", "pack.pdf"):
        moved = client.get(f"/reports/{suffix}?{query}")
        assert moved.status_code == 302 and moved.headers["Location"].startswith("/reports?")


def test_a_period_ending_after_today_is_refused(client, login_as, db):
    login_as("board")
    today = london_today()

    response = client.get(f"/reports?from={today.isoformat()}&to={(today + timedelta(days=1)).isoformat()}")

    assert "The end date must be today or in the past" in page(response).select_one(".govuk-error-summary").get_text()


def _csv(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_csv_has_every_table_suppressed_and_marked(client, login_as, world, db):
    login_as("coordinator")

    response = client.get("/reports/export.csv?from=2026-04-01&to=2026-06-30")

    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition == (f'attachment; filename="caspa-board-reports-2026-04-01-to-2026-06-30-OFFICIAL-SENSITIVE-'
                           f'{london_today().isoformat()}.csv"')
    rows = _csv(response)
    assert rows[0] == ["OFFICIAL-SENSITIVE"]
    assert rows[1] == ["Reports for the Safeguarding Adults Board", "April to June 2026 (1 April 2026 to 30 June 2026)"]
    blocks = _blocks(rows[3:])
    titles = [title for title, _, _ in blocks]
    assert "Referrals received, by referring agency and outcome" in titles
    assert "Referrals received, by ethnicity" in titles and len(blocks) == 17
    seen = set()
    for title, head, body in blocks:
        counts = len(head) - 1 - sum(h.endswith("(days)") for h in head)
        for row in body:
            for cell in row[1:1 + counts]:
                assert cell not in ("1", "2", "3", "4"), (title, row)
                seen.add(cell)
    assert {"<5", "0"} <= seen
    referrals = next(body for title, _, body in blocks if title.startswith("Referrals received, by referring"))
    assert "'=HYPERLINK(\"x\")" in [row[0] for row in referrals]  # a spreadsheet would run it otherwise
    entries = _audits(db, AuditAction.EXPORT)
    assert len(entries) == 1 and '"format": "csv"' in entries[0].summary


def _blocks(rows: list[list[str]]) -> list[tuple[str, list[str], list[list[str]]]]:
    out, index = [], 0
    while index < len(rows):
        if not rows[index]:
            title, head = rows[index + 1][1], rows[index + 2]
            index += 3
            body = []
            while index < len(rows) and rows[index]:
                body.append(rows[index])
                index += 1
            out.append((title, head, body))
        else:
            index += 1
    return out


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "board.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def test_the_report_pack_is_an_a4_tagged_pdf_marked_on_every_page(client, login_as, world, db, tmp_path):
    login_as("board")

    response = client.get("/reports/pack.pdf?from=2026-04-01&to=2026-06-30")

    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'inline; filename="board-reports-2026-04-01-to-2026-06-30.pdf"'
    assert response.headers["Cache-Control"] == "private, no-store"
    path = tmp_path / "pack.pdf"
    path.write_bytes(response.data)
    info = dict(line.split(":", 1) for line in subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True,
                                                              text=True).stdout.splitlines() if ":" in line)
    assert info["Tagged"].strip() == "yes"
    assert info["Page size"].strip().endswith("(A4)")
    assert info["Title"].strip() == "Reports for the Safeguarding Adults Board, 1 April 2026 to 30 June 2026"
    pages = [p for p in _pdf_text(response.data, tmp_path).split("\f") if p.strip()]
    assert len(pages) >= 11
    for number, text in enumerate(pages, start=1):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        assert lines[0] == "OFFICIAL-SENSITIVE" and "OFFICIAL-SENSITIVE" in lines[-1], number
        assert re.search(rf"Page {number} of {len(pages)}$", lines[-1]), lines[-1]
    whole = "\n".join(pages)
    for heading in ("Occupancy of the pathway", "Referrals by agency and outcome", "Equality monitoring",
                    "Attendance at panels"):
        assert heading in whole
    assert "fewer than 5" in whole
    entries = _audits(db, AuditAction.EXPORT)
    assert len(entries) == 1 and '"format": "pdf"' in entries[0].summary


def test_the_board_home_page_leads_to_the_reports(client, login_as, db):
    login_as("board")

    soup = page(client.get("/"))

    assert soup.select_one("#board-reports")["href"] == "/reports"
    assert "/reports" in [a["href"] for a in soup.select(".govuk-service-navigation a")]


def test_the_page_takes_the_same_number_of_queries_for_a_little_data_and_a_lot(app, client, login_as, db,
                                                                              count_queries):
    """Worked out (the first view after the records changed) and remembered (the views after it):
    each a fixed number of queries, the remembered one fewer (panel.reports.remembered)."""
    a, b = w.agencies("Small", "Large")
    login_as("board")
    w.referral(a, at(date(2026, 4, 2)), ("declined", "declined", at(date(2026, 4, 3))))
    db.session.commit()
    client.get(URL)  # the first request compiles templates
    remembered.forget()
    with count_queries() as small:
        assert client.get(URL).status_code == 200
    with count_queries() as small_again:
        assert client.get(URL).status_code == 200
    for i in range(60):
        day = date(2026, 4, 1 + i % 30)
        made = w.referral((a, b)[i % 2], at(day), ("accepted", "accepted", at(day, 15)))
        case = w.case(made, a, accepted_on=day, closed_on=date(2026, 6, 1 + i % 29))
        w.action(case, b, date(2026, 5, 1 + i % 30), ActionStatus.DONE, at(date(2026, 5, 1)))
        w.outcome(case, OutcomeReview.PARTLY_ACHIEVED, date(2026, 6, 2))
    db.session.commit()
    with count_queries() as large:
        assert client.get(URL).status_code == 200
    with count_queries() as large_again:
        assert client.get(URL).status_code == 200

    assert small.count == large.count
    assert small_again.count == large_again.count == small.count - figures.QUERIES


def test_an_agency_with_no_referrals_in_the_period_has_no_row(client, login_as, db):
    """An agency with no referrals in the period has no row; the table says so when there are none."""
    login_as("board")
    factories.create_agency(name="Quiet Agency")

    soup = page(client.get(URL))

    assert "Quiet Agency" not in soup.get_text()
    assert soup.select_one("#table-referrals").get_text(strip=True) == "No referrals were received in this period."
    assert govuk_date(FROM) in soup.select_one("#period").get_text()
    assert govuk_date(TO) in soup.select_one("#period").get_text()
