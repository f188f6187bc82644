"""The referral list: who sees which referrals, never drafts, filters, pagination, initials only,
and the same number of SQL queries with 10,000 referrals as with 10."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.models import AgencyKind, Person, Referral, ReferralStatus, RiskLevel, Role, utcnow
from tests import factories
from tests.conftest import page


@pytest.fixture
def agencies(app):
    return {
        "police": factories.create_agency(code="police", name="List Police", kind=AgencyKind.POLICE),
        "housing": factories.create_agency(code="housing", name="List Housing", kind=AgencyKind.HOUSING),
    }


def references(response) -> list[str]:
    return [a.get_text(strip=True) for a in page(response).select("#referrals tbody tr td:first-child a")]


def make(agency, by=None, status="submitted", days_ago=1, given="Sam", family="Example", **kwargs) -> Referral:
    return factories.create_referral(agency=agency, by=by, status=status, given_name=given, family_name=family,
                                     submitted_at=utcnow() - timedelta(days=days_ago), **kwargs)


def test_a_practitioner_sees_only_their_own_submitted_referrals(client, login_as, agencies):
    me = login_as("practitioner", agency=agencies["housing"])
    colleague = factories.create_user(role=Role.PRACTITIONER, agency=agencies["housing"])
    mine = make(agencies["housing"], me)
    make(agencies["housing"], me, status="draft")
    make(agencies["housing"], colleague)
    make(agencies["police"])
    db.session.commit()

    assert references(client.get("/referrals")) == [mine.reference]


def test_a_spoc_sees_their_agencys_referrals(client, login_as, agencies):
    login_as("spoc", agency=agencies["housing"])
    colleague = factories.create_user(role=Role.PRACTITIONER, agency=agencies["housing"])
    ours = [make(agencies["housing"], colleague, days_ago=3), make(agencies["housing"], days_ago=2)]
    make(agencies["housing"], colleague, status="draft")
    make(agencies["police"])
    db.session.commit()

    response = client.get("/referrals")

    assert references(response) == [ours[1].reference, ours[0].reference]
    assert page(response).select_one("select[name=agency]") is None  # one agency: nothing to filter by


@pytest.mark.parametrize("role", ["coordinator", "chair"])
def test_coordinators_and_chairs_see_every_referral_newest_first_but_no_drafts(client, login_as, agencies, role):
    login_as(role)
    old = make(agencies["police"], days_ago=10)
    new = make(agencies["housing"], days_ago=1)
    middle = make(agencies["housing"], status="declined", days_ago=5)
    make(agencies["police"], status="draft")
    db.session.commit()

    assert references(client.get("/referrals")) == [new.reference, middle.reference, old.reference]


def test_the_columns_show_initials_not_names(client, login_as, agencies):
    login_as("coordinator")
    r = make(agencies["police"], given="Quinlan", family="Zephyrine", risk_level=RiskLevel.CRITICAL,
             nhs_number="9434765919")
    db.session.commit()

    response = client.get("/referrals")
    html = response.get_data(as_text=True)
    cells = [td.get_text(" ", strip=True) for td in page(response).select("#referrals tbody tr td")]

    assert cells == [r.reference, "QZ", "List Police", "Critical", "Submitted", cells[5]]
    assert cells[5].endswith(str(r.submitted_at.year))
    assert page(response).select_one("#referrals tbody a")["href"] == f"/referrals/{r.id}"
    for secret in ("Quinlan", "Zephyrine", "9434765919", "LU1 2AB", "1980"):
        assert secret not in html


def test_filter_by_status_and_agency(client, login_as, agencies):
    login_as("coordinator")
    police_new = make(agencies["police"])
    make(agencies["police"], status="declined")
    housing_new = make(agencies["housing"])
    db.session.commit()

    assert references(client.get("/referrals?status=submitted")) == [housing_new.reference, police_new.reference]
    assert references(client.get(f"/referrals?status=submitted&agency={agencies['police'].id}")) == [
        police_new.reference]
    response = client.get(f"/referrals?agency={agencies['housing'].id}")
    assert references(response) == [housing_new.reference]
    assert "matching the filters" in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["status=draft", "status=bogus", "agency=abc", "agency=99999999999999999",
                                   "status=%00", "agency=1%20OR%201=1", "page=-1", "page=abc", "page=" + "9" * 30])
def test_bad_filter_values_are_ignored_never_a_500(client, login_as, agencies, query):
    login_as("coordinator")
    make(agencies["police"])
    make(agencies["police"], status="draft")
    db.session.commit()
    response = client.get(f"/referrals?{query}")
    assert response.status_code == 200
    assert len(references(response)) <= 1


def test_a_spoc_cannot_filter_to_another_agency(client, login_as, agencies):
    login_as("spoc", agency=agencies["housing"])
    make(agencies["police"])
    db.session.commit()
    assert references(client.get(f"/referrals?agency={agencies['police'].id}")) == []


def test_fifty_a_page_with_govuk_pagination(client, login_as, agencies):
    login_as("coordinator")
    for i in range(120):
        make(agencies["police"], days_ago=i + 1)
    db.session.commit()

    first = client.get("/referrals")
    third = client.get("/referrals?page=3")
    past_the_end = client.get("/referrals?page=99")

    assert len(references(first)) == 50 and len(references(third)) == 20
    assert references(past_the_end) == references(third)
    nav = page(first).select_one("nav.govuk-pagination")
    assert nav is not None and nav.select_one(".govuk-pagination__next a")["href"] == "/referrals?page=2"
    assert "Showing 1 to 50 of 120 referrals" in page(first).select_one("#referrals caption").get_text(" ", strip=True)
    filtered = client.get("/referrals?status=submitted&page=2")
    assert "status=submitted" in page(filtered).select_one(".govuk-pagination__next a")["href"]


def test_an_agency_without_a_current_isa_sees_a_warning_and_no_referrals(client, login_as, agencies):
    lapsed = factories.create_agency(isa="lapsed")
    user = login_as("spoc", agency=lapsed)
    make(lapsed, user)
    db.session.commit()
    response = client.get("/referrals")
    assert references(response) == []
    assert "information sharing agreement" in response.get_data(as_text=True)


def test_nobody_else_gets_the_list(client, login_as):
    for role in ("board", "admin"):
        login_as(role)
        assert client.get("/referrals").status_code == 404


def _bulk_insert(agencies, count: int, start: int) -> None:
    """Insert referrals (and their persons) in two statements, not one ORM object at a time."""
    now = utcnow()
    first_person = (db.session.execute(sa.select(sa.func.max(Person.id))).scalar_one() or 0) + 1
    db.session.execute(sa.insert(Person), [
        {"id": first_person + i, "given_name": f"Given{i}", "family_name": f"Family{i}", "postcode": "LU1 2AB"}
        for i in range(count)])
    agency_ids = [a.id for a in agencies.values()]
    statuses = [ReferralStatus.SUBMITTED, ReferralStatus.DECLINED, ReferralStatus.AWAITING_PANEL,
                ReferralStatus.WITHDRAWN, ReferralStatus.WAITING, ReferralStatus.ACCEPTED]
    db.session.execute(sa.insert(Referral), [
        {"person_id": first_person + i, "referring_agency_id": agency_ids[i % 2], "status": statuses[i % 6],
         "reference": f"R-BULK-{start + i:06d}", "risk_level": RiskLevel.HIGH, "needs": ["housing"],
         "desired_outcomes": [], "submitted_at": now - timedelta(minutes=start + i)}
        for i in range(count)])
    db.session.commit()


@pytest.mark.parametrize("role", ["coordinator", "spoc"])
def test_the_list_runs_the_same_number_of_queries_with_10000_referrals_as_with_10(
        client, login_as, agencies, count_queries, role):
    login_as(role, agency=agencies["police"])
    _bulk_insert(agencies, 10, 0)
    with count_queries() as few:
        small = client.get("/referrals?page=1")
    _bulk_insert(agencies, 9990, 10)
    with count_queries() as many:
        large = client.get("/referrals?page=2")

    assert small.status_code == large.status_code == 200
    assert len(references(large)) == 50
    assert many.count == few.count, "\n".join(many.statements)
