"""Pages that said the wrong thing (issue 12), as a user meets them: a panel's place and online
link set by the coordinator and carried by the invitations; the subject naming the service once;
no reply asked of someone taken off a list; past panels without "Agenda: Not published"; an
MDT's online link as a working link; the invite.ics download without subscription hints; an
agency without an information sharing agreement not invited to panels."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.meetings import invitations, schedule
from panel.models import Meeting, MeetingKind, Role, utcnow
from tests import factories
from tests.conftest import error_summary, page, post_form
from tests.meetings import agenda_world
from tests.meetings.invite_world import SETTINGS, external, last_id, make_meeting, outbox


@pytest.fixture
def app_config():
    return SETTINGS


@pytest.fixture
def panel_with_invitees(app):
    agency = factories.create_agency(name="Alpha")
    agency.spoc = factories.create_user(role=Role.SPOC, agency=agency, email="spoc@alpha.test")
    panel = agenda_world.panel_meeting(series_key="panel-test")
    invitations.invite_panel(panel, by=None)
    db.session.commit()
    return panel


def test_a_coordinator_sets_a_panels_place_and_link_and_everyone_invited_gets_the_update(
        client, login_as, panel_with_invitees):
    login_as("coordinator")
    panel_id, before = panel_with_invitees.id, last_id()
    url = f"/meetings/{panel_id}/place"

    response = post_form(client, url, {"location": "Committee room 1, Town Hall",
                                       "online_url": "https://meet.example.test/panel"}, follow_redirects=True)

    assert "The panel’s place has been saved" in response.get_data(as_text=True)
    soup = page(client.get(f"/meetings/{panel_id}"))
    link = soup.select_one('.govuk-summary-list a[href="https://meet.example.test/panel"]')
    assert link is not None and link.get_text(strip=True) == "https://meet.example.test/panel"
    assert "Committee room 1, Town Hall" in soup.get_text()
    sent = [m for m in outbox(before) if m.calendar]
    assert sent, "the people invited get the updated invitation"
    for message in sent:
        assert "Where: Committee room 1, Town Hall" in message.body_text
        assert "Join online: https://meet.example.test/panel" in message.body_text
        assert "LOCATION:Committee room 1\\, Town Hall" in message.calendar
        assert "https://meet.example.test/panel" in message.calendar.replace("\r\n ", "")
        assert message.subject.startswith("Updated invitation: Monthly panel, ")
    assert db.session.get(Meeting, panel_id).ical_sequence == 1


@pytest.mark.parametrize("data, field, message", [
    ({"location": "", "online_url": ""}, "location", "Enter where the panel will be, an online link, or both"),
    ({"location": "", "online_url": "http://meet.example.test/x"}, "online_url", "starting with https://"),
    ({"location": "", "online_url": "javascript:alert(1)"}, "online_url", "starting with https://"),
    ({"location": "<script>alert(1)</script>", "online_url": ""}, "location", ""),
    ({"location": "x" * 201, "online_url": ""}, "location", "200 characters or fewer"),
])
def test_a_bad_place_or_link_is_a_govuk_error_and_keeps_what_was_typed(client, login_as, panel_with_invitees,
                                                                        data, field, message):
    login_as("coordinator")
    url = f"/meetings/{panel_with_invitees.id}/place"

    response = post_form(client, url, data)

    assert response.status_code == 200
    errors = error_summary(response)
    assert errors and message in " ".join(errors)
    typed = page(response).select_one(f"input[name={field}]")["value"]
    assert typed == data[field]


def test_only_the_coordinator_can_set_a_panels_place(client, login_as, panel_with_invitees):
    login_as("chair")
    assert client.get(f"/meetings/{panel_with_invitees.id}/place").status_code == 404


def test_the_default_online_link_setting_goes_on_new_panels(app):
    app.config.update(PANEL_LOCATION="Town Hall", PANEL_ONLINE_LINK="https://meet.example.test/monthly")
    created = schedule.ensure_panels()
    assert created and all(m.location == "Town Hall" and m.online_url == "https://meet.example.test/monthly"
                           for m in created)
    app.config.update(PANEL_ONLINE_LINK="javascript:alert(1)")
    db.session.execute(sa.delete(Meeting))
    assert all(m.online_url == "" for m in schedule.ensure_panels())


def test_an_invitation_with_no_place_says_to_be_confirmed_not_online(app):
    panel = agenda_world.panel_meeting(series_key="panel-tbc")
    agency = factories.create_agency()
    agency.spoc = factories.create_user(role=Role.SPOC, agency=agency)
    before = last_id()
    invitations.invite_panel(panel, by=None)
    body = outbox(before)[0].body_text
    assert "Where: To be confirmed" in body and "Where: Online" not in body


def test_an_agency_without_a_signed_isa_is_not_invited_to_panels(app):
    board = factories.create_agency(name="Board", isa="unsigned")
    board.spoc = factories.create_user(role=Role.SPOC, agency=board, email="board.spoc@board.test")
    lapsed = factories.create_agency(name="Lapsed", isa="lapsed")
    lapsed.spoc = factories.create_user(role=Role.SPOC, agency=lapsed, email="lapsed.spoc@lapsed.test")
    ok = factories.create_agency(name="Signed")
    ok.spoc = factories.create_user(role=Role.SPOC, agency=ok, email="signed.spoc@signed.test")
    db.session.flush()

    emails = {p.email for p in invitations.panel_people()}

    assert "signed.spoc@signed.test" in emails
    assert "board.spoc@board.test" not in emails and "lapsed.spoc@lapsed.test" not in emails


def test_someone_taken_off_an_mdt_is_not_asked_whether_they_can_attend(app):
    meeting = make_meeting(start=utcnow() + timedelta(days=5))
    invitations.invite(meeting, [external("Ash", "ash@example.test"), external("Bo", "bo@example.test")], by=None)
    gone = next(a for a in meeting.attendees if a.email == "ash@example.test")
    before = last_id()

    invitations.remove(meeting, gone, by=None)

    to_ash = [m for m in outbox(before) if m.to_addr == "ash@example.test"]
    to_bo = [m for m in outbox(before) if m.to_addr == "bo@example.test"]
    assert to_ash and "whether you can attend" not in to_ash[0].body_text
    assert to_bo and "whether you can attend" in to_bo[0].body_text


def test_a_past_panel_does_not_say_its_agenda_was_not_published(client, login_as):
    past = agenda_world.panel_meeting(utcnow() - timedelta(days=30))
    coming = agenda_world.panel_meeting(utcnow() + timedelta(days=20))
    db.session.commit()
    login_as("chair")

    assert "Not published" not in page(client.get(f"/meetings/{past.id}")).select_one(".govuk-summary-list").get_text()
    assert "Not published yet" in page(client.get(f"/meetings/{coming.id}")).select_one(".govuk-summary-list").get_text()


def test_an_mdts_online_link_is_a_working_link_not_html_text(client, login_as):
    login_as("coordinator")
    case = agenda_world.build(cases=1, actions=0).cases[0]
    meeting = make_meeting(case, start=utcnow() + timedelta(days=3), online_url="https://meet.example.test/a?b=1&c=2")
    db.session.commit()

    soup = page(client.get(f"/meetings/{meeting.id}/mdt"))

    link = soup.select_one('a[href="https://meet.example.test/a?b=1&c=2"]')
    assert link is not None and link.get_text(strip=True) == "https://meet.example.test/a?b=1&c=2"
    assert "&lt;a" not in str(soup) and "<a class" not in soup.get_text()


def test_the_downloaded_invite_has_no_subscription_hints(client, login_as):
    panel = agenda_world.panel_meeting(series_key="panel-ics")
    db.session.commit()
    login_as("coordinator")

    body = client.get(f"/meetings/{panel.id}/invite.ics").get_data(as_text=True)

    assert "BEGIN:VEVENT" in body
    assert "REFRESH-INTERVAL" not in body and "X-PUBLISHED-TTL" not in body and "X-WR-CALNAME" not in body


def test_the_invitation_subject_names_the_service_once(app):
    panel = agenda_world.panel_meeting(series_key="panel-subject")
    assert invitations.summary(panel) == "Monthly panel"
    app.config["SERVICE_NAME"] = "CASPA"
    assert invitations.summary(panel) == "CASPA monthly panel"
    assert MeetingKind.PANEL == panel.kind
