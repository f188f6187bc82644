"""The timeout warning's server side: every signed-in page carries the dialog with the seconds the
session has left (rendered, never guessed); GET /session says how long is left without counting as
activity; "Stay signed in" (POST, CSRF-protected) starts the idle clock again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from tests import factories
from tests.conftest import csrf_token, page, post_form


@pytest.fixture
def user(db):
    person = factories.create_user(email="sam.jones@housing.invalid")
    db.session.commit()
    return person


def _sign_in(client, email: str) -> None:
    assert post_form(client, "/login", {"email": email, "password": factories.PASSWORD}).status_code == 302


def test_every_signed_in_page_carries_the_warning_with_the_time_left(client, user):
    with time_machine.travel(datetime.now(timezone.utc), tick=False):
        _sign_in(client, user.email)
        dialog = page(client.get("/account")).select_one("dialog#panel-timeout")

    assert dialog is not None and not dialog.has_attr("open")
    assert (dialog["data-seconds-left"], dialog["data-warn-seconds"]) == ("1800", "120")
    assert dialog["aria-labelledby"] == "panel-timeout-heading"
    assert dialog.select_one("#panel-timeout-heading").get_text() == "You’re about to be signed out"
    form = dialog.find("form")
    assert (form["method"], form["action"]) == ("post", "/session/stay-signed-in")
    assert form.find("input", attrs={"name": "csrf_token"})["value"] == ""  # filled from GET /session
    assert [b.get_text(strip=True) for b in form.find_all("button")] == ["Stay signed in", "Sign out"]
    assert form.find_all("button")[1]["formaction"] == "/logout"
    assert dialog.select_one("[data-part=expired]").has_attr("hidden")
    assert page(client.get("/account")).find("script", src="/static/js/session.mjs") is not None


def test_the_time_left_is_the_nearer_of_the_idle_and_the_twelve_hour_limits(client, user):
    with time_machine.travel(datetime.now(timezone.utc), tick=False) as clock:
        _sign_in(client, user.email)
        for _ in range(47):  # active every 15 minutes for 11 hours 45 minutes
            clock.shift(timedelta(minutes=15))
            client.get("/account")
        dialog = page(client.get("/account")).select_one("#panel-timeout")

    assert dialog["data-seconds-left"] == str(15 * 60)  # 12 hours in all come before 30 idle minutes


def test_signed_out_pages_have_no_warning(client):
    assert page(client.get("/login")).select_one("#panel-timeout") is None
    assert page(client.get("/help")).select_one("#panel-timeout") is None


def test_asking_how_long_is_left_does_not_keep_the_session_alive(client, user):
    with time_machine.travel(datetime.now(timezone.utc), tick=False) as clock:
        _sign_in(client, user.email)
        clock.shift(timedelta(minutes=10))
        assert _status(client) == (True, 20 * 60)
        clock.shift(timedelta(minutes=19))
        assert _status(client) == (True, 60)
        clock.shift(timedelta(minutes=1, seconds=1))

        ended = client.get("/session")

        assert ended.get_json() == {"signed_in": False, "seconds_left": 0}
        assert ended.headers["Cache-Control"] == "no-store"
        assert client.get("/account").status_code == 302


def _status(client) -> tuple[bool, int]:
    answer = client.get("/session").get_json()
    return answer["signed_in"], answer["seconds_left"]


def test_stay_signed_in_starts_the_idle_clock_again(client, user):
    with time_machine.travel(datetime.now(timezone.utc), tick=False) as clock:
        _sign_in(client, user.email)
        client.get("/account")
        clock.shift(timedelta(minutes=28))  # the warning asks how long is left, and opens
        token = client.get("/session").get_json()["csrf_token"]

        stayed = client.post("/session/stay-signed-in", data={"csrf_token": token})

        assert stayed.get_json() == {"signed_in": True, "seconds_left": 30 * 60}
        clock.shift(timedelta(minutes=29))  # 57 minutes after the page was loaded
        assert _status(client) == (True, 60)
        assert client.get("/account").status_code == 200


def test_stay_signed_in_needs_its_csrf_token_and_a_live_session(client, user):
    with time_machine.travel(datetime.now(timezone.utc), tick=False) as clock:
        _sign_in(client, user.email)
        token = csrf_token(client, "/account")
        assert client.post("/session/stay-signed-in").status_code == 400
        clock.shift(timedelta(minutes=31))

        late = client.post("/session/stay-signed-in", data={"csrf_token": token})

    assert late.status_code == 302 and late.headers["Location"].startswith("/login")


def test_the_session_status_answers_signed_out_visitors(client):
    assert client.get("/session").get_json() == {"signed_in": False, "seconds_left": 0}
