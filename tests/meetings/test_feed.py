"""The private calendar feed: switched on, replaced and turned off from the account page; only
the user's current meetings, with the same UIDs and SEQUENCEs as their invitations; the
headers; the token hashed at rest and never logged or audited."""

from __future__ import annotations

import hashlib
import logging
import re
import time
import urllib.request
from datetime import timedelta

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.meetings import invitations
from panel.models import AuditEvent, CalendarFeed, MeetingKind, MeetingStatus, Role, utcnow
from tests import factories
from tests.cases.helpers import create_case
from tests.conftest import page, post_form
from tests.meetings.ics_checks import check_method_rules, parse
from tests.meetings.invite_world import SETTINGS, external, make_meeting, outbox

URL = re.compile(r"https://panel\.test/calendar/([A-Za-z0-9_-]+)\.ics")


@pytest.fixture
def app_config():
    return dict(SETTINGS)


def _switch_on(client) -> tuple[str, object]:
    response = post_form(client, "/account/calendar-feed", {}, token_from="/account")
    assert response.status_code == 200
    shown = page(response).select_one("#calendar-feed-url")["value"]
    return URL.fullmatch(shown).group(1), response


def _fetch(app, token: str):
    return app.test_client().get(f"/calendar/{token}.ics")  # a calendar app: no session, no cookies


@pytest.fixture
def user(app, login_as):
    return login_as(factories.create_user(role=Role.SPOC, email="sam@police.test", name="Sam Spoc"))


def test_switching_on_shows_the_address_once_and_stores_only_its_hash(app, client, user):
    token, response = _switch_on(client)

    assert len(token) == 22  # token_urlsafe(16): 128 random bits
    assert "Copy this address into your calendar app now" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    feed = db.session.scalar(sa.select(CalendarFeed).where(CalendarFeed.user_id == user.id))
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    again = client.get("/account").get_data(as_text=True)
    assert token not in again and "On since" in again
    # nowhere in the database in clear: every column of every table
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(sa.select(table)).all():
            assert token not in repr(tuple(row)), table.name


def test_the_feed_lists_only_the_users_current_meetings_with_their_invitations_uid_and_sequence(app, client, user):
    other = factories.create_user(role=Role.SPOC, email="other@police.test")
    case = create_case()
    soon = utcnow() + timedelta(days=10)
    kept = make_meeting(case, start=soon)
    moved = make_meeting(case, start=soon + timedelta(days=1))
    removed_from = make_meeting(case, start=soon + timedelta(days=2))
    cancelled = make_meeting(case, start=soon + timedelta(days=3))
    not_mine = make_meeting(case, start=soon + timedelta(days=4))
    long_ago = make_meeting(case, start=utcnow() - timedelta(days=120))
    panel = make_meeting(kind=MeetingKind.PANEL, start=soon + timedelta(days=5), series_key="panel-x")
    me = invitations.Person.of(user)
    for meeting in (kept, moved, removed_from, cancelled, long_ago, panel):
        invitations.invite(meeting, [me, external("Hana", "hana@housing.test")], by=None)
    invitations.invite(not_mine, [invitations.Person.of(other)], by=None)
    moved.starts_at += timedelta(hours=2)
    moved.ends_at += timedelta(hours=2)
    invitations.changed(moved, by=None)
    invitations.changed(moved, by=None)
    invitations.remove(removed_from, next(a for a in removed_from.attendees if a.user_id == user.id), by=None)
    cancelled.status = MeetingStatus.CANCELLED
    invitations.cancelled(cancelled, by=None)
    db.session.commit()
    last_sent = {}
    for message in outbox():
        if message.to_addr == user.email:
            event = parse(message.calendar.encode()).event
            last_sent[event.uid] = (event.sequence, event.start)
    token, _ = _switch_on(client)

    response = _fetch(app, token)

    assert response.status_code == 200
    feed = parse(response.get_data())
    check_method_rules(feed)
    assert feed.method == "PUBLISH"
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in feed.lines and "X-PUBLISHED-TTL:PT1H" in feed.lines
    assert [e.uid for e in feed.events] == [kept.ical_uid, moved.ical_uid, panel.ical_uid]
    for event in feed.events:
        assert (event.sequence, event.start) == last_sent[event.uid]
        assert event.status == "CONFIRMED"
    assert [e.sequence for e in feed.events] == [0, 2, 0]


def test_the_feed_headers(app, client, user):
    token, _ = _switch_on(client)

    response = _fetch(app, token)

    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Disposition"] == 'inline; filename="panel.ics"'
    assert "Set-Cookie" not in response.headers


def test_replacing_the_address_stops_the_old_one_and_turning_off_stops_both(app, client, user):
    old, _ = _switch_on(client)
    assert _fetch(app, old).status_code == 200

    new, response = _switch_on(client)
    assert new != old
    assert "The old address has stopped working" in response.get_data(as_text=True)
    assert _fetch(app, old).status_code == 404
    assert _fetch(app, new).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarFeed)) == 1

    response = post_form(client, "/account/calendar-feed/turn-off", {}, token_from="/account", follow_redirects=True)
    assert "Your calendar feed is off" in response.get_data(as_text=True)
    assert page(response).select_one("#switch-on-calendar-feed") is not None
    assert _fetch(app, new).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarFeed)) == 0


@pytest.mark.parametrize("token", ["x", "A" * 22, "../../etc/passwd", "A" * 200, "%00" * 8])
def test_an_unknown_token_is_404(app, client, user, token):
    _switch_on(client)
    assert app.test_client().get(f"/calendar/{token}.ics").status_code == 404


def test_a_deactivated_users_feed_stops(app, client, user):
    token, _ = _switch_on(client)
    user.active = False
    db.session.commit()
    assert _fetch(app, token).status_code == 404


def test_a_fetch_is_audited_as_the_user_with_the_feed_id_and_the_token_is_never_logged(app, client, user, caplog):
    token, _ = _switch_on(client)
    feed_id = db.session.scalar(sa.select(CalendarFeed.id))
    caplog.set_level(logging.DEBUG)

    assert _fetch(app, token).status_code == 200
    assert _fetch(app, token + "x").status_code == 404

    assert token not in caplog.text
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "calendar_feed")
                                .order_by(AuditEvent.id)).all()
    assert [e.action for e in events][-1] == "view"
    assert events[-1].user_id == user.id and events[-1].object_id == str(feed_id)
    for event in db.session.scalars(sa.select(AuditEvent)):
        assert token not in f"{event.object_id} {event.summary}"


def test_the_development_servers_access_log_never_shows_the_token(app, client, user, live_server, caplog):
    token, _ = _switch_on(client)
    db.session.commit()
    db.session.close()
    caplog.set_level(logging.INFO, logger="werkzeug")

    with urllib.request.urlopen(f"{live_server}/calendar/{token}.ics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Referrer-Policy"] == "no-referrer"

    access = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/calendar/[token].ics" in line for line in access)
    assert token not in caplog.text


def test_a_timed_out_session_fetching_the_feed_is_not_sent_to_sign_in_with_the_token(app, client, user):
    token, _ = _switch_on(client)
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - 3 * 3600

    response = client.get(f"/calendar/{token}.ics")

    assert response.status_code == 200
    assert token not in response.headers.get("Location", "")


def test_the_feed_runs_the_same_queries_for_2_or_20_meetings(app, client, user, count_queries):
    token, _ = _switch_on(client)
    me = invitations.Person.of(user)

    def fetch_with(n):
        for i in range(n):
            meeting = make_meeting(create_case(), start=utcnow() + timedelta(days=3 + i))
            invitations.invite(meeting, [me], by=None)
        db.session.commit()
        with count_queries() as counter:
            assert _fetch(app, token).status_code == 200
        return counter.count

    small = fetch_with(2)
    large = fetch_with(18)
    assert small == large


def test_gunicorns_access_log_never_shows_the_token(app, caplog):
    caplog.set_level(logging.INFO, logger="gunicorn.access")
    token = "Zq3xMrT0kenAbcdEfgh12"

    logging.getLogger("gunicorn.access").info(  # gunicorn logs its format with a dict of atoms
        '%(h)s "%(r)s" %(s)s', {"h": "127.0.0.1", "r": f"GET /calendar/{token}.ics HTTP/1.1", "s": "200"})

    assert token not in caplog.text
    assert '"GET /calendar/[token].ics HTTP/1.1" 200' in caplog.text
