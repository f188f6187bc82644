"""Issue 12, as a user meets it: list filters without an error on first load; triage naming the
panel a referral goes to (and saying when it missed a cut-off); the chair's acknowledgement not
asking about "your agency"; <time datetime> values HTML accepts; one csrf_token id per page."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from panel.actions import services as action_services
from panel.dates import LONDON, html_datetime
from panel.extensions import db
from panel.models import ReferralStatus, Role, utcnow
from tests import factories
from tests.actions import pages_world
from tests.conftest import error_summary, page, post_form
from tests.meetings import agenda_world


@pytest.mark.parametrize("role", ["coordinator", "chair", "spoc", "practitioner"])
def test_the_referral_list_shows_no_error_on_first_load(client, login_as, role):
    login_as(role, agency=factories.create_agency())
    response = client.get("/referrals")
    assert response.status_code == 200
    assert "Not a valid choice" not in response.get_data(as_text=True)
    assert not page(response).title.get_text().startswith("Error")


@pytest.mark.parametrize("query", ["", "?role=&agency=", "?role=wizard&agency=999999", "?agency=x%3Cscript%3E"])
def test_the_user_list_shows_no_error_for_any_filter(client, login_as, query):
    login_as("admin", agency=factories.create_agency())
    response = client.get(f"/admin/users{query}")
    assert response.status_code == 200
    assert "Not a valid choice" not in response.get_data(as_text=True)
    assert page(response).select(".govuk-error-message") == []


def test_a_bad_referral_filter_is_ignored_quietly_and_a_good_one_applies(client, login_as):
    login_as("coordinator", agency=factories.create_agency())
    response = client.get("/referrals?status=nonsense&agency=12abc")
    assert response.status_code == 200 and "Not a valid choice" not in response.get_data(as_text=True)
    chosen = page(client.get("/referrals?status=awaiting_panel")).select_one("select[name=status] option[selected]")
    assert chosen is not None and chosen["value"] == "awaiting_panel"


def _submitted(at: datetime):
    return factories.create_referral(agency=factories.create_agency(), status=ReferralStatus.SUBMITTED,
                                     submitted_at=at)


def test_triage_names_the_panel_after_the_next_when_the_referral_missed_its_cutoff(client, login_as):
    now = utcnow()
    soon = agenda_world.panel_meeting(now + timedelta(days=6), cutoff_days=8)   # its cut-off has passed
    later = agenda_world.panel_meeting(now + timedelta(days=34), cutoff_days=5)
    referral = _submitted(now - timedelta(hours=1))
    db.session.commit()
    login_as("coordinator")
    url = f"/referrals/{referral.id}/triage"
    soon_day = soon.starts_at.astimezone(LONDON)
    later_day = later.starts_at.astimezone(LONDON)

    hint = page(client.get(url)).get_text(" ", strip=True)
    assert f"the cut-off ({soon.cutoff_on.day} {soon.cutoff_on:%B %Y}) for the panel on {soon_day.day} " in hint
    assert f"goes on the agenda of the panel on {later_day.day} {later_day:%B %Y}" in hint

    done = post_form(client, url, {"outcome": "to_panel"}, follow_redirects=True)
    banner = page(done).select_one(".govuk-notification-banner").get_text(" ", strip=True)
    assert f"is on the agenda of the panel on {later_day.day} {later_day:%B %Y}" in banner
    assert "next panel" not in banner


def test_triage_names_the_next_panel_when_the_referral_came_in_time(client, login_as):
    now = utcnow()
    soon = agenda_world.panel_meeting(now + timedelta(days=20), cutoff_days=5)
    referral = _submitted(now - timedelta(days=1))
    db.session.commit()
    login_as("coordinator")
    day = soon.starts_at.astimezone(LONDON)

    done = post_form(client, f"/referrals/{referral.id}/triage", {"outcome": "to_panel"}, follow_redirects=True)

    assert f"is on the agenda of the panel on {day.day} {day:%B %Y}" in page(done).get_text(" ", strip=True)


def test_the_chair_is_not_asked_what_their_agency_will_do(client, login_as):
    world = pages_world.build()
    escalation = action_services.escalate_by_hand(world.action, to_chair=True, reason="Stuck",
                                                  by=world.user("coordinator"))
    db.session.commit()
    login_as(world.user("chair"))
    url = f"/actions/escalations/{escalation.id}/acknowledge"

    form = client.get(url)
    assert "What will your agency do?" not in form.get_data(as_text=True)
    assert page(form).select_one("label[for=comment]").get_text(strip=True) == "What will happen next?"
    assert error_summary(post_form(client, url, {"comment": ""})) == ["Enter what will happen next"]


def test_html_datetime_is_whole_seconds_in_utc_or_a_date():
    moment = datetime(2027, 7, 14, 13, 5, 9, 123456, tzinfo=LONDON)
    assert html_datetime(moment) == "2027-07-14T12:05:09Z"
    assert html_datetime(moment.astimezone(timezone.utc).date()) == "2027-07-14"
    assert html_datetime(None) == ""


def test_the_audit_trail_has_no_fractional_seconds_in_time_elements(client, login_as):
    pages_world.build()
    db.session.commit()
    login_as("admin", agency=factories.create_agency())
    html = client.get("/admin/audit").get_data(as_text=True)
    values = re.findall(r'<time datetime="([^"]+)"', html)
    assert values and all(re.fullmatch(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\dZ)?", v) for v in values), values


def test_a_referral_page_with_two_forms_has_one_csrf_token_id(client, login_as):
    agency = factories.create_agency()
    first = factories.create_referral(agency=agency, status=ReferralStatus.WAITING, submitted_at=utcnow())
    db.session.commit()
    login_as("coordinator", agency=agency)
    html = client.get(f"/referrals/{first.id}").get_data(as_text=True)
    assert html.count('id="csrf_token"') <= 1
    assert Role.COORDINATOR
