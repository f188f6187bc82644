"""Invitations through the service and the outbox: one email per attendee addressed to them,
the right METHOD for each change, SEQUENCE raised on every change of time, place or status,
removal, re-invitation, replies; a monthly panel's invitations; the invite.ics download."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from panel.extensions import db
from panel.meetings import invitations, schedule
from panel.models import (
    AttendeeResponse,
    AuditAction,
    AuditEvent,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Role,
    User,
    utcnow,
)
from panel.forms.errors import ServiceError
from tests import factories
from tests.cases.helpers import create_case
from tests.conftest import csrf_token, page
from tests.meetings.ics_checks import attendee_emails, parse
from tests.meetings.invite_world import SETTINGS, external, last_id, london, make_meeting, outbox, parsed

UTC = timezone.utc


@pytest.fixture
def app_config():
    return dict(SETTINGS)


@pytest.fixture
def world(app):
    police = factories.create_agency(name="Police")
    housing = factories.create_agency(name="Housing")
    coordinator = factories.create_user(role=Role.COORDINATOR, name="Cora Coordinator", email="cora@council.test")
    spoc = factories.create_user(role=Role.SPOC, agency=police, name="Sam Spoc", email="sam@police.test")
    case = create_case(lead=police, involved=(housing,))
    meeting = make_meeting(case)
    db.session.commit()
    return {"police": police, "housing": housing, "coordinator": coordinator, "spoc": spoc, "case": case,
            "meeting": meeting}


def _invite_three(world):
    people = [invitations.Person.of(world["spoc"]),
              external("Hana Housing", "Hana@Housing.test", "Housing"),
              external("Wyn Worker", "wyn@nhs.test", "NHS")]
    added = invitations.invite(world["meeting"], people, by=world["coordinator"])
    db.session.commit()
    return added


def test_an_invitation_is_one_email_per_attendee_addressed_to_them_with_every_attendee_listed(world):
    meeting = world["meeting"]
    added = _invite_three(world)

    messages = outbox()
    assert [m.to_addr for m in messages] == ["sam@police.test", "hana@housing.test", "wyn@nhs.test"]
    assert len(added) == 3 and [a.invited_sequence for a in added] == [0, 0, 0]
    for message in messages:
        assert message.calendar_method == "REQUEST"
        assert message.subject.startswith(f"Invitation: MDT meeting – case {world['case'].reference}, ")
        event = parsed(message).event
        assert event.uid == meeting.ical_uid
        assert event.sequence == 0
        assert event.organizer == "mailto:panel@panel.test"
        assert sorted(attendee_emails(event)) == ["hana@housing.test", "sam@police.test", "wyn@nhs.test"]
        assert event.url == f"https://panel.test/meetings/{meeting.id}"
        assert event.location == "Room 2, Town Hall"
        assert event.start == datetime(2027, 3, 25, 10, tzinfo=UTC)
        assert f"https://panel.test/meetings/{meeting.id}" in message.body_text
        assert "25 March 2027, 10:00 to 11:00 (UK time)" in message.body_text
    # the same user is a user attendee; the others are external
    assert [a.user_id for a in added] == [world["spoc"].id, None, None]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "meeting", AuditEvent.object_id == str(meeting.id))) == 1


def test_inviting_someone_already_on_the_list_sends_nothing(world):
    _invite_three(world)
    before = last_id()

    again = invitations.invite(world["meeting"], [external("Hana Housing", "hana@housing.test")], by=None)

    assert again == [] and outbox(before) == []


def test_each_change_of_time_or_place_raises_sequence_and_sends_everyone_the_updated_request(world):
    meeting = world["meeting"]
    _invite_three(world)

    before = last_id()
    meeting.starts_at, meeting.ends_at = london(2027, 4, 1), london(2027, 4, 1, 11, 30)
    assert invitations.changed(meeting, by=world["coordinator"]) == 3
    db.session.commit()
    moved = outbox(before)
    assert meeting.ical_sequence == 1
    assert sorted(m.to_addr for m in moved) == ["hana@housing.test", "sam@police.test", "wyn@nhs.test"]
    for message in moved:
        event = parsed(message).event
        assert message.calendar_method == "REQUEST" and message.subject.startswith("Updated invitation: ")
        assert (event.uid, event.sequence) == (meeting.ical_uid, 1)
        assert event.start == datetime(2027, 4, 1, 9, tzinfo=UTC)  # 10:00 BST
        assert event.end == datetime(2027, 4, 1, 10, 30, tzinfo=UTC)

    before = last_id()
    meeting.location = "Room 5; Civic Centre, Luton"
    invitations.changed(meeting, by=world["coordinator"])
    db.session.commit()
    placed = [parsed(m).event for m in outbox(before)]
    assert [e.sequence for e in placed] == [2, 2, 2]
    assert {e.location for e in placed} == {"Room 5; Civic Centre, Luton"}
    assert {a.invited_sequence for a in meeting.attendees} == {2}


def test_a_removed_attendee_gets_a_cancel_and_the_others_a_request_with_the_shorter_list(world):
    meeting = world["meeting"]
    added = _invite_three(world)
    before = last_id()

    invitations.remove(meeting, added[2], by=world["coordinator"])
    db.session.commit()

    messages = outbox(before)
    assert meeting.ical_sequence == 1
    cancel = [m for m in messages if m.calendar_method == "CANCEL"]
    requests = [m for m in messages if m.calendar_method == "REQUEST"]
    assert [m.to_addr for m in cancel] == ["wyn@nhs.test"]
    assert sorted(m.to_addr for m in requests) == ["hana@housing.test", "sam@police.test"]
    removed = parsed(cancel[0]).event
    assert (removed.uid, removed.sequence, removed.status) == (meeting.ical_uid, 1, None)
    assert attendee_emails(removed) == ["wyn@nhs.test"]
    assert cancel[0].subject.startswith("Cancelled: ")
    for message in requests:
        event = parsed(message).event
        assert (event.uid, event.sequence) == (meeting.ical_uid, 1)
        assert sorted(attendee_emails(event)) == ["hana@housing.test", "sam@police.test"]
    assert added[2].removed_at is not None and not added[2].current
    with pytest.raises(ServiceError):
        invitations.remove(meeting, added[2], by=None)


def test_someone_removed_can_be_invited_again_with_the_current_sequence_and_full_list(world):
    meeting = world["meeting"]
    added = _invite_three(world)
    invitations.record_response(added[2], AttendeeResponse.DECLINED, by=world["coordinator"])
    invitations.remove(meeting, added[2], by=world["coordinator"])
    db.session.commit()
    before = last_id()

    again = invitations.invite(meeting, [external("Wyn Worker", "wyn@nhs.test", "NHS")], by=world["coordinator"])
    db.session.commit()

    assert again == [added[2]] and added[2].current
    assert added[2].response == AttendeeResponse.NEEDS_ACTION
    [message] = outbox(before)
    assert message.to_addr == "wyn@nhs.test" and message.calendar_method == "REQUEST"
    assert message.subject.startswith("Invitation: ")
    event = parsed(message).event
    assert (event.uid, event.sequence) == (meeting.ical_uid, 2)  # newer than the CANCEL they had at 1
    assert sorted(attendee_emails(event)) == ["hana@housing.test", "sam@police.test", "wyn@nhs.test"]


def test_cancelling_raises_sequence_and_sends_every_current_attendee_a_cancel_with_status_cancelled(world):
    meeting = world["meeting"]
    added = _invite_three(world)
    invitations.remove(meeting, added[0], by=None)
    db.session.commit()
    before = last_id()

    meeting.status = MeetingStatus.CANCELLED
    assert invitations.cancelled(meeting, by=world["coordinator"]) == 2
    db.session.commit()

    messages = outbox(before)
    assert sorted(m.to_addr for m in messages) == ["hana@housing.test", "wyn@nhs.test"]
    for message in messages:
        event = parsed(message).event
        assert message.calendar_method == "CANCEL"
        assert (event.uid, event.sequence, event.status) == (meeting.ical_uid, 2, "CANCELLED")
    with pytest.raises(ServiceError):
        invitations.invite(meeting, [external("Late Comer", "late@x.test")], by=None)
    with pytest.raises(ServiceError):
        invitations.changed(meeting, by=None)


def test_sequence_sent_to_each_person_only_ever_goes_up_and_the_uid_never_changes(world):
    meeting = world["meeting"]
    added = _invite_three(world)
    meeting.starts_at, meeting.ends_at = london(2027, 10, 29), london(2027, 10, 29, 11)
    invitations.changed(meeting, by=None)
    invitations.remove(meeting, added[1], by=None)
    invitations.invite(meeting, [external("Hana Housing", "hana@housing.test")], by=None)
    meeting.location = "Online"
    invitations.changed(meeting, by=None)
    meeting.status = MeetingStatus.CANCELLED
    invitations.cancelled(meeting, by=None)
    db.session.commit()

    seen: dict[str, list[int]] = {}
    for message in outbox():
        event = parsed(message).event
        assert event.uid == meeting.ical_uid
        seen.setdefault(message.to_addr, []).append(event.sequence)
    for address, sequences in seen.items():
        assert all(a < b for a, b in zip(sequences, sequences[1:], strict=False)), (address, sequences)
    assert seen["hana@housing.test"] == [0, 1, 2, 3, 4, 5]  # 2 was her CANCEL, 3 her invitation again
    assert seen["sam@police.test"] == [0, 1, 2, 4, 5]
    assert meeting.ical_sequence == 5


def test_record_response(world):
    added = _invite_three(world)

    invitations.record_response(added[0], AttendeeResponse.ACCEPTED, by=world["spoc"])
    invitations.record_response(added[1], AttendeeResponse.TENTATIVE, by=world["coordinator"])
    db.session.commit()

    assert [a.response for a in added] == [AttendeeResponse.ACCEPTED, AttendeeResponse.TENTATIVE,
                                           AttendeeResponse.NEEDS_ACTION]
    assert added[0].response_at is not None
    invitations.remove(world["meeting"], added[2], by=None)
    with pytest.raises(ServiceError):
        invitations.record_response(added[2], AttendeeResponse.ACCEPTED, by=world["coordinator"])


@pytest.mark.parametrize(("name", "email"), [
    ("", "someone@x.test"), ("   ", "someone@x.test"), ("Someone", "not-an-address"),
    ("Someone", "a@x.test\r\nBcc: evil@x.test"), ("Someone", "a@b"), ("Someone", "a b@x.test"),
    ("Someone", '"a"@x.test'), ("N" * 121, "someone@x.test"), ("Someone", "a@x.test;b@x.test"),
])
def test_bad_names_and_addresses_are_refused_before_anything_is_sent(world, name, email):
    with pytest.raises(ServiceError):
        invitations.invite(world["meeting"], [external(name, email)], by=None)
    assert outbox() == []


def test_control_characters_in_a_name_are_dropped(world):
    [attendee] = invitations.invite(world["meeting"], [external("Ann\x07 \r\nSmith", "ann@x.test")], by=None)
    assert attendee.name == "Ann Smith"


@time_machine.travel(datetime(2027, 2, 3, 14, 5, 9, tzinfo=UTC), tick=False)
def test_the_current_calendar_is_the_request_as_it_stands_or_the_cancel_with_dtstamp_now(world):
    meeting = world["meeting"]
    _invite_three(world)
    meeting.location = "Room 9"
    invitations.changed(meeting, by=None)

    current = parse(invitations.current_calendar(meeting))
    assert current.method == "REQUEST"
    assert (current.event.uid, current.event.sequence, current.event.location) == (meeting.ical_uid, 1, "Room 9")
    assert "DTSTAMP:20270203T140509Z" in current.lines

    meeting.status = MeetingStatus.CANCELLED
    invitations.cancelled(meeting, by=None)
    gone = parse(invitations.current_calendar(meeting))
    assert gone.method == "CANCEL" and gone.event.status == "CANCELLED" and gone.event.sequence == 2


def test_a_meeting_nobody_is_invited_to_yet_downloads_as_a_plain_event(world):
    current = parse(invitations.current_calendar(world["meeting"]))
    assert current.method == "PUBLISH" and current.event.attendees == []
    assert current.event.uid == world["meeting"].ical_uid


# ---- monthly panels -------------------------------------------------------------------------


@pytest.fixture
def panel_people(app):
    """Three agencies (one SPoC away, so the deputy is invited; one without a SPoC), a chair,
    two coordinators (one inactive) and a practitioner who is not invited."""
    a = factories.create_agency(name="Alpha")
    b = factories.create_agency(name="Beta")
    factories.create_agency(name="Gamma")
    spoc_a = factories.create_user(role=Role.SPOC, agency=a, email="spoc.a@alpha.test")
    spoc_b = factories.create_user(role=Role.SPOC, agency=b, email="spoc.b@beta.test")
    deputy_b = factories.create_user(role=Role.SPOC, agency=b, email="deputy.b@beta.test")
    a.spoc, b.spoc, b.deputy_spoc = spoc_a, spoc_b, deputy_b
    factories.mark_spoc_absent(b)
    factories.create_user(role=Role.CHAIR, email="chair@council.test")
    factories.create_user(role=Role.COORDINATOR, email="coord@council.test")
    factories.create_user(role=Role.COORDINATOR, email="gone@council.test", active=False)
    factories.create_user(role=Role.PRACTITIONER, agency=a, email="worker@alpha.test")
    db.session.commit()
    return {"chair@council.test": "CHAIR", "spoc.a@alpha.test": "REQ-PARTICIPANT",
            "deputy.b@beta.test": "REQ-PARTICIPANT", "coord@council.test": "OPT-PARTICIPANT"}


def test_a_panel_invites_every_acting_spoc_the_chairs_and_the_coordinators(app, panel_people):
    panel = make_meeting(kind=MeetingKind.PANEL, series_key="panel-2027-03")

    added = invitations.invite_panel(panel, by=None)
    db.session.commit()

    assert {a.email: a.role for a in added} == panel_people
    messages = outbox()
    assert sorted(m.to_addr for m in messages) == sorted(panel_people)
    for message in messages:
        event = parsed(message).event
        assert event.uid == panel.ical_uid and event.sequence == 0
        assert dict((email, params["ROLE"]) for email, params in
                    ((a.removeprefix("mailto:"), p) for a, p in event.attendees)) == panel_people
        assert message.subject.startswith("Invitation: Monthly panel, ")
    assert invitations.invite_panel(panel, by=None) == []  # nobody twice


def test_each_new_panel_from_the_schedule_job_is_its_own_event_with_its_own_invitations(app, panel_people):
    with time_machine.travel(datetime(2027, 1, 4, 9, tzinfo=UTC), tick=False):
        result = schedule.schedule_job()

    panels = list(db.session.scalars(sa.select(Meeting).where(Meeting.kind == MeetingKind.PANEL)))
    assert result["created"] == len(panels) == 12
    assert result["invited"] == 12 * len(panel_people)
    messages = outbox()
    assert len(messages) == 12 * len(panel_people)
    uids = {parsed(m).event.uid for m in messages}
    assert uids == {p.ical_uid for p in panels} and len(uids) == 12
    with time_machine.travel(datetime(2027, 1, 5, 9, tzinfo=UTC), tick=False):
        assert schedule.schedule_job() == {"created": 0, "invited": 0}


def test_ensure_panels_itself_sends_nothing(app, panel_people):
    schedule.ensure_panels()
    db.session.commit()
    assert outbox() == []


def test_only_a_panel_invites_everyone(world):
    with pytest.raises(ServiceError):
        invitations.invite_panel(world["meeting"], by=None)


# ---- the pages ------------------------------------------------------------------------------


def _future_panel() -> Meeting:
    start = (utcnow() + timedelta(days=20)).replace(minute=0, second=0, microsecond=0)
    return make_meeting(kind=MeetingKind.PANEL, start=start)


def test_the_coordinator_sends_a_panels_invitations_with_the_button(app, client, login_as, panel_people):
    coordinator = db.session.scalar(sa.select(User).where(User.email == "coord@council.test"))
    login_as(coordinator)
    panel = _future_panel()
    db.session.commit()
    token = _token(client)

    response = client.post(f"/meetings/{panel.id}/invitations", data={"csrf_token": token})

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/meetings/{panel.id}#invitations")
    assert sorted(m.to_addr for m in outbox()) == sorted(panel_people)
    response = client.post(f"/meetings/{panel.id}/invitations", data={"csrf_token": token}, follow_redirects=False)
    assert len(outbox()) == len(panel_people)


def _token(client) -> str:
    return csrf_token(client, "/account")


def test_sending_invitations_for_an_mdt_or_a_cancelled_panel_does_nothing(app, client, login_as, world):
    login_as(world["coordinator"])
    panel = _future_panel()
    panel.status = MeetingStatus.CANCELLED
    db.session.commit()
    token = _token(client)

    assert client.post(f"/meetings/{world['meeting'].id}/invitations", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/meetings/{panel.id}/invitations", data={"csrf_token": token}).status_code == 302
    assert client.post("/meetings/999999/invitations", data={"csrf_token": token}).status_code == 404
    assert outbox() == []


def test_responses_are_recorded_by_the_coordinator_or_by_the_attendee_for_themself(app, client, login_as, world):
    added = _invite_three(world)
    meeting = world["meeting"]
    url = f"/meetings/{meeting.id}/attendees/{{}}/response"

    login_as(world["coordinator"])
    token = _token(client)
    assert client.post(url.format(added[1].id), data={"csrf_token": token, "response": "tentative"}).status_code == 302
    assert client.post(url.format(added[2].id), data={"csrf_token": token, "response": "maybe<script>"}).status_code == 302
    db.session.expire_all()
    assert [a.response for a in meeting.attendees] == [AttendeeResponse.NEEDS_ACTION, AttendeeResponse.TENTATIVE,
                                                       AttendeeResponse.NEEDS_ACTION]

    login_as(world["spoc"])
    token = _token(client)
    assert client.post(url.format(added[0].id), data={"csrf_token": token, "response": "accepted"}).status_code == 302
    assert client.post(url.format(added[1].id), data={"csrf_token": token, "response": "declined"}).status_code == 404
    other_meeting = make_meeting(world["case"])
    db.session.commit()
    wrong = f"/meetings/{other_meeting.id}/attendees/{added[0].id}/response"
    assert client.post(wrong, data={"csrf_token": token, "response": "accepted"}).status_code == 404
    db.session.expire_all()
    assert [a.response for a in meeting.attendees] == [AttendeeResponse.ACCEPTED, AttendeeResponse.TENTATIVE,
                                                       AttendeeResponse.NEEDS_ACTION]
    audited = db.session.scalars(sa.select(AuditEvent.summary).where(AuditEvent.object_type == "meeting_attendee"))
    assert len(list(audited)) == 2


# ---- the download -----------------------------------------------------------------------------


def _download(client, meeting):
    return client.get(f"/meetings/{meeting.id}/invite.ics")


def test_invite_ics_serves_the_current_invitation_to_people_who_may_see_the_meeting(app, client, login_as, world):
    _invite_three(world)
    meeting = world["meeting"]

    allowed = {
        "coordinator": world["coordinator"],
        "chair": factories.create_user(role=Role.CHAIR),
        "attendee": world["spoc"],
        "practitioner of an involved agency": factories.create_user(role=Role.PRACTITIONER, agency=world["housing"]),
    }
    for who, user in allowed.items():
        login_as(user)
        response = _download(client, meeting)
        assert response.status_code == 200, who
        assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
        assert response.headers["Content-Disposition"] == 'attachment; filename="invite.ics"'
        assert response.headers["Cache-Control"] == "private, no-store"
        calendar = parse(response.get_data())
        assert calendar.method == "REQUEST"
        assert (calendar.event.uid, calendar.event.sequence) == (meeting.ical_uid, 0)
    views = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == AuditAction.VIEW, AuditEvent.object_type == "meeting",
        AuditEvent.object_id == str(meeting.id)))
    assert views == len(allowed)


def test_invite_ics_is_404_for_everyone_else(app, client, login_as, world):
    _invite_three(world)
    meeting = world["meeting"]
    elsewhere = factories.create_agency(name="Elsewhere")
    lapsed = factories.create_agency(name="Lapsed", isa="lapsed")
    world["case"].involvements  # noqa: B018
    refused = {
        "SPoC of an uninvolved agency (restricted view)": factories.create_user(role=Role.SPOC, agency=elsewhere),
        "practitioner elsewhere": factories.create_user(role=Role.PRACTITIONER, agency=elsewhere),
        "practitioner of an involved agency without an ISA": factories.create_user(role=Role.PRACTITIONER, agency=lapsed),
    }
    from panel.models import Involvement

    db.session.add(Involvement(case=world["case"], agency_id=lapsed.id))
    for who, user in refused.items():
        login_as(user)
        assert _download(client, meeting).status_code == 404, who
    login_as(world["coordinator"])
    assert client.get("/meetings/999999/invite.ics").status_code == 404
    denied = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == AuditAction.DENIED, AuditEvent.object_type == "meeting"))
    assert denied == len(refused)


def test_a_removed_attendee_no_longer_downloads_the_invitation(app, client, login_as, world):
    added = _invite_three(world)
    outsider = factories.create_user(role=Role.SPOC, agency=factories.create_agency(), email="out@x.test")
    [extra] = invitations.invite(world["meeting"], [invitations.Person.of(outsider)], by=None)
    db.session.commit()
    login_as(outsider)
    assert _download(client, world["meeting"]).status_code == 200

    invitations.remove(world["meeting"], extra, by=None)
    db.session.commit()
    assert _download(client, world["meeting"]).status_code == 404
    assert added  # the others are still invited


def test_the_invitations_include_lists_attendees_and_offers_the_coordinator_the_buttons(app, world, login_as, client):
    """templates/meetings/_invitations.html rendered on its own (the meeting page includes it)."""
    from flask import render_template_string

    _invite_three(world)
    panel = _future_panel()
    db.session.commit()
    coordinator = world["coordinator"]
    with app.test_request_context():
        from flask_login import login_user

        login_user(coordinator)
        html = render_template_string('{% include "meetings/_invitations.html" %}', meeting=world["meeting"])
        panel_html = render_template_string('{% include "meetings/_invitations.html" %}', meeting=panel)
    soup = page(type("R", (), {"get_data": lambda self, as_text=True: html})())
    rows = soup.select("#attendees tbody tr")
    assert [r.select("td")[0].get_text(strip=True) for r in rows] == ["Sam Spoc", "Hana Housing", "Wyn Worker"]
    assert len(soup.select("#attendees button[name=response]")) == 9
    assert soup.select_one("#send-invitations") is None  # an MDT's invitations are sent when it is scheduled
    assert soup.select_one(f"a[href='/meetings/{world['meeting'].id}/invite.ics']") is not None
    assert 'id="send-invitations"' in panel_html and 'id="no-invitations"' in panel_html

    with app.test_request_context():
        from flask_login import login_user

        login_user(world["spoc"])
        html = render_template_string('{% include "meetings/_invitations.html" %}', meeting=world["meeting"])
    assert 'id="your-reply"' in html and 'id="send-invitations"' not in html
    assert "govuk-table__cell\">Sam Spoc" in html.replace("\n", "")
    assert html.count('name="response"') == 3


def test_the_invited_table_is_the_markup_data_table_and_govuk_button_draw(app, world, login_as, client):
    """The invited people's table and each row's reply buttons are written out in the template
    (issue 18: a panel invites every agency's SPoC, and a macro for each cell and button cost most
    of the meeting page's time), as components/table.html's data_table and govukButton (through
    form_footer) draw them."""
    from flask import render_template_string
    from markupsafe import Markup

    from tests.meetings.markup import elements

    _invite_three(world)
    db.session.commit()
    with app.test_request_context():
        from flask_login import login_user

        login_user(world["coordinator"])
        html = render_template_string('{% include "meetings/_invitations.html" %}', meeting=world["meeting"])
        soup = page(type("R", (), {"get_data": lambda self, as_text=True: html})())
        container = soup.select_one("#attendees").parent
        rows = []
        for tr in container.select("tbody tr"):
            cells = [Markup(td.decode_contents()) for td in tr.select("td")]
            form = tr.select_one("form")
            buttons = [{"html": Markup(b.decode_contents()), "name": b["name"], "value": b["value"],
                        "classes": "govuk-button--secondary govuk-!-margin-bottom-0"} for b in form.select("button")]
            cells[-1] = render_template_string(
                '<form method="post" action="{{ action }}" novalidate><input type="hidden" name="csrf_token" '
                'value="{{ token }}">{% from "components/form_footer.html" import form_footer %}'
                "{{ form_footer(buttons=buttons, classes='govuk-!-margin-bottom-0') }}</form>",
                action=form["action"], token=form.select_one("input")["value"], buttons=buttons)
            rows.append({"attributes": {"id": tr["id"]}, "cells": [Markup(c) for c in cells]})
        drawn = render_template_string(
            '{% from "components/table.html" import data_table %}'
            "{{ data_table(['Name', 'Agency', 'Role', 'Reply', {'text': 'Record a reply', 'hidden': true}], rows, "
            "caption='Invited (' ~ rows | length ~ ')', caption_classes='govuk-table__caption--s', "
            "attributes={'id': 'attendees'}) }}", rows=rows)
    assert len(rows) == 3
    assert elements(str(container)) == elements(drawn)
