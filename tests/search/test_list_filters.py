"""Finding things in the lists (issue 16): closed cases on /cases behind a filter, with the closure
date and the step-down agency; referrals filtered by status, agency, the dates submitted and the
panel whose agenda they are on."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.models import (AgendaItem, AgendaItemKind, Case, CaseStatus, Involvement, Meeting, MeetingKind,
                          MeetingStatus, Person, Referral, ReferralStatus, RiskLevel, Role, utcnow)
from tests import factories
from tests.conftest import error_summary, page
from tests.search import world


def _case_rows(response) -> list[list[str]]:
    return [[" ".join(td.get_text(" ").split()) for td in tr.select("td")] for tr in page(response).select("tbody tr")]


@pytest.fixture
def cases(app):
    a, b = factories.create_agency(name="Agency A"), factories.create_agency(name="Agency B")
    made = {
        "open": world.case(world.person("Olive", "Open"), lead=a),
        "closed": world.case(world.person("Clara", "Closed"), lead=a, status=CaseStatus.CLOSED, step_down=b),
        "closed B": world.case(world.person("Basil", "Bclosed"), lead=b, status=CaseStatus.CLOSED),
    }
    db.session.commit()
    return {"a": a, "b": b, **made}


def test_cases_lists_open_cases_and_closed_ones_behind_the_filter(client, login_as, cases):
    login_as(Role.COORDINATOR)
    opened = _case_rows(client.get("/cases"))
    assert [row[0] for row in opened] == [cases["open"].reference]

    response = client.get("/cases?show=closed")
    assert page(response).h1.get_text(strip=True) == "Closed cases"
    closed = {row[0]: row for row in _case_rows(response)}
    assert set(closed) == {cases["closed"].reference, cases["closed B"].reference}
    row = closed[cases["closed"].reference]
    assert row[4:] == ["Closed", cases["closed"].closed_on.strftime("%-d %B %Y"), "Agency B"]

    both = [row[0] for row in _case_rows(client.get("/cases?show=all"))]
    assert sorted(both) == sorted(c.reference for k, c in cases.items() if k in ("open", "closed", "closed B"))


@pytest.mark.parametrize("show", ["bogus", "", "%00", "closed%27--", "x" * 500])
def test_a_bad_filter_value_means_open_cases_never_a_500(client, login_as, cases, show):
    login_as(Role.COORDINATOR)
    response = client.get(f"/cases?show={show}")
    assert response.status_code == 200
    assert [row[0] for row in _case_rows(response)] == [cases["open"].reference]


def test_a_spoc_not_involved_sees_a_closed_case_as_a_summary_only(client, login_as, cases):
    login_as(Role.SPOC, agency=cases["b"])
    rows = {row[0]: row for row in _case_rows(client.get("/cases?show=closed"))}
    summary = rows[cases["closed"].reference]
    assert summary[1] == "CC (summary only)" and summary[5].startswith("–") and summary[6].startswith("–")
    mine = rows[cases["closed B"].reference]
    assert mine[1] == "BB" and mine[5] == cases["closed B"].closed_on.strftime("%-d %B %Y")


def test_a_practitioner_sees_only_their_agencys_closed_cases(client, login_as, cases):
    login_as(Role.PRACTITIONER, agency=cases["b"])
    assert [row[0] for row in _case_rows(client.get("/cases?show=closed"))] == [cases["closed B"].reference]


def _bulk_closed_cases(agency, count: int, start: int) -> None:
    ids = list(db.session.scalars(sa.insert(Person).returning(Person.id, sort_by_parameter_order=True), [
        {"given_name": f"G{n}", "family_name": f"F{n}"} for n in range(count)]))
    referrals = list(db.session.scalars(sa.insert(Referral).returning(Referral.id, sort_by_parameter_order=True), [
        {"person_id": pid, "referring_agency_id": agency.id, "status": ReferralStatus.ACCEPTED,
         "reference": f"R-2026-{start + n:05d}", "needs": [], "desired_outcomes": []} for n, pid in enumerate(ids)]))
    cases = list(db.session.scalars(sa.insert(Case).returning(Case.id, sort_by_parameter_order=True), [
        {"reference": f"CASPA-2025-{start + n:04d}", "person_id": pid, "referral_id": rid,
         "lead_agency_id": agency.id, "risk_level": RiskLevel.LOW, "accepted_on": date(2025, 1, 1),
         "status": CaseStatus.CLOSED, "closed_on": date(2025, 6, 1) + timedelta(days=n % 200),
         "step_down_agency_id": agency.id}
        for n, (pid, rid) in enumerate(zip(ids, referrals, strict=True))]))
    db.session.execute(sa.insert(Involvement), [{"case_id": c, "agency_id": agency.id} for c in cases])
    db.session.commit()


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.SPOC])
def test_the_closed_cases_run_the_same_queries_with_2000_as_with_10_fifty_a_page(client, login_as, count_queries,
                                                                                 role):
    agency = factories.create_agency()
    login_as(role, agency=agency)
    _bulk_closed_cases(agency, 10, 0)
    with count_queries() as few:
        client.get("/cases?show=closed")
    _bulk_closed_cases(agency, 1990, 10)
    with count_queries() as many:
        response = client.get("/cases?show=closed&page=2")
    assert many.count == few.count, "\n".join(many.statements)
    assert len(_case_rows(response)) == 50
    assert "show=closed" in page(response).select_one(".govuk-pagination__next a")["href"]


# ---- referrals: the dates submitted and the panel ---------------------------------------------

LONDON_MIDNIGHT = datetime(2027, 6, 30, 23, 0, tzinfo=timezone.utc)  # 1 July 2027, 00:00 BST


@pytest.fixture
def referrals(app):
    agency = factories.create_agency(name="Referring Agency")
    made = {
        "30 June": world.referral(world.person("June", "Late"), agency=agency),
        "1 July": world.referral(world.person("July", "Early"), agency=agency),
        "2 July": world.referral(world.person("July", "Second"), agency=agency, status=ReferralStatus.DECLINED),
    }
    made["30 June"].submitted_at = LONDON_MIDNIGHT - timedelta(minutes=1)   # 23:59 on 30 June, London
    made["1 July"].submitted_at = LONDON_MIDNIGHT + timedelta(minutes=30)   # 00:30 on 1 July, London
    made["2 July"].submitted_at = LONDON_MIDNIGHT + timedelta(days=1, hours=12)
    db.session.commit()
    return {"agency": agency, **made}


def _references(response) -> list[str]:
    return sorted(a.get_text(strip=True) for a in page(response).select("#referrals tbody a"))


def test_referrals_filtered_by_the_london_days_they_were_submitted(client, login_as, referrals):
    login_as(Role.COORDINATOR)
    refs = {k: r.reference for k, r in referrals.items() if k != "agency"}

    assert _references(client.get("/referrals?from=2027-07-01")) == sorted([refs["1 July"], refs["2 July"]])
    assert _references(client.get("/referrals?to=2027-06-30")) == [refs["30 June"]]
    response = client.get("/referrals", query_string={"from": ["1", "7", "2027"], "to": ["1", "7", "2027"]})
    assert _references(response) == [refs["1 July"]]
    assert _references(client.get("/referrals?from=2027-07-01&status=declined")) == [refs["2 July"]]
    assert _references(client.get(f"/referrals?from=2027-07-01&agency={referrals['agency'].id}")) == sorted(
        [refs["1 July"], refs["2 July"]])


@pytest.mark.parametrize("query, message", [
    ({"from": ["31", "2", "2027"]}, "Submitted from must be a real date"),
    ({"to": ["1", "", "2027"]}, "Submitted to must include a month"),
    ({"from": "2027-07-02", "to": "2027-07-01"}, "Submitted to must be the same as or after submitted from"),
    ({"from": "not-a-date"}, "Submitted from must be a real date"),
])
def test_a_date_typed_wrongly_is_an_error_and_the_other_filters_still_apply(client, login_as, referrals, query,
                                                                           message):
    login_as(Role.COORDINATOR)
    response = client.get("/referrals", query_string={**query, "status": "declined"})
    assert response.status_code == 200
    assert error_summary(response) == [message]
    assert _references(response) == [referrals["2 July"].reference]


def _panel(days: int, status: MeetingStatus = MeetingStatus.SCHEDULED) -> Meeting:
    starts = utcnow() + timedelta(days=days)
    meeting = Meeting(kind=MeetingKind.PANEL, status=status, starts_at=starts, ends_at=starts + timedelta(hours=2))
    db.session.add(meeting)
    db.session.flush()
    return meeting


def test_referrals_filtered_by_the_panel_whose_agenda_they_are_on(client, login_as, referrals):
    login_as(Role.SPOC, agency=referrals["agency"])
    held, coming = _panel(-20), _panel(10)
    _panel(40, MeetingStatus.CANCELLED)
    db.session.add_all([
        AgendaItem(meeting_id=held.id, kind=AgendaItemKind.REFERRAL, referral_id=referrals["30 June"].id, position=3),
        AgendaItem(meeting_id=coming.id, kind=AgendaItemKind.REFERRAL, referral_id=referrals["1 July"].id,
                   position=3),
        AgendaItem(meeting_id=coming.id, kind=AgendaItemKind.AOB, position=4),
    ])
    db.session.commit()

    assert _references(client.get(f"/referrals?panel={held.id}")) == [referrals["30 June"].reference]
    response = client.get(f"/referrals?panel={coming.id}")
    assert _references(response) == [referrals["1 July"].reference]
    choices = [o["value"] for o in page(response).select("select#panel option")]
    assert choices == ["", str(coming.id), str(held.id)]  # newest first; never a cancelled panel


@pytest.mark.parametrize("panel", ["abc", "99999999", "1 OR 1=1", "%00"])
def test_a_bad_panel_is_ignored(client, login_as, referrals, panel):
    login_as(Role.COORDINATOR)
    response = client.get(f"/referrals?panel={panel}")
    assert response.status_code == 200
    assert len(_references(response)) == 3
