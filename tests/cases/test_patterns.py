"""The pattern view: the figures by day and time of day (London time, across BST), by agency and by
method match a hand count; the SVG charts are accessible; the tables show the same numbers; the
page reads a fixed number of queries."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from panel.cases import patterns
from panel.models import EngagementAttempt, EngagementMethod as M, EngagementOutcome as O
from tests import factories
from tests.cases.helpers import create_case
from tests.conftest import page

UTC = timezone.utc

# (UTC time, agency, method, outcome): the London day and time of day in the comment.
ATTEMPTS = [
    (datetime(2025, 7, 15, 8, 30), "lead", M.PHONE, O.ENGAGED),            # Tue 09:30 BST: morning
    (datetime(2025, 1, 14, 9, 30), "lead", M.PHONE, O.NO_ANSWER),          # Tue 09:30 GMT: morning
    (datetime(2025, 7, 14, 23, 30), "second", M.HOME_VISIT, O.NOT_IN),     # Tue 00:30 BST (Mon in UTC): night
    (datetime(2025, 1, 19, 21, 59), "second", M.HOME_VISIT, O.PARTLY_ENGAGED),  # Sun 21:59 GMT: evening
    (datetime(2025, 7, 19, 16, 30), "lead", M.LETTER, O.DECLINED),         # Sat 17:30 BST (UTC afternoon): evening
    (datetime(2025, 1, 17, 12, 0), "second", M.PHONE, O.PARTLY_ENGAGED),   # Fri 12:00 GMT: afternoon
    (datetime(2025, 3, 30, 0, 59), "lead", M.TEXT, O.ENGAGED),             # Sun 00:59 GMT, just before BST: night
    (datetime(2025, 3, 30, 1, 0), "lead", M.TEXT, O.NO_ANSWER),            # Sun 02:00 BST, just after: night
    (datetime(2025, 10, 26, 5, 30), "lead", M.PHONE, O.ENGAGED),           # Sun 05:30 GMT after BST ends: night
    (datetime(2025, 10, 25, 5, 30), "lead", M.PHONE, O.ENGAGED),           # Sat 06:30 BST: morning
]
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
MORNING, AFTERNOON, EVENING, NIGHT = range(4)
# By hand: (period, day) -> (worked, attempts)
EXPECTED_GRID = {
    (MORNING, TUE): (1, 2),
    (NIGHT, TUE): (0, 1),
    (EVENING, SUN): (1, 1),
    (EVENING, SAT): (0, 1),
    (AFTERNOON, FRI): (1, 1),
    (NIGHT, SUN): (2, 3),
    (MORNING, SAT): (1, 1),
}


@pytest.fixture
def s(db):
    lead = factories.create_agency(code="lead-a", name="Lead Agency")
    second = factories.create_agency(code="second-b", name="Second Agency")
    case = create_case(lead=lead, involved=[second])
    agencies = {"lead": lead, "second": second}
    db.session.execute(sa.insert(EngagementAttempt), [
        dict(case_id=case.id, agency_id=agencies[who].id, method=method, outcome=outcome,
             occurred_at=at.replace(tzinfo=UTC)) for at, who, method, outcome in ATTEMPTS])
    other = create_case(lead=lead)  # another case's attempts are not counted
    db.session.execute(sa.insert(EngagementAttempt), [dict(
        case_id=other.id, agency_id=lead.id, method=M.PHONE, outcome=O.ENGAGED,
        occurred_at=datetime(2025, 7, 15, 8, 30, tzinfo=UTC))])
    db.session.commit()
    return SimpleNamespace(case=case, lead=lead, second=second, url=f"/cases/{case.reference}/engagement/patterns")


@pytest.mark.parametrize("hour, period", [(0, NIGHT), (5, NIGHT), (6, MORNING), (11, MORNING), (12, AFTERNOON),
                                          (16, AFTERNOON), (17, EVENING), (21, EVENING), (22, NIGHT), (23, NIGHT)])
def test_times_of_day(hour, period):
    assert patterns.period_of(hour) == period


def test_the_figures_match_a_hand_count(s, db):
    p = patterns.patterns(s.case.id)
    grid = {(r, d): (f.worked, f.attempts) for r, row in enumerate(p.grid) for d, f in enumerate(row) if f.attempts}
    assert grid == EXPECTED_GRID
    assert (p.total.worked, p.total.attempts) == (6, 10)
    assert [(f.worked, f.attempts) for f in p.by_day] == [(0, 0), (1, 3), (0, 0), (0, 0), (1, 1), (1, 2), (3, 4)]
    assert [(f.worked, f.attempts) for f in p.by_period] == [(2, 3), (1, 1), (1, 2), (2, 4)]
    assert [(f.label, f.worked, f.attempts) for f in p.by_agency] == [("Lead Agency", 4, 7), ("Second Agency", 2, 3)]
    assert {f.label: (f.worked, f.attempts) for f in p.by_method} == {
        "Phone": (4, 5), "Text": (1, 2), "Letter": (0, 1), "Email": (0, 0), "Home visit": (1, 2),
        "Joint visit": (0, 0), "Unannounced visit": (0, 0), "Office appointment": (0, 0)}


def test_summer_and_winter_attempts_at_the_same_london_hour_share_a_bucket(s, db):
    p = patterns.patterns(s.case.id)
    tuesday_morning = p.grid[MORNING][TUE]
    assert (tuesday_morning.worked, tuesday_morning.attempts) == (1, 2)
    assert tuesday_morning.label == "Tuesday, morning"


def _svg_numbers(svg) -> list[str]:
    return [t.get_text() for t in svg.find_all("text") if re.fullmatch(r"\d+/\d+", t.get_text())]


def test_the_page_draws_accessible_charts_with_the_same_figures_in_tables(client, login_as, s):
    login_as("spoc", agency=s.second)
    response = client.get(s.url)
    assert response.status_code == 200
    soup = page(response)
    svgs = soup.find_all("svg", class_="panel-chart")
    assert len(svgs) == 3
    for svg in svgs:
        assert svg["role"] == "img"
        title, desc = svg.find("title"), svg.find("desc")
        assert title is not None and desc is not None and title.get_text() and desc.get_text()
        assert svg["aria-labelledby"] == f"{title['id']} {desc['id']}"
        assert "the same figures are in the table below" in desc.get_text().lower()
        assert not svg.find_all(attrs={"style": True}) and not svg.has_attr("style")
    assert "style=" not in response.get_data(as_text=True)
    # the grid: the SVG cell labels and the table cells carry the same numbers, in the same order
    svg_cells = _svg_numbers(svgs[0])
    table = soup.find("table", id="table-day-time")
    table_cells = [td.get_text(strip=True).replace(" of ", "/") for tr in table.select("tbody tr")[:4]
                   for td in tr.find_all("td")[:7]]
    assert svg_cells == table_cells
    assert table_cells[MORNING * 7 + TUE] == "1/2" and table_cells[NIGHT * 7 + SUN] == "2/3"
    # by agency and by method: "N attempts" and "N worked" text in the chart, and the same in the table
    for svg, table_id in ((svgs[1], "table-agency"), (svgs[2], "table-method")):
        texts = [t.get_text() for t in svg.find_all("text")]
        rows = page_rows(soup.find("table", id=table_id))
        for label, attempts, worked in rows:
            i = texts.index(label)
            noun = "attempt" if attempts == "1" else "attempts"
            assert texts[i + 1:i + 3] == [f"{attempts} {noun}", f"{worked} worked"]
    assert page_rows(soup.find("table", id="table-agency")) == [("Lead Agency", "7", "4"), ("Second Agency", "3", "2")]


def page_rows(table) -> list[tuple[str, str, str]]:
    rows = []
    for tr in table.select("tbody tr"):
        label = tr.find("th").get_text(strip=True)
        if label == "All":
            continue
        cells = [td.get_text(strip=True) for td in tr.find_all("td")]
        rows.append((label, cells[0], cells[1]))
    return rows


def test_names_in_the_charts_are_escaped(client, login_as, db):
    odd = factories.create_agency(code="odd", name="Tom & Jerry <Outreach>")
    case = create_case(lead=odd)
    db.session.execute(sa.insert(EngagementAttempt), [dict(
        case_id=case.id, agency_id=odd.id, method=M.PHONE, outcome=O.ENGAGED,
        occurred_at=datetime(2025, 1, 1, 12, tzinfo=UTC))])
    db.session.commit()
    login_as("coordinator")
    html = client.get(f"/cases/{case.reference}/engagement/patterns").get_data(as_text=True)
    assert "Tom &amp; Jerry &lt;Outreach&gt;" in html and "<Outreach>" not in html


def test_no_attempts_yet(client, login_as, db):
    case = create_case()
    db.session.commit()
    login_as("coordinator")
    response = client.get(f"/cases/{case.reference}/engagement/patterns")
    assert response.status_code == 200
    assert "There are no attempts yet." in page(response).find("desc").get_text()


def test_a_restricted_viewer_gets_404(client, login_as, s):
    login_as("spoc", agency=factories.create_agency())
    assert client.get(s.url).status_code == 404


def test_the_page_reads_a_constant_number_of_queries(client, login_as, s, db, count_queries):
    login_as("coordinator")
    client.get(s.url)
    with count_queries() as few:
        assert client.get(s.url).status_code == 200
    base = datetime(2024, 1, 1, tzinfo=UTC)
    methods, outcomes = list(M), list(O)
    db.session.execute(sa.insert(EngagementAttempt), [dict(
        case_id=s.case.id, agency_id=(s.lead.id, s.second.id)[i % 2], method=methods[i % len(methods)],
        outcome=outcomes[i % len(outcomes)], occurred_at=base + timedelta(minutes=97 * i)) for i in range(2000)])
    db.session.commit()
    with count_queries() as many:
        assert client.get(s.url).status_code == 200
    assert many.count == few.count
    p = patterns.patterns(s.case.id)
    assert p.total.attempts == 2010 and sum(f.attempts for f in p.by_day) == 2010
