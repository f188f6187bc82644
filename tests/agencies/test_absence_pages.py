"""The absence pages: a SPoC records and ends their own absence on their account page, the
coordinator (or an admin) anyone's at /agencies, the deputy sees what they cover, and the
agency pages show who acts now. Bad input gets GOV.UK messages and keeps what was typed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from panel.dates import govuk_date, london_today
from panel.extensions import db
from panel.models import OutboxMessage, Role, SpocAbsence
from tests import factories
from tests.conftest import error_summary, page, post_form


@pytest.fixture
def staff(app):
    agency = factories.create_agency(code="pages-police", name="Pages Police")
    people = {
        "spoc": factories.create_user(role=Role.SPOC, agency=agency, name="Sam Spoc"),
        "deputy": factories.create_user(role=Role.SPOC, agency=agency, name="Dee Deputy"),
        "other spoc": factories.create_user(role=Role.SPOC, agency=agency, name="Ola Other"),
        "coordinator": factories.create_user(role=Role.COORDINATOR),
        "admin": factories.create_user(role=Role.ADMIN),
    }
    agency.spoc, agency.deputy_spoc = people["spoc"], people["deputy"]
    db.session.commit()
    return agency, people


def _date(day: date) -> list[str]:
    return [str(day.day), str(day.month), str(day.year)]


def _form(first: date, last: date, note: str = "") -> dict:
    return {"starts_on": _date(first), "ends_on": _date(last), "note": note}


def _absences() -> list[SpocAbsence]:
    return list(db.session.scalars(sa.select(SpocAbsence).order_by(SpocAbsence.starts_on)))


def test_a_spoc_records_their_own_absence_on_their_account_page(client, login_as, staff):
    agency, people = staff
    login_as(people["spoc"])
    account = page(client.get("/account"))
    assert account.select_one("#absence").get_text(strip=True) == "Your absence"
    assert account.select_one("#record-absence")["href"] == "/account/absence"
    assert "Sam Spoc (SPoC)" in account.select_one("#acting-now").get_text(" ", strip=True)

    today = london_today()
    response = post_form(client, "/account/absence", _form(today, today + timedelta(days=6), "Annual leave"),
                         follow_redirects=True)
    text = page(response).get_text(" ", strip=True)
    assert (f"Absence recorded: You are away from {govuk_date(today)} to {govuk_date(today + timedelta(days=6))}. "
            "Dee Deputy acts as Pages Police’s SPoC on those days.") in text
    [record] = _absences()
    assert (record.user_id, record.recorded_by_id, record.note) == (people["spoc"].id, people["spoc"].id,
                                                                     "Annual leave")
    assert "Dee Deputy (deputy, until" in page(response).select_one("#acting-now").get_text(" ", strip=True)
    assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 2


def test_the_spoc_ends_their_absence_and_acts_again(client, login_as, staff):
    agency, people = staff
    factories.mark_spoc_absent(agency, starts_on=london_today() - timedelta(days=2),
                               ends_on=london_today() + timedelta(days=2))
    db.session.commit()
    login_as(people["spoc"])
    account = page(client.get("/account"))
    form = account.select_one("#absence ~ ul form")
    assert "End this absence now" in form.get_text(" ", strip=True)
    response = post_form(client, form["action"], {}, token_from="/account", follow_redirects=True)
    assert "The absence has ended: You act as SPoC again from now." in page(response).get_text(" ", strip=True)
    db.session.expire_all()
    assert not agency.spoc_absent and agency.acting_spoc == people["spoc"]


@pytest.mark.parametrize("data, messages", [
    ({}, ["Enter the first day away", "Enter the last day away"]),
    ({"starts_on": ["31", "2", "2027"]}, ["The first day away must be a real date", "Enter the last day away"]),
    ({"starts_on": ["1", "", "2027"], "ends_on": ["aa", "1", "2027"]},
     ["The first day away must include a month", "The last day away must be a real date"]),
    ({"note": "<script>alert(1)</script>"}, ["The note must not include the characters < or >"]),
    ({"note": "x" * 201}, ["The note must be 200 characters or fewer"]),
])
def test_bad_input_gets_a_message_and_keeps_what_was_typed(client, login_as, staff, data, messages):
    _, people = staff
    login_as(people["spoc"])
    today = london_today()
    sent = {**_form(today, today + timedelta(days=1)), **data} if "note" in data else data
    response = post_form(client, "/account/absence", sent)
    assert response.status_code == 200
    assert error_summary(response) == messages
    soup = page(response)
    assert soup.title.get_text().startswith("Error: ")
    if "note" in data:
        assert soup.select_one("input[name=note]")["value"] == data["note"][:10000]
    if "starts_on" in data:
        assert [i.get("value", "") for i in soup.select("input[name=starts_on]")] == data["starts_on"]
    assert _absences() == []


def test_a_rule_refusing_the_dates_is_shown_on_its_field(client, login_as, staff):
    _, people = staff
    login_as(people["spoc"])
    today = london_today()
    response = post_form(client, "/account/absence", _form(today + timedelta(days=3), today))
    assert error_summary(response) == ["The last day away must be the same as or after the first day away"]
    assert page(response).select_one("#ends_on-error") is not None


def test_sending_the_form_twice_records_one_absence(client, login_as, staff):
    _, people = staff
    login_as(people["spoc"])
    today = london_today()
    post_form(client, "/account/absence", _form(today, today + timedelta(days=2)))
    again = post_form(client, "/account/absence", _form(today, today + timedelta(days=2)))
    assert error_summary(again)[0].startswith("These dates overlap the absence already recorded")
    assert len(_absences()) == 1


def test_only_the_agencys_spoc_records_their_own_and_nobody_ends_anothers(client, login_as, staff):
    agency, people = staff
    record = factories.mark_spoc_absent(agency, ends_on=london_today() + timedelta(days=3))
    db.session.commit()
    login_as(people["other spoc"])
    response = client.get("/account/absence", follow_redirects=True)
    assert "Only Pages Police’s SPoC records their absence here." in page(response).get_text(" ", strip=True)
    assert page(client.get("/account")).select_one("#absence") is None
    assert post_form(client, f"/account/absence/{record.id}/end", {}, token_from="/account").status_code == 404
    assert db.session.get(SpocAbsence, record.id) is not None


def test_the_deputy_sees_the_absence_they_cover_on_their_account_page(client, login_as, staff):
    agency, people = staff
    factories.mark_spoc_absent(agency, starts_on=london_today(), ends_on=london_today() + timedelta(days=4))
    db.session.commit()
    login_as(people["deputy"])
    account = page(client.get("/account"))
    assert account.select_one("#absence").get_text(strip=True) == "Covering for Pages Police’s SPoC"
    assert "Dee Deputy (deputy, until" in account.select_one("#acting-now").get_text(" ", strip=True)
    assert account.select_one("#absence ~ ul form") is None  # they cover it; they do not change it


def test_the_coordinator_records_an_absence_for_any_spoc_and_ends_it(client, login_as, staff):
    agency, people = staff
    login_as(people["coordinator"])
    cover = page(client.get("/agencies"))
    row = cover.select_one("#agency-pages-police")
    assert "Sam Spoc (SPoC)" in row.get_text(" ", strip=True)
    url = row.select_one("a")["href"]
    assert url == "/agencies/pages-police/absence"
    today = london_today()
    response = post_form(client, url, _form(today + timedelta(days=1), today + timedelta(days=2)),
                         follow_redirects=True)
    assert "Absence recorded: Sam Spoc is away from" in page(response).get_text(" ", strip=True)
    [record] = _absences()
    assert record.recorded_by_id == people["coordinator"].id
    row = page(response).select_one("#agency-pages-police")
    assert "Cancel this absence" in row.get_text(" ", strip=True)
    response = post_form(client, row.select_one("form")["action"], {}, token_from="/agencies", follow_redirects=True)
    assert "The absence has been cancelled. Sam Spoc acts as SPoC." in page(response).get_text(" ", strip=True)
    assert _absences() == []


def test_the_agency_pages_show_who_is_acting_now(client, login_as, staff):
    agency, people = staff
    until = london_today() + timedelta(days=5)
    factories.mark_spoc_absent(agency, starts_on=london_today(), ends_on=until)
    db.session.commit()
    acting = f"Dee Deputy (deputy, until {govuk_date(until)})"
    for who, url, selector in (("coordinator", "/agencies", "#agency-pages-police"),
                               ("admin", "/agencies", "#agency-pages-police"),
                               ("admin", "/admin/agencies", "#agencies")):
        login_as(people[who])
        assert acting in page(client.get(url)).select_one(selector).get_text(" ", strip=True), (who, url)


@pytest.mark.parametrize("url", ["/agencies/nowhere/absence", "/agencies/absences/99999/end"])
def test_unknown_agencies_and_absences_answer_404(client, login_as, staff, url):
    login_as(staff[1]["coordinator"])
    response = client.get(url) if "nowhere" in url else post_form(client, url, {}, token_from="/account/password")
    assert response.status_code == 404
