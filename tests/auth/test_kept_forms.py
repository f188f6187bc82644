"""Nothing typed is lost to a timeout (panel.auth.kept): a real form (an action update) sent after
its session ended is kept, encrypted, for the person who typed it, and put back on its page after
they sign in again, on both paths (the idle timeout with the session cookie still there; the
session, and so the CSRF token, gone). Nobody else ever gets it; it goes once used or after a day."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import sqlalchemy as sa
import time_machine
from werkzeug.datastructures import MultiDict

from panel.auth import kept
from panel.extensions import db
from panel.models import ActionUpdate, AuditAction, AuditEvent, KeptForm
from panel.scheduler import JOBS
from tests import factories
from tests.actions import pages_world
from tests.conftest import csrf_token, page, post_form

TYPED = "Visited on Tuesday: the boiler is broken again and the landlord has not replied"


@pytest.fixture
def world(db):
    built = pages_world.build()
    db.session.commit()
    return built


def _sign_in(client, email: str):
    response = post_form(client, "/login", {"email": email, "password": factories.PASSWORD})
    assert response.status_code == 302, page(response).get_text(" ", strip=True)[:300]
    return response


def _update_url(world) -> str:
    return f"/actions/{world.action.id}/update"


def _typed(token: str, **more) -> dict:
    return {"csrf_token": token, "note": TYPED, "status": "done", "due_on": ["14", "3", "2031"],
            "reason": "The landlord needs longer", "submit": "Save update", **more}


def _from_page(url: str) -> dict:
    return {"Referer": f"http://localhost{url}", "Origin": "http://localhost"}


def _login_redirect(response) -> str:
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    return parse_qs(location.query)["next"][0]


def _kept_rows() -> list[KeptForm]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(KeptForm).order_by(KeptForm.id)))


def _assert_put_back(response, world) -> None:
    assert response.status_code == 200
    soup = page(response)
    assert soup.select_one("textarea[name=note]").get_text() == TYPED
    assert soup.select_one("input[name=status][value=done]").has_attr("checked")
    assert [i["value"] for i in soup.select("input[name=due_on]")] == ["14", "3", "2031"]
    assert soup.select_one("textarea[name=reason]").get_text() == "The landlord needs longer"
    banner = soup.select_one("#kept-form").get_text(" ", strip=True)
    assert "Your form was not sent" in banner
    assert "What you typed has been put back in the form below" in banner


def _banners(response) -> str:
    return " ".join(b.get_text(" ", strip=True) for b in page(response).select(".govuk-notification-banner"))


# ---- the two ways a session ends -----------------------------------------------------------------

def test_a_form_sent_after_the_idle_timeout_is_kept_and_put_back_after_signing_in_again(client, world):
    spoc, url = world.user("spoc"), _update_url(world)
    with time_machine.travel(datetime.now(timezone.utc), tick=False) as clock:
        _sign_in(client, spoc.email)
        token = csrf_token(client, url)
        clock.shift(timedelta(minutes=31))  # typing took too long

        sent = client.post(url, data=_typed(token), headers=_from_page(url))

        assert _login_redirect(sent) == url
        assert "What you typed has been kept: sign in again and it will be put back." in _banners(client.get("/login"))
        assert db.session.scalar(sa.select(sa.func.count(ActionUpdate.id))) == 0  # nothing was saved
        [row] = _kept_rows()
        assert (row.user_id, row.claim_hash, row.endpoint, row.return_path) == (
            spoc.id, None, "actions.update_action", url)

        signed_in = _sign_in(client, spoc.email)
        assert signed_in.headers["Location"] == url
        _assert_put_back(client.get(url), world)

        assert _kept_rows() == []  # deleted once used
        assert "Your form was not sent" not in _banners(client.get(url))  # and shown once
        # Sent again, it is saved as any update is.
        saved = post_form(client, url, {k: v for k, v in _typed("").items() if k != "csrf_token"})
        assert saved.status_code == 302
    assert db.session.scalar(sa.select(ActionUpdate.note)) == TYPED
    actions = [(e.action, e.object_id) for e in db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.object_type == "kept_form").order_by(AuditEvent.id))]
    assert actions == [(AuditAction.CREATE, str(row.id)), (AuditAction.DELETE, str(row.id))]


def test_a_form_sent_after_the_session_has_gone_is_kept_for_this_browser_and_put_back(app, client, world):
    spoc, url = world.user("spoc"), _update_url(world)
    _sign_in(client, spoc.email)
    token = csrf_token(client, url)
    browser = app.test_client()  # the session cookie gone (the browser restarted): no session, no CSRF token

    sent = browser.post(url, data=_typed(token), headers=_from_page(url))

    assert _login_redirect(sent) == url
    claim = browser.get_cookie(kept.CLAIM_COOKIE)
    assert claim is not None and claim.http_only and claim.same_site == "Lax"
    [row] = _kept_rows()
    assert row.user_id is None and row.claim_hash not in (None, claim.value)  # only its hash is stored
    assert db.session.scalar(sa.select(sa.func.count(ActionUpdate.id))) == 0

    signed_in = _sign_in(browser, spoc.email)

    assert signed_in.headers["Location"] == url
    assert browser.get_cookie(kept.CLAIM_COOKIE) is None  # claimed: the cookie goes
    [row] = _kept_rows()
    assert (row.user_id, row.claim_hash) == (spoc.id, None)  # bound to the account signed in with
    _assert_put_back(browser.get(url), world)
    assert _kept_rows() == []


def test_the_owner_mark_keeps_a_form_for_the_person_the_page_was_shown_to(app, client, world):
    """With JavaScript, static/js/session.mjs puts the page's owner mark in each form: with the
    session gone, the form is still kept for its user, not for whoever signs in next."""
    spoc, url = world.user("spoc"), _update_url(world)
    _sign_in(client, spoc.email)
    form_page = page(client.get(url))
    token = form_page.find("input", attrs={"name": "csrf_token"})["value"]
    mark = form_page.select_one("#panel-timeout")["data-owner-mark"]
    browser = app.test_client()

    sent = browser.post(url, data=_typed(token, kept_owner=mark), headers=_from_page(url))

    assert _login_redirect(sent) == url
    assert browser.get_cookie(kept.CLAIM_COOKIE) is None
    [row] = _kept_rows()
    assert (row.user_id, row.claim_hash) == (spoc.id, None)
    _sign_in(browser, world.user("deputy").email)  # someone else signs in on that browser first
    assert "Your form was not sent" not in _banners(browser.get(url))
    assert len(_kept_rows()) == 1
    post_form(browser, "/logout", {})
    assert _sign_in(browser, spoc.email).headers["Location"] == url
    _assert_put_back(browser.get(url), world)


def test_a_form_from_an_earlier_session_of_the_same_user_comes_straight_back(client, world):
    """Signed out and in again in another tab: the old tab's form fails its CSRF token, and comes
    back filled in at once, with no sign-in needed."""
    spoc, url = world.user("spoc"), _update_url(world)
    _sign_in(client, spoc.email)
    token = csrf_token(client, url)
    post_form(client, "/logout", {})
    _sign_in(client, spoc.email)

    sent = client.post(url, data=_typed(token), headers=_from_page(url))

    assert sent.status_code == 302 and sent.headers["Location"] == url
    _assert_put_back(client.get(url), world)
    assert _kept_rows() == []


@pytest.mark.parametrize("expiry", ["idle timeout", "session gone"])
def test_a_case_note_is_never_lost_either_way(app, client, world, expiry):
    """The engagement log's form (a case note, with the person's own words and the worker's view)."""
    spoc, url = world.user("spoc"), f"/cases/{world.case.reference}/engagement/new"
    words = "I don't want the housing officer coming round again; my sister can come instead."
    note = {"agency_id": str(world.agencies["a"].id), "method": "home_visit", "occurred_on": ["2", "3", "2027"],
            "occurred_time": "14:30", "planned": "y", "outcome": "engaged", "persons_words": words,
            "worker_view": "Calmer than last week.", "non_engagement": "", "submit": "Save the attempt"}
    with time_machine.travel(datetime.now(timezone.utc), tick=False) as clock:
        _sign_in(client, spoc.email)
        token = csrf_token(client, url)
        browser = client
        if expiry == "idle timeout":
            clock.shift(timedelta(minutes=45))
        else:
            browser = app.test_client()

        sent = browser.post(url, data={**note, "csrf_token": token}, headers=_from_page(url))

        assert _login_redirect(sent) == url
        assert _sign_in(browser, spoc.email).headers["Location"] == url
        soup = page(browser.get(url))
    assert soup.select_one("textarea[name=persons_words]").get_text() == words
    assert soup.select_one("textarea[name=worker_view]").get_text() == "Calmer than last week."
    assert soup.select_one("input[name=method][value=home_visit]").has_attr("checked")
    assert soup.select_one("input[name=planned]").has_attr("checked")
    assert soup.select_one("input[name=occurred_time]")["value"] == "14:30"
    assert "What you typed has been put back" in soup.select_one("#kept-form").get_text(" ", strip=True)
    assert _kept_rows() == []


def test_signing_in_with_two_factor_puts_the_text_back_too(app, client, db, login_as, world):
    spoc, url = world.user("spoc"), _update_url(world)
    secret = pyotp.random_base32()
    spoc.totp_secret, spoc.mfa_enabled = secret, True
    login_as(spoc)
    token = csrf_token(client, url)
    browser = app.test_client()
    browser.post(url, data=_typed(token), headers=_from_page(url))

    asked = post_form(browser, "/login", {"email": spoc.email, "password": factories.PASSWORD})
    assert asked.headers["Location"] == "/login/two-factor"
    signed_in = post_form(browser, "/login/two-factor", {"code": pyotp.TOTP(secret).now()})

    assert signed_in.headers["Location"] == url
    assert browser.get_cookie(kept.CLAIM_COOKIE) is None
    _assert_put_back(browser.get(url), world)


# ---- nobody else, ever ----------------------------------------------------------------------------

def test_another_user_never_gets_someone_elses_kept_text(app, client, world):
    spoc, url = world.user("spoc"), _update_url(world)
    with time_machine.travel(datetime.now(timezone.utc), tick=False) as clock:
        _sign_in(client, spoc.email)
        token = csrf_token(client, url)
        clock.shift(timedelta(minutes=31))
        client.post(url, data=_typed(token), headers=_from_page(url))
    [row] = _kept_rows()
    row_id = row.id

    # Another user (one who may update the action too) signing in, on this browser or another, is
    # not sent to it, nor shown it.
    for browser in (client, app.test_client()):
        assert _sign_in(browser, world.user("coordinator").email).headers["Location"] == "/"
        assert TYPED not in browser.get(url).get_data(as_text=True)
        # Even with the kept form's number forged into their session.
        with browser.session_transaction() as sess:
            sess[kept.SESSION_KEY] = row_id
        response = browser.get(url)
        assert response.status_code == 200 and TYPED not in response.get_data(as_text=True)
        assert "Your form was not sent" not in _banners(response)
        post_form(browser, "/logout", {})
    [row] = _kept_rows()
    assert row.id == row_id
    then = row.created_at + timedelta(minutes=1)
    assert kept.open_kept(row_id, world.user("coordinator"), now=then) is None
    assert kept.open_kept(row_id, spoc, now=then) is not None


def test_a_form_kept_for_someone_else_is_not_shown_to_the_user_signed_in_now(app, client, world):
    """A page opened by the SPoC, sent from a browser where the deputy has signed in since."""
    spoc, deputy, url = world.user("spoc"), world.user("deputy"), _update_url(world)
    _sign_in(client, spoc.email)
    form_page = page(client.get(url))
    token = form_page.find("input", attrs={"name": "csrf_token"})["value"]
    mark = form_page.select_one("#panel-timeout")["data-owner-mark"]
    post_form(client, "/logout", {})
    _sign_in(client, deputy.email)

    sent = client.post(url, data=_typed(token, kept_owner=mark), headers=_from_page(url))

    assert sent.status_code == 302 and sent.headers["Location"] == "/"
    assert "kept for the person who typed it" in _banners(client.get("/account"))  # the message, on the next page
    assert TYPED not in client.get(url).get_data(as_text=True)
    [row] = _kept_rows()
    assert row.user_id == spoc.id
    other = app.test_client()
    assert _sign_in(other, spoc.email).headers["Location"] == url
    _assert_put_back(other.get(url), world)


def test_a_claimed_form_is_never_given_to_the_next_person_with_the_same_cookie(app, client, world):
    spoc, url = world.user("spoc"), _update_url(world)
    _sign_in(client, spoc.email)
    token = csrf_token(client, url)
    browser = app.test_client()
    browser.post(url, data=_typed(token), headers=_from_page(url))
    claim = browser.get_cookie(kept.CLAIM_COOKIE).value
    _sign_in(browser, spoc.email)  # claimed by the SPoC, though not yet looked at
    post_form(browser, "/logout", {})

    browser.set_cookie(kept.CLAIM_COOKIE, claim)  # the old cookie, replayed
    assert _sign_in(browser, world.user("deputy").email).headers["Location"] == "/"
    assert TYPED not in browser.get(url).get_data(as_text=True)
    [row] = _kept_rows()
    assert row.user_id == spoc.id


def test_a_forged_owner_mark_binds_nothing_to_anyone(app, client, world):
    spoc, url = world.user("spoc"), _update_url(world)
    _sign_in(client, spoc.email)
    token = csrf_token(client, url)
    genuine = page(client.get(url)).select_one("#panel-timeout")["data-owner-mark"]
    forged = genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB")

    app.test_client().post(url, data=_typed(token, kept_owner=forged), headers=_from_page(url))

    [row] = _kept_rows()
    assert row.user_id is None and row.claim_hash is not None  # nobody known: the browser's claim only


# ---- what is kept, and what never is ------------------------------------------------------------

def test_kept_text_is_encrypted_at_rest(app, client, world):
    spoc, url = world.user("spoc"), _update_url(world)
    with time_machine.travel(datetime.now(timezone.utc), tick=False) as clock:
        _sign_in(client, spoc.email)
        token = csrf_token(client, url)
        clock.shift(timedelta(minutes=31))
        client.post(url, data=_typed(token), headers=_from_page(url))
    [row] = _kept_rows()
    stored = bytes(row.sealed)

    for secret in (TYPED, "boiler", "landlord", "2031"):
        assert secret.encode() not in stored
        assert base64.b64encode(secret.encode()) not in stored
    raw = db.session.execute(sa.text("SELECT * FROM kept_forms")).mappings().one()
    assert all("boiler" not in str(value) for value in raw.values())
    then = row.created_at + timedelta(minutes=1)
    assert ("note", TYPED) in kept.open_kept(row.id, spoc, now=then).fields
    app.config["SECRET_KEY"] = "another key entirely, as after a key change"
    assert kept.open_kept(row.id, spoc, now=then) is None


def test_the_sign_in_form_and_passwords_are_never_kept(client, world):
    spoc = world.user("spoc")
    stranger = factories.create_user()
    db.session.commit()

    login = client.post("/login", data={"csrf_token": "expired", "email": spoc.email, "password": "typed secret"},
                        headers=_from_page("/login"))
    assert login.status_code == 400
    assert "typed secret" not in login.get_data(as_text=True)

    with time_machine.travel(datetime.now(timezone.utc), tick=False) as clock:
        _sign_in(client, stranger.email)
        token = csrf_token(client, "/account/password")
        clock.shift(timedelta(minutes=31))
        password = client.post("/account/password", headers=_from_page("/account/password"), data={
            "csrf_token": token, "current_password": "typed secret", "new_password": "another typed secret",
            "confirm_password": "another typed secret"})
    assert urlsplit(password.headers["Location"]).path == "/login"
    assert _kept_rows() == []
    assert kept.typed_fields(MultiDict([("note", "kept"), ("new_password", "x"), ("csrf_token", "t"),
                                        ("api_token", "y"), ("kept_owner", "m")])) == [("note", "kept")]


def test_a_form_sent_from_another_site_is_refused_and_nothing_is_kept(client, world):
    url = _update_url(world)
    hostile = client.post(url, data=_typed("forged"), headers={"Origin": "https://attacker.example",
                                                               "Sec-Fetch-Site": "cross-site"})

    assert hostile.status_code == 400
    assert TYPED not in hostile.get_data(as_text=True)
    assert client.get_cookie(kept.CLAIM_COOKIE) is None
    assert _kept_rows() == []


def test_an_empty_form_after_a_timeout_keeps_nothing_and_still_goes_to_sign_in(client, world):
    spoc, url = world.user("spoc"), _update_url(world)
    with time_machine.travel(datetime.now(timezone.utc), tick=False) as clock:
        _sign_in(client, spoc.email)
        token = csrf_token(client, url)
        clock.shift(timedelta(minutes=31))
        sent = client.post(url, data={"csrf_token": token, "note": "  ", "submit": "Save update"})
    assert urlsplit(sent.headers["Location"]).path == "/login"
    assert _kept_rows() == []


def test_when_text_cannot_be_kept_the_expired_form_page_shows_it_to_copy(client, world, monkeypatch):
    monkeypatch.setattr(kept, "MAX_UNCLAIMED", 0)  # as if flooded with forms from nobody known
    url = _update_url(world)

    response = client.post(url, data=_typed("stale"), headers=_from_page(url))

    assert response.status_code == 400
    text = page(response).get_text(" ", strip=True)
    assert "Sorry, this form has expired" in text and TYPED in text and "The landlord needs longer" in text
    assert _kept_rows() == []


# ---- a day at most ------------------------------------------------------------------------------

def test_kept_text_lasts_a_day_and_the_job_deletes_it(app, world):
    spoc = world.user("spoc")
    start = datetime.now(timezone.utc)
    with app.test_request_context("/"):
        row, _ = kept.keep(fields=[("note", TYPED)], user_id=spoc.id, endpoint="actions.update_action",
                           return_path="/actions/1/update", now=start)
    db.session.commit()
    later = start + timedelta(hours=23, minutes=59)
    assert kept.claim_at_sign_in(spoc, None, now=later).id == row.id
    assert kept.open_kept(row.id, spoc, now=later).fields == [("note", TYPED)]

    a_day_on = start + timedelta(days=1, seconds=1)
    assert kept.claim_at_sign_in(spoc, None, now=a_day_on) is None
    assert kept.open_kept(row.id, spoc, now=a_day_on) is None

    assert JOBS["kept-forms"].path == "panel.auth.kept:delete_expired"
    assert kept.delete_expired(now=later) == {"deleted": 0}
    assert kept.delete_expired(now=a_day_on) == {"deleted": 1}
    assert kept.delete_expired(now=a_day_on) == {"deleted": 0}  # idempotent
    assert _kept_rows() == []


def test_an_unclaimed_form_over_a_day_old_is_not_claimed(app, world):
    spoc = world.user("spoc")
    start = datetime.now(timezone.utc)
    with app.test_request_context("/"):
        row, claim = kept.keep(fields=[("note", TYPED)], user_id=None, endpoint="actions.update_action",
                               return_path="/actions/1/update", now=start)
    db.session.commit()

    assert kept.claim_at_sign_in(spoc, claim, now=start + timedelta(days=1, minutes=1)) is None
    assert _kept_rows() == []  # and it is gone
