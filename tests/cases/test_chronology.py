"""The chronology: the referral's decisions and the case's events merged in date order, filters,
pagination across both, the printable view, and a fixed number of queries for a large case."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from panel.models import (
    CaseEvent,
    EngagementAttempt,
    EngagementMethod,
    EngagementOutcome,
    ReferralDecision,
    Role,
)
from tests import factories
from tests.cases.helpers import create_case
from tests.conftest import page

UTC = timezone.utc
T0 = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)


@pytest.fixture
def s(db):
    lead = factories.create_agency(code="lead-a", name="Lead Agency")
    hub = factories.create_agency(code="hub", name="Coordination Hub")
    referrer = factories.create_user(role=Role.PRACTITIONER, agency=lead, name="Rene Referrer")
    coordinator = factories.create_user(role=Role.COORDINATOR, agency=hub, name="Cory Coordinator")
    case = create_case(lead=lead)
    db.session.add_all([
        ReferralDecision(referral_id=case.referral_id, outcome="submitted", to_status="submitted",
                         by_id=referrer.id, at=T0),
        ReferralDecision(referral_id=case.referral_id, outcome="to_panel", to_status="awaiting_panel",
                         by_id=coordinator.id, at=T0 + timedelta(days=2)),
        ReferralDecision(referral_id=case.referral_id, outcome="accepted", to_status="accepted",
                         by_id=coordinator.id, at=T0 + timedelta(days=9), reason="Lead agency: Lead Agency"),
        CaseEvent(case_id=case.id, kind="risk", summary="Risk changed from Critical to High", by_id=coordinator.id,
                  agency_id=hub.id, at=T0 + timedelta(days=12)),
        CaseEvent(case_id=case.id, kind="engagement", summary="Phone: engaged", by_id=referrer.id,
                  agency_id=lead.id, at=T0 + timedelta(days=10)),
        CaseEvent(case_id=case.id, kind="insight", summary="Insight record updated", by_id=referrer.id,
                  agency_id=lead.id, at=T0 + timedelta(days=1)),  # before the referral was accepted
    ])
    # another case's referral and events stay out
    other = create_case(lead=lead)
    db.session.add_all([
        ReferralDecision(referral_id=other.referral_id, outcome="submitted", by_id=referrer.id, at=T0),
        CaseEvent(case_id=other.id, kind="risk", summary="Not this case", at=T0),
    ])
    db.session.commit()
    return SimpleNamespace(case=case, lead=lead, hub=hub, url=f"/cases/{case.reference}/chronology")


def _rows(response):
    return [[td.get_text(" ", strip=True) for td in tr.find_all("td")] for tr in page(response).select("table tbody tr")]


def test_referral_decisions_and_case_events_are_merged_newest_first(client, login_as, s):
    login_as("spoc", agency=s.lead)
    rows = _rows(client.get(s.url))
    assert [r[2] for r in rows] == [
        "Risk changed from Critical to High",
        "Phone: engaged",
        "Referral accepted into the pathway: Lead agency: Lead Agency",
        "Referral put on the panel’s agenda",
        "Insight record updated",
        "Referral submitted",
    ]
    assert rows[0] == ["18 January 2025 at 10am", "Risk", "Risk changed from Critical to High", "Coordination Hub",
                       "Cory Coordinator"]
    assert rows[-1][1:] == ["Referral and triage", "Referral submitted", "Lead Agency", "Rene Referrer"]
    assert "Not this case" not in " ".join(" ".join(r) for r in rows)


def test_filters_by_type_and_agency_and_ignores_bad_values(client, login_as, s):
    login_as("coordinator")
    referral = _rows(client.get(s.url + "?kind=referral"))
    assert [r[2].split(":")[0] for r in referral] == [
        "Referral accepted into the pathway", "Referral put on the panel’s agenda", "Referral submitted"]
    hub = _rows(client.get(f"{s.url}?agency={s.hub.id}"))
    assert [r[2] for r in hub] == ["Risk changed from Critical to High", "Referral accepted into the pathway: Lead agency: Lead Agency",
                                   "Referral put on the panel’s agenda"]
    both = _rows(client.get(f"{s.url}?agency={s.lead.id}&kind=engagement"))
    assert [r[2] for r in both] == ["Phone: engaged"]
    for bad in ("?kind=<script>", "?agency=abc", "?agency=99999", "?kind=&agency=", "?page=-1"):
        response = client.get(s.url + bad)
        assert len(_rows(response)) == 6, bad
        assert not page(response).select(".govuk-error-message"), bad
    options = [o["value"] for o in page(client.get(s.url)).select("select[name=agency] option")]
    assert options == ["", str(s.hub.id), str(s.lead.id)]  # agencies that appear, by name


def _bulk_events(db, case, n, *, start=T0, kind="engagement", agency=None, name="Event"):
    db.session.execute(sa.insert(CaseEvent), [
        dict(case_id=case.id, kind=kind, summary=f"{name} {i}", at=start + timedelta(minutes=i),
             agency_id=agency.id if agency else None) for i in range(n)])
    db.session.commit()


def test_pagination_runs_across_both_sources(client, login_as, s, db):
    # 100 more events, half before and half after the referral's decisions
    _bulk_events(db, s.case, 50, start=T0 - timedelta(days=30), name="Earlier")
    _bulk_events(db, s.case, 50, start=T0 + timedelta(days=20), name="Later")
    login_as("coordinator")
    seen = []
    for n in (1, 2, 3):
        response = client.get(f"{s.url}?page={n}")
        seen += [r[2] for r in _rows(response)]
    assert len(seen) == 106 == len(set(seen))  # each entry once
    assert "Showing 101 to 106 of 106 entries" in page(client.get(f"{s.url}?page=3")).get_text(" ")
    assert seen[:2] == ["Later 49", "Later 48"] and seen[-1] == "Earlier 0"
    assert seen.index("Referral submitted") == 55
    filtered = page(client.get(f"{s.url}?kind=engagement&page=3"))
    assert "Showing 101 to 101 of 101 entries matching the filters" in filtered.get_text(" ")
    assert "kind=engagement" in filtered.select_one(".govuk-pagination a")["href"]


def _print_coverage(soup) -> str:
    return soup.select_one("#print-coverage").get_text(" ", strip=True)


def test_the_printable_view_shows_the_last_three_months_unless_other_dates_are_asked_for(client, login_as, s, db):
    """A printed chronology of ten years would run to a hundred pages and take seconds: the
    printable version has the last three months of the chronology (to its newest entry) unless
    dates are chosen, and every entry on request (all=y), as the exports do."""
    _bulk_events(db, s.case, 60, start=T0 + timedelta(days=20))            # 26 January 2025, the newest
    _bulk_events(db, s.case, 30, start=T0 - timedelta(days=200), name="Old")  # June 2024
    login_as("coordinator")
    printable = page(client.get(s.url + "?print=1"))
    rows = printable.select("table tbody tr")
    assert len(rows) == 66 and not any("Old" in r.get_text() for r in rows)
    assert _print_coverage(printable) == ("66 entries dated from 27 October 2024 to 26 January 2025 "
                                          "(the last 3 months of the chronology), of 96 in all.")
    assert printable.select_one(".govuk-pagination") is None and printable.select_one("nav.panel-case-nav") is None
    assert not printable.select("select[name=kind]") and not printable.select("input[name=from]")
    assert "OFFICIAL-SENSITIVE" in printable.get_text(" ")
    every = printable.find("a", string="Print every entry")["href"]
    assert every.endswith("print=1&all=y")

    everything = page(client.get(every))
    assert len(everything.select("table tbody tr")) == 96
    assert _print_coverage(everything) == "Every entry: 96."
    assert everything.find("a", string="Print every entry") is None

    chosen = page(client.get(s.url + "?print=1&from=1&from=6&from=2024&to=31&to=12&to=2024"))
    assert [r.select("td")[2].get_text() for r in chosen.select("table tbody tr")] == [f"Old {i}" for i in range(29, -1, -1)]
    assert _print_coverage(chosen) == "30 entries dated from 1 June 2024 to 31 December 2024, of 96 in all."

    filtered = page(client.get(s.url + "?print=1&kind=referral&all=y"))
    assert len(filtered.select("table tbody tr")) == 3
    assert "Showing only: Referral and triage" in filtered.get_text(" ")
    assert _print_coverage(filtered) == "Every entry: 3 matching the filters."

    screen = page(client.get(s.url))
    assert screen.find("a", string="Printable version")["href"].endswith("print=1")
    assert screen.find("a", string="Printable version of every entry")["href"].endswith("print=1&all=y")
    assert "the last 3 months of the chronology, from 27 October 2024 to 26 January 2025" in screen.get_text(" ")
    form = screen.select_one("#print-dates form")
    assert {i["name"] for i in form.select("input[type=hidden]")} == {"print"}
    assert [i["name"] for i in form.select("input.govuk-date-input__input")] == ["from"] * 3 + ["to"] * 3


def test_dates_to_print_that_are_not_real_show_the_chronology_with_the_error(client, login_as, s):
    login_as("coordinator")
    response = client.get(s.url + "?print=1&kind=risk&from=31&from=2&from=2025&to=&to=&to=")
    assert response.status_code == 200
    soup = page(response)
    assert soup.select_one(".govuk-error-summary").get_text(" ", strip=True).count("Print from must be a real date") == 1
    assert soup.select_one("#print-dates").has_attr("open")
    assert soup.select_one("#from-error") and "govuk-input--error" in soup.select_one("#from-day")["class"]
    assert soup.select_one("nav.panel-case-nav") is not None  # the chronology page, not the printable version
    assert [i["value"] for i in soup.select("#print-dates input[type=hidden]")] == ["1", "risk"]
    backwards = page(client.get(s.url + "?print=1&from=2025-02-01&to=2025-01-01"))
    assert "Print to must be the same as or after print from" in backwards.select_one(".govuk-error-summary").get_text()


def test_a_restricted_viewer_gets_404(client, login_as, s):
    login_as("spoc", agency=factories.create_agency())
    assert client.get(s.url).status_code == 404


def _grow(db, case, agency, events: int, attempts: int) -> None:
    db.session.execute(sa.insert(CaseEvent), [
        dict(case_id=case.id, kind=("risk", "engagement", "insight")[i % 3], summary=f"Event {i}",
             at=T0 + timedelta(minutes=7 * i), agency_id=agency.id) for i in range(events)])
    methods, outcomes = list(EngagementMethod), list(EngagementOutcome)
    db.session.execute(sa.insert(EngagementAttempt), [
        dict(case_id=case.id, agency_id=agency.id, method=methods[i % len(methods)],
             outcome=outcomes[i % len(outcomes)], occurred_at=T0 + timedelta(minutes=53 * i),
             persons_words="Words", worker_view="View") for i in range(attempts)])
    db.session.commit()


def test_a_large_case_renders_in_the_same_number_of_queries_as_a_small_one(client, login_as, db, count_queries):
    lead = factories.create_agency(code="lead-z")
    small, large = create_case(lead=lead), create_case(lead=lead)
    for case in (small, large):
        db.session.add(ReferralDecision(referral_id=case.referral_id, outcome="submitted", at=T0))
    db.session.commit()
    _grow(db, small, lead, 5, 2)
    _grow(db, large, lead, 5000, 2000)
    login_as("spoc", agency=lead)
    for path in ("chronology", "chronology?page=40", "chronology?print=1", "chronology?print=1&all=y",
                 "chronology?print=1&from=2025-01-06&to=2025-01-07&kind=risk", "chronology?kind=risk&agency=1",
                 "engagement", "engagement?page=20", "engagement/patterns"):
        client.get(f"/cases/{small.reference}/{path}")  # warm
        with count_queries() as few:
            response = client.get(f"/cases/{small.reference}/{path}")
        assert response.status_code == 200
        with count_queries() as many:
            response = client.get(f"/cases/{large.reference}/{path}")
        assert response.status_code == 200
        assert many.count == few.count, (path, few.statements, many.statements)
    text = page(client.get(f"/cases/{large.reference}/chronology?page=40")).get_text(" ")
    assert "Showing 1951 to 2000 of 5001 entries" in text
    text = page(client.get(f"/cases/{large.reference}/engagement?page=40")).get_text(" ")
    assert "Showing 1951 to 2000 of 2000 attempts" in text


def test_the_written_out_markup_is_what_the_govuk_macros_draw(app, client, login_as, s):
    """The table and the date inputs are written out in the template (issue 18: a macro for each
    cell of a printed chronology cost most of its time), as data_table and the date field's GOV.UK
    widget draw them: the same elements, attributes and text."""
    from markupsafe import Markup
    from werkzeug.datastructures import MultiDict

    from panel.cases.engagement_forms import ChronologyPrintForm
    from tests.meetings.markup import elements

    login_as("coordinator")
    soup = page(client.get(s.url + "?print=1&from=31&from=2&from=2025&to=1&to=3&to=2025"))
    table = soup.select_one(".panel-table-container")
    head = [th.get_text() for th in table.select("thead th")]
    rows = [{"attributes": {"id": tr["id"]}, "cells": [Markup(td.decode_contents()) for td in tr.select("td")]}
            for tr in table.select("tbody tr")]
    assert len(rows) == 6
    with app.test_request_context("/"):
        drawn = app.jinja_env.from_string(
            '{% from "components/table.html" import data_table %}{{ data_table(head, rows, '
            "caption='Chronology, newest first', caption_classes='govuk-visually-hidden', classes='panel-chronology') }}"
        ).render(head=head, rows=rows)
    assert elements(str(table)) == elements(drawn)

    with app.test_request_context("/"):
        form = ChronologyPrintForm(MultiDict([("from", "31"), ("from", "2"), ("from", "2025"),
                                              ("to", "1"), ("to", "3"), ("to", "2025")]))
        assert not form.validate()
        widgets = [str(form.date_from(params={"hint": {"text": "For example, 1 4 2026"}})),
                   str(form.date_to(params={"hint": {"text": "For example, 30 6 2026"}}))]
    ours = [group for group in soup.select("#print-dates form > .govuk-form-group")]
    assert len(ours) == 2
    for written, widget in zip(ours, widgets, strict=True):
        assert elements(str(written)) == elements(widget)
    assert soup.select_one("#from-error") and not soup.select_one("#to-error")
