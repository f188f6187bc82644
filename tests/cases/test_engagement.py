"""The engagement log: recording attempts (London time stored as UTC, every validation error,
agencies limited to those involved), the log's pagination and filters, the person's own words
kept apart from the worker's view, the audit trail, and the missed-visits notice."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from panel.cases.views import engagement_views
from panel.models import (
    AuditAction,
    AuditEvent,
    CaseNotice,
    CaseStatus,
    EngagementAttempt,
    EngagementMethod,
    EngagementOutcome,
    NonEngagementKind,
    OutboxMessage,
    Role,
)
from tests import factories
from tests.cases.helpers import create_case
from tests.conftest import error_summary, page, post_form

UTC = timezone.utc


@pytest.fixture
def s(db):
    lead = factories.create_agency(code="lead-a", name="Lead Agency")
    second = factories.create_agency(code="second-b", name="Second Agency")
    outside = factories.create_agency(code="outside-c", name="Outside Agency")
    case = create_case(lead=lead, involved=[second], given_name="Zebedee", family_name="Quaintly")
    db.session.commit()
    ref = case.reference
    return SimpleNamespace(lead=lead, second=second, outside=outside, case=case, ref=ref,
                           new=f"/cases/{ref}/engagement/new", log=f"/cases/{ref}/engagement")


def _form(agency, **over) -> dict:
    data = {"agency_id": str(agency), "method": "phone", "occurred_on": ["14", "1", "2025"],
            "occurred_time": "10:30", "outcome": "engaged", "persons_words": "", "worker_view": "",
            "non_engagement": ""}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def _attempts(db):
    db.session.expire_all()
    return db.session.execute(sa.select(EngagementAttempt).order_by(EngagementAttempt.id)).scalars().all()


def test_an_involved_spoc_records_an_attempt(client, login_as, s, db):
    user = login_as("spoc", agency=s.lead)
    form = page(client.get(s.new))
    assert form.find("input", attrs={"name": "agency_id", "value": str(s.lead.id)}).has_attr("checked")
    agency_values = {i["value"] for i in form.find_all("input", attrs={"name": "agency_id"})}
    assert agency_values == {str(s.lead.id), str(s.second.id)}  # involved agencies only
    response = post_form(client, s.new, _form(
        s.second.id, method="home_visit", outcome="partly_engaged", occurred_on=["14", "1", "2025"],
        occurred_time="19:05", persons_words="I only open the door to Jo.", worker_view="Seemed calmer.",
        non_engagement="ambivalence", small_step="y"), follow_redirects=True)
    assert response.status_code == 200
    assert "The attempt has been recorded." in page(response).get_text(" ")
    (attempt,) = _attempts(db)
    assert attempt.agency_id == s.second.id and attempt.recorded_by_id == user.id
    assert attempt.method == EngagementMethod.HOME_VISIT and attempt.planned  # visits count as planned
    assert attempt.outcome == EngagementOutcome.PARTLY_ENGAGED
    assert attempt.occurred_at == datetime(2025, 1, 14, 19, 5, tzinfo=UTC)  # GMT: London time is UTC
    assert attempt.out_of_hours  # after 5pm
    assert attempt.non_engagement == NonEngagementKind.AMBIVALENCE and attempt.small_step
    assert (attempt.persons_words, attempt.worker_view) == ("I only open the door to Jo.", "Seemed calmer.")


def test_london_summer_time_is_stored_as_utc(client, login_as, s, db):
    login_as("spoc", agency=s.lead)
    post_form(client, s.new, _form(s.lead.id, occurred_on=["15", "7", "2025"], occurred_time="09:30"))
    post_form(client, s.new, _form(s.lead.id, occurred_on=["26", "10", "2025"], occurred_time="1.30"))
    summer, overlap = _attempts(db)
    assert summer.occurred_at == datetime(2025, 7, 15, 8, 30, tzinfo=UTC)
    assert not summer.out_of_hours  # 09:30 London on a Tuesday is in hours, though 08:30 UTC
    assert overlap.occurred_at == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # the first 01:30 (BST)
    text = page(client.get(s.log)).get_text(" ")
    assert "15 July 2025 at 9:30am" in text and "26 October 2025 at 1:30am" in text


def test_a_time_the_clocks_skipped_is_refused(client, login_as, s, db):
    login_as("spoc", agency=s.lead)
    response = post_form(client, s.new, _form(s.lead.id, occurred_on=["30", "3", "2025"], occurred_time="01:30"))
    assert error_summary(response) == [
        "Enter a real time: 01:30 did not happen on 30 March 2025 because the clocks went forward"]
    assert _attempts(db) == []


@pytest.mark.parametrize("over, message", [
    ({"agency_id": None}, "Select the agency that made the attempt"),
    ({"agency_id": "abc"}, "Select the agency that made the attempt"),
    ({"method": None}, "Select how they tried to reach the person"),
    ({"method": "teleport"}, "Select how they tried to reach the person"),
    ({"occurred_on": ["", "", ""]}, "Enter the date of the attempt"),
    ({"occurred_on": ["31", "2", "2025"]}, "Date of the attempt must be a real date"),
    ({"occurred_on": ["1", "", "2025"]}, "Date of the attempt must include a month"),
    ({"occurred_on": ["1", "2", "25"]}, "Year must include 4 numbers"),
    ({"occurred_time": ""}, "Enter the time of the attempt"),
    ({"occurred_time": "25:00"}, "Enter a real time, like 14:30"),
    ({"occurred_time": "half past ten"}, "Enter a real time, like 14:30"),
    ({"occurred_time": "10:75"}, "Enter a real time, like 14:30"),
    ({"outcome": None}, "Select what happened"),
    ({"outcome": "vanished"}, "Select what happened"),
    ({"persons_words": "x" * 5001}, "The person’s own words must be 5,000 characters or fewer"),
    ({"worker_view": "x" * 5001}, "The worker’s view must be 5,000 characters or fewer"),
    ({"non_engagement": "sulking"}, "Select the kind of non-engagement seen, or none seen"),
])
def test_each_validation_error(client, login_as, s, db, over, message):
    login_as("spoc", agency=s.lead)
    response = post_form(client, s.new, _form(s.lead.id, **over))
    assert response.status_code == 200
    assert message in error_summary(response)
    assert page(response).title.get_text().startswith("Error:")
    assert _attempts(db) == []


def test_typed_input_is_kept_on_error_and_shown_escaped(client, login_as, s, db):
    login_as("spoc", agency=s.lead)
    response = post_form(client, s.new, _form(s.lead.id, occurred_time="", persons_words="<b>Go away</b>"))
    html = response.get_data(as_text=True)
    assert "&lt;b&gt;Go away&lt;/b&gt;" in html and "<b>Go away</b>" not in html
    post_form(client, s.new, _form(s.lead.id, persons_words="<b>Go\x00 away</b>\r\nsecond line"))
    (attempt,) = _attempts(db)
    assert attempt.persons_words == "<b>Go away</b>\nsecond line"  # control characters stripped
    html = client.get(s.log).get_data(as_text=True)
    assert "&lt;b&gt;Go away&lt;/b&gt;" in html and "<b>Go away</b>" not in html


def test_a_future_time_is_refused(client, login_as, s, db, monkeypatch):
    login_as("spoc", agency=s.lead)
    monkeypatch.setattr(engagement_views, "utcnow", lambda: datetime(2025, 6, 1, 11, 0, tzinfo=UTC))  # noon BST
    later_today = post_form(client, s.new, _form(s.lead.id, occurred_on=["1", "6", "2025"], occurred_time="12:30"))
    assert error_summary(later_today) == ["Time of the attempt must be in the past"]
    tomorrow = post_form(client, s.new, _form(s.lead.id, occurred_on=["2", "6", "2025"]))
    assert error_summary(tomorrow) == ["Date of the attempt must be today or in the past"]
    # The service has the last word: a form that thinks it is 2100 still cannot save the future.
    monkeypatch.setattr(engagement_views, "utcnow", lambda: datetime(2100, 1, 1, tzinfo=UTC))
    future = post_form(client, s.new, _form(s.lead.id, occurred_on=["2", "6", "2099"]))
    assert error_summary(future) == ["The date and time of the attempt must be in the past"]
    assert _attempts(db) == []


def test_an_agency_not_involved_cannot_be_chosen(client, login_as, s, db):
    login_as("coordinator")
    form = page(client.get(s.new))
    assert not any(i.has_attr("checked") for i in form.find_all("input", attrs={"name": "agency_id"}))
    response = post_form(client, s.new, _form(s.outside.id))
    assert error_summary(response) == ["Select the agency that made the attempt"]
    assert _attempts(db) == []


@pytest.mark.parametrize("role, where, status", [
    ("chair", "lead", 404),          # chairs read the record; they do not record on it
    ("spoc", "outside", 404),        # restricted view only
    ("practitioner", "outside", 404),
    ("practitioner", "second", 200),
    ("coordinator", "outside", 200),
])
def test_who_may_record_an_attempt(client, login_as, s, role, where, status):
    login_as(role, agency=getattr(s, where))
    assert client.get(s.new).status_code == status


def test_the_log_is_404_for_a_restricted_viewer_and_readable_by_the_chair(client, login_as, s):
    login_as("spoc", agency=s.outside)
    assert client.get(s.log).status_code == 404
    post_form(client, "/logout", {})
    login_as("chair")
    response = client.get(s.log)
    assert response.status_code == 200
    assert not [a for a in page(response).find_all("a") if a.get_text(strip=True) == "Record an attempt"]


def test_nothing_is_recorded_on_a_closed_case(client, login_as, s, db):
    s.case.status = CaseStatus.CLOSED
    db.session.commit()
    login_as("spoc", agency=s.lead)
    assert "This case is closed" in page(client.get(s.new)).get_text(" ")
    post_form(client, s.new, _form(s.lead.id), token_from="/account/password")
    assert _attempts(db) == []


def _bulk(db, case, agency, n, **over):
    base = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    values = {"method": EngagementMethod.PHONE, "outcome": EngagementOutcome.NO_ANSWER, **over}
    rows = [dict(case_id=case.id, agency_id=agency.id, occurred_at=base + timedelta(hours=i), **values)
            for i in range(n)]
    db.session.execute(sa.insert(EngagementAttempt), rows)
    db.session.commit()


def test_the_log_is_newest_first_paginated_and_filtered(client, login_as, s, db):
    _bulk(db, s.case, s.lead, 70)
    _bulk(db, s.case, s.second, 50, outcome=EngagementOutcome.ENGAGED)
    login_as("spoc", agency=s.lead)
    first = page(client.get(s.log))
    rows = first.select("tbody tr[id^=attempt-]")
    assert len(rows) == 50
    assert "Showing 1 to 50 of 120 attempts" in first.get_text(" ")
    assert first.select_one(".govuk-pagination") is not None
    times = [r.find("time")["datetime"] for r in rows]
    assert times == sorted(times, reverse=True)
    last = page(client.get(s.log + "?page=3"))
    assert len(last.select("tbody tr[id^=attempt-]")) == 20
    assert "Showing 101 to 120 of 120 attempts" in last.get_text(" ")
    beyond = page(client.get(s.log + "?page=99"))  # past the end: the last page
    assert "Showing 101 to 120" in beyond.get_text(" ")
    by_agency = page(client.get(f"{s.log}?agency={s.second.id}"))
    assert "50 attempts matching the filters" in by_agency.get_text(" ")
    assert {r.find_all("td")[1].get_text(" ", strip=True).split(" ")[0] for r in by_agency.select("tbody tr")} == {"Second"}
    by_outcome = page(client.get(f"{s.log}?outcome=no_answer&agency={s.lead.id}&page=2"))
    assert "Showing 51 to 70 of 70 attempts matching the filters" in by_outcome.get_text(" ")
    assert "agency=" in by_outcome.select_one(".govuk-pagination a")["href"]
    assert not first.select(".govuk-error-message")
    for bad in ("?agency=abc&outcome=<script>&page=x", "?agency=99999", f"?agency={s.outside.id}"):
        ignored = page(client.get(s.log + bad))
        assert "Showing 1 to 50 of 120 attempts" in ignored.get_text(" "), bad
        assert not ignored.select(".govuk-error-message"), bad
        assert ignored.select_one("select[name=agency] option[selected]")["value"] == ""


def test_the_persons_words_are_shown_apart_from_the_workers_view(client, login_as, s, db):
    login_as("spoc", agency=s.lead)
    post_form(client, s.new, _form(s.lead.id, persons_words="Leave me alone today.",
                                   worker_view="Curtains drawn; they spoke through the door.", small_step="y",
                                   non_engagement="avoidance", occurred_time="22:15"))
    row = page(client.get(s.log)).select_one("tbody tr[id^=attempt-]")
    words = row.select_one(".panel-persons-words").get_text(" ", strip=True)
    view = row.select_one(".panel-worker-view").get_text(" ", strip=True)
    assert words == "In their words Leave me alone today."
    assert view == "Worker’s view Curtains drawn; they spoke through the door."
    text = row.get_text(" ", strip=True)
    assert "Out of hours" in text and "Small step" in text and "Non-engagement: avoidance" in text
    assert "14 January 2025 at 10:15pm" in text and "Lead Agency" in text and "Phone" in text


def test_recording_and_viewing_are_audited_without_personal_data(client, login_as, s, db):
    user = login_as("spoc", agency=s.lead)
    post_form(client, s.new, _form(s.lead.id, persons_words="Secretive words", worker_view="Private view"))
    client.get(s.log)
    events = db.session.execute(sa.select(AuditEvent).where(AuditEvent.user_id == user.id)
                                .order_by(AuditEvent.id)).scalars().all()
    created = [e for e in events if e.action == AuditAction.CREATE]
    assert [(e.object_type, e.summary) for e in created] == [("engagement_attempt", f'{{"case": "{s.ref}"}}')]
    views = [e.summary for e in events if e.action == AuditAction.VIEW and e.object_id == s.ref]
    assert any('"section": "engagement"' in v for v in views)
    assert not any("Secretive" in e.summary or "Private" in e.summary or "Zebedee" in e.summary for e in events)


def test_two_missed_planned_visits_raise_the_notice_once(client, login_as, s, db):
    spoc = factories.create_user(role=Role.SPOC, agency=s.lead, email="lead.spoc@test.invalid")
    s.lead.spoc = spoc
    factories.create_user(role=Role.COORDINATOR, email="coord@test.invalid")
    db.session.commit()
    login_as("practitioner", agency=s.second)
    first = post_form(client, s.new, _form(s.second.id, method="home_visit", outcome="not_in",
                                           occurred_on=["1", "2", "2025"]), follow_redirects=True)
    assert "Two planned visits" not in page(first).get_text(" ")
    second = post_form(client, s.new, _form(s.second.id, method="office_appointment", outcome="missed_appointment",
                                            occurred_on=["3", "2", "2025"]), follow_redirects=True)
    assert "Two planned visits in a row have been missed" in page(second).get_text(" ")
    third = post_form(client, s.new, _form(s.second.id, method="home_visit", outcome="not_in",
                                           occurred_on=["5", "2", "2025"]), follow_redirects=True)
    assert "Two planned visits" not in page(third).get_text(" ")
    assert db.session.execute(sa.select(sa.func.count(CaseNotice.id))).scalar_one() == 1
    mails = db.session.execute(sa.select(OutboxMessage).where(
        OutboxMessage.subject.startswith("Two planned visits missed"))).scalars().all()
    assert sorted(m.to_addr for m in mails) == ["coord@test.invalid", "lead.spoc@test.invalid"]
    assert all("Zebedee" not in m.body_text and "Quaintly" not in m.body_text for m in mails)


def test_dates_in_the_form_are_london_dates(client, login_as, s, db, monkeypatch):
    """At 00:30 BST on 1 June it is still 31 May in UTC: 1 June is today, not the future."""
    login_as("spoc", agency=s.lead)
    monkeypatch.setattr(engagement_views, "utcnow", lambda: datetime(2025, 5, 31, 23, 30, tzinfo=UTC))
    response = post_form(client, s.new, _form(s.lead.id, occurred_on=["1", "6", "2025"], occurred_time="00:10"))
    assert response.status_code == 302
    (attempt,) = _attempts(db)
    assert attempt.occurred_at == datetime(2025, 5, 31, 23, 10, tzinfo=UTC)
    assert date(2025, 6, 1) == attempt.occurred_at.astimezone(engagement_views.pattern_figures.LONDON).date()
