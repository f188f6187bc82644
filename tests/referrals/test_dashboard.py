"""The dashboard: occupancy and what uses each place for coordinators and chairs, referral links
for referrers, a count only for the board, and the ISA warning kept."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from panel.extensions import db
from panel.models import AgencyKind, Case, CaseStatus, RiskLevel, utcnow
from tests import factories
from tests.conftest import page


@pytest.fixture
def app_config():
    return {"CASE_CAP": 5}


@pytest.fixture
def pathway_in_use(app):
    police = factories.create_agency(code="police", name="Dash Police", kind=AgencyKind.POLICE)
    housing = factories.create_agency(code="housing", name="Dash Housing", kind=AgencyKind.HOUSING)

    def refer(status, given, family, agency=police, **kwargs):
        return factories.create_referral(agency=agency, status=status, given_name=given, family_name=family,
                                         submitted_at=utcnow() - timedelta(days=3), **kwargs)

    refer("submitted", "Quinlan", "Zephyrine", risk_level=RiskLevel.HIGH)
    refer("awaiting_panel", "Ash", "Other", agency=housing, risk_level=RiskLevel.CRITICAL)
    accepted = refer("accepted", "Bo", "Caseperson")
    db.session.add(Case(reference="CASPA-2027-001", person_id=accepted.person_id, referral=accepted,
                        status=CaseStatus.CLOSURE_PROPOSED, lead_agency=housing, risk_level=RiskLevel.HIGH,
                        accepted_on=date.today()))
    closed = refer("accepted", "Cy", "Closed")
    db.session.add(Case(reference="CASPA-2026-009", person_id=closed.person_id, referral=closed,
                        status=CaseStatus.CLOSED, lead_agency=housing, risk_level=RiskLevel.LOW,
                        accepted_on=date.today()))
    refer("waiting", "Dee", "Waiting")
    refer("waiting", "Ed", "Waiting")
    refer("declined", "Fay", "Declined")
    refer("draft", "Gil", "Draft")
    db.session.flush()
    return {"police": police, "housing": housing}


@pytest.mark.parametrize("role", ["coordinator", "chair"])
def test_coordinators_and_chairs_see_occupancy_and_what_uses_each_place(client, login_as, pathway_in_use, role):
    login_as(role)
    soup = page(client.get("/"))

    assert soup.select_one("#occupancy").get_text(strip=True) == "3 of 5 places used"
    rows = [[td.get_text(" ", strip=True) for td in tr.select("td")] for tr in soup.select("#places tbody tr")]
    assert rows == [
        ["Case CASPA-2027-001", "BC", "Closure proposed", "High", "Dash Housing (lead)"],
        ["Referral " + rows[1][0].split()[-1], "AO", "Awaiting panel", "Critical", "Dash Housing (referring)"],
        ["Referral " + rows[2][0].split()[-1], "QZ", "Submitted", "High", "Dash Police (referring)"],
    ]
    links = {a.get_text(strip=True): a["href"] for a in soup.select("main a")}
    assert links["Triage new referrals"] == "/referrals/triage"
    assert links["Waiting list (2 waiting)"] == "/referrals/waiting"
    assert links["Case CASPA-2027-001"] == "/cases/CASPA-2027-001"
    assert "Quinlan" not in soup.get_text() and "Zephyrine" not in soup.get_text()


def test_the_places_table_links_referrals_and_cases_to_their_pages(client, login_as, pathway_in_use):
    login_as("coordinator")
    soup = page(client.get("/"))
    hrefs = [a["href"] for a in soup.select("#places a")]
    assert hrefs[0] == "/cases/CASPA-2027-001"
    assert len(hrefs) == 3 and all(h.startswith("/referrals/") for h in hrefs[1:])


def test_the_dashboard_uses_a_fixed_number_of_queries(client, login_as, pathway_in_use, count_queries):
    login_as("coordinator")
    db.session.commit()
    with count_queries() as few:
        client.get("/")
    for i in range(2):
        factories.create_referral(agency=factories.create_agency(), given_name=f"N{i}", family_name="More")
    db.session.commit()
    with count_queries() as many:
        response = client.get("/")
    assert page(response).select_one("#occupancy").get_text(strip=True) == "5 of 5 places used"
    assert many.count == few.count


@pytest.mark.parametrize("role", ["practitioner", "spoc"])
def test_referrers_see_links_to_refer_their_drafts_and_their_referrals(client, login_as, pathway_in_use, role):
    login_as(role)
    soup = page(client.get("/"))
    links = {a["href"] for a in soup.select("main a")}
    assert {"/referrals/new", "/referrals/drafts", "/referrals"} <= links
    assert soup.select_one("#occupancy") is None and soup.select_one("#places") is None


def test_the_board_sees_a_count_only(client, login_as, pathway_in_use):
    login_as("board")
    response = client.get("/")
    soup = page(response)
    assert soup.select_one("#occupancy").get_text(strip=True) == "3 of 5 places used"
    assert soup.select_one("#places") is None
    text = soup.get_text(" ")
    for initials_or_name in ("QZ", "AO", "BC", "Quinlan", "Caseperson", "CASPA-"):
        assert initials_or_name not in text


def test_navigation_is_by_role(client, login_as, pathway_in_use):
    def nav(role) -> list[str]:
        login_as(role)
        return [a.get_text(strip=True) for a in page(client.get("/")).select(".govuk-service-navigation__link")]

    assert {"Referrals", "Triage", "Waiting list"} <= set(nav("coordinator"))
    assert {"Referrals", "Triage", "Waiting list"} <= set(nav("chair"))
    practitioner = nav("practitioner")
    assert "Referrals" in practitioner and "Triage" not in practitioner
    board = nav("board")
    assert "Referrals" not in board and "Triage" not in board


def test_the_isa_warning_stays_and_hides_who_uses_the_places(client, login_as, pathway_in_use):
    login_as("coordinator", agency=factories.create_agency(isa="lapsed"))
    soup = page(client.get("/"))
    assert "past its review date" in soup.select_one(".govuk-warning-text").get_text()
    assert soup.select_one("#occupancy").get_text(strip=True) == "3 of 5 places used"
    assert soup.select_one("#places") is None


def test_an_empty_pathway(client, login_as):
    login_as("chair")
    soup = page(client.get("/"))
    assert soup.select_one("#occupancy").get_text(strip=True) == "0 of 5 places used"
    assert "No places are in use." in soup.get_text()
