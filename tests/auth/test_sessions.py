"""Sessions: idle and absolute timeouts, a fresh session at sign-in, password changes, sign-out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
import time_machine

from panel.models import AuditAction, AuditEvent, Role

from tests import factories
from tests.conftest import error_summary, page, post_form

SIGNED_OUT_MESSAGE = "You were signed out to protect the information. Sign in again to continue."
NEW_PASSWORD = "purple elephant sandwich rain"
START = datetime(2027, 5, 10, 8, 0, tzinfo=timezone.utc)


def sign_in(client, email: str, password: str = factories.PASSWORD):
    response = post_form(client, "/login", {"email": email, "password": password})
    assert response.status_code == 302, error_summary(response)
    return response


def _sent_to_sign_in(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


def _banner_texts(response) -> list[str]:
    return [b.get_text(" ", strip=True) for b in page(response).select(".govuk-notification-banner")]


def _session(client) -> dict:
    with client.session_transaction() as sess:
        return dict(sess)


@pytest.fixture
def user(db):
    person = factories.create_user(role=Role.PRACTITIONER, email="sam.jones@housing.invalid")
    db.session.commit()
    return person


def test_thirty_idle_minutes_end_the_session(client, user):
    with time_machine.travel(START, tick=False) as traveller:
        sign_in(client, user.email)
        traveller.shift(timedelta(minutes=29))
        assert client.get("/account").status_code == 200  # activity resets the idle clock
        traveller.shift(timedelta(minutes=29))
        assert client.get("/account").status_code == 200

        traveller.shift(timedelta(minutes=30, seconds=1))
        response = client.get("/account")

        assert _sent_to_sign_in(response)
        assert parse_qs(urlsplit(response.headers["Location"]).query)["next"][0].startswith("/account")
        login_page = client.get(response.headers["Location"])
        assert any(SIGNED_OUT_MESSAGE in text for text in _banner_texts(login_page))
        assert "_user_id" not in _session(client)
        assert _sent_to_sign_in(client.get("/"))


def test_twelve_hours_end_the_session_however_busy(client, user):
    with time_machine.travel(START, tick=False) as traveller:
        sign_in(client, user.email)
        for _ in range(47):  # every 15 minutes for 11 hours 45 minutes
            traveller.shift(timedelta(minutes=15))
            assert client.get("/").status_code == 200
        traveller.shift(timedelta(minutes=14, seconds=59))
        assert client.get("/").status_code == 200  # 11:59:59 after signing in

        traveller.shift(timedelta(seconds=2))
        response = client.get("/")

        assert _sent_to_sign_in(response)
        assert any(SIGNED_OUT_MESSAGE in text for text in _banner_texts(client.get(response.headers["Location"])))


def test_after_a_timeout_signing_in_again_returns_to_the_page(client, user):
    with time_machine.travel(START, tick=False) as traveller:
        sign_in(client, user.email)
        traveller.shift(timedelta(minutes=31))
        response = client.get("/account")
        client.get(response.headers["Location"])

        assert sign_in(client, user.email).headers["Location"].startswith("/account")


def test_signing_in_starts_a_new_session(client, user):
    client.get("/login")
    with client.session_transaction() as sess:
        sess["planted_before_sign_in"] = "attacker's value"
        sess["sid"] = "fixed-by-an-attacker"
    before = _session(client)

    sign_in(client, user.email)

    after = _session(client)
    assert "planted_before_sign_in" not in after
    assert after["sid"] != before["sid"]
    assert after.get("csrf_token") != before["csrf_token"]
    assert after["_user_id"] == user.session_token


def test_each_sign_in_gets_a_different_session_id(client, user):
    sign_in(client, user.email)
    first = _session(client)["sid"]
    post_form(client, "/logout", {})
    sign_in(client, user.email)

    assert _session(client)["sid"] != first


def test_changing_password_ends_other_sessions_but_keeps_this_one(app, client, db, user):
    other_device = app.test_client()
    sign_in(client, user.email)
    sign_in(other_device, user.email)
    assert other_device.get("/account").status_code == 200

    response = post_form(client, "/account/password", {
        "current_password": factories.PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD,
    })

    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200
    assert _sent_to_sign_in(other_device.get("/account"))
    # The new password works and the old one does not.
    third = app.test_client()
    assert post_form(third, "/login", {"email": user.email, "password": factories.PASSWORD}).status_code == 200
    sign_in(third, user.email, NEW_PASSWORD)


def test_a_wrong_current_password_changes_nothing(client, db, user):
    sign_in(client, user.email)
    token = user.session_token

    response = post_form(client, "/account/password", {
        "current_password": "not my password at all", "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    })

    assert error_summary(response) == ["Your current password is not correct"]
    db.session.refresh(user)
    assert user.session_token == token


def test_a_password_set_by_an_administrator_must_be_changed_first(client, db):
    user = factories.create_user(role=Role.COORDINATOR, must_change_password=True)
    db.session.commit()
    sign_in(client, user.email)

    for url in ("/", "/account", "/account/two-factor/turn-off"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"] == "/account/password"
    form_page = client.get("/account/password")
    assert form_page.status_code == 200
    assert "Choose a new password before you continue." in " ".join(_banner_texts(form_page))

    post_form(client, "/account/password", {
        "current_password": factories.PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD,
    })

    db.session.refresh(user)
    assert user.must_change_password is False
    assert client.get("/").status_code == 200


def test_a_user_who_must_change_password_can_still_sign_out(client, db):
    user = factories.create_user(must_change_password=True)
    db.session.commit()
    sign_in(client, user.email)

    assert _sent_to_sign_in(post_form(client, "/logout", {}))
    assert "_user_id" not in _session(client)


def test_signing_out_clears_the_session_and_is_audited(client, db, user):
    sign_in(client, user.email)

    response = post_form(client, "/logout", {})

    assert _sent_to_sign_in(response)
    session = _session(client)
    assert set(session) <= {"_flashes"}
    assert "You have signed out." in " ".join(_banner_texts(client.get("/login")))
    assert _sent_to_sign_in(client.get("/"))
    db.session.rollback()
    logouts = list(db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == AuditAction.LOGOUT)).scalars())
    assert [(e.user_id, e.object_id) for e in logouts] == [(user.id, str(user.id))]


def test_a_copied_session_cookie_stops_working_after_signing_out(client, app, user):
    """The session lives in a signed cookie, so signing out must also end it on the server."""
    sign_in(client, user.email)
    cookie = client.get_cookie("panel_session").value
    post_form(client, "/logout", {})

    replay = app.test_client()
    replay.set_cookie("panel_session", cookie)
    assert _sent_to_sign_in(replay.get("/"))


@pytest.mark.parametrize("fetch_site", [None, "cross-site", "same-origin"])
def test_a_get_of_logout_only_asks_for_confirmation(client, login_as, fetch_site):
    """Issue 14: GET /logout signed out, so a link or image on any site could. Only the POST does."""
    login_as("coordinator")
    response = client.get("/logout", headers={"Sec-Fetch-Site": fetch_site} if fetch_site else {})
    assert response.status_code == 200
    assert "Do you want to sign out?" in response.get_data(as_text=True)
    assert client.get("/").status_code == 200  # still signed in
    token = page(response).find("input", attrs={"name": "csrf_token"})["value"]
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302
