"""The "I can attend" and "I cannot attend" links in invitation emails: the sign-in page for users,
the single-purpose reply link for people without an account (date, time and place only; a GET
writes nothing; a POST with its CSRF token records the reply, again and again until the meeting
ends; expired, unknown or withdrawn links answer 404; the token is stored hashed and never
logged), and replies shown on the coordinator's MDT and panel pages as they arrive."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import urllib.request
from datetime import timedelta

import pytest
import sqlalchemy as sa

from panel.dates import govuk_date, govuk_datetime
from panel.extensions import db
from panel.meetings import invitations, replies
from panel.models import (
    AttendeeResponse,
    AuditEvent,
    InvitationReplyLink,
    MeetingKind,
    MeetingStatus,
    OutboxMessage,
    ResponseSource,
    Role,
    utcnow,
)
from panel.ops.logs import redact
from tests import factories
from tests.cases.helpers import create_case
from tests.conftest import csrf_token, error_summary, page, post_form
from tests.html.test_html_valid import KNOWN_WARNINGS, run_vnu
from tests.meetings import reply_messages as rm
from tests.meetings.invite_world import SETTINGS, external, make_meeting, outbox

LINK = re.compile(r"https://panel\.test/meetings/reply/([A-Za-z0-9_-]+)\?answer=(accepted|declined)")
SECRETS = ["Zebedee", "Quillfeather", "Agree a safety plan", "Dr Ash Example", "gp@surgery.test", "Riverside Surgery"]


@pytest.fixture
def app_config():
    return dict(SETTINGS)


@pytest.fixture
def world(app):
    police = factories.create_agency(name="Police")
    coordinator = factories.create_user(role=Role.COORDINATOR, name="Cora Coordinator", email="cora@council.test")
    spoc = factories.create_user(role=Role.SPOC, agency=police, name="Sam Spoc", email="sam.spoc@police.test")
    case = create_case(lead=police, given_name="Zebedee", family_name="Quillfeather")
    meeting = make_meeting(case, start=utcnow() + timedelta(days=10), location="Room 2, Town Hall")
    before = _last_outbox()
    invitations.invite(meeting, [invitations.Person.of(spoc),
                                 external("Dr Ash Example", "gp@surgery.test", "Riverside Surgery")], by=coordinator)
    db.session.commit()
    gp = next(a for a in meeting.attendees if a.email == "gp@surgery.test")
    return {"meeting": meeting, "case": case, "coordinator": coordinator, "spoc": spoc, "gp": gp,
            "token": _token_in(_email_to("gp@surgery.test", before))}


def _last_outbox() -> int:
    return db.session.scalar(sa.select(sa.func.max(OutboxMessage.id))) or 0


def _email_to(address: str, after: int) -> OutboxMessage:
    return [m for m in outbox(after) if m.to_addr == address][-1]


def _token_in(message: OutboxMessage) -> str:
    found = LINK.findall(message.body_text)
    assert [answer for _, answer in found] == ["accepted", "declined"], message.body_text
    assert found[0][0] == found[1][0]
    return found[0][0]


def _url(token: str, answer: str = "") -> str:
    return f"/meetings/reply/{token}" + (f"?answer={answer}" if answer else "")


def _anonymous(app):
    return app.test_client()  # someone clicking the link in their email, signed in to nothing


def _everything() -> dict[str, list[tuple]]:
    db.session.expire_all()
    return {table.name: [tuple(row) for row in db.session.execute(sa.select(table))]
            for table in db.metadata.sorted_tables}


# ---- the email ----------------------------------------------------------------------------------------

def test_an_invitation_carries_i_can_and_i_cannot_attend_links(app, world):
    meeting = world["meeting"]
    to_gp = [m for m in outbox() if m.to_addr == "gp@surgery.test"][0]
    to_spoc = [m for m in outbox() if m.to_addr == "sam.spoc@police.test"][0]

    assert f"I can attend: https://panel.test/meetings/reply/{world['token']}?answer=accepted" in to_gp.body_text
    assert f"I cannot attend: https://panel.test/meetings/reply/{world['token']}?answer=declined" in to_gp.body_text
    assert "no sign-in needed" in to_gp.body_text
    assert f"I can attend: https://panel.test/meetings/{meeting.id}/reply?answer=accepted" in to_spoc.body_text
    assert f"I cannot attend: https://panel.test/meetings/{meeting.id}/reply?answer=declined" in to_spoc.body_text
    assert "/meetings/reply/" not in to_spoc.body_text   # a user signs in: no token for them
    for message in (to_gp, to_spoc):
        for secret in ("Zebedee", "Quillfeather", "Agree a safety plan"):
            assert secret not in message.body_text and secret not in (message.calendar or "")


def test_the_token_is_stored_only_as_its_hash(app, world):
    token = world["token"]
    [link] = db.session.scalars(sa.select(InvitationReplyLink)).all()
    assert len(token) == 22  # token_urlsafe(16): 128 random bits
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest() and link.attendee_id == world["gp"].id
    for table, rows in _everything().items():
        if table != "outbox_messages":  # the email as it was sent holds the link, as any emailed link is held
            assert token not in repr(rows), table


def test_each_invitation_email_has_its_own_link_and_older_ones_keep_working(app, world):
    meeting, first = world["meeting"], world["token"]
    before = _last_outbox()
    invitations.changed(meeting, by=None)
    db.session.commit()
    second = _token_in(_email_to("gp@surgery.test", before))

    assert second != first
    for token in (first, second):
        assert _anonymous(app).get(_url(token)).status_code == 200


def test_cancellations_and_removals_carry_no_reply_links(app, world):
    meeting = world["meeting"]
    before = _last_outbox()
    invitations.remove(meeting, world["gp"], by=None)
    meeting.status = MeetingStatus.CANCELLED
    invitations.cancelled(meeting, by=None)
    db.session.commit()
    sent = outbox(before)
    cancels = [m for m in sent if m.calendar_method == "CANCEL"]
    assert sorted(m.to_addr for m in cancels) == ["gp@surgery.test", "sam.spoc@police.test"]
    for message in cancels:
        assert "/reply" not in message.body_text and "I can attend" not in message.body_text
    # the others were sent the shorter list as a REQUEST: that one still asks
    [update] = [m for m in sent if m.calendar_method == "REQUEST"]
    assert update.to_addr == "sam.spoc@police.test" and "I can attend: " in update.body_text


# ---- the reply link's page ---------------------------------------------------------------------------

def test_the_link_page_shows_the_date_time_and_place_and_nothing_else(app, world):
    meeting, case = world["meeting"], world["case"]
    response = _anonymous(app).get(_url(world["token"], "declined"))

    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    soup = page(response)
    details = {row.select_one(".govuk-summary-list__key").get_text(strip=True):
               row.select_one(".govuk-summary-list__value").get_text(" ", strip=True)
               for row in soup.select("#meeting-details .govuk-summary-list__row")}
    assert list(details) == ["Date", "Time", "Place"]
    assert details["Date"] == govuk_date(meeting.starts_at)
    start, end = govuk_datetime(meeting.starts_at), govuk_datetime(meeting.ends_at)
    assert details["Time"] == f"{start.split(' at ')[1]} to {end.split(' at ')[1]} (UK time)"
    assert details["Place"] == "Room 2, Town Hall"
    text = soup.get_text(" ", strip=True)
    for secret in [case.reference, "MDT", "Police", "Sam Spoc", *SECRETS]:
        assert secret not in text, secret
    checked = soup.select_one("input[name=answer][checked]")
    assert checked is not None and checked["value"] == "declined"


def test_a_get_of_either_reply_page_writes_nothing(app, world, client, login_as):
    before = _everything()
    assert _anonymous(app).get(_url(world["token"], "accepted")).status_code == 200
    login_as(world["spoc"])
    assert client.get(f"/meetings/{world['meeting'].id}/reply?answer=accepted").status_code == 200
    after = _everything()
    assert after == before


def test_a_reply_by_link_is_a_post_with_csrf_and_can_be_changed_until_the_meeting(app, world):
    visitor, url, gp_id = _anonymous(app), _url(world["token"]), world["gp"].id

    assert visitor.post(url, data={"answer": "accepted"}).status_code == 400   # no CSRF token
    assert db.session.get(type(world["gp"]), gp_id).response == AttendeeResponse.NEEDS_ACTION

    response = post_form(visitor, url, {"answer": "accepted"})
    assert response.status_code == 303 and response.headers["Location"].endswith(url)
    db.session.expire_all()
    gp = db.session.get(type(world["gp"]), gp_id)
    assert (gp.response, gp.response_source) == (AttendeeResponse.ACCEPTED, ResponseSource.LINK)
    shown = page(visitor.get(url)).get_text(" ", strip=True)
    assert "Your reply is recorded: attending" in shown and "Your reply: Attending" in shown

    assert post_form(visitor, url, {"answer": "declined"}).status_code == 303   # changed: the link still works
    db.session.expire_all()
    assert db.session.get(type(world["gp"]), gp_id).response == AttendeeResponse.DECLINED
    link = db.session.scalar(sa.select(InvitationReplyLink))
    assert link.last_used_at is not None
    audited = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "meeting_attendee",
                                                             AuditEvent.object_id == str(gp_id))).all()
    assert [json.loads(e.summary) for e in audited][-2:] == [{"response": "accepted", "source": "link"},
                                                 {"response": "declined", "source": "link"}]
    for event in db.session.scalars(sa.select(AuditEvent)):
        assert world["token"] not in f"{event.object_id} {event.summary}"


@pytest.mark.parametrize("answer", ["", "maybe", "<script>alert(1)</script>", "needs_action", "accepted\x00"])
def test_a_reply_that_is_not_one_of_the_answers_is_asked_again(app, world, answer):
    visitor, url = _anonymous(app), _url(world["token"])
    response = post_form(visitor, url, {"answer": answer} if answer else {})

    assert response.status_code == 200
    assert error_summary(response) == ["Select whether you can attend"]
    assert page(response).title.get_text().startswith("Error: ")
    db.session.expire_all()
    assert db.session.get(type(world["gp"]), world["gp"].id).response == AttendeeResponse.NEEDS_ACTION


def test_a_used_link_answers_404_once_the_meeting_has_ended(app, world):
    visitor, url, meeting = _anonymous(app), _url(world["token"]), world["meeting"]
    assert post_form(visitor, url, {"answer": "accepted"}).status_code == 303
    token = csrf_token(visitor, url)

    meeting.starts_at, meeting.ends_at = utcnow() - timedelta(hours=2), utcnow() - timedelta(minutes=1)
    db.session.commit()

    assert visitor.get(url).status_code == 404
    assert visitor.post(url, data={"answer": "declined", "csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert db.session.get(type(world["gp"]), world["gp"].id).response == AttendeeResponse.ACCEPTED


@pytest.mark.parametrize("token", ["x", "A" * 22, "../../etc/passwd", "A" * 200, "%00" * 8, "reply"])
def test_an_unknown_link_answers_404(app, world, token):
    assert _anonymous(app).get(_url(token)).status_code == 404


def test_a_link_of_someone_taken_off_the_list_answers_404(app, world):
    invitations.remove(world["meeting"], world["gp"], by=None)
    db.session.commit()
    assert _anonymous(app).get(_url(world["token"])).status_code == 404


def test_a_cancelled_meeting_says_so_and_takes_no_reply(app, world):
    visitor, url, meeting = _anonymous(app), _url(world["token"]), world["meeting"]
    token = csrf_token(visitor, url)
    meeting.status = MeetingStatus.CANCELLED
    db.session.commit()

    response = visitor.get(url)
    assert response.status_code == 200 and page(response).select_one("#reply-form") is None
    assert "This meeting has been cancelled." in page(response).select_one("#reply-closed").get_text()
    assert visitor.post(url, data={"answer": "accepted", "csrf_token": token}).status_code == 200
    db.session.expire_all()
    assert db.session.get(type(world["gp"]), world["gp"].id).response == AttendeeResponse.NEEDS_ACTION


def test_the_token_never_reaches_a_log(app, world, caplog):
    caplog.set_level(logging.DEBUG)
    visitor, token = _anonymous(app), world["token"]
    visitor.get(_url(token, "accepted"))
    post_form(visitor, _url(token), {"answer": "accepted"})
    visitor.get(_url(token + "x"))

    assert token not in caplog.text
    line = redact(f'"GET /meetings/reply/{token}?answer=accepted HTTP/1.1" 200')
    assert token not in line and '"GET /meetings/reply/[token]' in line
    assert token not in redact(f"Exception on /meetings/reply/{token} [POST]")


def test_the_development_servers_access_log_never_shows_the_token(app, world, live_server, caplog):
    token = world["token"]
    db.session.commit()
    db.session.remove()
    caplog.set_level(logging.INFO, logger="werkzeug")

    with urllib.request.urlopen(f"{live_server}{_url(token, 'accepted')}", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Referrer-Policy"] == "no-referrer"

    access = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/meetings/reply/[token]" in line for line in access)
    assert token not in caplog.text


def test_the_link_page_runs_the_same_queries_for_2_or_30_attendees(app, world, count_queries):
    def measure(token: str) -> int:
        visitor = _anonymous(app)
        visitor.get(_url(token))
        with count_queries() as counter:
            assert visitor.get(_url(token)).status_code == 200
        return counter.count

    small = measure(world["token"])
    meeting = make_meeting(create_case(), start=utcnow() + timedelta(days=12))
    before = _last_outbox()
    invitations.invite(meeting, [external(f"Person {n}", f"p{n}@example.org") for n in range(30)], by=None)
    db.session.commit()
    assert measure(_token_in(_email_to("p7@example.org", before))) == small


# ---- the signed-in reply page, for every role -------------------------------------------------------------

@pytest.mark.parametrize("role", [r for r in Role])
def test_someone_with_an_account_signs_in_and_replies_for_themself(app, client, login_as, role):
    me = login_as(factories.create_user(role=Role(role), email=f"me.{role}@agency.test"))
    panel = make_meeting(kind=MeetingKind.PANEL, start=utcnow() + timedelta(days=20), series_key=None)
    invitations.invite(panel, [invitations.Person.of(me)], by=None)
    db.session.commit()
    url = f"/meetings/{panel.id}/reply"

    shown = client.get(f"{url}?answer=declined")
    assert shown.status_code == 200
    assert page(shown).select_one("input[name=answer][checked]")["value"] == "declined"
    assert post_form(client, url, {"answer": "tentative"}).status_code == 302

    mine = next(a for a in panel.attendees if a.user_id == me.id)
    db.session.expire_all()
    assert (mine.response, mine.response_source) == (AttendeeResponse.TENTATIVE, ResponseSource.ATTENDEE)


@pytest.mark.parametrize("role", [r for r in Role])
def test_the_signed_in_reply_page_is_404_for_anyone_not_on_the_list(app, client, login_as, world, role):
    login_as(factories.create_user(role=Role(role)))
    url = f"/meetings/{world['meeting'].id}/reply"
    assert client.get(url).status_code == 404
    assert post_form(client, url, {"answer": "accepted"}, token_from="/account").status_code == 404


def test_the_signed_in_reply_page_sends_a_visitor_to_sign_in(app, world):
    response = _anonymous(app).get(f"/meetings/{world['meeting'].id}/reply?answer=accepted")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_someone_taken_off_the_list_cannot_reply(app, client, login_as, world):
    login_as(world["spoc"])
    spoc_place = next(a for a in world["meeting"].attendees if a.user_id == world["spoc"].id)
    invitations.remove(world["meeting"], spoc_place, by=None)
    db.session.commit()
    assert client.get(f"/meetings/{world['meeting'].id}/reply").status_code == 404


# ---- the coordinator's pages show replies as they arrive --------------------------------------------------

def _calendar_reply(meeting, email: str, partstat: str = "ACCEPTED") -> None:
    outcome, _ = replies.take_message(rm.google(rm.Answer(uid=meeting.ical_uid, attendee=email, partstat=partstat,
                                                          sequence=meeting.ical_sequence)))
    assert outcome == replies.Outcome.RECORDED
    db.session.commit()


def test_the_mdt_pages_show_each_reply_how_and_when_it_came(app, world, client, login_as):
    meeting, gp = world["meeting"], world["gp"]
    spoc_place = next(a for a in meeting.attendees if a.user_id == world["spoc"].id)
    login_as(world["coordinator"])
    assert page(client.get(f"/meetings/{meeting.id}/mdt")).select_one(f"#reply-{gp.id}").get_text() == "No reply yet"

    assert post_form(_anonymous(app), _url(world["token"]), {"answer": "declined"}).status_code == 303
    _calendar_reply(meeting, "sam.spoc@police.test")

    soup = page(client.get(f"/meetings/{meeting.id}/mdt"))
    assert soup.select_one(f"#reply-{gp.id}").get_text() == "Not attending"
    assert soup.select_one(f"#reply-when-{gp.id}").get_text().startswith("Replied by the link in the invitation, ")
    assert soup.select_one(f"#reply-{spoc_place.id}").get_text() == "Attending"
    assert soup.select_one(f"#reply-when-{spoc_place.id}").get_text().startswith("Calendar reply, ")
    attendees = page(client.get(f"/meetings/{meeting.id}/mdt/attendees"))
    assert attendees.select_one(f"#reply-when-{spoc_place.id}").get_text().startswith("Calendar reply, ")
    assert attendees.select_one(f"select[name=reply_{gp.id}] option[selected]")["value"] == "declined"


def test_the_panel_page_shows_replies_as_they_arrive(app, client, login_as):
    coordinator = login_as(factories.create_user(role=Role.COORDINATOR))
    spoc = factories.create_user(role=Role.SPOC, email="spoc@housing.test")
    panel = make_meeting(kind=MeetingKind.PANEL, start=utcnow() + timedelta(days=20))
    invitations.invite(panel, [invitations.Person.of(spoc)], by=coordinator)
    db.session.commit()
    place = panel.attendees[0]

    _calendar_reply(panel, "spoc@housing.test", "TENTATIVE")

    soup = page(client.get(f"/meetings/{panel.id}"))
    assert soup.select_one(f"#reply-{place.id}").get_text() == "Tentative"
    assert soup.select_one(f"#reply-when-{place.id}").get_text().startswith("Calendar reply, ")


def test_saving_the_attendee_page_keeps_a_reply_that_came_in_after_it_was_shown(app, world, client, login_as):
    meeting, gp = world["meeting"], world["gp"]
    login_as(world["coordinator"])
    form = page(client.get(f"/meetings/{meeting.id}/mdt/attendees")).select_one("#attendees-table").find_parent("form")
    data = {i["name"]: i.get("value", "") for i in form.select("input[type=hidden]")}
    data.update({s["name"]: s.select_one("option[selected]")["value"] for s in form.select("select")})
    spoc_place = next(a for a in meeting.attendees if a.user_id == world["spoc"].id)
    data[f"reply_{spoc_place.id}"] = "declined"   # the coordinator changes the SPoC's only

    _calendar_reply(meeting, "gp@surgery.test", "ACCEPTED")   # meanwhile, the GP's calendar answers
    response = client.post(f"/meetings/{meeting.id}/mdt/attendees", data={**data, "save_replies": "Save the replies"})

    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(gp), gp.id).response == AttendeeResponse.ACCEPTED
    assert db.session.get(type(gp), spoc_place.id).response == AttendeeResponse.DECLINED


# ---- valid HTML ------------------------------------------------------------------------------------------

def test_the_reply_pages_are_valid_html(app, world, client, login_as, tmp_path):
    visitor, url = _anonymous(app), _url(world["token"])
    pages = {
        "link": visitor.get(f"{url}?answer=accepted"),
        "link-error": post_form(visitor, url, {"answer": "maybe"}),
        "link-recorded": post_form(visitor, url, {"answer": "declined"}, follow_redirects=True),
    }
    login_as(world["spoc"])
    own = f"/meetings/{world['meeting'].id}/reply"
    pages["signed-in"] = client.get(f"{own}?answer=declined")
    pages["signed-in-recorded"] = post_form(client, own, {"answer": "accepted"}, follow_redirects=True)
    for name, response in pages.items():
        assert response.status_code == 200, name
        (tmp_path / f"{name}.html").write_text(response.get_data(as_text=True), encoding="utf-8")

    messages = run_vnu(tmp_path)

    problems = [f"{m.get('url')}: {m.get('message')}" for m in messages
                if m["type"] in ("error", "non-document-error")
                or (m["type"] == "info" and m.get("subType") == "warning" and m["message"] not in KNOWN_WARNINGS)]
    assert problems == []


def test_the_pages_say_whether_calendar_replies_are_read(app, world, client, login_as):
    login_as(world["coordinator"])
    url = f"/meetings/{world['meeting'].id}/mdt"
    assert "not set up to read" in page(client.get(url)).select_one("#invitations").get_text()
    app.config["IMAP_SERVER"] = "imap.council.test"
    said = " ".join(page(client.get(url)).select_one("#invitations").get_text().split())
    assert "read from the coordinator’s mailbox every five minutes" in said and "not set up" not in said
